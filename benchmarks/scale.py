"""Benchmark: esqa's dense, lexical and hybrid search at 100k and 1M chunks.

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/scale.py \\
        --sizes 100000,1000000

Results are printed and written as JSON (`--out`, default
`benchmarks/results/scale.json`). It measures esqa's own stores
(`esqa.stores.faiss_dense`, `esqa.stores.bm25_lexical`) and its own fusion
(`esqa.index.search.hybrid_search`: k = 16, 50 candidates from each search).

Per size (`--sizes`), with synthetic data:

1. Build: the dense store from normalised Gaussian vectors (384-d, as
   all-MiniLM-L6-v2) and the lexical store from synthetic text; build time
   (median of 3 builds up to 200k chunks, one build above), size on disk.
   Synthetic text: documents of 100 words drawn from a Zipf law (exponent 1)
   over bm25s's English stop words followed by 200,000 made-up words, so
   stop words make about a third of the text, as in English, and the
   commonest content words occur in a few percent of the documents; each is
   a paragraph of its own, 8 to a file. The last build's stores are then
   written into an index directory by esqa's own writers, as a build from
   scratch writes it (`esqa.index.generation.write_generation`, which
   writes the one segment with `esqa.index.segments.write_segment`): the
   segment (`segments/000001/`: chunk table, the stores, the chunks'
   sentence vectors, the paragraphs' near-duplicate table, acronym
   occurrences), then `deleted.npy`, the source records, acronyms and the
   manifest with checksums, so that `esqa.index.reader.load_index` loads
   it. The chunks have no sentence spans, so each has one sentence row (its
   whole text), whose vector is the chunk's own; the paragraph table holds
   each paragraph's real shingles, every paragraph kept (no two synthetic
   paragraphs are near-duplicates); there are no acronyms. The time of that
   write, and of computing the shingles, is recorded beside the build's.
2. Query, in a new process each run (`--runs`): resident memory (RSS, anonymous
   and file-backed, from /proc/self/status) after imports, after loading and
   after the queries; the time of `load_index` as `esqa ask` calls it, and
   of its parts, opened again from the segment's directory (chunk table,
   sentence vectors, each store, memory-mapped); p50/p99 latency of dense
   search (the segment's FAISS store alone with one and two OpenMP threads,
   and through the loaded index, which searches each segment with one),
   lexical search and hybrid search through the loaded index. Dense queries
   are new Gaussian vectors; lexical queries are 8 consecutive words of a
   random document (about 5 terms once stop words are dropped). Then reading
   the source records (what the staleness check at `esqa ask` adds) and a
   load with `verify="full"` (what `esqa index verify` costs: the sha256 of
   every file). The same figures are measured again with the FAISS file read
   into memory instead of mapped.

Gaussian vectors are fine for latency and memory but say nothing about
recall (they make every approximate index look bad), so recall@10 of the
HNSW index against exact search is measured on real embeddings: every window
of 1 to 4 consecutive sentences (esqa's own parser and splitter) of the 98
COVID-QA papers and the seed articles, embedded with all-MiniLM-L6-v2
(`SentenceTransformerEmbedder`), cached as .npy under `--cache`. 1,000
passages are held out of the base and used as queries together with the
1,380 COVID-QA questions. The sweep covers efConstruction and efSearch, and
the recall of the chosen parameters at growing base sizes.

Every latency, load and memory figure per size is the median over the runs
(new processes); each run's p50 and p99 are over `--queries` queries after a
warm-up. The exact-search and sweep latencies are medians of 3 passes in one
process. Recall comes from one build per efConstruction (FAISS builds with
several threads, so graphs differ slightly between builds). Figures depend
on what else the machine runs: the JSON records the load average before and
after.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
COVIDQA = REPO.parent / "shared" / "bench" / "covidqa"
SEEDS = REPO / "seeds"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "esqa-bench"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "scale.json"

DIMENSION = 384  # all-MiniLM-L6-v2
MODEL_ID = "synthetic/gaussian"  # the manifest's model: vectors are random, not embedded
K = 16  # passages the composer reads... as `esqa.index.search.hybrid_search` is asked for
RECALL_K = 10
WORDS_PER_DOC = 100
CONTENT_WORDS = 200_000
CHUNKS_PER_SOURCE = 8  # a news article makes a handful of chunks
QUERY_WORDS = 8
WARM_UP = 20  # queries run before timing, so first-touch page faults are not counted
REPEAT_BUILDS_UP_TO = 200_000  # larger sizes are built once (1M: several minutes)
REPEATS = 3  # passes over the queries when one process measures (threshold, recall sweep)

MAX_WINDOW = 4  # real passages are 1 to 4 consecutive sentences of one document
MIN_WORDS = 4  # shorter sentences ("See Fig. 2.") are not passages
HELD_OUT = 1_000  # real passages kept out of the base and used as queries
EF_CONSTRUCTION = (80, 200)
EF_SEARCH = (16, 32, 64, 128)
THRESHOLD_SIZES = (10_000, 25_000, 50_000, 100_000, 200_000)


# ---------------------------------------------------------------- measuring


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ms = np.asarray(seconds) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def latencies(run: Callable[[int], Any], count: int) -> list[float]:
    """Seconds per call of run(i) for i in range(count), after a warm-up."""
    for i in range(min(WARM_UP, count)):
        run(i)
    out = []
    for i in range(count):
        start = time.perf_counter()
        run(i)
        out.append(time.perf_counter() - start)
    return out


def repeated_percentiles(run: Callable[[int], Any], count: int, repeats: int) -> dict[str, float]:
    """Median over repeats of each pass's p50 and p99 (for measurements made in one process)."""
    passes = [percentiles(latencies(run, count)) for _ in range(repeats)]
    return {key: median([p[key] for p in passes]) for key in passes[0]}


