"""Lexical search: BM25 over stemmed English tokens, one store per index segment.

Lexical search finds what embeddings miss: acronyms, names and numbers
("ESPA", "85 plans"). Documents are tokenised by bm25s (its token pattern,
English stop words and PyStemmer's Snowball stemmer); the store keeps raw
term counts and document lengths (`esqa.stores.bm25_reader.TermPostings`:
`.npy` arrays, memory-mapped, and JSON, no pickle) and a query weighs them
with the statistics of every live document of the index
(`esqa.stores.bm25_segments` searches several segments as one). A store
cannot add or remove documents in place: a changed store is counted again
from its chunks' text before the next search or save; an index adds documents
by writing a new segment instead, and removes them by deleting ids.

Tokenising is the slow part of building (bm25s's tokenizer is Python: about
25 s per 100,000 chunks); merging segments never tokenises again, it
renumbers their postings (`merge_postings`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from esqa.stores.base import ScoredId, chunk_ids
from esqa.stores.bm25_reader import (
    PARAMS_FILE,
    Bm25Scorer,
    QueryTokenizer,
    ScoredPart,
    TermPostings,
    best_documents,
    stemmer,
)
from esqa.types import Chunk

DIRECTORY = "lexical"
STEMMER = "english"  # PyStemmer's Snowball English
ENGINE = "bm25"
K1, B = 1.5, 0.75  # bm25s's defaults


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

    if not texts:
        return []
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


def count_postings(tokens: Sequence[Sequence[str]]) -> TermPostings:
    """Raw postings of documents given as token lists (document i is position i).

    The vocabulary is sorted, so the same documents always give the same files,
    whether counted at once or merged from segments.
    """
    counted = [Counter(doc) for doc in tokens]
    terms = sorted({term for doc in counted for term in doc})
    vocab = {term: i for i, term in enumerate(terms)}
    columns, docs, counts = [], [], []
    for d, doc in enumerate(counted):
        for term, n in doc.items():
            columns.append(vocab[term])
            docs.append(d)
            counts.append(n)
    lengths = np.array([len(doc) for doc in tokens], dtype=np.int32)
    return _csc(vocab, np.array(columns, np.int64), np.array(docs, np.int32), counts, lengths)


def _csc(
    vocab: dict[str, int],
    columns: np.ndarray,
    docs: np.ndarray,
    counts: Sequence[int] | np.ndarray,
    lengths: np.ndarray,
) -> TermPostings:
    """Postings sorted by (term, document) from unordered (term, document, count) triples."""
    order = np.lexsort((docs, columns))
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(columns, minlength=len(vocab)), out=indptr[1:])
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) and counts.max() > np.iinfo(np.uint16).max:
        raise ValueError("a term occurs more than 65,535 times in one chunk")
    return TermPostings(
        vocab, docs[order].astype(np.int32), counts[order].astype(np.uint16), indptr, lengths
    )


def merge_postings(parts: Sequence[tuple[TermPostings, np.ndarray]]) -> TermPostings:
    """One segment's postings from several, each with the new number of every document
    (-1: left out, a deleted one). Nothing is tokenised again; a term that only
    left-out documents held is left out too, as counting the kept ones would.
    """
    size = 1 + max((int(new.max()) for _, new in parts if len(new)), default=-1)
    lengths = np.zeros(size, dtype=np.int32)
    kept_parts = []
    for postings, new in parts:
        kept = new >= 0
        lengths[new[kept]] = np.asarray(postings.lengths)[kept]
        terms = sorted(postings.vocab, key=postings.vocab.__getitem__)
        columns = np.repeat(np.arange(len(terms)), np.diff(np.asarray(postings.indptr)))
        docs = new[np.asarray(postings.docs)]
        alive = docs >= 0
        kept_parts.append((terms, columns[alive], docs[alive], np.asarray(postings.counts)[alive]))
    used = sorted({terms[c] for terms, columns, _, _ in kept_parts for c in np.unique(columns)})
    vocab = {term: i for i, term in enumerate(used)}
    if not kept_parts:
        return TermPostings.empty()
    all_columns, all_docs, all_counts = [], [], []
    for terms, columns, docs, counts in kept_parts:
        remap = np.array([vocab.get(t, -1) for t in terms], dtype=np.int64)
        all_columns.append(remap[columns])
        all_docs.append(docs.astype(np.int32))
        all_counts.append(counts)
    return _csc(
        vocab,
        np.concatenate(all_columns),
        np.concatenate(all_docs),
        np.concatenate(all_counts),
        lengths,
    )


class Bm25LexicalStore:
    """The lexical store of one segment (or of a whole index held as one segment).

    Example: `store = Bm25LexicalStore(); store.add(chunks); store.search("ESPA", 5)`.
    Searching it alone uses its own documents' statistics; an index of several
    segments searches them together (`esqa.stores.bm25_segments`).
    """

    def __init__(self, k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self._by_id: dict[int, Chunk] = {}
        # Chunks loaded but not yet in `_by_id`: only a change needs them by
        # id, and a million take 0.1 s to index.
        self._loaded: Mapping[int, Chunk] = {}
        # What a search reads; None until counted (fresh, or changed since
        # loading) or loaded from files.
        self._postings: TermPostings | None = None
        self._tokenizer: QueryTokenizer | None = None
        self._scorer: Bm25Scorer | None = None
        self._ids = np.zeros(0, dtype=np.int64)  # document position -> chunk id

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
        self._postings = self._tokenizer = self._scorer = None

    def _count(self) -> None:
        """Count every chunk's terms: a fresh or changed store, never one only read."""
        ordered = sorted(self._chunks)
        self._ids = np.array(ordered, dtype=np.int64)
        self._tokenizer = bm25s_tokenizer()
        tokens = tokenize([self._chunks[i].text for i in ordered], self._tokenizer)
        self._postings = count_postings(tokens)
        self._scorer = None

    @property
    def postings(self) -> TermPostings:
        """The store's postings (document i is the i-th chunk in id order)."""
        if self._postings is None:
            self._count()
        assert self._postings is not None
        return self._postings

    @property
    def tokenizer(self) -> QueryTokenizer:
        if self._tokenizer is None:
            self._count()
        assert self._tokenizer is not None
        return self._tokenizer

    def _scoring(self) -> Bm25Scorer:
        if self._scorer is None:
            self._scorer = Bm25Scorer([ScoredPart(self.postings)], self.k1, self.b)
        return self._scorer

    def search(self, query: str, k: int) -> list[ScoredId]:
        if not len(self) or k <= 0:
            return []
        tokens = self.tokenizer.tokens(query)
        if not tokens:
            return []
        # Not bm25s's `retrieve`: for one query it starts a thread pool and
        # progress bars (3 ms under load at any corpus size), and its top-k
        # selection is slow when most documents score 0 (see `best_documents`).
        (scores,) = self._scoring().scores(tokens)
        return [ScoredId(int(self._ids[d]), float(scores[d])) for d in best_documents(scores, k)]

    def terms(self, text: str) -> list[str]:
        """The text's terms as this store indexes them (lower-cased, stemmed, no stop words)."""
        return self.tokenizer.tokens(text)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term; unseen terms get the maximum."""
        scorer = self._scoring()
        return {term: scorer.idf(scorer.document_frequency(term)) for term in terms}

    def save(self, directory: Path) -> list[str]:
        """Write the store into `directory`/lexical; returns the file names written."""
        postings, tokenizer = self.postings, self.tokenizer
        target = directory / DIRECTORY
        target.mkdir(parents=True, exist_ok=True)
        names = [*postings.save(target, self.k1, self.b), tokenizer.save(target)]
        return sorted(f"{DIRECTORY}/{name}" for name in names)

    @classmethod
    def from_postings(
        cls, postings: TermPostings, tokenizer: QueryTokenizer, ids: np.ndarray
    ) -> Bm25LexicalStore:
        """A store of postings counted elsewhere (a merge); `ids` are their documents' chunk ids."""
        store = cls()
        store._postings, store._tokenizer = postings, tokenizer
        store._ids = np.asarray(ids, dtype=np.int64)
        return store

    @classmethod
    def load(cls, directory: Path, chunks: Mapping[int, Chunk]) -> Bm25LexicalStore:
        """The store saved in `directory`; `chunks` (by id) are read only when it changes."""
        target = directory / DIRECTORY
        params = json.loads((target / PARAMS_FILE).read_text(encoding="utf-8"))
        store = cls(float(params["k1"]), float(params["b"]))
        store._loaded = chunks
        store._postings = TermPostings.load(target)
        if store._postings.num_docs != len(chunks):
            raise ValueError(
                f"{DIRECTORY}/ holds {store._postings.num_docs} documents for {len(chunks)} chunks"
            )
        store._tokenizer = QueryTokenizer.load(target)
        # Saved in id order: document i is the i-th chunk id.
        store._ids = np.sort(chunk_ids(chunks))
        return store

    @classmethod
    def open(cls, directory: Path, dimension: int, chunks: Mapping[int, Chunk]) -> Bm25LexicalStore:
        """`load`; the vectors' dimension means nothing to a lexical store."""
        return cls.load(directory, chunks)

    def describe(self) -> dict[str, Any]:
        return describe_lexical(self.k1, self.b)

    def __len__(self) -> int:
        return len(self._loaded) + len(self._by_id) if self._postings is None else len(self._ids)


def describe_lexical(k1: float = K1, b: float = B) -> dict[str, Any]:
    """The manifest's description of esqa's BM25 (its tokeniser is bm25s's).

    bm25s's version comes from its package metadata: importing bm25s costs
    0.15 s (1 s and more on a busy machine), which a build that removes a
    file, or tokenises nothing, need not pay.
    """
    from importlib.metadata import version

    return {
        "engine": ENGINE,
        "method": "lucene",
        "k1": k1,
        "b": b,
        "tokenizer": f"bm25s {version('bm25s')}",
        "stemmer": STEMMER,
        "stopwords": "en",
    }
