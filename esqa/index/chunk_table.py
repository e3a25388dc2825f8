"""The chunks of a saved index, read one at a time when a search needs them.

Each segment of an index (`esqa.index.segments`) holds a chunk table:
`chunks.jsonl` holds one chunk per line, as JSON (readable, greppable, never
a pickle); `chunks.offsets.npy` holds where each line starts, with the file's
length last, `chunks.crc32.npy` each line's CRC-32, and `chunks.texts.npy` a
hash of each chunk's text (a build looks up texts it has embedded before).
Within a segment a chunk's id is its line number from 0; in the index it is
the segment's base plus that (`SegmentedChunks`). Loading maps the files and
parses nothing: a million chunks took 12.5 s to parse as a whole, and a
question reads about a hundred of them.

`chunks.jsonl` is too large to hash at every load (see
`esqa.index.reader.HASH_ON_LOAD_BYTES`), so each line is checked against its CRC
when it is first read: a damaged line can never be cited, even one that
still parses (a changed digit of a line number). The two small arrays are
hashed at load.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import mmap
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from esqa.errors import IndexInvalidError
from esqa.index.sentence_vectors import SentenceVectors
from esqa.types import Chunk

CHUNKS = "chunks.jsonl"
OFFSETS = "chunks.offsets.npy"
CRCS = "chunks.crc32.npy"
TEXTS = "chunks.texts.npy"
CHUNK_FILES = (CHUNKS, OFFSETS, CRCS, TEXTS)


def text_hash(text: str) -> int:
    """A stable 64-bit hash of a chunk's text, to find texts embedded before."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def write_chunks(directory: Path, chunks: Sequence[Chunk]) -> list[str]:
    """Write the chunks (ids must be 0, 1, 2, ...), their line offsets, CRCs and text hashes;
    the file names."""
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    crcs = np.zeros(len(chunks), dtype=np.uint32)
    with (directory / CHUNKS).open("wb") as f:
        for position, chunk in enumerate(chunks):
            if chunk.id != position:
                raise ValueError(f"chunk {position} has id {chunk.id}; ids are positions")
            line = json.dumps(chunk.to_dict(), ensure_ascii=False).encode("utf-8") + b"\n"
            f.write(line)
            offsets[position + 1] = f.tell()
            crcs[position] = zlib.crc32(line)
    np.save(directory / OFFSETS, offsets, allow_pickle=False)
    np.save(directory / CRCS, crcs, allow_pickle=False)
    texts = np.array([text_hash(c.text) for c in chunks], dtype=np.uint64)
    np.save(directory / TEXTS, texts, allow_pickle=False)
    return list(CHUNK_FILES)


class ChunkTable(Mapping[int, Chunk]):
    """Chunks by id, each parsed from the mapped file the first time it is asked for.

    Example: `table = ChunkTable.open(directory); table[42].text`.
    """

    def __init__(
        self,
        data: bytes | mmap.mmap,
        offsets: np.ndarray,
        crcs: np.ndarray,
        path: str = CHUNKS,
        hint: str = "",
    ) -> None:
        if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0:
            raise ValueError(f"{OFFSETS} is not a list of line offsets")
        if int(offsets[-1]) != len(data) or np.any(np.diff(offsets) <= 0):
            raise ValueError(f"{OFFSETS} does not match {CHUNKS}")
        if crcs.shape != (len(offsets) - 1,):
            raise ValueError(f"{CRCS} does not match {OFFSETS}")
        self._data = data
        self._offsets = offsets
        self._crcs = crcs
        # For the error raised when a line turns out damaged: the file, and
        # the command that rebuilds it.
        self._path, self._hint = path, hint
        self._parsed: dict[int, Chunk] = {}

    @classmethod
    def open(cls, directory: Path, hint: str = "") -> ChunkTable:
        """Map the chunks saved in `directory`; `hint` ends the message of a damaged line."""
        offsets = np.load(directory / OFFSETS, mmap_mode="r", allow_pickle=False)
        crcs = np.load(directory / CRCS, mmap_mode="r", allow_pickle=False)
        with (directory / CHUNKS).open("rb") as f:
            # An empty file cannot be mapped; it holds no chunk either way.
            size = f.seek(0, 2)
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        return cls(
            data,
            np.asarray(offsets, dtype=np.int64),
            np.asarray(crcs, dtype=np.uint32),
            str(directory / CHUNKS),
            hint,
        )

    @property
    def ids(self) -> np.ndarray:
        """Every chunk id, in order, without parsing a chunk."""
        return np.arange(len(self), dtype=np.int64)

    def __getitem__(self, chunk_id: int) -> Chunk:
        cached = self._parsed.get(chunk_id)
        if cached is not None:
            return cached
        if not isinstance(chunk_id, int | np.integer) or not 0 <= chunk_id < len(self):
            raise KeyError(chunk_id)
        start, end = int(self._offsets[chunk_id]), int(self._offsets[chunk_id + 1])
        line = self._data[start:end]
        chunk: Chunk | None = None
        if zlib.crc32(line) != int(self._crcs[chunk_id]):
            problem = "checksum mismatch"
        else:
            try:
                chunk = Chunk.from_dict(json.loads(line))
            except (ValueError, TypeError, KeyError) as exc:
                problem = str(exc)
            else:
                problem = f"it holds chunk {chunk.id}"
        if chunk is None or chunk.id != chunk_id:
            # Found when read: a large file is checked by size only at load
            # (see `esqa.index.reader.load_index`).
            raise IndexInvalidError(
                f"line {chunk_id + 1} of {self._path} is damaged ({problem})", hint=self._hint
            )
        self._parsed[int(chunk_id)] = chunk
        return chunk

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self)))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, int | np.integer) and bool(0 <= chunk_id < len(self))


