"""Copying article files into the corpus (`esqa add`), safely.

A file lands under the corpus root with its own name; a folder's `*.txt`
files (searched recursively) keep their paths relative to that folder. Nothing
is ever written outside the corpus root, no symbolic link is followed, a file
of the same name is never overwritten silently, and a copy is atomic: written
to a hidden temporary file beside its destination, then renamed over it, so
a reader (or an index build) never sees half a file (`esqa.index.publish`).
A copy killed midway leaves such a temporary file: the next `esqa add`
removes it (only names of esqa's own temporary-file pattern). A copy that
fails (disk full, read-only) is one line that names the files already copied.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esqa.errors import CorpusWriteError
from esqa.fileio import make_folders, write_file_atomically
from esqa.index.build import BuildReport
from esqa.index.write_errors import write_error
from esqa.ingest.files import walk_folder
from esqa.ingest.textfile import NotTextError, decode_bytes

ADDED = "added"
REPLACED = "replaced"
SKIPPED = "skipped"
# The temporary file `esqa.fileio.write_file_atomically` writes an article to
# (tempfile's prefix, 8 random characters from its alphabet, suffix).
_TEMPORARY = re.compile(r"\.[^/]+\.txt\.[a-z0-9_]{8}\.tmp")


@dataclass(frozen=True)
class AddedFile:
    """What happened to one file given to `esqa add`."""

    origin: Path  # the file as the user named it (or as found in a folder)
    source: str | None  # its name in the corpus; None when it has no acceptable one
    action: str  # ADDED, REPLACED or SKIPPED
    reason: str = ""  # why it was skipped
    refused: bool = False  # skipped for a fault (not text, unsafe name, ...), not as a duplicate

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": str(self.origin),
            "source": self.source,
            "action": self.action,
            "reason": self.reason,
            "refused": self.refused,
        }


@dataclass(frozen=True)
class AddResult:
    """Every file `esqa add` was given, what became of it, and the index update."""

    corpus: Path
    files: tuple[AddedFile, ...]
    build: BuildReport | None = None  # None when nothing changed, so nothing was rebuilt

    def _with(self, action: str) -> tuple[AddedFile, ...]:
        return tuple(f for f in self.files if f.action == action)

    @property
    def added(self) -> tuple[AddedFile, ...]:
        return self._with(ADDED)

    @property
    def replaced(self) -> tuple[AddedFile, ...]:
        return self._with(REPLACED)

    @property
    def skipped(self) -> tuple[AddedFile, ...]:
        return self._with(SKIPPED)

    @property
    def refused(self) -> tuple[AddedFile, ...]:
        return tuple(f for f in self.files if f.refused)

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpus": str(self.corpus),
            "files": [f.to_dict() for f in self.files],
            "build": None if self.build is None else self.build.to_dict(),
        }


def copy_articles(paths: Sequence[Path], corpus: Path, replace: bool = False) -> AddResult:
    """Copy article files (and every `*.txt` under a folder) into `corpus`.

    Returns what was added, replaced or skipped and why; only I/O errors on the
    corpus itself raise. Example: `copy_articles([Path("new.txt")], Path("seeds"))`.
    """
    files: list[AddedFile] = []
    try:
        corpus.mkdir(parents=True, exist_ok=True)
        root = corpus.resolve()
        with _corpus_lock(root):
            _remove_temporaries(root)
            claimed: set[str] = set()
            for origin, name in _candidates(paths, root):
                files.append(_copy_one(origin, name, root, replace, claimed))
    except _CopyFailed as failed:
        doing, error = f"copying {failed.origin}", failed.error
        # Renamed into place before syncing its folder failed: it is there, whole.
        landed = [failed.source] if failed.landed else []
    except OSError as exc:
        doing, error, landed = f"copying into the corpus {corpus}", exc, []
    else:
        return AddResult(corpus=corpus, files=tuple(files))
    done = [f.source for f in files if f.action != SKIPPED and f.source] + landed
    state = (
        f"the {len(done)} file(s) copied before it are in the corpus, whole "
        f"({name_list(done)}); the index was not updated"
        if done
        else "nothing was copied and the index was not updated"
    )
    raise write_error(CorpusWriteError, error, doing, state, corpus) from None


def name_list(names: Sequence[str], shown: int = 5) -> str:
    """'a.txt, b.txt and 3 more'."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


class _CopyFailed(Exception):
    """Writing a copy into the corpus failed (reported with the copies made before it)."""

    def __init__(self, origin: Path, source: str, error: OSError, landed: bool) -> None:
        super().__init__(str(error))
        self.origin = origin
        self.source = source
        self.error = error
        self.landed = landed  # the copy is in the corpus, whole, all the same


