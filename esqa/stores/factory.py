"""The one place that names search engines.

A build asks for new stores (`create_stores`), a load for the stores an index
recorded (`open_stores`, from the manifest's `dense` and `lexical`
descriptions, whose `engine` names the class). Everything else holds them as
the protocols of `esqa.stores.base`, so a new engine is one entry here.

A store spec chooses the engine of a build: `embedded` (FAISS and bm25s,
files in the index directory) or `milvus://HOST:PORT/COLLECTION` (one
Milvus collection that is both stores and fuses them itself, a
`HybridStore`; see `esqa.stores.milvus`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from esqa.errors import EsqaError
from esqa.stores.base import DenseSearch, DenseStore, LexicalSearch, LexicalStore
from esqa.stores.hybrid import HybridStore
from esqa.stores.milvus_expr import is_milvus_spec, parse_spec
from esqa.types import Chunk

# The embedded default: FAISS for dense search, bm25s for lexical, both
# saving their files into the index directory.
EMBEDDED = "embedded"
MILVUS = "milvus"


@dataclass(frozen=True)
class Stores:
    """The dense and the lexical store of one index, and the engine that fuses
    them itself when there is one (None: `esqa.stores.hybrid.fuse` does)."""

    dense: DenseStore
    lexical: LexicalStore
    hybrid: HybridStore | None = None

    def save(self, directory: Path) -> list[str]:
        """Write both stores into directory; returns the file names written."""
        if self.lexical is self.dense:  # one engine holds both
            return self.dense.save(directory)
        return [*self.dense.save(directory), *self.lexical.save(directory)]

    def kept(self, chunks: Sequence[Chunk]) -> Sequence[int]:
        """The positions of a build's chunks whose vectors the stores do not need."""
        return self.hybrid.kept(chunks) if self.hybrid is not None else ()

    def published(self) -> None:
        """Tell a server engine that the index naming its state is published."""
        if self.hybrid is not None:
            self.hybrid.published()


def check_spec(spec: str) -> str:
    """`spec` if it names a store this esqa knows; EsqaError says what would."""
    try:
        if spec != EMBEDDED:
            parse_spec(spec)
    except ValueError as exc:
        raise EsqaError(
            str(exc), hint=f"pass --store {EMBEDDED} or --store milvus://HOST:PORT/COLLECTION"
        ) from None
    return spec


def is_embedded(spec: str) -> bool:
    """Whether a store spec names the embedded engine, whose stores are an index's segments."""
    return not is_milvus_spec(spec)


def spec_of(description: Mapping[str, Any]) -> str:
    """The store spec that built the stores a manifest describes (its `dense` entry)."""
    if description.get("engine") == MILVUS:
        return str(description["store"])
    return EMBEDDED


def create_stores(
    dimension: int,
    engine: str = EMBEDDED,
    previous: DenseStore | None = None,
    model: str = "",
    owner: str = "",
) -> Stores:
    """Empty stores of `engine` (a store spec) for vectors of `dimension`.

    `previous` is the dense store of the index being replaced: a server
    engine continues it in place when it is on the same collection (see
    `esqa.stores.milvus.MilvusStore.derive`). `model` and `owner` (the
    index's path) tag a server's collection, so that another model's or
    another index's build never takes it over.
    Raises ValueError for a spec this esqa does not know.
    """
    if is_milvus_spec(engine):
        from esqa.stores.milvus import MilvusStore

        spec = parse_spec(engine)
        if isinstance(previous, MilvusStore):
            store = MilvusStore.derive(previous, spec, dimension, model, owner)
        else:
            store = MilvusStore.create(spec, dimension, model, owner)
        return Stores(store, store, store)
    check_spec(engine)  # embedded, or a spec it refuses
    from esqa.stores.bm25_lexical import Bm25LexicalStore
    from esqa.stores.faiss_dense import FaissDenseStore

    return Stores(FaissDenseStore(dimension), Bm25LexicalStore())


def open_stores(
    directory: Path,
    dense: Mapping[str, Any],
    lexical: Mapping[str, Any],
    dimension: int,
    chunks: Mapping[int, Chunk],
) -> Stores:
    """The stores an index recorded (`dense` and `lexical` are the manifest's
    descriptions of them), holding these chunks.

    Raises ValueError when a description names an unknown engine or the files
    do not match the chunks.
    """
    if dense.get("engine") == MILVUS and lexical.get("engine") == MILVUS:
        from esqa.stores.milvus import MilvusStore

        store = MilvusStore.open(directory, dimension, chunks)
        return Stores(store, store, store)
    return Stores(
        _dense_class(dense.get("engine")).open(directory, dimension, chunks),
        _lexical_class(lexical.get("engine")).open(directory, dimension, chunks),
    )


@dataclass(frozen=True)
class SegmentFiles:
    """Where a segment's store files are and what of it is live, for opening an index."""

    directory: Path
    base: int  # chunk id of its first chunk
    chunks: Mapping[int, Chunk]  # its chunks by their own ids (0, 1, ...)
    dead: np.ndarray  # its deleted chunks, by their own ids


