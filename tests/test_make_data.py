"""Tests for ``make-data``: TweetEval emoji and Sentiment140 to ``tweets.csv``, without TensorFlow.

Real data comes from ``../shared/data`` (tests skip without it); toy files are built in tmp_path.
Downloads go to HTTP servers on 127.0.0.1.
"""

import csv
import functools
import http.server
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tweet_lstm.data import sentiment140, tweeteval
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.cli import main
from tweet_lstm.store.prepare import prepare_tweets

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TWEETEVAL = SHARED / "tweeteval_emoji"
SAMPLE_CSV = SHARED / "sentiment140_sample" / sentiment140.MEMBER

needs_tweeteval = pytest.mark.skipif(not TWEETEVAL.is_dir(), reason=f"{TWEETEVAL} is missing")
needs_sample = pytest.mark.skipif(not SAMPLE_CSV.is_file(), reason=f"{SAMPLE_CSV} is missing")


@pytest.fixture(autouse=True)
def no_tweets_source(monkeypatch):
    """CI exports TWEETS_SOURCE; each test sets it only when it means to."""
    monkeypatch.delenv("TWEETS_SOURCE", raising=False)


def make_data(capsys, *args):
    """Run ``python -m tweet_lstm data`` in this process; return (exit status, stdout, stderr)."""
    status = main(["data", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_csv(path):
    """The CSV at ``path`` with every column as str, nothing taken for NA."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def files_under(folder):
    """Every file below ``folder`` (hidden ones too), as paths relative to it."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def part_leftovers(folder):
    """Everything below ``folder`` whose name ends in ``.part``."""
    return sorted(str(p) for p in Path(folder).rglob("*.part"))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """``serve(folder)`` serves ``folder`` over HTTP on 127.0.0.1 and returns its base URL."""
    servers = []

    def start(folder, handler=None):
        handler = handler or functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that is bound but never listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def raw_copy(tmp_path):
    """A writable copy of the seven real TweetEval files."""
    if not TWEETEVAL.is_dir():
        pytest.skip(f"{TWEETEVAL} is missing")
    return Path(shutil.copytree(TWEETEVAL, tmp_path / "src"))


TOY_FILES = {
    "mapping.txt": "0\t❤\t_red_heart_\t\n1\t🔥\t_fire_\t\n",
    **{f"{split}_text.txt": f"first {split} tweet\nsecond {split} tweet\n" for split in tweeteval.SPLITS},
    **{f"{split}_labels.txt": "0\n1\n" for split in tweeteval.SPLITS},
}


def toy_source(folder, **changed):
    """Write the seven toy TweetEval files to ``folder`` (``changed`` replaces some, str or bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in {**TOY_FILES, **{k.replace("__", "."): v for k, v in changed.items()}}.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).write_bytes(data)
    return folder


# ---------------------------------------------------------------------------
# TweetEval emoji
# ---------------------------------------------------------------------------

@needs_tweeteval
def test_tweeteval_csv_from_the_shared_folder_has_100000_rows_equal_to_the_raw_files(tmp_path, capsys):
    status, out, err = make_data(capsys, "--source", TWEETEVAL, "--out", tmp_path / "tweets.csv")
    assert (status, err) == (0, "")
    assert "100,000 tweets (train 45,000, val 5,000, test 50,000); 20 emojis" in out
    tweets = read_csv(tmp_path / "tweets.csv")
    assert list(tweets.columns) == ["text", "emoji", "split"]
    mapping = dict(line.split("\t")[:2] for line in (TWEETEVAL / "mapping.txt").read_text("utf-8").splitlines())
    for split in tweeteval.SPLITS:
        rows = tweets[tweets["split"] == split]
        texts = (TWEETEVAL / f"{split}_text.txt").read_bytes().decode("utf-8").split("\n")[:-1]
        labels = (TWEETEVAL / f"{split}_labels.txt").read_bytes().decode("utf-8").split("\n")[:-1]
        assert rows["text"].tolist() == texts
        assert rows["emoji"].tolist() == [mapping[label] for label in labels]
    assert files_under(tmp_path) == ["tweeteval_emoji/" + n for n in sorted(tweeteval.FILES)] + ["tweets.csv"]


@needs_tweeteval
def test_download_over_http_gives_the_same_csv_as_a_local_copy(tmp_path, capsys, serve):
    status, out, _ = make_data(capsys, "--base-url", serve(TWEETEVAL), "--out", tmp_path / "web" / "tweets.csv")
    assert status == 0 and "published sha256 checked" in out
    assert make_data(capsys, "--source", TWEETEVAL, "--out", tmp_path / "copy" / "tweets.csv")[0] == 0
    assert (tmp_path / "web" / "tweets.csv").read_bytes() == (tmp_path / "copy" / "tweets.csv").read_bytes()


def test_a_corrupted_download_is_a_sha256_error_naming_the_file_and_leaves_nothing(
        raw_copy, tmp_path, capsys, serve):
    with open(raw_copy / "val_text.txt", "r+b") as stream:
        stream.seek(1000)
        stream.write(b"#")
    actual = tweeteval.sha256_of(raw_copy / "val_text.txt")
    status, _, err = make_data(capsys, "--base-url", serve(raw_copy), "--out", tmp_path / "out" / "tweets.csv")
    assert status == 2
    assert "val_text.txt" in err and actual in err and tweeteval.PUBLISHED_SHA256["val_text.txt"] in err
    assert files_under(tmp_path / "out") == []


def shift_train_labels(folder):
    """The silent shift of old: a blank line at 4,523 of train_labels.txt and an extra label at its end."""
    path = folder / "train_labels.txt"
    lines = path.read_text("utf-8").split("\n")[:-1]
    path.write_text("\n".join(lines[:4522] + [""] + lines[4522:] + ["3"]) + "\n", encoding="utf-8")


def test_blank_label_line_plus_extra_label_is_an_error_naming_file_and_line_and_writes_nothing(
        raw_copy, tmp_path, capsys):
    shift_train_labels(raw_copy)
    status, out, err = make_data(capsys, "--source", raw_copy, "--out", tmp_path / "out" / "tweets.csv")
    assert (status, out) == (2, "")
    assert f"{raw_copy / 'train_labels.txt'}:4523: blank line" in err
    assert files_under(tmp_path / "out") == []


def test_after_a_failed_run_a_fixed_source_succeeds_without_cleanup(raw_copy, tmp_path, capsys):
    original = (raw_copy / "train_labels.txt").read_bytes()
    shift_train_labels(raw_copy)
    assert make_data(capsys, "--source", raw_copy, "--out", tmp_path / "out" / "tweets.csv")[0] == 2
    (raw_copy / "train_labels.txt").write_bytes(original)
    status, out, _ = make_data(capsys, "--source", raw_copy, "--out", tmp_path / "out" / "tweets.csv")
    assert status == 0 and "(the published files)" in out
    assert len(read_csv(tmp_path / "out" / "tweets.csv")) == 100_000


@needs_tweeteval
def test_a_run_killed_mid_download_leaves_part_files_that_the_next_run_removes(tmp_path, capsys, serve):
    release = threading.Event()

    class StallOnTrainText(QuietHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(TWEETEVAL), **kwargs)

        def copyfile(self, source, outputfile):
            if self.path.endswith("train_text.txt"):
                outputfile.write(source.read(1 << 20))
                outputfile.flush()
                release.wait(30)
            else:
                super().copyfile(source, outputfile)

    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TWEETS_SOURCE"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tweet_lstm", "data", "--out", str(out / "tweets.csv"),
         "--base-url", serve(None, StallOnTrainText)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 20
        while not any(p.stat().st_size for p in out.glob(".tweeteval_emoji.*.part/.train_text.txt.*.part")):
            assert time.monotonic() < deadline and process.poll() is None, "the download never started"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
        release.set()
    assert part_leftovers(out)
    status, _, _ = make_data(capsys, "--source", TWEETEVAL, "--out", out / "tweets.csv")
    assert status == 0 and part_leftovers(out) == []


def test_leftovers_of_a_killed_run_in_the_cache_and_out_folders_are_removed(tmp_path, capsys):
    out = tmp_path / "out"
    leftovers = [out / "tweeteval_emoji" / "train_text.txt3kx9q1.part", out / ".tweets.csv.a1b2c3.part",
                 out / "tweets.csvz9y8x7.part", out / ".tweeteval_emoji.old.part" / "mapping.txt"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half a file")
    (out / "unrelated.part").write_text("not ours")
    assert make_data(capsys, "--source", toy_source(tmp_path / "src"), "--out", out / "tweets.csv")[0] == 0
    assert part_leftovers(out) == [str(out / "unrelated.part")]


def test_a_source_folder_missing_a_file_is_an_error_naming_it(tmp_path, capsys):
    source = toy_source(tmp_path / "src")
    (source / "test_labels.txt").unlink()
    status, _, err = make_data(capsys, "--source", source, "--out", tmp_path / "out" / "tweets.csv")
    assert status == 2 and f"{source / 'test_labels.txt'}: no such file" in err
    assert files_under(tmp_path / "out") == []


@needs_tweeteval
def test_tweets_source_naming_a_missing_folder_is_an_error_even_with_a_cache(tmp_path, capsys, monkeypatch):
    out = tmp_path / "tweets.csv"
    assert make_data(capsys, "--source", TWEETEVAL, "--out", out)[0] == 0
    before = out.read_bytes()
    monkeypatch.setenv("TWEETS_SOURCE", str(tmp_path / "missing"))
    status, _, err = make_data(capsys, "--out", out)
    assert status == 2
    assert str(tmp_path / "missing") in err and "TWEETS_SOURCE" in err and "does not exist" in err
    assert out.read_bytes() == before


@needs_tweeteval
def test_a_cache_of_the_published_files_builds_offline_without_a_source(tmp_path, capsys, closed_port):
    assert make_data(capsys, "--source", TWEETEVAL, "--out", tmp_path / "tweets.csv")[0] == 0
    status, out, _ = make_data(capsys, "--base-url", f"http://127.0.0.1:{closed_port}/",
                               "--out", tmp_path / "tweets.csv")
    assert status == 0 and "published sha256, reused" in out


def test_offline_without_a_source_fails_fast_and_names_tweets_source(tmp_path, capsys, closed_port):
    start = time.perf_counter()
    status, _, err = make_data(capsys, "--base-url", f"http://127.0.0.1:{closed_port}/",
                               "--out", tmp_path / "tweets.csv")
    assert status == 2 and err.startswith("python -m tweet_lstm data: could not download") and "TWEETS_SOURCE" in err
    assert time.perf_counter() - start < 10
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("changed, where, what", [
    ({"val_labels__txt": "0\none\n"}, "val_labels.txt:2", "'one' is not an integer label"),
    ({"test_labels__txt": "0\n7\n"}, "test_labels.txt:2", "label 7 is not in mapping.txt"),
    ({"train_labels__txt": "0\n\n1\n"}, "train_labels.txt:2", "blank line"),
    ({"mapping__txt": "0\t❤\t_red_heart_\t\n1 🔥 _fire_\n"}, "mapping.txt:2", "three tab-separated fields"),
    ({"mapping__txt": "0\t❤\t_red_heart_\n1\t🔥\t_fire_\n0\t😂\t_joy_\n"}, "mapping.txt:3",
     "label 0 again (first on line 1)"),
    ({"val_text__txt": "first\nsecond caf\xe9 tweet\n".encode("latin-1")}, "val_text.txt:2", "not valid UTF-8"),
    ({"test_text__txt": "first\nsecond\nthird\n"}, "test_text.txt:3", "has 3 lines but test_labels.txt has 2"),
    ({"train_text__txt": "first\n \n"}, "train_text.txt:2", "blank line"),
    ({"val_text__txt": "first\r\nsecond\r\n"}, "val_text.txt:1", "carriage return"),
], ids=["non-integer label", "label not in mapping", "blank label line", "malformed mapping line",
        "duplicate mapping label", "latin-1 text file", "unequal line counts", "blank text line",
        "CRLF text file"])
def test_a_bad_raw_file_is_an_error_naming_file_and_line_and_writes_nothing(
        tmp_path, capsys, changed, where, what):
    source = toy_source(tmp_path / "src", **changed)
    status, _, err = make_data(capsys, "--source", source, "--out", tmp_path / "out" / "tweets.csv")
    assert status == 2
    assert f"{source / where}: " in err and what in err
    assert files_under(tmp_path / "out") == []


LINE_TEXT = st.text(st.characters(blacklist_characters="\n\r\0", blacklist_categories=("Cs",)), min_size=1)


@settings(max_examples=examples(40), deadline=None)
@given(rows=st.lists(st.tuples(LINE_TEXT.filter(str.strip), st.sampled_from(["0", "1"])), max_size=8))
def test_any_tweets_and_labels_round_trip_through_the_csv(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("toy")
    lines = "".join(f"{text}\n" for text, _ in rows)
    labels = "".join(f"{label}\n" for _, label in rows)
    source = toy_source(folder / "src", train_text__txt=lines, train_labels__txt=labels)
    tweeteval.make_csv(folder / "tweets.csv", source=source)
    train = read_csv(folder / "tweets.csv").query("split == 'train'")
    assert train["text"].tolist() == [text for text, _ in rows]
    assert train["emoji"].tolist() == [{"0": "❤", "1": "🔥"}[label] for _, label in rows]


# ---------------------------------------------------------------------------
# Sentiment140
# ---------------------------------------------------------------------------

def write_zip(path, csv_bytes, member=sentiment140.MEMBER, compression=zipfile.ZIP_DEFLATED):
    """Write a zip at ``path`` holding ``csv_bytes`` as ``member``; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr(member, csv_bytes)
    return path


TOY_S140 = (b'"0","11","Mon Apr 06 22:19:45 PDT 2009","NO_QUERY","ann","plain ascii"\r\n'
            b'"4","12","Mon Apr 06 22:19:46 PDT 2009","NO_QUERY","bob","caf\xe9 in latin-1 &amp; more"\r\n'
            b'"4","13","Mon Apr 06 22:19:47 PDT 2009","NO_QUERY","cy","caf\xc3\xa9 in UTF-8, \xe2\x9c\xa8"\r\n')


@pytest.fixture
def sample_zip(tmp_path):
    """The 20,000-row sample zipped as the published zip would hold it."""
    if not SAMPLE_CSV.is_file():
        pytest.skip(f"{SAMPLE_CSV} is missing")
    return write_zip(tmp_path / "served" / sentiment140.ZIP_NAME, SAMPLE_CSV.read_bytes())


def sample_rows():
    """The sample's rows, parsed independently of the code under test."""
    return list(csv.reader(io.StringIO(SAMPLE_CSV.read_bytes().decode("utf-8"), newline="")))


def test_sentiment140_zip_over_http_gives_every_row_with_polarity_and_a_fixed_split(
        sample_zip, tmp_path, capsys, serve):
    args = ("--dataset", "sentiment140", "--base-url", serve(sample_zip.parent))
    status, out, err = make_data(capsys, *args, "--out", tmp_path / "a" / "tweets.csv")
    assert (status, err) == (0, "")
    assert "20,000 tweets" in out and "negative 9,999, positive 10,001" in out
    assert "0 lines with bytes outside UTF-8" in out and "not the published zip" in out
    data = (tmp_path / "a" / "tweets.csv").read_bytes()
    data.decode("utf-8")
    tweets = read_csv(io.BytesIO(data))
    rows = sample_rows()
    assert list(tweets.columns) == ["text", "polarity", "split"]
    assert tweets["text"].tolist() == [row[5] for row in rows]
    assert tweets["polarity"].tolist() == [{"0": "negative", "4": "positive"}[row[0]] for row in rows]
    assert tweets["split"].tolist() == [sentiment140.split_of(row[1]) for row in rows]
    shares = tweets["split"].value_counts(normalize=True)
    assert abs(shares["train"] - 0.90) < 0.01 and abs(shares["val"] - 0.05) < 0.01
    assert make_data(capsys, *args, "--out", tmp_path / "b" / "tweets.csv")[0] == 0
    assert (tmp_path / "b" / "tweets.csv").read_bytes() == data
    assert part_leftovers(tmp_path) == []
    store = prepare_tweets(tmp_path / "a" / "tweets.csv", tmp_path / "store", chunksize=3_000)
    streamed = TweetBatches(store, batch_size=256, bucket_batches=10)
    served = sum(len(streamed.batch_rows(0, i)) for i in range(len(streamed)))
    assert served == len(store) == 20_000 - sum(store.manifest["dropped"].values()), "no emoji column needed"
    assert store.manifest["dropped"]["empty text"] == 0 and streamed.batch(0, 0)[0].dtype == "int32"


def test_split_of_is_a_pinned_function_of_the_tweet_id_alone():
    pinned = {"1467810369": "train", "1467810672": "train", "1467813992": "val", "1467814180": "val",
              "1467812025": "test", "1467813782": "test"}
    assert {tweet_id: sentiment140.split_of(tweet_id) for tweet_id in pinned} == pinned


def test_a_sentiment140_line_that_is_not_utf8_is_decoded_as_windows_1252(tmp_path, capsys):
    source = write_zip(tmp_path / "src" / sentiment140.ZIP_NAME, TOY_S140)
    status, out, _ = make_data(capsys, "--dataset", "sentiment140", "--source", source,
                               "--out", tmp_path / "tweets.csv")
    assert status == 0 and "2 lines decoded as UTF-8; 1 lines with bytes outside UTF-8, decoded as Windows-1252" in out
    tweets = read_csv(io.StringIO((tmp_path / "tweets.csv").read_bytes().decode("utf-8")))
    assert tweets["text"].tolist() == ["plain ascii", "café in latin-1 &amp; more", "café in UTF-8, ✨"]
    assert tweets["polarity"].tolist() == ["negative", "positive", "positive"]


@settings(max_examples=examples(50), deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",))), max_size=10))
def test_any_sentiment140_text_round_trips_through_write_rows(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("rows") / "tweets.csv"
    counts = sentiment140.write_rows(((text, "positive", "train") for text in texts), path)
    assert counts == ({"positive": len(texts), "train": len(texts)} if texts else {})
    assert read_csv(path)["text"].tolist() == texts


@pytest.mark.parametrize("raw, text", [
    (b"don\x92t", "don\u2019t"), (b"wait\x85", "wait\u2026"), (b"\x93quoted\x94", "\u201cquoted\u201d"),
    (" \u2764 caf".encode() + b"\xe9", " \u2764 caf\u00e9"), (b"odd \x81 byte", "odd \x81 byte"),
])
def test_bytes_outside_utf8_are_windows_1252_and_the_utf8_around_them_stays_utf8(raw, text):
    assert sentiment140.decode_line(raw) == (text, 1 if raw != b"\x93quoted\x94" else 2)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=5),
                          st.integers(0x80, 0xFF)), max_size=12))
