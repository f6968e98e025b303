"""Fetch one file from a URL or a local folder into a ``.part`` name, checked by sha256, then renamed into place."""

import hashlib
import http.client
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from ..files import atomic_path


class DataError(Exception):
    """An expected failure of ``make-data``; its message names the file and says what to do."""


def sha256_of(path):
    """Return the sha256 of the file at ``path`` as 64 lowercase hex digits."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def fetch_file(name, dest_dir, source=None, base_url=None, sha256=None, timeout=20):
    """Put the file ``name`` into ``dest_dir`` (replacing one there); return the Path of the new file. It is copied from
    the folder ``source`` when one is given, else downloaded from ``base_url/name`` (``base_url`` with or without its
    final slash), and renamed into place only when complete and, when ``sha256`` is given, of that digest; on any
    failure a ``DataError`` names the file and nothing is left."""
    target = Path(dest_dir) / name
    with atomic_path(target) as tmp:
        if source is not None:
            origin = Path(source) / name
            if not origin.is_file():
                raise DataError(f"{origin}: no such file. The source folder (--source or TWEETS_SOURCE) must hold "
                                f"{name}; add it, or point TWEETS_SOURCE at a folder that has it")
            shutil.copyfile(origin, tmp)
        else:
            origin = f"{base_url.rstrip('/')}/{name}"
            try:
                with urllib.request.urlopen(origin, timeout=timeout) as response, open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
                raise DataError(f"could not download {origin} ({err}). Without internet, set TWEETS_SOURCE "
                                f"(or --source) to a local folder holding {name}") from err
        if sha256 is not None and (actual := sha256_of(tmp)) != sha256:
            raise DataError(f"{origin}: sha256 is {actual}, expected {sha256} (the published {name}). "
                            "The copy is corrupt or not the published file: fetch it again, or set "
                            "TWEETS_SOURCE to a local folder holding the published file")
    return target
