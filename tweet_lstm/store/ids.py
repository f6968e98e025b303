"""Whole tweets as rows of small integer ids, the input of the whole-sequence model.

Id ``i`` stands for ``ID_VOCAB[i]``: four special ids, then the 93 characters.
"""

import numpy as np

from ..checks import check_int, check_texts
from ..data.text import CHARACTERS, get_universal_chars_list

PAD_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<start>", "<end>", "<unk>")
ID_VOCAB = SPECIAL_TOKENS + tuple(sorted(CHARACTERS))
"""Integer-id vocabulary: id ``i`` stands for ``ID_VOCAB[i]``; 4 special ids then the 93 characters."""

BUCKETS = (32, 64, 96, 128, 160)


def code_point_table(offset, missing):
    """A ``(256,)`` uint8 lookup table: code point -> position in the universal set + ``offset``.

    Code points of other characters map to ``missing``. Every universal character is below 256.
    """
    table = np.full(256, missing, dtype=np.uint8)
    for char, i in get_universal_chars_list()[1].items():
        table[ord(char)] = i + offset
    return table


_ID_TABLE = code_point_table(len(SPECIAL_TOKENS), UNK_ID)


def code_points(texts, width):
    """Code points of ``width``-character strings as a ``(n, width)`` uint32 array (one copy, no loop)."""
    flat = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    return flat.reshape(len(texts), width)


def char_ids(points):
    """Code points (any shape, uint32) as character ids: ``ID_VOCAB`` positions, ``<unk>`` outside the set; uint8."""
    return np.where(points < 256, _ID_TABLE[np.minimum(points, 255)], UNK_ID).astype(np.uint8)


def trimmed_width(longest, length=160, buckets=BUCKETS):
    """Width of an id row for tweets of at most ``longest`` characters: the smallest ``bucket + 1`` that holds
    ``<start>``, the characters and ``<end>`` (buckets above ``length`` ignored), else ``length + 1``."""
    return next((b + 1 for b in sorted(buckets) if b + 1 >= longest + 2 and b <= length), length + 1)


def encode_tweets_to_ids(texts, length=160, trim=False, buckets=BUCKETS):
    """Encode tweets as a ``(n, width)`` uint8 matrix of ids for whole-sequence training.

    Row ``i`` is ``<start>``, the first ``length`` characters of ``texts[i]`` as ids
    4..96 (see ``ID_VOCAB``), ``<end>`` if the tweet was not cut short, then ``<pad>`` (0)
    to the right. Characters outside the universal set become ``<unk>`` (3), never
    another character. Use ``inputs = ids[:, :-1]`` and ``targets = ids[:, 1:]``; a target
    of ``PAD_ID`` is padding and must be masked out of the loss.

    ``width`` is ``length + 1``; with ``trim=True`` it is only as wide as the batch
    needs: the smallest ``bucket + 1`` that holds the longest row (buckets above
    ``length`` are ignored). A few fixed widths keep TensorFlow from retracing per shape.
    """
    texts = check_texts("texts", texts)
    length = check_int("length", length, minimum=1)
    cut = [t[:length] for t in texts]
    longest = max((len(t) for t in cut), default=0)
    width = length + 1
    if trim:
        width = trimmed_width(longest, length, buckets)
    ids = np.full((len(texts), width), PAD_ID, dtype=np.uint8)
    if not texts:
        return ids
    ids[:, 0] = START_ID
    points = code_points([t.ljust(longest, "\0") for t in cut], longest)
    ids_of_chars = char_ids(points)
    lengths = np.array([len(t) for t in cut])
    inside = np.arange(longest) < lengths[:, None]
    body = ids[:, 1:1 + longest]
    body[inside] = ids_of_chars[inside]
    rows = np.flatnonzero(lengths < length)
    ids[rows, 1 + lengths[rows]] = END_ID
    return ids


def decode_ids_to_text(ids):
    """Decode one id row (1-d) to a str, or a ``(n, width)`` matrix to a list of str.

    ``ids`` must hold integers (any integer dtype) in ``0 .. len(ID_VOCAB) - 1``.
    ``<start>`` is dropped, decoding stops at ``<end>`` or ``<pad>``, and ``<unk>`` is
    shown as U+FFFD (the replacement character).
    """
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
    out = []
    for i in array.tolist():
        if i in (END_ID, PAD_ID):
            break
        if i != START_ID:
            out.append("\ufffd" if i == UNK_ID else ID_VOCAB[i])
    return "".join(out)
