"""Dense search with FAISS: exact inner product over L2-normalised vectors.

Inner product of unit vectors is their cosine similarity. Ids are chunk ids
(an `IndexIDMap2`), so chunks can be removed by source without renumbering.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from esqa.stores.base import ScoredId
from esqa.types import Chunk

FILE_NAME = "dense.faiss"


def _faiss() -> Any:
    import faiss  # deferred: importing faiss costs ~0.1 s that `--help` need not pay

    return faiss


class FaissDenseStore:
    def __init__(self, dimension: int, index: Any = None) -> None:
        faiss = _faiss()
        self.dimension = dimension
        self._index = (
            index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        )
        self._ids_by_source: dict[str, list[int]] = defaultdict(list)

    def _track(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            self._ids_by_source[chunk.source].append(chunk.id)

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(chunks) == 0:
            return
        ids = np.fromiter((c.id for c in chunks), dtype=np.int64, count=len(chunks))
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._track(chunks)

    def remove_source(self, source: str) -> int:
        ids = self._ids_by_source.pop(source, [])
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
        return len(ids)

    def search(self, vector: np.ndarray, k: int) -> list[ScoredId]:
        if self._index.ntotal == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self._index.search(query, min(k, self._index.ntotal))
        return [
            ScoredId(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0
        ]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        keys = np.asarray(ids, dtype=np.int64)
        if len(keys) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            return np.asarray(self._index.reconstruct_batch(keys), dtype=np.float32)
        except RuntimeError:  # FAISS says only "key not found" deep in its message
            held = {i for ids in self._ids_by_source.values() for i in ids}
            missing = sorted(set(keys.tolist()) - held)
            raise KeyError(f"no vector for chunk ids {missing[:5]}") from None

    def save(self, directory: Path) -> list[str]:
        _faiss().write_index(self._index, str(directory / FILE_NAME))
        return [FILE_NAME]

    @classmethod
    def load(cls, directory: Path, dimension: int, chunks: Sequence[Chunk]) -> FaissDenseStore:
        index = _faiss().read_index(str(directory / FILE_NAME))
        if index.d != dimension:
            raise ValueError(f"{FILE_NAME} holds {index.d}-dimensional vectors, not {dimension}")
        if index.ntotal != len(chunks):
            raise ValueError(f"{FILE_NAME} holds {index.ntotal} vectors for {len(chunks)} chunks")
        store = cls(dimension, index)
        store._track(chunks)
        return store

    def describe(self) -> dict[str, Any]:
        return {"engine": "faiss", "type": "IDMap2,Flat", "metric": "inner_product"}

    def __len__(self) -> int:
        return int(self._index.ntotal)
