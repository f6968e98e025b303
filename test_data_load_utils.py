"""Tests for data_load_utils, and smoke runs of every numbered notebook.

Tests marked by the ``real_tweets`` fixture use ``data/tweets.csv`` (``make data``); they
skip without it, except under ``make test`` (``REQUIRE_DATA=1``), where they fail.
"""

import functools
import http.server
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import data_load_utils as util

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "tweets.csv"
SHARED_RAW = ROOT.parent / "shared" / "data" / "tweeteval_emoji"
LOCAL_RAW = ROOT / "data" / "tweeteval_emoji"

TOY = pd.DataFrame({
    "text": [
        "red and yellow and pink and green, orange and purple and blue, I can sing a rainbow, "
        "sing a rainbow, sing a rainbow too",
        "sweet dreams are made of this, who am I to disagree, travel the world and the even "
        "seas, every body's looking for someone",
    ],
    "emoji": [":rainbow:", ":gay_pride_flag:"],
})
CHARS, CHAR_INDEX = util.get_universal_chars_list()
VOCAB_TEXT = st.text(alphabet=util.CHARACTERS, max_size=200)


def require_data():
    if not DATA.exists():
        message = f"{DATA} is missing: run `make data` (with TWEETS_SOURCE set offline)"
        if os.environ.get("REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def real_tweets():
    require_data()
    return util.read_tweet_data(DATA)


@pytest.fixture(scope="session")
def clean_2048(real_tweets):
    """The first 2,048 real tweets with handles and out-of-set characters removed."""
    head = real_tweets.head(2048)
    return head.assign(text=util.filter_text_for_handles(head["text"])).reset_index(drop=True)


def raw_source():
    """A folder with the seven TweetEval files: ../shared's copy, else the downloaded one."""
    for folder in (SHARED_RAW, LOCAL_RAW):
        if all((folder / name).is_file() for name in util.TWEETEVAL_FILES):
            return folder
    require_data()
    pytest.skip("no folder with the raw TweetEval files")


# ---------------------------------------------------------------------------
# Get the data
# ---------------------------------------------------------------------------

def test_tweets_csv_has_the_tweeteval_splits_and_20_emojis(real_tweets):
    assert len(real_tweets) == 100_000
    assert real_tweets["split"].value_counts().to_dict() == {"train": 45_000, "val": 5_000, "test": 50_000}
    assert real_tweets["emoji"].nunique() == 20
    assert list(real_tweets.columns) == ["text", "emoji", "split"]


def test_make_tweets_csv_from_a_local_folder_matches_the_raw_files(tmp_path):
    source = raw_source()
    out = util.make_tweets_csv(tmp_path / "tweets.csv", source=source)
    tweets = util.read_tweet_data(out)
    first_train = (source / "train_text.txt").read_text(encoding="utf-8").split("\n")[0]
    assert tweets["text"].iloc[0] == first_train
    mapping = dict(line.split("\t")[:2] for line in (source / "mapping.txt").read_text(encoding="utf-8").splitlines())
    last_label = (source / "test_labels.txt").read_text(encoding="utf-8").split()[-1]
    assert tweets["emoji"].iloc[-1] == mapping[last_label]
    assert not list(tmp_path.rglob("*.part"))


@pytest.fixture
def http_server():
    """Serve the raw TweetEval folder over real HTTP on 127.0.0.1 (an ephemeral port)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(raw_source()))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_over_http_gives_the_same_csv_as_a_local_copy(tmp_path, http_server):
    downloaded = util.make_tweets_csv(tmp_path / "web" / "tweets.csv", base_url=http_server)
    copied = util.make_tweets_csv(tmp_path / "copy" / "tweets.csv", source=raw_source())
    assert downloaded.read_bytes() == copied.read_bytes()
    assert len(util.read_tweet_data(downloaded)) == 100_000


def test_make_data_offline_without_source_fails_fast_and_names_tweets_source(tmp_path):
    with socket_closed_port() as port:
        env = {k: v for k, v in os.environ.items() if k != "TWEETS_SOURCE"}
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(ROOT / "data_load_utils.py"), "make-data",
             "--out", str(tmp_path / "tweets.csv"), "--base-url", f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, env=env, timeout=120,
        )
    assert result.returncode != 0
    assert "TWEETS_SOURCE" in result.stderr
    assert not (tmp_path / "tweets.csv").exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "a partial file was left behind"
    assert time.perf_counter() - start < 60


class socket_closed_port:
    """A port on 127.0.0.1 that nothing listens on, for the length of a ``with`` block."""

    def __enter__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


def test_source_folder_missing_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mapping.txt").write_text("0\t❤\t_red_heart_\t\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="train_text.txt"):
        util.make_tweets_csv(tmp_path / "out" / "tweets.csv", source=tmp_path / "src")
    assert not (tmp_path / "out" / "tweets.csv").exists()


def test_no_data_file_is_tracked_by_git():
    result = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip("not a git checkout")
    assert result.stdout.split() in ([], ["data/README.md"])


# ---------------------------------------------------------------------------
# Read and clean
# ---------------------------------------------------------------------------

def test_read_tweet_data_drops_repeated_headers_and_empty_text_and_keeps_extra_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        'text,emoji,split\nhello,😀,train\ntext,emoji,split\n,🔥,test\n"",🔥,test\nNA,🎄,val\n',
        encoding="utf-8",
    )
    tweets = util.read_tweet_data(path)
    assert tweets["text"].tolist() == ["hello", "NA"]
    assert tweets["emoji"].tolist() == ["😀", "🎄"]
    assert tweets["split"].tolist() == ["train", "val"]
    assert tweets.index.tolist() == [0, 1]


def test_read_tweet_data_names_missing_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("tweet,label\nhi,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['text', 'emoji'\]"):
        util.read_tweet_data(path)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1).filter(lambda t: t not in ("text",) and "\r" not in t
                                             and "\0" not in t), min_size=1, max_size=20))
def test_tweets_with_newlines_commas_and_quotes_survive_a_csv_round_trip(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("rt") / "t.csv"
    frame = pd.DataFrame({"text": texts, "emoji": ["🔥"] * len(texts)})
    util.write_csv_atomically(frame, path)
    assert util.read_tweet_data(path)["text"].tolist() == texts


def test_iter_tweet_data_chunks_concatenate_to_read_tweet_data(real_tweets):
    chunks = list(util.iter_tweet_data(DATA, chunksize=30_000))
    assert [len(c) for c in chunks] == [30_000, 30_000, 30_000, 10_000]
    joined = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(joined, real_tweets)


def test_iter_tweet_data_rejects_a_chunksize_below_one():
    with pytest.raises(ValueError, match="chunksize"):
        next(util.iter_tweet_data(DATA, chunksize=0))


def test_filter_tweets_min_count_keeps_emojis_with_more_than_min_count():
    tweets = pd.DataFrame({"text": list("abcdef"), "emoji": ["x", "x", "x", "y", "y", "z"]})
    assert util.filter_tweets_min_count(tweets, min_count=1)["emoji"].tolist() == ["x", "x", "x", "y", "y"]
    assert util.filter_tweets_min_count(tweets, min_count=2)["emoji"].tolist() == ["x", "x", "x"]
    assert util.filter_tweets_min_count(tweets, min_count=3).empty


def test_filter_text_for_handles_removes_handles_and_characters_as_the_seed_did():
    text = pd.Series(["some text with a @handle", "more @text with handle",
                      "I`m an undesirable character", "@user first", "café £5 <b>"])
    assert util.filter_text_for_handles(text).tolist() == [
        "some text with a", "more with handle", "Im an undesirable character", "first", "caf £5 b"]


def seed_filter(txt):
    """The seed's per-row filter, the reference the vectorised one must match."""
    words = " ".join(w for w in txt.split(" ") if not w.startswith("@"))
    return "".join(c for c in words if c in util.CHARACTERS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list(" @ab£`\n\t😀\ufe0f")) | st.characters(), max_size=40),
                max_size=10))
