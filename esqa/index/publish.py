"""Writing an index directory so that no crash or reader ever sees half of it.

An index at `indexes/NAME` is a symbolic link to a generation directory
`indexes/.NAME.<time>-<id>/`. A build writes a new generation under a
temporary name, renames it, then swaps the link with one atomic rename, so a
reader sees the old index or the new one, never a mixture, and a build killed
at any moment leaves the previous index untouched. The generation the link
pointed to before the swap is kept, so a reader that resolved the link just
before it can finish reading. Writers take an exclusive lock first.

Publishing never moves or deletes what esqa did not create: an index location
that holds anything else (a folder of notes, a file, a link to such a folder)
is refused with nothing changed, as is an index inside the corpus or a corpus
inside the index. Only directories named as esqa names its generations are
ever removed. A failed write is one line (`esqa.index.write_errors`) that
says whether the previous index is intact; when the disk is short of room for
a third generation, the superseded ones are removed before writing.
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
from dataclasses import dataclass
from pathlib import Path

from esqa.errors import IndexBusyError, IndexWriteError, TargetRefusedError
from esqa.fileio import fsync_dir, fsync_tree
from esqa.index.write_errors import (
    NO_SPACE,
    free_space,
    megabytes,
    reason,
    tree_size,
    write_error,
)

# Every name an esqa index directory holds (`esqa.index.build` lists them).
# A real folder at the index location is taken for an index from before
# generations, and moved aside, only if it holds nothing else.
INDEX_NAMES = frozenset(
    {
        "manifest.json",
        "sources.json",
        "acronyms.json",
        "chunks.jsonl",
        "chunks.offsets.npy",
        "chunks.crc32.npy",
        "dense.faiss",
        "lexical",
        "deleted.npy",
        "segments",
    }
)
_LEXICAL = (".npy", ".json")
_SEGMENT_FILES = (".npy", ".json", ".jsonl", ".faiss")


@dataclass(frozen=True)
class Published:
    """What `publish` did: the new generation, and what the caller should be told."""

    generation: Path
    warnings: tuple[str, ...] = ()


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def writer_lock(target: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the exclusive write lock of the index at target.

    Raises IndexBusyError if another process holds it for longer than
    wait_seconds, IndexWriteError if the lock file cannot be created.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = _lock_path(target).open("a")
    except OSError as exc:
        raise write_error(
            IndexWriteError,
            exc,
            f"locking the index {target} for writing",
            _state(target),
            target.parent,
        ) from None
    with handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"another esqa process is writing the index {target}",
                        hint="wait for it to finish and run the command again",
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def wait_for_writer(target: Path) -> None:
    """Return once no process holds the write lock of the index at target.

    Taken as a reader (a shared lock on the lock file opened read-only), so it
    writes nothing and works on a read-only file system.
    """
    try:
        fd = os.open(_lock_path(target), os.O_RDONLY)
    except OSError:
        return  # no lock file: no writer has ever run there
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def check_location(target: Path, corpus: Path | None = None) -> None:
    """Refuse an index location that holds what esqa did not create, or that overlaps corpus.

    Raises TargetRefusedError; nothing is changed. Loops and links that lead
    nowhere are accepted: they hold nothing, and the build replaces them.
    """
    problem = _overlap_problem(target, corpus) if corpus is not None else None
    problem = problem or _location_problem(target)
    if problem:
        raise TargetRefusedError(
            f"{problem}; nothing was changed", hint="choose another index location (--index)"
        )


def _location_problem(target: Path) -> str | None:
    if not os.path.lexists(target):
        return None
    if target.is_symlink():
        if _links_to_generation(target):
            return None
        try:
            resolved = target.resolve(strict=True)
        except (OSError, RuntimeError):  # a loop (RuntimeError before Python 3.13) or dangling
            return None
        if resolved.is_dir() and (resolved / "manifest.json").is_file():
            return None  # an index elsewhere: the link is replaced, the index left alone
        return f"{target} is a symbolic link to {resolved}, which is not an esqa index"
    if target.is_dir():
        foreign = _foreign_entry(target)
        if foreign is None:
            return None
        return f"{target} is a folder that is not an esqa index (it holds {foreign})"
    return f"{target} is a file, not an esqa index"


def _links_to_generation(target: Path) -> bool:
    """Whether the link at target names one of its own generations (made by esqa)."""
    value = Path(os.readlink(target))
    if not _generation_name(target).fullmatch(value.name):
        return False
    return not value.is_absolute() or os.path.realpath(value.parent) == os.path.realpath(
        target.parent
    )


def _foreign_entry(directory: Path) -> str | None:
    """The first entry of a real folder at the index location that no esqa index holds."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
        for entry in entries:
            if entry.name not in INDEX_NAMES:
                return entry.name
            if entry.name == "lexical" and entry.is_dir(follow_symlinks=False):
                for sub in os.scandir(entry.path):  # bm25s's arrays and JSON files
                    if not sub.is_file(follow_symlinks=False) or not sub.name.endswith(_LEXICAL):
                        return f"lexical/{sub.name}"
            elif entry.name == "segments" and entry.is_dir(follow_symlinks=False):
                foreign = _foreign_segment_entry(Path(entry.path))
                if foreign is not None:
                    return f"segments/{foreign}"
            elif not entry.is_file(follow_symlinks=False):
                return entry.name
    except OSError as exc:
        return f"what cannot be listed: {reason(exc)}"
    return None


