"""Which files make a corpus: every `*.txt` under its folder, found in one scan.

Every `esqa ask` lists the corpus to tell whether the index is stale, so the
listing is made of `os.scandir` entries: the kind of each entry (folder,
symbolic link, regular file) comes with the directory listing itself, and
its stat is taken once and kept (`os.walk` with a `Path` and an `lstat` per
file spent more time in Python than in the system calls).

Folders are visited from a stack, not by recursion: a corpus may nest
folders deeper than Python's recursion limit (about a thousand levels).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from esqa.errors import CorpusError

# (source, directory entry, why the file is left out or None). `source` is the
# path relative to the corpus folder with "/" separators.
CorpusEntry = tuple[str, os.DirEntry[str], str | None]


@dataclass(frozen=True)
class CorpusListing:
    """The corpus's files and the folders under it that could not be listed."""

    entries: list[CorpusEntry]
    # "sub/folder/" -> why it could not be listed (its files are not in `entries`)
    unreadable: dict[str, str] = field(default_factory=dict)


def list_corpus(root: Path) -> CorpusListing:
    """Every `*.txt` under root, sorted by source, with why it is left out if it is;
    and every folder under root that could not be listed, with why.

    Hidden files and folders are passed over. Symbolic links are not followed
    (a link could point outside the corpus) and only regular files are read
    (opening a named pipe would wait forever for a writer); both are listed
    as left out, with names that are not valid UTF-8 (a citation could not
    name the file). A folder that cannot be listed (no permission, an I/O
    error) is reported, never passed over in silence: its files would look
    removed. Raises CorpusError when root itself cannot be listed.
    """
    try:
        mode = os.stat(root).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise CorpusError(f"corpus directory {root} does not exist; pass --corpus DIR") from None
    except OSError as exc:  # Path.is_dir() would call a folder we may not enter missing
        raise CorpusError(
            f"cannot read the corpus directory {root} ({exc.strerror or exc}); "
            "check its permissions, or pass --corpus DIR"
        ) from None
    if not stat.S_ISDIR(mode):
        raise CorpusError(f"the corpus {root} is not a directory; pass --corpus DIR")
    found: list[tuple[str, os.DirEntry[str]]] = []
    unreadable: dict[str, str] = {}
    # (folder path, source prefix); the root is the only one with prefix "".
    folders: list[tuple[str, str]] = [(str(root), "")]
    while folders:
        directory, prefix = folders.pop()
        try:
            found.extend(_scan(directory, prefix, folders))
        except OSError as exc:
            why = exc.strerror or str(exc)
            if not prefix:
                raise CorpusError(
                    f"cannot list the corpus directory {root} ({why}); "
                    "check that it is readable, or pass --corpus DIR"
                ) from None
            unreadable[prefix] = f"cannot list this folder ({why}); its files are not indexed"
    # Sorting makes the visiting order irrelevant: sources come out in one order.
    found.sort(key=lambda item: item[0])
    entries = [(source, entry, _left_out(entry, source)) for source, entry in found]
    return CorpusListing(entries, dict(sorted(unreadable.items())))


def walk_corpus(root: Path) -> list[CorpusEntry]:
    """`list_corpus(root).entries`: the files, without the unreadable folders."""
    return list_corpus(root).entries


def walk_folder(top: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top, followlinks=False)` without recursion, top-down.

    Python 3.11's `os.walk` recurses once per level, so a folder nested a
    thousand deep raises RecursionError. As with `os.walk`, the caller may
    prune `dirnames` in place; folders that cannot be listed are passed over.
    """
    stack = [os.fspath(top)]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        dirnames: list[str] = []
        filenames: list[str] = []
        links: set[str] = set()
        for entry in entries:
            try:
                # As os.walk: a link to a folder is named among the folders, never entered.
                is_dir = entry.is_dir()
                if is_dir and entry.is_symlink():
                    links.add(entry.name)
            except OSError:
                is_dir = False
            (dirnames if is_dir else filenames).append(entry.name)
        yield directory, dirnames, filenames
        stack.extend(os.path.join(directory, d) for d in reversed(dirnames) if d not in links)


def _scan(
    directory: str, prefix: str, folders: list[tuple[str, str]]
) -> list[tuple[str, os.DirEntry[str]]]:
    """(source, entry) of the `*.txt` files of one folder; its subfolders are
    pushed on `folders`. Hidden files and folders are passed over.

    A folder is listed whole or not at all: an error halfway through raises
    before anything is kept, so that no folder is ever half indexed.
    """
    files, subfolders = [], []
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                subfolders.append((entry.path, f"{prefix}{name}/"))
            elif name.endswith(".txt"):
                files.append((prefix + name, entry))
    folders.extend(subfolders)
    return files


def _left_out(entry: os.DirEntry[str], source: str) -> str | None:
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8; rename the file"
    try:
        if entry.is_symlink():
            return "symbolic link, not followed"
        if not entry.is_file(follow_symlinks=False):
            return "not a regular file"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    return None
