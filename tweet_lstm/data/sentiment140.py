"""Sentiment140: the published zip (or its CSV) to ``tweets.csv`` with columns ``text,polarity,split``.

Input: ``MEMBER``, six quoted columns ``polarity,id,date,query,user,text`` and no header, streamed from the zip. Output:
one row per input row (blank lines skipped), every field quoted; ``text`` as published, ``polarity`` ``negative`` (0) or
``positive`` (4), ``split`` from ``split_of(id)``. Bytes outside valid UTF-8 are read as Windows-1252 (``decode_line``).
A downloaded zip must have the published sha256 (``ZIP_SHA256``; a cached one is reused only then); the published zip's
1,600,000 rows are counted too. Another zip gets its member's name and CRC-32 checked."""

import contextlib
import csv
import hashlib
import itertools
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pandas as pd

from .download import DataError, fetch_file, sha256_of
from .tweet_csv import SPLITS
from ..files import PART_SUFFIX, atomic_path, remove_leftovers

BASE_URL = "http://cs.stanford.edu/people/alecmgo/"
OUT_PATH = "data/sentiment140.csv"  # where make-data writes it by default
ZIP_NAME = "trainingandtestdata.zip"
MEMBER = "training.1600000.processed.noemoticon.csv"
# From tensorflow/datasets, tensorflow_datasets/datasets/sentiment140/checksums.tsv (81,363,704 bytes).
ZIP_SHA256 = "004a3772c8a7ff9bbfeb875880f47f0679d93fc63e5cf9cff72d54a8a6162e57"
FULL_ROWS = 1_600_000
POLARITY = {"0": "negative", "4": "positive"}
COLUMNS = ("text", "polarity", "split")
TRAIN_PERCENT, VAL_PERCENT = 90, 5
CHUNK_ROWS = 50_000


def split_of(tweet_id):
    """``train`` (90%), ``val`` (5%) or ``test`` for the tweet id ``tweet_id`` (a str): the id's 8-byte BLAKE2b
    digest, big-endian, modulo 100 (no seed, no ``hash()``), so the same on every run and machine."""
    digest = hashlib.blake2b(tweet_id.encode("utf-8"), digest_size=8).digest()
    bucket = int.from_bytes(digest, "big") % 100
    return "train" if bucket < TRAIN_PERCENT else "val" if bucket < TRAIN_PERCENT + VAL_PERCENT else "test"


CP1252 = tuple(bytes([byte]).decode("cp1252", "ignore") or chr(byte) for byte in range(256))
"""Each byte's character in Windows-1252 (latin-1 for the five bytes it leaves undefined)."""


def decode_line(raw):
    """Return ``(text, n_bytes)``: ``raw`` decoded as UTF-8, with each of the ``n_bytes`` bytes that are
    not valid UTF-8 decoded as Windows-1252 (``CP1252``)."""
    text, start, n_bytes = [], 0, 0
    while True:
        try:
            return "".join(text) + raw[start:].decode("utf-8"), n_bytes
        except UnicodeDecodeError as err:
            bad = raw[start + err.start:start + err.end]
            text += [raw[start:start + err.start].decode("utf-8"), *(CP1252[byte] for byte in bad)]
            start, n_bytes = start + err.end, n_bytes + len(bad)


def iter_rows(stream, name, counts):
    """Yield ``(text, polarity, split)`` for each row of the Sentiment140 CSV ``stream`` (binary), counting in
    ``counts`` the ``"UTF-8 lines"`` and ``"Windows-1252 lines"``. A row without six fields, or with a polarity
    other than 0 or 4, is a ``DataError`` naming the file (as ``name``) and line."""
    def decoded(raw):
        text, n_bytes = decode_line(raw)
        counts["Windows-1252 lines" if n_bytes else "UTF-8 lines"] += 1
        return text

    reader = csv.reader(map(decoded, stream))
    for fields in reader:
        if not fields:
            continue
        where = f"{name}:{reader.line_num}"
        if len(fields) != 6:
            raise DataError(f"{where}: expected six quoted fields polarity,id,date,query,user,text, got "
                            f"{len(fields)}: is this {MEMBER}? Use that file or the zip that holds it")
        if fields[0] not in POLARITY:
            raise DataError(f"{where}: polarity {fields[0]!r} is not 0 or 4: use {MEMBER} (the test "
                            "file, with polarity 2, is not supported)")
        yield fields[5], POLARITY[fields[0]], split_of(fields[1])


