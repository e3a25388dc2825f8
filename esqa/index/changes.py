"""What changed in a corpus since its index was built.

The build records each file's size, modification time and sha256
(`sources.json`, see `esqa.index.manifest.SourceRecords`). Comparing stats first
makes the check of an untouched corpus cost one `stat` per file; only a file
whose stat changed is hashed, to confirm that its content did.

Reading the records is itself a cost that grows with the corpus (half a
second for 100,000 files). So the manifest also holds a digest of the name,
size and modification time of every file the build read (`stats_digest`):
when the corpus's files give the same digest, nothing changed and the records
are never read. This is git's trick for `git status`, trusting an unchanged
stat. `compare_corpus` lists the corpus once for both.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esqa.fileio import sha256_file
from esqa.index.manifest import SourceRecords, is_racy, mtime_tick_ns
from esqa.ingest.files import walk_corpus

# (source, directory entry) of each corpus file that may be read.
_Files = list[tuple[str, os.DirEntry[str]]]


@dataclass(frozen=True)
class CorpusChanges:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
        }


def compare_corpus(
    corpus: Path,
    digest: str,
    records: Callable[[], SourceRecords],
    *,
    began_ns: int,
    racy_files: int,
) -> CorpusChanges:
    """What changed since the build, reading the records only if the digest differs.

    `digest` is the manifest's `corpus_stats`. When the corpus's files give
    the same digest, every file is recorded with its stat and a sha256 and
    every recorded file is there: comparing record by record would find
    nothing, unless the build left files racily clean (`racy_files` of them,
    read within a tick of their last edit after it began at `began_ns`: see
    `esqa.index.manifest.is_racy`), which only their hash can clear.
    """
    files = _files(corpus)
    try:
        stats = _stats(files)
        same = stats_digest(stats) == digest and (
            racy_files == 0 or not any(is_racy(m, began_ns) for _, _, m in stats)
        )
    except OSError:
        same = False  # a file vanished since the listing: the records say what
    return CorpusChanges() if same else _compare(records(), files)


def settle_racy(corpus: Path, records: SourceRecords, began_ns: int) -> int:
    """Mark `settled` the records racy against `began_ns` whose file, a tick after
    its last edit, still has their stat and hash; return how many are not.

    Once a tick has passed since a file's modification time, a later edit gives
    it another one, so a file unchanged now is trusted by its stat again: the
    article `esqa add` has just copied is settled by the end of its build, and
    the next check takes the digest's fast path.
    """
    left = 0
    for table in (records.sources, records.skipped):
        for source, record in table.items():
            record.pop("settled", None)
            if not is_racy(record["mtime_ns"], began_ns):
                continue
            if _settles(corpus / source, record):
                record["settled"] = True
            else:
                left += 1
    return left


def _now_ns() -> int:
    return time.time_ns()


def _settles(path: Path, record: dict[str, Any]) -> bool:
    mtime = record["mtime_ns"]
    if "sha256" not in record or _now_ns() < mtime + mtime_tick_ns(mtime):
        return False
    try:
        stat = path.stat()
        same = (stat.st_size, stat.st_mtime_ns) == (record["bytes"], mtime)
        return same and sha256_file(path) == record["sha256"]
    except OSError:
        return False


def stats_digest(stats: Iterable[tuple[str, int, int]]) -> str:
    """The sha256 of (source, size, mtime_ns) triples, whatever their order."""
    # No file name holds a NUL, so joining three fields per file with NULs
    # cannot make two different listings look alike.
    listing = "\0".join(f"{s}\0{size}\0{mtime}" for s, size, mtime in sorted(stats))
    return hashlib.sha256(listing.encode("utf-8", "surrogatepass")).hexdigest()


def recorded_digest(records: SourceRecords) -> str:
    """`stats_digest` of the files the build read, as it recorded them.

    Skipped files that were read (empty, binary, no article text) count: left
    out, a single one would send every check to the records. A file that
    could not be read has no sha256 and is left out, so a corpus holding one
    is always compared record by record (see `_changed`).
    """
    read = [*records.sources.items(), *records.skipped.items()]
    return stats_digest((s, r["bytes"], r["mtime_ns"]) for s, r in read if "sha256" in r)


def _files(corpus: Path) -> _Files:
    return [(source, entry) for source, entry, left_out in walk_corpus(corpus) if not left_out]


def _stats(files: _Files) -> list[tuple[str, int, int]]:
    out = []
    for source, entry in files:
        stat = entry.stat(follow_symlinks=False)  # a regular file: as path.stat()
        out.append((source, stat.st_size, stat.st_mtime_ns))
    return out


def _compare(records: SourceRecords, files: _Files) -> CorpusChanges:
    """Size and modification time first; a file whose stat changed is hashed."""
    recorded, skipped = records.sources, records.skipped
    seen: set[str] = set()
    added: list[str] = []
    changed: list[str] = []
    for source, entry in files:
        seen.add(source)
        record = recorded.get(source) or skipped.get(source)
        if record is None:
            added.append(source)
            continue
        if _changed(entry, record, records):
            changed.append(source)
    removed = sorted(set(recorded) - seen)
    return CorpusChanges(tuple(added), tuple(changed), tuple(removed))


def _changed(entry: os.DirEntry[str], record: dict[str, Any], records: SourceRecords) -> bool:
    """Whether a file differs from its record: by stat first, by hash to confirm."""
    try:
        stat = entry.stat(follow_symlinks=False)  # a regular file: as path.stat()
    except OSError:
        return False  # vanished during the check: the next one reports it
    same_stat = stat.st_size == record["bytes"] and stat.st_mtime_ns == record["mtime_ns"]
    if "sha256" not in record:
        # Unreadable at build time, so never hashed. Making it readable
        # (chmod) leaves size and mtime alone, yet a build would now index it.
        return not same_stat or _readable(Path(entry.path))
    if records.trusts(record, stat.st_size, stat.st_mtime_ns):
        return False
    try:
        return stat.st_size != record["bytes"] or sha256_file(Path(entry.path)) != record["sha256"]
    except OSError:
        return True  # unreadable now, and its stat changed: a build records that


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False
