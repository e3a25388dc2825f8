"""Copying article files into the corpus (`esqa add`), safely.

A file lands under the corpus root with its own name; a folder's `*.txt`
files (searched recursively) keep their paths relative to that folder. Nothing
is ever written outside the corpus root, no symbolic link is followed, a file
of the same name is never overwritten silently, and a copy is atomic: written
to a hidden temporary file beside its destination, then renamed over it, so
a reader (or an index build) never sees half a file (`esqa.index.publish`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esqa.errors import CorpusError
from esqa.fileio import write_file_atomically
from esqa.index.build import BuildReport
from esqa.ingest.textfile import NotTextError, decode_bytes

ADDED = "added"
REPLACED = "replaced"
SKIPPED = "skipped"


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
    corpus.mkdir(parents=True, exist_ok=True)
    root = corpus.resolve()
    claimed: set[str] = set()
    files = []
    for origin, name in _candidates(paths, root):
        files.append(_copy_one(origin, name, root, replace, claimed))
    return AddResult(corpus=corpus, files=tuple(files))


def _candidates(paths: Sequence[Path], root: Path) -> Iterator[tuple[Path, str | None]]:
    """(file, name it would have in the corpus) for every path given; folders walked."""
    for given in paths:
        if given.is_dir() and not given.is_symlink():
            yield from _folder_files(given, root)
        else:
            yield given, given.name


def _folder_files(folder: Path, root: Path) -> Iterator[tuple[Path, str | None]]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
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
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Checked again just before writing: a folder swapped for a link meanwhile.
        if not destination.parent.resolve().is_relative_to(root):
            return _skip(origin, name, "its place in the corpus lies outside the corpus")
        write_file_atomically(destination, data)
    except OSError as exc:
        raise CorpusError(
            f"cannot write {destination} ({exc.strerror or exc}); check that the corpus "
            "folder is writable"
        ) from None
    claimed.add(name)
    return AddedFile(origin, name, action)


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
