"""Fetch one file from a URL or a local folder, checked by sha256, and clean up after a killed run.

A file is streamed into a temporary ``.part`` name beside its destination and renamed into
place only once it is complete and, when an expected sha256 is given, has that digest; on
any failure nothing is left behind. ``remove_partial`` deletes what a killed run left.
"""

import hashlib
import http.client
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from ..files import PART_SUFFIX, atomic_path

CHUNK_BYTES = 1 << 20


class DataError(Exception):
    """An expected failure of ``make-data``; its message names the file and says what to do."""


def sha256_of(path):
    """Return the sha256 of the file at ``path`` as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(stream, path):
    """Copy the binary ``stream`` to ``path``; return the sha256 hex digest of what was copied."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _copy_local(origin, tmp):
    """Copy the local file ``origin`` to ``tmp``; return its sha256 hex digest."""
    if not origin.is_file():
        raise DataError(f"{origin}: no such file. The source folder (--source or TWEETS_SOURCE) "
                        f"must hold {origin.name}; add it, or point TWEETS_SOURCE at a folder that has it")
    with open(origin, "rb") as stream:
        return _copy_hashing(stream, tmp)


def _copy_url(url, tmp, timeout):
    """Download ``url`` to ``tmp``; return its sha256 hex digest."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return _copy_hashing(response, tmp)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        name = url.rsplit("/", 1)[-1]
        raise DataError(f"could not download {url} ({err}). Without internet, set TWEETS_SOURCE "
                        f"(or --source) to a local folder holding {name}") from err


def fetch_file(name, dest_dir, source=None, base_url=None, sha256=None, timeout=20):
    """Put the file ``name`` into ``dest_dir``; return the Path of the new file.

    The file is copied from the folder ``source`` when one is given, else downloaded
    from ``base_url/name`` (``base_url`` with or without its final slash). It is written to a ``.part`` name and renamed into place
    only when complete; when ``sha256`` is given its digest must match, else a
    ``DataError`` names the file and both digests and nothing is left behind.
    An existing file of that name is replaced.
    """
    target = Path(dest_dir) / name
    origin = Path(source) / name if source is not None else f"{base_url.rstrip('/')}/{name}"
    with atomic_path(target) as tmp:
        if source is not None:
            actual = _copy_local(origin, tmp)
        else:
            actual = _copy_url(origin, tmp, timeout)
        if sha256 is not None and actual != sha256:
            raise DataError(f"{origin}: sha256 is {actual}, expected {sha256} (the published {name}). "
                            "The copy is corrupt or not the published file: fetch it again, or set "
                            "TWEETS_SOURCE to a local folder holding the published file")
    return target


def remove_partial(folder, pattern=f"*{PART_SUFFIX}"):
    """Delete the files and folders matching ``pattern`` in ``folder``; return how many.

    Call it at the start of a run with a pattern that matches only this project's
    temporary names, so that what a killed run left behind (a ``.part`` file, a
    ``.part`` staging folder) never outlives the next run.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    leftovers = list(folder.glob(pattern))
    for leftover in leftovers:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink(missing_ok=True)
    return len(leftovers)
