"""Writing a generation of an index: the segments a build keeps, writes and merges.

`esqa.index.build` decides what a build changes (a `Plan`) and makes the new
segment's contents; this module writes them into the staging directory that
`esqa.index.publish` gives: kept segments hard-linked from the previous
generation, the new segment, the merges the policy asks for (or `--optimize`),
then `deleted.npy`, `sources.json`, `acronyms.json` and the manifest.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from esqa import __version__
from esqa.embed.base import Embedder, describe_embedder
from esqa.fileio import sha256_file
from esqa.index.changes import recorded_digest, settle_racy
from esqa.index.manifest import (
    ACRONYMS,
    SOURCES,
    BuildRecord,
    Counts,
    FileRecord,
    Manifest,
    ModelRecord,
    SegmentRecord,
    SourceRecords,
    write_manifest,
)
from esqa.index.merge import merge_segments
from esqa.index.merge_policy import MergePolicy, SegmentSize
from esqa.index.segments import (
    SegmentContents,
    StoredSegment,
    link_files,
    segment_name,
    write_deleted,
    write_segment,
)
from esqa.index.update import Previous, reading_previous
from esqa.ingest.acronyms import OccurrenceRun, choose_acronyms
from esqa.ingest.chunking import ChunkingParams
from esqa.ingest.dedup import Paragraphs
from esqa.ingest.fingerprint import ingestion_fingerprint
from esqa.types import Chunk, Document


@dataclass
class Plan:
    """What the new generation is: kept segments, the new segment's files, deletions, records."""

    documents: list[Document]  # files written into the new segment, by source
    paragraphs: Paragraphs  # their paragraphs, decided
    kept: list[StoredSegment]  # segments linked from the previous generation
    deleted: set[int]  # chunk ids no longer live
    sources: dict[str, Any]  # the records of every indexed file after this build
    skipped: dict[str, str]
    warnings: list[str]
    deleted_now: int = 0


def write_generation(
    directory: Path,
    corpus: Path,
    plan: Plan,
    new_contents: SegmentContents | None,
    previous: Previous | None,
    optimize: bool,
    policy: MergePolicy | None,
    embedder: Embedder,
    params: ChunkingParams,
    dense_engine: dict[str, Any],
    lexical_engine: dict[str, Any],
    incremental: bool,
    embedded: int,
    started: float,
) -> Manifest:
    """Write the new generation into `directory` (a staging directory `publish` gave)."""
    records: dict[str, SegmentRecord] = {}
    stored: dict[str, StoredSegment] = {}
    known: dict[str, FileRecord] = {}
    names: list[str] = []
    number = 0
    for segment in plan.kept:  # linked, not copied: see esqa.index.segments
        assert previous is not None
        prefix = f"{segment.record.directory}/"
        files = [n for n in previous.manifest.files if n.startswith(prefix)]
        link_files(previous.directory, directory, files)
        known.update({n: previous.manifest.files[n] for n in files})
        names += files
        records[segment.name] = _with_deleted(segment.record, plan.deleted)
        stored[segment.name] = StoredSegment(directory, records[segment.name])
        number = max(number, int(segment.name))
    if previous is not None:
        number = max([number, *(int(s.name) for s in previous.segments)])
    sources = dict(plan.sources)
    next_base = max((r.base + r.chunks for r in records.values()), default=0)
    written = 0
    if new_contents is not None:
        number += 1
        record, files = write_segment(directory, segment_name(number), next_base, new_contents)
        names += files
        written += record.chunks
        records[record.name] = record
        stored[record.name] = StoredSegment(directory, record)
        _record_sources(corpus, sources, plan.documents, new_contents, record.name)
    # Merges: the policy's, or every segment into one.
    sizes = [SegmentSize(r.name, r.chunks, r.deleted, r.exact) for r in records.values()]
    groups = [[r.name for r in records.values()]] if optimize and len(records) > 1 else []
    if optimize and len(records) == 1 and next(iter(records.values())).deleted:
        groups = [[next(iter(records))]]
    if not groups and policy is not None:
        groups = policy.merges(sizes)
    merged = 0
    kept_names = {s.name for s in plan.kept}
    for group in groups:
        members = [stored[n] for n in group]
        live = {n: {s for s, r in sources.items() if r["segment"] == n} for n in group}

        def check(segment: StoredSegment) -> None:
            # Linked from the previous generation: its large files were checked
            # by size only. A segment this build wrote needs no check.
            if previous is not None and segment.name in kept_names:
                previous.verify_all(segment)

        with reading_previous(f"segments {', '.join(group)}"):
            contents = merge_segments(
                members, live, embedder.dimension, dense_engine, lexical_engine, check
            )
        for name in group:
            prefix = f"{records[name].directory}/"
            names = [n for n in names if not n.startswith(prefix)]
            for n in [k for k in known if k.startswith(prefix)]:
                del known[n]
            _remove_tree(directory / records[name].directory)
            plan.deleted -= set(
                range(records[name].base, records[name].base + records[name].chunks)
            )
            del records[name], stored[name]
        number += 1
        # Every segment merged into one starts again at 0, as a build from scratch.
        base = max((r.base + r.chunks for r in records.values()), default=0)
        record, files = write_segment(directory, segment_name(number), base, contents)
        names += files
        written += record.chunks
        records[record.name] = record
        stored[record.name] = StoredSegment(directory, record)
        for source in contents.sources:
            sources[source] = {**sources[source], "segment": record.name}
        merged += len(group)
    ordered = sorted(records.values(), key=lambda r: r.base)
    ordered = [_with_deleted(r, plan.deleted) for r in ordered]
    final = {r.name: StoredSegment(directory, r) for r in ordered}
    with reading_previous("its acronym occurrences"):
        acronyms = choose_acronyms([_occurrence_run(s, sources) for s in final.values()])
    (directory / ACRONYMS).write_text(
        json.dumps({k: a.to_dict() for k, a in sorted(acronyms.items())}, ensure_ascii=False)
    )
    records_out = SourceRecords(
        dict(sorted(sources.items())), _skipped_records(corpus, plan.skipped)
    )
    # The files read within a tick of their last edit; a second earlier than
    # the build began, as `build_began_ns` will make of the manifest's whole
    # seconds, so that every file a check will count as racy is looked at.
    began_ns = time.time_ns() - int((time.monotonic() - started) * 1e9)
    racy = settle_racy(corpus, records_out, began_ns - 1_000_000_000)
    (directory / SOURCES).write_text(
        json.dumps(records_out.to_dict(), ensure_ascii=False), encoding="utf-8"
    )
    names += [write_deleted(directory, plan.deleted), SOURCES, ACRONYMS]
    values = list(sources.values())
    manifest = Manifest(
        esqa_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        build_seconds=round(time.monotonic() - started, 3),
        build=BuildRecord(
            incremental=incremental,
            reused_chunks=sum(r["chunks"] for r in values) - embedded,
            embedded_chunks=embedded,
            chunked_files=len(plan.documents),
            written_chunks=written,
            deleted_chunks=plan.deleted_now,
            merged_segments=merged,
        ),
        corpus=str(corpus.resolve()),  # absolute: later commands may run elsewhere
        model=ModelRecord(embedder.model_id, embedder.dimension),
        # Which backend embedded this build's new chunks (and its ONNX
        # export's sha256). Informational: vectors are interchangeable
        # between backends of the same model id, so loading does not check it.
        embedder=describe_embedder(embedder),
        chunking=params.to_dict(),
        ingestion=ingestion_fingerprint(),
        dense=dense_engine,
        lexical=lexical_engine,
        counts=Counts(
            files=len(values),
            articles=sum(r["articles"] for r in values),
            paragraphs=sum(r["paragraphs"] for r in values),
            duplicate_paragraphs=sum(len(r["dropped"]) for r in values),
            chunks=sum(r["chunks"] for r in values),
        ),
        warnings=tuple(plan.warnings),
        corpus_stats=recorded_digest(records_out),
        racy_files=racy,
        segments=tuple(ordered),
        deleted=len(plan.deleted),
    )
    return write_manifest(directory, manifest, names, known)


