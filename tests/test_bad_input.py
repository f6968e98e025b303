"""A battery of bad inputs a new user meets: each ends in an error naming the file or the argument, or in
the right answer, never a silently wrong one."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import ROOT, SUBPROCESS_ENV, start_script, toy_store, tweets_frame
from tests.test_cli import trained  # noqa: F401  (a model trained by the command line, shared)
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.data.download import fetch_file
from tweet_lstm.store.prepare import prepare_tweets
from tweet_lstm.store.store import TweetStore
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
    store = TweetStore.from_frame(pd.DataFrame({"text": ["a", "b", "c"], "emoji": ["🔥", "", None]}, dtype=object))
    (_, emoji_ids), _ = TweetBatches(store, batch_size=3, emoji=True, shuffle=False, bucket_batches=1).batch(0, 0)
    assert emoji_ids[:, 0].tolist() == [0, 1, 1] and store.emojis == ["🔥"]


# Training: run folders and saved files ---------------------------------------------------------

def one_round(**changes):
    from tweet_lstm.train.settings import TrainSettings
    return TrainSettings(**{"minutes": 1.0, "units": 4, "max_rounds": 1} | changes)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.training import train_resumably
    run_dir = tmp_path_factory.mktemp("run")
    train_resumably(build_sequence_model(units=4, embedding_dim=4), TweetBatches(toy_store(20), batch_size=10),
                    lambda m: 1.0, run_dir, one_round(), verbose=0)
    return run_dir


@pytest.mark.parametrize("change, named", [("other tweets", "data"), ("another model", "model"),
                                           ("other batches", "data"), ("other settings", "dropout")])
@pytest.mark.tf
def test_a_run_folder_reused_with_other_data_or_another_model_is_an_error_naming_what_differs(
        finished_run, change, named):
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.training import train_resumably
    data = TweetBatches(toy_store(30 if change == "other tweets" else 20),
                        batch_size=5 if change == "other batches" else 10)
    model = build_sequence_model(units=8 if change == "another model" else 4, embedding_dim=4)
    settings = one_round(dropout=0.1) if change == "other settings" else one_round()
    with pytest.raises(ValueError, match=rf"{finished_run} holds a run with other settings \({named}"):
        train_resumably(model, data, lambda m: 1.0, finished_run, settings, verbose=0)


@pytest.mark.tf
def test_a_half_written_checkpoint_a_kill_left_is_removed_by_the_next_run_even_a_finished_one(finished_run):
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.training import train_resumably
    left = [finished_run / ".saving-best-1a2b.keras", finished_run / "backup" / ".saving-3c4d.weights.h5"]
    for path in left:
        path.write_bytes(b"half a file")
    train_resumably(build_sequence_model(units=4, embedding_dim=4), TweetBatches(toy_store(20), batch_size=10),
                    lambda m: 1.0, finished_run, one_round(), verbose=0)
    assert not any(path.exists() for path in left)


@pytest.mark.parametrize("damage", ["garbage", "empty"])
@pytest.mark.tf
def test_a_damaged_checkpoint_or_backup_is_an_error_naming_the_file(tmp_path, damage):
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.resume import restore_weights
    for name in ("best.keras", "step-000000004.weights.h5"):
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
    from tweet_lstm.train.model import build_sequence_model
    from tweet_lstm.train.training import train_resumably
    with pytest.raises(ValueError, match="validate returned"):
        train_resumably(build_sequence_model(units=4, embedding_dim=4), TweetBatches(toy_store(20), batch_size=10),
                        lambda m: score, tmp_path, one_round(), verbose=0)
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


# The store: codes wide enough, splits by one rule, files that check themselves, prepares at once ---------

STORE_FRAME = pd.DataFrame({"text": [f"tweet {i} " + "x" * i for i in range(40)],
                            "emoji": [["🔥", "🎄", None][i % 3] for i in range(40)],
                            "split": [["train", "val", "test"][i % 3] for i in range(40)]})


def test_a_split_column_of_300_values_is_refused_by_every_reader_naming_the_file_line_and_value(tmp_path):
    splits = ["train", " Val", "TEST"] + [f"split {i}" for i in range(297)]
    path = write_csv_atomically(pd.DataFrame({"text": [f"tweet {i}" for i in range(300)], "split": splits}),
                                tmp_path / "tweets.csv")
    for name, read in readers(path).items():
        with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}, line 5: split 'split 0'; "):
            read()
    assert not (tmp_path / "store").exists()


def test_70000_distinct_emojis_are_read_back_exactly(tmp_path):
    frame = pd.DataFrame({"text": [f"tweet {i}" for i in range(70_000)],
                          "emoji": [chr(0x4E00 + i % 20_000) + str(i // 20_000) for i in range(70_000)]})
    prepared = prepare_tweets(write_csv_atomically(frame, tmp_path / "t.csv"), tmp_path / "store")
    for store in (prepared, TweetStore.from_frame(frame)):
        assert len(store.emojis) == 70_000
        assert [store.emojis[code] for code in store.emoji] == frame["emoji"].tolist()


def overwrite(name, data):
    """A damage: the store file ``name`` overwritten in place, at the same size, with ``data(size)``."""
    def damage(store_dir):
        path = store_dir / name
        path.write_bytes(data(path.stat().st_size))
    return damage


def truncate(name):
    def damage(store_dir):
        with open(store_dir / name, "r+b") as f:
            f.truncate((store_dir / name).stat().st_size - 1)
    return damage


DAMAGES = {
    "ids.bin overwritten at the same size": (overwrite("ids.bin", lambda n: b"\x05" * n),
                                             "ids.bin does not match its manifest (checksum)"),
    "split.bin overwritten at the same size": (overwrite("split.bin", lambda n: b"\x00" * n),
                                               "split.bin does not match its manifest (checksum)"),
    "manifest.json truncated": (lambda d: (d / "manifest.json").write_text((d / "manifest.json").read_text()[:50]),
                                "manifest.json cannot be read"),
    "manifest.json empty": (lambda d: (d / "manifest.json").write_text(""), "manifest.json cannot be read"),
    "manifest.json a JSON list": (lambda d: (d / "manifest.json").write_text("[1, 2]"),
                                  "manifest.json holds a list, not a store's manifest"),
    "ids.bin deleted": (lambda d: (d / "ids.bin").unlink(), "ids.bin is missing"),
    "emoji.bin truncated": (truncate("emoji.bin"), "emoji.bin has 159 bytes where its manifest says 160"),
    "split.bin truncated": (truncate("split.bin"), "split.bin has 159 bytes where its manifest says 160"),
}


@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_a_damaged_store_is_an_error_naming_the_file_on_open_and_prepare_rebuilds_it_saying_why(
        tmp_path, capsys, case):
    path, store_dir = write_csv_atomically(STORE_FRAME, tmp_path / "t.csv"), tmp_path / "store"
    whole = prepare_tweets(path, store_dir)
    expected = (whole.texts(), whole.emoji.tolist(), whole.split.tolist())
    damage, problem = DAMAGES[case]
    damage(store_dir)
    with pytest.raises(ValueError, match=rf"^{re.escape(f'{store_dir}: {problem}')}"):
        TweetStore.open(store_dir)
    with pytest.raises(ValueError, match=re.escape(problem)):
        TweetBatches(store_dir)
    capsys.readouterr()
    rebuilt = prepare_tweets(path, store_dir)
    assert capsys.readouterr().out.startswith(f"rebuilding {store_dir}: {problem}")
    assert (rebuilt.texts(), rebuilt.emoji.tolist(), rebuilt.split.tolist()) == expected
    assert TweetStore.open(store_dir).texts() == expected[0]


CONCURRENT_PREPARE = """
import hashlib, json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tweet_lstm.store.prepare import prepare_tweets
csv, store_dir, go, out = sys.argv[2:6]
Path(out + ".ready").touch()
while not Path(go).exists():
    time.sleep(0.001)
