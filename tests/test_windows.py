import math

import numpy as np
import pandas as pd
import pytest

from tests.helpers import TOY
from tweet_lstm.store.generators import batch_generator, convert_tweet_to_xy_generator
from tweet_lstm.store.ids import encode_tweets_to_ids
from tweet_lstm.data.text import get_emojis_list, get_universal_chars_list, pad_text
from tweet_lstm.store.windows import (METHODS, convert_tweet_to_xy, encode_padded_tweets, get_series_data_from_tweet,
                                get_x_bool_array, get_y_bool_array, one_hot_windows, padded_from_id_rows,
                                strided_windows, windows_per_tweet, x_y_bool_array_to_sentence)

CHARS, CHAR_INDEX = get_universal_chars_list()


def test_get_series_data_from_tweet_windows_and_next_chars_are_padded_substrings():
    windows, next_chars = get_series_data_from_tweet(TOY.iloc[0], window_size=40, step=3)
    padded = pad_text(TOY["text"][0], 160)
    assert len(windows) == math.ceil((160 - 40) / 3)
    for i, (window, char) in enumerate(zip(windows, next_chars)):
        assert window + char == padded[i * 3:i * 3 + 41]


def test_one_hot_decodes_again_with_optional_separator():
    windows, next_chars = get_series_data_from_tweet(TOY.iloc[0], window_size=40, step=3)
    x = get_x_bool_array(windows, CHARS, CHAR_INDEX)
    y = get_y_bool_array(next_chars, CHAR_INDEX)
    assert x.shape == (40, 40, 93) and y.shape == (40, 93) and x.dtype == bool
    padded = pad_text(TOY["text"][0], 160)
    for i in range(len(y)):
        assert x_y_bool_array_to_sentence(x, y, CHARS, i) == padded[i * 3:i * 3 + 41]
    assert x_y_bool_array_to_sentence(x, y, CHARS, 5, separator=True) == padded[15:55] + ":" + padded[55]
    with pytest.raises(IndexError, match="position"):
        x_y_bool_array_to_sentence(x, y, CHARS, 40)


@pytest.mark.parametrize("length,window_size,step", [(90, 10, 2), (135, 37, 3), (160, 40, 3), (160, 64, 3),
                                                     (200, 55, 7)])
@pytest.mark.parametrize("method", METHODS)
def test_convert_tweet_to_xy_shapes_follow_the_window_count(length, window_size, step, method):
    x, y = convert_tweet_to_xy(TOY, length=length, window_size=window_size, step=step, method=method)
    m = 2 * math.ceil((length - window_size) / step)
    assert x.shape == (m, window_size, 93) and y.shape == (m, 93)
    assert x.dtype == bool and y.dtype == bool
    assert (x.sum(axis=-1) == 1).all() and (y.sum(axis=-1) == 1).all()


def test_the_seeds_toy_tweets_at_window_64_give_64_examples():
    x, y = convert_tweet_to_xy(TOY, length=160, window_size=64, step=3)
    assert x.shape == (64, 64, 93) and y.shape == (64, 93)


@pytest.mark.slow  # the loop takes seconds per window size; the property tests cover the fast tier
@pytest.mark.parametrize("window_size", [64, 40])
def test_loop_and_vectorized_give_identical_arrays_on_2048_real_tweets(clean_2048, window_size):
    loop = convert_tweet_to_xy(clean_2048, 160, window_size, 3, method="loop")
    fast = convert_tweet_to_xy(clean_2048, 160, window_size, 3, method="vectorized")
    assert loop[0].shape == (2048 * math.ceil((160 - window_size) / 3), window_size, 93)
    np.testing.assert_array_equal(loop[0], fast[0])
    np.testing.assert_array_equal(loop[1], fast[1])


@pytest.mark.parametrize("trailing", [(), (5,)])
def test_strided_windows_are_views_of_each_slice_and_its_next_row(trailing):
    padded = np.arange(2 * 20 * int(np.prod(trailing)), dtype=np.int64).reshape((2, 20) + trailing)
    windows, next_rows = strided_windows(padded, window_size=6, step=4)
    k = windows_per_tweet(20, 6, 4)
    assert windows.shape == (2, k, 6) + trailing and next_rows.shape == (2, k) + trailing
    assert np.shares_memory(windows, padded)
    for i in range(2):
        for w in range(k):
            np.testing.assert_array_equal(windows[i, w], padded[i, w * 4:w * 4 + 6])
            np.testing.assert_array_equal(next_rows[i, w], padded[i, w * 4 + 6])


@pytest.mark.parametrize("length", [20, 160])
def test_whole_tweet_id_rows_become_the_seeds_left_padded_rows(length):
    texts = ["", "a", "hello, world!", "x" * (length - 1), "y" * length, "z" * (length + 30), "£ {|} ~"]
    padded = padded_from_id_rows(encode_tweets_to_ids(texts, length), length)
    assert padded.shape == (len(texts), length) and padded.dtype == np.uint8
    np.testing.assert_array_equal(padded, encode_padded_tweets(texts, length))
    assert ["".join(CHARS[i] for i in row) for row in padded] == [pad_text(t, length) for t in texts]