def test_filter_text_for_handles_matches_the_seeds_per_row_filter(texts):
    assert util.filter_text_for_handles(pd.Series(texts, dtype=object)).tolist() == [seed_filter(t) for t in texts]


def test_clean_tweet_text_collapses_spaces_and_strips():
    text = pd.Series(["Venice with @user \ufe0f \ufe0f @ Abbot Kinney ", "  a  b  "])
    assert util.clean_tweet_text(text).tolist() == ["Venice with Abbot Kinney", "a b"]


def test_clean_tweet_text_drops_a_handle_hidden_behind_an_outside_character():
    text = pd.Series(["\u201c@user: so true\u201d", "hi \u00a0@user there"])
    assert util.filter_text_for_handles(text).tolist() == ["@user: so true", "hi @user there"]
    assert util.clean_tweet_text(text).tolist() == ["so true", "hi there"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list(" @ab£`\n\t😀\ufe0f\u201c")) | st.characters(), max_size=40),
                max_size=10))
def test_clean_tweet_text_is_idempotent(texts):
    once = util.clean_tweet_text(pd.Series(texts, dtype=object))
    assert util.clean_tweet_text(once).tolist() == once.tolist()


def test_universal_chars_list_is_the_seeds_93_sorted_characters():
    chars, char_index = util.get_universal_chars_list()
    assert len(chars) == 93 == len(set(chars))
    assert chars == sorted(chars)
    assert chars[0] == " " and chars[-1] == "£"
    assert all(char_index[c] == i for i, c in enumerate(chars))
    assert not set("<>`\t\n") & set(chars)


@given(st.text(max_size=300), st.integers(min_value=0, max_value=200))
def test_pad_text_left_pads_or_truncates_to_length(text, length):
    padded = util.pad_text(text, length)
    assert len(padded) == length
    if len(text) >= length:
        assert padded == text[:length]
    else:
        assert padded == " " * (length - len(text)) + text


# ---------------------------------------------------------------------------
# Windows and one-hot
# ---------------------------------------------------------------------------

def test_get_series_data_from_tweet_windows_and_next_chars_are_padded_substrings():
    windows, next_chars = util.get_series_data_from_tweet(TOY.iloc[0], window_size=40, step=3)
    padded = util.pad_text(TOY["text"][0], 160)
    assert len(windows) == math.ceil((160 - 40) / 3)
    for i, (window, char) in enumerate(zip(windows, next_chars)):
        assert window + char == padded[i * 3:i * 3 + 41]


def test_one_hot_decodes_again_with_optional_separator():
    windows, next_chars = util.get_series_data_from_tweet(TOY.iloc[0], window_size=40, step=3)
    x = util.get_x_bool_array(windows, CHARS, CHAR_INDEX)
    y = util.get_y_bool_array(next_chars, CHAR_INDEX)
    assert x.shape == (40, 40, 93) and y.shape == (40, 93) and x.dtype == bool
    padded = util.pad_text(TOY["text"][0], 160)
    for i in range(len(y)):
        assert util.x_y_bool_array_to_sentence(x, y, CHARS, i) == padded[i * 3:i * 3 + 41]
    assert util.x_y_bool_array_to_sentence(x, y, CHARS, 5, separator=True) == padded[15:55] + ":" + padded[55]


@pytest.mark.parametrize("length,window_size,step", [(90, 10, 2), (135, 37, 3), (160, 40, 3), (160, 64, 3), (200, 55, 7)])
@pytest.mark.parametrize("method", util.METHODS)
def test_convert_tweet_to_xy_shapes_follow_the_window_count(length, window_size, step, method):
    x, y = util.convert_tweet_to_xy(TOY, length=length, window_size=window_size, step=step, method=method)
    m = 2 * math.ceil((length - window_size) / step)
    assert x.shape == (m, window_size, 93) and y.shape == (m, 93)
    assert x.dtype == bool and y.dtype == bool
    assert (x.sum(axis=-1) == 1).all() and (y.sum(axis=-1) == 1).all()


def test_the_seeds_toy_tweets_at_window_64_give_64_examples():
    x, y = util.convert_tweet_to_xy(TOY, length=160, window_size=64, step=3)
    assert x.shape == (64, 64, 93) and y.shape == (64, 93)


