"""Which files make a corpus: every `*.txt` under its folder, found in one scan.

Every `esqa ask` lists the corpus to tell whether the index is stale, so the
listing is made of `os.scandir` entries: the kind of each entry (folder,
symbolic link, regular file) comes with the directory listing itself, and
its stat is taken once and kept (`os.walk` with a `Path` and an `lstat` per
file spent more time in Python than in the system calls).
"""

from __future__ import annotations

import os
from pathlib import Path

from esqa.errors import CorpusError

# (source, directory entry, why the file is left out or None). `source` is the
# path relative to the corpus folder with "/" separators.
CorpusEntry = tuple[str, os.DirEntry[str], str | None]


def walk_corpus(root: Path) -> list[CorpusEntry]:
    """Every `*.txt` under root, sorted by source, with why it is left out if it is.

    Hidden files and folders are passed over. Symbolic links are not followed
    (a link could point outside the corpus) and only regular files are read
    (opening a named pipe would wait forever for a writer); both are listed
    as left out, with names that are not valid UTF-8 (a citation could not
    name the file).
    """
    if not root.is_dir():
        raise CorpusError(f"corpus directory {root} does not exist; pass --corpus DIR")
    found: list[tuple[str, os.DirEntry[str]]] = []
    _scan(str(root), "", found)
    found.sort(key=lambda item: item[0])
    return [(source, entry, _left_out(entry, source)) for source, entry in found]


def _scan(directory: str, prefix: str, found: list[tuple[str, os.DirEntry[str]]]) -> None:
    folders = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry)
                elif name.endswith(".txt"):
                    found.append((prefix + name, entry))
    except OSError:
        return  # an unreadable folder is passed over, as os.walk passes it over
    for folder in folders:
        _scan(folder.path, f"{prefix}{folder.name}/", found)


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
