"""Sentiment140: the published zip (or its CSV) to ``tweets.csv`` with columns ``text,polarity,split``.

Input: ``training.1600000.processed.noemoticon.csv``, no header, six quoted columns
``polarity,id,date,query,user,text``, polarity 0 (negative) or 4 (positive). It is read
from the zip as a stream (never extracted), a chunk of rows at a time, so memory stays flat.

Output, UTF-8 with every field quoted, one row per input row (none is dropped; blank lines
hold no row and are skipped):

- ``text``: the tweet as published; HTML entities such as ``&amp;`` are left for cleaning.
- ``polarity``: ``negative`` (0) or ``positive`` (4); any other value is an error.
- ``split``: ``train`` (90%), ``val`` (5%) or ``test`` (5%), fixed by a hash of the tweet id
  (see ``split_of``): the same on every run and machine, and tweets that share an id share a split.

Encoding: the file is not clean UTF-8. Each line is decoded as UTF-8, and each byte that is
not part of valid UTF-8 as Windows-1252, the code page the file was written in (0x92 is ``’``,
0x85 is ``…``; the five bytes that code page leaves undefined as latin-1), so a line mixing
UTF-8 with such bytes keeps both, and nothing is lost. The CSV written is UTF-8.

Checks: the zip downloaded from the published address must have the sha256 that TensorFlow
Datasets publishes for it (``ZIP_SHA256``), and a cached zip is reused only when it has that
digest. A zip from elsewhere (``--base-url``, ``--source``) is checked for the member's name
and, by ``zipfile`` as the member is read to its end, the member's CRC-32; when it is the
published zip, the 1,600,000 rows are counted too. A CSV given directly can only be parsed.
"""

import contextlib
import csv
import hashlib
import itertools
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pandas as pd

from .download import DataError, fetch_file, remove_partial, sha256_of
from ..files import PART_SUFFIX, atomic_path

BASE_URL = "http://cs.stanford.edu/people/alecmgo/"
OUT_PATH = "data/sentiment140.csv"  # where make-data writes it by default
ZIP_NAME = "trainingandtestdata.zip"
MEMBER = "training.1600000.processed.noemoticon.csv"
# From tensorflow/datasets, tensorflow_datasets/datasets/sentiment140/checksums.tsv (81,363,704 bytes).
ZIP_SHA256 = "004a3772c8a7ff9bbfeb875880f47f0679d93fc63e5cf9cff72d54a8a6162e57"
FULL_ROWS = 1_600_000
POLARITY = {"0": "negative", "4": "positive"}
COLUMNS = ("text", "polarity", "split")
SPLITS = ("train", "val", "test")
TRAIN_PERCENT, VAL_PERCENT = 90, 5
CHUNK_ROWS = 50_000


def split_of(tweet_id):
    """Return ``train``, ``val`` or ``test`` for the tweet id ``tweet_id`` (a str).

    The first 8 bytes of the id's BLAKE2b digest, as a big-endian integer modulo 100, give a
    bucket 0-99: below 90 is train, below 95 val, the rest test. No seed, no ``hash()``.
    """
    digest = hashlib.blake2b(tweet_id.encode("utf-8"), digest_size=8).digest()
    bucket = int.from_bytes(digest, "big") % 100
    if bucket < TRAIN_PERCENT:
        return "train"
    return "val" if bucket < TRAIN_PERCENT + VAL_PERCENT else "test"


def _cp1252(byte):
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined in Windows-1252
        return chr(byte)


CP1252 = tuple(_cp1252(byte) for byte in range(256))
"""Each byte's character in Windows-1252 (latin-1 for the five bytes it leaves undefined)."""