def test_decode_line_keeps_valid_utf8_and_turns_each_other_byte_into_its_windows_1252_character(pieces):
    raw = b"".join(p.encode("utf-8") if isinstance(p, str) else bytes([p]) for p in pieces)
    text, n_bytes = sentiment140.decode_line(raw)
    text.encode("utf-8")
    try:
        assert (text, n_bytes) == (raw.decode("utf-8"), 0)
    except UnicodeDecodeError:
        assert n_bytes > 0 and len(text) <= len(raw)


@pytest.mark.parametrize("layout", ["zip", "csv", "folder with zip", "folder with csv"])
def test_a_sentiment140_source_may_be_the_zip_or_the_csv_or_a_folder_holding_one(tmp_path, capsys, layout):
    folder = tmp_path / "src"
    if "zip" in layout:
        path = write_zip(folder / sentiment140.ZIP_NAME, TOY_S140)
    else:
        folder.mkdir()
        path = folder / sentiment140.MEMBER
        path.write_bytes(TOY_S140)
    source = folder if layout.startswith("folder") else path
    status, out, _ = make_data(capsys, "--dataset", "sentiment140", "--source", source,
                               "--out", tmp_path / "tweets.csv")
    assert status == 0 and "3 tweets" in out
    assert read_csv(tmp_path / "tweets.csv")["text"].iloc[1] == "café in latin-1 &amp; more"


