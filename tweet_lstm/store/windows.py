"""The seed's training examples: windows of padded tweets, one-hot encoded, by two encoders that return identical
arrays: the seed's own loops (``convert_tweet_to_xy_loop``) and ``convert_tweet_to_xy_vectorized`` (each character
encoded once to a small integer, windows taken as a strided view, one-hot by indexing an identity matrix)."""

import math

import numpy as np
import pandas as pd

from ..checks import check_choice, check_int, check_texts
from .ids import SPECIAL_TOKENS, char_ids
from ..data.text import CHARACTERS, OUTSIDE_CHARACTERS, get_universal_chars_list, pad_text

ONE_HOT_DTYPES = (bool, np.float32, np.float64)
METHODS = ("loop", "vectorized")
_NOT_A_CHAR = 255
FIRST_CHAR_ID = len(SPECIAL_TOKENS)


def check_window_params(length, window_size, step):
    """Check the window arithmetic's arguments; return them as ints."""
    length = check_int("length", length, minimum=2)
    window_size = check_int("window_size", window_size, minimum=1)
    step = check_int("step", step, minimum=1)
    if window_size >= length:
        raise ValueError(f"window_size ({window_size}) must be smaller than length ({length})")
    return length, window_size, step


def check_dtype(dtype):
    """``dtype`` as a NumPy dtype if it is bool, float32 or float64."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be one of bool, float32, float64; got {dtype!r}") from None
    return check_choice("dtype", dtype, [np.dtype(d) for d in ONE_HOT_DTYPES])


def windows_per_tweet(length, window_size, step):
    """Number of windows cut from one padded tweet: ``ceil((length - window_size) / step)``."""
    length, window_size, step = check_window_params(length, window_size, step)
    return math.ceil((length - window_size) / step)


def texts_of(tweets):
    """The tweets' texts as a list of str, from a DataFrame's ``text`` column or a sequence."""
    if isinstance(tweets, pd.DataFrame):
        if "text" not in tweets.columns:
            raise ValueError(f"tweets has no 'text' column; its columns are {list(tweets.columns)}")
        return check_texts("tweets['text']", tweets["text"])
    return check_texts("tweets", tweets)


def _unknown_char_error(chars_seen):
    outside = sorted(set(chars_seen) - set(CHARACTERS))
    return ValueError(f"text has characters outside the {len(CHARACTERS)}-character universal set: "
                      f"{''.join(outside)!r}; clean it first with clean_tweet_text or filter_text_for_handles")


# The seed's loop encoder -----------------------------------------------------------

def get_series_data_from_tweet(tweet, length=160, window_size=40, step=3):
    """``(windows, next_chars)``, two lists of str of ``window_size`` and 1 characters: the windows of one tweet (a
    row with a ``text`` field) padded by ``pad_text``, starting at ``0, step, 2*step, ... < length - window_size``."""
    padded = pad_text(tweet["text"], length=length)
    starts = range(0, length - window_size, step)
    return [padded[i:i + window_size] for i in starts], [padded[i + window_size] for i in starts]


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


def convert_tweet_to_xy_loop(tweets, length=160, window_size=40, step=3, dtype=bool):
    """The seed's eager encoder (per-tweet pandas ``apply`` and Python loops) of the DataFrame ``tweets``: ``x (m,
    window_size, 93)``, ``y (m, 93)``, each tweet one-hot encoded as bool, then copied into the output, of ``dtype``."""
    zipped = tweets.reset_index(drop=True).apply(
        lambda row: get_series_data_from_tweet(row, length=length, window_size=window_size, step=step), axis=1)
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


# The vectorised encoder ------------------------------------------------------------

def encode_padded_tweets(texts, length=160):
    """Each text padded or cut by ``pad_text`` as one-hot column ids (positions in ``get_universal_chars_list()``):
    ``(n, length)`` uint8. Raises ``ValueError`` if a text has a character outside the universal set."""
    texts = check_texts("texts", texts)
    length = check_int("length", length, minimum=1)
    ids = char_ids("".join(pad_text(t, length) for t in texts), 0, _NOT_A_CHAR).reshape(len(texts), length)
    if (ids == _NOT_A_CHAR).any():
        raise _unknown_char_error("".join(texts))
    return ids


def strided_windows(padded, window_size, step):
    """``(windows, next_chars)`` of padded rows, views that copy nothing, for ``padded`` ``(n, length)`` ids or ``(n,
    length, c)`` one-hot rows: ``windows`` ``(n, k, window_size[, c])`` and ``next_chars`` ``(n, k[, c])``, with ``k =
    windows_per_tweet(length, window_size, step)``."""
    length = padded.shape[1]
    k = windows_per_tweet(length, window_size, step)
    view = np.moveaxis(np.lib.stride_tricks.sliding_window_view(padded, window_size, axis=1), -1, 2)
    return view[:, : length - window_size : step], padded[:, window_size::step][:, :k]


def one_hot_windows(padded, window_size, step, dtype=bool, tweets_per_block=64):
    """``(x, y)``: every window of the ``(n, length)`` padded rows of one-hot column ids, one-hot: ``x (m, window_size,
    93)`` and ``y (m, 93)`` of ``dtype``, the only large allocations. ``tweets_per_block`` tweets are done at a time, so
    their one-hot rows stay in the CPU cache and ``x`` is filled by whole runs of ``window_size * 93`` values."""
    eye = np.eye(len(CHARACTERS), dtype=bool)
    k = windows_per_tweet(padded.shape[1], window_size, step)
    x = np.empty((len(padded), k, window_size, len(CHARACTERS)), dtype=dtype)
    y = np.empty((len(padded), k, len(CHARACTERS)), dtype=dtype)
    for start in range(0, len(padded), tweets_per_block):
        block = slice(start, start + tweets_per_block)
        windows, next_chars = strided_windows(eye[padded[block]], window_size, step)
        np.copyto(x[block], windows)
        np.copyto(y[block], next_chars)
    return x.reshape(-1, window_size, len(CHARACTERS)), y.reshape(-1, len(CHARACTERS))


def convert_tweet_to_xy_vectorized(texts, length=160, window_size=40, step=3, dtype=bool):
    """The eager arrays of ``convert_tweet_to_xy``: pad and encode the texts, then ``one_hot_windows``."""
    return one_hot_windows(encode_padded_tweets(texts, length), window_size, step, dtype)


def padded_from_id_rows(id_rows, length):
    """Rows of whole-tweet ids (``<start>``, ids, ``<end>``, ``<pad>``) as ``(n, length)`` uint8 one-hot column
    ids, each tweet left-padded with spaces to ``length``: what ``encode_padded_tweets`` gives for the same texts."""
    id_rows = np.asarray(id_rows)
    lengths = (id_rows[:, 1:] >= FIRST_CHAR_ID).sum(axis=1)
    source = np.arange(length) - (length - lengths[:, None])  # where each padded position's character is, or < 0
    chars = np.take_along_axis(id_rows, 1 + np.maximum(source, 0), axis=1) - FIRST_CHAR_ID
    return np.where(source >= 0, chars, get_universal_chars_list()[1][" "]).astype(np.uint8)


def convert_tweet_to_xy(tweets, length=160, window_size=40, step=3, method="vectorized", dtype=bool):
    """One-hot encode every window of every tweet at once (the eager way): ``tweets`` is a DataFrame with a ``text``
    column or a sequence of str. Returns ``x (m, window_size, 93)`` and ``y (m, 93)``, both ``dtype``, with ``m =
    n_tweets * windows_per_tweet(...)``; row ``i*k + j`` is window ``j`` of tweet ``i``. ``method="loop"`` is the seed's
    code, kept as the baseline; ``"vectorized"`` gives identical arrays faster."""
    length, window_size, step = check_window_params(length, window_size, step)
    check_choice("method", method, METHODS)
    dtype = check_dtype(dtype)
    texts = texts_of(tweets)
    if not texts:
        raise ValueError("tweets is empty: there is nothing to encode")
    if method == "vectorized":
        return convert_tweet_to_xy_vectorized(texts, length, window_size, step, dtype)
    if invalid := [t for t in texts if OUTSIDE_CHARACTERS.search(t)]:
        raise _unknown_char_error("".join(invalid))
    frame = tweets if isinstance(tweets, pd.DataFrame) else pd.DataFrame({"text": texts})
    return convert_tweet_to_xy_loop(frame, length, window_size, step, dtype)


def x_y_bool_array_to_sentence(text_x, text_y, chars, position=0, separator=False):
    """Decode example ``position`` of one-hot arrays ``text_x (m, window_size, len(chars))`` and ``text_y (m,
    len(chars))`` back to text: window, a ``:`` with ``separator=True``, then the next character."""
    position = check_int("position", position)
    if not -len(text_x) <= position < len(text_x):
        raise IndexError(f"position {position} is outside the {len(text_x)} examples")
    window = "".join(chars[i] for i in np.argmax(text_x[position], axis=-1))
    return window + (":" if separator else "") + chars[int(np.argmax(text_y[position]))]


def emoji_one_hot(emojis, emoji_set, dtype=bool):
    """One-hot encode a sequence of emojis against ``emoji_set``: ``(n, len(emoji_set))``; raises ``ValueError``
    naming ``emoji_set`` if an emoji (or a missing value) is not in it."""
    index = {e: i for i, e in enumerate(emoji_set)}
    missing = sorted({str(e) for e in emojis if e not in index})
    if missing:
        raise ValueError(f"emoji {missing[:5]} not in emoji_set ({len(emoji_set)} emojis)")
    out = np.zeros((len(emojis), len(emoji_set)), dtype=check_dtype(dtype))
    out[np.arange(len(emojis)), [index[e] for e in emojis]] = 1
    return out
