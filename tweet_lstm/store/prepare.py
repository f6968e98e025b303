"""``prepare_tweets``: a tweets CSV prepared once into a ``TweetStore`` folder (nanoGPT's ``prepare.py``).

Streams the CSV in chunks (``iter_tweet_data``, the package's one reader of CSV text),
cleans each tweet once, cuts it to ``length`` characters and writes the store's files
(``store.py`` describes them) into a temporary folder renamed into place when complete.
"""

import json
import os
import secrets
import shutil
from pathlib import Path

import numpy as np
import psutil

from ..checks import check_int
from ..data.download import sha256_of
from .ids import ID_VOCAB
from .store import FORMAT, TweetStore, codes_of, texts_to_ids
from ..data.text import clean_tweet_text
from ..data.tweet_csv import iter_tweet_data


def source_stamp(path):
    """What identifies a source file's content: its size, modification time and sha256."""
    stat = Path(path).stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_of(path)}


def _matches(store_dir, stamp, length):
    path = Path(store_dir) / "manifest.json"
    if not path.exists():
        return False
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return manifest.get("format") == FORMAT and manifest.get("length") == length and \
        {k: manifest.get("source", {}).get(k) for k in stamp} == stamp


def _write_store(csv_path, folder, length, chunksize):
    """Stream ``csv_path`` into the store files in ``folder``; return the manifest."""
    counts = {"tweets": 0, "characters": 0}
    dropped = {"header repeated": 0, "empty text": 0, "empty after cleaning": 0}
    names, has = {"emoji": [], "split": []}, {}
    with open(folder / "ids.bin", "wb") as ids_f, open(folder / "offsets.bin", "wb") as offsets_f, \
            open(folder / "emoji.bin", "wb") as emoji_f, open(folder / "split.bin", "wb") as split_f:
        offsets_f.write(np.zeros(1, np.int64).tobytes())
        for chunk in iter_tweet_data(csv_path, chunksize):
            for reason, n in chunk.attrs["dropped"].items():
                dropped[reason] += n
            texts = clean_tweet_text(chunk["text"]).str.slice(0, length)
            kept = (texts.str.len() > 0).to_numpy()
            dropped["empty after cleaning"] += int((~kept).sum())
            ids, lengths = texts_to_ids(texts[kept].tolist())
            ids_f.write(ids.tobytes())
            offsets_f.write((counts["characters"] + np.cumsum(lengths)).tobytes())
            counts["tweets"] += len(lengths)
            counts["characters"] += int(lengths.sum())
            for column, f, dtype in (("emoji", emoji_f, np.int16), ("split", split_f, np.int8)):
                has[column] = column in chunk.columns
                if has[column]:
                    f.write(codes_of(chunk[column], names[column])[kept].astype(dtype).tobytes())
    for column in ("emoji", "split"):
        if not has.get(column):
            (folder / f"{column}.bin").unlink()
            names[column] = None
    return {"format": FORMAT, **counts, "length": length, "dropped": dropped, "emojis": names["emoji"],
            "splits": names["split"], "vocabulary": list(ID_VOCAB)}


def prepare_tweets(csv_path, store_dir, length=160, chunksize=100_000):
    """Prepare the tweets CSV at ``csv_path`` once into ``store_dir``; return the opened ``TweetStore``.

    Streams the CSV ``chunksize`` rows at a time (memory stays flat however large it is),
    under the tweets CSV contract: errors name the file and line, rows left out are
    counted by reason in the manifest's ``dropped``. Each tweet is cleaned once
    (``clean_tweet_text``) and cut to ``length`` characters. The store is written in a
    temporary folder beside ``store_dir`` and renamed into place when complete, so a kill
    leaves no half store (the next run removes what it left, and leaves alone the folder of
    a process still preparing). If ``store_dir`` already
    holds a store of this very file (same size, modification time and sha256) and
    ``length``, it is reused as it is; otherwise it is rebuilt.
    """
    csv_path, store_dir = Path(csv_path), Path(store_dir)
    length = check_int("length", length, minimum=1)
    chunksize = check_int("chunksize", chunksize, minimum=1)
    if not csv_path.is_file():
        raise FileNotFoundError(f"csv_path {csv_path} is not a file")
    stamp = source_stamp(csv_path)
    if _matches(store_dir, stamp, length):
        return TweetStore.open(store_dir)
    store_dir.parent.mkdir(parents=True, exist_ok=True)
    for leftover in store_dir.parent.glob(f".{store_dir.name}.partial-*"):
        pid = leftover.name.rsplit("-", 2)[-2]
        if not (pid.isdigit() and psutil.pid_exists(int(pid))):  # left by a process that is gone, not one still writing
            shutil.rmtree(leftover, ignore_errors=True)
    partial = store_dir.parent / f".{store_dir.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    partial.mkdir()
    try:
        manifest = _write_store(csv_path, partial, length, chunksize)
        manifest["source"] = {"path": str(csv_path), **stamp}
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        if store_dir.exists():
            old = store_dir.parent / f".{store_dir.name}.partial-old-{secrets.token_hex(4)}"
            os.replace(store_dir, old)
            shutil.rmtree(old)
        os.replace(partial, store_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return TweetStore.open(store_dir)
