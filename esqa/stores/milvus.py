"""Dense, lexical and hybrid search on a Milvus server (Standalone, Distributed, Zilliz Cloud).

One collection row per chunk: the chunk id and its provenance (source,
paragraph, line range, article title, date) as scalar fields, its vector
(inner product over normalised vectors), and its terms, which Milvus's BM25
function turns into a sparse vector. The terms are esqa's own (bm25s's
tokeniser, stop words and Snowball stemmer, the embedded lexical store's
`terms`), joined by spaces and split again by a plain analyzer on the
server, so that analyzers that differ between Milvus versions never change
what a chunk's terms are. A hybrid query is one round trip: a dense and a
BM25 request fused on the server by its RRF ranker with esqa's constant.

**Generations.** The index directory (chunk table, sources, acronyms) stays
local and is published atomically as with the embedded stores; the rows its
chunk ids point at must not change under a reader. Each row records the
generation it was born in. A build that reuses the previous index writes
in place: it keeps the rows of every source whose chunks are unchanged
(same ids, text and provenance), inserts the new rows of changed sources as
the next generation, and records which sources it changed. A reader of
generation g filters `esqa.stores.milvus_expr.visible_at(g, ...)`: rows born
up to g, less those that a change in g or g - 1 retired. So the rows a
half-done build inserted are invisible, and a reader of the previous
generation (the one `esqa.index.publish` keeps) still sees the rows it
expects. After publishing, the rows that no kept generation sees are
deleted by source. When most of the corpus changes (or on `--full`, or for
another server or collection), the build writes a new collection instead
and switches the alias (`COLLECTION` of the spec) to it once published;
the collection it replaced is kept for readers of the previous generation,
older ones of esqa's are dropped.

Inverse document frequencies for the composer come from esqa's own counts of
the same terms (`milvus-df.json`), global rather than per segment as
Milvus's BM25 statistics are, so answers are composed as with the
embedded stores.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from esqa.errors import CorpusError
from esqa.stores.base import ScoredId, chunk_ids
from esqa.stores.bm25_lexical import bm25s_tokenizer, tokenize
from esqa.stores.bm25_reader import QueryTokenizer, bm25_idf
from esqa.stores.faiss_dense import HnswParams
from esqa.stores.hybrid import RRF_K, FusedId
from esqa.stores.milvus_expr import MilvusSpec, one_of, parse_spec, quoted, visible_at
from esqa.stores.milvus_server import K1, B, Server, Tags, new_name, pymilvus
from esqa.types import Chunk

ENGINE = "milvus"
STATE_FILE = "milvus.json"
DF_FILE = "milvus-df.json"
# A build that would change more than this share of the rows, or this many
# sources, writes a new collection: the retired sources are named in every
# query's filter until the next build.
REWRITE_SHARE = 0.5
MAX_CHANGED_SOURCES = 200
EF_SEARCH = HnswParams().ef_search  # HNSW candidates while searching, as the embedded store's
INSERT_BATCH = 500
FETCH_BATCH = 1_000
OUTPUT = ["chunk"]


def _ids_digest(ids: np.ndarray) -> str:
    return hashlib.sha256(np.sort(ids.astype(np.int64)).tobytes()).hexdigest()


class MilvusStore:
    """The dense, lexical and hybrid store of one index, on a Milvus collection.

    Example: `store = MilvusStore.create(parse_spec("milvus://localhost:19530/news"), 384)`.
    """

    def __init__(
        self,
        spec: MilvusSpec,
        dimension: int,
        collection: str,
        generation: int,
        model: str = "",
        tokenizer: QueryTokenizer | None = None,
        server: Server | None = None,
        owner: str = "",
    ) -> None:
        self.spec, self.dimension, self.model = spec, dimension, model
        self.owner = owner  # the index this store's collections belong to (its path)
        self.collection = collection
        self.generation = generation
        self.changed: set[str] = set()  # sources this generation retired
        self.previous_changed: set[str] = set()  # ... and the one before
        self.tokenizer = tokenizer or bm25s_tokenizer()
        self.server = server or Server(spec)
        self._exists = False  # whether the collection is known to be on the server
        self._writing = True  # a new generation, not yet saved: rows may change
        self._count = 0
        self._chunks: Mapping[int, Chunk] = {}  # what a loaded store holds, by id
        self._live: dict[str, list[Chunk]] | None = {}  # by source; None until needed
        self._old: set[str] = set()  # sources with rows born before this generation
        self._new: set[str] = set()  # sources with rows born in it
        self._expected = 0  # rows about to be inserted, which choose a new collection's index
        self._df: Counter[str] | None = Counter()
        self._directory: Path | None = None  # where a loaded store's files are
        self._replaced: str | None = None  # the collection the alias named before a rewrite
        self._sync: dict[str, list[Chunk]] | None = None  # see `derive`

    # ---- making and opening -----------------------------------------------------------

    @classmethod
    def create(
        cls, spec: MilvusSpec, dimension: int, model: str = "", owner: str = ""
    ) -> MilvusStore:
        """An empty store in a new collection (made on first write), for vectors of `dimension`
        of `model`, for the index `owner`: the alias of another index or model is refused."""
        store = cls(spec, dimension, new_name(spec), 1, model, owner=owner)
        store.server.check_alias(store.tags, dimension)
        return store

    @classmethod
    def derive(
        cls, previous: MilvusStore, spec: MilvusSpec, dimension: int, model: str, owner: str
    ) -> MilvusStore:
        """The next generation of `previous`, in place when it is on the same collection.

        Its first `add` is given every chunk of the build: the rows of sources
        whose chunks are unchanged stay, the others are replaced (see the module
        docstring). A store of another server, collection or model starts afresh.
        """
        same = (previous.spec, previous.dimension, previous.model, previous.owner)
        if same != (spec, dimension, model, owner):
            return cls.create(spec, dimension, model, owner)
        store = cls(
            spec, dimension, previous.collection, previous.generation, model,
            previous.tokenizer, previous.server, owner,
        )  # fmt: skip
        store.changed, store.previous_changed = previous.changed, previous.previous_changed
        store._exists, store._writing = True, False
        store._count, store._chunks, store._directory = len(previous), {}, previous._directory
        store._live = {s: list(held) for s, held in previous._by_source().items()}
        store._old = set(store._live)
        store._df = previous._document_frequencies().copy()
        store._sync = {s: list(held) for s, held in store._live.items()}
        return store

    @classmethod
    def open(cls, directory: Path, dimension: int, chunks: Mapping[int, Chunk]) -> MilvusStore:
        """The store whose state `save` wrote into directory, holding these chunks.

        Raises ValueError when the state does not match them or the collection
        does not match the state, StoreUnavailableError when the server cannot be reached.
        """
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        spec = parse_spec(state["store"])
        where = f"{STATE_FILE} (collection {state['collection']} on {spec.uri})"
        if state["dimension"] != dimension:
            raise ValueError(f"{where} holds {state['dimension']}-d vectors, not {dimension}")
        ids = chunk_ids(chunks)
        if state["count"] != len(ids) or state["ids_sha256"] != _ids_digest(ids):
            raise ValueError(f"{where} holds {state['count']} chunks, not these {len(ids)}")
        store = cls(
            spec, dimension, state["collection"], int(state["generation"]), state["model"],
            QueryTokenizer.from_dict(state["tokenizer"]), Server(spec), state["owner"],
        )  # fmt: skip
        store.changed, store.previous_changed = set(state["changed"]), set(state["previous"])
        store._writing, store._count, store._chunks = False, len(ids), chunks
        store._live, store._df, store._directory = None, None, directory
        store.server.check_collection(store.collection, store.model, dimension)
        store._exists = True
        return store

    @property
    def tags(self) -> Tags:
        return Tags(self.model, self.spec.collection, self.owner)

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.server.call(what, method, *args, **kwargs)

    def _ensure_collection(self) -> None:
        if not self._exists:
            rows = max(self._count, self._expected)
            self.server.create_collection(self.collection, self.dimension, self.tags, rows)
            self._exists = True

    # ---- what is held -----------------------------------------------------------------

    def _by_source(self) -> dict[str, list[Chunk]]:
        """The chunks held, by source, grouped on first use after loading."""
        if self._live is None:
            live: dict[str, list[Chunk]] = defaultdict(list)
            for chunk in self._chunks.values():
                live[chunk.source].append(chunk)
            self._live, self._old = dict(live), set(live)
        return self._live

    def _document_frequencies(self) -> Counter[str]:
        if self._df is None:
            assert self._directory is not None
            data = json.loads((self._directory / DF_FILE).read_text(encoding="utf-8"))
            self._df = Counter(data["df"])
        return self._df

    def _filter(self) -> str:
        return visible_at(self.generation, self.changed, self.previous_changed)

    def __len__(self) -> int:
        return self._count

    # ---- changing ---------------------------------------------------------------------

    def _begin(self) -> None:
        """Make this store the next generation, before its first change."""
        if self._writing:
            return
        self._by_source()
        self._document_frequencies()
        self._writing = True
        self._retire_done()
        self.generation += 1
        self.previous_changed, self.changed = self.changed, set()
        self._old, self._new = set(self._by_source()), set()
        # Rows of a build that failed before publishing: no reader sees them.
        self._delete(f"born >= {self.generation}")

    def _delete(self, expression: str) -> None:
        if self._exists:
            self._call("delete rows", "delete", self.collection, filter=expression)

    def _retire_done(self) -> None:
        """Delete the rows that the generation before this one retired: no kept reader sees them."""
        if self.previous_changed:
            old = sorted(self.previous_changed)
            self._delete(f"born < {self.generation - 1} and {one_of('source', old)}")

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray | None = None) -> None:
        """Add chunks with their vectors; without vectors (a lexical store's `add`), the
        chunks this store already holds are skipped and the others get zero vectors."""
        if vectors is not None and len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if self._sync is not None:
            if vectors is None:
                raise ValueError("a store made from a previous one is first given vectors")
            return self._replace_all(chunks, vectors)
        if vectors is None:
            held = {c.id for group in self._by_source().values() for c in group}
            chunks = [c for c in chunks if c.id not in held]
            vectors = np.zeros((len(chunks), self.dimension), dtype=np.float32)
        if not len(chunks):
            return
        self._begin()
        self._insert(chunks, vectors)

    def _plan(self, chunks: Sequence[Chunk]) -> _Plan:
        """What giving the build's `chunks` to a store made by `derive` changes."""
        previous = self._sync or {}
        by_source: dict[str, list[int]] = defaultdict(list)
        for i, chunk in enumerate(chunks):
            by_source[chunk.source].append(i)
        changed = {
            s for s, rows in by_source.items() if previous.get(s) != [chunks[i] for i in rows]
        }
        todo = [i for s in sorted(changed) for i in by_source[s]]
        retired = (changed | (set(previous) - set(by_source))) & set(previous)
        rewrite = len(todo) > REWRITE_SHARE * len(chunks) or len(retired) > MAX_CHANGED_SOURCES
        kept = [] if rewrite else [i for s in set(by_source) - changed for i in by_source[s]]
        return _Plan(sorted(retired), todo, sorted(kept), rewrite)

    def kept(self, chunks: Sequence[Chunk]) -> list[int]:
        """The positions of the build's chunks whose rows this store keeps as they are:
        `add` needs no vectors for them (see `derive`)."""
        return self._plan(chunks).kept if self._sync is not None else []

    def _replace_all(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """The build's chunks: keep unchanged sources' rows, replace the others."""
        plan = self._plan(chunks)
        self._sync = None
        if plan.rewrite:
            self._rewrite(chunks, vectors)
            return
        self._begin()
        for source in plan.retired:
            self.remove_source(source)
        if plan.todo:
            self._insert([chunks[i] for i in plan.todo], vectors[plan.todo])

    def _rewrite(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write every chunk into a new collection, which `published` makes the alias's."""
        self._replaced = self.collection
        self.collection, self._exists, self._writing = new_name(self.spec), False, True
        self.generation += 1
        self.changed, self.previous_changed = set(), set()
        self._count, self._live, self._old, self._new, self._df = 0, {}, set(), set(), Counter()
        self._chunks = {}
        self._insert(chunks, vectors)

    def _insert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for source in {c.source for c in chunks}:
            try:
                quoted(source)  # a source no filter can name could never be removed
            except ValueError as exc:
                raise CorpusError(f"{exc}; rename the file") from None
        self._expected = len(chunks)
        self._ensure_collection()
        terms = tokenize([c.text for c in chunks], self.tokenizer)
        live, df = self._by_source(), self._document_frequencies()
        for start in range(0, len(chunks), INSERT_BATCH):
            rows = [
                _row(chunks[i], vectors[i], terms[i], self.generation)
                for i in range(start, min(start + INSERT_BATCH, len(chunks)))
            ]
            self._call(f"insert into {self.collection}", "insert", self.collection, rows)
        for chunk, chunk_terms in zip(chunks, terms, strict=True):
            live.setdefault(chunk.source, []).append(chunk)
            self._new.add(chunk.source)
            df.update(set(chunk_terms))
        self._count += len(chunks)

    def remove_source(self, source: str) -> int:
        held = self._by_source().get(source)
        if not held:
            return 0
        self._begin()
        if source in self._old:
            self.changed.add(source)  # its older rows stay for readers of earlier generations
            self._old.discard(source)
        if source in self._new:  # rows no reader has seen: gone at once
            self._delete(f"born == {self.generation} and source == {quoted(source)}")
            self._new.discard(source)
        df = self._document_frequencies()
        df.subtract(
            t for terms in tokenize([c.text for c in held], self.tokenizer) for t in set(terms)
        )
        df += Counter()  # drop the terms no chunk holds any more
        del self._by_source()[source]
        self._count -= len(held)
        return len(held)

    # ---- searching --------------------------------------------------------------------

    def _search(self, data: list[Any], field: str, k: int) -> list[dict[str, Any]]:
        params = {"ef": max(EF_SEARCH, k)} if field == "dense" else {}
        found = self._call(
            f"search {self.collection}", "search", self.collection, data=data, anns_field=field,
            limit=k, filter=self._filter(), output_fields=OUTPUT, search_params=params,
        )  # fmt: skip
        return list(found[0]) if found else []

    def search(self, query: Any, k: int) -> list[ScoredId]:
        """Dense search for a vector, BM25 search for a text (a store is both)."""
        if not self._count or k <= 0:
            return []
        if isinstance(query, str):
            terms = self.tokenizer.tokens(query)
            if not terms:
                return []
            # milvus-lite reports BM25 scores negated; Milvus, as they are (never negative).
            hits = self._search([" ".join(terms)], "sparse", k)
            return [ScoredId(int(h["entity"]["chunk"]), abs(float(h["distance"]))) for h in hits]
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        hits = self._search([vector.tolist()], "dense", k)
        return [ScoredId(int(h["entity"]["chunk"]), float(h["distance"])) for h in hits]

    def hybrid_search(self, query: str, vector: np.ndarray, k: int, depth: int) -> list[FusedId]:
        """The k best chunks by RRF of `depth` dense and BM25 candidates, in one round trip.

        The fused score is the server's; the dense score is the cosine of the
        returned vector, computed here; the BM25 score is not returned by Milvus.
        """
        if not self._count or k <= 0:
            return []
        module = pymilvus()
        query_vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        expression = self._filter()
        requests = [
            module.AnnSearchRequest(
                data=[query_vector.tolist()], anns_field="dense", limit=depth, expr=expression,
                param={"metric_type": "IP", "params": {"ef": max(EF_SEARCH, depth)}},
            )
        ]  # fmt: skip
        terms = self.tokenizer.tokens(query)
        if terms:
            requests.append(
                module.AnnSearchRequest(
                    data=[" ".join(terms)], anns_field="sparse", limit=depth, expr=expression,
                    param={"metric_type": "BM25"},
                )
            )  # fmt: skip
        found = self._call(
            f"search {self.collection}", "hybrid_search", self.collection, requests,
            module.RRFRanker(RRF_K), limit=k, output_fields=[*OUTPUT, "dense"],
        )  # fmt: skip
        hits = list(found[0]) if found else []
        return [
            FusedId(
                int(h["entity"]["chunk"]),
                float(h["distance"]),
                float(np.dot(np.asarray(h["entity"]["dense"], dtype=np.float32), query_vector)),
                None,
            )
            for h in hits
        ]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        wanted = [int(i) for i in ids]
        if not wanted:
            return np.zeros((0, self.dimension), dtype=np.float32)
        held = {c.id for group in self._by_source().values() for c in group}
        missing = sorted(set(wanted) - held)
        if missing:
            raise KeyError(f"no vector for chunk ids {missing[:5]}")
        found: dict[int, list[float]] = {}
        unique = sorted(set(wanted))
        for start in range(0, len(unique), FETCH_BATCH):
            batch = unique[start : start + FETCH_BATCH]
            rows = self._call(
                f"read vectors from {self.collection}", "query", self.collection,
                filter=f"chunk in {batch} and {self._filter()}", output_fields=["chunk", "dense"],
            )  # fmt: skip
            found.update((int(r["chunk"]), r["dense"]) for r in rows)
        if len(found) != len(unique):
            lost = sorted(set(unique) - set(found))
            raise ValueError(
                f"collection {self.collection} on {self.spec.uri} lacks the rows of chunks "
                f"{lost[:5]}"
            )
        return np.asarray([found[i] for i in wanted], dtype=np.float32)

    # ---- terms ------------------------------------------------------------------------

    def terms(self, text: str) -> list[str]:
        return self.tokenizer.tokens(text)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        df = self._document_frequencies()
        return {t: bm25_idf(self._count, df.get(t, 0)) for t in terms}

    # ---- saving -----------------------------------------------------------------------

    def save(self, directory: Path) -> list[str]:
        """Flush the rows and write this generation's state; returns the file names."""
        self._ensure_collection()
        self._call(f"flush {self.collection}", "flush", self.collection)
        ids = np.fromiter(
            (c.id for group in self._by_source().values() for c in group), dtype=np.int64
        )
        state = {
            "store": str(self.spec),
            "collection": self.collection,
            "generation": self.generation,
            "changed": sorted(self.changed),
            "previous": sorted(self.previous_changed),
            "model": self.model,
            "owner": self.owner,
            "dimension": self.dimension,
            "count": len(ids),
            "ids_sha256": _ids_digest(ids),
            "tokenizer": self.tokenizer.to_dict(),
        }
        (directory / STATE_FILE).write_text(json.dumps(state, indent=1, ensure_ascii=False))
        df = {"num_docs": self._count, "df": dict(sorted(self._document_frequencies().items()))}
        (directory / DF_FILE).write_text(json.dumps(df, ensure_ascii=False), encoding="utf-8")
        return [STATE_FILE, DF_FILE]

    def published(self) -> None:
        """After the index that names this generation is published: point the alias at
        its collection and delete what no kept generation reads."""
        before = self.server.point_alias(self.spec.collection, self.collection)
        self._retire_done()
        self.server.drop_others(self.tags, keep={self.collection, before, self._replaced})

    def describe(self) -> dict[str, Any]:
        return {
            "engine": ENGINE,
            "store": str(self.spec),
            "uri": self.spec.uri,
            "alias": self.spec.collection,
            "collection": self.collection,
            "generation": self.generation,
            "metric": "inner_product",
            "bm25": {"k1": K1, "b": B},
        }


class _Plan(NamedTuple):
    retired: list[str]  # sources whose rows a kept generation still reads, retired now
    todo: list[int]  # positions of the chunks to insert
    kept: list[int]  # positions of the chunks whose rows stay
    rewrite: bool  # too much changes: a new collection instead


def _row(chunk: Chunk, vector: np.ndarray, terms: Iterable[str], born: int) -> dict[str, Any]:
    return {
        "born": born,
        "chunk": chunk.id,
        "source": chunk.source,
        "paragraph": chunk.paragraph,
        "line_start": chunk.line_start,
        "line_end": chunk.line_end,
        "title": chunk.article_title or "",
        "published": chunk.published or "",
        "dense": np.asarray(vector, dtype=np.float32).tolist(),
        "terms": " ".join(terms),
    }
