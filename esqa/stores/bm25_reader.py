"""BM25 postings read for queries with numpy alone, scored with corpus-wide statistics.

A lexical segment (`esqa.stores.bm25_lexical` writes one) holds raw counts:
for each term, the documents that hold it and how often (CSC arrays,
memory-mapped), each document's length, the vocabulary and the tokeniser
settings the build used. Nothing is weighted at build time: bm25s bakes each
index's own idf and average length into its weights, so an index made of
several segments scored that way would rank a term by how rare it is in one
segment, not in the corpus. Here a query's weights are computed from the
statistics of every live document of every segment (`Bm25Scorer`): the number
of documents, each term's document frequency and the average length, deleted
documents left out. The arithmetic is bm25s's "lucene" variant step by step,
in its dtypes, so the scores are those of a bm25s index of the same live
documents, equal and not merely close (`tests/test_stores.py`).

A query never imports bm25s: it costs 0.15 s (scipy.sparse and tqdm). bm25s
still tokenises documents at build time, and its tokeniser's steps are
repeated here for queries (`QueryTokenizer`), with its settings saved in the
index.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from esqa.errors import IndexInvalidError

TOKENIZER_FILE = "tokenizer.json"
PARAMS_FILE = "params.json"
VOCAB_FILE = "vocab.json"
ARRAY_FILES = {
    "docs": "postings.docs.npy",  # int32: document of each posting, by term
    "counts": "postings.tf.npy",  # uint16: how often the term occurs in it
    "indptr": "postings.indptr.npy",  # int64: where each term's postings start
    "lengths": "lengths.npy",  # int32: terms in each document
}
FORMAT = "esqa-bm25-counts-1"
# numpy 2 keeps float64 when a numpy float64 scalar meets a float32 array
# (NEP 50); numpy 1 made it float32. bm25s's arithmetic meets exactly that
# case, so the scorer follows whichever rule this numpy applies.
_SCALAR_KEEPS_FLOAT64 = np.result_type(np.float64(1.0), np.zeros(1, np.float32)) == np.float64


@lru_cache(maxsize=4)
def stemmer(language: str) -> Any:
    """PyStemmer's Snowball stemmer, as bm25s is given it at build time."""
    import Stemmer

    return Stemmer.Stemmer(language)


@dataclass(frozen=True)
class QueryTokenizer:
    """bm25s.tokenize's steps for one text: lower-case, split by a regex, drop stop words, stem.

    The settings are saved with each index rather than written here: they
    are bm25s's own (its default token pattern, its English stop words),
    taken from bm25s when the index is built, so this module copies none of
    bm25s's constants, and an index keeps being queried with the tokens it
    was built from even if a later bm25s changes its list.

    Example: `QueryTokenizer.load(directory / "lexical").tokens("The pillars")` -> `["pillar"]`.
    """

    token_pattern: str
    stopwords: frozenset[str]
    stemmer: str  # a PyStemmer language
    lower: bool = True
    _split: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_split", re.compile(self.token_pattern).findall)

    def tokens(self, text: str) -> list[str]:
        """The text's terms, in order, repeats kept (a repeated query term counts twice)."""
        if self.lower:
            text = text.lower()
        # bm25s drops stop words before stemming, so "was" is dropped but "wa" (its stem) is not.
        words = [w for w in self._split(text) if w not in self.stopwords]
        return list(stemmer(self.stemmer).stemWords(words)) if words else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "token_pattern": self.token_pattern,
            "stopwords": sorted(self.stopwords),
            "stemmer": self.stemmer,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QueryTokenizer:
        return cls(
            token_pattern=str(d["token_pattern"]),
            stopwords=frozenset(str(w) for w in d["stopwords"]),
            stemmer=str(d["stemmer"]),
            lower=bool(d["lower"]),
        )

    def save(self, directory: Path) -> str:
        """Write the settings into `directory`; returns the file name."""
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False)
        (directory / TOKENIZER_FILE).write_text(text + "\n", encoding="utf-8")
        return TOKENIZER_FILE

    @classmethod
    def load(cls, directory: Path) -> QueryTokenizer:
        path = directory / TOKENIZER_FILE
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path.name} is not a tokenizer description ({exc!r})") from None


