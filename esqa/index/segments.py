"""Segments: the immutable parts an index generation is made of.

A generation (`esqa.index.publish`) holds `segments/NNNNNN/` directories,
each written once and never changed, plus a few files of its own: the
manifest that lists the segments (`esqa.index.manifest.SegmentRecord`: name,
first chunk id, counts), `deleted.npy` (the chunk ids no longer live, sorted),
`sources.json` (each corpus file's record, naming the segment that holds it)
and `acronyms.json`. A segment holds:

- its chunk table (`esqa.index.chunk_table`; a chunk's id in the index is the
  segment's base plus its line number) and its chunks' sentence vectors
  (`esqa.index.sentence_vectors`),
- its stores' files (`dense.faiss`, `lexical/`: `esqa.stores`),
- `paragraphs/`: every paragraph of its files, indexed or not, as the
  near-duplicate decision needs them (`esqa.ingest.dedup.Paragraphs`: order
  key, shingle hashes and their inverted index, decision),
- `acronyms.json`: where candidate acronyms first occur in each of its files
  (`esqa.ingest.acronyms.AcronymOccurrences`),
- `segment.json`: its files in corpus order, with how many chunks and
  paragraphs each has.

A file lives in exactly one segment, whole: when it changes, or when a
near-duplicate decision about one of its paragraphs changes, its chunks in the
old segment are deleted and the file is written into the build's new segment.

A new generation links the files of the segments it keeps from the previous
generation (hard links: no byte is copied, and removing an old generation
removes only its names), and writes only new segments. A crash at any moment
leaves the previous generation whole, since nothing in it is ever written.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from esqa.index.chunk_table import TEXTS, ChunkTable, write_chunks
from esqa.index.manifest import DELETED, SEGMENTS, SegmentRecord
from esqa.index.sentence_vectors import SentenceVectors
from esqa.ingest.acronyms import AcronymOccurrences
from esqa.ingest.dedup import Paragraphs
from esqa.stores.factory import Stores
from esqa.types import Chunk

SEGMENT_FILE = "segment.json"
OCCURRENCES = "acronyms.json"
PARAGRAPHS = "paragraphs"
_PARAGRAPH_ARRAYS = {
    "rows": "rows.npy",  # int32 (n, 4): source, number, teaser, length
    "kept": "kept.npy",  # bool
    "ptr": "shingles.ptr.npy",  # int64 (n + 1)
    "hashes": "shingles.npy",  # uint32
    "inverted_hashes": "inverted.hashes.npy",  # uint32, sorted
    "inverted_rows": "inverted.rows.npy",  # int32
}
SEGMENT_FORMAT = 1


def segment_name(number: int) -> str:
    return f"{number:06d}"


@dataclass(frozen=True)
class SegmentContents:
    """What a segment about to be written holds (chunk ids local: 0, 1, 2, ...)."""

    sources: tuple[str, ...]  # its files, in corpus order
    chunk_counts: tuple[int, ...]  # chunks of each file
    chunks: Sequence[Chunk]
    paragraphs: Paragraphs  # its files' paragraphs, decided; `sources` as above
    occurrences: AcronymOccurrences
    stores: Stores  # filled with the chunks
    sentences: SentenceVectors  # the chunks' sentence vectors


def write_segment(
    generation: Path, name: str, base: int, contents: SegmentContents
) -> tuple[SegmentRecord, list[str]]:
    """Write a segment into the generation directory; its record and its files' names."""
    relative = f"{SEGMENTS}/{name}"
    directory = generation / relative
    directory.mkdir(parents=True)
    if len(contents.sentences) != len(contents.chunks):
        raise ValueError("a segment needs the sentence vectors of each of its chunks")
    names = write_chunks(directory, contents.chunks)
    names += contents.sentences.save(directory)
    names += contents.stores.save(directory)
    names += _write_paragraphs(directory, contents.paragraphs)
    (directory / OCCURRENCES).write_text(
        json.dumps(contents.occurrences.to_dict(), ensure_ascii=False), encoding="utf-8"
    )
    paragraph_counts = np.bincount(
        contents.paragraphs.source, minlength=len(contents.sources)
    ).tolist()
    meta = {
        "format": SEGMENT_FORMAT,
        "sources": list(contents.sources),
        "chunks": list(contents.chunk_counts),
        "paragraphs": paragraph_counts,
    }
    (directory / SEGMENT_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    names += [OCCURRENCES, SEGMENT_FILE]
    dense = contents.stores.dense.describe()
    record = SegmentRecord(
        name=name,
        base=base,
        chunks=len(contents.chunks),
        paragraphs=len(contents.paragraphs),
        sources=len(contents.sources),
        deleted=0,
        exact=bool(dense.get("exact", True)),
        dense=str(dense.get("type", "")),
    )
    return record, [f"{relative}/{n}" for n in names]


def _write_paragraphs(directory: Path, table: Paragraphs) -> list[str]:
    target = directory / PARAGRAPHS
    target.mkdir()
    rows = np.stack(
        [table.source, table.number, table.teaser.astype(np.int32), table.length], axis=1
    ).astype(np.int32)
    inverted_hashes, inverted_rows = table.inverted()
    arrays = {
        "rows": rows.reshape(len(table), 4),
        "kept": table.kept.astype(bool),
        "ptr": table.ptr.astype(np.int64),
        "hashes": table.hashes.astype(np.uint32),
        "inverted_hashes": inverted_hashes.astype(np.uint32),
        "inverted_rows": inverted_rows.astype(np.int32),
    }
    for key, file in _PARAGRAPH_ARRAYS.items():
        np.save(target / file, np.ascontiguousarray(arrays[key]), allow_pickle=False)
    return [f"{PARAGRAPHS}/{file}" for file in _PARAGRAPH_ARRAYS.values()]


def write_deleted(generation: Path, deleted: Iterable[int]) -> str:
    ids = np.unique(np.fromiter(deleted, dtype=np.int64))
    np.save(generation / DELETED, ids, allow_pickle=False)
    return DELETED


def read_deleted(generation: Path) -> np.ndarray:
    """The deleted chunk ids, sorted; ValueError when the file is not such a list."""
    ids = np.load(generation / DELETED, allow_pickle=False)
    if ids.ndim != 1 or ids.dtype != np.int64 or np.any(np.diff(ids) <= 0):
        raise ValueError(f"{DELETED} is not a sorted list of chunk ids")
    return ids


def link_files(source: Path, target: Path, names: Iterable[str]) -> None:
    """Make each named file of generation `source` appear in generation `target`.

    A hard link where the file system allows one (the bytes are shared, and
    neither generation ever writes them), else a copy.
    """
    for name in names:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source / name, destination)
        except OSError:
            shutil.copyfile(source / name, destination)


