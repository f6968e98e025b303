"""Helpers for training a character-level LSTM on tweets without running out of memory.

The notebooks import this module as ``util``. It is organised in sections that follow
the data flow (see the README):

1. Get the data: download or copy TweetEval emoji, build ``data/tweets.csv``.
2. Read and clean: ``read_tweet_data``, ``iter_tweet_data``, ``filter_*``, ``pad_text``.
3. Characters and ids: the 93-character universal set, emoji list, integer ids.
4. Windows and one-hot: the seed's eager encoder (``method="loop"``) and a
   vectorised one (``method="vectorized"``) that return identical arrays.
5. Batches: the seed's generators and a ``keras.utils.PyDataset`` that serves
   one-hot windows or whole-tweet id sequences from a DataFrame or a streamed CSV.
6. Model helpers: the whole-sequence model, resumable training on a time budget,
   bits per character (model, n-gram and xz baselines) and sampling.
7. Scale: a million-tweet CSV, ``tf.distribute`` strategies and sharding, training that
   resumes mid-epoch from its last backup, memory and progress callbacks.

Run ``python data_load_utils.py make-data --out data/tweets.csv`` to build the data.
"""

import argparse
import contextlib
import io
import itertools
import json
import lzma
import math
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import psutil
import tensorflow as tf

# ---------------------------------------------------------------------------
# 1. Get the data
# ---------------------------------------------------------------------------

TWEETEVAL_URL = "https://raw.githubusercontent.com/cardiffnlp/tweeteval/main/datasets/emoji/"
TWEETEVAL_SPLITS = ("train", "val", "test")
TWEETEVAL_FILES = ("mapping.txt",) + tuple(
    f"{split}_{kind}.txt" for split in TWEETEVAL_SPLITS for kind in ("text", "labels")
)