def _foreign_segment_entry(directory: Path) -> str | None:
    """The first entry under `segments/` that no index segment holds (`esqa.index.segments`)."""
    for segment in sorted(os.scandir(directory), key=lambda e: e.name):
        if not (segment.is_dir(follow_symlinks=False) and re.fullmatch(r"\d{6}", segment.name)):
            return segment.name
        for dirpath, dirnames, filenames in os.walk(segment.path, followlinks=False):
            for name in [*filenames, *dirnames]:
                path = os.path.join(dirpath, name)
                is_file = os.path.isfile(path) and not os.path.islink(path)
                if os.path.islink(path) or (is_file and not name.endswith(_SEGMENT_FILES)):
                    return os.path.relpath(path, directory)
    return None


def _overlap_problem(target: Path, corpus: Path) -> str | None:
    try:
        parent = target.parent.resolve()
        corpus_at = corpus.resolve()
    except (OSError, RuntimeError):
        return None  # a loop in a folder above: writing fails there with its own error
    index_at = parent / target.name
    current = _current_directory(target)
    if corpus_at == index_at or corpus_at == current:
        return f"the index {target} and the corpus {corpus} are the same folder"
    if index_at.is_relative_to(corpus_at):
        return f"the index {target} would be inside the corpus {corpus}"
    inside_generation = corpus_at.is_relative_to(parent) and corpus_at.relative_to(parent).parts[
        0
    ].startswith(f".{target.name}.")
    if (
        corpus_at.is_relative_to(index_at)
        or (current is not None and corpus_at.is_relative_to(current))
        or inside_generation
    ):
        return f"the corpus {corpus} is inside the index {target}"
    return None


def _current_directory(target: Path) -> Path | None:
    """The directory the index at target is now (resolved), or None."""
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return resolved if resolved.is_dir() else None


def _state(target: Path) -> str:
    """What a failure leaves at target, said before anything there is touched."""
    current = _current_directory(target)
    if current is not None and (current / "manifest.json").is_file():
        return "the previous index is intact"
    if os.path.lexists(target):
        return f"{target} is unchanged"
    return "no index was created"