class StoredSegment:
    """A written segment, read for a build: its chunks, paragraphs, occurrences, vectors.

    Everything is read when first asked for, memory-mapped where it is large.
    """

    def __init__(self, generation: Path, record: SegmentRecord) -> None:
        self.generation = generation
        self.record = record
        self.directory = generation / record.directory

    @property
    def name(self) -> str:
        return self.record.name

    @cached_property
    def meta(self) -> dict[str, Any]:
        meta = json.loads((self.directory / SEGMENT_FILE).read_text(encoding="utf-8"))
        sources, chunks, paragraphs = (
            meta.get("sources"),
            meta.get("chunks"),
            meta.get("paragraphs"),
        )
        if not (
            meta.get("format") == SEGMENT_FORMAT
            and isinstance(sources, list)
            and isinstance(chunks, list)
            and isinstance(paragraphs, list)
            and len(sources) == len(chunks) == len(paragraphs) == self.record.sources
            and sum(chunks) == self.record.chunks
            and sum(paragraphs) == self.record.paragraphs
        ):
            raise ValueError(f"{SEGMENT_FILE} of segment {self.name} does not match the manifest")
        return meta

    @cached_property
    def sources(self) -> list[str]:
        return list(self.meta["sources"])

    @cached_property
    def _starts(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        chunk_starts = np.concatenate([[0], np.cumsum(self.meta["chunks"])]).astype(np.int64)
        row_starts = np.concatenate([[0], np.cumsum(self.meta["paragraphs"])]).astype(np.int64)
        return {s: i for i, s in enumerate(self.sources)}, chunk_starts, row_starts

    def chunk_range(self, source: str) -> range:
        """The local chunk positions of a file of this segment."""
        index, starts, _ = self._starts
        i = index[source]
        return range(int(starts[i]), int(starts[i + 1]))

    def row_range(self, source: str) -> range:
        """The paragraph rows of a file of this segment."""
        index, _, starts = self._starts
        i = index[source]
        return range(int(starts[i]), int(starts[i + 1]))

    def source_of_chunk(self, position: int) -> str:
        _, starts, _ = self._starts
        return self.sources[int(np.searchsorted(starts, position, side="right")) - 1]

    def holds(self, source: str) -> bool:
        return source in self._starts[0]

    @cached_property
    def chunks(self) -> ChunkTable:
        return ChunkTable.open(self.directory)

    @cached_property
    def sentences(self) -> SentenceVectors:
        return SentenceVectors.open(self.directory, self.record.chunks)

    @cached_property
    def text_hashes(self) -> np.ndarray:
        return np.load(self.directory / TEXTS, mmap_mode="r", allow_pickle=False)

    @cached_property
    def paragraphs(self) -> Paragraphs:
        target = self.directory / PARAGRAPHS
        arrays = {
            key: np.load(target / file, mmap_mode="r", allow_pickle=False)
            for key, file in _PARAGRAPH_ARRAYS.items()
        }
        rows, ptr = arrays["rows"], arrays["ptr"]
        n = self.record.paragraphs
        if rows.shape != (n, 4) or ptr.shape != (n + 1,) or int(ptr[-1]) != len(arrays["hashes"]):
            raise ValueError(f"the paragraphs of segment {self.name} do not match the manifest")
        if len(arrays["inverted_hashes"]) != len(arrays["hashes"]) or len(arrays["kept"]) != n:
            raise ValueError(f"the paragraphs of segment {self.name} do not match the manifest")
        table = Paragraphs(
            sources=tuple(self.sources),
            source=np.asarray(rows[:, 0]),
            number=np.asarray(rows[:, 1]),
            teaser=np.asarray(rows[:, 2]).astype(bool),
            length=np.asarray(rows[:, 3]),
            ptr=np.asarray(ptr),
            hashes=arrays["hashes"],
            kept=np.array(arrays["kept"], dtype=bool),
        )
        return table.with_inverted(arrays["inverted_hashes"], arrays["inverted_rows"])

    @cached_property
    def occurrences(self) -> AcronymOccurrences:
        data = json.loads((self.directory / OCCURRENCES).read_text(encoding="utf-8"))
        return AcronymOccurrences.from_dict(data)

    def stores(self, dimension: int, dense: dict[str, Any], lexical: dict[str, Any]) -> Stores:
        """The segment's own stores, opened (searching them alone ignores the deletions)."""
        from esqa.stores.factory import open_stores

        return open_stores(self.directory, dense, lexical, dimension, self.chunks)
