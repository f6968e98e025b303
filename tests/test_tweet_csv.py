import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, examples
from tests.helpers import tweets_frame
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.data.tweet_csv import iter_tweet_data, read_tweet_data, repeat_tweets_csv
from tweet_lstm.store.prepare import prepare_tweets


def test_read_tweet_data_drops_repeated_headers_and_empty_text_counts_them_and_keeps_extra_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('text,emoji,split\nhello,😀,train\ntext,emoji,split\n,🔥,test\n"",🔥,test\nNA,🎄,val\n',
                    encoding="utf-8")
    tweets = read_tweet_data(path)
    assert tweets["text"].tolist() == ["hello", "NA"]
    assert tweets["emoji"].tolist() == ["😀", "🎄"]
    assert tweets["split"].tolist() == ["train", "val"]
    assert tweets.index.tolist() == [0, 1]
    assert tweets.attrs["dropped"] == {"header repeated": 1, "empty text": 2}


def test_only_the_text_column_is_required(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text\nhi\nthere\n", encoding="utf-8")
    assert read_tweet_data(path)["text"].tolist() == ["hi", "there"]
    path.write_text("tweet,label\nhi,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"t\.csv: missing column\(s\) \['text'\]"):
        read_tweet_data(path)


def test_splits_are_read_after_trimming_spaces_and_case_by_every_reader(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('text,split\na,TRAIN\nb, Val\n"c\nd",test \ne,Train\n', encoding="utf-8")
    assert read_tweet_data(path)["split"].tolist() == ["train", "val", "test", "train"]
    assert pd.concat(iter_tweet_data(path, chunksize=1))["split"].tolist() == ["train", "val", "test", "train"]
    assert prepare_tweets(path, tmp_path / "store").splits == ["train", "val", "test"]


@pytest.mark.parametrize("cell, what", [("validation", "split 'validation'"), ("", "no split"),
                                        ('"dev "', "split 'dev '")])
def test_a_split_that_is_not_train_val_or_test_is_an_error_naming_the_file_line_and_value(tmp_path, cell, what):
    path = tmp_path / "t.csv"
    path.write_text(f'text,split\na,train\n"two\nlines",val\nc,{cell}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}, line 5: {what}; a row's split must be"):
        read_tweet_data(path)


def test_a_missing_emoji_stays_missing(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,emoji\nhi,\nyo,🔥\n", encoding="utf-8")
    assert read_tweet_data(path)["emoji"].isna().tolist() == [True, False]


@settings(max_examples=examples(50), deadline=None)
@given(st.lists(st.text(min_size=1).filter(lambda t: t not in ("text",) and "\r" not in t and "\0" not in t),
                min_size=1, max_size=20))
def test_tweets_with_newlines_commas_and_quotes_survive_a_csv_round_trip(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("rt") / "t.csv"
    write_csv_atomically(pd.DataFrame({"text": texts, "emoji": ["🔥"] * len(texts)}), path)
    assert read_tweet_data(path)["text"].tolist() == texts


def test_iter_tweet_data_chunks_concatenate_to_read_tweet_data(real_tweets):
    chunks = list(iter_tweet_data(DATA, chunksize=30_000))
    assert [len(c) for c in chunks] == [30_000, 30_000, 30_000, 10_000]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), real_tweets)


def test_iter_tweet_data_rejects_a_chunksize_below_one(tmp_path):
    with pytest.raises(ValueError, match="chunksize"):
        next(iter_tweet_data(tmp_path / "t.csv", chunksize=0))


def test_repeat_tweets_csv_repeats_the_source_rows_in_order_without_leftovers(tmp_path):
    frame = tweets_frame(7).assign(split="train")
    source = write_csv_atomically(frame, tmp_path / "source.csv")
    out = repeat_tweets_csv(source, tmp_path / "big" / "repeated.csv", 17, chunksize=3)
    repeated = read_tweet_data(out)
    assert list(repeated.columns) == ["text", "emoji", "split"]
    assert repeated["text"].tolist() == (frame["text"].tolist() * 3)[:17]
    assert list((tmp_path / "big").iterdir()) == [out], "no temporary file is left behind"


def test_repeat_tweets_csv_of_one_split_never_takes_another_splits_rows(tmp_path):
    frame = tweets_frame(9).assign(split=["train", "val", "test"] * 3)
    source = write_csv_atomically(frame, tmp_path / "source.csv")
    repeated = read_tweet_data(repeat_tweets_csv(source, tmp_path / "r.csv", 10, chunksize=2, split="train"))
    assert set(repeated["split"]) == {"train"}
    assert repeated["text"].tolist() == (frame.loc[frame["split"] == "train", "text"].tolist() * 4)[:10]


def test_repeat_tweets_csv_of_the_real_tweets_starts_again_after_the_last_one(tmp_path, real_tweets):
    out = repeat_tweets_csv(DATA, tmp_path / "r.csv", len(real_tweets) + 5, chunksize=30_000)
    tail = read_tweet_data(out).iloc[-10:]
    expected = pd.concat([real_tweets.iloc[-5:], real_tweets.iloc[:5]])
    assert tail["text"].tolist() == expected["text"].tolist()


@pytest.mark.parametrize("kwargs,name", [
    (dict(n_rows=0), "n_rows"), (dict(chunksize=0), "chunksize"), (dict(n_rows=2.5), "n_rows"),
    (dict(same_file=True), "out_csv"), (dict(empty=True), "source_csv"), (dict(split="dev"), "split"),
])
def test_repeat_tweets_csv_bad_input_names_the_argument(tmp_path, kwargs, name):
    frame = tweets_frame(0 if kwargs.get("empty") else 3).assign(split="train")
    source = write_csv_atomically(frame, tmp_path / "s.csv")
    out = source if kwargs.get("same_file") else tmp_path / "out.csv"
    with pytest.raises((TypeError, ValueError), match=name):
        repeat_tweets_csv(source, out, kwargs.get("n_rows", 5), chunksize=kwargs.get("chunksize", 2),
                          split=kwargs.get("split"))
    assert not (tmp_path / "out.csv").exists()
