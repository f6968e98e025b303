"""``TweetStore``: tweets as ids, read by index; ``write_tweets``, the one writer of a store's arrays.

A store is a folder (``prepare_tweets`` writes it) of ``ids.bin`` (uint8: every tweet's ``ID_VOCAB`` ids, one tweet
after another), ``offsets.bin`` (int64: tweet ``i`` is ``ids[offsets[i]:offsets[i + 1]]``), ``emoji.bin`` and
``split.bin`` where the CSV has those columns (int32 indices into the manifest's ``emojis`` and ``splits``; -1: none),
and ``manifest.json`` (counts, dropped rows by reason, the source's size, time and sha256, the vocabulary, each file's
size and CRC-32). ``TweetStore.open`` checks every file against the manifest and maps them into memory, so reading tweet
``i`` touches only its own bytes."""

import hashlib
import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .ids import ID_VOCAB, id_rows, text_ids
from ..data.text import OUTSIDE_CHARACTERS, clean_tweet_text

FORMAT = 2  # the store layout's version, kept in the manifest
LABELS = ("emoji", "split")  # the columns a store keeps as codes: <column>.bin, named by the manifest's <column>s
DTYPES = {"ids.bin": np.uint8, "offsets.bin": np.int64, "emoji.bin": np.int32, "split.bin": np.int32}


def codes_of(values, names):
    """``values`` (a Series, NaN or "" for none) as int32 codes into ``names``, which grows with new values."""
    codes, uniques = pd.factorize(values)
    index = {name: i for i, name in enumerate(names)}
    for value in uniques:
        if value != "" and value not in index:
            index[value] = len(names)
            names.append(value)
    return np.array([index.get(value, -1) for value in uniques] + [-1], dtype=np.int32)[codes]


def write_tweets(chunks, write, length, emojis=None):
    """Write a store's arrays through ``write(file_name, array)`` (in order, each of its file's dtype); return the
    manifest (without ``source`` and ``files``). ``chunks`` yields ``(frame, texts)``: tweets (a DataFrame, optional
    ``emoji`` and ``split``, rows its reader left out in ``attrs["dropped"]``) and their cleaned texts (the 93
    characters), cut here to ``length``; one left empty is dropped and counted. ``emojis``: the first emoji codes."""
    manifest = {"format": FORMAT, "tweets": 0, "characters": 0, "length": length, "dropped": {}, "emojis": None,
                "splits": None, "vocabulary": list(ID_VOCAB)}
    names = {}
    write("offsets.bin", np.zeros(1, np.int64))
    for frame, texts in chunks:
        ids, lengths = text_ids([text[:length] for text in texts])
        kept = lengths > 0
        dropped = {**frame.attrs.get("dropped", {}), "empty after cleaning": int((~kept).sum())}
        for reason, n in dropped.items():
            manifest["dropped"][reason] = manifest["dropped"].get(reason, 0) + n
        write("ids.bin", ids)
        write("offsets.bin", manifest["characters"] + np.cumsum(lengths[kept]))
        manifest["tweets"] += int(kept.sum())
        manifest["characters"] += len(ids)
        for column in LABELS:
            if column in frame.columns:
                first = list(emojis) if column == "emoji" and emojis is not None else []
                write(f"{column}.bin", codes_of(frame[column], names.setdefault(column, first))[kept])
    manifest.update({f"{column}s": names.get(column) for column in LABELS})
    return manifest


def file_sizes(manifest):
    """``{file name: bytes}`` of the store files that ``manifest`` describes."""
    counts = {"ids.bin": manifest["characters"], "offsets.bin": manifest["tweets"] + 1}
    counts.update({f"{column}.bin": manifest["tweets"] for column in LABELS if manifest[f"{column}s"] is not None})
    return {name: n * np.dtype(DTYPES[name]).itemsize for name, n in counts.items()}


def file_stamp(path):
    """``{"bytes": size, "crc32": checksum}`` of the file at ``path``, read 16 MiB at a time."""
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return {"bytes": Path(path).stat().st_size, "crc32": crc}


