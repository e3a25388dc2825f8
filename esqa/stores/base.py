"""The store interface: what retrieval needs from a dense or a lexical engine.

The embedded defaults are FAISS (dense) and BM25 over bm25s's tokens
(lexical), each saving its files into a segment of the index directory
(`esqa.index.segments`); a query searches every segment as one through
`DenseSearch` and `LexicalSearch` (`esqa.stores.faiss_segments`,
`esqa.stores.bm25_segments`). A server-backed engine can sit behind the same
methods: `save` and `open` then record and check a connection instead of
writing files, and its search view is the server itself. `esqa.stores.factory`
is the only place that names an engine; everything else is typed by these
protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from esqa.types import Chunk

if TYPE_CHECKING:
    from typing import Self  # Python 3.11; annotations are not evaluated at run time


class ScoredId(NamedTuple):
    id: int  # chunk id
    score: float  # higher is better; scales differ between stores


def chunk_ids(chunks: Mapping[int, Chunk]) -> np.ndarray:
    """Every id of `chunks` as an array.

    An index's chunk table has them as an array already (`ids`), without
    parsing a chunk; any other mapping is iterated.
    """
    ids = getattr(chunks, "ids", None)
    if isinstance(ids, np.ndarray):
        return ids
    return np.fromiter(chunks, dtype=np.int64, count=len(chunks))


def merge_ranked(
    hits: Sequence[ScoredId], k: int, order: Callable[[int], Any] | None = None
) -> list[ScoredId]:
    """The k best of hits gathered from several parts of an index, best first.

    Equal scores come in corpus order (`order` gives a chunk's key); without
    `order`, in id order. Ids of segments added later are not in corpus
    order, so one index of the same chunks, whose ids are, breaks ties alike.
    The key is asked only inside a run of equal scores.
    """
    ranked = sorted(hits, key=lambda h: (-h.score, h.id))
    if order is None:
        return ranked[:k]
    out: list[ScoredId] = []
    start = 0
    while start < len(ranked) and len(out) < k:
        end = start + 1
        while end < len(ranked) and ranked[end].score == ranked[start].score:
            end += 1
        run = ranked[start:end]
        out += run if len(run) == 1 else sorted(run, key=lambda h: order(h.id))
        start = end
    return out[:k]


class DenseSearch(Protocol):
    """What a query needs of dense retrieval over a whole index (its segments searched as one)."""

    def search(self, vector: np.ndarray, k: int) -> list[ScoredId]:
        """The k chunks most similar to a query vector, best first."""
        ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, one row per id, in order (KeyError if unknown)."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def __len__(self) -> int: ...


class LexicalSearch(Protocol):
    """What a query needs of lexical retrieval over a whole index."""

    def search(self, query: str, k: int) -> list[ScoredId]:
        """The k chunks that best match the query's terms, best first (score > 0)."""
        ...

    def terms(self, text: str) -> list[str]:
        """The text's terms as the store indexes them (so they can be compared)."""
        ...

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each term over the index's live chunks."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def __len__(self) -> int: ...


class DenseStore(Protocol):
    """A dense store of one segment: built, saved, opened and searched."""

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add chunks with their L2-normalised vectors (one row per chunk)."""
        ...

    def remove_source(self, source: str) -> int:
        """Remove every chunk of a source file; returns how many were removed."""
        ...

    def search(self, vector: np.ndarray, k: int) -> list[ScoredId]:
        """The k chunks most similar to a query vector, best first."""
        ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, one row per id, in order.

        Raises KeyError for an id the store does not hold. An incremental build
        reuses them instead of embedding unchanged text again.
        """
        ...

    def save(self, directory: Path) -> list[str]:
        """Write the store into directory; returns the file names written."""
        ...

    @classmethod
    def open(cls, directory: Path, dimension: int, chunks: Mapping[int, Chunk]) -> Self:
        """The store `save` wrote into directory, holding these chunks (by id).

        Raises ValueError (or OSError) when what it finds does not match them.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """Engine, index type and parameters, for the manifest."""
        ...

    def __len__(self) -> int: ...


class LexicalStore(Protocol):
    """A lexical store of one segment: built, saved, opened and searched."""

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Add chunks; their text is tokenised by the store."""
        ...

    def remove_source(self, source: str) -> int:
        """Remove every chunk of a source file; returns how many were removed."""
        ...

    def search(self, query: str, k: int) -> list[ScoredId]:
        """The k chunks that best match the query's terms, best first (score > 0)."""
        ...

    def terms(self, text: str) -> list[str]:
        """The text's terms as the store indexes them (so they can be compared)."""
        ...

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each term over the store's chunks."""
        ...

    def save(self, directory: Path) -> list[str]:
        """Write the store into directory; returns the file names written."""
        ...

    @classmethod
    def open(cls, directory: Path, dimension: int, chunks: Mapping[int, Chunk]) -> Self:
        """The store `save` wrote into directory, holding these chunks (by id).

        Raises ValueError (or OSError) when what it finds does not match them.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """Engine and parameters, for the manifest."""
        ...

    def __len__(self) -> int: ...
