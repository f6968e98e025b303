"""Bits per character, the mean of -log2 p(true next character) over the characters scored (never padding): of a
model, of a character n-gram, of ``xz``. A model is called through ``model.predict_on_batch`` (a traced graph, many
times faster than an eager call), or is a plain function returning the same arrays; no TensorFlow import here."""

import math
from collections import Counter

import numpy as np

from ..checks import check_int, check_texts
from ..store.ids import END_ID, UNK_ID
from ..data.text import CHARACTERS, get_universal_chars_list
from ..store.windows import encode_padded_tweets


def _forward(model):
    return model.predict_on_batch if hasattr(model, "predict_on_batch") else model


def log_softmax(logits):
    """``log(softmax(logits))`` over the last axis, in float64, computed stably."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def sequence_bits_per_character(model, batches, include_end=False):
    """``(bits_per_character, n_characters)`` of a whole-sequence model on ``batches`` of ``(x, y)``: the model maps
    ``x`` to logits ``(batch, time, len(ID_VOCAB))``. Targets that are characters count (``<unk>`` too), ``<end>`` with
    ``include_end``, padding never."""
    forward = _forward(model)
    nats, count = 0.0, 0
    for x, y in batches:
        log_p = log_softmax(forward(x))
        y = np.asarray(y)
        scored = (y >= UNK_ID) | ((y == END_ID) if include_end else False)
        picked = np.take_along_axis(log_p, y[..., None].astype(np.int64), axis=-1)[..., 0]
        nats -= picked[scored].sum()
        count += int(scored.sum())
    if count == 0:
        raise ValueError("batches has no characters to score")
    return nats / count / math.log(2), count


def window_bits_per_character(model, texts, window_size=64, length=160, batch_size=2048):
    """``(bits_per_character, n_characters)`` of the seed's windowed model on every character of ``texts``, each
    predicted from the ``window_size`` before it (spaces to the left, as in training), so exactly the characters
    ``sequence_bits_per_character`` scores are. The model maps ``(batch, window_size, 93)`` float32 one-hot windows to
    next-character probabilities."""
    texts = check_texts("texts", texts)
    window_size = check_int("window_size", window_size, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    forward = _forward(model)
    ids = encode_padded_tweets(texts, length)
    lengths = np.array([min(len(t), length) for t in texts], dtype=np.int64)
    if lengths.sum() == 0:
        raise ValueError("texts has no characters to score")
    space = get_universal_chars_list()[1][" "]
    extended = np.concatenate([np.full((len(texts), window_size), space, np.uint8), ids], axis=1)
    rows = np.repeat(np.arange(len(texts)), lengths)
    cols = np.concatenate([np.arange(length - n, length) for n in lengths])
    eye = np.eye(len(CHARACTERS), dtype=np.float32)
    nats = 0.0
    for start in range(0, len(rows), batch_size):
        r, c = rows[start:start + batch_size], cols[start:start + batch_size]
        windows = extended[r[:, None], c[:, None] + np.arange(window_size)]
        probs = np.asarray(forward(eye[windows]), dtype=np.float64)
        nats -= np.log(np.maximum(probs[np.arange(len(r)), ids[r, c]], 1e-12)).sum()
    return nats / len(rows) / math.log(2), len(rows)


def xz_bits_per_character(texts):
    """Bits per character that ``xz -9e`` (LZMA, preset 9 extreme) needs for the texts joined by newlines."""
    import lzma  # only here: some Python builds lack liblzma
    joined = "\n".join(check_texts("texts", texts))
    if not joined:
        raise ValueError("texts has no characters to compress")
    compressed = lzma.compress(joined.encode("utf-8"), preset=9 | lzma.PRESET_EXTREME)
    return 8 * len(compressed) / len(joined)


class CharNGramModel:
    """Interpolated Witten-Bell character n-gram model, a bits-per-character baseline. ``fit(texts)`` counts every
    k-gram (k = 1..order) of each tweet, ``order - 1`` start markers before it and an end marker after. ``probability``
    mixes each order with the next lower, down to uniform over the characters seen and the end marker (never zero)."""

    START, END = "\x02", "\x03"

    def __init__(self, order=5):
        self.order = check_int("order", order, minimum=1)

    def fit(self, texts):
        """Count the k-grams of ``texts`` (a sequence of str); returns the model."""
        pad = self.START * (self.order - 1)
        corpus = "".join(pad + t + self.END for t in check_texts("texts", texts))
        self.counts, self.context_total, self.context_types = Counter(), Counter(), Counter()
        for k in range(1, self.order + 1):
            grams = Counter(corpus[i:i + k] for i in range(len(corpus) - k + 1))
            for gram, n in grams.items():
                if gram[-1] == self.START:
                    continue  # start markers are context only, never predicted
                self.counts[gram] = n
                self.context_total[gram[:-1]] += n
                self.context_types[gram[:-1]] += 1
        self.vocabulary = sorted(set(corpus) - {self.START})
        return self

    def probability(self, history, char):
        """P(char | the last ``order - 1`` characters of history)."""
        if not hasattr(self, "vocabulary"):
            raise ValueError("the model has not been fitted: call fit(texts) first")
        p = 1.0 / len(self.vocabulary)
        history = history[-(self.order - 1):] if self.order > 1 else ""
        for start in range(len(history), -1, -1):
            context = history[start:]
            total = self.context_total.get(context, 0)
            if total:
                types = self.context_types[context]
                p = (self.counts.get(context + char, 0) + types * p) / (total + types)
        return p

    def bits_per_character(self, texts):
        """``(bits, n)``: mean -log2 P over every character of ``texts`` (the end marker not scored)."""
        pad = self.START * (self.order - 1)
        bits, count = 0.0, 0
        for text in check_texts("texts", texts):
            padded = pad + text
            for i, char in enumerate(text):
                bits -= math.log2(self.probability(padded[i:i + self.order - 1], char))
            count += len(text)
        if count == 0:
            raise ValueError("texts has no characters to score")
        return bits / count, count