@pytest.mark.parametrize("window_size", [64, 40])
def test_loop_and_vectorized_give_identical_arrays_on_2048_real_tweets(clean_2048, window_size):
    loop = util.convert_tweet_to_xy(clean_2048, 160, window_size, 3, method="loop")
    fast = util.convert_tweet_to_xy(clean_2048, 160, window_size, 3, method="vectorized")
    assert loop[0].shape == (2048 * math.ceil((160 - window_size) / 3), window_size, 93)
    np.testing.assert_array_equal(loop[0], fast[0])
    np.testing.assert_array_equal(loop[1], fast[1])


@pytest.mark.parametrize("trailing", [(), (5,)])
def test_strided_windows_are_views_of_each_slice_and_its_next_row(trailing):
    padded = np.arange(2 * 20 * int(np.prod(trailing)), dtype=np.int64).reshape((2, 20) + trailing)
    windows, next_rows = util.strided_windows(padded, window_size=6, step=4)
    k = util.windows_per_tweet(20, 6, 4)
    assert windows.shape == (2, k, 6) + trailing and next_rows.shape == (2, k) + trailing
    assert np.shares_memory(windows, padded)
    for i in range(2):
        for w in range(k):
            np.testing.assert_array_equal(windows[i, w], padded[i, w * 4:w * 4 + 6])
            np.testing.assert_array_equal(next_rows[i, w], padded[i, w * 4 + 6])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loop_and_vectorized_agree_for_float_dtypes(clean_2048, dtype):
    tweets = clean_2048.head(64)
    loop = util.convert_tweet_to_xy(tweets, 160, 64, 3, method="loop", dtype=dtype)
    fast = util.convert_tweet_to_xy(tweets, 160, 64, 3, method="vectorized", dtype=dtype)
    assert loop[0].dtype == fast[0].dtype == dtype
    np.testing.assert_array_equal(loop[0], fast[0])
    np.testing.assert_array_equal(loop[1], fast[1])


@pytest.mark.parametrize("window_size", [64, 40])
def test_one_pass_of_generator_batches_equals_the_eager_arrays(clean_2048, window_size):
    eager_x, eager_y = util.convert_tweet_to_xy(clean_2048, 160, window_size, 3)
    batches = util.convert_tweet_to_xy_generator(clean_2048, 160, window_size, 3, batch_size=64)
    xs, ys = zip(*(next(batches) for _ in range(2048 // 64)))
    np.testing.assert_array_equal(np.concatenate(xs), eager_x)
    np.testing.assert_array_equal(np.concatenate(ys), eager_y)
    again_x, _ = next(batches)  # the generator loops: the next batch is the first again
    np.testing.assert_array_equal(again_x, xs[0])


@pytest.mark.parametrize("window_size", [64, 40])
def test_decoding_every_window_gives_back_the_padded_tweets_substrings(clean_2048, window_size):
    x, y = util.convert_tweet_to_xy(clean_2048, 160, window_size, 3)
    k = math.ceil((160 - window_size) / 3)
    chars = np.array(CHARS)
    decoded = ["".join(row) for row in chars[np.argmax(x, axis=-1)]]
    next_chars = chars[np.argmax(y, axis=-1)]
    for i, text in enumerate(clean_2048["text"]):
        padded = util.pad_text(text, 160)
        for j in range(k):
            assert decoded[i * k + j] + next_chars[i * k + j] == padded[j * 3:j * 3 + window_size + 1]


def test_generator_with_emoji_set_adds_the_emoji_one_hot_per_window():
    emojis, _ = util.get_emojis_list(TOY["emoji"])
    (x_text, x_emoji), y = next(util.convert_tweet_to_xy_generator(
        TOY, 160, 40, 3, batch_size=2, emoji_set=emojis))
    k = math.ceil(120 / 3)
    assert x_text.shape == (2 * k, 40, 93) and x_emoji.shape == (2 * k, 2) and y.shape == (2 * k, 93)
    assert [emojis[i] for i in x_emoji.argmax(axis=1)] == [":rainbow:"] * k + [":gay_pride_flag:"] * k


def test_characters_outside_the_set_raise_instead_of_encoding_wrongly():
    tweets = pd.DataFrame({"text": ["fine", "not <fine>"]})
    for method in util.METHODS:
        with pytest.raises(ValueError, match="outside the 93-character universal set: '<>'"):
            util.convert_tweet_to_xy(tweets, 20, 5, 1, method=method)


def test_batch_generator_yields_the_seeds_five_batches():
    assert [list(b) for b in util.batch_generator(range(32), 7)] == [
        list(range(0, 7)), list(range(7, 14)), list(range(14, 21)), list(range(21, 28)), list(range(28, 32))]


# ---------------------------------------------------------------------------
# Bad input names the parameter
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,name", [
    (dict(window_size=160), "window_size"),
    (dict(window_size=200), "window_size"),
    (dict(step=0), "step"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=3), "batch_size"),  # more than the two toy tweets: the seed divided by zero
    (dict(emoji_set=[":rainbow:"]), "emoji_set"),
    (dict(dtype=np.int64), "dtype"),
    (dict(method="fast"), "method"),
])
def test_generator_bad_input_raises_value_error_naming_the_parameter(kwargs, name):
    params = dict(length=160, window_size=40, step=3, batch_size=1) | kwargs
    with pytest.raises(ValueError, match=name):
        next(util.convert_tweet_to_xy_generator(TOY, **params))


@pytest.mark.parametrize("kwargs,name", [
    (dict(window_size=160), "window_size"), (dict(step=-1), "step"), (dict(dtype="int8"), "dtype")])
def test_eager_bad_input_raises_value_error_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        util.convert_tweet_to_xy(TOY, **(dict(length=160, window_size=40, step=3) | kwargs))


@pytest.mark.parametrize("bad", [float("nan"), None, 42, b"bytes"])
def test_non_string_text_raises_value_error_naming_text(bad):
    tweets = pd.DataFrame({"text": ["ok", bad], "emoji": ["a", "b"]}, dtype=object)
    for call in (lambda: util.convert_tweet_to_xy(tweets, method="loop"),
                 lambda: util.convert_tweet_to_xy(tweets),
                 lambda: next(util.convert_tweet_to_xy_generator(tweets, batch_size=1)),
                 lambda: util.encode_tweets_to_ids(tweets["text"]),
                 lambda: util.TweetDataset(tweets, batch_size=1)):
        with pytest.raises(ValueError, match="text must be str; tweet 1"):
            call()