def fetch_tweeteval(dest_dir, source=None, base_url=TWEETEVAL_URL, timeout=20):
    """Put the seven TweetEval emoji files into ``dest_dir`` and return its Path.

    ``source`` is a local folder holding the same files (copied); without it each file
    is downloaded from ``base_url``. Files already in ``dest_dir`` are kept. Each file is
    written to a temporary name first and renamed, so a failure never leaves a partial
    file behind. Raises ``RuntimeError`` naming ``TWEETS_SOURCE`` when a download fails.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    for name in TWEETEVAL_FILES:
        target = dest_dir / name
        if target.exists():
            continue
        with _atomic_path(target) as tmp:
            if source is not None:
                src = Path(source) / name
                if not src.is_file():
                    raise FileNotFoundError(
                        f"TWEETS_SOURCE={source!s} has no file {name}; it must hold the "
                        f"seven TweetEval emoji files: {', '.join(TWEETEVAL_FILES)}"
                    )
                shutil.copyfile(src, tmp)
            else:
                url = base_url + name
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                        shutil.copyfileobj(response, out)
                except (urllib.error.URLError, OSError) as err:
                    raise RuntimeError(
                        f"could not download {url} ({err}). Without internet, set "
                        "TWEETS_SOURCE to a local folder holding the TweetEval emoji files, "
                        "e.g. TWEETS_SOURCE=../shared/data/tweeteval_emoji make data"
                    ) from err
    return dest_dir


def read_tweeteval(raw_dir):
    """Read the TweetEval emoji files in ``raw_dir`` into a DataFrame.

    Returns columns ``text`` (str), ``emoji`` (the emoji character from ``mapping.txt``)
    and ``split`` (``train``/``val``/``test``), in the files' order.
    """
    raw_dir = Path(raw_dir)
    mapping = {}
    for line in (raw_dir / "mapping.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            label, emoji, *_ = line.split("\t")
            mapping[int(label)] = emoji
    frames = []
    for split in TWEETEVAL_SPLITS:
        texts = (raw_dir / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
        labels = (raw_dir / f"{split}_labels.txt").read_text(encoding="utf-8").split()
        if texts and texts[-1] == "":
            texts.pop()
        if len(texts) != len(labels):
            raise ValueError(f"{split}: {len(texts)} tweets but {len(labels)} labels in {raw_dir}")
        unknown = sorted({int(label) for label in labels} - mapping.keys())
        if unknown:
            raise ValueError(f"{split}: labels {unknown} are not in mapping.txt")
        frames.append(pd.DataFrame({
            "text": texts,
            "emoji": [mapping[int(label)] for label in labels],
            "split": split,
        }))
    return pd.concat(frames, ignore_index=True)


@contextlib.contextmanager
def _atomic_path(path, prefix=None, suffix=".part"):
    """Yield a temporary path beside ``path``, renamed to ``path`` only if the block succeeds.

    The temporary file is named ``prefix`` (default: ``path``'s name), random characters,
    then ``suffix``; it is removed if the block fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name if prefix is None else prefix, suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_csv_atomically(frame, path):
    """Write ``frame`` to ``path`` as UTF-8 CSV (no index) via a temp file and a rename."""
    with _atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8")
    return Path(path)


def make_tweets_csv(out_path="data/tweets.csv", source=None, base_url=TWEETEVAL_URL, raw_dir=None):
    """Build ``out_path`` (columns ``text,emoji,split``) from TweetEval emoji; return its Path.

    The seven raw files land in ``raw_dir`` (default: ``tweeteval_emoji/`` beside
    ``out_path``), copied from ``source`` or downloaded from ``base_url``.
    """
    out_path = Path(out_path)
    raw_dir = Path(raw_dir) if raw_dir is not None else out_path.parent / "tweeteval_emoji"
    fetch_tweeteval(raw_dir, source=source, base_url=base_url)
    return write_csv_atomically(read_tweeteval(raw_dir), out_path)


# ---------------------------------------------------------------------------
# 2. Read and clean
# ---------------------------------------------------------------------------

REQUIRED_COLUMNS = ("text", "emoji")


def _clean_tweet_frame(data, path):
    missing = [c for c in REQUIRED_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(data.columns)}")
    header_again = (data["text"] == "text") & (data["emoji"] == "emoji")
    empty = data["text"].isna() | (data["text"] == "")
    return data.loc[~(header_again | empty)].reset_index(drop=True)


def _read_csv_kwargs():
    # Every column as str and no NA guessing: a tweet that says "NA" or "null" stays text.
    return dict(encoding="utf-8", dtype=str, keep_default_na=False, na_values=[""])


def read_tweet_data(path):
    """Read a tweets CSV into a DataFrame with ``text`` and ``emoji`` columns (str).

    Extra columns such as ``split`` are kept. Rows that repeat the header and rows with
    missing or empty text are dropped; the index is reset. Raises ``ValueError`` naming
    any missing required column.
    """
    return _clean_tweet_frame(pd.read_csv(path, **_read_csv_kwargs()), path)


def iter_tweet_data(path, chunksize=100_000):
    """Yield the tweets CSV at ``path`` as DataFrames of at most ``chunksize`` rows.

    Each chunk is cleaned exactly like ``read_tweet_data``, so a file far larger than
    memory can be processed one chunk at a time.
    """
    if chunksize < 1:
        raise ValueError(f"chunksize must be at least 1, got {chunksize}")
    with pd.read_csv(path, chunksize=chunksize, **_read_csv_kwargs()) as reader:
        for chunk in reader:
            yield _clean_tweet_frame(chunk, path)


def filter_tweets_min_count(tweets, min_count=1000):
    """Keep the tweets whose emoji has more than ``min_count`` tweets (a DataFrame)."""
    counts = tweets["emoji"].map(tweets["emoji"].value_counts())
    return tweets.loc[counts > min_count]


CHARACTERS = (
    " !\"#$%&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"
    "abcdefghijklmnopqrstuvwxyz{|}~£"
)
_OUTSIDE_CHARACTERS = re.compile("[^" + re.escape(CHARACTERS) + "]")


def _without_handles(text_series):
    """Drop every word that starts with ``@``, with one neighbouring space (see ``filter_text_for_handles``)."""
    return (" " + text_series).str.replace(r" @[^ ]*", "", regex=True).str.slice(1)


def _without_outside_characters(text_series):
    """Drop every character outside the universal set ``CHARACTERS``."""
    return text_series.str.replace(_OUTSIDE_CHARACTERS, "", regex=True)


def filter_text_for_handles(text_series):
    """Remove ``@handle`` words and characters outside the universal set from a Series of str.

    A word is a run of characters between single spaces, as in the seed's
    ``' '.join(w for w in txt.split(' ') if not w.startswith('@'))``; the handle goes with
    one neighbouring space. Vectorised with pandas string methods; returns a new Series.
    """
    return _without_outside_characters(_without_handles(text_series))


def clean_tweet_text(text_series):
    """Characters outside the universal set removed, then ``@handle`` words as in
    ``filter_text_for_handles``, then runs of spaces collapsed to one and ends stripped;
    a Series of str.

    Removing the characters first also drops a handle that hides behind one (``“@user``),
    which ``filter_text_for_handles`` alone keeps as ``@user``; so cleaning is idempotent:
    cleaned text comes through a second cleaning unchanged.
    """
    filtered = _without_handles(_without_outside_characters(text_series))
    return filtered.str.replace(r" {2,}", " ", regex=True).str.strip()


def pad_text(text, length=160):
    """Left-pad ``text`` with spaces to ``length`` characters, or truncate it to the first ``length``."""
    return text[:length].rjust(length)


# ---------------------------------------------------------------------------
# 3. Characters and ids
# ---------------------------------------------------------------------------

def get_unique_chars_list(strings):
    """Return ``(chars, char_index)``: the sorted distinct characters of ``strings`` and their positions."""
    chars = sorted(set("".join(strings)))
    return chars, {char: i for i, char in enumerate(chars)}


def get_universal_chars_list():
    """Return ``(chars, char_index)`` for the seed's 93-character universal set.

    ``chars`` is a sorted list (space, punctuation, digits, letters, ``£``) and
    ``char_index`` maps each character to its position in it.
    """
    return get_unique_chars_list(CHARACTERS)


def get_emojis_list(emoji_series):
    """Return ``(emojis, emoji_index)``: the sorted distinct emojis (str) and their positions."""
    emojis = sorted({str(e) for e in emoji_series})
    return emojis, {emoji: i for i, emoji in enumerate(emojis)}


PAD_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<start>", "<end>", "<unk>")
ID_VOCAB = SPECIAL_TOKENS + tuple(sorted(CHARACTERS))
"""Integer-id vocabulary: id ``i`` stands for ``ID_VOCAB[i]``; 4 special ids then the 93 characters."""


def _code_point_table(char_index, offset, missing):
    """A uint8 lookup table over code points 0..255 (every universal character is below 256)."""
    table = np.full(256, missing, dtype=np.uint8)
    for char, i in char_index.items():
        table[ord(char)] = i + offset
    return table


_CHARS, _CHAR_INDEX = get_universal_chars_list()
_NOT_A_CHAR = 255
_ONE_HOT_TABLE = _code_point_table(_CHAR_INDEX, 0, _NOT_A_CHAR)
_ID_TABLE = _code_point_table(_CHAR_INDEX, len(SPECIAL_TOKENS), UNK_ID)


def _code_points(texts, width):
    """Code points of equal-length strings as a ``(n, width)`` uint32 array (one copy, no loop)."""
    flat = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    return flat.reshape(len(texts), width)


def _raise_unless_all_str(texts):
    """Raise ``ValueError`` naming the first element of ``texts`` that is not a str (copies nothing)."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            n_bad = sum(not isinstance(t, str) for t in texts)
            raise ValueError(f"text must be str; tweet {i} is {type(text).__name__} ({text!r}); "
                             f"{n_bad} tweet(s) are not str")


def _check_texts(texts):
    texts = list(texts)
    _raise_unless_all_str(texts)
    return texts


def encode_tweets_to_ids(texts, length=160, trim=False, buckets=(32, 64, 96, 128, 160)):
    """Encode tweets as a ``(n, width)`` uint8 matrix of ids for whole-sequence training.

    Row ``i`` is ``<start>``, the first ``length`` characters of ``texts[i]`` as ids
    4..96 (see ``ID_VOCAB``), ``<end>`` if the tweet was not cut short, then ``<pad>`` (0)
    to the right. Characters outside the universal set become ``<unk>`` (3), never
    another character. Use ``inputs = ids[:, :-1]`` and ``targets = ids[:, 1:]``; a target
    of ``PAD_ID`` is padding and must be masked out of the loss.

    ``width`` is ``length + 1``; with ``trim=True`` it is only as wide as the batch
    needs: the smallest ``bucket + 1`` that holds the longest row (buckets above
    ``length`` are ignored). A few fixed widths keep TensorFlow from retracing per shape.
    """
    texts = _check_texts(texts)
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    cut = [t[:length] for t in texts]
    longest = max((len(t) for t in cut), default=0)
    width = length + 1
    if trim:
        needed = longest + 2
        width = next((b + 1 for b in sorted(buckets) if b + 1 >= needed and b <= length), length + 1)
    ids = np.full((len(texts), width), PAD_ID, dtype=np.uint8)
    if not texts:
        return ids
    ids[:, 0] = START_ID
    points = _code_points([t.ljust(longest, "\0") for t in cut], longest)
    char_ids = np.where(points < 256, _ID_TABLE[np.minimum(points, 255)], UNK_ID).astype(np.uint8)
    lengths = np.array([len(t) for t in cut])
    inside = np.arange(longest) < lengths[:, None]
    body = ids[:, 1:1 + longest]
    body[inside] = char_ids[inside]
    not_cut = np.array([len(t) < length for t in texts])
    rows = np.flatnonzero(not_cut)
    ids[rows, 1 + lengths[rows]] = END_ID
    return ids


def decode_ids_to_text(ids):
    """Decode one id row (1-d) to a str, or a ``(n, width)`` matrix to a list of str.

    ``<start>`` is dropped, decoding stops at ``<end>`` or ``<pad>``, and ``<unk>`` is
    shown as U+FFFD (the replacement character).
    """
    ids = np.asarray(ids)
    if ids.ndim == 2:
        return [decode_ids_to_text(row) for row in ids]
    out = []
    for i in ids.tolist():
        if i in (END_ID, PAD_ID):
            break
        if i == START_ID:
            continue
        if not 0 <= i < len(ID_VOCAB):
            raise ValueError(f"id {i} is outside the vocabulary of {len(ID_VOCAB)} ids")
        out.append("\ufffd" if i == UNK_ID else ID_VOCAB[i])
    return "".join(out)


# ---------------------------------------------------------------------------
# 4. Windows and one-hot
# ---------------------------------------------------------------------------

ONE_HOT_DTYPES = (bool, np.float32, np.float64)
METHODS = ("loop", "vectorized")


def _check_window_params(length, window_size, step):
    if window_size < 1:
        raise ValueError(f"window_size must be at least 1, got {window_size}")
    if window_size >= length:
        raise ValueError(f"window_size ({window_size}) must be smaller than length ({length})")
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")


def _check_dtype(dtype):
    if np.dtype(dtype) not in [np.dtype(d) for d in ONE_HOT_DTYPES]:
        raise ValueError(f"dtype must be one of bool, float32, float64; got {dtype!r}")
    return np.dtype(dtype)


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def windows_per_tweet(length, window_size, step):
    """Number of windows cut from one padded tweet: ``ceil((length - window_size) / step)``."""
    _check_window_params(length, window_size, step)
    return math.ceil((length - window_size) / step)


def get_series_data_from_tweet(tweet, length=160, window_size=40, step=3):
    """Cut one tweet (a row with a ``text`` field) into windows and next characters.

    The text is padded with ``pad_text(text, length)``; windows start at
    ``0, step, 2*step, ... < length - window_size``. Returns ``(windows, next_chars)``:
    two lists of str, of ``window_size`` and 1 characters.
    """
    padded = pad_text(tweet["text"], length=length)
    starts = range(0, length - window_size, step)
    return [padded[i:i + window_size] for i in starts], [padded[i + window_size] for i in starts]


def _unknown_char_error(chars_seen):
    outside = sorted(set(chars_seen) - set(CHARACTERS))
    return ValueError(
        f"text has characters outside the {len(CHARACTERS)}-character universal set: "
        f"{''.join(outside)!r}; clean it first with filter_text_for_handles"
    )


def get_x_bool_array(windows, chars, char_index, dtype=bool):
    """One-hot encode a list of equal-length windows (the seed's loop): ``(m, window_size, len(chars))``."""
    x = np.zeros((len(windows), len(windows[0]), len(chars)), dtype=dtype)
    for i, window in enumerate(windows):
        for pos, char in enumerate(window):
            if char not in char_index:
                raise _unknown_char_error(window)
            x[i, pos, char_index[char]] = 1
    return x


def get_y_bool_array(next_chars, char_index, dtype=bool):
    """One-hot encode a list of single characters (the seed's loop): ``(m, len(char_index))``."""
    y = np.zeros((len(next_chars), len(char_index)), dtype=dtype)
    for i, char in enumerate(next_chars):
        if char not in char_index:
            raise _unknown_char_error(next_chars)
        y[i, char_index[char]] = 1
    return y


def x_y_bool_array_to_sentence(text_x, text_y, chars, position=0, separator=False):
    """Decode example ``position`` of one-hot arrays back to text: window then next character.

    ``text_x`` is ``(m, window_size, len(chars))`` and ``text_y`` is ``(m, len(chars))``;
    with ``separator=True`` a ``:`` stands between the window and the next character.
    """
    window = "".join(chars[i] for i in np.argmax(text_x[position], axis=-1))
    return window + (":" if separator else "") + chars[int(np.argmax(text_y[position]))]


def _check_text_column(tweets):
    """Raise ``ValueError`` unless the DataFrame ``tweets`` has a ``text`` column of str (copies nothing)."""
    if "text" not in tweets.columns:
        raise ValueError(f"tweets has no 'text' column; columns are {list(tweets.columns)}")
    _raise_unless_all_str(tweets["text"])


def _texts_of(tweets):
    if isinstance(tweets, pd.DataFrame):
        _check_text_column(tweets)
        return list(tweets["text"])
    return _check_texts(tweets)


def _xy_loop(tweets, length, window_size, step, dtype):
    """The seed's eager encoder: per-tweet pandas ``apply`` and Python loops.

    As in the seed, each tweet is first one-hot encoded as bool and then copied into
    one output array; only that output has ``dtype`` (the seed's was float64).
    """
    zipped = tweets.apply(
        lambda row: get_series_data_from_tweet(row, length=length, window_size=window_size, step=step),
        axis=1,
    )
    x_tuple, y_tuple = zip(*zipped)
    chars, char_index = get_universal_chars_list()
    x_per_tweet = pd.Series(x_tuple).apply(lambda w: get_x_bool_array(w, chars, char_index))
    y_per_tweet = pd.Series(y_tuple).apply(lambda c: get_y_bool_array(c, char_index))
    x = np.zeros((len(x_per_tweet),) + x_per_tweet[0].shape, dtype=dtype)
    y = np.zeros((len(y_per_tweet),) + y_per_tweet[0].shape, dtype=dtype)
    for i, tweet_x in enumerate(x_per_tweet):
        x[i] = tweet_x
    for i, tweet_y in enumerate(y_per_tweet):
        y[i] = tweet_y
    return x.reshape(-1, window_size, len(chars)), y.reshape(-1, len(chars))


def encode_padded_tweets(texts, length=160):
    """Pad/truncate each text with ``pad_text`` and map it to one-hot column ids.

    Returns a ``(n, length)`` uint8 array of positions in ``get_universal_chars_list()``.
    Raises ``ValueError`` if a text has a character outside the universal set.
    """
    texts = _check_texts(texts)
    points = _code_points([pad_text(t, length) for t in texts], length)
    ids = _ONE_HOT_TABLE[np.minimum(points, 255)]
    ids[points > 255] = _NOT_A_CHAR
    if (ids == _NOT_A_CHAR).any():
        raise _unknown_char_error("".join(texts))
    return ids


def strided_windows(padded, window_size, step):
    """Windows and next characters of padded rows, as views that copy nothing.

    ``padded`` is ``(n, length)`` ids or ``(n, length, c)`` one-hot rows. Returns
    ``(windows, next_chars)``: ``windows`` ``(n, k, window_size)`` or ``(n, k, window_size, c)``,
    a strided view into ``padded``; ``next_chars`` ``(n, k)`` or ``(n, k, c)``, with
    ``k = windows_per_tweet(length, window_size, step)``.
    """
    length = padded.shape[1]
    k = windows_per_tweet(length, window_size, step)
    view = np.lib.stride_tricks.sliding_window_view(padded, window_size, axis=1)
    view = np.moveaxis(view, -1, 2)
    return view[:, : length - window_size : step], padded[:, window_size::step][:, :k]


def _xy_vectorized(texts, length, window_size, step, dtype, tweets_per_block=64):
    """One-hot the padded tweets by indexing an identity matrix, then copy their strided windows.

    Works through ``tweets_per_block`` tweets at a time: their one-hot rows
    ``(block, length, 93)`` bool are small enough to stay in the CPU cache, and each window
    is one contiguous run of ``window_size * 93`` values in them, so filling ``x``
    (converting to ``dtype`` on the way) is a copy of whole runs rather than a gather of
    93-value rows. The only large allocations are ``x`` and ``y`` themselves.
    """
    ids = encode_padded_tweets(texts, length)
    eye = np.eye(len(CHARACTERS), dtype=bool)
    k = windows_per_tweet(length, window_size, step)
    x = np.empty((len(ids), k, window_size, len(CHARACTERS)), dtype=dtype)
    y = np.empty((len(ids), k, len(CHARACTERS)), dtype=dtype)
    for start in range(0, len(ids), tweets_per_block):
        block = slice(start, start + tweets_per_block)
        windows, next_chars = strided_windows(eye[ids[block]], window_size, step)
        np.copyto(x[block], windows)
        np.copyto(y[block], next_chars)
    return x.reshape(-1, window_size, len(CHARACTERS)), y.reshape(-1, len(CHARACTERS))


def convert_tweet_to_xy(tweets, length=160, window_size=40, step=3, method="vectorized", dtype=bool):
    """One-hot encode every window of every tweet at once (the eager way).

    ``tweets`` is a DataFrame with a ``text`` column (or a list of str for
    ``method="vectorized"``). Returns ``x`` of shape ``(m, window_size, 93)`` and ``y`` of
    shape ``(m, 93)``, both ``dtype``, with ``m = n_tweets * windows_per_tweet(...)``.
    Row ``i*k + j`` is window ``j`` of tweet ``i``. ``method="loop"`` is the seed's
    per-tweet code, kept as the baseline; ``"vectorized"`` gives identical arrays faster.
    """
    _check_window_params(length, window_size, step)
    _check_method(method)
    dtype = _check_dtype(dtype)
    texts = _texts_of(tweets)
    if not texts:
        raise ValueError("tweets is empty: there is nothing to encode")
    if method == "loop":
        if not isinstance(tweets, pd.DataFrame):
            tweets = pd.DataFrame({"text": texts})
        invalid = [t for t in texts if _OUTSIDE_CHARACTERS.search(t)]
        if invalid:
            raise _unknown_char_error("".join(invalid))
        return _xy_loop(tweets.reset_index(drop=True), length, window_size, step, dtype)
    return _xy_vectorized(texts, length, window_size, step, dtype)


def emoji_one_hot(emojis, emoji_set, dtype=bool):
    """One-hot encode a sequence of emojis against ``emoji_set``: ``(n, len(emoji_set))``.

    Raises ``ValueError`` naming ``emoji_set`` if an emoji is not in it.
    """
    index = {e: i for i, e in enumerate(emoji_set)}
    missing = sorted({e for e in emojis if e not in index}, key=str)
    if missing:
        raise ValueError(f"emoji {missing[:5]} not in emoji_set ({len(emoji_set)} emojis)")
    out = np.zeros((len(emojis), len(emoji_set)), dtype=dtype)
    out[np.arange(len(emojis)), [index[e] for e in emojis]] = 1
    return out


# ---------------------------------------------------------------------------
# 5. Batches
# ---------------------------------------------------------------------------

def batch_generator(data, batch_size):
    """Yield consecutive slices of ``data`` of ``batch_size`` items; the last may be shorter."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, len(data), batch_size):
        yield data[start:start + batch_size]


def convert_tweet_to_xy_generator(tweets, length=160, window_size=40, step=3, batch_size=64,
                                  emoji_set=None, method="vectorized", dtype=bool):
    """Yield one-hot ``(x, y)`` batches of ``batch_size`` tweets forever, in order (the generator way).

    Each batch is ``convert_tweet_to_xy`` of ``batch_size`` consecutive tweets:
    ``x (batch_size * k, window_size, 93)``, ``y (batch_size * k, 93)``. One pass is
    ``len(tweets) // batch_size`` batches (a last partial batch is skipped), then it
    starts again. With ``emoji_set``, ``x`` is ``[x_text, x_emoji]`` where ``x_emoji``
    ``(batch_size * k, len(emoji_set))`` repeats each tweet's emoji for its windows.
    """
    _check_window_params(length, window_size, step)
    _check_method(method)
    dtype = _check_dtype(dtype)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not isinstance(tweets, pd.DataFrame):
        raise ValueError("tweets must be a DataFrame with a 'text' column (and 'emoji' with emoji_set)")
    _check_text_column(tweets)
    n_batches = len(tweets) // batch_size
    if n_batches == 0:
        raise ValueError(f"batch_size ({batch_size}) is larger than the number of tweets ({len(tweets)})")
    if emoji_set is not None:
        emoji_one_hot(tweets["emoji"].tolist(), emoji_set)
    k = windows_per_tweet(length, window_size, step)
    tweets = tweets.reset_index(drop=True)
    while True:
        for b in range(n_batches):
            batch = tweets.iloc[b * batch_size:(b + 1) * batch_size]
            x, y = convert_tweet_to_xy(batch, length, window_size, step, method=method, dtype=dtype)
            if emoji_set is None:
                yield x, y
            else:
                x_emoji = emoji_one_hot(np.repeat(batch["emoji"].to_numpy(), k).tolist(), emoji_set, dtype)
                yield [x, x_emoji], y


def _csv_record_offsets(path, rows_per_block):
    """Byte offsets where blocks of ``rows_per_block`` CSV records start, and the row count.

    Scans the file once in binary. A record ends at a newline outside double quotes, so
    tweets with embedded newlines are handled. Returns ``(offsets, n_rows)`` where
    ``offsets`` has one entry per block plus the end of the file. Memory: one int64 a block.
    """
    offsets = []
    n_rows = 0
    in_quotes = False
    with open(path, "rb") as f:
        f.readline()  # header
        position = f.tell()
        record_start = position
        for line in f:
            position += len(line)
            in_quotes ^= line.count(b'"') % 2 == 1
            if in_quotes:
                continue
            if n_rows % rows_per_block == 0:
                offsets.append(record_start)
            n_rows += 1
            record_start = position
        offsets.append(position)
    return np.array(offsets, dtype=np.int64), n_rows


def _variable_shape_signature(batch):
    """``tf.TensorSpec``s matching ``batch``'s structure and dtypes, every dimension variable."""
    def spec(array):
        return tf.TensorSpec((None,) * np.ndim(array), tf.as_dtype(np.asarray(array).dtype))
    return keras.tree.map_structure(spec, batch)


class TweetDataset(keras.utils.PyDataset):
    """Batches of tweets for ``model.fit``: one-hot windows or whole-tweet id sequences.

    Why a ``PyDataset`` and not a bare Python generator (``fit_generator`` is gone in
    Keras 3; ``fit`` takes a generator, but): a ``PyDataset`` has a length, so Keras knows
    where an epoch ends and shows progress; each batch is asked for by index, so every
    tweet is seen exactly once per epoch, even with ``workers > 1`` fetching batches in
    parallel threads; and ``on_epoch_end`` reshuffles. A generator shared by several
    workers can repeat or skip batches.

    Source: ``tweets`` is a DataFrame (``text``, and ``emoji`` when ``emoji_set`` is
    given) or the path of a tweets CSV, which is never loaded whole: one pass records
    the byte offset of every block of rows, and each block is read from its offset on
    demand, so memory stays flat however large the file.

    Blocks and buckets: rows are taken in blocks of ``batch_size * bucket_batches``;
    with ``bucket_batches > 1`` each block's tweets are sorted by length before being
    cut into batches, so a batch holds tweets of similar length and, with ``trim=True``,
    is padded only to its bucket (tweets average 71 of 160 characters: about half the
    work). Every tweet is still served exactly once per epoch.

    ``mode="ids"``: ``x`` is ``(batch, width - 1)`` int32 inputs, ``y`` the same shape
    of targets (the inputs shifted by one; 0 is padding to mask), from
    ``encode_tweets_to_ids(length, trim)``. With ``emoji_set``, ``x`` is
    ``(text_ids, emoji_ids)`` with ``emoji_ids`` of shape ``(batch, 1)``. With
    ``trim=True`` each batch is only as wide as its bucket; Keras fixes a PyDataset's
    shapes from its first two batches, so feed such a dataset to ``fit`` through
    ``as_tf_dataset()``, which declares the width as variable.
    ``mode="one_hot"``: the seed's ``convert_tweet_to_xy`` arrays for the batch's tweets,
    ``x`` as ``[x_text, x_emoji]`` when ``emoji_set`` is given.

    Shuffling: with ``shuffle=True`` the rows (DataFrame) or the rows within each block
    (CSV), the order of blocks and the order of batches within a block are permuted
    every epoch from ``seed`` and the epoch number, so runs repeat exactly.
    ``shard=(index, count)`` keeps every ``count``-th block starting at ``index``, so
    each of ``count`` workers reads its own part of the data. The text is cleaned with
    ``clean_tweet_text`` when ``clean=True``.
    """

    def __init__(self, tweets, batch_size=64, mode="ids", emoji_set=None, length=160,
                 window_size=64, step=3, dtype=np.float32, shuffle=True, seed=0, clean=True,
                 shard=(0, 1), trim=False, bucket_batches=1, **kwargs):
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if bucket_batches < 1:
            raise ValueError(f"bucket_batches must be at least 1, got {bucket_batches}")
        if mode not in ("ids", "one_hot"):
            raise ValueError(f"mode must be 'ids' or 'one_hot', got {mode!r}")
        if mode == "one_hot":
            _check_window_params(length, window_size, step)
            self.dtype = _check_dtype(dtype)
        shard_index, shard_count = shard
        if not 0 <= shard_index < shard_count:
            raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard}")
        self.batch_size, self.mode, self.length = batch_size, mode, length
        self.window_size, self.step = window_size, step
        self.emoji_set = None if emoji_set is None else list(emoji_set)
        self.shuffle, self.seed, self.clean, self.trim = shuffle, seed, clean, trim
        self.block_rows = batch_size * bucket_batches
        self.shard = (shard_index, shard_count)
        self.epoch = 0
        self._cache, self._cache_lock = (None, None), threading.Lock()
        if isinstance(tweets, pd.DataFrame):
            self.path, self.offsets = None, None
            self.frame = tweets.reset_index(drop=True)
            _check_text_column(self.frame)
            if emoji_set is not None:
                emoji_one_hot(self.frame["emoji"].tolist(), self.emoji_set)
            n_rows = len(self.frame)
        else:
            self.path, self.frame = Path(tweets), None
            self.offsets, n_rows = _csv_record_offsets(self.path, self.block_rows)
            with open(self.path, encoding="utf-8", newline="") as f:
                self.columns = pd.read_csv(f, nrows=0).columns.tolist()
            missing = [c for c in ("text",) + (("emoji",) if emoji_set is not None else ())
                       if c not in self.columns]
            if missing:
                raise ValueError(f"{self.path}: missing column(s) {missing}")
        self.n_rows = n_rows
        n_blocks = math.ceil(n_rows / self.block_rows)
        self.blocks = np.arange(shard_index, n_blocks, shard_count)
        if len(self.blocks) == 0:
            raise ValueError(f"{n_rows} tweets make {n_blocks} block(s) of {self.block_rows} rows: "
                             f"too few for shard {shard}")
        self._order = self._epoch_order()

    def __len__(self):
        return len(self._order)

    def _rng(self, *extra):
        return np.random.default_rng([self.seed, self.epoch, *extra])

    def _batches_in_block(self, block):
        rows = min(self.block_rows, self.n_rows - block * self.block_rows)
        return math.ceil(rows / self.batch_size)

    def _epoch_order(self):
        """The (block, batch within block) pairs in the order this epoch serves them."""
        blocks = self._rng().permutation(self.blocks) if self.shuffle else self.blocks
        order = []
        for block in blocks:
            subs = np.arange(self._batches_in_block(block))
            if self.shuffle:
                subs = self._rng(3, int(block)).permutation(subs)
            order.extend((int(block), int(sub)) for sub in subs)
        return order

    def set_epoch(self, epoch):
        """Serve epoch ``epoch``'s order (it depends only on ``seed`` and ``epoch``)."""
        self.epoch = epoch
        self._order = self._epoch_order()

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def _block_tweets(self, block):
        """Block ``block`` of this epoch: its tweets, cleaned, shuffled, then sorted by length."""
        with self._cache_lock:
            key, cached = self._cache
            if key == (self.epoch, block):
                return cached
        if self.frame is not None:
            rows = self._rng(1).permutation(self.n_rows) if self.shuffle else np.arange(self.n_rows)
            tweets = self.frame.iloc[rows[block * self.block_rows:(block + 1) * self.block_rows]]
        else:
            with open(self.path, "rb") as f:
                f.seek(self.offsets[block])
                raw = f.read(self.offsets[block + 1] - self.offsets[block])
            tweets = pd.read_csv(io.BytesIO(raw), header=None, names=self.columns, **_read_csv_kwargs())
            tweets = _clean_tweet_frame(tweets.fillna({"text": ""}), self.path)
            if self.shuffle:
                tweets = tweets.iloc[self._rng(2, block).permutation(len(tweets))]
        tweets = tweets.reset_index(drop=True)
        if self.clean:
            tweets = tweets.assign(text=clean_tweet_text(tweets["text"]))
        if self.block_rows > self.batch_size:
            tweets = tweets.iloc[np.argsort(tweets["text"].str.len().to_numpy(), kind="stable")]
        with self._cache_lock:
            self._cache = ((self.epoch, block), tweets)
        return tweets

    def batch_tweets(self, index):
        """The DataFrame of tweets (cleaned if ``clean``) that make batch ``index`` this epoch."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        block, sub = self._order[index]
        tweets = self._block_tweets(block)
        return tweets.iloc[sub * self.batch_size:(sub + 1) * self.batch_size].reset_index(drop=True)

    def __getitem__(self, index):
        batch = self.batch_tweets(index)
        if self.mode == "ids":
            ids = encode_tweets_to_ids(batch["text"], length=self.length, trim=self.trim).astype(np.int32)
            x, y = ids[:, :-1], ids[:, 1:]
            if self.emoji_set is None:
                return x, y
            emoji_ids = np.array([self.emoji_set.index(e) if e in self.emoji_set else -1
                                  for e in batch["emoji"]], dtype=np.int32)
            if (emoji_ids < 0).any():
                emoji_one_hot(batch["emoji"].tolist(), self.emoji_set)
            return (x, emoji_ids[:, None]), y
        x, y = convert_tweet_to_xy(batch, self.length, self.window_size, self.step, dtype=self.dtype)
        if self.emoji_set is None:
            return x, y
        k = windows_per_tweet(self.length, self.window_size, self.step)
        x_emoji = emoji_one_hot(np.repeat(batch["emoji"].to_numpy(), k).tolist(), self.emoji_set, self.dtype)
        return (x, x_emoji), y

    def as_tf_dataset(self, prefetch=2):
        """This dataset's batches as a ``tf.data.Dataset`` whose non-batch dims are all variable.

        Pass ``k`` over it (Keras makes one per epoch) serves epoch ``self.epoch + k``'s
        order, so shuffling works as with ``fit(self)``; the epoch is set when a pass
        starts, because Keras stops pulling after the last step and a pass may never reach
        its end. The cardinality is ``len(self)`` so Keras shows progress; ``prefetch``
        batches are prepared ahead in the background.
        """

        signature = _variable_shape_signature(self[0])

        first_epoch, passes = self.epoch, itertools.count()

        def batches():
            self.set_epoch(first_epoch + next(passes))
            for index in range(len(self)):
                yield self[index]

        dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self))).prefetch(prefetch)


# ---------------------------------------------------------------------------
# 6. Model helpers: build, train resumably, evaluate in bits per character, sample
# ---------------------------------------------------------------------------

def build_sequence_model(units=256, embedding_dim=32, n_emojis=None, emoji_dim=16, learning_rate=2e-3,
                         dropout=0.0):
    """Model B: ids -> Embedding (0 masked) -> LSTM(return_sequences) -> Dropout -> Dense logits, compiled.

    Input ``text_ids`` ``(batch, time)`` int32; output logits ``(batch, time, len(ID_VOCAB))``
    float32, one next-character prediction per position. Padding (id 0) is masked, so it
    adds nothing to the loss or to its average. With ``n_emojis``, a second input
    ``emoji_id`` ``(batch, 1)`` is embedded and sets the LSTM's initial state (h, c),
    conditioning every character on the emoji. The LSTM keeps Keras' defaults (tanh,
    sigmoid, no recurrent dropout, not unrolled) so a GPU runs it with the fused cuDNN
    kernel; right-padding keeps the mask cuDNN-compatible. ``dropout`` (a fraction in
    [0, 1)) is applied to the LSTM's outputs during training only, outside the LSTM so the
    cuDNN path is kept; it fights the overfitting of a small training set.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    text = keras.Input((None,), dtype="int32", name="text_ids")
    chars = keras.layers.Embedding(len(ID_VOCAB), embedding_dim, mask_zero=True, name="char_embedding")(text)
    inputs, initial_state = text, None
    if n_emojis:
        emoji = keras.Input((1,), dtype="int32", name="emoji_id")
        vector = keras.layers.Flatten()(keras.layers.Embedding(n_emojis, emoji_dim, name="emoji_embedding")(emoji))
        initial_state = [keras.layers.Dense(units, activation="tanh", name="emoji_to_h")(vector),
                         keras.layers.Dense(units, name="emoji_to_c")(vector)]
        inputs = (text, emoji)
    hidden = keras.layers.LSTM(units, return_sequences=True, name="lstm")(chars, initial_state=initial_state)
    if dropout:
        hidden = keras.layers.Dropout(dropout, name="dropout")(hidden)
    logits = keras.layers.Dense(len(ID_VOCAB), name="logits")(hidden)
    model = keras.Model(inputs, logits, name="sequence_lstm" + ("_emoji" if n_emojis else ""))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class TrainingTimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of training time are spent, counted across restarts.

    The seconds spent so far are kept in ``state_path`` (JSON) at every epoch end and at
    least every ``save_every_s`` seconds between, so a run interrupted mid-epoch and resumed
    gets only what is left of its budget (at most ``save_every_s`` seconds are not counted).
    """

    def __init__(self, seconds, state_path, save_every_s=10.0):
        super().__init__()
        self.seconds, self.state_path, self.save_every_s = seconds, Path(state_path), save_every_s
        self.spent_before = self._load()
        self.started = self.saved_at = None
        self.epoch = 0

    def _load(self):
        if self.state_path.exists():
            return json.loads(self.state_path.read_text())["seconds_spent"]
        return 0.0

    def _save(self):
        self.state_path.write_text(json.dumps({"seconds_spent": self.spent, "epoch": self.epoch}))
        self.saved_at = time.perf_counter()

    @property
    def spent(self):
        return self.spent_before + (time.perf_counter() - self.started if self.started else 0.0)

    def on_train_begin(self, logs=None):
        self.started = self.saved_at = time.perf_counter()
        if self.spent >= self.seconds:
            self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.spent >= self.seconds:
            self.model.stop_training = True
        if time.perf_counter() - self.saved_at >= self.save_every_s:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch = epoch + 1
        self._save()


def train_resumably(model, train_data, val_data, run_dir, time_budget_s, max_epochs=100,
                    patience=3, backup_every_steps="epoch", verbose=2):
    """``model.fit`` for at most ``time_budget_s`` seconds, early-stopped on ``val_loss``.

    Writes to ``run_dir``: ``best.keras`` (best ``val_loss``, ``ModelCheckpoint``),
    ``history.csv`` (``CSVLogger``, appended across restarts), ``backup/``
    (``BackupAndRestore``: rerunning after an interruption resumes from the last backup,
    taken every epoch or every ``backup_every_steps`` steps) and ``budget.json``. Once a
    run has finished, ``done.json`` makes a rerun skip training. Loads the best weights
    into ``model`` and returns the history as a DataFrame (one row per epoch).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    best, done = run_dir / "best.keras", run_dir / "done.json"
    if not done.exists():
        budget = TrainingTimeBudget(time_budget_s, run_dir / "budget.json")
        callbacks = [
            keras.callbacks.BackupAndRestore(str(run_dir / "backup"), save_freq=backup_every_steps),
            keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True),
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience),
            budget,
        ]
        model.fit(train_data, validation_data=val_data, epochs=max_epochs, callbacks=callbacks,
                  verbose=verbose)
        done.write_text(json.dumps({"seconds_spent": budget.spent}))
    if best.exists():
        model.load_weights(best)
    return pd.read_csv(run_dir / "history.csv")