def _occurrence_run(segment: StoredSegment, sources: dict[str, Any]) -> OccurrenceRun:
    def live(position: int) -> bool:
        return sources.get(segment.source_of_chunk(position), {}).get("segment") == segment.name

    def chunk_at(position: int) -> Chunk:
        return segment.chunks[position]

    return OccurrenceRun(segment.occurrences, segment.source_of_chunk, live, chunk_at)


def _with_deleted(record: SegmentRecord, deleted: set[int]) -> SegmentRecord:
    ids = np.fromiter(deleted, dtype=np.int64, count=len(deleted))
    inside = (ids >= record.base) & (ids < record.base + record.chunks)
    return replace(record, deleted=int(np.count_nonzero(inside)))


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path)


def _record_sources(
    corpus: Path,
    sources: dict[str, Any],
    documents: Sequence[Document],
    contents: SegmentContents,
    segment: str,
) -> None:
    per_source = dict(zip(contents.sources, contents.chunk_counts, strict=True))
    table = contents.paragraphs
    dropped: dict[str, list[int]] = {}
    for row in np.flatnonzero(~table.kept).tolist():
        dropped.setdefault(table.sources[table.source[row]], []).append(int(table.number[row]))
    for doc in documents:
        # The stat taken when the file was read, never a later one: a file
        # edited since would otherwise be recorded with new stat and old hash,
        # and the staleness check, seeing the stat unchanged, would miss the edit.
        size, mtime_ns = doc.file_stat or _stat_of(corpus / doc.source)
        sources[doc.source] = {
            "sha256": doc.sha256,
            "bytes": size,
            "mtime_ns": mtime_ns,
            "encoding": doc.encoding,
            "articles": len(doc.articles),
            "paragraphs": len(doc.paragraphs),
            "chunks": per_source.get(doc.source, 0),
            "dropped": sorted(dropped.get(doc.source, [])),
            "segment": segment,
        }


def _stat_of(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _skipped_records(corpus: Path, skipped: dict[str, str]) -> dict[str, Any]:
    """Files not indexed, recorded so that they do not look new at every check.

    A file that cannot be read is recorded by its size and modification time
    only: left out, it would be reported as added after every build, which no
    build can change.
    """
    records = {}
    for source, reason in sorted(skipped.items()):
        try:
            stat = (corpus / source).stat()
        except OSError:
            continue  # gone since the scan: nothing to record
        record: dict[str, Any] = {
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "reason": reason,
        }
        try:
            record["sha256"] = sha256_file(corpus / source)
        except OSError:
            pass  # unreadable: see esqa.index.changes
        records[source] = record
    return records