def test_a_zip_from_the_published_address_must_have_the_published_sha256(tmp_path, capsys, serve, monkeypatch):
    url = serve(write_zip(tmp_path / "served" / sentiment140.ZIP_NAME, TOY_S140).parent)
    monkeypatch.setattr(sentiment140, "BASE_URL", url)
    status, _, err = make_data(capsys, "--dataset", "sentiment140", "--out", tmp_path / "out" / "tweets.csv")
    assert status == 2 and sentiment140.ZIP_SHA256 in err and sentiment140.ZIP_NAME in err
    assert files_under(tmp_path / "out") == []


def test_a_cached_zip_that_is_not_the_published_one_never_hides_the_download(tmp_path, capsys, serve):
    out = tmp_path / "out" / "tweets.csv"
    first = serve(write_zip(tmp_path / "one" / sentiment140.ZIP_NAME, TOY_S140).parent)
    second = serve(write_zip(tmp_path / "two" / sentiment140.ZIP_NAME, TOY_S140.splitlines(True)[0]).parent)
    assert make_data(capsys, "--dataset", "sentiment140", "--base-url", first, "--out", out)[0] == 0
    assert make_data(capsys, "--dataset", "sentiment140", "--base-url", second, "--out", out)[0] == 0
    assert read_csv(out)["text"].tolist() == ["plain ascii"]


