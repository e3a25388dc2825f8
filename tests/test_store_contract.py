"""The store contract: one suite that every dense and every lexical engine passes.

`esqa.stores.base` defines what retrieval needs of a store; each engine is
listed once below (with what it is allowed to do differently, such as a
graph's float16 vectors) and runs every test of its kind, as txtai runs one
ANN suite over all of its backends. A new engine joins by adding an entry.

Engines on a server (Milvus) run against a milvus-lite server process that
the session starts (`milvus_server` in conftest.py); they are marked
`milvus` and skip, with the reason, where it cannot start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import HashedEmbedder
from test_stores import by_id, make_chunks

from esqa.stores.base import DenseStore, LexicalStore
from esqa.stores.bm25_lexical import Bm25LexicalStore
from esqa.stores.faiss_dense import FaissDenseStore
from esqa.stores.milvus import MilvusStore
from esqa.stores.milvus_expr import parse_spec
from esqa.types import Chunk


@dataclass(frozen=True)
class DenseEngine:
    new: Callable[..., Any]  # an empty store for vectors of this dimension
    cls: type[DenseStore]  # whose `open` reads what `save` wrote
    tolerance: float = 1e-6  # how far a stored vector (or a self-similarity) may drift
    server: bool = False  # `new` is also given the test server's `milvus://HOST:PORT`


@dataclass(frozen=True)
class LexicalEngine:
    new: Callable[..., Any]
    cls: type[LexicalStore]
    server: bool = False


def new_milvus(dimension: int, server: str) -> MilvusStore:
    return MilvusStore.create(parse_spec(f"{server}/contract"), dimension, model="test")


LEXICAL_DIMENSION = 8  # a Milvus row has a vector; a lexical store's are zeros


class MilvusLexical:
    """Opens a Milvus store as a lexical one, which is opened without a dimension."""

    @classmethod
    def open(cls, directory: Path, dimension: int, chunks: Any) -> MilvusStore:
        return MilvusStore.open(directory, LEXICAL_DIMENSION, chunks)


DENSE_ENGINES = {
    "faiss-flat": DenseEngine(lambda d: FaissDenseStore(d), FaissDenseStore),
    # A graph from the first vector on; it keeps float16 vectors.
    "faiss-hnsw": DenseEngine(
        lambda d: FaissDenseStore(d, hnsw_threshold=0), FaissDenseStore, 2e-3
    ),
    "milvus": DenseEngine(new_milvus, MilvusStore, server=True),
}
LEXICAL_ENGINES = {
    "bm25": LexicalEngine(Bm25LexicalStore, Bm25LexicalStore),
    "milvus": LexicalEngine(
        partial(new_milvus, LEXICAL_DIMENSION),
        MilvusLexical,  # type: ignore[arg-type]
        server=True,
    ),
}


def _params(engines: dict[str, Any]) -> list[Any]:
    return [
        pytest.param(name, marks=[pytest.mark.milvus] if engines[name].server else [])
        for name in sorted(engines)
    ]


@pytest.fixture(params=_params(DENSE_ENGINES))
def dense(request) -> DenseEngine:
    engine = DENSE_ENGINES[request.param]
    if engine.server:
        return replace(
            engine, new=partial(engine.new, server=request.getfixturevalue("milvus_server"))
        )
    return engine


@pytest.fixture(params=_params(LEXICAL_ENGINES))
def lexical(request) -> LexicalEngine:
    engine = LEXICAL_ENGINES[request.param]
    if engine.server:
        return replace(
            engine, new=partial(engine.new, server=request.getfixturevalue("milvus_server"))
        )
    return engine


@pytest.fixture
def chunks():
    return make_chunks()


@pytest.fixture
def embedder(fake_embedder):
    return fake_embedder


# ---- dense ----------------------------------------------------------------------------


def dense_store(engine: DenseEngine, chunks: list[Chunk], embedder: HashedEmbedder) -> Any:
    store = engine.new(embedder.dimension)
    store.add(chunks, embedder.embed([c.text for c in chunks]))
    return store


def test_dense_search_finds_the_chunk_with_the_same_words_first(dense, chunks, embedder):
    store = dense_store(dense, chunks, embedder)
    query = embedder.embed(["rare earth exports from China fell"])[0]
    hits = store.search(query, 3)
    assert hits[0].id == 2
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(store) == len(chunks)


def test_dense_search_of_an_exact_text_scores_cosine_one(dense, chunks, embedder):
    store = dense_store(dense, chunks, embedder)
    hits = store.search(embedder.embed([chunks[4].text])[0], 1)
    assert hits[0].id == 4
    assert hits[0].score == pytest.approx(1.0, abs=max(dense.tolerance, 1e-5))


def test_dense_remove_source_removes_exactly_that_source(dense, chunks, embedder):
    store = dense_store(dense, chunks, embedder)
    assert store.remove_source("b.txt") == 2
    assert store.remove_source("b.txt") == 0
    assert len(store) == len(chunks) - 2
    ids = {h.id for h in store.search(embedder.embed(["rare earth China"])[0], 10)}
    assert ids == {c.id for c in chunks if c.source != "b.txt"}


def test_dense_save_open_round_trip_gives_the_same_results(dense, chunks, embedder, tmp_path):
    store = dense_store(dense, chunks, embedder)
    query = embedder.embed(["Japan rare earth law"])[0]
    before = store.search(query, 5)
    names = store.save(tmp_path)
    assert all((tmp_path / n).is_file() for n in names)
    loaded = dense.cls.open(tmp_path, embedder.dimension, by_id(chunks))
    assert loaded.search(query, 5) == before
    assert loaded.remove_source("a.txt") == 2  # sources are known after loading
    assert loaded.describe()["engine"] == store.describe()["engine"]


def test_dense_open_rejects_a_wrong_dimension_or_chunk_count(dense, chunks, embedder, tmp_path):
    dense_store(dense, chunks, embedder).save(tmp_path)
    with pytest.raises(ValueError):
        dense.cls.open(tmp_path, embedder.dimension + 1, by_id(chunks))
    with pytest.raises(ValueError):
        dense.cls.open(tmp_path, embedder.dimension, by_id(chunks[:-1]))


def test_dense_vectors_returns_the_stored_rows_for_the_ids_asked(dense, chunks, embedder, tmp_path):
    vectors = embedder.embed([c.text for c in chunks])
    store = dense.new(embedder.dimension)
    store.add(chunks, vectors)
    store.save(tmp_path)
    loaded = dense.cls.open(tmp_path, embedder.dimension, by_id(chunks))
    np.testing.assert_allclose(loaded.vectors([3, 0]), vectors[[3, 0]], atol=dense.tolerance)
    assert loaded.vectors([]).shape == (0, embedder.dimension)


def test_dense_vectors_of_a_removed_or_unknown_id_is_a_key_error(dense, chunks, embedder):
    store = dense_store(dense, chunks, embedder)
    store.remove_source("a.txt")
    with pytest.raises(KeyError):
        store.vectors([0])
    with pytest.raises(KeyError):
        store.vectors([99])


def test_dense_add_rejects_mismatched_vectors(dense, chunks, embedder):
    store = dense.new(embedder.dimension)
    with pytest.raises(ValueError):
        store.add(chunks, embedder.embed([chunks[0].text]))


def test_empty_dense_store_returns_nothing(dense, embedder):
    store = dense.new(embedder.dimension)
    assert store.search(embedder.embed(["anything"])[0], 5) == []


# ---- lexical --------------------------------------------------------------------------


def lexical_store(engine: LexicalEngine, chunks: list[Chunk]) -> Any:
    store = engine.new()
    store.add(chunks)
    return store


def test_lexical_search_finds_an_acronym_that_one_chunk_contains(lexical, chunks):
    hits = lexical_store(lexical, chunks).search("ESPA", 5)
    assert [h.id for h in hits] == [0]
    assert hits[0].score > 0


def test_lexical_search_stems_words(lexical, chunks):
    hits = lexical_store(lexical, chunks).search("pillar", 5)
    assert [h.id for h in hits] == [1]


def test_lexical_search_of_only_stopwords_or_unknown_words_is_empty(lexical, chunks):
    store = lexical_store(lexical, chunks)
    assert store.search("the of and", 5) == []
    assert store.search("zyzzyva", 5) == []
    assert store.search("", 5) == []


def test_lexical_terms_are_what_the_store_matches(lexical, chunks):
    store = lexical_store(lexical, chunks)
    # A word and its inflection are one term; stop words are none.
    assert store.terms("pillars") == store.terms("pillar") != []
    assert store.terms("the of and") == []
    idf = store.idf(store.terms("ESPA Japan"))
    assert idf[store.terms("ESPA")[0]] > idf[store.terms("Japan")[0]]  # rarer is worth more


def test_lexical_remove_source_removes_exactly_that_source(lexical, chunks):
    store = lexical_store(lexical, chunks)
    assert store.remove_source("a.txt") == 2
    assert store.search("ESPA", 5) == []
    assert len(store) == len(chunks) - 2
    assert {h.id for h in store.search("China rare earth", 10)} == {2, 3}


def test_lexical_save_open_round_trip_gives_the_same_results(lexical, chunks, tmp_path):
    store = lexical_store(lexical, chunks)
    queries = ["ESPA", "rare earth China", "mining Australia", "Japan 2022"]
    before = [store.search(q, 5) for q in queries]
    names = store.save(tmp_path)
    assert all((tmp_path / n).is_file() for n in names)
    loaded = lexical.cls.open(tmp_path, 0, by_id(chunks))
    after = [loaded.search(q, 5) for q in queries]
    assert [[h.id for h in hits] for hits in after] == [[h.id for h in hits] for hits in before]
    for hits_a, hits_b in zip(after, before, strict=True):
        assert np.allclose([h.score for h in hits_a], [h.score for h in hits_b])
    assert loaded.describe()["engine"] == store.describe()["engine"]


def test_lexical_store_can_change_after_opening(lexical, chunks, tmp_path):
    lexical_store(lexical, chunks).save(tmp_path)
    loaded = lexical.cls.open(tmp_path, 0, by_id(chunks))
    loaded.remove_source("a.txt")
    loaded.add([Chunk(99, "d.txt", 1, 1, 1, "JOGMEC invested in the Lynas project.")])
    assert loaded.search("ESPA", 5) == []
    assert [h.id for h in loaded.search("JOGMEC", 5)] == [99]


def test_lexical_open_rejects_a_chunk_list_that_does_not_match(lexical, chunks, tmp_path):
    lexical_store(lexical, chunks).save(tmp_path)
    with pytest.raises(ValueError):
        lexical.cls.open(tmp_path, 0, by_id(chunks[:-1]))


def test_empty_lexical_store_returns_nothing(lexical):
    assert lexical.new().search("ESPA", 5) == []
