"""Atomic writes: build a file under a temporary name beside its target, then rename it.

A reader never sees a half-written file, and a run killed mid-write leaves only a
temporary file whose name ends in ``.part`` (or the suffix given), which
``remove_leftovers`` deletes on the next run.
"""

import contextlib
import csv
import json
import os
import secrets
from pathlib import Path

PART_SUFFIX = ".part"


def _create_private_name(folder, prefix, suffix):
    """Create an empty file ``folder/prefix<random>suffix`` and return its Path.

    Opened with ``O_EXCL`` and mode 0o666, so the file gets the permissions the process's
    umask gives any new file (reading the umask would mean setting it, process-wide).
    """
    for _ in range(100):
        path = Path(folder) / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary file in {folder}")


@contextlib.contextmanager
def atomic_path(path, prefix=None, suffix=PART_SUFFIX):
    """Yield a temporary Path beside ``path``; rename it to ``path`` only if the block succeeds.

    The temporary file is named ``prefix`` (default: ``.`` and ``path``'s name plus a dot),
    random characters, then ``suffix``; it is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_private_name(path.parent, f".{path.name}." if prefix is None else prefix, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_leftovers(folder, pattern=f"*{PART_SUFFIX}"):
    """Delete the temporary files a killed run left in ``folder``; return how many."""
    removed = 0
    for leftover in Path(folder).glob(pattern):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def write_csv_atomically(frame, path):
    """Write the DataFrame ``frame`` to ``path`` as UTF-8 CSV (no index); return the Path.

    Every field is quoted: a lone carriage return inside a tweet would otherwise end its row.
    """
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8", quoting=csv.QUOTE_ALL)
    return Path(path)


def write_json_atomically(value, path):
    """Write ``value`` as JSON to ``path``; return the Path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    return Path(path)
