"""Dense search over every segment of an index at once, as if they were one.

Each segment holds its own FAISS index over its own chunk ids (exact up to
`HNSW_THRESHOLD` vectors, an HNSW graph above: `esqa.stores.faiss_dense`). A
query searches each segment for its k best, leaving deleted ids out inside
the search (an `IDSelector`, so a graph still finds k live neighbours), and
the lists are merged by score; equal scores come in corpus order.

Exact segments give exactly the ranking of one exact index of the same
vectors: a vector's inner product does not depend on the index it sits in,
and each segment's own k best include every one of the overall k best that it
holds. A segment is asked for one more than k, and for more while the last
ones tie, so that no tied vector is cut off at random. A graph segment is
approximate, as one graph of the whole corpus would be (its recall is measured
in `benchmarks/scale.py`; a segmented index's overlap with a merged one in
`benchmarks/segments.py`).

Segments below `TAIL_VECTORS` vectors (the one-article segments `esqa add`
writes) are copied into one exact index when the index is opened: FAISS
spends some microseconds per call, which a hundred small segments would
multiply, and copying a few thousand vectors takes a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from esqa.stores.base import ScoredId, merge_ranked
from esqa.stores.faiss_dense import FaissDenseStore, _faiss, _omp_threads

TAIL_VECTORS = 2_000  # exact segments with fewer vectors are searched as one


@dataclass(frozen=True)
class DenseSegment:
    store: FaissDenseStore  # ids are the segment's own: 0, 1, 2, ...
    base: int  # the chunk id of its vector 0
    dead: np.ndarray | None = None  # its deleted ids (the segment's own); None: none


@dataclass
class _Part:
    store: FaissDenseStore
    ids: int | np.ndarray  # base, or the chunk id of each vector (the merged small segments)
    params: Any = None  # search parameters leaving deleted vectors out
    dead: frozenset[int] = frozenset()


class SegmentedDenseStore:
    """The dense store of an index of several segments (search and `vectors` only:
    an index adds chunks by writing a segment and removes them by deleting ids)."""

    def __init__(
        self,
        segments: Sequence[DenseSegment],
        dimension: int,
        description: dict[str, Any],
        order: Callable[[int], Any] | None = None,
        tail_vectors: int = TAIL_VECTORS,
    ) -> None:
        self.dimension = dimension
        self._description = description
        self._order = order
        self._parts: list[_Part] = []
        self._segments = sorted(segments, key=lambda s: s.base)
        self._bases = np.array([s.base for s in self._segments], dtype=np.int64)
        small = [s for s in self._segments if s.store.exact and len(s.store) < tail_vectors]
        for segment in self._segments:
            if any(segment is s for s in small):
                continue
            dead = segment.dead if segment.dead is not None and len(segment.dead) else None
            self._parts.append(
                _Part(
                    segment.store,
                    segment.base,
                    None if dead is None else segment.store.excluding(dead),
                    frozenset() if dead is None else frozenset(dead.tolist()),
                )
            )
        if small:
            self._parts.append(_merge_small(small, dimension))
        self._live = sum(
            len(s.store) - (0 if s.dead is None else len(s.dead)) for s in self._segments
        )

    def search(self, vector: np.ndarray, k: int) -> list[ScoredId]:
        if k <= 0:
            return []
        hits: list[ScoredId] = []
        with _omp_threads(1):
            for part in self._parts:
                found = _search_part(part, vector, k)
                if isinstance(part.ids, int):
                    hits += [ScoredId(part.ids + h.id, h.score) for h in found]
                else:
                    hits += [ScoredId(int(part.ids[h.id]), h.score) for h in found]
        return merge_ranked(hits, k, self._order)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        keys = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(keys), self.dimension), dtype=np.float32)
        if len(keys) == 0:
            return out
        where = np.searchsorted(self._bases, keys, side="right") - 1
        for number in np.unique(where).tolist():
            rows = np.flatnonzero(where == number)
            if number < 0:
                raise KeyError(f"no vector for chunk ids {keys[rows][:5].tolist()}")
            segment = self._segments[number]
            out[rows] = segment.store.vectors((keys[rows] - segment.base).tolist())
        return out

    def describe(self) -> dict[str, Any]:
        return dict(self._description)

    def __len__(self) -> int:
        return self._live


def _search_part(part: _Part, vector: np.ndarray, k: int) -> list[ScoredId]:
    """A part's k best; an exact part's list runs on past the k-th while scores tie."""
    if not part.store.exact:
        return part.store.search(vector, k, part.params)
    want = k + 1
    while True:
        found = part.store.search(vector, want, part.params)
        if len(found) < want or found[-1].score != found[k - 1].score:
            return found
        want *= 2


def _merge_small(segments: Sequence[DenseSegment], dimension: int) -> _Part:
    """The small exact segments' live vectors copied into one exact index."""
    faiss = _faiss()
    blocks, ids = [], []
    for segment in segments:
        alive = np.ones(len(segment.store), dtype=bool)
        if segment.dead is not None:
            alive[segment.dead] = False
        local = np.flatnonzero(alive)
        if len(local):
            blocks.append(segment.store.vectors(local.tolist()))
            ids.append(segment.base + local)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if blocks:
        vectors = np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)
        index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    chunk_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    return _Part(FaissDenseStore(dimension, index), chunk_ids)
