"""Tests for ``TweetBatches`` and ``WindowBatches``: batch ``i`` of epoch ``e`` from ``(seed, e, i)``.

Stores are built in memory (``TweetStore.from_frame``); ``test_store.py`` covers prepared stores.
"""

import math

import numpy as np
import pandas as pd
import pytest

from tests.helpers import served_texts, toy_store, tweets_frame
from tweet_lstm.store.batches import TweetBatches, WindowBatches
from tweet_lstm.store.ids import decode_ids_to_text
from tweet_lstm.store.store import TweetStore
from tweet_lstm.data.text import clean_tweet_text
from tweet_lstm.store.windows import convert_tweet_to_xy


def test_every_tweet_is_served_once_per_epoch_and_reshuffled_deterministically():
    store = toy_store(203)
    batches, again = TweetBatches(store, batch_size=16, seed=7), TweetBatches(store, batch_size=16, seed=7)
    assert len(batches) == batches.n_batches == math.ceil(203 / 16)
    first = served_texts(batches)
    assert sorted(first) == sorted(store.texts()) and first != store.texts()
    assert served_texts(again) == first
    second = served_texts(batches, epoch=1)
    assert sorted(second) == sorted(first) and second != first
    assert served_texts(TweetBatches(store, batch_size=16, seed=8)) != first


def test_a_batch_depends_only_on_seed_epoch_and_index_not_on_what_was_asked_before():
    store = toy_store(300)
    asked = TweetBatches(store, batch_size=8, seed=3, bucket_batches=4)
    for e, i in [(2, 5), (0, 1), (2, 30), (1, 0)]:
        asked.batch(e, i)
    fresh = TweetBatches(store, batch_size=8, seed=3, bucket_batches=4)
    for e, i in [(0, 1), (2, 5), (1, 0), (2, 30), (0, 1)]:
        for got, expected in zip(asked.batch(e, i), fresh.batch(e, i)):
            np.testing.assert_array_equal(got, expected)


def test_a_batch_source_keeps_no_epoch_and_iterating_it_serves_epoch_0_in_order():
    batches = TweetBatches(toy_store(40), batch_size=8, seed=1)
    assert not any(hasattr(batches, name) for name in ("epoch", "on_epoch_end", "__getitem__"))
    later = batches.batch(3, 2)
    served = list(batches)
    assert len(served) == 5 and all(x.shape[0] == 8 for x, _ in served)
    for i, (x, y) in enumerate(served):
        np.testing.assert_array_equal(x, batches.batch(0, i)[0])
    np.testing.assert_array_equal(batches.batch(3, 2)[0], later[0])


def test_without_shuffle_every_epoch_serves_the_store_order_sorted_by_length_within_each_window():
    store = toy_store(120)
    exact = TweetBatches(store, batch_size=8, shuffle=False, bucket_batches=1)
    assert served_texts(exact) == served_texts(exact, epoch=3) == store.texts()
    for bucket_batches in (4, 16):
        batches = TweetBatches(store, batch_size=8, shuffle=False, bucket_batches=bucket_batches)
        served = served_texts(batches)
        assert served == served_texts(batches, epoch=3)
        window = 8 * bucket_batches
        for start in range(0, 120, window):
            expected = sorted(store.texts()[start:start + window], key=len)
            assert served[start:start + window] == expected