def memory() -> dict[str, float]:
    """Resident memory of this process in MB: total, anonymous, file-backed, peak."""
    fields = {"VmRSS": "rss_mb", "RssAnon": "anon_mb", "RssFile": "file_mb", "VmHWM": "peak_mb"}
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            out[fields[name]] = round(int(value.split()[0]) / 1024, 1)
    return out


def disk_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def versions() -> dict[str, str]:
    import bm25s
    import faiss

    return {"faiss": faiss.__version__, "bm25s": bm25s.__version__, "numpy": np.__version__}


# ---------------------------------------------------------------- synthetic data


def unit_gaussian(n: int, seed: int, block: int = 100_000) -> np.ndarray:
    """n normalised Gaussian vectors, generated in blocks to bound the memory used."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, block):
        rows = rng.standard_normal((min(block, n - start), DIMENSION), dtype=np.float32)
        out[start : start + len(rows)] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def vocabulary(seed: int) -> list[str]:
    """bm25s's English stop words, then CONTENT_WORDS made-up words of 2 to 4 syllables."""
    from bm25s.stopwords import STOPWORDS_EN

    rng = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprtvz" for v in "aiou"]
    words: dict[str, None] = {}
    while len(words) < CONTENT_WORDS:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in STOPWORDS_EN:
            words.setdefault(word, None)
    return list(STOPWORDS_EN) + list(words)


def synthetic_texts(n: int, seed: int, block: int = 50_000) -> Iterator[str]:
    """n documents of WORDS_PER_DOC words, each drawn from a Zipf law over `vocabulary`."""
    words = vocabulary(seed)
    weights = 1.0 / np.arange(1, len(words) + 1)
    rng = np.random.default_rng(seed)
    for start in range(0, n, block):
        rows = min(block, n - start)
        drawn = rng.choice(len(words), size=(rows, WORDS_PER_DOC), p=weights / weights.sum())
        for row in drawn.tolist():
            yield " ".join([words[i] for i in row])


def make_chunks(texts: Sequence[str]) -> list[Any]:
    """One chunk per text; each file holds CHUNKS_PER_SOURCE, each a paragraph of its own."""
    from esqa.types import Chunk

    out = []
    for i, text in enumerate(texts):
        number = i % CHUNKS_PER_SOURCE + 1
        line = 2 * number - 1  # paragraphs one blank line apart
        out.append(Chunk(i, f"doc{i // CHUNKS_PER_SOURCE:07d}.txt", number, line, line, text))
    return out