@pytest.mark.parametrize("tweets_per_block", [1, 3, 64])
@pytest.mark.parametrize("dtype", [bool, np.float32])
def test_one_hot_windows_of_padded_rows_are_convert_tweet_to_xy_in_any_block_size(tweets_per_block, dtype):
    texts = TOY["text"].tolist() * 3 + ["short", ""]
    x, y = one_hot_windows(encode_padded_tweets(texts, 90), 30, 4, dtype, tweets_per_block=tweets_per_block)
    ex, ey = convert_tweet_to_xy(texts, 90, 30, 4, method="loop", dtype=dtype)
    assert x.dtype == y.dtype == np.dtype(dtype) and x.shape == (8 * 15, 30, 93)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loop_and_vectorized_agree_for_float_dtypes(clean_2048, dtype):
    tweets = clean_2048.head(64)
    loop = convert_tweet_to_xy(tweets, 160, 64, 3, method="loop", dtype=dtype)
    fast = convert_tweet_to_xy(tweets, 160, 64, 3, method="vectorized", dtype=dtype)
    assert loop[0].dtype == fast[0].dtype == dtype
    np.testing.assert_array_equal(loop[0], fast[0])
    np.testing.assert_array_equal(loop[1], fast[1])


@pytest.mark.parametrize("n_tweets, window_size", [pytest.param(2048, 64, marks=pytest.mark.slow), (512, 40)])
def test_one_pass_of_generator_batches_equals_the_eager_arrays(clean_2048, n_tweets, window_size):
    tweets = clean_2048[:n_tweets]
    eager_x, eager_y = convert_tweet_to_xy(tweets, 160, window_size, 3)
    batches = convert_tweet_to_xy_generator(tweets, 160, window_size, 3, batch_size=64)
    xs, ys = zip(*(next(batches) for _ in range(n_tweets // 64)))
    np.testing.assert_array_equal(np.concatenate(xs), eager_x)
    np.testing.assert_array_equal(np.concatenate(ys), eager_y)
    again_x, _ = next(batches)  # the generator loops: the next batch is the first again
    np.testing.assert_array_equal(again_x, xs[0])


def test_decoding_every_window_gives_back_the_padded_tweets_substrings(clean_2048):
    x, y = convert_tweet_to_xy(clean_2048, 160, 64, 3)
    k = math.ceil((160 - 64) / 3)
    chars = np.array(CHARS)
    decoded = ["".join(row) for row in chars[np.argmax(x, axis=-1)]]
    next_chars = chars[np.argmax(y, axis=-1)]
    for i, text in enumerate(clean_2048["text"]):
        padded = pad_text(text, 160)
        for j in range(k):
            assert decoded[i * k + j] + next_chars[i * k + j] == padded[j * 3:j * 3 + 65]


def test_generator_with_emoji_set_adds_the_emoji_one_hot_per_window():
    emojis, _ = get_emojis_list(TOY["emoji"])
    (x_text, x_emoji), y = next(convert_tweet_to_xy_generator(TOY, 160, 40, 3, batch_size=2, emoji_set=emojis))
    k = math.ceil(120 / 3)
    assert x_text.shape == (2 * k, 40, 93) and x_emoji.shape == (2 * k, 2) and y.shape == (2 * k, 93)
    assert [emojis[i] for i in x_emoji.argmax(axis=1)] == [":rainbow:"] * k + [":gay_pride_flag:"] * k


def test_characters_outside_the_set_raise_instead_of_encoding_wrongly():
    tweets = pd.DataFrame({"text": ["fine", "not <fine>"]})
    for method in METHODS:
        with pytest.raises(ValueError, match="outside the 93-character universal set: '<>'"):
            convert_tweet_to_xy(tweets, 20, 5, 1, method=method)


def test_batch_generator_yields_the_seeds_five_batches():
    assert [list(b) for b in batch_generator(range(32), 7)] == [
        list(range(0, 7)), list(range(7, 14)), list(range(14, 21)), list(range(21, 28)), list(range(28, 32))]


@pytest.mark.parametrize("kwargs,name", [
    (dict(window_size=160), "window_size"), (dict(window_size=200), "window_size"), (dict(step=0), "step"),
    (dict(batch_size=0), "batch_size"), (dict(batch_size=3), "batch_size"), (dict(batch_size=1.5), "batch_size"),
    (dict(emoji_set=[":rainbow:"]), "emoji_set"), (dict(dtype=np.int64), "dtype"), (dict(method="fast"), "method"),
    (dict(length=True), "length"),
])
def test_generator_bad_input_is_rejected_when_it_is_made_naming_the_argument(kwargs, name):
    params = dict(length=160, window_size=40, step=3, batch_size=1) | kwargs
    with pytest.raises((TypeError, ValueError), match=name):
        convert_tweet_to_xy_generator(TOY, **params)


@pytest.mark.parametrize("kwargs,name", [
    (dict(window_size=160), "window_size"), (dict(step=-1), "step"), (dict(dtype="int8"), "dtype"),
    (dict(tweets="one tweet as a bare string"), "tweets"), (dict(tweets=[]), "tweets")])
def test_eager_bad_input_names_the_argument(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        convert_tweet_to_xy(**(dict(tweets=TOY, length=160, window_size=40, step=3) | kwargs))


@pytest.mark.parametrize("bad", [float("nan"), None, 42, b"bytes"])
def test_non_string_text_is_an_error_naming_the_row(bad):
    tweets = pd.DataFrame({"text": ["ok", bad], "emoji": ["a", "b"]}, dtype=object)
    for call in (lambda: convert_tweet_to_xy(tweets, method="loop"),
                 lambda: convert_tweet_to_xy(tweets),
                 lambda: convert_tweet_to_xy_generator(tweets, batch_size=1)):
        with pytest.raises(ValueError, match=r"tweets\['text'\] must hold only str; (row|item) 1"):
            call()
