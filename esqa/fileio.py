"""File helpers every stage shares: checksums, fsync, atomic writes.

A write that must survive a crash goes to a temporary file in the same folder,
is synced and renamed into place; nothing here knows what the files hold.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(*paths: Path) -> str:
    """The sha256 of the files' bytes, one after the other (most callers pass one)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as f:
            while block := f.read(_CHUNK):
                digest.update(block)
    return digest.hexdigest()


def fsync_tree(directory: Path) -> None:
    """Make every file under directory, and every directory entry, durable.

    A file with other hard links (a segment an index generation shares with
    the one before it) was synced when it was written: only its new name,
    in its directory, needs syncing.
    """
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.lstat(path).st_nlink > 1:
                continue
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(Path(dirpath))


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write data to path so that no crash or reader ever sees half of it.

    The bytes go to a hidden temporary file in the same folder (hidden, so a
    corpus scan ignores it), which is synced and renamed over path.
    """
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # not the 0600 of a temporary file
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def make_folders(path: Path) -> None:
    """`path.mkdir(parents=True, exist_ok=True)`, without recursion.

    Python 3.11's `Path.mkdir` and `os.makedirs` recurse once per missing
    folder: a file nested a thousand folders deep would raise RecursionError.
    """
    missing = []
    while not path.is_dir() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            if not folder.is_dir():
                raise
