"""Lexical search with bm25s (BM25 over stemmed English tokens).

Lexical search finds what embeddings miss: acronyms, names and numbers
("ESPA", "85 plans"). bm25s stores its postings as .npy arrays and JSON, no
pickle, and loads them memory-mapped: a million documents load in 0.36 s
and a query reads only its terms' postings. A query costs 0.3 ms at 100,000
documents and 3 ms at a million (`benchmarks/scale.py`). It cannot add or
remove documents in place, so a changed store is re-indexed from its chunks'
text before the next search or save: 25 s per 100,000 chunks, 200 s per
million, most of it bm25s's tokenizer in Python.

bm25s builds and saves; a loaded store is searched through
`esqa.stores.bm25_reader`, which reads bm25s's files with numpy, so that a
question does not import bm25s (and with it scipy.sparse: 0.15 s).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from esqa.stores.base import ScoredId, chunk_ids
from esqa.stores.bm25_reader import PARAMS_FILE, Postings, QueryTokenizer, stemmer
from esqa.types import Chunk

DIRECTORY = "lexical"
IDS_FILE = "ids.npy"
STEMMER = "english"  # PyStemmer's Snowball English


def bm25s_tokenizer() -> QueryTokenizer:
    """bm25s's tokeniser settings for English: its default token pattern and stop words.

    Read from bm25s itself, then saved with the index (`tokenizer.json`) for
    queries to read, so that esqa keeps no copy of them.
    """
    import inspect

    import bm25s
    from bm25s.stopwords import STOPWORDS_EN

    pattern = inspect.signature(bm25s.tokenize).parameters["token_pattern"].default
    return QueryTokenizer(token_pattern=pattern, stopwords=frozenset(STOPWORDS_EN), stemmer=STEMMER)


def tokenize(texts: Sequence[str], settings: QueryTokenizer) -> list[list[str]]:
    """Tokens of each text by bm25s.tokenize, with the settings saved for queries."""
    import bm25s

    tokens = bm25s.tokenize(
        list(texts),
        lower=settings.lower,
        token_pattern=settings.token_pattern,
        stopwords=sorted(settings.stopwords),
        stemmer=stemmer(settings.stemmer),
        return_ids=False,
        show_progress=False,
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


def bm25_idf(documents: int, frequency: int) -> float:
    """BM25's inverse document frequency of a term that `frequency` of `documents` hold."""
    return float(np.log(1.0 + (documents - frequency + 0.5) / (frequency + 0.5)))


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
        # What a search reads. Both are None until the store is built (fresh,
        # or changed since loading), or loaded from files.
        self._postings: Postings | None = None
        self._tokenizer: QueryTokenizer | None = None
        self._retriever: Any = None  # the bm25s index built here, which `save` writes
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
            self._changed()

    def remove_source(self, source: str) -> int:
        gone = [i for i, c in self._chunks.items() if c.source == source]
        for i in gone:
            del self._chunks[i]
        if gone:
            self._changed()
        return len(gone)

    def _changed(self) -> None:
        self._postings = self._tokenizer = self._retriever = None

    def _build(self) -> None:
        """Index every chunk with bm25s: a fresh or changed store, never one only read."""
        import bm25s

        self._ids = np.fromiter(self._chunks, dtype=np.int64, count=len(self._chunks))
        tokenizer = bm25s_tokenizer()
        retriever = bm25s.BM25(k1=self.k1, b=self.b)
        postings = Postings.empty()
        if self._chunks:
            _index(retriever, tokenize([c.text for c in self._chunks.values()], tokenizer))
            arrays = {name: retriever.scores[name] for name in ("data", "indices", "indptr")}
            postings = Postings(retriever.vocab_dict, len(self._ids), retriever.dtype, **arrays)
        self._postings, self._tokenizer, self._retriever = postings, tokenizer, retriever

    def _searchable(self) -> tuple[QueryTokenizer, Postings]:
        if self._postings is None or self._tokenizer is None:
            self._build()
        assert self._postings is not None and self._tokenizer is not None
        return self._tokenizer, self._postings

    def search(self, query: str, k: int) -> list[ScoredId]:
        if not len(self) or k <= 0:
            return []
        tokenizer, postings = self._searchable()
        tokens = [t for t in tokenizer.tokens(query) if t in postings.vocab]
        if not tokens:
            return []
        # Not bm25s's `retrieve`: for one query it starts a thread pool and
        # progress bars (3 ms under load at any corpus size), and its top-k
        # selection is slow when most documents score 0 (see `best_documents`).
        scores = postings.scores(tokens)
        return [ScoredId(int(self._ids[d]), float(scores[d])) for d in best_documents(scores, k)]

    def terms(self, text: str) -> list[str]:
        """The text's terms as this store indexes them (lower-cased, stemmed, no stop words)."""
        tokenizer, _ = self._searchable()
        return tokenizer.tokens(text)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term; unseen terms get the maximum."""
        _, postings = self._searchable()
        n = len(self._ids)
        out: dict[str, float] = {}
        for term in terms:
            out[term] = bm25_idf(n, postings.document_frequency(term) if n else 0)
        return out

    def save(self, directory: Path) -> list[str]:
        """Write the store into `directory`/lexical; returns the file names written.

        bm25s writes its index, so a loaded store that has not changed is
        indexed again by bm25s first (esqa only saves stores it has built).
        """
        if self._retriever is None:
            self._build()
        assert self._tokenizer is not None
        target = directory / DIRECTORY
        target.mkdir(parents=True, exist_ok=True)
        if len(self):
            self._retriever.save(str(target), show_progress=False)
        np.save(target / IDS_FILE, self._ids, allow_pickle=False)
        self._tokenizer.save(target)
        return sorted(p.relative_to(directory).as_posix() for p in target.iterdir())

    @classmethod
    def load(cls, directory: Path, chunks: Mapping[int, Chunk]) -> Bm25LexicalStore:
        """The store saved in `directory`; `chunks` (by id) are read only when it changes."""
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
            store._postings = Postings.load(target)
        else:  # bm25s saves no postings for no documents
            store._postings = Postings.empty()
        store._tokenizer = QueryTokenizer.load(target)
        store._ids = ids.astype(np.int64, copy=False)
        return store

    @classmethod
    def open(cls, directory: Path, dimension: int, chunks: Mapping[int, Chunk]) -> Bm25LexicalStore:
        """`load`; the vectors' dimension means nothing to a lexical store."""
        return cls.load(directory, chunks)

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
