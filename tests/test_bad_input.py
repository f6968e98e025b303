"""A battery of bad inputs a new user meets: each ends in an error naming the file or the argument, or in
the right answer, never a silently wrong one."""

import numpy as np
import pytest

from tests.helpers import toy_store
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.data.download import fetch_file
from tweet_lstm.store.prepare import prepare_tweets
from tweet_lstm.data.sentiment140 import decode_line
from tweet_lstm.data.tweet_csv import iter_tweet_data, read_tweet_data

BAD_CSVS = {
    "every row has one field more than the header": ("text\nhello,world\nfoo,bar\n", "line 2: 2 fields"),
    "only the first data row has an extra field": ("text\nhello,world\nplain\nother\n", "line 2: 2 fields"),
    "a later row has an extra field": ("text,emoji\na,b\nc,d\ne,f,g\n", "line 4: 3 fields"),
    "two columns named text": ("text,text\na,b\n", "line 1 (the header)"),
    "an empty file": ("", "the file is empty"),
    "no text column": ("tweet,emoji\na,b\n", "missing column(s) ['text']"),
    "a byte that is not UTF-8": (b"text\ncaf\xe9\n", "line 2: byte 0xe9"),
}


def readers(path):
    """Every way the package reads a tweets CSV."""
    return {"read_tweet_data": lambda: read_tweet_data(path),
            "iter_tweet_data": lambda: list(iter_tweet_data(path, chunksize=1)),
            "prepare_tweets": lambda: prepare_tweets(path, path.parent / "store")}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
@pytest.mark.parametrize("reader", ["read_tweet_data", "iter_tweet_data", "prepare_tweets"])
def test_every_reader_refuses_a_bad_csv_naming_the_file_and_line_and_leaves_no_store(tmp_path, case, reader):
    content, expected = BAD_CSVS[case]
    path = tmp_path / "tweets.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(ValueError) as caught:
        readers(path)[reader]()
    assert str(path) in str(caught.value) and expected in str(caught.value)
    assert not (tmp_path / "store").exists()


def test_a_quoted_comma_is_one_field_not_an_extra_one(tmp_path):
    path = tmp_path / "tweets.csv"
    path.write_text('text,emoji\n"one, two",🔥\nthree,\n', encoding="utf-8")
    assert read_tweet_data(path)["text"].tolist() == ["one, two", "three"]
    assert prepare_tweets(path, tmp_path / "store").texts() == ["one, two", "three"]


@pytest.mark.parametrize("raw, text", [(b"don\x92t", "don\u2019t"), (" \u2764 caf".encode() + b"\xe9", " \u2764 caf\u00e9")])
def test_sentiment140_bytes_are_windows_1252_inside_otherwise_utf8_lines(raw, text):
    assert decode_line(raw)[0] == text


def test_a_base_url_works_with_or_without_its_final_slash(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f.txt").write_text("hello")
    for i, url in enumerate([(tmp_path / "src").as_uri(), (tmp_path / "src").as_uri() + "/"]):
        assert fetch_file("f.txt", tmp_path / f"out{i}", base_url=url).read_text() == "hello"


def test_a_csv_that_cleaning_empties_is_an_error_that_says_so_naming_the_file(tmp_path):
    path = tmp_path / "handles.csv"
    path.write_text("text\n@user\n\U0001F600 \U0001F600\n", encoding="utf-8")
    store = prepare_tweets(path, tmp_path / "store")
    with pytest.raises(ValueError, match=r"handles.csv: no tweet is left to train on .*'empty after cleaning': 2"):
        TweetBatches(store)


def test_an_empty_emoji_is_served_as_no_emoji():
    import pandas as pd
    from tweet_lstm.store.store import TweetStore
    store = TweetStore.from_frame(pd.DataFrame({"text": ["a", "b", "c"], "emoji": ["🔥", "", None]}, dtype=object))
    (_, emoji_ids), _ = TweetBatches(store, batch_size=3, emoji=True, shuffle=False, bucket_batches=1)[0]
    assert emoji_ids[:, 0].tolist() == [0, 1, 1] and store.emojis == ["🔥"]


# Training: run folders and saved files ---------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tweet_lstm.train.dataset import TweetDataset
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.training import train_resumably
    run_dir = tmp_path_factory.mktemp("run")
    train_resumably(build_sequence_model(units=4, embedding_dim=4), TweetDataset(toy_store(20), batch_size=10),
                    lambda m: 1.0, run_dir, 60, max_epochs=1, verbose=0)
    return run_dir


@pytest.mark.parametrize("change, named", [("other tweets", "data"), ("another model", "model"),
                                           ("other batches", "data")])
@pytest.mark.tf
def test_a_run_folder_reused_with_other_data_or_another_model_is_an_error_naming_what_differs(
        finished_run, change, named):
    from tweet_lstm.train.dataset import TweetDataset
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.training import train_resumably
    data = TweetDataset(toy_store(30 if change == "other tweets" else 20),
                        batch_size=5 if change == "other batches" else 10)
    model = build_sequence_model(units=8 if change == "another model" else 4, embedding_dim=4)
    with pytest.raises(ValueError, match=rf"{finished_run} holds a run with other settings \({named}"):
        train_resumably(model, data, lambda m: 1.0, finished_run, 60, max_epochs=1, verbose=0)


@pytest.mark.parametrize("damage", ["garbage", "empty"])
@pytest.mark.tf
def test_a_damaged_checkpoint_or_backup_is_an_error_naming_the_file(tmp_path, damage):
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.resume import restore_weights
    for name in ("best.keras", "epoch-0000-batch-00000004.weights.h5"):
        path = tmp_path / name
        path.write_bytes(b"not a model" if damage == "garbage" else b"")
        with pytest.raises(ValueError, match=rf"{path} cannot be loaded"):
            restore_weights(build_sequence_model(units=4, embedding_dim=4), path)


@pytest.mark.tf
def test_weights_of_another_shape_are_an_error_naming_the_file(tmp_path):
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.resume import restore_weights
    path = tmp_path / "other.weights.h5"
    build_sequence_model(units=8, embedding_dim=4).save_weights(path)
    with pytest.raises(ValueError, match=rf"{path} cannot be loaded"):
        restore_weights(build_sequence_model(units=4, embedding_dim=4), path)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), None, "2.5"])
@pytest.mark.tf
def test_a_validate_that_returns_no_finite_number_is_an_error_saying_so(tmp_path, score):
    from tweet_lstm.train.dataset import TweetDataset
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.training import train_resumably
    with pytest.raises(ValueError, match="validate returned"):
        train_resumably(build_sequence_model(units=4, embedding_dim=4), TweetDataset(toy_store(20), batch_size=10),
                        lambda m: score, tmp_path, 60, max_epochs=1, verbose=0)
    assert not (tmp_path / "history.csv").exists()


@pytest.mark.parametrize("rng", ["abc", -1, 1.5, True])
@pytest.mark.tf
def test_sample_tweets_refuses_an_rng_it_cannot_use_naming_it(rng):
    from tweet_lstm.train.model import build_sequence_model, sample_tweets
    with pytest.raises(TypeError, match="rng must be"):
        sample_tweets(build_sequence_model(units=4, embedding_dim=4), rng=rng)


@pytest.mark.tf
def test_sample_tweets_takes_a_seed_or_a_generator():
    from tweet_lstm.train.model import build_sequence_model, sample_tweets
    model = build_sequence_model(units=4, embedding_dim=4)
    assert sample_tweets(model, rng=3, max_length=5) == sample_tweets(model, rng=np.random.default_rng(3), max_length=5)
