"""A failed write as one line: what failed, where, what is left, what to do.

The layers that write (`esqa.index.publish`, `esqa.index.add`) know what they
were writing and whether the previous index is still whole; they turn the
operating system's error into an `esqa.errors.WriteError` with this module.
FAISS writes its file in C and reports failures without an errno, so its
errors are translated back here (`c_library_writes`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from esqa.errors import WriteError

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
# The C library's text of each error code, to read the code back out of a message
# that only quotes strerror(errno).
_BY_STRERROR = {os.strerror(code): code for code in sorted(errno.errorcode)}
# FAISS cannot raise from a destructor: a failed fclose (the last buffer of the
# file not written) is only printed, without a newline, as "file NAME close error: TEXT".
# The file a FAISS error message names ("write error in PATH: ...", "could not open PATH for writing").
_NAMED = re.compile(r"(?:write error in|could not open) (?P<path>.+?)(?:: | for writing)")
_CLOSE_ERROR = re.compile(r"file (?P<path>.+?) close error: (?P<text>[^\n]*)")


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


def errno_in(message: str) -> int | None:
    """The error code whose strerror text a C library's message ends with, if any."""
    found = [(message.rfind(text), code) for text, code in _BY_STRERROR.items() if text in message]
    return max(found)[1] if found else None


@contextlib.contextmanager
def c_library_writes(directory: Path) -> Iterator[None]:
    """Turn a C library's failed write into `directory` into an OSError with its errno.

    FAISS raises RuntimeError for a failed fopen or fwrite, quoting strerror but
    with no errno; a failed fclose it only prints on stderr, and would leave a
    truncated file behind a successful call. So file descriptor 2 is captured
    while the block runs (it writes one file: milliseconds), a close error found
    there is raised, and anything else printed is passed on to stderr.
    """
    captured = _StderrCapture()
    failure: RuntimeError | None = None
    try:
        with captured:
            yield
    except RuntimeError as exc:
        failure = exc
    printed = captured.text
    close_error = _CLOSE_ERROR.search(printed)
    if close_error:
        printed = printed.replace(close_error.group(0), "")
    if printed.strip():
        os.write(2, printed.encode("utf-8", "replace"))
    if failure is not None:
        message = str(failure)
        code = errno_in(message)
        if code is None and "write error" not in message and "for writing" not in message:
            raise failure  # not a failed write: a bug to see, not to hide
        text = os.strerror(code) if code else message.rsplit("failed: ", 1)[-1]
        named = _NAMED.search(message)
        raise OSError(code, text, named.group("path") if named else str(directory)) from None
    if close_error:
        text = close_error.group("text").strip()
        raise OSError(errno_in(text) or errno.EIO, text, close_error.group("path"))


class _StderrCapture:
    """What is written to file descriptor 2 (by C code) while the block runs."""

    def __init__(self) -> None:
        self.text = ""
        self._saved = -1
        self._read = -1

    def __enter__(self) -> _StderrCapture:
        try:
            read, write = os.pipe()
        except OSError:  # no descriptors left: write without capturing
            return self
        try:
            # A full pipe makes the C library's write fail instead of blocking us.
            os.set_blocking(write, False)
            saved = os.dup(2)
        except OSError:
            os.close(read)
            os.close(write)
            return self
        os.dup2(write, 2)
        os.close(write)
        self._read, self._saved = read, saved
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._saved < 0:
            return
        os.dup2(self._saved, 2)
        chunks = []
        os.set_blocking(self._read, False)
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self._read, 1 << 16):
                chunks.append(chunk)
        self.text = b"".join(chunks).decode("utf-8", "replace")
        self._close()

    def _close(self) -> None:
        for fd in (self._saved, self._read):
            if fd >= 0:
                os.close(fd)
        self._saved = self._read = -1
