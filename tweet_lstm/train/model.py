"""The whole-sequence LSTM (model B) and writing tweets with it."""

import numbers

import keras
import numpy as np

from ..checks import check_int, check_number
from ..data.text import OUTSIDE_CHARACTERS
from ..store.ids import END_ID, ID_VOCAB, PAD_ID, START_ID, UNK_ID, encode_tweets_to_ids
from .evaluate import log_softmax


def build_sequence_model(units=256, embedding_dim=32, n_emojis=None, emoji_dim=16, learning_rate=2e-3, dropout=0.0):
    """Model B, compiled: ids -> Embedding (0 masked) -> LSTM (every position) -> Dropout -> Dense logits. Input
    ``text_ids`` ``(batch, time)`` int32; output logits ``(batch, time, len(ID_VOCAB))`` float32. Padding is masked out
    of the loss. With ``n_emojis``, a second input ``emoji_id`` ``(batch, 1)`` int32 is embedded into the LSTM's initial
    state (h, c). The LSTM keeps Keras' defaults (a GPU's fused cuDNN kernel needs them); ``dropout`` (in [0, 1)) acts
    on its outputs. ``learning_rate`` is Adam's: a number or a Keras schedule."""
    units = check_int("units", units, minimum=1)
    embedding_dim = check_int("embedding_dim", embedding_dim, minimum=1)
    emoji_dim = check_int("emoji_dim", emoji_dim, minimum=1)
    if n_emojis is not None:
        n_emojis = check_int("n_emojis", n_emojis, minimum=1)
    dropout = check_number("dropout", dropout, minimum=0.0, below=1.0)
    if not isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        check_number("learning_rate", learning_rate, minimum=0.0)
    text = keras.Input((None,), dtype="int32", name="text_ids")
    chars = keras.layers.Embedding(len(ID_VOCAB), embedding_dim, mask_zero=True, name="char_embedding")(text)
    inputs, initial_state = text, None
    if n_emojis:
        emoji = keras.Input((1,), dtype="int32", name="emoji_id")
        emoji_vectors = keras.layers.Embedding(n_emojis, emoji_dim, name="emoji_embedding")(emoji)
        vector = keras.layers.Flatten(name="emoji_vector")(emoji_vectors)
        initial_state = [keras.layers.Dense(units, activation="tanh", name="emoji_to_h")(vector),
                         keras.layers.Dense(units, name="emoji_to_c")(vector)]
        inputs = (text, emoji)
    hidden = keras.layers.LSTM(units, return_sequences=True, name="lstm")(chars, initial_state=initial_state)
    if dropout:
        hidden = keras.layers.Dropout(dropout, name="dropout")(hidden)
    logits = keras.layers.Dense(len(ID_VOCAB), name="logits")(hidden)
    model = keras.Model(inputs, logits, name="sequence_lstm" + ("_emoji" if n_emojis else ""))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _layer(model, name):
    try:
        return model.get_layer(name)
    except ValueError:
        raise ValueError(f"model has no layer {name!r}: sample_tweets needs a model made by "
                         "build_sequence_model") from None


def _initial_state(model, n, emoji_id, units):
    """The LSTM's starting ``[h, c]`` for ``n`` tweets: zeros, or the emoji's state."""
    has_emoji = any(layer.name == "emoji_embedding" for layer in model.layers)
    if emoji_id is None:
        if has_emoji:
            raise ValueError("emoji_id is None, but this model is conditioned on an emoji: pass its id")
        return [np.zeros((n, units), np.float32) for _ in range(2)]
    if not has_emoji:
        raise ValueError(f"emoji_id={emoji_id!r} was given to a model without an emoji input")
    n_emojis = _layer(model, "emoji_embedding").input_dim
    if check_int("emoji_id", emoji_id, minimum=0) >= n_emojis:
        raise ValueError(f"emoji_id must be below the model's {n_emojis} emoji ids, got {emoji_id}")
    vector = _layer(model, "emoji_embedding")(np.full((n, 1), emoji_id, np.int32))[:, 0]
    return [_layer(model, "emoji_to_h")(vector), _layer(model, "emoji_to_c")(vector)]


