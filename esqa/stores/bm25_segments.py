"""Lexical search over every segment of an index at once, as if they were one.

Each segment keeps its own raw postings (`esqa.stores.bm25_lexical`); a
query is weighed with the statistics of all live documents
(`esqa.stores.bm25_reader.Bm25Scorer`), so a segmented index scores exactly
as one index of the same live chunks would. Deleted documents are left out
of the statistics and never returned.

Segments too small to be worth a pass of their own (below `TAIL_DOCUMENTS`,
as the one-article segments `esqa add` writes) are merged in memory when the
index is opened: a query's cost per segment is a few numpy calls per term,
which a hundred small segments would multiply, while merging their postings
costs a few milliseconds at load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from esqa.stores.base import ScoredId, merge_ranked
from esqa.stores.bm25_reader import (
    Bm25Scorer,
    QueryTokenizer,
    ScoredPart,
    TermPostings,
    tied_best_documents,
)

TAIL_DOCUMENTS = 2_000  # segments with fewer documents are searched as one


@dataclass(frozen=True)
class LexicalSegment:
    """One segment's postings, where its documents sit in the index, and which are deleted."""

    postings: TermPostings
    base: int  # the chunk id of its document 0
    dead: np.ndarray | None = None  # bool per document; None: none deleted


class SegmentedLexicalStore:
    """The lexical store of an index of several segments (search only: an index
    adds documents by writing a segment and removes them by deleting ids).

    `order` gives the corpus-order key of a chunk id, for equal scores.
    """

    def __init__(
        self,
        segments: Sequence[LexicalSegment],
        tokenizer: QueryTokenizer,
        k1: float,
        b: float,
        description: Mapping[str, Any],
        order: Callable[[int], Any] | None = None,
        tail_documents: int = TAIL_DOCUMENTS,
    ) -> None:
        large = [s for s in segments if s.postings.num_docs >= tail_documents]
        small = [s for s in segments if s.postings.num_docs < tail_documents]
        self._ids: list[np.ndarray | int] = [s.base for s in large]
        scored = [ScoredPart(s.postings, s.dead) for s in large]
        if small:
            postings, ids = _merge_small(small)
            scored.append(ScoredPart(postings))
            self._ids.append(ids)
        self._scorer = Bm25Scorer(scored, k1, b)
        self._tokenizer = tokenizer
        self._description = dict(description)
        self._order = order

    def _global(self, part: int, positions: np.ndarray) -> np.ndarray:
        ids = self._ids[part]
        return ids + positions if isinstance(ids, int) else ids[positions]

    def search(self, query: str, k: int) -> list[ScoredId]:
        tokens = self._tokenizer.tokens(query)
        if not tokens or k <= 0 or not self._scorer.num_docs:
            return []
        ranked: list[ScoredId] = []
        for part, scores in enumerate(self._scorer.scores(tokens)):
            best = tied_best_documents(scores, k)
            ids = self._global(part, best)
            ranked += [ScoredId(int(i), float(s)) for i, s in zip(ids, scores[best], strict=True)]
        return merge_ranked(ranked, k, self._order)

    def terms(self, text: str) -> list[str]:
        return self._tokenizer.tokens(text)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        scorer = self._scorer
        return {term: scorer.idf(scorer.document_frequency(term)) for term in terms}

    def describe(self) -> dict[str, Any]:
        return dict(self._description)

    def __len__(self) -> int:
        return self._scorer.num_docs


def _merge_small(segments: Sequence[LexicalSegment]) -> tuple[TermPostings, np.ndarray]:
    """The small segments' live documents as one part, and each one's chunk id."""
    from esqa.stores.bm25_lexical import merge_postings

    parts, ids, start = [], [], 0
    for segment in segments:
        n = segment.postings.num_docs
        alive = np.ones(n, dtype=bool) if segment.dead is None else ~segment.dead
        new = np.full(n, -1, dtype=np.int64)
        new[alive] = start + np.arange(int(alive.sum()))
        start += int(alive.sum())
        parts.append((segment.postings, new))
        ids.append(segment.base + np.flatnonzero(alive))
    merged = merge_postings(parts)
    return merged, np.concatenate(ids).astype(np.int64)