class TermPostings:
    """One segment's raw postings: column `t` lists term t's documents and counts.

    `docs`, `counts` and `indptr` are the CSC arrays (memory-mapped when
    loaded), `lengths` every document's number of terms, `vocab` term -> column.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        docs: np.ndarray,
        counts: np.ndarray,
        indptr: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        self.vocab = vocab
        self.docs, self.counts, self.indptr, self.lengths = docs, counts, indptr, lengths

    @property
    def num_docs(self) -> int:
        return len(self.lengths)

    @classmethod
    def empty(cls) -> TermPostings:
        none = np.zeros(0, dtype=np.int32)
        return cls({}, none, np.zeros(0, np.uint16), np.zeros(1, np.int64), none)

    @classmethod
    def load(cls, directory: Path) -> TermPostings:
        """The postings saved in `directory`, memory-mapped; ValueError when they do not fit."""
        params = json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8"))
        if params.get("format") != FORMAT:
            raise ValueError(f"{PARAMS_FILE} describes {params.get('format')!r}, not {FORMAT}")
        terms = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
        if not isinstance(terms, list):
            raise ValueError(f"{VOCAB_FILE} is not a list of terms")
        arrays = {name: _load_array(directory / file) for name, file in ARRAY_FILES.items()}
        docs, counts, indptr, lengths = (arrays[n] for n in ("docs", "counts", "indptr", "lengths"))
        # The arrays are large and checked by size only at load (see
        # `esqa.index.reader.HASH_ON_LOAD_BYTES`); their shapes are cheap to
        # check, and the scorer checks the document numbers it reads.
        if not (
            indptr.ndim == 1
            and len(indptr) == len(terms) + 1
            and indptr[0] == 0
            and indptr[-1] == len(docs) == len(counts)
            and not np.any(np.diff(indptr) < 0)
        ):
            raise ValueError("the BM25 postings' column pointers do not match their arrays")
        if lengths.ndim != 1 or len(lengths) != params.get("num_docs"):
            raise ValueError(
                f"{ARRAY_FILES['lengths']} does not hold {params.get('num_docs')} documents"
            )
        return cls({term: i for i, term in enumerate(terms)}, docs, counts, indptr, lengths)

    def save(self, directory: Path, k1: float, b: float) -> list[str]:
        """Write the postings into `directory`; the file names written."""
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (directory / VOCAB_FILE).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        params = {
            "format": FORMAT,
            "method": "lucene",
            "k1": k1,
            "b": b,
            "num_docs": self.num_docs,
            "terms": len(terms),
            "postings": int(self.indptr[-1]),
        }
        (directory / PARAMS_FILE).write_text(json.dumps(params), encoding="utf-8")
        arrays = {
            "docs": self.docs,
            "counts": self.counts,
            "indptr": self.indptr,
            "lengths": self.lengths,
        }
        for name, file in ARRAY_FILES.items():
            np.save(directory / file, np.ascontiguousarray(arrays[name]), allow_pickle=False)
        return [VOCAB_FILE, PARAMS_FILE, *ARRAY_FILES.values()]

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(documents, counts) of a term; empty for a term outside the vocabulary."""
        column = self.vocab.get(term)
        if column is None:
            return self.docs[:0], self.counts[:0]
        start, end = self.indptr[column], self.indptr[column + 1]
        return self.docs[start:end], self.counts[start:end]


@dataclass
class ScoredPart:
    """Postings searched as one part of an index, with the documents deleted from it."""

    postings: TermPostings
    dead: np.ndarray | None = None  # bool per document, True for a deleted one; None: none are

    def live_documents(self) -> int:
        return self.postings.num_docs - (int(self.dead.sum()) if self.dead is not None else 0)

    def live_length(self) -> int:
        lengths = self.postings.lengths
        total = int(np.sum(lengths, dtype=np.int64))
        if self.dead is not None:
            total -= int(np.sum(lengths[self.dead], dtype=np.int64))
        return total