@pytest.mark.parametrize("count", [2, 3, 4])
def test_shards_partition_the_batches_shard_k_serving_global_batches_k_k_plus_n_and_so_on(count):
    store, options = toy_store(100), dict(batch_size=10, seed=4, bucket_batches=2)
    whole = TweetBatches(store, **options)
    shards = [TweetBatches(store, shard=(k, count), **options) for k in range(count)]
    assert [len(s) for s in shards] == [len(range(k, 10, count)) for k in range(count)]
    assert all(s.batches_per_worker() == 10 // count for s in shards)
    for epoch in (0, 1):
        for k, shard in enumerate(shards):
            for i in range(len(shard)):
                np.testing.assert_array_equal(shard.batch_rows(epoch, i), whole.batch_rows(epoch, k + i * count))
        rows = np.concatenate([shard.batch_rows(epoch, i) for shard in shards for i in range(len(shard))])
        assert sorted(rows.tolist()) == list(range(100))


def test_bucketed_batches_hold_similar_lengths_so_less_padding_and_still_serve_every_tweet_once():
    store = toy_store(1000)
    plain = TweetBatches(store, batch_size=20, seed=3, bucket_batches=1)
    bucketed = TweetBatches(store, batch_size=20, seed=3, bucket_batches=10)
    assert len(bucketed) == len(plain) == 50
    for batches in (plain, bucketed):
        for epoch in (0, 1):
            assert sorted(served_texts(batches, epoch)) == sorted(store.texts())
    plain_width = sum(plain.batch(0, i)[0].size for i in range(len(plain)))
    bucketed_width = sum(bucketed.batch(0, i)[0].size for i in range(len(bucketed)))
    assert bucketed_width < 0.8 * plain_width


def test_a_last_short_window_still_makes_batches_of_batch_size_but_the_last():
    batches = TweetBatches(toy_store(75), batch_size=10, seed=2, bucket_batches=4)
    sizes = sorted(len(batches.batch_rows(0, i)) for i in range(len(batches)))
    assert batches.n_batches == 8 and sizes == [5] + [10] * 7


def test_tweets_are_served_cleaned_and_those_cleaning_empties_never_as_empty_strings():
    frame = pd.DataFrame({"text": ["café &amp; @user  bar", "😀😀", "@user", "another tweet"] * 10})
    store = TweetStore.from_frame(frame)
    assert len(store) == 20 and store.manifest["dropped"] == {"empty after cleaning": 20}
    served = served_texts(TweetBatches(store, batch_size=8))
    assert sorted(served) == sorted(["cafe & bar", "another tweet"] * 10)
    assert set(served) == set(clean_tweet_text(frame["text"])) - {""}


def test_id_batches_are_inputs_and_targets_shifted_by_one_with_the_emoji_id():
    store = toy_store(64)
    batches = TweetBatches(store, batch_size=32, emoji=True, shuffle=False, bucket_batches=1)
    (x, emoji_ids), y = batches.batch(0, 0)
    assert x.shape == y.shape and x.shape[0] == 32 and x.dtype == y.dtype == emoji_ids.dtype == np.int32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert decode_ids_to_text(y) == store.texts(range(32))
    assert emoji_ids.shape == (32, 1) and [store.emojis[e] for e in emoji_ids[:4, 0]] == ["🔥", "🎄", "🔥", "🎄"]
    assert batches.no_emoji_id == len(store.emojis) == 2
    assert TweetBatches(store, batch_size=32).no_emoji_id is None


@pytest.mark.parametrize("missing", [None, float("nan"), ""])
def test_a_missing_or_empty_emoji_is_served_as_the_no_emoji_id(missing):
    frame = pd.DataFrame({"text": ["one", "two", "three", "four"], "emoji": ["🔥", missing, "🎄", "🔥"]},
                         dtype=object)
    batches = TweetBatches(TweetStore.from_frame(frame), batch_size=4, emoji=True, shuffle=False, bucket_batches=1)
    (_, emoji_ids), _ = batches.batch(0, 0)
    assert batches.no_emoji_id == 2 and emoji_ids[:, 0].tolist() == [0, 2, 1, 0]


def test_emoji_dropout_hides_about_that_share_of_emojis_behind_the_no_emoji_id():
    store = toy_store(2000)
    batches = TweetBatches(store, batch_size=100, emoji=True, emoji_dropout=0.25, seed=1)

    def served_ids(b, epoch=0):
        return np.concatenate([b.batch(epoch, i)[0][1][:, 0] for i in range(len(b))])

    ids = served_ids(batches)
    assert batches.no_emoji_id == 2 and set(ids) == {0, 1, 2}
    assert 0.2 < (ids == 2).mean() < 0.3
    np.testing.assert_array_equal(ids, served_ids(TweetBatches(store, batch_size=100, emoji=True,
                                                               emoji_dropout=0.25, seed=1)))
    rows = [np.concatenate([batches.batch_rows(e, i) for i in range(len(batches))]) for e in (0, 1)]
    hidden_rows = [set(r[served_ids(batches, e) == 2].tolist()) for e, r in enumerate(rows)]
    assert hidden_rows[0] != hidden_rows[1], "a new draw each epoch"
    shard = TweetBatches(store, batch_size=100, emoji=True, emoji_dropout=0.25, seed=1, shard=(1, 2))
    for i in range(len(shard)):
        np.testing.assert_array_equal(shard.batch(1, i)[0][1], batches.batch(1, 1 + 2 * i)[0][1])
    hidden = TweetBatches(store, batch_size=100, emoji=True, emoji_dropout=1.0)
    assert all((hidden.batch(0, i)[0][1] == 2).all() for i in range(len(hidden)))


@pytest.mark.parametrize("length,window_size,step,dtype", [(160, 40, 3, bool), (160, 64, 3, np.float32),
                                                           (60, 20, 7, np.float64)])
def test_window_batches_equal_convert_tweet_to_xy_on_the_batchs_stored_texts(length, window_size, step, dtype):
    frame = pd.DataFrame({"text": tweets_frame(20)["text"].tolist() + ["y" * 200, "z" * length, "q"]})
    store = TweetStore.from_frame(frame, length=length)
    batches = WindowBatches(store, batch_size=4, window_size=window_size, step=step, dtype=dtype, seed=9)
    assert len(batches) == math.ceil(23 / 4)
    for epoch, index in [(0, 0), (0, 5), (1, 2)]:
        x, y = batches.batch(epoch, index)
        texts = store.texts(batches.batch_rows(epoch, index))
        ex, ey = convert_tweet_to_xy(texts, length, window_size, step, dtype=dtype)
        assert x.dtype == ex.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


@pytest.mark.parametrize("kwargs,name", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=2.0), "batch_size"), (dict(shard=(3, 3)), "shard"),
    (dict(shard=3), "shard"), (dict(shard=(0, 0)), "shard"), (dict(batch_size=200, shard=(1, 2)), "shard"),
    (dict(bucket_batches=0), "bucket_batches"), (dict(emoji_dropout=1.5), "emoji_dropout"),
    (dict(emoji_dropout=0.5), "emoji_dropout"), (dict(seed=1.5), "seed"), (dict(seed=-1), "seed"),
    (dict(store=tweets_frame(10)), "store"), (dict(store=["a", "list"]), "store"),
    (dict(store=TweetStore.from_frame(tweets_frame(10)[["text"]]), emoji=True), "emoji"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    params = dict(store=toy_store(100)) | kwargs
    with pytest.raises((TypeError, ValueError), match=name):
        TweetBatches(**params)


@pytest.mark.parametrize("kwargs,name", [(dict(window_size=160), "window_size"), (dict(step=0), "step"),
                                         (dict(dtype=np.int64), "dtype"), (dict(batch_size=-1), "batch_size")])
def test_bad_window_arguments_name_the_argument(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        WindowBatches(toy_store(10), **kwargs)


def test_a_batch_index_out_of_range_is_an_index_error_and_a_negative_epoch_names_epoch():
    batches = TweetBatches(toy_store(10), batch_size=4)
    with pytest.raises(IndexError, match="batch index 3"):
        batches.batch(0, 3)
    with pytest.raises(ValueError, match="epoch"):
        batches.batch(-1, 0)


def test_window_batches_with_other_windows_have_another_fingerprint():
    store = toy_store(10)
    fingerprints = {str(WindowBatches(store, batch_size=2, step=step).fingerprint()) for step in (1, 3)}
    assert len(fingerprints) == 2, "a run of step 1 is never taken for a run of step 3"
