"""``TweetStore``: tweets prepared as ids (``prepare_tweets``, in ``prepare.py``), read by index.

A store is a folder:

| file | dtype | what |
|---|---|---|
| ``ids.bin`` | uint8 | every tweet's character ids (``ID_VOCAB``), one tweet after another |
| ``offsets.bin`` | int64 | where tweet ``i`` starts; tweet ``i`` is ``ids[offsets[i]:offsets[i + 1]]`` |
| ``emoji.bin`` | int16 | each tweet's emoji as an index into the manifest's ``emojis`` (-1: none) |
| ``split.bin`` | int8 | each tweet's split as an index into the manifest's ``splits`` (-1: none) |
| ``manifest.json`` | | counts, dropped rows by reason, the source's size, time and sha256, the vocabulary |

(``emoji.bin`` and ``split.bin`` only where the CSV has that column.) ``TweetStore.open``
maps the files into memory: reading tweet ``i`` touches only its own bytes.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .ids import END_ID, ID_VOCAB, PAD_ID, START_ID, char_ids, code_points, trimmed_width
from ..data.text import OUTSIDE_CHARACTERS, clean_tweet_text

FORMAT = 1
"""The store layout's version, kept in the manifest."""


def texts_to_ids(texts):
    """``(ids, lengths)``: cleaned texts as one flat uint8 array of character ids, and each one's length."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    points = code_points(["".join(texts)], int(lengths.sum()))[0] if len(texts) else np.zeros(0, np.uint32)
    return char_ids(points), lengths


def codes_of(values, names):
    """``values`` (a Series, NaN or "" for none) as int codes into ``names``, which grows with new values."""
    values = values.mask(values == "")
    index = {name: i for i, name in enumerate(names)}
    for value in pd.unique(values.dropna()):
        if value not in index:
            index[value] = len(names)
            names.append(value)
    return values.map(index).fillna(-1).to_numpy(np.int64)


class TweetStore:
    """Cleaned tweets as ids, read by index; from ``open`` (a prepared folder) or ``from_frame``.

    ``ids`` (uint8) holds every tweet's character ids back to back and ``offsets`` (int64)
    where each begins: tweet ``t`` is ``ids[offsets[t]:offsets[t + 1]]``. Opened from a
    folder both are memory maps: the operating system reads the pages a batch touches and
    may drop them again, so they cost no memory of the program's own. ``emojis`` and
    ``splits`` name the codes of the per-tweet ``emoji`` (-1: none) and ``split`` arrays, or
    are None where the source had no such column. ``length``: the characters tweets were cut
    to. ``take`` and ``split_of`` give a view over some tweets (it keeps their indices,
    ``rows``); ``starts``, ``lengths``, ``emoji`` and ``split`` are those of the view's tweets.
    Make one with ``open``, ``from_frame`` or ``prepare_tweets``: the constructor only takes
    the arrays and names they read, which is why it has so many parameters.
    """

    def __init__(self, ids, offsets, length, emoji=None, emojis=None, split=None, splits=None, manifest=None,
                 rows=None):
        self.ids, self.offsets, self.length, self.rows = ids, offsets, length, rows
        self._emoji, self.emojis, self._split, self.splits = emoji, emojis, split, splits
        self.manifest = manifest

    @classmethod
    def open(cls, store_dir):
        """The store prepared in ``store_dir``, its files mapped into memory (nothing is read yet)."""
        store_dir = Path(store_dir)
        path = store_dir / "manifest.json"
        if not path.exists():
            raise FileNotFoundError(f"{store_dir} holds no prepared store (no manifest.json); "
                                    "make one with prepare_tweets(csv_path, store_dir)")
        manifest = json.loads(path.read_text(encoding="utf-8"))

        def mapped(name, dtype):
            file = store_dir / name
            return np.memmap(file, dtype=dtype, mode="r") if file.stat().st_size else np.zeros(0, dtype)

        offsets, ids = mapped("offsets.bin", np.int64), mapped("ids.bin", np.uint8)
        columns = {column: mapped(f"{column}.bin", dtype) if manifest[f"{column}s"] is not None else None
                   for column, dtype in (("emoji", np.int16), ("split", np.int8))}
        if len(offsets) != manifest["tweets"] + 1 or len(ids) != offsets[-1]:
            raise ValueError(f"{store_dir}: the store's files do not match its manifest; prepare it again")
        return cls(ids, offsets, manifest["length"], columns["emoji"], manifest["emojis"], columns["split"],
                   manifest["splits"], manifest)

    @classmethod
    def from_frame(cls, frame, length=160, emojis=None, clean=True):
        """A store in memory from a DataFrame of tweets (``text``, optional ``emoji`` and ``split``).

        Cleans and cuts each text as ``prepare_tweets`` does and drops the tweets left
        empty (``manifest["dropped"]``). ``clean=False`` keeps the texts as they are (they
        must hold only the 93 characters, e.g. after the seed's ``filter_text_for_handles``).
        ``emojis`` fixes the emoji list (and so each emoji's index); an emoji outside it is
        an error naming the row.
        """
        texts = frame["text"].fillna("")
        if clean:
            texts = clean_tweet_text(texts)
        elif texts.str.contains(OUTSIDE_CHARACTERS).any():
            row = int(np.argmax(texts.str.contains(OUTSIDE_CHARACTERS).to_numpy()))
            raise ValueError(f"tweets row {row} has characters outside the 93-character set ({texts.iloc[row]!r}); "
                             "clean it first, or use clean=True")
        texts = texts.str.slice(0, length)
        kept = (texts.str.len() > 0).to_numpy()
        ids, lengths = texts_to_ids(texts[kept].tolist())
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        columns, names = {}, {}
        for column, dtype in (("emoji", np.int16), ("split", np.int8)):
            columns[column] = names[column] = None
            if column in frame.columns:
                fixed = column == "emoji" and emojis is not None
                names[column] = list(emojis) if fixed else []
                codes = codes_of(frame[column], list(names[column]) if fixed else names[column])
                if fixed and (codes >= len(names[column])).any():
                    row = int(np.argmax(codes >= len(names[column])))
                    raise ValueError(f"tweets row {row}: emoji {frame[column].iloc[row]!r} is not in emojis "
                                     f"({len(names[column])} emojis)")
                columns[column] = codes[kept].astype(dtype)
        manifest = {"tweets": int(kept.sum()), "dropped": {"empty after cleaning": int((~kept).sum())}}
        return cls(ids, offsets, length, columns["emoji"], names["emoji"], columns["split"], names["split"],
                   manifest)

    def __len__(self):
        return len(self.offsets) - 1 if self.rows is None else len(self.rows)

    def _base(self, rows):
        """Indices of the view's tweets ``rows`` in the whole store."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows if self.rows is None else self.rows[rows]

    def lengths_of(self, rows):
        """The lengths (characters) of tweets ``rows``, int64."""
        base = self._base(rows)
        return self.offsets[base + 1] - self.offsets[base]

    @property
    def lengths(self):
        return self.lengths_of(np.arange(len(self)))

    @property
    def starts(self):
        return np.asarray(self.offsets[self._base(np.arange(len(self)))])

    @property
    def emoji(self):
        return None if self._emoji is None else np.asarray(self._emoji[self._base(np.arange(len(self)))])

    @property
    def split(self):
        return None if self._split is None else np.asarray(self._split[self._base(np.arange(len(self)))])

    def emoji_of(self, rows):
        """The emoji codes (-1: none) of tweets ``rows``, int16."""
        return np.asarray(self._emoji[self._base(rows)])

    def take(self, rows):
        """A view of the tweets ``rows`` (indices, or a boolean mask) of this store."""
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        return TweetStore(self.ids, self.offsets, self.length, self._emoji, self.emojis, self._split, self.splits,
                          self.manifest, self._base(rows))

    def split_of(self, name):
        """The tweets of split ``name`` (e.g. ``"train"``)."""
        if self.splits is None:
            raise ValueError("this store has no split column (its CSV had none)")
        if name not in self.splits:
            raise ValueError(f"split {name!r} is not in this store; its splits are {self.splits}")
        return self.take(self.split == self.splits.index(name))

    def fingerprint(self):
        """A short hex digest of exactly which tweets this store (or view) holds, for a run folder to record.

        A prepared store is named by its source's sha256; one made in memory by its ids and
        offsets; a view adds the indices of its tweets.
        """
        digest = hashlib.sha256(str(self.length).encode())
        source = (self.manifest or {}).get("source", {}).get("sha256")
        for part in ([source.encode()] if source else [np.asarray(self.ids), np.asarray(self.offsets)]):
            digest.update(part if isinstance(part, bytes) else np.ascontiguousarray(part).tobytes())
        digest.update(b"all" if self.rows is None else np.ascontiguousarray(self.rows).tobytes())
        return digest.hexdigest()[:16]

    def in_memory(self):
        """The same tweets with ``ids`` and ``offsets`` read into memory (a copy)."""
        return TweetStore(np.array(self.ids), np.array(self.offsets), self.length, self._emoji, self.emojis,
                          self._split, self.splits, self.manifest, self.rows)

    def id_rows(self, rows, trim=True):
        """Tweets ``rows`` as a ``(len(rows), width)`` uint8 matrix, as ``encode_tweets_to_ids`` makes.

        Row ``j``: ``<start>``, the tweet's ids, ``<end>`` (unless it fills ``length``), then
        ``<pad>``. ``width`` is ``length + 1``, or with ``trim`` the smallest
        ``BUCKETS`` width + 1 that holds the longest of these tweets. Reads only their ids.
        """
        base = self._base(rows)
        starts, lengths = self.offsets[base], self.offsets[base + 1] - self.offsets[base]
        longest = int(lengths.max(initial=0))
        width = self.length + 1
        if trim:
            width = trimmed_width(longest, self.length)
        out = np.full((len(base), width), PAD_ID, dtype=np.uint8)
        out[:, 0] = START_ID
        inside = np.arange(longest) < lengths[:, None]
        out[:, 1:1 + longest][inside] = self.ids[(starts[:, None] + np.arange(longest))[inside]]
        short = np.flatnonzero(lengths < self.length)
        out[short, 1 + lengths[short]] = END_ID
        return out

    def texts(self, rows=None):
        """The cleaned texts of tweets ``rows`` (default: all), as a list of str."""
        base = self._base(np.arange(len(self)) if rows is None else rows)
        starts, lengths = self.offsets[base], self.offsets[base + 1] - self.offsets[base]
        ends = np.cumsum(lengths)
        flat = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]) if len(ends) else 0)
        chars = np.array([0, 0, 0, 0xFFFD] + [ord(c) for c in ID_VOCAB[4:]], dtype=np.uint32)
        text = chars[self.ids[flat]].tobytes().decode("utf-32-le")
        return [text[end - n:end] for end, n in zip(ends.tolist(), lengths.tolist())]
