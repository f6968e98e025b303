"""Row sources for streaming: where a dataset's tweets come from, one block of rows at a time.

``FrameRows`` holds a DataFrame; ``CsvRows`` reads a CSV block by block and never loads it
whole. Both clean the text once per read (``clean_tweet_text``), drop the tweets that
cleaning empties, and know beforehand how many tweets each block serves, so a dataset's
length is exact before its first batch. Both serve exactly the rows ``read_tweet_data``
reads.
"""

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import check_int
from .text import clean_tweet_text
from .tweet_csv import REQUIRED_COLUMNS, parse_csv_block, require_columns, unusable_rows


def _needed_columns(emoji_set):
    return REQUIRED_COLUMNS + (("emoji",) if emoji_set is not None else ())


def _keep_tweets(frame, source, clean, emoji_set, where):
    """The block ``frame`` made ready to serve: ``(tweets, dropped)``.

    ``where(i)`` names row ``i`` of ``frame`` in error messages.
    """
    header_again, empty = unusable_rows(frame, source)
    dropped = {"header repeated": int(header_again.sum()), "empty text": int(empty.sum())}
    kept = np.flatnonzero(~(header_again | empty))
    tweets = frame.iloc[kept]
    if emoji_set is not None:
        unknown = ~tweets["emoji"].isin(emoji_set).to_numpy()
        if unknown.any():
            first = int(np.argmax(unknown))
            raise ValueError(f"{source}, {where(int(kept[first]))}: emoji {tweets['emoji'].iloc[first]!r} is not "
                             f"in emoji_set ({len(emoji_set)} emojis); a missing emoji is never an emoji")
    if clean:
        tweets = tweets.assign(text=clean_tweet_text(tweets["text"]))
    emptied = tweets["text"].str.len().to_numpy() == 0
    dropped["empty after cleaning"] = int(emptied.sum())
    return tweets.loc[~emptied].reset_index(drop=True), dropped


def _add(totals, dropped):
    for reason, n in dropped.items():
        totals[reason] = totals.get(reason, 0) + n


class FrameRows:
    """The tweets of a DataFrame, cleaned once, served in blocks of ``block_rows`` rows.

    ``n_rows`` tweets are served (``dropped`` counts the rows left out, by reason);
    ``block_sizes`` holds the tweets of each block. With a ``shuffle_key``, ``block``
    deals the rows out in a permuted order, new for every key.
    """

    def __init__(self, frame, block_rows, clean=True, emoji_set=None):
        self.block_rows = check_int("block_rows", block_rows, minimum=1)
        require_columns(frame.columns, _needed_columns(emoji_set), "tweets",
                        "emoji_set needs each tweet's emoji" if emoji_set is not None else None)
        for i, text in enumerate(frame["text"]):
            if not isinstance(text, str) and not pd.isna(text):  # a missing text is dropped, not an error
                raise ValueError(f"tweets['text'] must hold only str; row {i} is {type(text).__name__} ({text!r})")
        self.frame, self.dropped = _keep_tweets(frame.reset_index(drop=True), "tweets", clean, emoji_set,
                                                   lambda i: f"row {i}")
        self.n_rows = len(self.frame)
        n_blocks = -(-self.n_rows // self.block_rows)
        self.block_sizes = np.full(n_blocks, self.block_rows, dtype=np.int64)
        if n_blocks:
            self.block_sizes[-1] = self.n_rows - (n_blocks - 1) * self.block_rows

    def block(self, block, shuffle_key=None):
        """Block ``block``'s tweets (a DataFrame), in the order ``shuffle_key`` deals them."""
        if shuffle_key is None:
            rows = np.arange(self.n_rows)
        else:
            rows = np.random.default_rng([*shuffle_key, 1]).permutation(self.n_rows)
        return self.frame.iloc[rows[block * self.block_rows:(block + 1) * self.block_rows]]


class _NumberedLines:
    """The lines of a binary file as str, counting line numbers and the bytes read so far."""

    def __init__(self, f, path):
        self.f, self.path, self.line, self.offset = f, path, 0, f.tell()

    def __iter__(self):
        return self

    def __next__(self):
        raw = self.f.readline()
        if not raw:
            raise StopIteration
        self.line += 1
        self.offset += len(raw)
        try:
            return raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{self.path}, line {self.line}: byte 0x{raw[err.start]:02x} at column "
                             f"{err.start + 1} is not valid UTF-8; save the file as UTF-8") from None