# ---------------------------------------------------------------------------
# Integer ids
# ---------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(VOCAB_TEXT, st.integers(min_value=1, max_value=200))
def test_id_encoding_round_trips_any_vocabulary_string(text, length):
    ids = util.encode_tweets_to_ids([text], length=length)
    assert ids.dtype == np.uint8 and ids.shape == (1, length + 1)
    assert util.decode_ids_to_text(ids[0]) == text[:length]
    assert (ids[0, 1 + len(text):] <= util.END_ID).all(), "only <end> and padding after the text"


@settings(max_examples=200, deadline=None)
@given(st.lists(VOCAB_TEXT, min_size=1, max_size=20))
def test_trimmed_batches_decode_the_same_and_are_only_as_wide_as_a_bucket_needs(texts):
    full = util.encode_tweets_to_ids(texts)
    trimmed = util.encode_tweets_to_ids(texts, trim=True)
    assert util.decode_ids_to_text(trimmed) == util.decode_ids_to_text(full) == [t[:160] for t in texts]
    assert trimmed.shape[1] in (33, 65, 97, 129, 161)
    assert trimmed.shape[1] >= min(max(len(t) for t in texts) + 2, 161)
    np.testing.assert_array_equal(full[:, trimmed.shape[1]:], util.PAD_ID)


def test_ids_mark_start_end_and_padding_and_unknown_characters():
    ids = util.encode_tweets_to_ids(["hé!", "x" * 12], length=10)
    h, excl, x = (util.ID_VOCAB.index(c) for c in "h!x")
    assert ids[0].tolist() == [util.START_ID, h, util.UNK_ID, excl, util.END_ID] + [util.PAD_ID] * 6
    assert ids[1].tolist() == [util.START_ID] + [x] * 10, "a cut tweet gets no <end>"
    assert util.decode_ids_to_text(ids[0]) == "h\ufffd!"


def test_an_id_batch_of_64_real_tweets_is_under_16_kb_and_one_hot_is_about_12_mb(clean_2048):
    ids = util.encode_tweets_to_ids(clean_2048["text"][:64], trim=True)
    x, y = util.convert_tweet_to_xy(clean_2048.head(64), 160, 64, 3)
    assert ids.nbytes < 16 * 1024
    assert x.nbytes == 2048 * 64 * 93


# ---------------------------------------------------------------------------
# The PyDataset
# ---------------------------------------------------------------------------

def tweets_frame(n, emojis=("🔥", "🎄")):
    return pd.DataFrame({"text": [f"tweet number {i} " + "x" * (1 + i % 50) for i in range(n)],
                         "emoji": [emojis[i % len(emojis)] for i in range(n)]})


def served_texts(dataset):
    return [t for i in range(len(dataset)) for t in dataset.batch_tweets(i)["text"]]


@pytest.mark.parametrize("source", ["frame", "csv"])
def test_pydataset_serves_every_tweet_once_per_epoch_and_reshuffles_deterministically(tmp_path, source):
    frame = tweets_frame(203)
    data = frame if source == "frame" else util.write_csv_atomically(frame, tmp_path / "t.csv")
    dataset = util.TweetDataset(data, batch_size=16, seed=7)
    again = util.TweetDataset(data, batch_size=16, seed=7)
    assert len(dataset) == math.ceil(203 / 16)
    first = served_texts(dataset)
    assert sorted(first) == sorted(frame["text"]) and first != frame["text"].tolist()
    assert served_texts(again) == first
    dataset.on_epoch_end()
    second = served_texts(dataset)
    assert sorted(second) == sorted(first) and second != first


def test_pydataset_without_shuffle_keeps_file_order(tmp_path):
    frame = tweets_frame(50)
    path = util.write_csv_atomically(frame, tmp_path / "t.csv")
    for data in (frame, path):
        assert served_texts(util.TweetDataset(data, batch_size=8, shuffle=False)) == frame["text"].tolist()


def test_pydataset_reads_csv_blocks_with_embedded_newlines_and_quotes(tmp_path):
    texts = ['line one\nline "two", with comma', "plain", '"quoted"\n\n', "last, one"] * 5
    frame = pd.DataFrame({"text": texts, "emoji": ["🔥"] * len(texts)})
    path = util.write_csv_atomically(frame, tmp_path / "t.csv")
    dataset = util.TweetDataset(path, batch_size=3, shuffle=False, clean=False)
    assert served_texts(dataset) == texts


def test_pydataset_shards_partition_the_batches(tmp_path):
    path = util.write_csv_atomically(tweets_frame(100), tmp_path / "t.csv")
    shards = [served_texts(util.TweetDataset(path, batch_size=10, shard=(i, 3))) for i in range(3)]
    assert [len(s) for s in shards] == [40, 30, 30]
    assert sorted(sum(shards, [])) == sorted(tweets_frame(100)["text"])


def test_pydataset_ids_batch_shapes_and_emoji_input():
    frame = tweets_frame(64)
    emojis, _ = util.get_emojis_list(frame["emoji"])
    (x, emoji_ids), y = util.TweetDataset(frame, batch_size=32, emoji_set=emojis, shuffle=False, trim=True)[0]
    assert x.shape == y.shape and x.shape[0] == 32 and x.dtype == np.int32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert emoji_ids.shape == (32, 1) and emoji_ids[:4, 0].tolist() == [1, 0, 1, 0]


def test_pydataset_one_hot_batch_matches_convert_tweet_to_xy():
    frame = tweets_frame(8)
    dataset = util.TweetDataset(frame, batch_size=4, mode="one_hot", window_size=40, step=3,
                                dtype=bool, shuffle=False, clean=False)
    x, y = dataset[1]
    ex, ey = util.convert_tweet_to_xy(frame.iloc[4:8], 160, 40, 3)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)