def _log_softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


_TRACED_MODELS = weakref.WeakKeyDictionary()


def _traced(model):
    """A Keras model as a traced ``tf.function``, made once per model and reused (a graph call
    per batch is many times faster than an eager one); any other callable unchanged."""
    if not isinstance(model, keras.Model):
        return model
    if model not in _TRACED_MODELS:
        _TRACED_MODELS[model] = tf.function(model, reduce_retracing=True)
    return _TRACED_MODELS[model]


def sequence_bits_per_character(model, batches, include_end=False):
    """Bits per character of a whole-sequence model on id batches, padding excluded.

    ``model`` is a Keras model (called as a traced graph) or any callable returning logits.
    ``batches`` yields ``(x, y)`` as a ``TweetDataset(mode="ids")`` does. Only targets that
    are characters count (``<unk>`` included); ``<end>`` counts too with ``include_end``;
    padding never does. Returns ``(bits_per_character, n_characters)``.
    """
    forward = _traced(model)
    nats, count = 0.0, 0
    for x, y in batches:
        log_p = _log_softmax(forward(x, training=False))
        y = np.asarray(y)
        scored = (y >= UNK_ID) | ((y == END_ID) if include_end else False)
        picked = np.take_along_axis(log_p, y[..., None].astype(np.int64), axis=-1)[..., 0]
        nats -= picked[scored].sum()
        count += int(scored.sum())
    return nats / count / math.log(2), count


