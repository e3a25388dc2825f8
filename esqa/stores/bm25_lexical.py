"""Lexical search with bm25s (BM25 over stemmed English tokens).

Lexical search finds what embeddings miss: acronyms, names and numbers
("ESPA", "85 plans"). bm25s stores its postings as .npy arrays and JSON, no
pickle, and loads them memory-mapped: a million documents load in 0.36 s
and a query reads only its terms' postings. A query costs 0.3 ms at 100,000
documents and 3 ms at a million (`benchmarks/scale.py`). It cannot add or
remove documents in place, so a changed store is re-indexed from its chunks'
text before the next search or save: 25 s per 100,000 chunks, 200 s per
million, most of it bm25s's tokenizer in Python.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from esqa.chunk_table import chunk_ids
from esqa.stores.base import ScoredId
from esqa.types import Chunk

DIRECTORY = "lexical"
IDS_FILE = "ids.npy"
PARAMS_FILE = "params.index.json"


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    tokens = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [list(t) for t in tokens]


def _index(retriever: Any, tokens: list[list[str]]) -> None:
    if any(tokens):
        retriever.index(tokens, show_progress=False)
        return
    # No chunk holds a term (only stop words or one-letter words): bm25s
    # numbers its empty token after the largest term id and fails on an empty
    # vocabulary. Without that token it builds an empty index, which saves,
    # loads and matches no query, so such a corpus is searched by its vectors
    # alone. Scoring divides by the average length, 0 here, over no terms.
    with np.errstate(invalid="ignore", divide="ignore"):
        retriever.index(tokens, create_empty_token=False, show_progress=False)


def best_documents(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest positive scores, best first; equal scores in position order.

    The k-th best score is found among the negated scores: numpy's
    introselect took 36 ms to find the top 50 of a million scores of which
    most are 0 (documents without a query term), and 2 ms to find the bottom
    50 of their negation. The rest are two passes that compare floats.
    """
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = -np.partition(-scores, k - 1)[k - 1]
    if kth <= 0:  # fewer than k documents hold a query term
        chosen = np.flatnonzero(scores > 0)
    else:
        above = np.flatnonzero(scores > kth)
        # Documents tied at the k-th score may be more than the places left.
        chosen = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
    return chosen[np.lexsort((chosen, -scores[chosen]))]


class Bm25LexicalStore:
    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._by_id: dict[int, Chunk] = {}
        # Chunks loaded but not yet in `_by_id`: only a change needs them by
        # id, and a million take 0.1 s to index.
        self._loaded: Mapping[int, Chunk] = {}
        self._retriever: Any = None  # None until built: after a change, or a fresh store
        self._ids = np.zeros(0, dtype=np.int64)  # bm25s document position -> chunk id

    @property
    def _chunks(self) -> dict[int, Chunk]:
        """Every chunk by id, indexed on first use after loading."""
        if self._loaded:
            loaded, self._loaded = self._loaded, {}
            self._by_id.update(loaded)
        return self._by_id

    def add(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            self._chunks[chunk.id] = chunk
        if chunks:
            self._retriever = None

    def remove_source(self, source: str) -> int:
        gone = [i for i, c in self._chunks.items() if c.source == source]
        for i in gone:
            del self._chunks[i]
        if gone:
            self._retriever = None
        return len(gone)

    def _built(self) -> Any:
        if self._retriever is None:
            import bm25s

            self._ids = np.fromiter(self._chunks, dtype=np.int64, count=len(self._chunks))
            retriever = bm25s.BM25(k1=self.k1, b=self.b)
            if self._chunks:
                _index(retriever, tokenize([c.text for c in self._chunks.values()]))
            self._retriever = retriever
        return self._retriever

    def search(self, query: str, k: int) -> list[ScoredId]:
        if not len(self) or k <= 0:
            return []
        retriever = self._built()
        tokens = [t for t in tokenize([query])[0] if t in retriever.vocab_dict]
        if not tokens:
            return []
        # Not `retriever.retrieve`: for one query it starts a thread pool and
        # progress bars (3 ms under load at any corpus size), and its top-k
        # selection is slow when most documents score 0 (see `best_documents`).
        scores = retriever.get_scores(tokens)
        return [ScoredId(int(self._ids[d]), float(scores[d])) for d in best_documents(scores, k)]

    def terms(self, text: str) -> list[str]:
        """The text's terms as this store indexes them (lower-cased, stemmed, no stop words)."""
        return tokenize([text])[0]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term; unseen terms get the maximum."""
        retriever = self._built()
        indptr = retriever.scores.get("indptr") if retriever.scores else None
        n = len(self._ids)
        out: dict[str, float] = {}
        for term in terms:
            index = retriever.vocab_dict.get(term) if n else None
            df = 0
            if index is not None and indptr is not None and index + 1 < len(indptr):
                df = int(indptr[index + 1] - indptr[index])
            out[term] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out

    def save(self, directory: Path) -> list[str]:
        retriever = self._built()
        target = directory / DIRECTORY
        target.mkdir(parents=True, exist_ok=True)
        if len(self):
            retriever.save(str(target), show_progress=False)
        np.save(target / IDS_FILE, self._ids, allow_pickle=False)
        return sorted(p.relative_to(directory).as_posix() for p in target.iterdir())

    @classmethod
    def load(cls, directory: Path, chunks: Mapping[int, Chunk]) -> Bm25LexicalStore:
        import bm25s

        target = directory / DIRECTORY
        ids = np.load(target / IDS_FILE, allow_pickle=False)
        store = cls()
        store._loaded = chunks
        held = chunk_ids(chunks)
        # Arrays, not sets: at a million ids 0.1 s instead of 0.8 s. The ids
        # are saved in chunk order, so sorting is rarely needed.
        if not np.array_equal(ids, held) and not np.array_equal(np.sort(ids), np.sort(held)):
            raise ValueError(f"{DIRECTORY}/{IDS_FILE} does not match the chunk list")
        if chunks:
            params = json.loads((target / PARAMS_FILE).read_text(encoding="utf-8"))
            if params.get("num_docs") != len(chunks):
                raise ValueError(f"{DIRECTORY}/{PARAMS_FILE} counts {params.get('num_docs')} docs")
            store.k1, store.b = float(params["k1"]), float(params["b"])
            store._retriever = bm25s.BM25.load(
                str(target), mmap=True, allow_pickle=False, show_progress=False
            )
        else:
            store._retriever = None
        store._ids = ids.astype(np.int64)
        return store

    def describe(self) -> dict[str, Any]:
        import bm25s

        return {
            "engine": "bm25s",
            "version": bm25s.__version__,
            "k1": self.k1,
            "b": self.b,
            "stemmer": "english",
            "stopwords": "en",
        }

    def __len__(self) -> int:
        return len(self._loaded) + len(self._by_id)