def lexical_queries(texts: Sequence[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = rng.choice(texts).split()
        start = rng.randrange(len(words) - QUERY_WORDS)
        out.append(" ".join(words[start : start + QUERY_WORDS]))
    return out


# ---------------------------------------------------------------- building


def beside(directory: Path, name: str) -> Path:
    """A file next to the index directory: an index holds only the files it lists."""
    return directory.with_name(f"{directory.name}.{name}")


def build_stores(directory: Path, chunks: Sequence[Any], vectors: np.ndarray) -> dict[str, Any]:
    """Build both stores as a build does and save them into directory; seconds for each.

    The stores come back under "stores", filled, for a segment to be written with.
    """
    from esqa.stores.factory import create_stores

    stores = create_stores(DIMENSION)  # esqa's embedded engine: FAISS and bm25s
    _, dense_build = timed(lambda: stores.dense.add(chunks, vectors))
    _, dense_save = timed(lambda: stores.dense.save(directory))

    def lexical() -> None:
        stores.lexical.add(chunks)
        stores.lexical.save(directory)  # bm25s indexes lazily: saving is where postings are built

    _, lexical_build = timed(lexical)
    return {
        "dense_build_s": dense_build,
        "dense_save_s": dense_save,
        "lexical_build_and_save_s": lexical_build,
        "dense": stores.dense.describe(),
        "lexical": stores.lexical.describe(),
        "stores": stores,
    }


def make_documents(chunks: Sequence[Any]) -> list[Any]:
    """The files the chunks come from, as ingestion reads them: one article each,
    a paragraph per chunk, a made-up sha256 and stat (what the source records keep)."""
    from esqa.types import Article, Document, Paragraph

    by_source: dict[str, list[Any]] = {}
    for chunk in chunks:
        by_source.setdefault(chunk.source, []).append(chunk)
    documents = []
    for i, (source, mine) in enumerate(by_source.items()):
        paragraphs = tuple(
            Paragraph(source, c.paragraph, c.line_start, c.line_end, c.text, 1) for c in mine
        )
        article = Article(source, 1, None, None, None, False, 1, paragraphs[-1].line_end)
        documents.append(
            Document(
                source=source,
                sha256=hashlib.sha256(source.encode()).hexdigest(),
                encoding="utf-8",
                articles=(article,),
                paragraphs=paragraphs,
                file_stat=(
                    sum(len(p.text) + 2 for p in paragraphs),
                    1_700_000_000_000_000_000 + i,  # long before the build: not racy
                ),
            )
        )
    return documents


class SyntheticModel:
    """What writing a generation asks of the embedder: the synthetic vectors' id and
    dimension, and a description for the manifest. Nothing is embedded."""

    model_id = MODEL_ID
    dimension = DIMENSION
    max_tokens = 256

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Any = None) -> np.ndarray:
        raise NotImplementedError("the benchmark's vectors are drawn, not embedded")

    def describe(self) -> dict[str, Any]:
        return {"backend": "synthetic"}


def write_index(
    directory: Path, chunks: Sequence[Any], vectors: np.ndarray, stores: Any
) -> dict[str, float]:
    """Write the index into directory as a build from scratch writes it; seconds for each part.

    esqa's own writers: `write_segment` (through `write_generation`) writes the
    one segment (chunk table, sentence vectors, the filled stores, paragraphs,
    acronym occurrences), then `write_generation` the generation's files:
    `deleted.npy`, `sources.json` (a record per synthetic file, so its size is
    what a real corpus gives), `acronyms.json` and the manifest with checksums.
    """
    from esqa.index.generation import Plan, write_generation
    from esqa.index.segments import SegmentContents
    from esqa.index.sentence_vectors import SentenceVectors, quantise
    from esqa.ingest.acronyms import AcronymOccurrences
    from esqa.ingest.chunking import ChunkingParams
    from esqa.ingest.chunks import document_paragraphs
    from esqa.stores.factory import engine_descriptions

    started = time.monotonic()
    documents = make_documents(chunks)
    # The near-duplicate table with each paragraph's real shingles. Every
    # paragraph is kept: no two Zipf draws of 100 words are near-duplicates,
    # so the decision (`esqa.ingest.dedup.decide`) would drop none.
    paragraphs, paragraphs_s = timed(lambda: document_paragraphs(documents))
    # A chunk without sentence spans has one sentence row, its whole text,
    # whose vector is the chunk's own (`esqa.index.sentence_vectors`).
    codes, scales = quantise(vectors)
    sentences = SentenceVectors(codes, scales, np.arange(len(chunks) + 1, dtype=np.int64))
    per_source = Counter(chunk.source for chunk in chunks)  # in corpus order, as the documents
    contents = SegmentContents(
        sources=tuple(per_source),
        chunk_counts=tuple(per_source.values()),
        chunks=chunks,
        paragraphs=paragraphs,
        occurrences=AcronymOccurrences(),  # no acronym in made-up lower-case words
        stores=stores,
        sentences=sentences,
    )
    plan = Plan(
        documents=documents,
        paragraphs=paragraphs,
        kept=[],
        deleted=set(),
        sources={},
        skipped={},
        warnings=[],
    )
    dense, lexical = engine_descriptions(DIMENSION)

    def write() -> None:
        write_generation(
            directory, beside(directory, "corpus"), plan, contents, None, False, None,
            SyntheticModel(), ChunkingParams(max_tokens=SyntheticModel.max_tokens),
            dense, lexical, False, len(chunks), started,
        )  # fmt: skip

    _, write_s = timed(write)
    return {"paragraph_shingles_s": paragraphs_s, "write_s": write_s}


def build_size(n: int, directory: Path, seed: int, queries: int) -> dict[str, Any]:
    """Build the index of n synthetic chunks into directory, with the queries to ask it."""
    print(f"== {n:,} chunks: generating data", file=sys.stderr, flush=True)
    texts = list(synthetic_texts(n, seed))
    chunks = make_chunks(texts)
    vectors = unit_gaussian(n, seed)
    np.save(beside(directory, "queries.npy"), unit_gaussian(queries + WARM_UP, seed + 1))
    questions = lexical_queries(texts, queries + WARM_UP, seed + 2)
    (beside(directory, "queries.json")).write_text(json.dumps(questions), encoding="utf-8")
    del texts
    runs = 3 if n <= REPEAT_BUILDS_UP_TO else 1
    scratch = beside(directory, "stores")  # where the timed builds save their stores
    builds: list[dict[str, Any]] = []
    for run in range(runs):
        print(f"   build {run + 1}/{runs}", file=sys.stderr, flush=True)
        if builds:
            builds[-1].pop("stores")  # freed before the next build: one build's memory at a time
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        builds.append(build_stores(scratch, chunks, vectors))
    shutil.rmtree(scratch)
    print("   writing the index", file=sys.stderr, flush=True)
    written = write_index(directory, chunks, vectors, builds[-1].pop("stores"))
    segment = directory / "segments" / "000001"  # a build from scratch writes one segment
    seconds = ("dense_build_s", "dense_save_s", "lexical_build_and_save_s")
    return {
        "chunks": n,
        "build_runs": runs,
        "build": {key: round(median([b[key] for b in builds]), 2) for key in seconds},
        "build_each": [{key: round(b[key], 2) for key in seconds} for b in builds],
        "index_write": {key: round(value, 2) for key, value in written.items()},
        "dense": builds[-1]["dense"],
        "disk_mb": {
            "dense.faiss": disk_mb(segment / "dense.faiss"),
            "lexical": disk_mb(segment / "lexical"),
            "chunks.jsonl": disk_mb(segment / "chunks.jsonl"),
            "chunks.offsets.npy": disk_mb(segment / "chunks.offsets.npy"),
            "sentences": round(sum(disk_mb(p) for p in segment.glob("sentences.*.npy")), 1),
            "paragraphs": disk_mb(segment / "paragraphs"),
            "sources.json": disk_mb(directory / "sources.json"),
            "manifest.json": disk_mb(directory / "manifest.json"),
            "total": disk_mb(directory),
        },
    }


# ---------------------------------------------------------------- querying (new process)


def query_worker(directory: Path, count: int, mmap: bool) -> dict[str, Any]:
    """Load the index as esqa does and time queries; run in a fresh process.

    The queries and the memory figures use the one loaded index, as `esqa ask`
    holds it: a file mapped twice counts twice in RSS, so the loads of the
    parts are timed only after memory is measured, and each is dropped at once.
    """
    from esqa.index.chunk_table import ChunkTable
    from esqa.index.reader import load_index
    from esqa.index.search import hybrid_search
    from esqa.index.sentence_vectors import SentenceVectors
    from esqa.stores.bm25_lexical import Bm25LexicalStore
    from esqa.stores.faiss_dense import FaissDenseStore
    from esqa.stores.faiss_segments import DenseSegment, SegmentedDenseStore

    # esqa imports FAISS and bm25s on first use; their import is a cold-start
    # cost (benchmarks/cold_start.py), not part of loading an index.
    _, imports = timed(lambda: [importlib.import_module(m) for m in ("faiss", "bm25s")])
    out: dict[str, Any] = {"import_faiss_bm25s_s": imports, "memory_after_imports": memory()}
    # The whole load, as `esqa ask` does it: manifest, sizes and small files'
    # checksums, the segment's chunk table, sentence vectors and stores
    # (memory-mapped), deleted ids, acronyms.
    index, out["load_index_s"] = timed(lambda: load_index(directory, MODEL_ID, DIMENSION))
    (record,) = index.manifest.segments  # a build from scratch writes one segment
    segment = index.directory / record.directory
    if mmap:
        # The segment's own FAISS store, inside the index's dense search (which
        # has no public accessor for it): searched alone below, with one and
        # two threads, without mapping its file a second time.
        assert isinstance(index.dense, SegmentedDenseStore)
        store = index.dense._segments[0].store
    else:
        # The comparison: the FAISS file read into memory, searched as
        # `esqa.stores.factory.open_index` searches a segment. The mapped
        # store is dropped with the dense search that held it.
        store, out["dense_read_s"] = timed(
            lambda: FaissDenseStore.load(segment, DIMENSION, index.chunks, mmap=False)
        )
        dense_search = SegmentedDenseStore(
            [DenseSegment(store, record.base)],
            DIMENSION,
            dict(index.manifest.dense),
            index.chunks.order_key,
        )
        index = dataclasses.replace(index, dense=dense_search)
    out["memory_after_load"] = memory()

    vectors = np.load(beside(directory, "queries.npy"))
    texts = json.loads(beside(directory, "queries.json").read_text(encoding="utf-8"))
    dense, lexical = index.dense, index.lexical

    # The segment's store alone (`FaissDenseStore.search` uses `search_threads`
    # OpenMP threads), then through the index, as `hybrid_search` asks it (one
    # thread per segment).
    out["dense_1_thread"] = percentiles(latencies(lambda i: store.search(vectors[i], 50), count))
    store.search_threads = 2
    out["dense_2_threads"] = percentiles(latencies(lambda i: store.search(vectors[i], 50), count))
    store.search_threads = 1
    out["dense_index"] = percentiles(latencies(lambda i: dense.search(vectors[i], 50), count))
    out["lexical"] = percentiles(latencies(lambda i: lexical.search(texts[i], 50), count))
    # Through the loaded index, so every hit's chunk is read from the chunk table.
    out["hybrid"] = percentiles(
        latencies(lambda i: hybrid_search(index, texts[i], vectors[i], K), count)
    )
    out["memory_after_queries"] = memory()

    # The parts of the load, again, from the segment's directory (the files
    # are in the page cache, as they were for the load above: the build just
    # wrote them).
    chunks, out["chunk_table_open_s"] = timed(lambda: ChunkTable.open(segment))
    _, out["sentence_vectors_open_s"] = timed(lambda: SentenceVectors.open(segment, len(chunks)))
    _, out["dense_load_s"] = timed(lambda: FaissDenseStore.load(segment, DIMENSION, chunks))
    _, out["lexical_load_s"] = timed(lambda: Bm25LexicalStore.load(segment, chunks))
    # What comparing the corpus adds to `esqa ask` (besides a stat per file):
    # reading and checking the source records, one per synthetic file.
    _, out["read_sources_s"] = timed(lambda: index.sources)
    # What `esqa index verify` adds: the checksum of every file, however large.
    _, out["verify_full_s"] = timed(
        lambda: load_index(directory, MODEL_ID, DIMENSION, verify="full")
    )
    return out


def run_workers(directory: Path, count: int, runs: int, mmap: bool) -> list[dict[str, Any]]:
    results = []
    for run in range(runs):
        mode = "mapped" if mmap else "read"
        print(f"   query run {run + 1}/{runs} ({mode})", file=sys.stderr, flush=True)
        command = [sys.executable, __file__, "--worker", str(directory), "--queries", str(count)]
        done = subprocess.run(
            [*command, *([] if mmap else ["--no-mmap"])],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over runs of every figure (nested dicts of numbers)."""

    def merge(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {key: merge([v[key] for v in values]) for key in values[0]}
        return round(median(values), 3)

    return merge(runs)


def measure_size(n: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    directory = work / f"n{n}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    result = build_size(n, directory, args.seed, args.queries)
    for mmap, name in ((True, "mapped"), (False, "read")):
        runs = run_workers(directory, args.queries, args.runs, mmap)
        summary = summarise(runs)
        result[name] = {"runs": len(runs), "median": summary, "each": runs}
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    return result


# ---------------------------------------------------------------- exact-search threshold


def threshold_study(seed: int, count: int) -> list[dict[str, Any]]:
    """Exact (flat) search latency by size, one and two threads: where HNSW must take over."""
    import faiss

    from esqa.stores.faiss_dense import FaissDenseStore
    from esqa.types import Chunk

    out = []
    queries = unit_gaussian(count + WARM_UP, seed + 1)
    for n in THRESHOLD_SIZES:
        store = FaissDenseStore(DIMENSION, hnsw_threshold=n)
        store.add([Chunk(i, "s", 1, 1, 1, "") for i in range(n)], unit_gaussian(n, seed))
        assert store.exact
        row: dict[str, Any] = {"chunks": n}
        for threads in (1, 2):
            store.search_threads = threads
            row[f"flat_{threads}_thread"] = repeated_percentiles(
                lambda i, s=store: s.search(queries[i], 50),  # type: ignore[misc]
                count,
                REPEATS,
            )
        out.append(row)
        print(f"   flat {n:,}: {row}", file=sys.stderr, flush=True)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return out


# ---------------------------------------------------------------- recall on real vectors


def real_texts(roots: tuple[Path, ...]) -> list[str]:
    """Every window of 1 to MAX_WINDOW consecutive sentences of every document, once.

    Sentences come from esqa's own ingestion and splitter, so the passages are
    what esqa would index, only shorter; overlapping windows make near
    neighbours, which is what chunk windows overlapping by a sentence make too.
    """
    from esqa.ingest.chunking import split_sentences
    from esqa.ingest.pages import load_corpus

    seen: dict[str, None] = {}
    for root in roots:
        for doc in load_corpus(root).documents:
            sentences: list[str] = []
            for paragraph in doc.paragraphs:
                text = " ".join(paragraph.text.split())
                sentences.extend(text[s.start : s.end] for s in split_sentences(text))
            sentences = [s for s in sentences if len(s.split()) >= MIN_WORDS]
            for width in range(1, MAX_WINDOW + 1):
                for start in range(len(sentences) - width + 1):
                    seen.setdefault(" ".join(sentences[start : start + width]), None)
    return list(seen)


def questions(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return list(dict.fromkeys(json.loads(line)["question"] for line in f if line.strip()))


def embed_cached(texts: list[str], cache: Path, label: str) -> np.ndarray:
    """The texts' all-MiniLM-L6-v2 vectors, from cache when these exact texts were embedded."""
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = cache / f"{label}-{len(texts)}-{digest}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    from esqa.embed.sentence_transformers import SentenceTransformerEmbedder

    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % 5_000 < n:
            print(f"   embedded {done[0]:,}/{len(texts):,} {label}", file=sys.stderr, flush=True)

    vectors = SentenceTransformerEmbedder().embed(texts, batch_size=64, progress=progress)
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors, allow_pickle=False)
    partial.replace(path)
    return vectors


def real_vectors(cache: Path, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Base passages and queries (COVID-QA questions, then held-out passages), embedded."""
    texts = real_texts((COVIDQA / "corpus", SEEDS))
    vectors = embed_cached(texts, cache, "passages")
    held = set(random.Random(seed).sample(range(len(texts)), HELD_OUT))
    base = vectors[[i for i in range(len(texts)) if i not in held]]
    asked = embed_cached(questions(COVIDQA / "qa.jsonl"), cache, "questions")
    queries = np.vstack([asked, vectors[sorted(held)]])
    counts = {"base": len(base), "questions": len(asked), "held_out_passages": HELD_OUT}
    return base, queries, counts


def exact_neighbours(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    return index.search(queries, k)[1]


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true k neighbours that were found."""
    k = truth.shape[1]
    hits = [len(set(f[:k].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits) / k)


def graph_store(base: np.ndarray, ef_construction: int, ef_search: int) -> tuple[Any, float]:
    """esqa's dense store over base, forced to be a graph; and its build seconds."""
    from esqa.stores.faiss_dense import FaissDenseStore, HnswParams
    from esqa.types import Chunk

    params = HnswParams(ef_construction=ef_construction, ef_search=ef_search)
    store = FaissDenseStore(base.shape[1], hnsw_threshold=0, hnsw=params)
    chunks = [Chunk(i, "s", 1, 1, 1, "") for i in range(len(base))]
    _, seconds = timed(lambda: store.add(chunks, base))
    assert not store.exact
    return store, seconds


def store_results(store: Any, queries: np.ndarray, k: int) -> np.ndarray:
    return np.array([[h.id for h in store.search(q, k)] for q in queries])


def sweep_row(
    store: Any, ef: int, queries: np.ndarray, truth: np.ndarray, n_questions: int
) -> dict[str, Any]:
    store.set_ef_search(ef)
    found = store_results(store, queries, 50)
    timing = repeated_percentiles(lambda i: store.search(queries[i], 50), 500, REPEATS)
    return {
        "ef_search": ef,
        "recall@10": round(recall_at(found, truth[:, :RECALL_K]), 4),
        "recall@10_questions": round(
            recall_at(found[:n_questions], truth[:n_questions, :RECALL_K]), 4
        ),
        "recall@10_held_out_passages": round(
            recall_at(found[n_questions:], truth[n_questions:, :RECALL_K]), 4
        ),
        "recall@50": round(recall_at(found, truth), 4),
        **timing,
    }


def recall_study(cache: Path, seed: int) -> dict[str, Any]:
    from esqa.stores.faiss_dense import HnswParams

    base, queries, counts = real_vectors(cache, seed)
    truth = exact_neighbours(base, queries, 50)
    n_questions = counts["questions"]
    sweep = []
    for ef_construction in EF_CONSTRUCTION:
        store, seconds = graph_store(base, ef_construction, HnswParams().ef_search)
        for ef in EF_SEARCH:
            row = sweep_row(store, ef, queries, truth, n_questions)
            sweep.append({"ef_construction": ef_construction, "build_s": round(seconds, 1), **row})
            print(f"   recall {sweep[-1]}", file=sys.stderr, flush=True)
    default = HnswParams()
    by_size = []
    rng = np.random.default_rng(seed)
    for n in (len(base) // 4, len(base) // 2, len(base)):
        subset = base[np.sort(rng.choice(len(base), size=n, replace=False))]
        store, _ = graph_store(subset, default.ef_construction, default.ef_search)
        found = store_results(store, queries, RECALL_K)
        truth_n = exact_neighbours(subset, queries, RECALL_K)
        by_size.append({"base": n, "recall@10": round(recall_at(found, truth_n), 4)})
        print(f"   recall by size {by_size[-1]}", file=sys.stderr, flush=True)
    return {
        "vectors": counts,
        "model": "all-MiniLM-L6-v2 (sentence-transformers, fp32)",
        "default": {
            "M": default.m,
            "ef_construction": default.ef_construction,
            "ef_search": default.ef_search,
        },
        "sweep": sweep,
        "default_by_base_size": by_size,
    }


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated chunk counts")
    parser.add_argument("--runs", type=int, default=5, help="query processes per size")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per run")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="real vectors")
    parser.add_argument("--work", type=Path, default=None, help="where indexes are built")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--skip-threshold", action="store_true")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-mmap", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(query_worker(args.worker, args.queries, not args.no_mmap)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results: dict[str, Any] = {
        "command": "benchmarks/scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "versions": versions(),
        "k": K,
        "candidates": 50,
    }

    def save() -> None:  # after every section: a long run cut short keeps what it measured
        results["machine"]["load_average_after"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    # A skipped section keeps the figures of the run that last measured it,
    # with that run's command and machine, so one file holds every section.
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    kept = previous.get("kept_from_earlier_runs", {})
    for skipped, section in (
        (args.skip_threshold, "exact_search_by_size"),
        (args.skip_recall, "recall"),
    ):
        if skipped and section in previous:
            results[section] = previous[section]
            results.setdefault("kept_from_earlier_runs", {})[section] = kept.get(
                section, {"command": previous["command"], "machine": previous["machine"]}
            )
    if not args.skip_threshold:
        print("== exact search latency by size", file=sys.stderr, flush=True)
        results["exact_search_by_size"] = threshold_study(args.seed, args.queries)
        save()
    if not args.skip_recall:
        print("== recall on real vectors", file=sys.stderr, flush=True)
        results["recall"] = recall_study(args.cache, args.seed)
        save()
    work = args.work or Path(tempfile.mkdtemp(prefix="esqa-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results["sizes"] = []
    for n in sizes:
        results["sizes"].append(measure_size(n, work, args))
        save()
    if args.work is None and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