def window_bits_per_character(model, texts, window_size=64, length=160, batch_size=2048):
    """Bits per character of the seed's windowed model (model A) on every character of ``texts``.

    Character ``j`` of each tweet (padded with ``pad_text`` to ``length``) is predicted
    from the ``window_size`` characters before it, spaces to the left as in training,
    so every real character is scored once and padding never is: the same characters
    ``sequence_bits_per_character`` scores. ``model`` maps ``(batch, window_size, 93)``
    float32 one-hot windows to next-character probabilities (a Keras model is called as a
    traced graph). Returns ``(bits_per_character, n_characters)``.
    """
    forward = _traced(model)
    ids = encode_padded_tweets(texts, length)
    lengths = np.array([min(len(t), length) for t in texts])
    space = _CHAR_INDEX[" "]
    extended = np.concatenate([np.full((len(texts), window_size), space, np.uint8), ids], axis=1)
    rows = np.repeat(np.arange(len(texts)), lengths)
    cols = np.concatenate([np.arange(length - n, length) for n in lengths]) if len(texts) else np.array([], int)
    eye = np.eye(len(CHARACTERS), dtype=np.float32)
    nats = 0.0
    for start in range(0, len(rows), batch_size):
        r, c = rows[start:start + batch_size], cols[start:start + batch_size]
        windows = extended[r[:, None], c[:, None] + np.arange(window_size)]
        probs = np.asarray(forward(eye[windows], training=False), dtype=np.float64)
        nats -= np.log(np.maximum(probs[np.arange(len(r)), ids[r, c]], 1e-12)).sum()
    return nats / len(rows) / math.log(2), len(rows)