def publish(target: Path, write: Callable[[Path], None]) -> Published:
    """Create a new generation of the index at target by calling write(directory).

    The caller must hold `writer_lock(target)`. Raises TargetRefusedError
    (nothing changed) or IndexWriteError (the previous index intact).
    """
    check_location(target)
    parent = target.parent
    state = _state(target)
    current = _current_directory(target)
    warnings: list[str] = []
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(target)
    except OSError as exc:
        raise write_error(
            IndexWriteError, exc, f"preparing {parent} for the index", state, parent
        ) from None
    generation, token = _write_generation(target, write, current, state, warnings)
    link = parent / f".{target.name}.link-{token}"
    aside: Path | None = None
    try:
        os.symlink(generation.name, link)
        if target.is_dir() and not target.is_symlink():
            # An index from before generations (`check_location` made sure it
            # holds only index files): move it aside; this one swap is not
            # atomic, so it is done once.
            moved = parent / f".{target.name}.{time.strftime('%Y%m%dT%H%M%S')}-old{token}"
            os.rename(target, moved)
            aside = moved
        os.replace(link, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            link.unlink(missing_ok=True)
        shutil.rmtree(generation, ignore_errors=True)
        if aside is not None:
            try:
                os.rename(aside, target)
            except OSError:
                state = f"the previous index was moved to {aside}; move it back to {target}"
        raise write_error(
            IndexWriteError, exc, f"switching the index {target} to its new version", state, parent
        ) from None
    try:
        fsync_dir(parent)
    except OSError as exc:
        # The link is swapped: readers see the new index. Only its durability is in doubt.
        warnings.append(
            f"the new index is published at {target}, but syncing {parent} to the disk failed "
            f"({reason(exc)}); a system crash before the disk catches up could bring back the "
            "previous index"
        )
    _prune(target, keep={generation, aside or current})
    return Published(generation, tuple(warnings))


def _write_generation(
    target: Path,
    write: Callable[[Path], None],
    current: Path | None,
    state: str,
    warnings: list[str],
) -> tuple[Path, str]:
    """Write a new generation beside target and rename it into place; (it, its token).

    A disk that holds two generations but not a third would never take a
    build: when the free space is less than the current index takes (or the
    disk fills while writing), the superseded generations are removed first
    (each a directory esqa named; the current one is always kept).
    """
    parent = target.parent
    size = tree_size(current)
    free = free_space(parent)
    made_room = False
    if current is not None and free is not None and free < size + size // 4:
        made_room = _make_room(
            target, current, warnings, f"{megabytes(free)} free, the index takes {megabytes(size)}"
        )
    while True:
        token = uuid.uuid4().hex[:8]
        staging = parent / f".{target.name}.tmp-{token}"
        try:
            staging.mkdir()
            write(staging)
            fsync_tree(staging)
            generation = parent / f".{target.name}.{time.strftime('%Y%m%dT%H%M%S')}-{token}"
            os.rename(staging, generation)
            return generation, token
        except OSError as exc:
            written = tree_size(staging)
            shutil.rmtree(staging, ignore_errors=True)
            if exc.filename is None:  # a failed write() names no file: say where it was
                exc.filename = str(staging)
            if exc.errno in NO_SPACE and not made_room:
                made_room = _make_room(target, current, warnings, "the disk filled while writing")
                if made_room:
                    continue
            need = ""
            if exc.errno in NO_SPACE and written > size:
                need = f"a build needs more than {megabytes(written)}"
            elif exc.errno in NO_SPACE and size:
                need = f"a build needs about {megabytes(size)}, what the current index takes"
            raise write_error(
                IndexWriteError, exc, f"writing the new index of {target}", state, parent, need
            ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _make_room(target: Path, current: Path | None, warnings: list[str], why: str) -> bool:
    """Remove every generation of target but the current one; whether any was removed."""
    superseded = [g for g in _generations(target) if os.path.realpath(g) != str(current)]
    for generation in superseded:
        shutil.rmtree(generation, ignore_errors=True)
    if superseded:
        warnings.append(
            f"removed {len(superseded)} superseded version(s) of the index {target} to make "
            f"room ({why})"
        )
    return bool(superseded)


def _generation_name(target: Path) -> re.Pattern[str]:
    # Exact shape, so that the index "a" never touches the generations of "a.b".
    return re.compile(rf"\.{re.escape(target.name)}\.\d{{8}}T\d{{6}}-(old)?[0-9a-f]{{8}}")


def _generations(target: Path) -> list[Path]:
    """Every generation directory of the index at target, linked or not."""
    name = _generation_name(target)
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
    Failing to remove one is not an error: the next build tries again.
    """
    kept = {os.path.realpath(path) for path in keep if path is not None}  # a link may be absolute
    with contextlib.suppress(OSError):
        for generation in _generations(target):
            if os.path.realpath(generation) not in kept:
                shutil.rmtree(generation, ignore_errors=True)


def _remove_leftovers(target: Path) -> None:
    """Remove staging directories and links of builds that were killed."""
    prefix = f".{target.name}."
    for path in target.parent.iterdir():
        if path.name.startswith(f"{prefix}tmp-"):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(f"{prefix}link-"):
            path.unlink(missing_ok=True)