def decode_line(raw):
    """Return ``(text, n_bytes)``: ``raw`` decoded as UTF-8, with each of the ``n_bytes`` bytes that are
    not valid UTF-8 decoded as Windows-1252 (``CP1252``)."""
    text, start, n_bytes = [], 0, 0
    while True:
        try:
            text.append(raw[start:].decode("utf-8"))
            return "".join(text), n_bytes
        except UnicodeDecodeError as err:
            text.append(raw[start:start + err.start].decode("utf-8"))
            bad = raw[start + err.start:start + err.end]
            text.append("".join(CP1252[byte] for byte in bad))
            start, n_bytes = start + err.end, n_bytes + len(bad)


def _decoded_lines(stream, counts):
    """Yield the lines of the binary ``stream`` as str, counting in ``counts`` the lines decoded each way."""
    for raw in stream:
        text, n_bytes = decode_line(raw)
        counts["Windows-1252 lines" if n_bytes else "UTF-8 lines"] += 1
        yield text


def iter_rows(stream, name, counts):
    """Yield ``(text, polarity, split)`` for each row of the Sentiment140 CSV ``stream`` (binary).

    ``name`` names the file in messages; ``counts`` (a Counter) gains the number of lines
    decoded as UTF-8 (``"UTF-8 lines"``) and with bytes decoded as Windows-1252
    (``"Windows-1252 lines"``). A row without six fields, or with a polarity other than 0
    or 4, is a ``DataError`` naming the file and line.
    """
    reader = csv.reader(_decoded_lines(stream, counts))
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
    """Yield ``(binary stream, name)`` for the training CSV: the member of the zip ``path``, or the CSV ``path``.

    A path ending in ``.zip`` must be a zip holding ``MEMBER``; reading the member to its end
    checks its CRC-32. A damaged zip is a ``DataError`` naming it.
    """
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


def _chunks(rows, size):
    """Yield lists of at most ``size`` items from the iterator ``rows``."""
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def write_rows(rows, path):
    """Write ``(text, polarity, split)`` rows to the file ``path`` as UTF-8 CSV, a chunk at a time.

    Every field is quoted, so a tweet holding a carriage return or a newline reads back whole.
    Returns a Counter of rows per split and per polarity.
    """
    counts = Counter()
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for chunk in _chunks(iter(rows), CHUNK_ROWS):
            frame = pd.DataFrame(chunk, columns=COLUMNS)
            frame.to_csv(out, header=False, index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)
            counts.update(frame["split"])
            counts.update(frame["polarity"])
    return counts


def make_csv(out_path=OUT_PATH, source=None, base_url=BASE_URL, raw_dir=None):
    """Build ``out_path`` (columns ``text,polarity,split``) from Sentiment140; return a summary dict.

    The summary has ``path`` (the CSV's Path), ``splits`` (rows per split) and ``notes``
    (rows per polarity, lines with Windows-1252 bytes, what was verified). ``source`` is the zip,
    the CSV, or a folder holding either (the zip first), read where it is; without it the zip is downloaded
    from ``base_url`` into ``raw_dir`` (default: ``sentiment140/`` beside ``out_path``).
    What a killed run left (``*.part``) is removed first; on any error nothing is written.
    """
    out_path = Path(out_path)
    raw_dir = Path(raw_dir) if raw_dir is not None else out_path.parent / "sentiment140"
    remove_partial(raw_dir)
    remove_partial(out_path.parent, f"*{out_path.name}*{PART_SUFFIX}")
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
    if published:
        verified = f"the published zip (sha256 and {FULL_ROWS:,} rows checked)"
    elif path.suffix.lower() == ".zip":
        verified = "not the published zip: checked its member name and CRC-32 only"
    else:
        verified = "a CSV given directly: parsed, nothing more to verify"
    return {"path": out_path, "splits": {split: counts[split] for split in SPLITS},
            "notes": [f"negative {counts['negative']:,}, positive {counts['positive']:,}",
                      f"{decoding['UTF-8 lines']:,} lines decoded as UTF-8; {decoding['Windows-1252 lines']:,} lines "
                      "with bytes outside UTF-8, decoded as Windows-1252", f"{path}: {verified}"]}
