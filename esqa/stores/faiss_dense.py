"""Dense search with FAISS: inner product over L2-normalised vectors, exact or HNSW by size.

Inner product of unit vectors is their cosine similarity. Ids are chunk ids
(an `IndexIDMap2`), so chunks can be removed by source without renumbering,
and `vectors(ids)` gives back any stored vector.

The index type follows the number of vectors. Figures from
`benchmarks/scale.py` (results in `benchmarks/results/scale.json`) on the
project's 2-core machine, one query for 50 candidates, one thread:

- Up to `HNSW_THRESHOLD` (50,000) vectors: `IndexIDMap2` over `IndexFlatIP`.
  It is exact (recall 1.0), builds instantly and removes in place. Its query
  time grows with the corpus, about 0.08 ms per 1,000 vectors: 4.0 ms at
  50,000, 7.6 ms at 100,000, 15 ms at 200,000, where it alone would take most
  of the 20 ms that a hybrid search may take. At the threshold it is still a
  small part of answering a question (about 10 to 30 ms).
- Above it: `IndexIDMap2` over `IndexHNSWSQ` (M = 32, efConstruction 200,
  efSearch 512, vectors kept as float16), whose query time hardly grows with
  the corpus. With the earlier efConstruction 80 and efSearch 128 it took
  0.26 ms at 58,612 real vectors and 1.8 ms at a million Gaussian ones, and
  found 0.995 of the exact top 10 on 58,612 real all-MiniLM-L6-v2 passage
  vectors queried with COVID-QA questions. On vectors that crowd together
  it did not: on 57,569 news chunks drawn from five articles with words
  substituted (`benchmarks/graph_params.py`) it found 0.950, and two graphs
  of the same vectors built in another order (a segmented index and a full
  build) agreed on 0.946 of their top 10. The graph's quality is most of
  the fix: efConstruction 200 agrees on 0.976 at efSearch 128 and 0.995 at
  512 (recall@10 0.995, recall@50 0.992), where the old graph needs
  efSearch 1024. Building takes 2.3 times as long (about 10 minutes per
  million Gaussian vectors before), paid only when a graph segment is
  written (a build from scratch, a merge of large segments); efSearch 512
  adds about 1.5 ms a query. A graph built before keeps its efConstruction
  and searches with this version's efSearch.
- float16, not float32: the same recall (0.9952 against 0.9954 at 58,612),
  each component within 2.5e-4, and 1,040 bytes per vector instead of 1,808,
  so a million chunks need 1.0 GB of index, not 1.73 GB, which keeps a
  query process under 3 GB. `vectors(ids)` gives back the float16 values;
  adding those again stores them unchanged, so an incremental build stores
  what a full one does. `HnswParams(storage="float32")` keeps them exactly.
- IVF is not used: on real MiniLM vectors it reached only 0.79 to 0.93
  recall@10 at nprobe 8 to 32 (synthetic clustered vectors showed 0.998 and
  would have misled), and it needs training and at least 39 points per cell.

FAISS cannot remove vectors from an HNSW graph. Each esqa build writes a new
store (a new index generation), so removal is rare; when it happens the store
is rebuilt from the vectors it keeps, which at a million vectors takes
minutes. The type of a rebuilt store follows its new size.

Loading maps the file into memory in place (`IO_FLAG_MMAP_IFC`): the
million-vector index (1.0 GB) loads in 0.28 s instead of 3.5 s, and pages are
read as searches touch them. esqa never rewrites an index file in place (a build
writes a new generation), so a mapped file does not change under a reader.
FAISS aborts the process when a mapped index is asked to grow or shrink, so
the first `add` or `remove_source` after loading copies it into memory.

Searching uses one OpenMP thread: a single query cannot use more, and when
another process holds the second core, waiting for a busy thread made exact
search at 200,000 vectors 3 times slower (48 ms against 15 ms); on a quiet
machine the two are equal. `omp_set_num_threads` applies to the calling thread
only, and is restored after the search so that a build in the same thread
keeps every core.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from esqa.stores.base import ScoredId, chunk_ids
from esqa.types import Chunk

FILE_NAME = "dense.faiss"
FLAT = "IDMap2,Flat"
HNSW_THRESHOLD = 50_000  # vectors; above this the store is an HNSW graph


@dataclass(frozen=True)
class HnswParams:
    """The HNSW graph's parameters (see the module docstring for how they were chosen)."""

    m: int = 32  # neighbours per node (64 at the bottom level)
    ef_construction: int = 200  # candidates while linking a node: build time vs graph quality
    ef_search: int = 512  # candidates while searching: latency vs recall
    storage: str = "fp16"  # how the graph keeps its vectors: "fp16" or "float32"

    def __post_init__(self) -> None:
        if self.storage not in STORAGE:
            raise ValueError(f"HNSW storage must be one of {sorted(STORAGE)}, not {self.storage!r}")

    @property
    def type(self) -> str:
        """The index's FAISS factory name, behind its id map."""
        return f"IDMap2,HNSW{self.m}{STORAGE[self.storage]}"