def xz_bits_per_character(texts):
    """Bits per character that ``xz -9e`` (LZMA, preset 9 extreme) needs for the texts joined by newlines."""
    joined = "\n".join(texts)
    compressed = lzma.compress(joined.encode("utf-8"), preset=9 | lzma.PRESET_EXTREME)
    return 8 * len(compressed) / len(joined)


class CharNGramModel:
    """Interpolated Witten-Bell character n-gram model, a baseline for bits per character.

    ``fit(texts)`` counts every k-gram (k = 1..order) of each tweet with ``order - 1``
    start markers before it and an end marker after it. ``probability(history, char)``
    interpolates each order with the next lower one, down to a uniform distribution over
    the characters seen plus the end marker, so every symbol has non-zero probability.
    """

    START, END = "\x02", "\x03"

    def __init__(self, order=5):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order = order

    def fit(self, texts):
        pad = self.START * (self.order - 1)
        corpus = "".join(pad + t + self.END for t in _check_texts(texts))
        self.counts, self.context_total, self.context_types = Counter(), Counter(), Counter()
        for k in range(1, self.order + 1):
            grams = Counter(corpus[i:i + k] for i in range(len(corpus) - k + 1))
            for gram, n in grams.items():
                if gram[-1] == self.START:
                    continue  # start markers are context only, never predicted
                self.counts[gram] = n
                self.context_total[gram[:-1]] += n
                self.context_types[gram[:-1]] += 1
        self.vocabulary = sorted(set(corpus) - {self.START})
        return self

    def probability(self, history, char):
        """P(char | the last ``order - 1`` characters of history)."""
        p = 1.0 / len(self.vocabulary)
        history = history[-(self.order - 1):] if self.order > 1 else ""
        for start in range(len(history), -1, -1):
            context = history[start:]
            total = self.context_total.get(context, 0)
            if total:
                types = self.context_types[context]
                p = (self.counts.get(context + char, 0) + types * p) / (total + types)
        return p

    def bits_per_character(self, texts):
        """Mean -log2 P over every character of ``texts`` (the end marker not scored)."""
        pad = self.START * (self.order - 1)
        bits, count = 0.0, 0
        for text in _check_texts(texts):
            padded = pad + text
            for i, char in enumerate(text):
                bits -= math.log2(self.probability(padded[i:i + self.order - 1], char))
            count += len(text)
        return bits / count, count