@contextlib.contextmanager
def _corpus_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the corpus folder while copying into it.

    So that cleaning up temporary files never removes one that another
    `esqa add` is writing. A lock on the folder itself: nothing is created.
    """
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_temporaries(root: Path) -> None:
    """Remove the temporary files of copies that were killed (esqa's own pattern only)."""
    for dirpath, dirnames, filenames in walk_folder(root):  # os.walk recurses
        # Copies are never written into hidden folders (hidden names are refused).
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if _TEMPORARY.fullmatch(name) and os.path.isfile(path) and not os.path.islink(path):
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _candidates(paths: Sequence[Path], root: Path) -> Iterator[tuple[Path, str | None]]:
    """(file, name it would have in the corpus) for every path given; folders walked."""
    for given in paths:
        if given.is_dir() and not given.is_symlink():
            yield from _folder_files(given, root)
        else:
            yield given, given.name


def _folder_files(folder: Path, root: Path) -> Iterator[tuple[Path, str | None]]:
    found = []
    for dirpath, dirnames, filenames in walk_folder(folder):  # os.walk recurses
        here = Path(dirpath)
        # Hidden folders are not indexed, and the corpus itself may sit inside
        # the folder: copying it into itself would never end.
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (here / d).resolve() != root
        )
        found += [here / n for n in filenames if n.endswith(".txt") and not n.startswith(".")]
    for path in sorted(found):
        yield path, path.relative_to(folder).as_posix()


def _skip(origin: Path, source: str | None, reason: str, refused: bool = True) -> AddedFile:
    return AddedFile(origin, source, SKIPPED, reason, refused)


def _copy_one(
    origin: Path, name: str | None, root: Path, replace: bool, claimed: set[str]
) -> AddedFile:
    problem = _name_problem(name)
    if problem or name is None:
        return _skip(origin, None, problem or "no usable name")
    if origin.is_symlink():
        return _skip(origin, name, "a symbolic link (not followed)")
    if not origin.exists():
        return _skip(origin, name, "no such file")
    if not origin.is_file():
        return _skip(origin, name, "not a regular file")
    destination = root / name
    if not destination.parent.resolve().is_relative_to(root):
        return _skip(origin, name, "its place in the corpus lies outside the corpus")
    if name in claimed:
        return _skip(origin, name, "another file given to this command has the same name")
    try:
        data = _read_no_follow(origin)
        decode_bytes(data, name)
    except NotTextError as exc:
        return _skip(origin, name, f"not an article: {str(exc).removeprefix(f'{name}: ')}")
    except OSError as exc:
        return _skip(origin, name, f"cannot read it ({exc.strerror or exc})")
    action = ADDED
    if destination.is_symlink():
        return _skip(origin, name, "the corpus holds a symbolic link of that name; remove it")
    if destination.exists():
        if not destination.is_file():
            return _skip(origin, name, "the corpus holds a folder of that name")
        if destination.read_bytes() == data:
            claimed.add(name)
            return _skip(origin, name, "already present", refused=False)
        if not replace:
            return _skip(
                origin, name, "a different file of that name is in the corpus; pass --replace"
            )
        action = REPLACED
    try:
        make_folders(destination.parent)  # Path.mkdir recurses per missing folder
        # Checked again just before writing: a folder swapped for a link meanwhile.
        if not destination.parent.resolve().is_relative_to(root):
            return _skip(origin, name, "its place in the corpus lies outside the corpus")
        write_file_atomically(destination, data)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(destination)
        raise _CopyFailed(origin, name, exc, _holds(destination, data)) from None
    claimed.add(name)
    return AddedFile(origin, name, action)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return not path.is_symlink() and path.is_file() and path.read_bytes() == data
    except OSError:
        return False


def _name_problem(name: str | None) -> str | None:
    """Why a name may not be used in the corpus, or None when it may."""
    if not name:
        return "no file name"
    if name.startswith("/") or "\\" in name:
        return f"{name!r} is not a plain relative name"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return f"{name!r} would leave or skip a folder"
    if any(part.startswith(".") for part in parts):
        return f"{name!r} is hidden; hidden files are not indexed"
    if any(not ch.isprintable() for ch in name):
        return f"{name!r} has control characters in its name"
    if not name.endswith(".txt"):
        return f"{name!r} is not a .txt file"
    return None


def _read_no_follow(path: Path) -> bytes:
    # O_NOFOLLOW: a file swapped for a link after the checks above is still not followed.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read()
