"""TweetEval emoji: the seven raw files, checked line by line, to ``tweets.csv``.

The raw files are cached (``data/tweeteval_emoji/``); a source folder (``--source``, ``TWEETS_SOURCE``) is copied again
on every run, and without one the cache is reused only when every file has the published sha256. Fresh files are checked
in a staging folder before they replace the cache, so a failed run changes neither the cache nor ``tweets.csv``."""

import re
from pathlib import Path

import pandas as pd

from .download import DataError, fetch_file, sha256_of
from .tweet_csv import SPLITS
from ..files import PART_SUFFIX, atomic_folder, remove_leftovers, write_csv_atomically

BASE_URL = "https://raw.githubusercontent.com/cardiffnlp/tweeteval/main/datasets/emoji/"
OUT_PATH = "data/tweets.csv"  # where make-data writes it by default
FILES = ("mapping.txt",) + tuple(f"{split}_{kind}.txt" for split in SPLITS for kind in ("text", "labels"))

# The sha256 of the published files of cardiffnlp/tweeteval datasets/emoji (commit 4fbd22cd).
PUBLISHED_SHA256 = {
    "mapping.txt": "ac172bfbb0972d875a832224f48602472279be365454e3bce01084689100f4d3",
    "train_text.txt": "eacb6b0ee1fe2803d72a009c2e731fe07659f604318a979951d2f07c23c564a1",
    "train_labels.txt": "daee7da826683dbfa50ad3a29c60bc527e498f06c70eabee3745a99cc37ab3a5",
    "val_text.txt": "3bc3742d6af404cea792671878684d110f3bc02fd79a2e34643789a521d81a26",
    "val_labels.txt": "21ba456f688668d049ff0fb1fa04469ee684cf4e2467c71d2c3fe5ca2ba1bd1a",
    "test_text.txt": "e4de11de1597842c431dd67868e83322f5a432564dfd8558889ed8ac6a1a5e09",
    "test_labels.txt": "c1662b84788f36674ab8f0106f3e2e7d3e258ddf4959086ac7cc75b1e68dd1f6",
}

_LABEL = re.compile(r"[0-9]+")
_FIX = "fix the file, or use the published files (unset TWEETS_SOURCE to download them)"


def _shown(origin, name):
    """Return how messages name the file ``name`` from ``origin`` (a folder Path or a base URL)."""
    return origin / name if isinstance(origin, Path) else f"{origin}{name}"