def sample_tweets(model, n=1, seed_text="", temperature=0.5, emoji_id=None, max_length=160, rng=None):
    """``n`` tweets (str, each ``seed_text`` and what follows) from a model of ``build_sequence_model``, drawn together.
    ``<start>`` and ``seed_text`` go through the model's ``char_embedding``, ``lstm`` cell and ``logits`` one character
    at a time, the LSTM's state ``(h, c)`` carried between steps. ``temperature`` divides the logits (0: always the
    likeliest character); ``<pad>``, ``<start>`` and ``<unk>`` are never drawn; a tweet ends at ``<end>`` or
    ``max_length`` characters. An emoji model needs ``emoji_id``."""
    n = check_int("n", n, minimum=1)
    temperature = check_number("temperature", temperature, minimum=0.0)
    max_length = check_int("max_length", max_length, minimum=1)
    if not isinstance(seed_text, str):
        raise TypeError(f"seed_text must be a str, got {type(seed_text).__name__}")
    if len(seed_text) > max_length:
        raise ValueError(f"seed_text has {len(seed_text)} characters, more than max_length={max_length}")
    if outside := sorted(set(OUTSIDE_CHARACTERS.findall(seed_text))):
        raise ValueError(f"seed_text has characters the model never saw (outside the 93): {''.join(outside)!r}; "
                         "leave them out, or clean the text with clean_tweet_text")
    if not (rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence))
            or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0)):
        raise TypeError(f"rng must be None, a non-negative int seed or a numpy Generator, got {rng!r}")
    rng = np.random.default_rng(rng)
    embed, cell, dense = _layer(model, "char_embedding"), _layer(model, "lstm").cell, _layer(model, "logits")
    state = _initial_state(model, n, emoji_id, cell.units)
    prompt = encode_tweets_to_ids([seed_text], length=max_length)[0][:1 + len(seed_text)]

    def step(ids):
        nonlocal state
        vectors = keras.ops.take(embed.embeddings, ids.astype(np.int32), axis=0)
        output, state = cell(vectors, state)
        return np.asarray(dense(output), dtype=np.float64)

    for token in prompt:
        logits = step(np.full(n, token))
    generated = [[] for _ in range(n)]
    finished = np.zeros(n, bool)
    never = [PAD_ID, START_ID, UNK_ID]
    for _ in range(max_length - len(seed_text)):
        logits[:, never] = -np.inf
        if temperature == 0:
            choice = logits.argmax(axis=-1)
        else:
            cumulative = np.cumsum(np.exp(log_softmax(logits / temperature)), axis=-1)
            threshold = (1.0 - rng.random((n, 1))) * cumulative[:, -1:]  # in (0, total]: never a 0-probability id
            choice = np.minimum((cumulative < threshold).sum(axis=-1), len(ID_VOCAB) - 1)  # inverse of the CDF
        finished |= choice == END_ID
        for i in np.flatnonzero(~finished):
            generated[i].append(ID_VOCAB[choice[i]])
        if finished.all():
            break
        logits = step(choice)
    return [seed_text + "".join(chars) for chars in generated]


def layer_table(model):
    """What ``model.summary()`` shows, as a DataFrame (layer, type, output shape, parameters): a summary is drawn with
    ``rich``, whose colour codes a stored notebook keeps."""
    import pandas as pd
    table = pd.DataFrame([{"layer": layer.name, "type": type(layer).__name__, "parameters": layer.count_params(),
                           "output shape": str(keras.tree.map_structure(lambda t: tuple(t.shape), layer.output))}
                          for layer in model.layers])[["layer", "type", "output shape", "parameters"]]
    table.attrs["total parameters"] = model.count_params()
    return table
