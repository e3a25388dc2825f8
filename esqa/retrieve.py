"""Hybrid retrieval: dense and lexical results fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009) adds 1 / (RRF_K + rank) over
the two rankings. It needs no calibration between cosine similarities and
BM25 scores, whose scales have nothing in common, and a chunk that either
search ranks high is kept: embeddings miss acronyms and numbers ("ESPA",
"85 plans") that BM25 finds, BM25 misses paraphrases that embeddings find.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from esqa.errors import QueryError
from esqa.reader import Index
from esqa.types import Hit

RRF_K = 60  # the constant of the original paper; damps the weight of the top ranks
CANDIDATES = 50  # how deep each search looks before fusion
MAX_QUERY_CHARS = 2_000  # longer text adds nothing: the model reads 256 word pieces

_WORD = re.compile(r"\w")


def clean_query(query: str) -> str:
    """Normalise a query for search; raise QueryError when nothing searchable is left."""
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in query)
    text = " ".join(text.split())[:MAX_QUERY_CHARS]
    if not _WORD.search(text):
        raise QueryError('the query has no words in it; ask a question such as "what is ESPA?"')
    return text


def hybrid_search(index: Index, query: str, query_vector: np.ndarray, k: int) -> list[Hit]:
    """The k best chunks for a query, by reciprocal rank fusion of both searches."""
    depth = max(CANDIDATES, k)
    dense = index.dense.search(query_vector, depth)
    lexical = index.lexical.search(query, depth)
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank)
    dense_scores = {h.id: h.score for h in dense}
    lexical_scores = {h.id: h.score for h in lexical}
    lexical_rank = {h.id: rank for rank, h in enumerate(lexical)}
    # On a tie, the exact-term match goes first: it is the one embeddings miss.
    best = sorted(fused, key=lambda i: (-fused[i], lexical_rank.get(i, depth), i))[:k]
    return [
        Hit(
            chunk=index.chunks[i],
            score=fused[i],
            dense_score=dense_scores.get(i),
            lexical_score=lexical_scores.get(i),
        )
        for i in best
    ]
