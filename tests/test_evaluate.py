import math

import numpy as np
import pytest

from tweet_lstm.train.evaluate import CharNGramModel, sequence_bits_per_character, window_bits_per_character, \
    xz_bits_per_character
from tweet_lstm.data.text import CHARACTERS


def uniform_window_model():
    import keras
    return keras.Sequential([keras.Input((64, 93)), keras.layers.Flatten(),
                             keras.layers.Dense(93, activation="softmax", kernel_initializer="zeros")])


@pytest.mark.tf
def test_window_bits_scores_every_character_once_and_uniform_is_log2_93():
    bits, n = window_bits_per_character(uniform_window_model(), ["hello", "x" * 200, "a b c"], window_size=64)
    assert n == 5 + 160 + 5
    assert bits == pytest.approx(math.log2(93), rel=1e-6)


def test_sequence_bits_count_only_characters_unless_asked_to_count_end():
    y = np.array([[10, 11, 2, 0, 0]])
    logits = lambda x: np.zeros((1, 5, 97))  # noqa: E731
    assert sequence_bits_per_character(logits, [(None, y)]) == (pytest.approx(math.log2(97)), 2)
    assert sequence_bits_per_character(logits, [(None, y)], include_end=True)[1] == 3


@pytest.mark.parametrize("call,name", [
    (lambda: sequence_bits_per_character(lambda x: x, []), "batches"),
    (lambda: window_bits_per_character(lambda x: x, ["", ""]), "texts"),
    (lambda: window_bits_per_character(lambda x: x, "a bare string"), "texts"),
    (lambda: xz_bits_per_character([]), "texts"),
    (lambda: CharNGramModel(3).fit(["ab"]).bits_per_character([""]), "texts"),
    (lambda: CharNGramModel(3).probability("a", "b"), "fit"),
    (lambda: CharNGramModel(order=0), "order"),
])
def test_an_empty_evaluation_set_or_bad_argument_is_a_clear_error(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


def test_ngram_probabilities_sum_to_one_and_learn_a_repetitive_text():
    model = CharNGramModel(order=3).fit(["abcabcabc", "abcab"])
    for history in ["", "a", "ab", "zz", "cab"]:
        assert sum(model.probability(history, c) for c in model.vocabulary) == pytest.approx(1.0)
    bits, n = model.bits_per_character(["abcabc"])
    assert n == 6 and bits < 1.0


def test_xz_bits_are_low_for_repetition_and_high_for_noise():
    rng = np.random.default_rng(0)
    noise = ["".join(rng.choice(list(CHARACTERS[1:]), 100)) for _ in range(100)]
    assert xz_bits_per_character(["the same tweet"] * 500) < 0.5
    assert xz_bits_per_character(noise) > 5
