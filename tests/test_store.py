"""Tests for ``prepare_tweets`` and ``TweetStore``: a tweets CSV prepared once into ids, read by index.

No TensorFlow. A kill mid-prepare and a batch asked for in a fresh process run in subprocesses.
"""

import csv
import hashlib
import json
import os
import signal
import time
import zlib

import numpy as np
import pandas as pd
import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import SUBPROCESS_ENV, start_script, tweets_frame
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.store.ids import ID_VOCAB, decode_ids_to_text, encode_tweets_to_ids
from tweet_lstm.store.prepare import prepare_tweets
from tweet_lstm.store.store import TweetStore
from tweet_lstm.data.text import clean_tweet_text
from tweet_lstm.data.tweet_csv import read_tweet_data

MESSY = ["hello @bob &amp; Québec", "line one\nline two\r\nthree", 'she said "hi", twice', "x" * 200,
         "tabs\tand  spaces ", "naïve café ß", "@only_a_handle", "😀🔥", "ok 😀 fine", "a" * 160]


def expected_texts(csv_path, length=160):
    """What the store must hold: ``read_tweet_data``'s texts, cleaned, cut, without the emptied ones."""
    texts = clean_tweet_text(read_tweet_data(csv_path)["text"]).str.slice(0, length)
    return texts[texts.str.len() > 0].tolist()


def partials(store_dir):
    return sorted(store_dir.parent.glob(f".{store_dir.name}.partial-*"))


def file_identities(store_dir):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [store_dir, *store_dir.iterdir()]}


@pytest.mark.parametrize("length,chunksize", [(160, 100_000), (160, 3), (25, 4)])
def test_prepared_texts_are_the_read_tweets_cleaned_and_cut_and_their_id_rows_are_encode_tweets_to_ids(
        tmp_path, length, chunksize):
    path = write_csv_atomically(pd.DataFrame({"text": MESSY * 3}), tmp_path / "t.csv")
    store = prepare_tweets(path, tmp_path / "store", length=length, chunksize=chunksize)
    texts = expected_texts(path, length)
    assert len(store) == len(texts) == 24 and store.texts() == texts
    assert isinstance(store.ids, np.memmap) and store.in_memory().texts() == texts
    np.testing.assert_array_equal(store.lengths, [len(t) for t in texts])
    for rows in (np.arange(len(texts)), [5, 0, 3, 3], [1]):
        chosen = [texts[r] for r in rows]
        assert store.texts(rows) == chosen
        for trim in (True, False):
            np.testing.assert_array_equal(store.id_rows(rows, trim=trim),
                                          encode_tweets_to_ids(chosen, length, trim=trim))


def test_a_store_from_a_frame_holds_the_very_arrays_prepare_writes_for_the_same_tweets(tmp_path):
    frame = pd.DataFrame({"text": MESSY, "emoji": ["🔥", "🎄", None] * 3 + ["🔥"], "split": ["train", "val"] * 5})
    prepared = prepare_tweets(write_csv_atomically(frame, tmp_path / "t.csv"), tmp_path / "store", chunksize=3)
    in_memory = TweetStore.from_frame(frame)
    for array in ("ids", "offsets", "emoji", "split"):
        np.testing.assert_array_equal(getattr(in_memory, array), getattr(prepared, array))
        assert getattr(in_memory, array).dtype == getattr(prepared, array).dtype
    assert (in_memory.emojis, in_memory.splits) == (prepared.emojis, prepared.splits)
    assert in_memory.manifest["dropped"] == {"empty after cleaning": 2}


def test_the_manifest_counts_tweets_and_rows_dropped_by_reason_and_stamps_the_source(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('text,emoji,split\nhello,🔥,train\ntext,emoji,split\n,🔥,train\n@bob,🎄,val\n😀😀,,test\n'
                    'bye,🎄,val\n"a, b",,train\n', encoding="utf-8")
    store = prepare_tweets(path, tmp_path / "store")
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == store.manifest
    assert (manifest["tweets"], manifest["characters"], manifest["length"]) == (3, 12, 160)
    assert manifest["dropped"] == {"header repeated": 1, "empty text": 1, "empty after cleaning": 2}
    stat = path.stat()
    assert manifest["source"] == {"path": str(path), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                  "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert manifest["vocabulary"] == list(ID_VOCAB)
    assert store.texts() == ["hello", "bye", "a, b"]
    assert [store.emojis[e] if e >= 0 else None for e in store.emoji] == ["🔥", "🎄", None]
    assert store.split_of("val").texts() == ["bye"] and store.split_of("train").texts() == ["hello", "a, b"]
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "store").iterdir()}
    assert {k: v for k, v in sizes.items() if k != "manifest.json"} == \
        {"ids.bin": 12, "offsets.bin": 4 * 8, "emoji.bin": 3 * 4, "split.bin": 3 * 4}
    assert manifest["files"] == {name: {"bytes": size, "crc32": zlib.crc32((tmp_path / "store" / name).read_bytes())}
                                 for name, size in sizes.items() if name != "manifest.json"}


