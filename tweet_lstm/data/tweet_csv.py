"""The tweets CSV: its contract, reading it whole or in chunks, and repeating it.

The contract, enforced for every reader: UTF-8 with a header row, quoted as pandas reads it. ``text`` is required;
``emoji`` only by what uses it; ``split``, where there is one, must be ``train``, ``val`` or ``test`` in every row
(spaces and case aside; any other value or an empty cell is an error naming the file, line and value). Other columns are
kept. Every column is read as str ("NA" stays text); an empty cell is missing (NaN). Rows that repeat the header or have
no text are dropped and counted in ``attrs["dropped"]``. A row with more fields than the header, a repeated column name
and an empty file are errors naming the file (and the line)."""

import csv
import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..checks import check_choice, check_int
from ..files import atomic_path

SPLITS = ("train", "val", "test")


def read_csv_options():
    """Keyword arguments for ``pd.read_csv`` that implement the contract's reading rules."""
    return dict(encoding="utf-8", dtype=str, keep_default_na=False, na_values=[""])


def require_columns(columns, needed, source, purpose=None):
    """Raise ``ValueError`` naming ``source`` unless every column in ``needed`` is in ``columns``."""
    if missing := [c for c in needed if c not in columns]:
        why = f" ({purpose})" if purpose else ""
        raise ValueError(f"{source}: missing column(s) {missing}{why}; found {list(columns)}")


def csv_records(path):
    """Yield ``(line, fields)`` for each record of ``path``, the header first (blank lines skipped), ``line``
    the 1-based line where the record starts, as the csv module reads them."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        records, end = csv.reader(f), 0
        for fields in records:
            start, end = end + 1, records.line_num
            if fields:
                yield start, fields


def normalise_splits(frame, source):
    """``frame`` with its ``split`` column (if any) read as ``SPLITS``; ``frame``'s index must be the records'
    numbers in ``source``, for the line of an error."""
    if "split" not in frame.columns:
        return frame
    values = frame["split"]
    names = {value: str(value).strip().casefold() for value in pd.unique(values) if not pd.isna(value)}
    read = values.map(names)
    wrong = ~read.isin(SPLITS).to_numpy()
    if wrong.any():
        at = int(np.argmax(wrong))
        value, record = values.iloc[at], values.index[at]
        line = next((line for line, _ in itertools.islice(csv_records(source), record + 1, None)), None)
        where = f"line {line}" if line else f"data row {record + 1}"
        what = "no split" if pd.isna(value) else f"split {value!r}"
        raise ValueError(f"{source}, {where}: {what}; a row's split must be train, val or test (spaces and "
                         "case aside): fix the row, or drop the split column")
    return frame.assign(split=read) if any(k != v for k, v in names.items()) else frame


def drop_unusable_rows(frame, source):
    """``frame`` without rows that repeat the header or have no text, splits normalised (``normalise_splits``);
    the rows dropped are counted in ``attrs["dropped"]``."""
    require_columns(frame.columns, ["text"], source)
    header_again = (frame.to_numpy() == frame.columns.to_numpy()).all(axis=1)
    empty = (frame["text"].isna() | (frame["text"] == "")).to_numpy() & ~header_again
    kept = normalise_splits(frame.loc[~(header_again | empty)], source).reset_index(drop=True)
    kept.attrs["dropped"] = {"header repeated": int(header_again.sum()), "empty text": int(empty.sum())}
    return kept


def check_header(path):
    """Raise ``ValueError`` naming ``path`` if it is empty or its header repeats a column name."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ValueError(f"{path}: the file is empty; a tweets CSV starts with a header row such as text,emoji,split")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}, line 1 (the header): column name(s) {repeated} appear more than once; "
                         f"each column needs a name of its own (header: {header})")


