"""Writing an index directory so that no crash or reader ever sees half of it.

An index at `indexes/NAME` is a symbolic link to a generation directory
`indexes/.NAME.<time>-<id>/`. A build writes a new generation under a
temporary name, renames it, then swaps the link with one atomic rename, so a
reader sees the old index or the new one, never a mixture, and a build killed
at any moment leaves the previous index untouched. The generation the link
pointed to before the swap is kept, so a reader that resolved the link just
before it can finish reading. Writers take an exclusive lock first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from esqa.errors import EsqaError
from esqa.fileio import fsync_dir, fsync_tree


@contextlib.contextmanager
def writer_lock(target: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the exclusive write lock of the index at target.

    Raises EsqaError if another process holds it for longer than wait_seconds.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with lock_path.open("a") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EsqaError(
                        f"another esqa process is writing the index {target}; "
                        "wait for it to finish and run the command again"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def publish(target: Path, write: Callable[[Path], None]) -> Path:
    """Create a new generation of the index at target by calling write(directory).

    The caller must hold `writer_lock(target)`. Returns the generation directory.
    """
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    token = uuid.uuid4().hex[:8]
    staging = parent / f".{target.name}.tmp-{token}"
    staging.mkdir()
    try:
        write(staging)
        fsync_tree(staging)
        generation = parent / f".{target.name}.{time.strftime('%Y%m%dT%H%M%S')}-{token}"
        os.rename(staging, generation)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    link = parent / f".{target.name}.link-{token}"
    os.symlink(generation.name, link)
    previous = _linked_generation(target)
    if target.exists() and not target.is_symlink():
        # An index from before generations (or a copied directory): move it
        # aside; this one swap is not atomic, so it is done once.
        previous = parent / f".{target.name}.{time.strftime('%Y%m%dT%H%M%S')}-old{token}"
        os.rename(target, previous)
    os.replace(link, target)
    fsync_dir(parent)
    _prune(target, keep={generation, previous})
    return generation


def _linked_generation(target: Path) -> Path | None:
    """The generation the link at target points to now, if it is a link."""
    try:
        return target.parent / os.readlink(target)
    except OSError:  # no index yet, or a directory from before generations
        return None


def _generations(target: Path) -> list[Path]:
    """Every generation directory of the index at target, linked or not."""
    # Exact shape, so that the index "a" never touches the generations of "a.b".
    name = re.compile(rf"\.{re.escape(target.name)}\.\d{{8}}T\d{{6}}-(old)?[0-9a-f]{{8}}")
    return [
        p
        for p in target.parent.iterdir()
        if name.fullmatch(p.name) and p.is_dir() and not p.is_symlink()
    ]


def _prune(target: Path, keep: set[Path | None]) -> None:
    """Remove every generation but those in keep (the current and the previous one).

    Which generations readers may be on is known from the link, not from
    modification times: a build killed between renaming its generation into
    place and swapping the link leaves a generation that is the newest but
    that no reader ever saw; it is removed, never kept instead of one that was.
    """
    kept = {path.resolve() for path in keep if path is not None}  # a link may be absolute
    for generation in _generations(target):
        if generation.resolve() not in kept:
            shutil.rmtree(generation, ignore_errors=True)


def _remove_leftovers(target: Path) -> None:
    """Remove staging directories and links of builds that were killed."""
    prefix = f".{target.name}."
    for path in target.parent.iterdir():
        if path.name.startswith(f"{prefix}tmp-"):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(f"{prefix}link-"):
            path.unlink(missing_ok=True)