class Bm25Scorer:
    """BM25 ("lucene" variant, as bm25s) over the live documents of several parts at once.

    The statistics are the corpus's: N live documents, a term's document
    frequency summed over the parts' live postings, the average length of the
    live documents. `scores` gives each part's array of scores (0 for a
    document without a query term, and for a deleted one).
    """

    def __init__(self, parts: Sequence[ScoredPart], k1: float = 1.5, b: float = 0.75) -> None:
        self.parts = list(parts)
        self.k1, self.b = k1, b
        self.num_docs = sum(p.live_documents() for p in self.parts)
        total = sum(p.live_length() for p in self.parts)
        # bm25s: np.array(lengths).mean(), a float64 that is exact for these integers.
        self.avg_length = np.float64(total) / np.float64(max(self.num_docs, 1))
        self._norms: dict[int, np.ndarray] = {}

    def _norm(self, number: int) -> np.ndarray:
        """k1 * ((1 - b) + b * length / avg_length) per document of a part, as bm25s computes it."""
        norm = self._norms.get(number)
        if norm is None:
            lengths = np.asarray(self.parts[number].postings.lengths)
            norm = self.k1 * ((1 - self.b) + self.b * lengths.astype(np.float64) / self.avg_length)
            if not _SCALAR_KEEPS_FLOAT64:
                norm = norm.astype(np.float32)
            self._norms[number] = norm
        return norm

    def _live_columns(self, term: str) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for part in self.parts:
            docs, counts = part.postings.column(term)
            if part.dead is not None and len(docs):
                try:
                    alive = ~part.dead[docs]
                except IndexError:
                    raise _beyond(term, part) from None
                docs, counts = docs[alive], counts[alive]
            out.append((docs, counts))
        return out

    def document_frequency(self, term: str) -> int:
        return sum(len(docs) for docs, _ in self._live_columns(term))

    def idf(self, df: int) -> float:
        """bm25s's lucene idf of a term that `df` live documents hold."""
        return bm25_idf(self.num_docs, df)

    def scores(self, terms: Sequence[str]) -> list[np.ndarray]:
        """Each part's documents' scores for the terms (repeats count again), float32."""
        out = [np.zeros(p.postings.num_docs, dtype=np.float32) for p in self.parts]
        if not self.num_docs:
            return out
        for term in terms:
            columns = self._live_columns(term)
            df = sum(len(docs) for docs, _ in columns)
            if df == 0:
                continue
            # bm25s stores idf in a float32 array before multiplying.
            idf = np.float32(self.idf(df))
            for number, (docs, counts) in enumerate(columns):
                if not len(docs):
                    continue
                tf = counts.astype(np.float32)
                try:
                    denominator = self._norm(number)[docs] + tf
                except IndexError:
                    raise _beyond(term, self.parts[number]) from None
                weights = (idf * (tf / denominator)).astype(np.float32)
                # A term's postings name each document once: plain indexing adds
                # as bm25s's np.add.at does, term after term.
                out[number][docs] += weights
        return out


def _beyond(term: str, part: ScoredPart) -> IndexInvalidError:
    return IndexInvalidError(
        f"the BM25 postings of term {term!r} name a document beyond the "
        f"{part.postings.num_docs} indexed; run: esqa index verify, then esqa index build"
    )


def bm25_idf(documents: int, frequency: int) -> float:
    """bm25s's lucene idf: log(1 + (N - df + 0.5) / (df + 0.5)), as a Python float."""
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def best_documents(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest positive scores, best first; equal scores in position order.

    Only the documents that hold a query term (a positive score) are ranked:
    they are found in one pass, and the k-th best is selected among them alone.
    numpy's introselect over every score took 36 ms for the top 50 of a million
    scores of which most are 0, and selecting among all the negated scores,
    which this replaced, still took 0.38 ms a query at 100,000 documents.
    """
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    held = np.flatnonzero(scores > 0)  # in position order
    if len(held) <= k:
        chosen = held
    else:
        values = scores[held]
        kth = -np.partition(-values, k - 1)[k - 1]
        above = held[values > kth]
        # Documents tied at the k-th score may be more than the places left.
        chosen = np.concatenate([above, held[values == kth][: k - len(above)]])
    return chosen[np.lexsort((chosen, -scores[chosen]))]


def tied_best_documents(scores: np.ndarray, k: int) -> np.ndarray:
    """`best_documents`, and every further document tied with the k-th.

    One part of a segmented index cannot tell which of several equal scores
    come first in the corpus; the caller orders them (`esqa.stores.base.merge_ranked`).
    """
    best = best_documents(scores, k)
    if len(best) < k or len(best) == 0:
        return best
    tied = np.flatnonzero(scores == scores[best[-1]])
    return np.concatenate([best, np.setdiff1d(tied, best, assume_unique=True)])


def _load_array(path: Path) -> np.ndarray:
    """A saved array, memory-mapped; ValueError when its file is not one.

    numpy parses a .npy header as a Python literal: damage there surfaces as
    whatever its parser raises (tokenize.TokenError, SyntaxError, ...), not
    only ValueError, and must read as a damaged file like any other.
    """
    try:
        array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError:
        raise
    except Exception as exc:
        raise ValueError(f"{path.name} is not a readable array ({type(exc).__name__})") from None
    return array