@pytest.mark.parametrize("kwargs,name", [
    (dict(batch_size=0), "batch_size"),
    (dict(mode="onehot"), "mode"), (dict(mode="one_hot", window_size=160), "window_size"),
    (dict(mode="one_hot", step=0), "step"), (dict(emoji_set=["🔥"]), "emoji_set"),
    (dict(shard=(3, 3)), "shard"),
])
def test_pydataset_bad_input_raises_value_error_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        util.TweetDataset(tweets_frame(100), **kwargs)


def tiny_next_char_model():
    import keras
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(len(util.ID_VOCAB), 8),
                              keras.layers.Dense(len(util.ID_VOCAB))])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_pydataset_trains_a_model_with_two_workers():
    dataset = util.TweetDataset(tweets_frame(128), batch_size=32, workers=2)
    history = tiny_next_char_model().fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_trimmed_batches_of_varying_width_train_through_as_tf_dataset():
    frame = pd.DataFrame({"text": ["short"] * 32 + ["a much longer tweet " * 4] * 32})
    dataset = util.TweetDataset(frame, batch_size=32, shuffle=False, trim=True)
    assert dataset[0][0].shape[1] != dataset[1][0].shape[1]
    history = tiny_next_char_model().fit(dataset.as_tf_dataset(), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert dataset.epoch == 1, "the second pass served epoch 1's order"


# ---------------------------------------------------------------------------
# Notebooks execute top to bottom in smoke mode
# ---------------------------------------------------------------------------

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_notebook_executes_in_smoke_mode(notebook):
    require_data()
    sys.path.insert(0, str(ROOT / "scripts"))
    from run_notebooks import execute_notebook
    executed = execute_notebook(notebook, smoke=True, timeout=600)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


# ---------------------------------------------------------------------------
# Model helpers
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_model():
    import keras
    keras.utils.set_random_seed(0)
    return util.build_sequence_model(units=16, embedding_dim=8)


@pytest.fixture(scope="module")
def emoji_model():
    import keras
    keras.utils.set_random_seed(1)
    return util.build_sequence_model(units=16, embedding_dim=8, n_emojis=3, emoji_dim=4)


def test_masked_loss_is_the_same_with_extra_padding(small_model):
    ids = util.encode_tweets_to_ids(["hello world", "hi"], length=20).astype(np.int32)
    wider = np.pad(ids, ((0, 0), (0, 30)))
    loss = small_model.evaluate(ids[:, :-1], ids[:, 1:], verbose=0)
    padded_loss = small_model.evaluate(wider[:, :-1], wider[:, 1:], verbose=0)
    assert padded_loss == pytest.approx(loss, rel=1e-5)
    assert small_model.get_layer("lstm").supports_masking


def test_dropout_acts_in_training_only_and_keeps_the_lstm_cudnn_ready():
    import keras
    keras.utils.set_random_seed(2)
    model = util.build_sequence_model(units=16, embedding_dim=8, dropout=0.5)
    ids = util.encode_tweets_to_ids(["hello world", "hi"], length=20).astype(np.int32)[:, :-1]
    inference = np.asarray(model(ids, training=False))
    np.testing.assert_array_equal(inference, np.asarray(model(ids, training=False)))
    assert not np.allclose(inference, np.asarray(model(ids, training=True)))
    assert model.get_layer("lstm").get_config()["recurrent_dropout"] == 0


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_build_sequence_model_rejects_a_dropout_outside_0_to_1(dropout):
    with pytest.raises(ValueError, match="dropout"):
        util.build_sequence_model(units=8, dropout=dropout)


def test_a_model_with_zero_weights_scores_log2_of_its_vocabulary(small_model):
    import keras
    model = keras.models.clone_model(small_model)
    model.set_weights([np.zeros_like(w) for w in small_model.get_weights()])
    batches = [(x, y) for x, y in util.TweetDataset(tweets_frame(40), batch_size=16, shuffle=False)]
    bits, n = util.sequence_bits_per_character(model, batches)
    assert bits == pytest.approx(math.log2(len(util.ID_VOCAB)))
    assert n == sum(len(t) for t in util.clean_tweet_text(tweets_frame(40)["text"]))


def test_window_bits_scores_every_character_once_and_uniform_is_log2_93():
    import keras
    uniform = keras.Sequential([keras.Input((64, 93)), keras.layers.Flatten(),
                                keras.layers.Dense(93, activation="softmax", kernel_initializer="zeros")])
    texts = ["hello", "x" * 200, "a b c"]
    bits, n = util.window_bits_per_character(uniform, texts, window_size=64, length=160)
    assert n == 5 + 160 + 5
    assert bits == pytest.approx(math.log2(93), rel=1e-6)


def test_sampling_at_temperature_zero_is_greedy_and_tiny_temperatures_agree(small_model):
    greedy = util.sample_tweets(small_model, n=2, seed_text="hel", temperature=0, max_length=30)
    assert greedy[0] == greedy[1] and greedy[0].startswith("hel")
    cold = util.sample_tweets(small_model, n=2, seed_text="hel", temperature=1e-9, max_length=30, rng=3)
    assert cold == greedy


def test_sampling_carries_state_like_running_the_whole_prefix(small_model):
    text = "state carried"
    ids = util.encode_tweets_to_ids([text], length=40)[:, :1 + len(text)].astype(np.int32)
    full_logits = np.array(small_model(ids))[0, -1]
    full_logits[[util.PAD_ID, util.START_ID, util.UNK_ID]] = -np.inf
    next_char = util.ID_VOCAB[int(np.argmax(full_logits))]
    greedy = util.sample_tweets(small_model, seed_text=text, temperature=0, max_length=len(text) + 1)[0]
    assert greedy == text + ("" if next_char == "<end>" else next_char)


def test_emoji_conditioning_changes_the_output_distribution(emoji_model):
    ids = util.encode_tweets_to_ids(["same text"], length=20).astype(np.int32)[:, :-1]
    first = np.asarray(emoji_model((ids, np.array([[0]], np.int32))))
    second = np.asarray(emoji_model((ids, np.array([[2]], np.int32))))
    assert np.abs(first - second).max() > 1e-4


def test_a_saved_model_reloads_and_predicts_identically(tmp_path, emoji_model):
    import keras
    path = tmp_path / "model.keras"
    emoji_model.save(path)
    reloaded = keras.models.load_model(path)
    ids = util.encode_tweets_to_ids(["reload me", "and me"], length=30).astype(np.int32)[:, :-1]
    emoji = np.array([[1], [2]], np.int32)
    np.testing.assert_array_equal(np.asarray(emoji_model((ids, emoji))), np.asarray(reloaded((ids, emoji))))
    assert util.sample_tweets(reloaded, n=1, temperature=0, emoji_id=1, max_length=20) == \
        util.sample_tweets(emoji_model, n=1, temperature=0, emoji_id=1, max_length=20)


def test_ngram_probabilities_sum_to_one_and_learn_a_repetitive_text():
    model = util.CharNGramModel(order=3).fit(["abcabcabc", "abcab"])
    for history in ["", "a", "ab", "zz", "cab"]:
        total = sum(model.probability(history, c) for c in model.vocabulary)
        assert total == pytest.approx(1.0)
    bits, n = model.bits_per_character(["abcabc"])
    assert n == 6 and bits < 1.0
    with pytest.raises(ValueError, match="order"):
        util.CharNGramModel(order=0)


def test_xz_bits_are_low_for_repetition_and_high_for_noise():
    rng = np.random.default_rng(0)
    noise = ["".join(rng.choice(list(util.CHARACTERS[1:]), 100)) for _ in range(100)]
    assert util.xz_bits_per_character(["the same tweet"] * 500) < 0.5
    assert util.xz_bits_per_character(noise) > 5


def test_training_time_budget_stops_training_and_carries_over_restarts(tmp_path):
    frame = tweets_frame(256)
    data = util.TweetDataset(frame, batch_size=32)
    model = util.build_sequence_model(units=8, embedding_dim=4)
    history = util.train_resumably(model, data, data, tmp_path / "run", time_budget_s=0.0,
                                   max_epochs=50, verbose=0)
    assert len(history) == 1, "a spent budget stops within the first epoch"
    assert (tmp_path / "run" / "best.keras").exists() and (tmp_path / "run" / "done.json").exists()
    again = util.train_resumably(model, data, data, tmp_path / "run", time_budget_s=0.0, verbose=0)
    assert len(again) == 1, "a finished run is not trained again"


def test_training_time_budget_counts_time_spent_inside_an_interrupted_epoch(tmp_path):
    state = tmp_path / "budget.json"
    budget = util.TrainingTimeBudget(60.0, state, save_every_s=0.0)
    budget.set_model(util.build_sequence_model(units=4, embedding_dim=2))
    budget.on_train_begin()
    budget.on_epoch_begin(0)
    time.sleep(0.2)
    budget.on_train_batch_end(0)  # the process dies here, before the epoch ends
    resumed = util.TrainingTimeBudget(60.0, state)
    assert resumed.spent_before >= 0.2
    assert json.loads(state.read_text())["epoch"] == 0


@pytest.mark.parametrize("source", ["frame", "csv"])
def test_bucketed_batches_hold_similar_lengths_and_still_serve_every_tweet_once(tmp_path, source):
    frame = tweets_frame(1000)
    data = frame if source == "frame" else util.write_csv_atomically(frame, tmp_path / "t.csv")
    plain = util.TweetDataset(data, batch_size=20, seed=3, trim=True)
    bucketed = util.TweetDataset(data, batch_size=20, seed=3, trim=True, bucket_batches=10)
    assert len(bucketed) == len(plain) == 50
    for dataset in (plain, bucketed):
        for _ in range(2):
            assert sorted(served_texts(dataset)) == sorted(frame["text"])
            dataset.on_epoch_end()
    plain_width = sum(plain[i][0].size for i in range(len(plain)))
    bucketed_width = sum(bucketed[i][0].size for i in range(len(bucketed)))
    assert bucketed_width < 0.8 * plain_width


# ---------------------------------------------------------------------------
# Scale: a million tweets, tf.distribute, resilience
# ---------------------------------------------------------------------------

def test_repeat_tweets_csv_repeats_the_source_rows_in_order_without_leftovers(tmp_path):
    frame = tweets_frame(7).assign(split="train")
    source = util.write_csv_atomically(frame, tmp_path / "source.csv")
    out = util.repeat_tweets_csv(source, tmp_path / "big" / "repeated.csv", 17, chunksize=3)
    repeated = util.read_tweet_data(out)
    assert list(repeated.columns) == ["text", "emoji", "split"]
    assert repeated["text"].tolist() == (frame["text"].tolist() * 3)[:17]
    assert list((tmp_path / "big").iterdir()) == [out], "no temporary file is left behind"
    assert util.TweetDataset(out, batch_size=4).n_rows == 17


def test_repeat_tweets_csv_of_the_real_tweets_starts_again_after_the_last_one(tmp_path, real_tweets):
    out = util.repeat_tweets_csv(DATA, tmp_path / "r.csv", len(real_tweets) + 5, chunksize=30_000)
    tail = util.read_tweet_data(out).iloc[-10:]
    expected = pd.concat([real_tweets.iloc[-5:], real_tweets.iloc[:5]])
    assert tail["text"].tolist() == expected["text"].tolist()


@pytest.mark.parametrize("kwargs,name", [
    (dict(n_rows=0), "n_rows"), (dict(chunksize=0), "chunksize"),
    (dict(same_file=True), "out_csv"), (dict(empty=True), "source_csv"),
])
def test_repeat_tweets_csv_bad_input_raises_value_error_naming_the_parameter(tmp_path, kwargs, name):
    source = util.write_csv_atomically(tweets_frame(0 if kwargs.get("empty") else 3), tmp_path / "s.csv")
    out = source if kwargs.get("same_file") else tmp_path / "out.csv"
    with pytest.raises(ValueError, match=name):
        util.repeat_tweets_csv(source, out, kwargs.get("n_rows", 5), chunksize=kwargs.get("chunksize", 2))
    assert not (tmp_path / "out.csv").exists()


def test_distribution_strategy_rejects_an_unknown_name_and_default_reads_everything():
    with pytest.raises(ValueError, match="name"):
        util.distribution_strategy("tpu")
    strategy, shard = util.distribution_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and shard == (0, 1)


@pytest.mark.parametrize("config,shard", [
    (None, (0, 1)),
    ({"cluster": {"worker": ["a:1", "b:1", "c:1"]}, "task": {"type": "worker", "index": 2}}, (2, 3)),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "chief", "index": 0}}, (0, 3)),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "worker", "index": 0}}, (1, 3)),
])
def test_tf_config_shard_numbers_the_chief_then_the_workers(monkeypatch, config, shard):
    import json
    monkeypatch.setenv("TF_CONFIG", json.dumps(config) if config else "")
    assert util.tf_config_shard() == shard