def test_a_sentiment140_zip_with_a_bad_crc_is_an_error_and_writes_nothing(tmp_path, capsys):
    path = write_zip(tmp_path / "src" / sentiment140.ZIP_NAME, TOY_S140, compression=zipfile.ZIP_STORED)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"plain ascii", b"plain ASCII"))
    status, _, err = make_data(capsys, "--dataset", "sentiment140", "--source", path,
                               "--out", tmp_path / "out" / "tweets.csv")
    assert status == 2 and f"{path}: damaged zip" in err and "CRC" in err
    assert files_under(tmp_path / "out") == []


@pytest.mark.parametrize("line, what", [
    (b'"2","14","date","NO_QUERY","dee","neutral"\r\n', "polarity '2' is not 0 or 4"),
    (b'"4","14","date","dee","five fields"\r\n', "expected six quoted fields"),
])
def test_a_bad_sentiment140_row_is_an_error_naming_file_and_line(tmp_path, capsys, line, what):
    path = write_zip(tmp_path / "src" / sentiment140.ZIP_NAME, TOY_S140 + line)
    status, _, err = make_data(capsys, "--dataset", "sentiment140", "--source", path,
                               "--out", tmp_path / "out" / "tweets.csv")
    assert status == 2 and f"{path}/{sentiment140.MEMBER}:4: " in err and what in err
    assert files_under(tmp_path / "out") == []


def test_make_data_imports_neither_tensorflow_nor_keras():
    code = "import sys, tweet_lstm.cli; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr
