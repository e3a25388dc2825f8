"""Searching a loaded index: the query cleaned, both stores asked, their rankings fused."""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from esqa.errors import IndexInvalidError, QueryError
from esqa.index.manifest import repair_hint
from esqa.index.reader import Index
from esqa.stores.hybrid import CANDIDATES, fuse
from esqa.types import Hit

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
    if index.hybrid is not None:  # the engine fuses on its side: one round trip
        fused = index.hybrid.hybrid_search(query, query_vector, k, depth)
    else:
        fused = fuse(
            index.dense.search(query_vector, depth),
            index.lexical.search(query, depth),
            k,
            index.chunks.order_key,
        )
    unknown = [f.id for f in fused if f.id not in index.chunks]
    if unknown:
        # Only damage makes a store return an id the chunk table does not hold.
        raise IndexInvalidError(
            f"index {index.path} is damaged (a search returned chunk {unknown[0]}, which "
            f"it does not hold)",
            hint=repair_hint(index.path),
        )
    return [
        Hit(
            chunk=index.chunks[f.id],
            score=f.score,
            dense_score=f.dense_score,
            lexical_score=f.lexical_score,
        )
        for f in fused
    ]