def sample_tweets(model, n=1, seed_text="", temperature=0.5, emoji_id=None, max_length=160, rng=None):
    """Generate ``n`` tweets from a whole-sequence model, carrying the LSTM state forward.

    ``<start>`` and then ``seed_text`` are fed one character at a time through the
    model's ``char_embedding``, ``lstm`` cell and ``logits`` layers; each new character
    costs one cell step, never a rerun of the prefix. ``temperature`` divides the
    logits (0 means greedy: always the most likely character); ``<pad>``, ``<start>`` and
    ``<unk>`` are never sampled; a tweet ends at ``<end>`` or after ``max_length``
    characters. ``emoji_id`` conditions an emoji model. Returns a list of ``n`` str
    (``seed_text`` plus what was generated).
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    rng = np.random.default_rng(rng)
    embed, cell, dense = (model.get_layer(name) for name in ("char_embedding", "lstm", "logits"))
    cell = cell.cell
    if emoji_id is None:
        state = [np.zeros((n, cell.units), np.float32) for _ in range(2)]
    else:
        vector = model.get_layer("emoji_embedding")(np.full((n, 1), emoji_id, np.int32))[:, 0]
        state = [model.get_layer("emoji_to_h")(vector), model.get_layer("emoji_to_c")(vector)]
    prompt = encode_tweets_to_ids([seed_text], length=max_length)[0]
    prompt = prompt[:1 + min(len(seed_text), max_length)]

    def step(ids):
        nonlocal state
        vectors = keras.ops.take(embed.embeddings, ids.astype(np.int32), axis=0)
        output, state = cell(vectors, state)
        return np.asarray(dense(output), dtype=np.float64)

    for token in prompt:
        logits = step(np.full(n, token))
    generated = [[] for _ in range(n)]
    finished = np.zeros(n, bool)
    never = [PAD_ID, START_ID, UNK_ID]
    for _ in range(max_length - len(seed_text)):
        logits[:, never] = -np.inf
        if temperature == 0:
            choice = logits.argmax(axis=-1)
        else:
            p = np.exp(_log_softmax(logits / temperature))
            choice = np.array([rng.choice(len(ID_VOCAB), p=row / row.sum()) for row in p])
        finished |= choice == END_ID
        for i in np.flatnonzero(~finished):
            generated[i].append(ID_VOCAB[choice[i]])
        if finished.all():
            break
        logits = step(choice)
    return [seed_text + "".join(chars) for chars in generated]


# ---------------------------------------------------------------------------
# 7. Scale: a million tweets, tf.distribute, resilience
# ---------------------------------------------------------------------------

def repeat_tweets_csv(source_csv, out_csv, n_rows, chunksize=100_000):
    """Write ``out_csv`` with ``n_rows`` tweets: the rows of ``source_csv`` repeated in order.

    Row ``i`` of the output is row ``i % n`` of the ``n`` source rows that
    ``iter_tweet_data`` yields (repeated headers and empty texts dropped), with the
    source's columns. The source is streamed in chunks of ``chunksize`` rows and each chunk
    is appended to a temporary file beside ``out_csv``, renamed at the end: memory holds
    one chunk however large ``n_rows`` is, and an interrupted run leaves no partial file.
    Returns the Path of ``out_csv``.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    if chunksize < 1:
        raise ValueError(f"chunksize must be at least 1, got {chunksize}")
    source_csv, out_csv = Path(source_csv), Path(out_csv)
    if out_csv.resolve() == source_csv.resolve():
        raise ValueError(f"out_csv must not be source_csv ({source_csv}): it is read while written")
    written, header = 0, True
    with _atomic_path(out_csv) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        while written < n_rows:
            before = written
            for chunk in iter_tweet_data(source_csv, chunksize):
                chunk = chunk.iloc[:n_rows - written]
                if len(chunk):
                    chunk.to_csv(out, index=False, header=header)
                    written, header = written + len(chunk), False
                if written == n_rows:
                    break
            if written == before:
                raise ValueError(f"source_csv {source_csv} has no tweets to repeat")
    return out_csv