@pytest.mark.parametrize("config", [
    "{not json", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
    '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}',
])
def test_tf_config_shard_rejects_a_bad_tf_config(config):
    with pytest.raises(ValueError, match="TF_CONFIG"):
        util.tf_config_shard(config)


def test_fit_with_backups_records_memory_and_a_finished_run_trains_nothing_again(tmp_path):
    data = util.TweetDataset(tweets_frame(100), batch_size=10, trim=True)
    model = util.build_sequence_model(units=8, embedding_dim=4)
    memory = util.MemoryRecorder(every=3, tweets_per_step=10, total_tweets=100)
    result = util.fit_with_backups(model, data, tmp_path / "backup", epochs=2, backup_every=4,
                                   callbacks=[memory])
    assert result["resumed_from"] == (0, 0) and result["steps"] == 20 and len(result["history"]) == 2
    assert util.backup_position(tmp_path / "backup")[:2] == (2, 0)
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["epoch-0002-batch-00000000.weights.h5"]
    frame = memory.frame()
    assert frame.query("epoch == 0")["step"].tolist() == [0, 3, 6, 9, 10]
    assert frame["tweets"].max() == 100 and (frame["rss_mb"] > 0).all()
    assert memory.max_rss_mb >= memory.peak_rss_mb > 0
    again = util.fit_with_backups(model, data, tmp_path / "backup", epochs=2)
    assert again == {"resumed_from": (2, 0), "steps": 0, "history": []}