def read_lines(path, shown):
    """Return the lines of the UTF-8 file ``path``, split at ``\\n`` only, without the final newline; a byte
    that is not UTF-8 is a ``DataError`` naming the file (as ``shown``) and line."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataError(f"{shown}:{line}: not valid UTF-8 (byte 0x{data[err.start]:02x}); the TweetEval "
                        f"files are UTF-8: convert the file to UTF-8, or {_FIX}") from None
    return text.removesuffix("\n").split("\n") if text else []


def read_mapping(path, shown):
    """Return ``mapping.txt`` as a dict from integer label to emoji. Each line must be
    ``label<TAB>emoji<TAB>name`` (a trailing tab, as published, is allowed) with an integer label that appears
    only once; else ``DataError`` names the file (as ``shown``) and line."""
    mapping, line_of = {}, {}
    for number, line in enumerate(read_lines(path, shown), 1):
        fields = line.removesuffix("\t").split("\t")
        if len(fields) != 3 or not _LABEL.fullmatch(fields[0]) or not fields[1] or not fields[2]:
            raise DataError(f"{shown}:{number}: expected three tab-separated fields, integer label, emoji "
                            f"and name (like '0<TAB>❤<TAB>_red_heart_'), got {line!r}: {_FIX}")
        label = int(fields[0])
        if label in mapping:
            raise DataError(f"{shown}:{number}: label {label} again (first on line {line_of[label]}); "
                            f"each label must appear once: {_FIX}")
        mapping[label], line_of[label] = fields[1], number
    if not mapping:
        raise DataError(f"{shown}: no labels; it must hold one 'label<TAB>emoji<TAB>name' line per emoji: {_FIX}")
    return mapping


def _emoji_of(path, number, line, mapping):
    """Return the emoji of the label on line ``number`` of the labels file ``path``."""
    if not line.strip():
        raise DataError(f"{path}:{number}: blank line; each line must hold the label of the tweet on the "
                        f"same line of the text file, so a blank line shifts every label after it: {_FIX}")
    if not _LABEL.fullmatch(line):
        raise DataError(f"{path}:{number}: {line!r} is not an integer label: {_FIX}")
    if int(line) not in mapping:
        raise DataError(f"{path}:{number}: label {int(line)} is not in mapping.txt "
                        f"(labels {min(mapping)}-{max(mapping)}): {_FIX}")
    return mapping[int(line)]


def _read_split(raw_dir, split, mapping, origin):
    """Return one split as a DataFrame (``text``, ``emoji``, ``split``), in file order. Every label must be an
    integer in ``mapping``, no line blank, no tweet with a carriage return, and both files of the same length;
    else ``DataError`` names the file (as found in ``origin``, a folder Path or base URL) and line."""
    text_name, labels_name = f"{split}_text.txt", f"{split}_labels.txt"
    text_path, labels_path = _shown(origin, text_name), _shown(origin, labels_name)
    texts, labels = read_lines(raw_dir / text_name, text_path), read_lines(raw_dir / labels_name, labels_path)
    emojis = [_emoji_of(labels_path, number, line, mapping) for number, line in enumerate(labels, 1)]
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"{text_path}:{number}: blank line; each line must hold one tweet, so a blank "
                            f"line shifts every tweet after it: {_FIX}")
        if "\r" in text:
            raise DataError(f"{text_path}:{number}: carriage return (\\r); lines must end in \\n alone: "
                            f"convert Windows line endings (CRLF) to LF, or {_FIX}")
    if len(texts) != len(labels):
        longer = labels_path if len(labels) > len(texts) else text_path
        raise DataError(f"{longer}:{min(len(texts), len(labels)) + 1}: {text_name} has {len(texts):,} lines but "
                        f"{labels_name} has {len(labels):,}; line N of one must belong to line N of the other: {_FIX}")
    return pd.DataFrame({"text": texts, "emoji": emojis, "split": split})


def read_raw(raw_dir, origin=None):
    """Return the seven files in ``raw_dir`` as one DataFrame (``text``, ``emoji``, ``split``), splits in order,
    every file checked (``read_mapping``, ``_read_split``), named as found in ``origin`` (default ``raw_dir``)."""
    raw_dir = Path(raw_dir)
    origin = raw_dir if origin is None else origin
    mapping = read_mapping(raw_dir / "mapping.txt", _shown(origin, "mapping.txt"))
    return pd.concat([_read_split(raw_dir, split, mapping, origin) for split in SPLITS], ignore_index=True)


def _differs_from_published(folder):
    """Return the names of the files in ``folder`` whose sha256 is not the published one."""
    return [name for name in FILES
            if not (folder / name).is_file() or sha256_of(folder / name) != PUBLISHED_SHA256[name]]


def _raw_tweets(raw_dir, source, base_url):
    """Return the checked tweets and a note saying where the raw files came from."""
    if source is None and not _differs_from_published(raw_dir):
        return read_raw(raw_dir), f"raw files: {raw_dir} (published sha256, reused)"
    with atomic_folder(raw_dir) as staging:
        for name in FILES:
            fetch_file(name, staging, source=source, base_url=base_url,
                       sha256=None if source is not None else PUBLISHED_SHA256[name])
        tweets = read_raw(staging, base_url if source is None else Path(source))
        changed = _differs_from_published(staging)
    if source is None:
        return tweets, f"raw files: downloaded from {base_url} (published sha256 checked)"
    origin = f"not the published files: {', '.join(changed)}" if changed else "the published files"
    return tweets, f"raw files: copied from {source} ({origin})"


def make_csv(out_path=OUT_PATH, source=None, base_url=BASE_URL, raw_dir=None):
    """Build ``out_path`` (columns ``text,emoji,split``) from TweetEval emoji; return a summary dict: ``path``,
    ``splits`` (rows per split) and ``notes`` (the number of emojis, where the raw files came from). ``source`` is a
    folder holding the seven files; it must exist when given. ``raw_dir`` is the cache (default: ``tweeteval_emoji/``
    beside ``out_path``). What a killed run left (``*.part``) is removed first."""
    out_path = Path(out_path)
    raw_dir = Path(raw_dir) if raw_dir is not None else out_path.parent / "tweeteval_emoji"
    if source is not None and not Path(source).is_dir():
        raise DataError(f"source {source} (from --source or TWEETS_SOURCE) does not exist or is not a "
                        "folder: point TWEETS_SOURCE at a folder holding the seven TweetEval emoji files, "
                        "or unset it to download them")
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(raw_dir)
    remove_leftovers(raw_dir.parent, f".{raw_dir.name}.*{PART_SUFFIX}")
    remove_leftovers(out_path.parent, f"*{out_path.name}*{PART_SUFFIX}")
    tweets, origin = _raw_tweets(raw_dir, source, base_url)
    write_csv_atomically(tweets, out_path)
    splits = {split: int((tweets["split"] == split).sum()) for split in SPLITS}
    return {"path": out_path, "splits": splits, "notes": [f"{tweets['emoji'].nunique()} emojis", origin]}
