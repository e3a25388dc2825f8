"""What changed in a corpus since its index was built.

The build records each file's size, modification time and sha256
(`sources.json`, see `esqa.manifest.SourceRecords`). Comparing stats first
makes the check of an untouched corpus cost one `stat` per file; only a file
whose stat changed is hashed, to confirm that its content did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esqa.corpus import iter_corpus_files
from esqa.manifest import SourceRecords
from esqa.storage import sha256_file


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


def corpus_changes(records: SourceRecords, corpus: Path) -> CorpusChanges:
    """Files added, changed or removed since the index was built.

    Size and modification time are compared first; a file whose stat changed
    is hashed to confirm that its content did.
    """
    recorded, skipped = records.sources, records.skipped
    seen: set[str] = set()
    added: list[str] = []
    changed: list[str] = []
    for path, source in iter_corpus_files(corpus):
        seen.add(source)
        record = recorded.get(source) or skipped.get(source)
        if record is None:
            added.append(source)
            continue
        if _changed(path, record):
            changed.append(source)
    removed = sorted(set(recorded) - seen)
    return CorpusChanges(tuple(added), tuple(changed), tuple(removed))


def _changed(path: Path, record: dict[str, Any]) -> bool:
    """Whether a file differs from its record: by stat first, by hash to confirm."""
    try:
        stat = path.stat()
    except OSError:
        return False  # vanished during the check: the next one reports it
    same_stat = stat.st_size == record["bytes"] and stat.st_mtime_ns == record["mtime_ns"]
    if "sha256" not in record:
        # Unreadable at build time, so never hashed. Making it readable
        # (chmod) leaves size and mtime alone, yet a build would now index it.
        return not same_stat or _readable(path)
    if same_stat:
        return False
    try:
        return stat.st_size != record["bytes"] or sha256_file(path) != record["sha256"]
    except OSError:
        return True  # unreadable now, and its stat changed: a build records that


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False
