"""Each sentence's own vector, kept beside its chunk for the composer.

A chunk's vector tells how near its passage is to a question; which of the
passage's sentences answers needs each sentence's own vector (the composer's
`sentence_dense` feature). Embedding the sentences read at query time cost
12 ms a sentence, so every sentence of every chunk is embedded once, at build
time, and a question only reads the rows of the chunks it reads.

The rows are int8 with one scale each, a quarter of float32 (a million
sentences take 388 MB), memory-mapped. A segment holds three arrays beside
its chunk table:

- `sentences.int8.npy`: (sentences, dimension) int8, each row its vector
  divided by its scale and rounded;
- `sentences.scales.npy`: (sentences,) float32, each row's largest magnitude / 127;
- `sentences.offsets.npy`: (chunks + 1,) int64, chunk i's rows being
  `offsets[i]:offsets[i + 1]`, one per span of `chunk.sentences` (one for a
  chunk without spans: its whole text).

A vector depends only on a sentence's text and the model, and quantising it
only on the vector, so an incremental build and a merge copy rows and hold
the bytes a build from scratch writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esqa.types import Chunk

CODES = "sentences.int8.npy"
SCALES = "sentences.scales.npy"
SENTENCE_OFFSETS = "sentences.offsets.npy"
SENTENCE_FILES = (CODES, SCALES, SENTENCE_OFFSETS)


def sentence_texts(chunk: Chunk) -> list[str]:
    """The texts a chunk's sentence rows embed, in order."""
    spans = chunk.sentences or ((0, len(chunk.text)),)
    return [chunk.text[a:b] for a, b in spans]


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes and one float32 scale per row (a zero row keeps scale 0)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = (np.abs(vectors).max(axis=1) / 127.0).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / safe[:, None]), -127, 127).astype(np.int8)
    return codes, scales


@dataclass(frozen=True)
class SentenceVectors:
    """The sentence rows of a chunk table; chunk i's are `offsets[i]:offsets[i + 1]`."""

    codes: np.ndarray  # int8 (rows, dimension)
    scales: np.ndarray  # float32 (rows,)
    offsets: np.ndarray  # int64 (chunks + 1,)

    @classmethod
    def join(
        cls, parts: Sequence[tuple[np.ndarray, np.ndarray]], dimension: int
    ) -> SentenceVectors:
        """One table from each chunk's (codes, scales), in chunk order."""
        counts = [len(scales) for _, scales in parts]
        offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
        if not parts:
            return cls(np.zeros((0, dimension), np.int8), np.zeros(0, np.float32), offsets)
        codes = np.concatenate([c for c, _ in parts]).astype(np.int8, copy=False)
        scales = np.concatenate([s for _, s in parts]).astype(np.float32, copy=False)
        return cls(codes.reshape(-1, dimension), scales, offsets)

    def __len__(self) -> int:
        """How many chunks."""
        return len(self.offsets) - 1

    def part(self, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """A chunk's codes and scales, as stored (to copy them into another table)."""
        a, b = int(self.offsets[chunk]), int(self.offsets[chunk + 1])
        return np.asarray(self.codes[a:b]), np.asarray(self.scales[a:b])

    def vectors(self, chunk: int) -> np.ndarray:
        """A chunk's sentence vectors, float32, one row per sentence."""
        codes, scales = self.part(chunk)
        return codes.astype(np.float32) * scales[:, None]

    def save(self, directory: Path) -> list[str]:
        """Write the three arrays into `directory`; their file names."""
        for name, array in (
            (CODES, self.codes),
            (SCALES, self.scales),
            (SENTENCE_OFFSETS, self.offsets),
        ):
            np.save(directory / name, np.ascontiguousarray(array), allow_pickle=False)
        return list(SENTENCE_FILES)

    @classmethod
    def open(cls, directory: Path, chunks: int) -> SentenceVectors:
        """Map the arrays saved in `directory`, checking that their shapes agree (ValueError)."""
        codes = np.load(directory / CODES, mmap_mode="r", allow_pickle=False)
        scales = np.load(directory / SCALES, mmap_mode="r", allow_pickle=False)
        offsets = np.asarray(
            np.load(directory / SENTENCE_OFFSETS, mmap_mode="r", allow_pickle=False)
        )
        if offsets.shape != (chunks + 1,) or offsets.dtype != np.int64 or int(offsets[0]) != 0:
            raise ValueError(f"{SENTENCE_OFFSETS} does not match the chunk table")
        if np.any(np.diff(offsets) < 1):
            raise ValueError(f"{SENTENCE_OFFSETS} gives a chunk no sentence")
        rows = int(offsets[-1])
        if codes.ndim != 2 or codes.shape[0] != rows or codes.dtype != np.int8:
            raise ValueError(f"{CODES} does not match {SENTENCE_OFFSETS}")
        if scales.shape != (rows,) or scales.dtype != np.float32:
            raise ValueError(f"{SCALES} does not match {SENTENCE_OFFSETS}")
        return cls(codes, scales, offsets)