def test_fit_with_backups_bad_input_raises_value_error_naming_the_parameter(tmp_path):
    model = util.build_sequence_model(units=8, embedding_dim=4)
    with pytest.raises(ValueError, match="dataset"):
        util.fit_with_backups(model, [1, 2, 3], tmp_path)
    with pytest.raises(ValueError, match="shard"):
        util.fit_with_backups(model, util.TweetDataset(tweets_frame(100), batch_size=10, shard=(0, 2)), tmp_path)
    with pytest.raises(ValueError, match="every"):
        util.StepBackup(tmp_path, every=0)


# Training scripts run in a fresh Python: TensorFlow's devices (two logical CPUs) must be
# configured before it starts, and a run is killed with SIGKILL, as a crash would.
SUBPROCESS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}

MIRRORED_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
csv, out = sys.argv[2], sys.argv[3]
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
import data_load_utils as util
keras.utils.set_random_seed(0)
initial = util.build_sequence_model(units=16, embedding_dim=8).get_weights()
np.savez(out + "-initial.npz", *initial)
results = {}
for name, devices in [("default", None), ("mirrored", ["/cpu:0", "/cpu:1"])]:
    strategy, shard = util.distribution_strategy(name, devices=devices)
    data = util.TweetDataset(csv, batch_size=16, shuffle=False, trim=True, shard=shard)
    with strategy.scope():
        model = util.build_sequence_model(units=16, embedding_dim=8)
    model.set_weights(initial)
    result = util.fit_with_backups(model, data, f"{out}-{name}", epochs=2, backup_every=100)
    np.savez(f"{out}-{name}.npz", *model.get_weights())
    results[name] = {"replicas": strategy.num_replicas_in_sync, "steps": result["steps"],
                     "loss": [epoch["loss"] for epoch in result["history"]]}
with open(out + ".json", "w") as f:
    json.dump(results, f)
"""


def run_script(tmp_path, source, *args, timeout=180):
    script = tmp_path / "script.py"
    script.write_text(source)
    return subprocess.run([sys.executable, str(script), str(ROOT), *map(str, args)], env=SUBPROCESS_ENV,
                          capture_output=True, text=True, timeout=timeout)


def load_weights(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def test_mirrored_training_on_two_cpus_matches_one_device(tmp_path):
    """Two replicas each take half of every batch of 16 and their gradients are summed.

    Every tweet here has the same length, so both halves hold the same number of real
    (unmasked) characters and the mean of the two halves' masked losses equals the loss of
    the whole batch: the updates agree up to float32 rounding of the split matmuls and the
    all-reduce, far below 1e-4 relative after 8 Adam steps. (With halves of different
    lengths, tf.distribute averages the two half-batch means, which weights characters
    slightly differently than one device does.)
    """
    import json
    frame = pd.DataFrame({"text": [f"tweet {i:03d} about the same length" for i in range(64)]})
    csv = util.write_csv_atomically(frame.assign(emoji="🔥"), tmp_path / "t.csv")
    done = run_script(tmp_path, MIRRORED_SCRIPT, csv, tmp_path / "run")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "run.json").read_text())
    assert results["default"]["replicas"] == 1 and results["mirrored"]["replicas"] == 2
    assert results["default"]["steps"] == results["mirrored"]["steps"] == 8
    np.testing.assert_allclose(results["mirrored"]["loss"], results["default"]["loss"], rtol=1e-4)
    single, mirrored = load_weights(tmp_path / "run-default.npz"), load_weights(tmp_path / "run-mirrored.npz")
    initial = load_weights(tmp_path / "run-initial.npz")
    assert len(single) == len(mirrored) == len(initial)
    assert min(np.abs(a - a0).max() for a, a0 in zip(single, initial)) > 1e-3, "every weight was trained"
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


RESUME_SCRIPT = """
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
csv, backup_dir, out, kill_epoch, kill_step = sys.argv[2:5] + [int(a) for a in sys.argv[5:7]]
import keras, numpy as np, tensorflow as tf
import data_load_utils as util
tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(0)
data = util.TweetDataset(csv, batch_size=10, trim=True, bucket_batches=3, seed=5)
model = util.build_sequence_model(units=8, embedding_dim=4)

