"""Merging segments into one: their live chunks, vectors, postings, paragraphs, acronyms.

A merge reads what the segments keep and renumbers it (sentence vectors are
copied as stored); it never reads the corpus, embeds, or tokenises. The merged
segment holds the live files of the merged segments in corpus order, so
merging every segment of an index gives
the segment a build from scratch writes (`esqa index build --optimize`). Which
segments merge is `esqa.index.merge_policy`'s decision; a merge is part of a
build, written into the new generation like any segment, so it is atomic and
crash-safe as a build is. Every large file of a segment is hashed in full
before it is read (`esqa.index.update.Previous.verify`): what a merge copies
gets new checksums, and damage must not be sealed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from esqa.index.segments import SegmentContents, StoredSegment
from esqa.index.sentence_vectors import SentenceVectors
from esqa.ingest.acronyms import AcronymOccurrences
from esqa.ingest.dedup import take_rows
from esqa.stores.factory import merge_stores
from esqa.types import Chunk


def merge_segments(
    segments: Sequence[StoredSegment],
    live: Mapping[str, set[str]],
    dimension: int,
    dense: Mapping[str, Any],
    lexical: Mapping[str, Any],
    check: Callable[[StoredSegment], None],
) -> SegmentContents:
    """The contents of one segment holding the live files of `segments`.

    `live[name]` are the files of segment `name` that are live; `check`
    verifies a segment's files before they are read.
    """
    for segment in segments:
        check(segment)
    order = sorted((source, n) for n, seg in enumerate(segments) for source in live[seg.name])
    positions = [np.full(seg.record.chunks, -1, dtype=np.int64) for seg in segments]
    chunks: list[Chunk] = []
    counts: list[int] = []
    sentences = []
    for source, n in order:
        span = segments[n].chunk_range(source)
        for local in span:
            positions[n][local] = len(chunks)
            chunks.append(replace(segments[n].chunks[local], id=len(chunks)))
            sentences.append(segments[n].sentences.part(local))
        counts.append(len(span))
    vectors = np.zeros((len(chunks), dimension), dtype=np.float32)
    parts = []
    for n, segment in enumerate(segments):
        stores = segment.stores(dimension, dict(dense), dict(lexical))
        kept = np.flatnonzero(positions[n] >= 0)
        if len(kept):
            vectors[positions[n][kept]] = stores.dense.vectors(kept.tolist())
        parts.append((stores.lexical, positions[n]))
    table = take_rows(
        [
            (
                segments[n].paragraphs,
                segments[n].row_range(source),
                segments[n].paragraphs.kept[segments[n].row_range(source)].tolist(),
            )
            for source, n in order
        ]
    )
    return SegmentContents(
        sources=tuple(source for source, _ in order),
        chunk_counts=tuple(counts),
        chunks=chunks,
        paragraphs=table,
        occurrences=_merge_occurrences(segments, positions),
        stores=merge_stores(dimension, chunks, vectors, parts),
        sentences=SentenceVectors.join(sentences, dimension),
    )


def _merge_occurrences(
    segments: Sequence[StoredSegment], positions: Sequence[np.ndarray]
) -> AcronymOccurrences:
    """Each segment's occurrences at their chunks' new positions; deleted files' left out."""
    out = AcronymOccurrences()
    for n, segment in enumerate(segments):
        found = segment.occurrences
        where = positions[n]
        for key, entries in found.definitions.items():
            moved = [(int(where[p]), long) for p, long in entries if where[p] >= 0]
            if moved:
                out.definitions.setdefault(key, []).extend(moved)
        for table, mine in (("bare", found.bare), ("initials", found.initials)):
            into: dict[str, list[int]] = getattr(out, table)
            for key, spots in mine.items():
                moved_spots = [int(where[p]) for p in spots if where[p] >= 0]
                if moved_spots:
                    into.setdefault(key, []).extend(moved_spots)
    for key in out.definitions:
        out.definitions[key].sort()
    for mapping in (out.bare, out.initials):
        for key in mapping:
            mapping[key].sort()
    return out
