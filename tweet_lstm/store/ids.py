"""Whole tweets as rows of small integer ids, the input of the whole-sequence model: id ``i`` stands for
``ID_VOCAB[i]``, four special ids, then the 93 characters."""

import functools
import itertools

import numpy as np

from ..checks import check_int, check_texts
from ..data.text import CHARACTERS

PAD_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<start>", "<end>", "<unk>")
ID_VOCAB = SPECIAL_TOKENS + tuple(sorted(CHARACTERS))
BUCKETS = (32, 64, 96, 128, 160)


@functools.cache
def code_point_table(offset, missing):
    """A ``(256,)`` uint8 lookup table: code point -> position in the sorted universal set + ``offset``, ``missing``
    for other code points (every universal character is below 256)."""
    table = np.full(256, missing, dtype=np.uint8)
    table[[ord(char) for char in sorted(CHARACTERS)]] = np.arange(len(CHARACTERS)) + offset
    return table


def char_ids(text, offset=len(SPECIAL_TOKENS), missing=UNK_ID):
    """The characters of the str ``text`` as a 1-d uint8 array: each one's position in the sorted universal set
    plus ``offset`` (by default its ``ID_VOCAB`` id), or ``missing`` for a character outside the set."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return np.where(points < 256, code_point_table(offset, missing)[np.minimum(points, 255)], missing).astype(np.uint8)


def text_ids(texts):
    """``(ids, lengths)``: cleaned texts (the 93 characters) as one flat uint8 array of ids, and their int64 lengths."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    table = code_point_table(len(SPECIAL_TOKENS), UNK_ID)
    return table[np.frombuffer("".join(texts).encode("latin-1"), dtype=np.uint8)], lengths


def id_rows(ids, starts, lengths, length, trim=False):
    """Tweets as a ``(n, width)`` uint8 matrix: row ``j`` is ``<start>``, ``ids[starts[j]:starts[j] + lengths[j]]``,
    ``<end>`` if ``lengths[j] < length`` (the tweet was not cut short), then ``<pad>`` (0) to the right. ``ids`` is any
    1-d uint8 array (a memory map too: only the rows' ids are read); ``starts`` and ``lengths`` are ``(n,)`` integers,
    each length at most ``length``. ``width`` is ``length + 1``, or with ``trim`` the smallest ``bucket + 1`` (of
    ``BUCKETS`` up to ``length``) that holds the longest row."""
    longest = int(lengths.max(initial=0))
    width = next((b + 1 for b in BUCKETS if b + 1 >= longest + 2 and b <= length), length + 1) if trim else length + 1
    out = np.full((len(starts), width), PAD_ID, np.uint8)
    out[:, 0] = START_ID
    inside = np.arange(longest) < lengths[:, None]
    out[:, 1:1 + longest][inside] = ids[(starts[:, None] + np.arange(longest))[inside]]
    short = np.flatnonzero(lengths < length)
    out[short, 1 + lengths[short]] = END_ID
    return out


def encode_tweets_to_ids(texts, length=160, trim=False):
    """Tweets as a ``(n, width)`` uint8 matrix of ids laid out by ``id_rows``: row ``i`` holds the first ``length``
    characters of ``texts[i]`` as ids 4..96 (``<unk>``, 3, for one outside the universal set). Use ``inputs = ids[:,
    :-1]`` and ``targets = ids[:, 1:]``, masking the ``PAD_ID`` targets out of the loss. ``trim=True`` makes it only as
    wide as the batch needs, one of a few widths (``BUCKETS``) that keep TensorFlow from retracing per shape."""
    length = check_int("length", length, minimum=1)
    cut = [t[:length] for t in check_texts("texts", texts)]
    lengths = np.fromiter(map(len, cut), dtype=np.int64, count=len(cut))
    return id_rows(char_ids("".join(cut)), np.cumsum(lengths) - lengths, lengths, length, trim)


def decode_ids_to_text(ids):
    """Decode one id row (1-d) to a str, or a ``(n, width)`` matrix to a list of str: ``<start>`` is dropped,
    decoding stops at ``<end>`` or ``<pad>``, ``<unk>`` is shown as U+FFFD. ``ids`` must hold integers in ``0 ..
    len(ID_VOCAB) - 1``, else ``TypeError`` or ``ValueError``."""
    array = np.asarray(ids)
    if array.dtype.kind not in "iu" or array.ndim not in (1, 2):
        raise TypeError(f"ids must be a 1-d or 2-d array of integer ids, got dtype {array.dtype} "
                        f"with shape {array.shape}")
    outside = (array < 0) | (array >= len(ID_VOCAB))
    if outside.any():
        raise ValueError(f"ids holds {int(array[outside].flat[0])}, outside the vocabulary of "
                         f"{len(ID_VOCAB)} ids (0 .. {len(ID_VOCAB) - 1})")
    if array.ndim == 2:
        return [decode_ids_to_text(row) for row in array]
    chars = itertools.takewhile(lambda i: i not in (END_ID, PAD_ID), array.tolist())
    return "".join("\ufffd" if i == UNK_ID else ID_VOCAB[i] for i in chars if i != START_ID)