class Trace(keras.callbacks.Callback):
    initial_step = 0  # set by fit_with_backups when it resumes mid-epoch

    def on_train_begin(self, logs=None):
        self.offset = self.initial_step

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.offset + batch + 1
        with open(out + ".steps", "a") as f:
            f.write(f"{self.epoch} {step}\\n")
        if (self.epoch, step) == (kill_epoch, kill_step):
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_end(self, epoch, logs=None):
        self.offset = 0

result = util.fit_with_backups(model, data, backup_dir, epochs=2, backup_every=4, callbacks=[Trace()])
np.savez(out + ".npz", *model.get_weights())
with open(out + ".json", "w") as f:
    json.dump(result, f)
"""


def test_a_killed_run_resumes_at_its_last_backup_and_trains_every_batch_exactly_once(tmp_path):
    """120 tweets in batches of 10: 12 steps an epoch, 2 epochs, a backup every 4 steps.

    The first run is killed at step 7 of epoch 0 (backup at step 4), the second at step 6
    of epoch 1 (backup at step 4 of that epoch); the third finishes. Each resumes right
    after its backup, so together they train each (epoch, step) once, as an uninterrupted
    run does, and end with the same weights (op determinism on, same shuffled order).
    """
    import json
    csv = util.write_csv_atomically(tweets_frame(120), tmp_path / "t.csv")
    backup = tmp_path / "backup"
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)

    def start(name, backup_dir, kill=(-1, -1)):
        return subprocess.Popen([sys.executable, str(script), str(ROOT), str(csv), str(backup_dir),
                                 str(tmp_path / name), *map(str, kill)], env=SUBPROCESS_ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def steps(name):
        lines = (tmp_path / f"{name}.steps").read_text().split()
        return list(zip(map(int, lines[::2]), map(int, lines[1::2])))

    reference = start("reference", tmp_path / "reference_backup")
    positions = []
    for name, kill in [("first", (0, 7)), ("second", (1, 6)), ("third", (-1, -1))]:
        process = start(name, backup, kill)
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == (-9 if kill[0] >= 0 else 0), stderr[-3000:]
        positions.append(util.backup_position(backup)[:2])
    _, stderr = reference.communicate(timeout=180)
    assert reference.returncode == 0, stderr[-3000:]

    assert positions == [(0, 4), (1, 4), (2, 0)]
    epoch = lambda e, first, last: [(e, s) for s in range(first, last + 1)]  # noqa: E731
    assert steps("reference") == epoch(0, 1, 12) + epoch(1, 1, 12)
    assert steps("first") == epoch(0, 1, 7)
    assert steps("second") == epoch(0, 5, 12) + epoch(1, 1, 6)
    assert steps("third") == epoch(1, 5, 12)
    kept = steps("first")[:4] + steps("second")[:-2] + steps("third")
    assert kept == steps("reference"), "every batch up to each backup is kept, none is trained twice"
    result = json.loads((tmp_path / "third.json").read_text())
    assert result["resumed_from"] == [1, 4] and result["steps"] == 8
    for resumed, uninterrupted in zip(load_weights(tmp_path / "third.npz"), load_weights(tmp_path / "reference.npz")):
        np.testing.assert_allclose(resumed, uninterrupted, rtol=1e-5, atol=1e-7)


MULTI_WORKER_SCRIPT = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
csv, out, index, ports = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split(",")
os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                      "task": {"type": "worker", "index": index}})
import keras, numpy as np
import data_load_utils as util
strategy, shard = util.distribution_strategy("multi_worker")
data = util.TweetDataset(csv, batch_size=8, trim=True, shard=shard, seed=0)
keras.utils.set_random_seed(index)  # different initial weights: the strategy must sync them
with strategy.scope():
    model = util.build_sequence_model(units=8, embedding_dim=4)
result = util.fit_with_backups(model, data, out + "-backup", epochs=2, backup_every=2)
np.savez(f"{out}-{index}.npz", *model.get_weights())
with open(f"{out}-{index}.json", "w") as f:
    json.dump({"shard": shard, "replicas": strategy.num_replicas_in_sync, **result}, f)
"""


def free_ports(n):
    import socket
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_localhost_train_their_own_shards_in_sync(tmp_path):
    """Two processes under MultiWorkerMirroredStrategy (TF_CONFIG on localhost ports).

    100 tweets in blocks of 8: shard 0 has 7 batches, shard 1 has 6, so each worker trains
    6 batches an epoch, each spread over 2 steps (half a batch per worker per step): 12 steps
    an epoch. The workers start from different random weights and end with the same ones.
    """
    import json
    csv = util.write_csv_atomically(tweets_frame(100), tmp_path / "t.csv")
    script = tmp_path / "worker.py"
    script.write_text(MULTI_WORKER_SCRIPT)
    ports = ",".join(map(str, free_ports(2)))
    workers = [subprocess.Popen([sys.executable, str(script), str(ROOT), str(csv), str(tmp_path / "run"),
                                 str(i), ports], env={k: v for k, v in SUBPROCESS_ENV.items() if k != "TF_CONFIG"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        for worker in workers:
            _, stderr = worker.communicate(timeout=180)
            assert worker.returncode == 0, stderr[-3000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    results = [json.loads((tmp_path / f"run-{i}.json").read_text()) for i in range(2)]
    assert [r["shard"] for r in results] == [[0, 2], [1, 2]]
    assert [r["replicas"] for r in results] == [2, 2] and [r["steps"] for r in results] == [24, 24]
    assert all(np.isfinite(h["loss"]) for r in results for h in r["history"])
    for a, b in zip(load_weights(tmp_path / "run-0.npz"), load_weights(tmp_path / "run-1.npz")):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for i in range(2):
        assert util.backup_position(tmp_path / "run-backup" / f"worker-{i}")[:2] == (2, 0)


def test_each_pass_over_as_tf_dataset_serves_the_next_epoch_even_when_cut_short():
    dataset = util.TweetDataset(tweets_frame(64), batch_size=8, trim=True, seed=5)
    data = dataset.as_tf_dataset()
    first = next(iter(data))[0].numpy()
    second = next(iter(data))[0].numpy()
    assert dataset.epoch == 1
    np.testing.assert_array_equal(second, dataset[0][0])
    assert not np.array_equal(first, second)
