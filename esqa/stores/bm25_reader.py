"""The lexical index bm25s saved, read for queries with numpy alone.

bm25s tokenises, builds and saves the index (`esqa.stores.bm25_lexical`),
but importing it costs a question 0.15 s: it imports scipy.sparse (and
through it numpy.f2py) and tqdm whenever they are installed, and
sentence-transformers installs scipy. A query needs none of it: its
tokens, then a sum over their postings. This module does those two steps
exactly as bm25s does (`tests/test_stores.py` compares both on varied
texts), reading the files bm25s wrote: its CSC arrays of BM25 weights
(`*.csc.index.npy`, memory-mapped), its vocabulary and parameters (JSON),
and the tokeniser settings that the build used (`tokenizer.json`, written
beside them by esqa).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from esqa.errors import IndexInvalidError

TOKENIZER_FILE = "tokenizer.json"
PARAMS_FILE = "params.index.json"
VOCAB_FILE = "vocab.index.json"
ARRAY_FILES = {
    "data": "data.csc.index.npy",
    "indices": "indices.csc.index.npy",
    "indptr": "indptr.csc.index.npy",
}
# bm25s keeps an extra array of scores for documents *without* a term for
# these two variants; esqa builds the default ("lucene"), which has none.
_NONOCCURRENCE_METHODS = ("bm25l", "bm25+")


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


class Postings:
    """BM25 weights by term: column `t` of a CSC matrix holds term t's documents and weights.

    bm25s computes every (term, document) weight at build time, so a
    document's score for a query is the sum of its weights over the query's
    terms. `data`, `indices` and `indptr` are bm25s's arrays (memory-mapped
    when loaded, so a query reads only its terms' postings).
    """

    def __init__(
        self,
        vocab: dict[str, int],
        num_docs: int,
        dtype: str,
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
    ) -> None:
        self.vocab = vocab
        self.data, self.indices, self.indptr = data, indices, indptr
        self.num_docs = num_docs
        self.dtype = np.dtype(dtype)

    @classmethod
    def load(cls, directory: Path) -> Postings:
        """The postings bm25s saved in `directory`, memory-mapped."""
        params = json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8"))
        if params.get("method") in _NONOCCURRENCE_METHODS:
            raise ValueError(f"{PARAMS_FILE}: BM25 variant {params['method']!r} is not supported")
        vocab = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
        arrays = {name: _load_array(directory / file) for name, file in ARRAY_FILES.items()}
        # The arrays are large and checked by size only at load (see
        # `esqa.index.reader.HASH_ON_LOAD_BYTES`). Their shape is cheap to check
        # (`indptr` has an entry per term), and `scores` checks the rows it reads.
        data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
        if not (
            indptr.ndim == 1
            and len(indptr) > 0
            and indptr[0] == 0
            and indptr[-1] == len(data) == len(indices)
            and not np.any(np.diff(indptr) < 0)
        ):
            raise ValueError("the BM25 postings' column pointers do not match their arrays")
        return cls(vocab, int(params["num_docs"]), str(params["dtype"]), **arrays)

    @classmethod
    def empty(cls) -> Postings:
        """No documents and no terms: every score list is empty."""
        no_rows = np.zeros(0, dtype=np.int32)
        return cls({}, 0, "float32", np.zeros(0, np.float32), no_rows, np.zeros(1, np.int64))

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Every document's BM25 score for the terms, as `bm25s.BM25.get_scores` computes it.

        Terms outside the vocabulary are skipped; a repeated term adds its
        weights again. The sums run in the same order and dtype as bm25s's,
        so the scores are equal, not merely close.
        """
        ids = [self.vocab[t] for t in terms if t in self.vocab]
        if ids and max(ids) >= len(self.indptr) - 1:
            # bm25s numbers an empty token after the last column; no query term is empty.
            raise ValueError(f"term id {max(ids)} is beyond the {len(self.indptr) - 1} columns")
        scores = np.zeros(self.num_docs, dtype=self.dtype)
        for term in ids:
            start, end = self.indptr[term], self.indptr[term + 1]
            try:
                np.add.at(scores, self.indices[start:end], self.data[start:end])
            except IndexError:
                raise IndexInvalidError(
                    f"the BM25 postings of term {term} name a document beyond the "
                    f"{self.num_docs} indexed; run: esqa index verify, then esqa index build"
                ) from None
        return scores

    def document_frequency(self, term: str) -> int:
        """How many documents hold the term (0 for a term outside the vocabulary)."""
        column = self.vocab.get(term)
        if column is None or column + 1 >= len(self.indptr):
            return 0
        return int(self.indptr[column + 1] - self.indptr[column])


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