def check_store(store_dir):
    """``(manifest, None)`` when ``store_dir``'s ``manifest.json`` is of this ``FORMAT`` and every file it names is
    there with its size and CRC-32; else ``(None, problem)``, a phrase naming the file and what is wrong."""
    store_dir = Path(store_dir)
    try:
        manifest = json.loads((store_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return None, f"manifest.json cannot be read ({err})"
    if not isinstance(manifest, dict):
        return None, f"manifest.json holds a {type(manifest).__name__}, not a store's manifest"
    if manifest.get("format") != FORMAT:
        return None, f"manifest.json is of store format {manifest.get('format')!r}, not {FORMAT}"
    try:
        for name, size in file_sizes(manifest).items():
            path, stamp = store_dir / name, manifest["files"][name]
            if not path.is_file():
                return None, f"{name} is missing"
            if path.stat().st_size != size or stamp["bytes"] != size:
                return None, f"{name} has {path.stat().st_size:,} bytes where its manifest says {size:,}"
            if file_stamp(path)["crc32"] != stamp["crc32"]:
                return None, f"{name} does not match its manifest (checksum)"
    except (KeyError, TypeError) as err:
        return None, f"manifest.json is damaged ({type(err).__name__}: {err})"
    return manifest, None


class TweetStore:
    """Cleaned tweets as ids, read by index; from ``open`` (a prepared folder) or ``from_frame``. ``ids`` and
    ``offsets`` as in the store's files (memory maps, from ``open``). ``columns`` maps ``"emoji"`` and ``"split"``
    (where the source had them) to ``(codes, names)``: per-tweet int32 codes (-1: none) and the names they index.
    ``length``: the characters tweets were cut to. ``take`` and ``split_of`` give a view of some tweets (their indices
    ``rows``); the properties below describe the view's tweets."""

    def __init__(self, ids, offsets, length, columns=None, manifest=None, rows=None):
        self.ids, self.offsets, self.length, self.rows = ids, offsets, length, rows
        self.columns, self.manifest = columns or {}, manifest

    @classmethod
    def _from_arrays(cls, arrays, manifest):
        """A store of ``arrays`` (``{file name: array}``) as ``manifest`` describes them."""
        columns = {c: (arrays[f"{c}.bin"], manifest[f"{c}s"]) for c in LABELS if manifest[f"{c}s"] is not None}
        return cls(arrays["ids.bin"], arrays["offsets.bin"], manifest["length"], columns, manifest)

    @classmethod
    def open(cls, store_dir):
        """The store prepared in ``store_dir``, checked (``check_store``), its files mapped into memory."""
        store_dir = Path(store_dir)
        if not (store_dir / "manifest.json").exists():
            raise FileNotFoundError(f"{store_dir} holds no prepared store (no manifest.json); "
                                    "make one with prepare_tweets(csv_path, store_dir)")
        manifest, problem = check_store(store_dir)
        if problem:
            raise ValueError(f"{store_dir}: {problem}; prepare the store again (prepare_tweets rebuilds it)")
        return cls._from_arrays({name: np.memmap(store_dir / name, dtype=DTYPES[name], mode="r") if size else
                                 np.zeros(0, DTYPES[name]) for name, size in file_sizes(manifest).items()}, manifest)

    @classmethod
    def from_frame(cls, frame, length=160, emojis=None, clean=True):
        """A store in memory from a DataFrame of tweets (``text``, optional ``emoji`` and ``split``), cleaned, cut and
        with empty tweets dropped as ``prepare_tweets`` does. ``clean=False`` keeps the texts as they are (only the 93
        characters, else an error naming the row). ``emojis`` fixes the emoji list (and so each emoji's index); an emoji
        outside it is an error naming the row."""
        texts = frame["text"].fillna("")
        if clean:
            texts = clean_tweet_text(texts)
        elif (outside := texts.str.contains(OUTSIDE_CHARACTERS).to_numpy()).any():
            row = int(np.argmax(outside))
            raise ValueError(f"tweets row {row} has characters outside the 93-character set ({texts.iloc[row]!r}); "
                             "clean it first, or use clean=True")
        parts = {}
        manifest = write_tweets([(frame, texts)], lambda name, array: parts.setdefault(name, []).append(array),
                                length, emojis)
        if emojis is not None and "emoji" in frame.columns and len(manifest["emojis"]) > len(emojis):
            emoji = manifest["emojis"][len(emojis)]
            row = int(np.argmax((frame["emoji"] == emoji).to_numpy()))
            raise ValueError(f"tweets row {row}: emoji {emoji!r} is not in emojis ({len(emojis)} emojis)")
        return cls._from_arrays({name: np.concatenate(arrays) for name, arrays in parts.items()}, manifest)

    def __len__(self):
        return len(self.offsets) - 1 if self.rows is None else len(self.rows)

    def _base(self, rows=None):
        """Indices in the whole store of the view's tweets ``rows`` (default: all of them)."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        return rows if self.rows is None else self.rows[rows]

    def _codes(self, column, rows=None):
        """The int32 codes of ``column`` for tweets ``rows`` (default: the view's), or None without that column."""
        return np.asarray(self.columns[column][0][self._base(rows)]) if column in self.columns else None

    def lengths_of(self, rows=None):
        """The lengths (characters) of tweets ``rows`` (default: the view's), int64."""
        base = self._base(rows)
        return self.offsets[base + 1] - self.offsets[base]

    def emoji_of(self, rows=None):
        """The emoji codes (-1: none) of tweets ``rows`` (default: the view's), int32; None without emojis."""
        return self._codes("emoji", rows)

    lengths, emoji = property(lengths_of), property(emoji_of)
    split = property(lambda self: self._codes("split"), doc="Each tweet's split code, int32; None without splits.")
    emojis = property(lambda self: self.columns.get("emoji", (None, None))[1], doc="The emoji names, or None.")
    splits = property(lambda self: self.columns.get("split", (None, None))[1], doc="The split names, or None.")

    def take(self, rows):
        """A view of the tweets ``rows`` (indices, or a boolean mask) of this store."""
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        return TweetStore(self.ids, self.offsets, self.length, self.columns, self.manifest, self._base(rows))

    def split_of(self, name):
        """The tweets of split ``name`` (e.g. ``"train"``)."""
        if self.splits is None:
            raise ValueError("this store has no split column (its CSV had none)")
        if name not in self.splits:
            raise ValueError(f"split {name!r} is not in this store; its splits are {self.splits}")
        return self.take(self.split == self.splits.index(name))

    def fingerprint(self):
        """A short hex digest of exactly which tweets this store (or view) holds, for a run folder to record: its
        length, its source's sha256 (or, made in memory, its ids and offsets) and a view's indices."""
        digest = hashlib.sha256(str(self.length).encode())
        source = (self.manifest or {}).get("source", {}).get("sha256")
        for part in [source.encode()] if source else map(np.ascontiguousarray, (self.ids, self.offsets)):
            digest.update(part)
        digest.update(b"all" if self.rows is None else np.ascontiguousarray(self.rows))
        return digest.hexdigest()[:16]

    def in_memory(self):
        """The same tweets with ``ids`` and ``offsets`` read into memory (a copy)."""
        return TweetStore(np.array(self.ids), np.array(self.offsets), self.length, self.columns, self.manifest,
                          self.rows)

    def id_rows(self, rows, trim=True):
        """Tweets ``rows`` as a ``(len(rows), width)`` uint8 matrix, as ``encode_tweets_to_ids`` makes (``id_rows``
        in ``ids.py``, ``width`` trimmed to a bucket with ``trim``). Reads only their ids."""
        base = self._base(rows)
        return id_rows(self.ids, self.offsets[base], self.offsets[base + 1] - self.offsets[base], self.length, trim)

    def texts(self, rows=None):
        """The cleaned texts of tweets ``rows`` (default: all), as a list of str."""
        base = self._base(rows)
        starts, lengths = self.offsets[base], self.offsets[base + 1] - self.offsets[base]
        ends = np.cumsum(lengths)
        flat = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]) if len(ends) else 0)
        chars = np.array([0, 0, 0, 0xFFFD] + [ord(c) for c in ID_VOCAB[4:]], dtype=np.uint32)
        text = chars[self.ids[flat]].tobytes().decode("utf-32-le")
        return [text[end - n:end] for end, n in zip(ends.tolist(), lengths.tolist())]