def _read_error(path, err):
    """The ``ValueError`` that says what is wrong with ``path`` (the first line that is not UTF-8, or that has
    more fields than the header), for an error pandas raised reading it."""
    if isinstance(err, UnicodeDecodeError):
        with open(path, "rb") as f:
            for number, line in enumerate(f, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as bad:
                    return ValueError(f"{path}, line {number}: byte 0x{line[bad.start]:02x} at column "
                                      f"{bad.start + 1} is not valid UTF-8; save the file as UTF-8 (or decode it "
                                      "with errors='replace' first)")
    else:
        records = csv_records(path)
        columns = len(next(records, (1, []))[1])
        for line, fields in records:
            if len(fields) > columns:
                return ValueError(f"{path}, line {line}: {len(fields)} fields where the header names {columns} "
                                  "columns; quote a field that holds a comma, or add the missing column names "
                                  "to the header")
    return ValueError(f"{path}: not a readable tweets CSV: {err}")


def _parsed(path, read, *args, **kwargs):
    """``read(*args, **kwargs)``, with what pandas raises reading ``path`` (and the warning of a row with extra fields,
    which it would drop) turned into the ``ValueError`` of ``_read_error``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return read(*args, **kwargs)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.ParserWarning) as err:
        raise _read_error(path, err) from None


def _records(path, chunksize=None):
    """``pd.read_csv`` of ``path`` under the contract, its header checked first; the first column is never the index."""
    _parsed(path, check_header, path)
    return _parsed(path, pd.read_csv, path, chunksize=chunksize, index_col=False, **read_csv_options())


def read_tweet_data(path):
    """Read a tweets CSV (see the module's contract) into a DataFrame of str columns. Raises ``ValueError`` naming
    the file (and the line, for bytes that are not UTF-8, rows pandas cannot parse and rows with more fields than
    the header), an empty file, a repeated column name and a missing ``text`` column."""
    return drop_unusable_rows(_records(path), path)


def iter_tweet_data(path, chunksize=100_000):
    """Yield the tweets CSV at ``path`` as DataFrames of at most ``chunksize`` rows, each read and checked
    exactly like ``read_tweet_data``, so a file far larger than memory can be processed a chunk at a time."""
    chunksize = check_int("chunksize", chunksize, minimum=1)
    with _records(path, chunksize) as reader:
        while (chunk := _parsed(path, next, reader, None)) is not None:
            yield drop_unusable_rows(chunk, path)


def repeat_tweets_csv(source_csv, out_csv, n_rows, chunksize=100_000, split=None):
    """Write ``out_csv`` with ``n_rows`` tweets, the rows of ``source_csv`` repeated in order; return its Path. Row
    ``i`` is row ``i % n`` of the ``n`` rows that ``iter_tweet_data`` keeps, or with ``split`` (e.g. ``"train"``) of
    those of that split only, so held-out tweets never leak in. The source is streamed ``chunksize`` rows at a time into
    a temporary file renamed at the end (no partial file is left)."""
    n_rows = check_int("n_rows", n_rows, minimum=1)
    chunksize = check_int("chunksize", chunksize, minimum=1)
    if split is not None:
        check_choice("split", split, SPLITS)
    source_csv, out_csv = Path(source_csv), Path(out_csv)
    if out_csv.resolve() == source_csv.resolve():
        raise ValueError(f"out_csv must not be source_csv ({source_csv}): it is read while written")
    written, header = 0, True
    with atomic_path(out_csv) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        while written < n_rows:
            before = written
            for chunk in iter_tweet_data(source_csv, chunksize):
                if split is not None:
                    require_columns(chunk.columns, ["split"], source_csv, f"split={split!r} was asked for")
                    chunk = chunk.loc[chunk["split"] == split]
                chunk = chunk.iloc[:n_rows - written]
                if len(chunk):
                    chunk.to_csv(out, index=False, header=header, quoting=csv.QUOTE_ALL)
                    written, header = written + len(chunk), False
                if written == n_rows:
                    break
            if written == before:
                which = "" if split is None else f" in split {split!r}"
                raise ValueError(f"source_csv {source_csv} has no tweets{which} to repeat")
    return out_csv