def test_a_csv_without_emoji_or_split_makes_a_store_without_them(tmp_path):
    store = prepare_tweets(write_csv_atomically(tweets_frame(10)[["text"]], tmp_path / "t.csv"), tmp_path / "s")
    assert (store.emoji, store.emojis, store.splits) == (None, None, None)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["ids.bin", "manifest.json", "offsets.bin"]
    with pytest.raises(ValueError, match="emoji=True needs"):
        TweetBatches(store, batch_size=2, emoji=True)
    with pytest.raises(ValueError, match="no split column"):
        store.split_of("train")


def test_opening_a_folder_without_a_store_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"prepare_tweets\(csv_path, store_dir\)"):
        TweetStore.open(tmp_path)


def test_a_rerun_reuses_the_store_without_rewriting_it(tmp_path):
    path = write_csv_atomically(tweets_frame(50), tmp_path / "t.csv")
    first = prepare_tweets(path, tmp_path / "store").texts()
    before = file_identities(tmp_path / "store")
    time.sleep(0.01)
    assert prepare_tweets(path, tmp_path / "store").texts() == first
    assert file_identities(tmp_path / "store") == before


def test_a_changed_source_is_rebuilt_even_a_same_size_edit_with_its_mtime_restored_saying_why(tmp_path, capsys):
    path = write_csv_atomically(pd.DataFrame({"text": ["hello world", "second tweet"]}), tmp_path / "t.csv")
    store_dir = tmp_path / "store"
    first = prepare_tweets(path, store_dir)
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"hello", b"HELLO"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    edited = prepare_tweets(path, store_dir)
    assert edited.texts() == ["HELLO world", "second tweet"]
    assert edited.manifest["source"]["sha256"] != first.manifest["source"]["sha256"]
    with open(path, "a", encoding="utf-8") as f:
        f.write("a third\n")
    assert prepare_tweets(path, store_dir).texts() == ["HELLO world", "second tweet", "a third"]
    assert prepare_tweets(path, store_dir, length=5).texts() == ["HELLO", "secon", "a thi"]
    assert partials(store_dir) == []
    changed = f"rebuilding {store_dir}: its source is not {path} as it is now"
    assert capsys.readouterr().out.splitlines() == [changed, changed, f"rebuilding {store_dir}: its tweets were cut to "
                                                                      "160 characters, not 5"]


def test_leftover_partial_folders_beside_the_store_are_removed(tmp_path):
    (tmp_path / ".store.partial-dead").mkdir()
    (tmp_path / ".store.partial-dead" / "ids.bin").write_bytes(b"half")
    prepare_tweets(write_csv_atomically(tweets_frame(5), tmp_path / "t.csv"), tmp_path / "store")
    assert partials(tmp_path / "store") == []


SLOW_PREPARE = """
import sys, time
sys.path.insert(0, sys.argv[1])
import tweet_lstm.store.prepare as store
read = store.iter_tweet_data
def slowly(*args, **kwargs):
    for chunk in read(*args, **kwargs):
        time.sleep(0.05)
        yield chunk
store.iter_tweet_data = slowly
store.prepare_tweets(sys.argv[2], sys.argv[3], chunksize=50)
"""


@pytest.mark.parametrize("before", ["no store yet", "an older store"])
def test_a_kill_during_prepare_leaves_no_half_store_and_the_rerun_completes(tmp_path, before):
    path = write_csv_atomically(tweets_frame(3000), tmp_path / "t.csv")
    store_dir = tmp_path / "store"
    if before == "an older store":
        old = prepare_tweets(write_csv_atomically(tweets_frame(7), tmp_path / "old.csv"), store_dir).texts()
    script = tmp_path / "prepare.py"
    script.write_text(SLOW_PREPARE)
    process = start_script(script, path, store_dir)
    deadline = time.monotonic() + 60
    while not any((p / "ids.bin").is_file() and (p / "ids.bin").stat().st_size for p in partials(store_dir)):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "prepare never got under way"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    process.stderr.close()
    assert len(partials(store_dir)) == 1
    if before == "no store yet":
        assert not store_dir.exists()
    else:
        assert TweetStore.open(store_dir).texts() == old
    assert prepare_tweets(path, store_dir, chunksize=500).texts() == expected_texts(path)
    assert partials(store_dir) == [] and TweetStore.open(store_dir).manifest["tweets"] == 3000


