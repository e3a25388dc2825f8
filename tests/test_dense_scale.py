"""The dense store's index type follows its size: exact up to a threshold, HNSW above it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from esqa.stores.faiss_dense import FILE_NAME, FaissDenseStore, HnswParams
from esqa.types import Chunk

DIMENSION = 32
THRESHOLD = 1_000
FP16 = 5e-4  # float16 keeps 11 significant bits: a unit vector component is off by < 2.5e-4
PER_SOURCE = 10  # chunks per source file


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_chunks(n: int, first_id: int = 0) -> list[Chunk]:
    # Ids are spaced out so that an id can never be confused with a position.
    return [
        Chunk(3 * i, f"s{i // PER_SOURCE}.txt", 1, 1, 1, f"chunk {i}")
        for i in range(first_id, first_id + n)
    ]


def by_id(chunks: list[Chunk]) -> dict[int, Chunk]:
    return {c.id: c for c in chunks}


def store_of(n: int, threshold: int = THRESHOLD) -> tuple[FaissDenseStore, np.ndarray]:
    vectors = unit_vectors(n)
    store = FaissDenseStore(DIMENSION, hnsw_threshold=threshold)
    store.add(make_chunks(n), vectors)
    return store, vectors


def top1(store: FaissDenseStore, vectors: np.ndarray) -> list[int]:
    return [store.search(v, 1)[0].id for v in vectors]


def test_the_store_is_exact_up_to_the_threshold():
    store, _ = store_of(THRESHOLD)
    assert store.exact
    assert store.describe()["type"] == "IDMap2,Flat"
    assert store.describe()["exact"] is True


def test_the_store_is_an_hnsw_graph_above_the_threshold():
    store, _ = store_of(THRESHOLD + 1)
    assert not store.exact
    described = store.describe()
    assert described["type"] == "IDMap2,HNSW32_SQfp16"
    assert described["hnsw"] == {
        "M": 32,
        "ef_construction": 200,
        "ef_search": 512,
        "storage": "fp16",
    }
    assert described["hnsw_threshold"] == THRESHOLD


def test_adding_past_the_threshold_turns_an_exact_store_into_a_graph_of_every_vector():
    vectors = unit_vectors(THRESHOLD + 50)
    chunks = make_chunks(len(vectors))
    store = FaissDenseStore(DIMENSION, hnsw_threshold=THRESHOLD)
    store.add(chunks[:THRESHOLD], vectors[:THRESHOLD])
    assert store.exact
    store.add(chunks[THRESHOLD:], vectors[THRESHOLD:])
    assert not store.exact
    assert len(store) == len(chunks)
    assert top1(store, vectors) == [c.id for c in chunks]


def test_hnsw_finds_each_stored_vector_first_as_exact_search_does():
    store, vectors = store_of(2_000)
    exact, _ = store_of(2_000, threshold=10**9)
    assert not store.exact and exact.exact
    assert top1(store, vectors) == top1(exact, vectors)
    assert top1(store, vectors) == [c.id for c in make_chunks(2_000)]


def test_hnsw_search_scores_are_inner_products_best_first():
    store, vectors = store_of(2_000)
    hits = store.search(vectors[7], 10)
    assert len(hits) == 10
    assert hits[0].score == pytest.approx(1.0, abs=FP16)
    stored = store.vectors([h.id for h in hits])
    np.testing.assert_allclose([h.score for h in hits], stored @ vectors[7], atol=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("n", [THRESHOLD, 2_000], ids=["exact", "hnsw"])
@pytest.mark.parametrize("mmap", [True, False], ids=["mapped", "read"])
def test_save_load_keeps_the_type_ids_vectors_and_results(tmp_path: Path, n: int, mmap: bool):
    store, vectors = store_of(n)
    chunks = make_chunks(n)
    before = [store.search(v, 5) for v in vectors[:50]]
    assert store.save(tmp_path) == [FILE_NAME]
    loaded = FaissDenseStore.load(
        tmp_path, DIMENSION, by_id(chunks), mmap=mmap, hnsw_threshold=THRESHOLD
    )
    assert loaded.describe() == store.describe()
    assert len(loaded) == n
    assert [loaded.search(v, 5) for v in vectors[:50]] == before
    ids = [c.id for c in chunks[::-7]]
    np.testing.assert_array_equal(loaded.vectors(ids), store.vectors(ids))
    np.testing.assert_allclose(loaded.vectors([3 * 5]), vectors[[5]], atol=FP16)


def test_a_loaded_graph_keeps_its_build_parameters_and_takes_this_versions_ef_search(
    tmp_path: Path,
):
    built = HnswParams(m=16, ef_construction=40, ef_search=20)
    store = FaissDenseStore(DIMENSION, hnsw_threshold=THRESHOLD, hnsw=built)
    store.add(make_chunks(1_500), unit_vectors(1_500))
    store.save(tmp_path)
    loaded = FaissDenseStore.load(tmp_path, DIMENSION, by_id(make_chunks(1_500)))
    assert loaded.describe()["type"] == "IDMap2,HNSW16_SQfp16"
    assert loaded.describe()["hnsw"] == {
        "M": 16,
        "ef_construction": 40,
        "ef_search": HnswParams().ef_search,
        "storage": "fp16",
    }


def test_removing_from_a_graph_rebuilds_it_without_that_source():
    store, vectors = store_of(2_000)
    gone = [c.id for c in make_chunks(2_000) if c.source == "s3.txt"]
    assert store.remove_source("s3.txt") == PER_SOURCE
    assert store.remove_source("s3.txt") == 0
    assert len(store) == 2_000 - PER_SOURCE
    assert not store.exact
    found = {h.id for v in vectors for h in store.search(v, 3)}
    assert found.isdisjoint(gone)
    with pytest.raises(KeyError):
        store.vectors(gone[:1])
    np.testing.assert_allclose(store.vectors([3 * 100]), vectors[[100]], atol=FP16)
    assert top1(store, vectors[100:200]) == [3 * i for i in range(100, 200)]


def test_removing_below_the_threshold_makes_the_store_exact_again():
    store, vectors = store_of(THRESHOLD + PER_SOURCE)
    assert not store.exact
    store.remove_source("s0.txt")
    assert store.exact
    assert len(store) == THRESHOLD
    assert top1(store, vectors[PER_SOURCE:]) == [3 * i for i in range(PER_SOURCE, THRESHOLD + 10)]


@pytest.mark.parametrize("n", [THRESHOLD, 2_000], ids=["exact", "hnsw"])
def test_a_loaded_mapped_store_can_still_add_and_remove(tmp_path: Path, n: int):
    # FAISS aborts the whole process when a mapped index is resized: the store
    # must copy it into memory first. Were it not to, this test would crash pytest.
    store, vectors = store_of(n)
    store.save(tmp_path)
    loaded = FaissDenseStore.load(
        tmp_path, DIMENSION, by_id(make_chunks(n)), hnsw_threshold=THRESHOLD
    )
    more = make_chunks(5, first_id=n)
    loaded.add(more, unit_vectors(5, seed=1))
    assert loaded.remove_source("s1.txt") == PER_SOURCE
    assert len(loaded) == n + 5 - PER_SOURCE
    assert loaded.search(unit_vectors(5, seed=1)[2], 1)[0].id == more[2].id
    np.testing.assert_allclose(loaded.vectors([3 * 50]), vectors[[50]], atol=FP16)
    # The file it was mapped from is unchanged.
    again = FaissDenseStore.load(
        tmp_path, DIMENSION, by_id(make_chunks(n)), hnsw_threshold=THRESHOLD
    )
    assert len(again) == n


def test_a_graph_of_float32_vectors_keeps_them_exactly(tmp_path: Path):
    vectors = unit_vectors(1_500)
    chunks = make_chunks(1_500)
    store = FaissDenseStore(DIMENSION, hnsw_threshold=THRESHOLD, hnsw=HnswParams(storage="float32"))
    store.add(chunks, vectors)
    assert store.describe()["type"] == "IDMap2,HNSW32,Flat"
    store.save(tmp_path)
    loaded = FaissDenseStore.load(tmp_path, DIMENSION, by_id(chunks))
    assert loaded.describe()["hnsw"]["storage"] == "float32"
    np.testing.assert_array_equal(loaded.vectors([c.id for c in chunks]), vectors)


def test_fp16_vectors_given_back_and_added_again_are_stored_unchanged():
    # An incremental build adds the vectors that `vectors()` gives back; it
    # must store what a build from the original vectors stores.
    store, vectors = store_of(1_500)
    ids = [c.id for c in make_chunks(1_500)]
    again = FaissDenseStore(DIMENSION, hnsw_threshold=THRESHOLD)
    again.add(make_chunks(1_500), store.vectors(ids))
    np.testing.assert_array_equal(again.vectors(ids), store.vectors(ids))
    assert np.abs(store.vectors(ids) - vectors).max() > 0  # they are rounded


def test_an_unknown_hnsw_storage_is_refused():
    with pytest.raises(ValueError, match="storage"):
        HnswParams(storage="int4")


def test_load_rejects_an_index_type_the_store_does_not_write(tmp_path: Path):
    import faiss

    sq8 = faiss.IndexHNSWSQ(DIMENSION, faiss.ScalarQuantizer.QT_8bit, 8, faiss.METRIC_INNER_PRODUCT)
    sq8.train(unit_vectors(10))
    faiss.write_index(faiss.IndexIDMap2(sq8), str(tmp_path / FILE_NAME))
    with pytest.raises(ValueError, match="quantised"):
        FaissDenseStore.load(tmp_path, DIMENSION, {})

    index = faiss.IndexIDMap2(faiss.IndexHNSWFlat(DIMENSION, 8))  # L2, not inner product
    index.add_with_ids(unit_vectors(10), np.arange(10, dtype=np.int64))
    faiss.write_index(index, str(tmp_path / FILE_NAME))
    with pytest.raises(ValueError, match="inner product"):
        FaissDenseStore.load(tmp_path, DIMENSION, by_id(make_chunks(10)))
    faiss.write_index(faiss.IndexFlatIP(DIMENSION), str(tmp_path / FILE_NAME))
    with pytest.raises(ValueError, match="IndexIDMap2"):
        FaissDenseStore.load(tmp_path, DIMENSION, {})


def test_search_leaves_the_callers_openmp_thread_count_as_it_was():
    import faiss

    store, vectors = store_of(2_000)
    before = faiss.omp_get_max_threads()
    store.search(vectors[0], 5)
    assert faiss.omp_get_max_threads() == before