DISTRIBUTION_STRATEGIES = ("default", "mirrored", "multi_worker")


def tf_config_shard(tf_config=None):
    """``(index, count)``: this process's position among the training workers of ``TF_CONFIG``.

    ``tf_config`` is the JSON string (default: the ``TF_CONFIG`` environment variable).
    The workers are the cluster's ``chief`` (if any) then its ``worker`` tasks, numbered
    as ``MultiWorkerMirroredStrategy`` numbers them (the chief is worker 0). Without
    ``TF_CONFIG`` the answer is ``(0, 1)``. Pass the result as ``TweetDataset(shard=...)``
    so that each worker reads its own blocks of the CSV. Raises ``ValueError`` naming
    ``TF_CONFIG`` when it is not JSON or names no such task.
    """
    if tf_config is None:
        tf_config = os.environ.get("TF_CONFIG", "")
    if not tf_config.strip():
        return (0, 1)
    try:
        config = json.loads(tf_config)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}): {tf_config!r}") from err
    cluster, task = config.get("cluster", {}), config.get("task", {})
    chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
    count = len(chiefs) + len(workers)
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in ("chief", "worker") or count == 0:
        raise ValueError(f"TF_CONFIG must list 'chief'/'worker' tasks and name one of them as this "
                         f"task; got cluster {sorted(cluster)} and task {task}")
    position = index if kind == "chief" else len(chiefs) + index
    if not 0 <= position < count:
        raise ValueError(f"TF_CONFIG task {task} is not in its cluster of {count} worker(s)")
    return (position, count)