class SegmentedChunks(Mapping[int, Chunk]):
    """The live chunks of an index of segments, by chunk id (the segment's base plus line).

    Deleted ids are not in it: a search never returns one, and a walk over an
    article (`article_chunks`) stops at one. Example: `chunks[base + 3].text`.
    """

    def __init__(
        self,
        tables: Sequence[ChunkTable],
        bases: Sequence[int],
        deleted: np.ndarray,
        sentences: Sequence[SentenceVectors] | None = None,
    ) -> None:
        if list(bases) != sorted(bases):
            raise ValueError("segments must be given by base")
        if sentences is not None and [len(s) for s in sentences] != [len(t) for t in tables]:
            raise ValueError("the sentence vectors do not match the chunk tables")
        self._tables = list(tables)
        self._sentences = None if sentences is None else list(sentences)
        self._bases = [int(b) for b in bases]
        self._deleted = np.asarray(deleted, dtype=np.int64)
        self._dead = set(self._deleted.tolist())
        self._renumbered: dict[int, Chunk] = {}

    @property
    def tables(self) -> list[ChunkTable]:
        return self._tables

    @property
    def bases(self) -> list[int]:
        return self._bases

    def _locate(self, chunk_id: object) -> tuple[ChunkTable, int, int] | None:
        if not isinstance(chunk_id, int | np.integer) or int(chunk_id) in self._dead:
            return None
        number = bisect.bisect_right(self._bases, int(chunk_id)) - 1
        if number < 0:
            return None
        local = int(chunk_id) - self._bases[number]
        table = self._tables[number]
        return (table, local, self._bases[number]) if local < len(table) else None

    def __getitem__(self, chunk_id: int) -> Chunk:
        cached = self._renumbered.get(chunk_id)
        if cached is not None:
            return cached
        where = self._locate(chunk_id)
        if where is None:
            raise KeyError(chunk_id)
        table, local, base = where
        chunk = table[local]
        if base:
            chunk = replace(chunk, id=int(chunk_id))
        self._renumbered[int(chunk_id)] = chunk
        return chunk

    def __contains__(self, chunk_id: object) -> bool:
        return self._locate(chunk_id) is not None

    def sentence_vectors(self, chunk_id: int) -> np.ndarray | None:
        """The vectors of a live chunk's sentences, one row per span of
        `chunk.sentences` (`esqa.index.sentence_vectors`); None where none are kept."""
        if self._sentences is None or self._locate(chunk_id) is None:
            return None
        number = bisect.bisect_right(self._bases, int(chunk_id)) - 1
        return self._sentences[number].vectors(int(chunk_id) - self._bases[number])

    @property
    def ids(self) -> np.ndarray:
        """Every live chunk id, ascending, without parsing a chunk."""
        every = [
            base + np.arange(len(t)) for t, base in zip(self._tables, self._bases, strict=True)
        ]
        ids = np.concatenate(every) if every else np.zeros(0, dtype=np.int64)
        return ids[~np.isin(ids, self._deleted)] if len(self._deleted) else ids

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables) - len(self._dead)

    def order_key(self, chunk_id: int) -> CorpusOrder:
        """Where a chunk comes in the corpus: its file, then its place in the file.

        A live file's chunks all sit in one segment in file order, so their ids
        order them; across files the name does. A build from scratch numbers
        chunks in this order, so equal scores are broken by it. The key reads
        the chunks only to compare chunks of different segments.
        """
        return CorpusOrder(self, int(chunk_id), bisect.bisect_right(self._bases, int(chunk_id)))


class CorpusOrder:
    """A chunk's place in corpus order, compared lazily (see `SegmentedChunks.order_key`).

    Within a segment chunk ids are in corpus order; between segments the
    files' names decide (a live file is in one segment only).
    """

    __slots__ = ("chunks", "id", "segment")

    def __init__(self, chunks: SegmentedChunks, chunk_id: int, segment: int) -> None:
        self.chunks, self.id, self.segment = chunks, chunk_id, segment

    def _key(self, other: CorpusOrder) -> tuple[tuple[str, int], tuple[str, int]]:
        if self.segment == other.segment:
            return ("", self.id), ("", other.id)
        return (self.chunks[self.id].source, self.id), (other.chunks[other.id].source, other.id)

    def __lt__(self, other: CorpusOrder) -> bool:
        mine, theirs = self._key(other)
        return mine < theirs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CorpusOrder) and self.id == other.id

    def __hash__(self) -> int:
        return self.id


def article_chunks(chunks: Mapping[int, Chunk], chunk: Chunk) -> list[Chunk]:
    """Every chunk of the article that holds `chunk`, in file order.

    Builds number chunks in corpus order, file by file and paragraph by
    paragraph, and a file's live chunks sit together in one segment, so an
    article's chunks have consecutive ids: the walk reads only them, never the
    whole table.
    """

    def walk(step: int) -> list[Chunk]:
        found: list[Chunk] = []
        at = chunk.id + step
        while (other := chunks.get(at)) is not None and (other.source, other.article_title) == (
            chunk.source,
            chunk.article_title,
        ):
            found.append(other)
            at += step
        return found

    return [*reversed(walk(-1)), chunk, *walk(1)]
