"""Atomic writes: a file or folder is built under a temporary name beside its target (ending ``.part``, or the
suffix given), then renamed into place; ``remove_leftovers`` deletes what a killed run left."""

import contextlib
import csv
import json
import os
import secrets
import shutil
from pathlib import Path

PART_SUFFIX = ".part"


def _create_private_name(folder, prefix, suffix, create):
    """Create ``folder/prefix<random>suffix`` with ``create(path)`` (which raises ``FileExistsError`` if the
    name is taken); return its Path. It gets the permissions the umask gives any new file or folder."""
    for _ in range(100):
        path = Path(folder) / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            create(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary name in {folder}")


@contextlib.contextmanager
def atomic_path(path, prefix=None, suffix=PART_SUFFIX):
    """Yield a temporary Path beside ``path`` (``prefix``, default ``.<name>.``, random characters, ``suffix``);
    rename it to ``path`` if the block succeeds, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_private_name(path.parent, f".{path.name}." if prefix is None else prefix, suffix,
                               lambda new: os.close(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path, prefix=None):
    """Yield a new empty folder beside ``path`` (named as in ``atomic_path``); if the block succeeds it replaces
    ``path`` (a folder, or nothing), else it is removed. The old folder is renamed aside, the new one into place, then
    the old one removed: a reader finds one or the other (or, for an instant, none), never a mix. One process at a time
    may replace a given folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}." if prefix is None else prefix
    tmp, old = _create_private_name(path.parent, prefix, PART_SUFFIX, os.mkdir), None
    try:
        yield tmp
        if path.exists():
            old = _create_private_name(path.parent, prefix, PART_SUFFIX, os.mkdir)
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        for leftover in filter(None, (tmp, old)):
            shutil.rmtree(leftover, ignore_errors=True)


def remove_leftovers(folder, pattern=f"*{PART_SUFFIX}"):
    """Delete the files and folders in ``folder`` that match ``pattern``; return how many. Call it at the start of
    a run, with a pattern that matches only this project's temporary names, where no other process writes them."""
    leftovers = list(Path(folder).glob(pattern))
    for leftover in leftovers:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return len(leftovers)


def write_csv_atomically(frame, path):
    """Write the DataFrame ``frame`` to ``path`` as UTF-8 CSV (no index, every field quoted, so a lone carriage
    return inside a tweet does not end its row); return the Path."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8", quoting=csv.QUOTE_ALL)
    return Path(path)


def write_json_atomically(value, path):
    """Write ``value`` as JSON to ``path``; return the Path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    return Path(path)
