"""Hybrid retrieval: dense and lexical rankings fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009) adds 1 / (RRF_K + rank) over
the two rankings. It needs no calibration between cosine similarities and
BM25 scores, whose scales have nothing in common, and a chunk that either
search ranks high is kept: embeddings miss acronyms and numbers ("ESPA",
"85 plans") that BM25 finds, BM25 misses paraphrases that embeddings find.

The embedded stores are searched one after the other and fused here. A
server engine that fuses on its side (Milvus) is a `HybridStore`: one round
trip answers the query, with the same constant and depth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from esqa.stores.base import ScoredId
from esqa.types import Chunk

RRF_K = 60  # the constant of the original paper; damps the weight of the top ranks
CANDIDATES = 50  # how deep each search looks before fusion


class FusedId(NamedTuple):
    id: int  # chunk id
    score: float  # reciprocal-rank-fusion score; higher is better
    dense_score: float | None  # cosine similarity, when the dense search found it
    lexical_score: float | None  # BM25 score, when the lexical search found it


def fuse(
    dense: Sequence[ScoredId],
    lexical: Sequence[ScoredId],
    k: int,
    order: Callable[[int], Any] | None = None,
) -> list[FusedId]:
    """The k best ids of both rankings by reciprocal rank fusion, best first.

    `order` gives a chunk id's corpus-order key, for ties that remain (see
    `esqa.stores.base.merge_ranked`); without it, ids order them.
    """
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank)
    dense_scores = {h.id: h.score for h in dense}
    lexical_scores = {h.id: h.score for h in lexical}
    lexical_rank = {h.id: rank for rank, h in enumerate(lexical)}
    depth = max(len(dense), len(lexical))

    # On a tie, the exact-term match goes first: it is the one embeddings miss.
    def tie(i: int) -> tuple[float, int]:
        return -fused[i], lexical_rank.get(i, depth)

    ranked = sorted(fused, key=lambda i: (*tie(i), i))
    if order is not None:  # what still ties goes in corpus order, asked only there
        start = 0
        while start < min(k, len(ranked)):
            end = start + 1
            while end < len(ranked) and tie(ranked[end]) == tie(ranked[start]):
                end += 1
            if end - start > 1:
                ranked[start:end] = sorted(ranked[start:end], key=order)
            start = end
    best = ranked[:k]
    return [FusedId(i, fused[i], dense_scores.get(i), lexical_scores.get(i)) for i in best]


class HybridStore(Protocol):
    """An engine that searches and fuses both rankings itself (see `esqa.stores.factory`)."""

    def hybrid_search(self, query: str, vector: np.ndarray, k: int, depth: int) -> list[FusedId]:
        """The k best chunks by reciprocal rank fusion (RRF_K) of `depth` candidates of the
        dense search for `vector` and of the lexical search for `query`, best first."""
        ...

    def kept(self, chunks: Sequence[Chunk]) -> Sequence[int]:
        """The positions of a build's chunks that the engine keeps from the index it
        replaces, and so needs no vectors for (a server changed in place)."""
        ...

    def published(self) -> None:
        """Called once the index that names this store's state is published."""
        ...
