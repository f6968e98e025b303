import math

import numpy as np
import pandas as pd
import pytest

from tests.helpers import served_texts, tweets_frame
from tweet_lstm.batches import TweetBatches
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.text import clean_tweet_text, get_emojis_list
from tweet_lstm.windows import convert_tweet_to_xy


def source_of(kind, frame, tmp_path):
    return frame if kind == "frame" else write_csv_atomically(frame, tmp_path / "t.csv")


@pytest.mark.parametrize("kind", ["frame", "csv"])
def test_every_tweet_is_served_once_per_epoch_and_reshuffled_deterministically(tmp_path, kind):
    frame = tweets_frame(203)
    data = source_of(kind, frame, tmp_path)
    batches, again = TweetBatches(data, batch_size=16, seed=7), TweetBatches(data, batch_size=16, seed=7)
    assert len(batches) == math.ceil(203 / 16)
    first = served_texts(batches)
    assert sorted(first) == sorted(frame["text"]) and first != frame["text"].tolist()
    assert served_texts(again) == first
    batches.on_epoch_end()
    second = served_texts(batches)
    assert sorted(second) == sorted(first) and second != first


def test_without_shuffle_the_file_order_is_kept(tmp_path):
    frame = tweets_frame(50)
    for data in (frame, write_csv_atomically(frame, tmp_path / "t.csv")):
        assert served_texts(TweetBatches(data, batch_size=8, shuffle=False)) == frame["text"].tolist()


def test_shards_partition_the_batches(tmp_path):
    path = write_csv_atomically(tweets_frame(100), tmp_path / "t.csv")
    shards = [served_texts(TweetBatches(path, batch_size=10, shard=(i, 3))) for i in range(3)]
    assert [len(s) for s in shards] == [40, 30, 30]
    assert sorted(sum(shards, [])) == sorted(tweets_frame(100)["text"])


@pytest.mark.parametrize("kind", ["frame", "csv"])
def test_bucketed_batches_hold_similar_lengths_and_still_serve_every_tweet_once(tmp_path, kind):
    frame = tweets_frame(1000)
    data = source_of(kind, frame, tmp_path)
    plain = TweetBatches(data, batch_size=20, seed=3, trim=True)
    bucketed = TweetBatches(data, batch_size=20, seed=3, trim=True, bucket_batches=10)
    assert len(bucketed) == len(plain) == 50
    for batches in (plain, bucketed):
        for _ in range(2):
            assert sorted(served_texts(batches)) == sorted(frame["text"])
            batches.on_epoch_end()
    plain_width = sum(plain[i][0].size for i in range(len(plain)))
    bucketed_width = sum(bucketed[i][0].size for i in range(len(bucketed)))
    assert bucketed_width < 0.8 * plain_width


def test_tweets_that_cleaning_empties_are_never_served_as_empty_strings(tmp_path):
    frame = pd.DataFrame({"text": ["a tweet", "😀😀", "@user", "another tweet"] * 10, "emoji": ["🔥"] * 40})
    for data in (frame, write_csv_atomically(frame, tmp_path / "t.csv")):
        batches = TweetBatches(data, batch_size=8)
        assert batches.n_rows == 20 and batches.dropped["empty after cleaning"] == 20
        assert "" not in served_texts(batches) and len(served_texts(batches)) == 20


def test_id_batches_are_inputs_and_targets_shifted_by_one_with_the_emoji_id():
    frame = tweets_frame(64)
    emojis, _ = get_emojis_list(frame["emoji"])
    (x, emoji_ids), y = TweetBatches(frame, batch_size=32, emoji_set=emojis, shuffle=False, trim=True)[0]
    assert x.shape == y.shape and x.shape[0] == 32 and x.dtype == np.int32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert emoji_ids.shape == (32, 1) and emoji_ids[:4, 0].tolist() == [1, 0, 1, 0]


def test_emoji_dropout_hides_about_that_share_of_emojis_behind_the_no_emoji_id():
    frame = tweets_frame(2000)
    batches = TweetBatches(frame, batch_size=100, emoji_set=["🔥", "🎄"], emoji_dropout=0.25, seed=1)
    ids = np.concatenate([batches[i][0][1][:, 0] for i in range(len(batches))])
    assert batches.no_emoji_id == 2 and set(ids) == {0, 1, 2}
    assert 0.2 < (ids == 2).mean() < 0.3
    assert np.array_equal(ids, np.concatenate([batches[i][0][1][:, 0] for i in range(len(batches))]))
    hidden = TweetBatches(frame, batch_size=100, emoji_set=["🔥", "🎄"], emoji_dropout=1.0)
    assert all((hidden[i][0][1] == 2).all() for i in range(len(hidden)))


def test_one_hot_batches_match_convert_tweet_to_xy():
    frame = tweets_frame(8)
    batches = TweetBatches(frame, batch_size=4, mode="one_hot", window_size=40, step=3, dtype=bool,
                           shuffle=False, clean=False)
    x, y = batches[1]
    ex, ey = convert_tweet_to_xy(frame.iloc[4:8], 160, 40, 3)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)


def test_clean_is_applied_to_what_is_served():
    frame = pd.DataFrame({"text": ["café &amp; @user  bar"] * 4})
    assert set(served_texts(TweetBatches(frame, batch_size=2))) == set(clean_tweet_text(frame["text"]))
    assert set(served_texts(TweetBatches(frame, batch_size=2, clean=False))) == set(frame["text"])


@pytest.mark.parametrize("kwargs,name", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=2.0), "batch_size"), (dict(mode="onehot"), "mode"),
    (dict(mode="one_hot", window_size=160), "window_size"), (dict(mode="one_hot", step=0), "step"),
    (dict(emoji_set=["🔥"]), "emoji_set"), (dict(shard=(3, 3)), "shard"), (dict(shard=3), "shard"),
    (dict(bucket_batches=0), "bucket_batches"), (dict(emoji_dropout=1.5), "emoji_dropout"),
    (dict(emoji_dropout=0.5), "emoji_dropout"), (dict(tweets=["a", "list"]), "tweets"),
    (dict(batch_size=200, shard=(1, 2)), "shard"), (dict(emoji_set=["🔥", "🔥"]), "emoji_set"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    params = dict(tweets=tweets_frame(100)) | kwargs
    with pytest.raises((TypeError, ValueError), match=name):
        TweetBatches(**params)


def test_a_batch_index_out_of_range_is_an_index_error():
    batches = TweetBatches(tweets_frame(10), batch_size=4)
    with pytest.raises(IndexError, match="batch index 3"):
        batches[3]