class CsvRows:
    """The tweets of a CSV file, read one block of ``block_rows`` records at a time.

    Construction makes one pass over the file that checks everything up front: every line
    is valid UTF-8, the records split where pandas splits them, the columns are there,
    each emoji is in ``emoji_set``; any problem is a ``ValueError`` naming the file and
    line. The pass keeps only each block's byte offset and size: ``offsets`` (one per
    block plus the end of the file), ``block_sizes`` (tweets served), ``first_lines``.
    """

    def __init__(self, path, block_rows, clean=True, emoji_set=None):
        self.path, self.clean, self.emoji_set = Path(path), clean, emoji_set
        self.block_rows = check_int("block_rows", block_rows, minimum=1)
        offsets, sizes, first_lines = [], [], []
        self.dropped = {"header repeated": 0, "empty text": 0, "empty after cleaning": 0}
        with open(path, "rb") as f:
            lines = _NumberedLines(f, path)
            records = csv.reader(lines)
            try:
                self.columns = next((r for r in records if r), None)
                if self.columns is None:
                    raise ValueError(f"{path}: the file is empty; a tweets CSV starts with a header row")
                require_columns(self.columns, _needed_columns(emoji_set), path,
                                "emoji_set needs each tweet's emoji" if emoji_set is not None else None)
                while True:
                    start, record_lines = lines.offset, []
                    while len(record_lines) < self.block_rows:
                        line = lines.line + 1
                        record = next(records, None)
                        if record is None:
                            break
                        if record:  # pandas skips blank lines, and so do we
                            record_lines.append(line)
                    if not record_lines:
                        break
                    f_pos = f.tell()
                    sizes.append(self._check_block(f, start, lines.offset, record_lines))
                    f.seek(f_pos)
                    offsets.append(start)
                    first_lines.append(record_lines[0])
            except csv.Error as err:
                raise ValueError(f"{path}, line {lines.line}: {err}") from None
            offsets.append(lines.offset)
        self._stamp = self._file_stamp()
        self.offsets = np.array(offsets, dtype=np.int64)
        self.block_sizes = np.array(sizes, dtype=np.int64)
        self.first_lines = np.array(first_lines, dtype=np.int64)
        self.n_rows = int(self.block_sizes.sum())

    def _file_stamp(self):
        stat = self.path.stat()
        return stat.st_size, stat.st_mtime_ns

    def _read(self, f, start, stop):
        f.seek(start)
        return parse_csv_block(f.read(stop - start), self.columns, self.path)

    def _check_block(self, f, start, stop, record_lines):
        """Parse one block as pandas does, check it against the records found; its tweet count."""
        where = f"lines {record_lines[0]}-{record_lines[-1]}"
        try:
            frame = self._read(f, start, stop)
        except ValueError as err:
            raise ValueError(f"{self.path}, {where}: pandas cannot parse these rows ({err})") from None
        if len(frame) != len(record_lines):
            raise ValueError(f"{self.path}, {where}: the streaming index found {len(record_lines)} rows "
                             f"where pandas reads {len(frame)}; the quoting is ambiguous (a stray double "
                             "quote?); fix the file, or read it whole with read_tweet_data")
        tweets, dropped = _keep_tweets(frame, self.path, self.clean, self.emoji_set,
                                          lambda i: f"line {record_lines[i]}")
        _add(self.dropped, dropped)
        return len(tweets)

    def block(self, block, shuffle_key=None):
        """Block ``block``'s tweets (a DataFrame), shuffled within the block by ``shuffle_key``."""
        changed = f"{self.path} changed since the dataset was made; make the dataset again"
        if self._file_stamp() != self._stamp:
            raise ValueError(f"{changed} (its size or modification time differ)")
        with open(self.path, "rb") as f:
            frame = self._read(f, self.offsets[block], self.offsets[block + 1])
        tweets, _ = _keep_tweets(frame, self.path, self.clean, None, str)
        if len(tweets) != self.block_sizes[block]:
            raise ValueError(f"{changed} (the block from line {self.first_lines[block]} now has "
                             f"{len(tweets)} tweets, not {self.block_sizes[block]})")
        if shuffle_key is not None:
            tweets = tweets.iloc[np.random.default_rng([*shuffle_key, 2, block]).permutation(len(tweets))]
        return tweets
