"""A failed write as one line: what failed, where, what is left, what to do.

The layers that write (`esqa.index.publish`, `esqa.index.add`) know what they
were writing and whether the previous index is still whole; they turn the
operating system's error into an `esqa.errors.WriteError` with this module.
Every store writes through Python's files (FAISS too, see
`esqa.stores.faiss_dense`), so every failed write arrives as an OSError with
its errno.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from esqa.errors import WriteError

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def megabytes(size: int) -> str:
    """'3.2 MB', or '41 KB' below a megabyte."""
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{max(size, 1) / 1e3:,.0f} KB"


def free_space(folder: Path) -> int | None:
    """Bytes free for this user on the file system of folder (None if it cannot be told)."""
    for place in (folder, *folder.parents):
        try:
            return shutil.disk_usage(place).free
        except OSError:
            continue
    return None


def tree_size(directory: Path | None) -> int:
    """Bytes the files under directory take on disk (0 when it is gone).

    Blocks, not lengths: a file system hands out whole blocks, so an index of
    small files takes several times its length.
    """
    if directory is None:
        return 0
    total = 0
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            with contextlib.suppress(OSError):
                stat = os.lstat(os.path.join(dirpath, name))
                total += max(stat.st_size, getattr(stat, "st_blocks", 0) * 512)
    return total


def reason(exc: OSError) -> str:
    """'No space left on device: /path', or what the error says."""
    text = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return text
    where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else str(exc.filename)
    return f"{text}: {where}"


def advice(exc: OSError, folder: Path, need: str = "") -> str:
    """What to do about a failed write in folder; `need` says how much space a build needs."""
    if exc.errno in NO_SPACE:
        free = free_space(folder)
        have = f"{megabytes(free)} free" if free is not None else "free space unknown"
        needs = f"; {need}" if need else ""
        return (
            f"free space on the file system of {folder} ({have}{needs}) and run the command again"
        )
    if exc.errno == errno.EROFS:
        return f"{folder} is on a read-only file system; choose an index location on a writable one (--index)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"make {folder} writable for this user, or choose an index location you may write "
            "(--index)"
        )
    return "check the disk (the system log names the device) and run the command again"


def write_error(
    kind: type[WriteError], exc: OSError, doing: str, state: str, folder: Path, need: str = ""
) -> WriteError:
    """The one-line error for a failed write: `doing` failed (why, where); `state`; what to do."""
    error = kind(f"{doing} failed ({reason(exc)}); {state}", hint=advice(exc, folder, need))
    error.errno = exc.errno
    return error