# FAISS factory suffix of each way an HNSW graph may keep its vectors.
STORAGE = {"fp16": "_SQfp16", "float32": ",Flat"}


def _faiss() -> Any:
    import faiss  # deferred: importing faiss costs ~0.1 s that `--help` need not pay

    return faiss


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _inner(index: Any) -> Any:
    """The index an `IndexIDMap2` wraps, as its own FAISS type."""
    return _faiss().downcast_index(index.index)


def _hnsw_of(index: Any) -> HnswParams | None:
    """The HNSW parameters of an index, or None when it is exact (flat)."""
    inner = _inner(index)
    if not hasattr(inner, "hnsw"):
        return None
    graph = inner.hnsw
    storage = "float32" if isinstance(inner, _faiss().IndexHNSWFlat) else "fp16"
    # Neighbours at level 0 are 2 * M (FAISS's convention).
    return HnswParams(graph.nb_neighbors(0) // 2, graph.efConstruction, graph.efSearch, storage)


class FaissDenseStore:
    """Chunk vectors searchable by inner product; exact up to `hnsw_threshold` vectors.

    Example: `store = FaissDenseStore(384); store.add(chunks, vectors);
    store.search(query_vector, 10)`.
    """

    def __init__(
        self,
        dimension: int,
        index: Any = None,
        hnsw_threshold: int = HNSW_THRESHOLD,
        hnsw: HnswParams | None = None,
    ) -> None:
        self.dimension = dimension
        self.hnsw_threshold = hnsw_threshold
        self.hnsw = hnsw or HnswParams()
        self.search_threads = 1  # see the module docstring; a benchmark may compare others
        self._index = index if index is not None else self._new_index(0)
        self._mapped = False  # True while the index is a read-only view of its file
        self._ids_by_source: dict[str, list[int]] = defaultdict(list)
        # Chunks loaded but not yet in `_ids_by_source`: grouping a million
        # chunks by source takes 0.5 s that a query never needs.
        self._untracked: Mapping[int, Chunk] = {}

    def _new_index(self, size: int) -> Any:
        """An empty index of the type that suits `size` vectors."""
        faiss = _faiss()
        if size <= self.hnsw_threshold:
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        if self.hnsw.storage == "float32":
            graph = faiss.IndexHNSWFlat(self.dimension, self.hnsw.m, faiss.METRIC_INNER_PRODUCT)
        else:
            fp16 = faiss.ScalarQuantizer.QT_fp16  # needs no training: a plain conversion
            graph = faiss.IndexHNSWSQ(self.dimension, fp16, self.hnsw.m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.hnsw.ef_construction
        graph.hnsw.efSearch = self.hnsw.ef_search
        return faiss.IndexIDMap2(graph)

    def _track(self, chunks: Sequence[Chunk]) -> None:
        self._by_source()
        for chunk in chunks:
            self._ids_by_source[chunk.source].append(chunk.id)

    def _by_source(self) -> dict[str, list[int]]:
        """Chunk ids by source file, grouped on first use after loading."""
        if self._untracked:
            untracked, self._untracked = self._untracked, {}
            for chunk in untracked.values():
                self._ids_by_source[chunk.source].append(chunk.id)
        return self._ids_by_source

    def _writable(self) -> Any:
        """The index, copied into memory first if it is a view of its file."""
        if self._mapped:
            faiss = _faiss()
            self._index = faiss.deserialize_index(faiss.serialize_index(self._index))
            self._mapped = False
        return self._index

    def _contents(self) -> tuple[np.ndarray, np.ndarray]:
        """Every stored id and vector, in the index's internal order."""
        ids = _faiss().vector_to_array(self._index.id_map).astype(np.int64)
        vectors = _inner(self._index).reconstruct_n(0, self._index.ntotal)
        return ids, np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dimension)

    def _rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the index by a new one of the type that suits these vectors."""
        index = self._new_index(len(ids))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._index, self._mapped = index, False

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(chunks) == 0:
            return
        ids = np.fromiter((c.id for c in chunks), dtype=np.int64, count=len(chunks))
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.exact and len(self) + len(chunks) > self.hnsw_threshold:
            # Crossing the threshold: one graph over old and new vectors.
            old_ids, old_vectors = self._contents()
            self._rebuild(np.concatenate([old_ids, ids]), np.vstack([old_vectors, vectors]))
        else:
            self._writable().add_with_ids(vectors, ids)
        self._track(chunks)

    def remove_source(self, source: str) -> int:
        ids = self._by_source().pop(source, [])
        if not ids:
            return 0
        gone = np.asarray(ids, dtype=np.int64)
        if self.exact:
            self._writable().remove_ids(gone)
        else:  # FAISS cannot remove from a graph: rebuild from what stays
            kept_ids, kept_vectors = self._contents()
            keep = ~np.isin(kept_ids, gone)
            self._rebuild(kept_ids[keep], kept_vectors[keep])
        return len(ids)

    def search(self, vector: np.ndarray, k: int, params: Any = None) -> list[ScoredId]:
        """The k stored vectors most similar to `vector`; `params` from `excluding` leaves some out."""
        if self._index.ntotal == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        with _omp_threads(self.search_threads):
            scores, ids = self._index.search(query, min(k, self._index.ntotal), params=params)
        return [
            ScoredId(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0
        ]

    def excluding(self, ids: np.ndarray) -> Any:
        """Search parameters that leave these ids out inside the search (FAISS `IDSelector`).

        Filtering inside, not after: a graph search then still finds its k
        best among the others. The returned object keeps the selectors alive.
        """
        faiss = _faiss()
        batch = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        selector = faiss.IDSelectorNot(batch)
        if self.exact:
            params = faiss.SearchParameters(sel=selector)
        else:
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.hnsw.ef_search)
        params.referenced_objects = [batch, selector]  # SWIG holds raw pointers only
        return params

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        keys = np.asarray(ids, dtype=np.int64)
        if len(keys) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            return np.asarray(self._index.reconstruct_batch(keys), dtype=np.float32)
        except RuntimeError:  # FAISS says only "key not found" deep in its message
            held = {i for ids in self._by_source().values() for i in ids}
            missing = sorted(set(keys.tolist()) - held)
            raise KeyError(f"no vector for chunk ids {missing[:5]}") from None

    def save(self, directory: Path) -> list[str]:
        faiss = _faiss()
        # Through Python's own file, not FAISS's: a failed write or close then
        # raises OSError with its errno (FAISS reports a failed write as a
        # RuntimeError that only quotes strerror, and a failed close not at
        # all, leaving a truncated file behind a call that returned). The
        # bytes are the same; 154 MB take 0.14 s instead of 0.08 s.
        with (directory / FILE_NAME).open("wb") as handle:
            faiss.write_index(self._index, faiss.PyCallbackIOWriter(handle.write))
        return [FILE_NAME]

    @classmethod
    def load(
        cls,
        directory: Path,
        dimension: int,
        chunks: Mapping[int, Chunk],
        mmap: bool = True,
        hnsw_threshold: int = HNSW_THRESHOLD,
    ) -> FaissDenseStore:
        """The store saved in `directory`, of the type it was saved as, mapped unless `mmap=False`.

        `chunks` are the chunks it holds, by id; they are read only when one
        of their sources is removed.

        The searching parameter efSearch is this version's (`HnswParams`), not
        the file's: it costs nothing to change and is not part of the graph.
        """
        faiss = _faiss()
        flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
        index = faiss.read_index(str(directory / FILE_NAME), flags)
        _check_loaded(index, dimension, chunks)
        store = cls(dimension, index, hnsw_threshold=hnsw_threshold, hnsw=_hnsw_of(index))
        store.set_ef_search(HnswParams().ef_search)
        store._mapped = mmap
        store._untracked = chunks
        return store

    @classmethod
    def open(cls, directory: Path, dimension: int, chunks: Mapping[int, Chunk]) -> FaissDenseStore:
        """`load` with its defaults: the file mapped, the default threshold."""
        return cls.load(directory, dimension, chunks)

    def set_ef_search(self, ef_search: int) -> None:
        """Search a graph with ef_search candidates (recall against latency); no rebuild."""
        self.hnsw = replace(self.hnsw, ef_search=ef_search)
        if not self.exact:
            _inner(self._index).hnsw.efSearch = ef_search

    @property
    def exact(self) -> bool:
        """True while the store searches exhaustively (a flat index)."""
        return _hnsw_of(self._index) is None

    def engine_description(self) -> dict[str, Any]:
        """What every segment of an index shares: engine, metric, when and how a graph is built."""
        return {
            "engine": "faiss",
            "metric": "inner_product",
            "hnsw_threshold": self.hnsw_threshold,
            "hnsw": {
                "M": self.hnsw.m,
                "ef_construction": self.hnsw.ef_construction,
                "ef_search": self.hnsw.ef_search,
                "storage": self.hnsw.storage,
            },
        }

    def describe(self) -> dict[str, Any]:
        """Engine, index type and parameters, for the manifest."""
        out: dict[str, Any] = {
            "engine": "faiss",
            "type": FLAT if self.exact else self.hnsw.type,
            "metric": "inner_product",
            "exact": self.exact,
            "hnsw_threshold": self.hnsw_threshold,
        }
        if not self.exact:
            out["hnsw"] = {
                "M": self.hnsw.m,
                "ef_construction": self.hnsw.ef_construction,
                "ef_search": self.hnsw.ef_search,
                "storage": self.hnsw.storage,
            }
        return out

    def __len__(self) -> int:
        return int(self._index.ntotal)


def _check_loaded(index: Any, dimension: int, chunks: Mapping[int, Chunk]) -> None:
    """Raise ValueError unless the index is one this store writes, of these chunks.

    The id map is checked whole: a file this large is checked by size only
    at load, and a damaged id would make a search return a chunk the index
    does not hold, or, still in range, another chunk's id for a vector. It
    costs 6 ms at a million chunks (copying the map and comparing it).
    """
    faiss = _faiss()
    if not isinstance(index, faiss.IndexIDMap2):
        raise ValueError(f"{FILE_NAME} holds a {type(index).__name__}, not an IndexIDMap2")
    inner = _inner(index)
    if isinstance(inner, faiss.IndexHNSWSQ):
        quantizer = faiss.downcast_index(inner.storage).sq
        if quantizer.qtype != faiss.ScalarQuantizer.QT_fp16:
            raise ValueError(f"{FILE_NAME} holds an HNSW graph of quantised vectors, not fp16")
    elif not isinstance(inner, faiss.IndexFlatIP | faiss.IndexHNSWFlat):
        raise ValueError(f"{FILE_NAME} holds an index of type {type(inner).__name__}")
    if inner.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ValueError(f"{FILE_NAME} does not measure inner product")
    if index.d != dimension:
        raise ValueError(f"{FILE_NAME} holds {index.d}-dimensional vectors, not {dimension}")
    if index.ntotal != len(chunks):
        raise ValueError(f"{FILE_NAME} holds {index.ntotal} vectors for {len(chunks)} chunks")
    ids = faiss.vector_to_array(index.id_map)
    held = chunk_ids(chunks)
    # Saved in chunk order, so sorting is rarely needed.
    if not np.array_equal(ids, held) and not np.array_equal(np.sort(ids), np.sort(held)):
        raise ValueError(f"the ids of {FILE_NAME} do not match the chunk list")