def distribution_strategy(name="default", devices=None):
    """Return ``(strategy, shard)`` for training on one device, several local devices or several machines.

    ``"default"``: TensorFlow's default strategy (one device, nothing distributed).
    ``"mirrored"``: ``tf.distribute.MirroredStrategy(devices)``, one copy of the model on
    every local GPU (or on ``devices``, e.g. ``["/cpu:0", "/cpu:1"]``); each batch is split
    between the copies and their gradients are summed, so every copy stays identical.
    ``"multi_worker"``: ``tf.distribute.MultiWorkerMirroredStrategy``, the same across the
    machines that ``TF_CONFIG`` lists (one process per machine, each with its own
    ``TF_CONFIG`` task). Create it at the start of the program.

    ``shard`` is ``(index, count)``: ``tf_config_shard()`` for ``"multi_worker"``,
    ``(0, 1)`` otherwise; give it to ``TweetDataset(shard=shard)``. Build and compile the
    model inside ``with strategy.scope():``. Raises ``ValueError`` naming ``name`` for
    an unknown strategy.
    """
    if name not in DISTRIBUTION_STRATEGIES:
        raise ValueError(f"name must be one of {DISTRIBUTION_STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy(), (0, 1)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices), (0, 1)
    shard = tf_config_shard()
    return tf.distribute.MultiWorkerMirroredStrategy(), shard


def _workers_of(strategy):
    """Number of machines (processes) training in sync under ``strategy``."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        cluster = strategy.cluster_resolver.cluster_spec().as_dict()
        return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))
    return 1


def _keras_multi_worker_fixes(model, strategy):
    """Let ``model.fit`` run under ``MultiWorkerMirroredStrategy`` with Keras 3.15.

    Keras 3's ``fit`` fails there (keras-team/keras#20585): its train step averages each
    scalar log with ``strategy.reduce("MEAN", value, axis=0)``, and its first symbolic build
    reduces the ``(x, y)`` tuple across workers; both raise. The train step below returns
    each log as a one-element vector, and forgetting the model's strategy skips the symbolic
    build (the model is already built); ``fit`` must then run inside ``strategy.scope()``,
    where Keras finds the strategy again (kept as ``model._multi_worker_strategy``).
    """
    if getattr(model, "_multi_worker_strategy", None) is not None:
        return
    train_step = model.train_step
    model.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in train_step(data).items()}
    model._multi_worker_strategy = strategy
    model._distribute_strategy = None


def _batches_per_worker(dataset):
    """Batches each worker trains per epoch: the fewest any shard has, so all step in sync."""
    _, count = dataset.shard
    n_blocks = math.ceil(dataset.n_rows / dataset.block_rows)
    return min(sum(dataset._batches_in_block(block) for block in range(index, n_blocks, count))
               for index in range(count))


def _worker_tf_dataset(dataset, epoch, start, stop, prefetch=2, sized=True):
    """Batches ``start .. stop - 1`` of ``dataset``'s epoch ``epoch`` as a one-epoch ``tf.data.Dataset``.

    The epoch is fixed here, up front: a generator that ends its pass with
    ``on_epoch_end()`` is not reliably finished before Keras starts the next epoch's pass
    (Keras stops pulling after the last step), so the next epoch could be served in the
    old order. Widths are declared variable (trimmed batches). Auto-sharding is off: every
    worker already reads only its own shard. ``sized=False`` leaves the number of batches
    undeclared: with several workers Keras would otherwise stop after that many steps,
    although each batch then takes one step per worker (``steps_per_epoch`` says how many).
    """

    dataset.set_epoch(epoch)
    signature = _variable_shape_signature(dataset[start])

    def batches():
        for index in range(start, stop):
            yield dataset[index]

    data = tf.data.Dataset.from_generator(batches, output_signature=signature)
    if sized:
        data = data.apply(tf.data.experimental.assert_cardinality(stop - start))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return data.with_options(options).prefetch(prefetch)


_BACKUP_NAME = re.compile(r"epoch-(\d+)-batch-(\d+)\.weights\.h5")


def backup_position(backup_dir):
    """``(epoch, batch, path)`` of the newest backup in ``backup_dir``, or ``(0, 0, None)``.

    Training resumes at batch ``batch`` (0-based, in the epoch's shuffled order) of epoch
    ``epoch`` (0-based) from the weights and optimizer state in ``path``.
    """
    found = []
    for path in Path(backup_dir).glob("epoch-*-batch-*.weights.h5"):
        match = _BACKUP_NAME.fullmatch(path.name)
        if match:
            found.append((int(match[1]), int(match[2]), path))
    return max(found) if found else (0, 0, None)


class StepBackup(keras.callbacks.Callback):
    """Back up weights and optimizer state every ``every`` batches and at each epoch's end.

    Each backup is ``epoch-E-batch-B.weights.h5`` in ``backup_dir``: resume at batch ``B``
    of epoch ``E``. It is written under a temporary name and renamed, and older backups are
    then deleted, so a kill at any moment leaves a complete backup. ``initial_step``: Keras
    steps of the first epoch done before this ``fit`` (a resumed run); ``workers``: Keras
    steps per batch (with several workers each batch is spread over that many steps).
    Used by ``fit_with_backups``.
    """

    initial_step = 0

    def __init__(self, backup_dir, every, workers=1):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.backup_dir, self.every, self.workers = Path(backup_dir), every, workers
        self.saved, self.steps_run = [], 0

    def on_train_begin(self, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.backup_dir.glob(".saving-*"):
            leftover.unlink()
        self._offset = self.initial_step

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last = self._offset // self.workers

    def on_train_batch_end(self, batch, logs=None):
        self.steps_run += 1
        step = self._offset + batch + 1
        if step % self.workers == 0 and step // self.workers - self._last >= self.every:
            self._last = step // self.workers
            self.save(self._epoch, self._last)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)
        self._offset = 0

    def save(self, epoch, batch):
        """Write the backup for "resume at batch ``batch`` of epoch ``epoch``"; return its Path."""
        target = self.backup_dir / f"epoch-{epoch:04d}-batch-{batch:08d}.weights.h5"
        with _atomic_path(target, prefix=".saving-", suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)
        for old in self.backup_dir.glob("epoch-*-batch-*.weights.h5"):
            if old != target:
                old.unlink(missing_ok=True)
        self.saved.append((epoch, batch))
        return target


def fit_with_backups(model, dataset, backup_dir, epochs=1, backup_every=100, callbacks=(),
                     verbose=0, strategy=None, prefetch=2):
    """Train ``model`` on a ``TweetDataset`` for ``epochs`` epochs; rerun after a crash to resume.

    A ``StepBackup`` in ``backup_dir`` is taken every ``backup_every`` batches and at
    every epoch's end. A rerun loads the newest one and continues with the very next batch
    of the same shuffled order, so an interruption loses only the batches since that
    backup and no batch is trained twice. (Keras' ``BackupAndRestore(save_freq=N)`` also
    backs up mid-epoch, but Keras 3.15 restores only the epoch number and restarts that
    epoch at batch 0, training its first batches twice.) A finished run's rerun trains
    nothing. Each epoch is one ``model.fit`` call on exactly that epoch's batches (for
    an interrupted epoch, the remaining ones); the loop stops early if a callback sets
    ``model.stop_training``.

    ``strategy`` (default: the one the model was built in) may span several workers: the
    dataset must then be sharded as ``distribution_strategy`` says, each worker trains
    the same number of batches (the fewest any shard has) and backs up into
    ``backup_dir/worker-<index>``. Each step trains ``dataset.batch_size`` tweets in
    all, split between the devices and workers. Callbacks with an ``initial_step``
    attribute (``MemoryRecorder``, ``SparseProgress``) are told the steps already done in
    a resumed epoch. Returns a dict: ``resumed_from`` ``(epoch, batch)``, ``steps`` (Keras
    steps run now) and ``history`` (one dict of logs per epoch run now).
    """
    if not isinstance(dataset, TweetDataset):
        raise ValueError(f"dataset must be a TweetDataset, got {type(dataset).__name__}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    strategy = strategy or getattr(model, "_multi_worker_strategy", None) or model.distribute_strategy
    workers = _workers_of(strategy)
    if dataset.shard[1] != workers:
        raise ValueError(f"dataset is shard {dataset.shard} but {workers} worker(s) train: build it "
                         f"with TweetDataset(shard=...) from distribution_strategy")
    backup_dir = Path(backup_dir)
    if workers > 1:
        backup_dir = backup_dir / f"worker-{dataset.shard[0]}"
        _keras_multi_worker_fixes(model, strategy)
    per_epoch = _batches_per_worker(dataset)
    epoch, batch, path = backup_position(backup_dir)
    if batch >= per_epoch:  # backed up after the epoch's last batch: the next epoch is due
        epoch, batch = epoch + 1, 0
    if path is not None:
        with strategy.scope():
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(path)
    resumed_from, history = (epoch, batch), []
    backup = StepBackup(backup_dir, backup_every, workers)
    callbacks = [backup, *callbacks]
    for epoch in range(epoch, epochs):  # one fit per epoch, each on exactly that epoch's batches
        data = _worker_tf_dataset(dataset, epoch, batch, per_epoch, prefetch=prefetch, sized=workers == 1)
        for callback in callbacks:
            if hasattr(callback, "initial_step"):
                callback.initial_step = batch * workers
        with strategy.scope():
            fitted = model.fit(data, epochs=epoch + 1, initial_epoch=epoch, callbacks=callbacks,
                               steps_per_epoch=(per_epoch - batch) * workers if workers > 1 else None,
                               shuffle=False, verbose=verbose)  # TweetDataset shuffles itself
        history += [{k: float(np.mean(v[-1])) for k, v in fitted.history.items()}]
        batch = 0
        if model.stop_training:  # a callback (early stopping, a time budget) ended training
            break
    return {"resumed_from": resumed_from, "steps": backup.steps_run, "history": history}


class MemoryRecorder(keras.callbacks.Callback):
    """Record this process's resident memory (RSS) while training, every ``every`` steps.

    ``rows`` (and ``frame()``, a DataFrame) hold one sample per ``every`` steps plus one
    before the first and one after the last step: ``epoch``, ``step`` (Keras steps done in
    the epoch, counting those before a resume), ``tweets`` (tweets trained in the epoch:
    ``step * tweets_per_step``, capped at ``total_tweets``), ``seconds`` since the first
    ``fit`` began and ``rss_mb`` (1 MB = 10**6 bytes, from psutil). ``peak_rss_mb`` is the highest
    sample; ``max_rss_mb`` is the process's own high-water mark (``getrusage``), which
    also covers moments between samples and all the process did before.
    """

    initial_step = 0

    def __init__(self, every=100, tweets_per_step=64, total_tweets=None):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.every, self.tweets_per_step, self.total_tweets = every, tweets_per_step, total_tweets
        self._process = psutil.Process()
        self.rows = []

    def _sample(self, step):
        tweets = step * self.tweets_per_step
        if self.total_tweets is not None:
            tweets = min(tweets, self.total_tweets)
        self.rows.append({"epoch": self._epoch, "step": step, "tweets": tweets,
                          "seconds": time.perf_counter() - self._started,
                          "rss_mb": self._process.memory_info().rss / 1e6})

    def on_train_begin(self, logs=None):
        if not self.rows:  # seconds count from the first fit (fit_with_backups fits per epoch)
            self._started = time.perf_counter()
        self._offset, self._step = self.initial_step, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._sample(self._offset)

    def on_train_batch_end(self, batch, logs=None):
        self._step = self._offset + batch + 1
        if self._step % self.every == 0:
            self._sample(self._step)

    def on_epoch_end(self, epoch, logs=None):
        if self._step is not None and self.rows[-1]["step"] != self._step:
            self._sample(self._step)
        self._offset, self._step = 0, None

    def frame(self):
        """The samples as a DataFrame (columns epoch, step, tweets, seconds, rss_mb)."""
        return pd.DataFrame(self.rows, columns=["epoch", "step", "tweets", "seconds", "rss_mb"])

    @property
    def peak_rss_mb(self):
        return max((row["rss_mb"] for row in self.rows), default=float("nan"))

    @property
    def max_rss_mb(self):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


class SparseProgress(keras.callbacks.Callback):
    """A ``keras.utils.Progbar`` per epoch, updated about ``updates`` times, not at every step.

    Keras' own ``verbose=1`` bar redraws at every step, which fills a notebook's stored
    output with thousands of updates. This one shows the loss and, with
    ``tweets_per_step``, tweets per second. ``initial_step`` starts a resumed epoch's
    bar where the interrupted run stopped.
    """

    initial_step = 0

    def __init__(self, updates=50, tweets_per_step=None):
        super().__init__()
        if updates < 1:
            raise ValueError(f"updates must be at least 1, got {updates}")
        self.updates, self.tweets_per_step = updates, tweets_per_step

    def on_train_begin(self, logs=None):
        self._offset = self.initial_step

    def on_epoch_begin(self, epoch, logs=None):
        total = (self.params.get("steps") or 0) + self._offset
        self._bar = keras.utils.Progbar(total or None, stateful_metrics=["loss", "tweets/s"])
        self._every = max(1, total // self.updates)
        self._total, self._started = total, time.perf_counter()
        print(f"Epoch {epoch + 1}" + (f" (resumed after step {self._offset})" if self._offset else ""))

    def on_train_batch_end(self, batch, logs=None):
        step = self._offset + batch + 1
        if step % self._every and step != self._total:
            return
        values = [("loss", float(np.mean((logs or {}).get("loss", np.nan))))]
        if self.tweets_per_step:
            rate = (batch + 1) * self.tweets_per_step / (time.perf_counter() - self._started)
            values.append(("tweets/s", rate))
        self._bar.update(step, values=values, finalize=step == self._total)

    def on_epoch_end(self, epoch, logs=None):
        self._offset = 0


# ---------------------------------------------------------------------------
# Command line: python data_load_utils.py make-data --out data/tweets.csv
# ---------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-data", help="build data/tweets.csv from TweetEval emoji")
    make.add_argument("--out", default="data/tweets.csv")
    make.add_argument("--source", default=os.environ.get("TWEETS_SOURCE") or None,
                      help="local folder with the TweetEval emoji files (default: $TWEETS_SOURCE)")
    make.add_argument("--base-url", default=TWEETEVAL_URL, help="where to download the files from")
    args = parser.parse_args(argv)
    try:
        path = make_tweets_csv(args.out, source=args.source, base_url=args.base_url)
    except (RuntimeError, FileNotFoundError, ValueError) as err:
        print(f"make-data: {err}", file=sys.stderr)
        return 1
    frame = read_tweet_data(path)
    counts = frame["split"].value_counts().to_dict()
    print(f"wrote {path}: {len(frame):,} tweets {counts}, {frame['emoji'].nunique()} emojis")
    return 0


if __name__ == "__main__":
    sys.exit(main())
