"""The chunks of a saved index, read one at a time when a search needs them.

`chunks.jsonl` holds one chunk per line, as JSON (readable, greppable, never
a pickle); `chunks.offsets.npy` holds where each line starts, with the file's
length last, and `chunks.crc32.npy` each line's CRC-32. Chunk ids are their
line numbers from 0, as every build numbers them. Loading maps the files and
parses nothing: a million chunks took 12.5 s to parse as a whole, and a
question reads about a hundred of them.

`chunks.jsonl` is too large to hash at every load (see
`esqa.index.reader.HASH_ON_LOAD_BYTES`), so each line is checked against its CRC
when it is first read: a damaged line can never be cited, even one that
still parses (a changed digit of a line number). The two small arrays are
hashed at load.
"""

from __future__ import annotations

import json
import mmap
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from esqa.errors import IndexInvalidError
from esqa.types import Chunk

CHUNKS = "chunks.jsonl"
OFFSETS = "chunks.offsets.npy"
CRCS = "chunks.crc32.npy"


def write_chunks(directory: Path, chunks: Sequence[Chunk]) -> list[str]:
    """Write the chunks (ids must be 0, 1, 2, ...), their line offsets and CRCs; the file names."""
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
    return [CHUNKS, OFFSETS, CRCS]


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


def article_chunks(chunks: Mapping[int, Chunk], chunk: Chunk) -> list[Chunk]:
    """Every chunk of the article that holds `chunk`, in file order.

    Builds number chunks in corpus order, file by file and paragraph by
    paragraph, so an article's chunks have consecutive ids: the walk reads
    only them, never the whole table.
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