@contextlib.contextmanager
def open_training_csv(path):
    """Yield ``(binary stream, name)`` for the training CSV: the member ``MEMBER`` of the zip ``path`` (its CRC-32
    checked as it is read to its end), or the CSV ``path``. A damaged zip is a ``DataError`` naming it."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        with open(path, "rb") as stream:
            yield stream, str(path)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            if MEMBER not in archive.namelist():
                raise DataError(f"{path}: holds no {MEMBER} (it holds {archive.namelist()}): "
                                f"use the published {ZIP_NAME}")
            with archive.open(MEMBER) as member:
                yield member, f"{path}/{MEMBER}"
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DataError(f"{path}: damaged zip ({err}): replace it with a fresh copy of {ZIP_NAME}") from err


def _input_path(source, raw_dir, base_url):
    """Return the Path of the zip or CSV to read: ``source`` (file or folder), the cached zip, or a download."""
    if source is not None:
        source = Path(source)
        if source.is_file():
            return source
        if not source.is_dir():
            raise DataError(f"{source} (from --source or TWEETS_SOURCE) does not exist: point it at "
                            f"{ZIP_NAME}, at {MEMBER}, or at a folder holding one, or unset it to download")
        for name in (ZIP_NAME, MEMBER):
            if (source / name).is_file():
                return source / name
        raise DataError(f"{source}: holds neither {ZIP_NAME} nor {MEMBER}: put one there, or point "
                        "--source/TWEETS_SOURCE at the file itself")
    cached = raw_dir / ZIP_NAME
    if cached.is_file():
        if sha256_of(cached) == ZIP_SHA256:
            return cached
        print(f"{cached} is not the published {ZIP_NAME} (its sha256 differs): downloading it again", flush=True)
    expected = ZIP_SHA256 if base_url == BASE_URL else None
    return fetch_file(ZIP_NAME, raw_dir, base_url=base_url, sha256=expected, timeout=60)


def write_rows(rows, path):
    """Write ``(text, polarity, split)`` rows to ``path`` as UTF-8 CSV, a chunk at a time, every field quoted (a
    tweet holding a carriage return or a newline reads back whole); return a Counter of rows per split and polarity."""
    counts = Counter()
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        rows = iter(rows)
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            frame = pd.DataFrame(chunk, columns=COLUMNS)
            frame.to_csv(out, header=False, index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)
            counts.update(frame["split"])
            counts.update(frame["polarity"])
    return counts


def make_csv(out_path=OUT_PATH, source=None, base_url=BASE_URL, raw_dir=None):
    """Build ``out_path`` (columns ``text,polarity,split``) from Sentiment140; return a summary dict: ``path``,
    ``splits`` (rows per split) and ``notes`` (rows per polarity, lines with Windows-1252 bytes, what was verified).
    ``source`` is the zip, the CSV, or a folder holding either (the zip first); without it the zip is downloaded from
    ``base_url`` into ``raw_dir`` (default: ``sentiment140/`` beside ``out_path``). What a killed run left (``*.part``)
    is removed first; on any error nothing is written."""
    out_path = Path(out_path)
    raw_dir = Path(raw_dir) if raw_dir is not None else out_path.parent / "sentiment140"
    remove_leftovers(raw_dir)
    remove_leftovers(out_path.parent, f"*{out_path.name}*{PART_SUFFIX}")
    path = _input_path(source, raw_dir, base_url)
    published = path.suffix.lower() == ".zip" and sha256_of(path) == ZIP_SHA256
    decoding = Counter()
    with atomic_path(out_path) as tmp, open_training_csv(path) as (stream, name):
        counts = write_rows(iter_rows(stream, name, decoding), tmp)
        rows = sum(counts[split] for split in SPLITS)
        if rows == 0:
            raise DataError(f"{name}: no rows: use {MEMBER} or the zip that holds it")
        if published and rows != FULL_ROWS:
            raise DataError(f"{name}: read {rows:,} rows, expected {FULL_ROWS:,} from the published zip: "
                            "the file was misread; report this with the command you ran")
    verified = (f"the published zip (sha256 and {FULL_ROWS:,} rows checked)" if published else
                "not the published zip: checked its member name and CRC-32 only" if path.suffix.lower() == ".zip"
                else "a CSV given directly: parsed, nothing more to verify")
    return {"path": out_path, "splits": {split: counts[split] for split in SPLITS},
            "notes": [f"negative {counts['negative']:,}, positive {counts['positive']:,}",
                      f"{decoding['UTF-8 lines']:,} lines decoded as UTF-8; {decoding['Windows-1252 lines']:,} lines "
                      "with bytes outside UTF-8, decoded as Windows-1252", f"{path}: {verified}"]}