prepare_tweets(csv, store_dir, chunksize=200)
files = sorted(Path(store_dir).iterdir())
Path(out).write_text(json.dumps([[p.name, p.stat().st_ino, hashlib.sha256(p.read_bytes()).hexdigest()] for p in files]))
"""


def test_processes_preparing_one_folder_at_once_all_succeed_and_share_one_store(tmp_path):
    path = write_csv_atomically(tweets_frame(2000), tmp_path / "t.csv")
    script, go = tmp_path / "prepare.py", tmp_path / "go"
    script.write_text(CONCURRENT_PREPARE)
    outs = [tmp_path / f"out{i}.json" for i in range(4)]
    processes = [start_script(script, path, tmp_path / "store", go, out) for out in outs]
    deadline = time.monotonic() + 120
    while not all(Path(f"{out}.ready").exists() for out in outs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes), "a process never started"
        time.sleep(0.01)
    go.touch()
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    stores = [json.loads(out.read_text()) for out in outs]
    assert all(store == stores[0] for store in stores), "one process built the store, the others reused it"
    assert [name for name, *_ in stores[0]] == ["emoji.bin", "ids.bin", "manifest.json", "offsets.bin"]
    assert not list(tmp_path.glob(".store.partial-*"))


# The command line: every argument checked before any work, one line and exit code 2 ------------

def cli(*args, timeout=120):
    """``python -m tweet_lstm ARGS`` in a fresh process; the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "tweet_lstm", *map(str, args)], cwd=ROOT, env=SUBPROCESS_ENV,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def model_dir(tmp_path):
    """What ``generate`` reads before it loads a model: settings.json (70,000 emojis) and model.keras."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps({"emojis": [f"e{i}" for i in range(70_000)], "length": 160}))
    (folder / "model.keras").write_bytes(b"never loaded: the arguments are refused first")
    return folder


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["--n", "0"], "argument --n: must be at least 1, got 0"),
    (["--temperature", "nan"], "argument --temperature: must be at least 0, got nan"),
    (["--start", "x" * 161], "--start has 161 characters, more than the model's 160"),
    (["--start", "café ☕"], "--start has characters the model never saw (outside its 93): 'é☕'"),
    (["--emoji", "🦄"], "--emoji '🦄' is not one the model knows: e0 e1 e2"),
])
def test_generate_refuses_a_bad_argument_in_one_line_naming_the_flag_before_loading_tensorflow(
        model_dir, args, message):
    done = cli("generate", model_dir, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr) < 1000, "the emoji list is cut to a few, with their count"


def test_an_unknown_emoji_lists_a_few_and_the_count_not_every_emoji(model_dir):
    done = cli("generate", model_dir, "--emoji", "🦄")
    assert "... (70,000 in all)" in done.stderr and done.stderr.count(" e") <= 12


@pytest.mark.parametrize("args, message", [
    (["--minutes", "1e308"], "argument --minutes: must be at most 1,000,000, got 1e308"),
    (["--minutes", "inf"], "argument --minutes: must be more than 0, got inf"),
    (["--minutes", "1", "--seed", "-5"], "argument --seed: must be at least 0, got -5"),
    (["--minutes", "1", "--units", "0"], "argument --units: must be at least 1, got 0"),
])
def test_train_refuses_a_bad_argument_before_preparing_anything(tmp_path, args, message):
    csv = write_csv_atomically(tweets_frame(40), tmp_path / "t.csv")
    done = cli("train", csv, *args, "--out", tmp_path / "out")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists(), "nothing was prepared or written"


def test_train_into_an_out_that_is_a_file_is_refused_naming_out(tmp_path):
    csv = write_csv_atomically(tweets_frame(40), tmp_path / "t.csv")
    (tmp_path / "out").write_text("a file")
    done = cli("train", csv, "--minutes", "1", "--out", tmp_path / "out")
    assert done.returncode == 2 and f"--out {tmp_path / 'out'} is a file" in done.stderr
    assert "Traceback" not in done.stderr and (tmp_path / "out").read_text() == "a file"


def test_training_never_validates_or_trains_on_test_tweets_and_says_where_validation_comes_from():
    from tweet_lstm.cli import split_for_training
    frame = tweets_frame(100).assign(split=["test" if i % 4 == 0 else "train" for i in range(100)])
    store = TweetStore.from_frame(frame)
    train, val, note = split_for_training(store)
    test_texts = set(frame["text"][frame["split"] == "test"])
    assert not (set(train.texts()) | set(val.texts())) & test_texts
    assert len(train) + len(val) == 75 and len(val) == 4 and sorted(train.texts() + val.texts()) == sorted(
        frame["text"][frame["split"] == "train"])
    assert note == "every twentieth training tweet (the CSV has no val split); its 25 test tweets are left out"
    with_val = TweetStore.from_frame(frame.assign(split=["val" if i % 10 == 0 else s for i, s in enumerate(frame["split"])]))
    assert split_for_training(with_val)[2].startswith("its val split")


@pytest.mark.slow
def test_a_rerun_with_another_csv_into_the_same_out_is_refused_and_leaves_out_as_it_was(trained, tmp_path):
    folder, done = trained
    assert done.returncode == 0, done.stderr
    before = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in (folder / "model").rglob("*"))
    other = write_csv_atomically(tweets_frame(60), tmp_path / "other.csv")
    again = cli("train", other, "--minutes", 0.05, "--units", 8, "--out", folder / "model")
    assert again.returncode == 2 and "holds a model of another CSV" in again.stderr
    assert sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in (folder / "model").rglob("*")) == before


@pytest.mark.slow
def test_generating_more_tweets_than_a_batch_shows_progress_and_writes_every_one(trained):
    folder, _ = trained
    done = cli("generate", folder / "model", "--n", 1_100, "--seed", 3, "--temperature", 1.0)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1_100
    assert "generated 1,024 of 1,100 tweets" in done.stderr and "generated 1,100 of 1,100 tweets" in done.stderr
