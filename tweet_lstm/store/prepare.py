"""``prepare_tweets``: a tweets CSV prepared once into a ``TweetStore`` folder (nanoGPT's ``prepare.py``)."""

import fcntl
import json
from pathlib import Path

from ..checks import check_int
from ..data.download import sha256_of
from ..data.text import clean_tweet_text
from ..data.tweet_csv import iter_tweet_data
from ..files import atomic_folder, remove_leftovers
from .store import TweetStore, check_store, file_sizes, file_stamp, write_tweets


def source_stamp(path):
    """What identifies a source file's content: its size, modification time and sha256."""
    stat = Path(path).stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_of(path)}


def _why_rebuild(store_dir, stamp, length):
    """Why ``store_dir`` cannot be reused for this source and ``length`` (a phrase), or None if it can."""
    manifest, problem = check_store(store_dir)
    if problem:
        return problem
    if manifest["length"] != length:
        return f"its tweets were cut to {manifest['length']} characters, not {length}"
    if {key: manifest.get("source", {}).get(key) for key in stamp} != stamp:
        return f"its source is not {manifest.get('source', {}).get('path')} as it is now"
    return None


def _write_store(csv_path, folder, length, chunksize):
    """Stream ``csv_path`` into the store files in ``folder``; return the manifest (its ``files`` stamped)."""
    def write(name, array):
        with open(folder / name, "ab") as f:
            f.write(array.tobytes())

    chunks = ((chunk, clean_tweet_text(chunk["text"])) for chunk in iter_tweet_data(csv_path, chunksize))
    manifest = write_tweets(chunks, write, length)
    manifest["files"] = {name: file_stamp(folder / name) for name in file_sizes(manifest)}
    return manifest


def prepare_tweets(csv_path, store_dir, length=160, chunksize=100_000):
    """Prepare the tweets CSV at ``csv_path`` once into ``store_dir``; return the opened ``TweetStore``. The CSV is
    streamed ``chunksize`` rows at a time (``iter_tweet_data``: errors name the file and line; rows left out are counted
    by reason in the manifest's ``dropped``), each tweet cleaned (``clean_tweet_text``) and cut to ``length``
    characters. A whole store (``check_store``) of this very file (same size, modification time and sha256) and
    ``length`` is reused; else it is rebuilt, saying why in one printed line, in a temporary folder renamed into place
    when complete. Processes preparing the same ``store_dir`` take turns (a lock file beside it)."""
    csv_path, store_dir = Path(csv_path), Path(store_dir)
    length = check_int("length", length, minimum=1)
    chunksize = check_int("chunksize", chunksize, minimum=1)
    if not csv_path.is_file():
        raise FileNotFoundError(f"csv_path {csv_path} is not a file")
    stamp = source_stamp(csv_path)
    store_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(store_dir.parent / f".{store_dir.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process prepares this store
        there = store_dir.exists()
        why = _why_rebuild(store_dir, stamp, length) if there else "no store yet"
        if why:
            if there:
                print(f"rebuilding {store_dir}: {why}", flush=True)
            remove_leftovers(store_dir.parent, f".{store_dir.name}.partial-*")
            with atomic_folder(store_dir, prefix=f".{store_dir.name}.partial-") as folder:
                manifest = _write_store(csv_path, folder, length, chunksize)
                manifest["source"] = {"path": str(csv_path), **stamp}
                (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                                      encoding="utf-8")
        return TweetStore.open(store_dir)
