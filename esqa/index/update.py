"""What an incremental build changes: the files to index again, the chunks to delete.

The previous generation (`Previous`) is opened without reading its large
files: the manifest, the source records and the deleted ids, and each
segment's small metadata when it is needed. Then:

1. The corpus is compared with the source records (`diff_corpus`): sizes and
   modification times first, and only a file whose stat changed is read (and
   parsed, if its content changed). Unchanged files are never opened.
2. The near-duplicate decisions are re-decided from what the segments keep
   of their paragraphs (`redecide_paragraphs`, `esqa.ingest.dedup_incremental`):
   the new files' paragraphs against every live one, and whatever a change
   reaches in turn.
3. A file whose content changed, or one of whose paragraphs changed fate, is
   written whole into the build's new segment, and its chunks in the old one
   are deleted; a removed file's chunks are deleted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from esqa.errors import EsqaError
from esqa.fileio import sha256_file
from esqa.index import reader
from esqa.index.manifest import (
    MANIFEST,
    Manifest,
    SourceRecords,
    read_manifest,
    read_sources,
)
from esqa.index.reader import verify_files
from esqa.index.segments import StoredSegment, read_deleted
from esqa.ingest.chunks import document_paragraphs
from esqa.ingest.dedup import Paragraphs, take_rows
from esqa.ingest.dedup_incremental import KnownParagraphs, Redecision, redecide, ref, unref
from esqa.ingest.files import list_corpus
from esqa.ingest.pages import read_document, read_indexable, unreadable_folders
from esqa.ingest.textfile import NotTextError
from esqa.types import Document


class Unusable(Exception):
    """The previous index cannot be reused (damaged where a build reads it); the message says why."""


@contextlib.contextmanager
def reading_previous(what: str) -> Iterator[None]:
    """Turn damage found while reading the previous index into `Unusable`.

    Only reads go inside: a build that cannot read what it meant to reuse
    builds afresh (with a warning), the way a damaged index is repaired.
    """
    try:
        yield
    except Unusable:
        raise
    except (EsqaError, ValueError, OSError, KeyError, TypeError, IndexError) as exc:
        raise Unusable(f"{what} cannot be read ({type(exc).__name__}: {exc})") from None


@dataclass
class Previous:
    """The generation a build starts from."""

    index: Path
    directory: Path
    manifest: Manifest
    records: SourceRecords
    segments: list[StoredSegment]
    deleted: np.ndarray
    reuse_chunks: bool  # False when chunking, ingestion or tokenising changed
    _verified: set[str] = field(default_factory=set)

    def live_rows(self, segment: StoredSegment, gone: Iterable[str] = ()) -> np.ndarray:
        """Which paragraph rows of a segment belong to files that live in it (and are not gone)."""
        gone = set(gone)
        live_sources = np.array(
            [
                (self.records.sources.get(s) or {}).get("segment") == segment.name and s not in gone
                for s in segment.sources
            ],
            dtype=bool,
        )
        table = segment.paragraphs
        return live_sources[table.source] if len(table) else np.zeros(0, dtype=bool)

    def segment_of(self, source: str) -> StoredSegment:
        name = self.records.sources[source]["segment"]
        return next(s for s in self.segments if s.name == name)

    def verify_all(self, segment: StoredSegment) -> None:
        """`verify` every file of a segment (before merging it)."""
        prefix = f"{segment.record.directory}/"
        for name in self.manifest.files:
            if name.startswith(prefix):
                self.verify(segment, name.removeprefix(prefix))

    def verify(self, segment: StoredSegment, file: str) -> None:
        """Hash a large file of a segment in full before copying from it (a load checks its size).

        Data copied into a new segment gets a new checksum: damage read here
        would be sealed in. Lucene checks segments the same way at merge.
        """
        name = f"{segment.record.directory}/{file}"
        if name in self._verified:
            return
        expected = self.manifest.files.get(name)
        path = segment.generation / name
        if expected is None:
            raise Unusable(f"{path} has no checksum in the manifest")
        # Files up to the load limit were hashed when the index was opened.
        if expected.bytes > reader.HASH_ON_LOAD_BYTES and sha256_file(path) != expected.sha256:
            raise Unusable(f"index file {path} is damaged (checksum mismatch)")
        self._verified.add(name)


def open_previous(
    index: Path, model_id: str, dimension: int, reuse_chunks: Any
) -> tuple[Previous | None, str | None]:
    """The index about to be replaced, if a build can start from it; else None and why
    not (None too when there is no index yet). `reuse_chunks(manifest)` says whether
    its chunks can be kept as they are."""
    try:
        directory = index.resolve()
    except (OSError, RuntimeError) as exc:
        return None, f"{index} cannot be resolved ({exc})"
    if not (directory / MANIFEST).is_file():
        return None, None
    try:
        directory, manifest = read_manifest(index)
        if (manifest.model.id, manifest.model.dimension) != (model_id, dimension):
            return None, (
                f"index {index} was built with {manifest.model.id} "
                f"({manifest.model.dimension} dimensions), not {model_id} ({dimension})"
            )
        verify_files(index, directory, manifest.files, hash_all=False)
        records = read_sources(index, directory, manifest)
        deleted = read_deleted(directory)
        segments = [StoredSegment(directory, record) for record in manifest.segments]
    except EsqaError as exc:
        return None, exc.problem
    except (KeyError, TypeError, AttributeError, ValueError, OSError) as exc:
        # The repair command must never fail on the index it repairs.
        return None, f"{directory / MANIFEST} is damaged ({type(exc).__name__}: {exc})"
    return (
        Previous(
            index, directory, manifest, records, segments, deleted, bool(reuse_chunks(manifest))
        ),
        None,
    )


@dataclass
class CorpusDiff:
    """What changed in the corpus since the previous build."""

    documents: list[Document]  # new and changed files, read and parsed, by source
    changed: set[str]  # indexed files whose content changed (their new version is in documents)
    removed: set[str]  # indexed files gone, or no longer indexable
    touched: dict[str, tuple[int, int]]  # same content, new (size, mtime_ns)
    skipped: dict[str, str]  # every file not indexed now, and why
    warnings: list[str]

    @property
    def gone(self) -> set[str]:
        """Indexed files whose chunks this build deletes."""
        return self.changed | self.removed

    def read(self, path: Path, source: str, record: dict[str, Any] | None) -> None:
        """Read one file whose stat changed (or that is new) and note what it is now."""
        doc, reason = read_indexable(path, source)
        if doc is not None:
            self.warnings.extend(doc.warnings)
        if doc is not None and not reason:
            if record is not None and doc.sha256 == record["sha256"]:
                self.touched[source] = doc.file_stat or (0, 0)
                return
            self.documents = [d for d in self.documents if d.source != source] + [doc]
            self.documents.sort(key=lambda d: d.source)
            if record is not None:
                self.changed.add(source)
            return
        self.skipped[source] = reason
        self.warnings.append(f"skipped {source}: {reason}")
        if record is not None:
            self.removed.add(source)


def diff_corpus(corpus: Path, records: SourceRecords) -> CorpusDiff:
    """Compare the corpus with the records: read only files whose size or mtime changed."""
    listing = list_corpus(corpus)
    # As a full build's scan: warned of and recorded as skipped; the files in
    # them are not seen, so their chunks are deleted, as a full build leaves them out.
    warnings, folders = unreadable_folders(listing)
    diff = CorpusDiff([], set(), set(), {}, folders, warnings)
    seen: set[str] = set()
    for source, entry, left_out in listing.entries:
        if left_out is not None:
            printable = source.encode("utf-8", "surrogateescape").decode(
                "utf-8", "backslashreplace"
            )
            diff.warnings.append(f"skipped {printable}: {left_out}")
            continue
        seen.add(source)
        record = records.sources.get(source)
        stat = entry.stat(follow_symlinks=False)
        if record is not None and records.trusts(record, stat.st_size, stat.st_mtime_ns):
            continue
        skipped = records.skipped.get(source)
        if (
            record is None
            and skipped is not None
            and records.trusts(skipped, stat.st_size, stat.st_mtime_ns)
        ):
            if "sha256" in skipped:  # read before, and not indexable: unchanged
                diff.skipped[source] = skipped["reason"]
                continue
        diff.read(Path(entry.path), source, record)
    diff.removed |= {s for s in records.sources if s not in seen}
    diff.documents.sort(key=lambda d: d.source)
    return diff


def redecide_paragraphs(
    previous: Previous, documents: Sequence[Document], gone: set[str]
) -> tuple[Paragraphs, Redecision, list[StoredSegment]]:
    """Decide the new files' paragraphs and what their arrival and `gone`'s departure reach."""
    segments = previous.segments
    tables = [s.paragraphs for s in segments]
    live = [previous.live_rows(s, gone) for s in segments]
    removed = []
    for number, segment in enumerate(segments):
        for source in gone:
            if previous.records.sources.get(source, {}).get("segment") == segment.name:
                removed += [ref(number, row) for row in segment.row_range(source)]
    fresh = document_paragraphs(documents)
    known = KnownParagraphs([*tables, fresh], [*live, np.ones(len(fresh), dtype=bool)])
    return fresh, redecide(known, len(tables), removed), segments


def new_segment_paragraphs(
    previous: Previous, fresh: Paragraphs, decision: Redecision, segments: list[StoredSegment]
) -> tuple[Paragraphs, list[str]]:
    """The new segment's table: the new files' rows and those of every file that moved."""
    new_number = len(segments)
    fresh_kept = [decision.new[ref(new_number, row)] for row in range(len(fresh))]
    parts: list[tuple[Paragraphs, Sequence[int], Sequence[bool]]] = [
        (fresh, range(len(fresh)), fresh_kept)
    ]
    flipped: dict[int, dict[int, bool]] = {}
    for value, keep in decision.flipped.items():
        number, row = unref(value)
        flipped.setdefault(number, {})[row] = keep
    moved: list[str] = []
    for number, rows in sorted(flipped.items()):
        segment = segments[number]
        table = segment.paragraphs
        for source in sorted({table.sources[int(table.source[r])] for r in rows}):
            span = segment.row_range(source)
            decided = [rows.get(r, bool(table.kept[r])) for r in span]
            parts.append((table, span, decided))
            moved.append(source)
    return take_rows(parts), sorted(moved)


def read_moved(
    corpus: Path, previous: Previous, moved: Sequence[str]
) -> tuple[list[Document], list[str]]:
    """Read the files that move into the new segment; (unchanged ones, ones that changed after all).

    A file is moved because a decision about one of its paragraphs changed;
    its content is expected to be what its record says (its stat did not
    change, and it is not racily clean); one found edited after all, since
    the comparison, is read as changed.
    """
    same, changed = [], []
    for source in moved:
        try:
            doc = read_document(corpus / source, source)
        except (NotTextError, OSError):
            changed.append(source)
            continue
        if doc.sha256 == previous.records.sources[source]["sha256"] and doc.paragraphs:
            same.append(doc)
        else:
            changed.append(source)
    return same, changed