DIGEST = """
import hashlib, numpy as np
def digest(batch):
    arrays = batch[0] + (batch[1],) if isinstance(batch[0], tuple) else batch
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype}{a.shape}".encode()); h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
"""
FRESH_BATCHES = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tweet_lstm.store.batches import TweetBatches
batches = TweetBatches(sys.argv[2], batch_size=8, seed=5, shard=(1, 2), bucket_batches=3, emoji=True,
                       emoji_dropout=0.3)
keys = json.loads(sys.argv[3])
with open(sys.argv[4], "w") as f:
    json.dump({f"{e},{i}": digest(batches.batch(e, i)) for e, i in reversed(keys)}, f)
"""


def test_seed_epoch_and_index_give_the_same_batch_in_a_fresh_process(tmp_path):
    store_dir = tmp_path / "store"
    prepare_tweets(write_csv_atomically(tweets_frame(300), tmp_path / "t.csv"), store_dir)
    keys = [[0, 0], [0, 7], [3, 2], [1, 18], [0, 0]]
    namespace = {}
    exec(DIGEST, namespace)
    batches = TweetBatches(store_dir, batch_size=8, seed=5, shard=(1, 2), bucket_batches=3, emoji=True,
                           emoji_dropout=0.3)
    here = {f"{e},{i}": namespace["digest"](batches.batch(e, i)) for e, i in keys}
    script = tmp_path / "fresh.py"
    script.write_text(DIGEST + FRESH_BATCHES)
    env = {**SUBPROCESS_ENV, "PYTHONHASHSEED": "random"}
    process = start_script(script, store_dir, json.dumps(keys), tmp_path / "out.json", env=env)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert json.loads((tmp_path / "out.json").read_text()) == here
    assert len(set(here.values())) == 4


TEXTS = st.one_of(
    st.text(st.sampled_from(list("ab ,\"'\n\r\t@&;é😀")) | st.characters(blacklist_categories=("Cs", "Cc")),
            max_size=30),
    st.sampled_from(["@handle", "😀🔥", " ", "text", "x" * 170, "a\r\nb", "&amp;lt;", "@a @b"]))
ROWS = st.lists(st.tuples(TEXTS, st.sampled_from(["🔥", "❤", "emoji", "", None])), max_size=25)


def write_messy_csv(path, rows, writer, line_end, bom):
    encoding = "utf-8-sig" if bom else "utf-8"
    if writer == "pandas":
        pd.DataFrame(rows, columns=["text", "emoji"]).to_csv(path, index=False, encoding=encoding,
                                                             lineterminator=line_end)
        return
    with open(path, "w", encoding=encoding, newline="") as f:
        quoting = csv.QUOTE_ALL if writer == "csv, all quoted" else csv.QUOTE_MINIMAL
        out = csv.writer(f, lineterminator=line_end, quoting=quoting)
        out.writerows([("text", "emoji"), *rows])


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, writer=st.sampled_from(["pandas", "csv", "csv, all quoted"]),
       line_end=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(), chunksize=st.integers(1, 7),
       batch_size=st.integers(1, 4), bucket_batches=st.integers(1, 3), seed=st.integers(0, 2**32))
def test_any_csv_prepared_and_batched_serves_exactly_the_cleaned_tweets_once_per_epoch(
        tmp_path_factory, rows, writer, line_end, bom, chunksize, batch_size, bucket_batches, seed):
    folder = tmp_path_factory.mktemp("messy")
    path = folder / "t.csv"
    write_messy_csv(path, rows, writer, line_end, bom)
    frame = read_tweet_data(path)
    texts = clean_tweet_text(frame["text"]).str.slice(0, 160)
    kept = texts.str.len() > 0
    expected = sorted(zip(texts[kept], frame["emoji"].fillna("")[kept]))
    store = prepare_tweets(path, folder / "store", chunksize=chunksize)
    assert len(store) == len(expected)
    if not expected:
        with pytest.raises(ValueError, match="no tweet is left to train on"):
            TweetBatches(store, batch_size=batch_size, emoji=True)
        return
    options = dict(batch_size=batch_size, bucket_batches=bucket_batches, seed=seed, emoji=True)
    n_batches = TweetBatches(store, **options).n_batches
    for count in sorted({1, min(2, n_batches), min(3, n_batches)}):
        shards = [TweetBatches(store, shard=(k, count), **options) for k in range(count)]
        for epoch in (0, 1):
            served = []
            for batches in shards:
                for i in range(len(batches)):
                    (x, emoji_ids), y = batches.batch(epoch, i)
                    names = store.emojis + [""]
                    served += zip(decode_ids_to_text(y), [names[e] for e in emoji_ids[:, 0]])
            assert sorted(served) == expected
