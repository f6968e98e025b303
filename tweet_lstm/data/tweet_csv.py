"""The tweets CSV: its contract, reading it whole or in chunks, and repeating it.

The contract, enforced here for every reader:

- UTF-8 text with a header row; quoting as pandas reads it (fields with commas, quotes or
  newlines in double quotes, a double quote inside doubled).
- ``text`` is required. ``emoji`` is needed only by what uses it (emoji models,
  ``emoji_set``), which says so. ``split`` (``train``/``val``/``test``) is optional;
  other columns are kept as they are.
- Every column is read as str: a tweet that says "NA" or "null" stays text. An empty
  cell is missing (NaN), and a missing emoji is never an emoji.
- Rows that repeat the header and rows whose text is missing or empty are dropped, and
  counted in the frame's ``attrs["dropped"]``. A row with more fields than the header, a
  repeated column name and an empty file are errors that name the file (and the line).
"""

import csv
import warnings
from pathlib import Path

import pandas as pd

from ..checks import check_int
from ..files import atomic_path

REQUIRED_COLUMNS = ("text",)


def read_csv_options():
    """Keyword arguments for ``pd.read_csv`` that implement the contract's reading rules."""
    return dict(encoding="utf-8", dtype=str, keep_default_na=False, na_values=[""])


def require_columns(columns, needed, source, purpose=None):
    """Raise ``ValueError`` naming ``source`` unless every column in ``needed`` is in ``columns``."""
    missing = [c for c in needed if c not in columns]
    if missing:
        why = f" ({purpose})" if purpose else ""
        raise ValueError(f"{source}: missing column(s) {missing}{why}; found {list(columns)}")


def first_invalid_utf8_line(path):
    """``(line_number, column, byte)`` of the first byte sequence in ``path`` that is not UTF-8, or None."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                return number, err.start + 1, line[err.start]
    return None


def _parse_error(path, err):
    if isinstance(err, UnicodeDecodeError):
        found = first_invalid_utf8_line(path)
        if found is not None:
            line, column, byte = found
            return ValueError(f"{path}, line {line}: byte 0x{byte:02x} at column {column} is not valid "
                              "UTF-8; save the file as UTF-8 (or decode it with errors='replace' first)")
    return ValueError(f"{path}: not a readable tweets CSV: {err}")


def unusable_rows(frame, source):
    """``(header_again, empty)``: boolean masks of the rows that repeat the header and of those with no text."""
    require_columns(frame.columns, REQUIRED_COLUMNS, source)
    header_again = pd.Series(True, index=frame.index)
    for column in frame.columns:
        header_again &= frame[column] == column
    empty = (frame["text"].isna() | (frame["text"] == "")) & ~header_again
    return header_again.to_numpy(), empty.to_numpy()


def drop_unusable_rows(frame, source):
    """``frame`` without rows that repeat the header or have no text; counts in ``attrs["dropped"]``."""
    header_again, empty = unusable_rows(frame, source)
    kept = frame.loc[~(header_again | empty)].reset_index(drop=True)
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


def first_line_with_extra_fields(path):
    """``(line, fields, columns)`` of the first record with more fields than the header, or None."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        records = csv.reader(f)
        header = next(records, [])
        for record in records:
            if len(record) > len(header):
                return records.line_num, len(record), len(header)
    return None


def _read_error(path, err):
    """The ``ValueError`` that says what is wrong with ``path``, for an error pandas raised reading it."""
    if isinstance(err, (pd.errors.ParserWarning, pd.errors.ParserError)):
        found = first_line_with_extra_fields(path)
        if found is not None:
            line, fields, columns = found
            return ValueError(f"{path}, line {line}: {fields} fields where the header names {columns} columns; "
                              "quote a field that holds a comma, or add the missing column names to the header")
    return _parse_error(path, err)


def _records(path, chunksize=None):
    """``pd.read_csv`` of ``path`` under the contract; the first column is never taken as the index."""
    return pd.read_csv(path, chunksize=chunksize, index_col=False, **read_csv_options())


def read_tweet_data(path):
    """Read a tweets CSV (see the module's contract) into a DataFrame of str columns.

    Raises ``ValueError`` naming the file (and the line, for bytes that are not UTF-8,
    rows pandas cannot parse and rows with more fields than the header), an empty file,
    a repeated column name and a missing ``text`` column.
    """
    try:
        check_header(path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # extra fields: pandas would drop them
            frame = _records(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.ParserWarning) as err:
        raise _read_error(path, err) from None
    return drop_unusable_rows(frame, path)


def iter_tweet_data(path, chunksize=100_000):
    """Yield the tweets CSV at ``path`` as DataFrames of at most ``chunksize`` rows.

    Each chunk is read and checked exactly like ``read_tweet_data``, so a file far larger
    than memory can be processed one chunk at a time.
    """
    chunksize = check_int("chunksize", chunksize, minimum=1)
    try:
        check_header(path)
        with _records(path, chunksize) as reader:
            while True:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    chunk = next(reader, None)
                if chunk is None:
                    return
                yield drop_unusable_rows(chunk, path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.ParserWarning) as err:
        raise _read_error(path, err) from None


def repeat_tweets_csv(source_csv, out_csv, n_rows, chunksize=100_000, split=None):
    """Write ``out_csv`` with ``n_rows`` tweets: the rows of ``source_csv`` repeated in order.

    With ``split`` (e.g. ``"train"``), only the source rows whose ``split`` column equals it
    are repeated, so held-out tweets never leak into the repeated file. Row ``i`` of the
    output is row ``i % n`` of the ``n`` rows kept (after ``iter_tweet_data``'s dropping),
    with the source's columns. The source is streamed in chunks of ``chunksize`` rows, each
    appended to a temporary file renamed at the end: memory holds one chunk however large
    ``n_rows`` is, and an interrupted run leaves no partial file. Returns ``out_csv``'s Path.
    """
    n_rows = check_int("n_rows", n_rows, minimum=1)
    chunksize = check_int("chunksize", chunksize, minimum=1)
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