@dataclass(frozen=True)
class SearchStores:
    """The dense and the lexical search of a whole index, and the engine that fuses
    them itself when there is one."""

    dense: DenseSearch
    lexical: LexicalSearch
    hybrid: HybridStore | None = None


def engine_descriptions(
    dimension: int, engine: str = EMBEDDED
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest's `dense` and `lexical` entries: the engines and their parameters."""
    stores = create_stores(dimension, engine)
    return stores.dense.engine_description(), stores.lexical.describe()  # type: ignore[attr-defined]


def open_index(
    segments: Sequence[SegmentFiles],
    dense: Mapping[str, Any],
    lexical: Mapping[str, Any],
    dimension: int,
    order: Callable[[int], Any] | None = None,
) -> SearchStores:
    """Search every segment of an index as one (`dense` and `lexical` are the
    manifest's engine descriptions); `order` gives a chunk id's corpus-order key.

    A server engine's index is one segment (its rows change in place on the
    server, see `esqa.index.build`): the server searches it.
    Raises ValueError when a description names an unknown engine or files do
    not match their chunks.
    """
    if dense.get("engine") == MILVUS:
        if len(segments) != 1 or segments[0].base != 0 or len(segments[0].dead):
            raise ValueError("a Milvus index is one segment without deleted chunks")
        one = open_stores(segments[0].directory, dense, lexical, dimension, segments[0].chunks)
        return SearchStores(one.dense, one.lexical, one.hybrid)
    from esqa.stores.bm25_segments import LexicalSegment, SegmentedLexicalStore
    from esqa.stores.faiss_segments import DenseSegment, SegmentedDenseStore

    dense_class, lexical_class = (
        _dense_class(dense.get("engine")),
        _lexical_class(lexical.get("engine")),
    )
    dense_parts, lexical_parts, tokenizer, k1, b = [], [], None, None, None
    for segment in segments:
        dead = segment.dead if len(segment.dead) else None
        store = dense_class.open(segment.directory, dimension, segment.chunks)
        dense_parts.append(DenseSegment(store, segment.base, dead))  # type: ignore[arg-type]
        words = lexical_class.open(segment.directory, dimension, segment.chunks)
        mask = None
        if dead is not None:
            mask = np.zeros(len(segment.chunks), dtype=bool)
            mask[dead] = True
        lexical_parts.append(LexicalSegment(words.postings, segment.base, mask))  # type: ignore[attr-defined]
        if tokenizer is None:
            tokenizer, k1, b = words.tokenizer, words.k1, words.b  # type: ignore[attr-defined]
        elif (words.tokenizer, words.k1, words.b) != (tokenizer, k1, b):  # type: ignore[attr-defined]
            raise ValueError(f"segment {segment.directory.name} was tokenised or weighed otherwise")
    if tokenizer is None:
        from esqa.stores.bm25_lexical import Bm25LexicalStore

        empty = Bm25LexicalStore()
        tokenizer, k1, b = empty.tokenizer, empty.k1, empty.b
    assert k1 is not None and b is not None
    return SearchStores(
        SegmentedDenseStore(dense_parts, dimension, dict(dense), order),
        SegmentedLexicalStore(lexical_parts, tokenizer, k1, b, lexical, order),
    )


def merge_stores(
    dimension: int,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    lexical: Sequence[tuple[LexicalStore, np.ndarray]],
    engine: str = EMBEDDED,
) -> Stores:
    """The stores of a merged segment: `chunks` (renumbered) with their vectors, and the
    merged segments' lexical stores, each with the new number of every document (-1: dropped).

    The embedded lexical store renumbers its postings rather than tokenise again.
    """
    if engine != EMBEDDED:
        raise ValueError(f"unknown search engine {engine!r}; use {EMBEDDED!r}")
    from esqa.stores.bm25_lexical import Bm25LexicalStore, merge_postings

    stores = create_stores(dimension, engine)
    stores.dense.add(chunks, vectors)
    parts = [(store.postings, new) for store, new in lexical]  # type: ignore[attr-defined]
    tokenizer = lexical[0][0].tokenizer if lexical else None  # type: ignore[attr-defined]
    if tokenizer is None:
        return Stores(stores.dense, _counted(chunks))
    merged = merge_postings(parts)
    ids = np.arange(len(chunks), dtype=np.int64)
    return Stores(stores.dense, Bm25LexicalStore.from_postings(merged, tokenizer, ids))


def _counted(chunks: Sequence[Chunk]) -> LexicalStore:
    stores = create_stores(0)
    stores.lexical.add(chunks)
    return stores.lexical


def _dense_class(engine: object) -> type[DenseStore]:
    if engine == "faiss":
        from esqa.stores.faiss_dense import FaissDenseStore

        return FaissDenseStore
    raise ValueError(f"the manifest names an unknown dense engine {engine!r}")


def _lexical_class(engine: object) -> type[LexicalStore]:
    if engine == "bm25":
        from esqa.stores.bm25_lexical import Bm25LexicalStore

        return Bm25LexicalStore
    raise ValueError(f"the manifest names an unknown lexical engine {engine!r}")
