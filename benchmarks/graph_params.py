"""Benchmark: how the HNSW graph's parameters trade build time and query time for recall.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/graph_params.py \\
        --vectors VECTORS.npz --corpus CORPUS [--graphs 32:80,32:200] [--ef 128,256,512,1024]

`VECTORS.npz` holds the real model's vectors of a corpus's chunks, as
`benchmarks/precomputed.py CORPUS VECTORS.npz` writes them. Queries are
`--queries` 8-word runs of the corpus's text (seeded), embedded by the same
model (int8 ONNX), as `benchmarks/segments.py`'s overlap section draws them.

For each graph (`M:efConstruction`), esqa's own dense store
(`esqa.stores.faiss_dense.FaissDenseStore`, float16 vectors) is built twice
over the same vectors: in the corpus's order, and in a seeded random order,
as a segmented index and a full build of the same chunks hold them. For each
efSearch it reports, over the queries (one thread, 50 neighbours a query, as
hybrid search asks):

- recall@10 and recall@50 of each graph against exact search;
- `overlap10`: the share of the two graphs' top 10 that they agree on;
- the median query time and the build time (two threads).

Results go to `--out` (default `benchmarks/results/graph_params.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from esqa.stores.faiss_dense import FaissDenseStore, HnswParams
from esqa.types import Chunk

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "results" / "graph_params.json"
DEPTH = 50  # neighbours a query asks for: hybrid search's candidates


def query_texts(corpus: Path, count: int, seed: int) -> list[str]:
    """`count` runs of 8 words from random files of the corpus."""
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < count:
        words = files[rng.randrange(len(files))].read_text(encoding="utf-8").split()
        if len(words) >= 20:
            start = rng.randrange(len(words) - 8)
            texts.append(" ".join(words[start : start + 8]))
    return texts


def graph(
    vectors: np.ndarray, order: np.ndarray, m: int, ef_construction: int
) -> tuple[FaissDenseStore, float]:
    """esqa's dense store as a graph over `vectors` added in `order`; and its build time."""
    store = FaissDenseStore(
        vectors.shape[1], hnsw_threshold=0, hnsw=HnswParams(m=m, ef_construction=ef_construction)
    )
    chunks = [Chunk(int(i), f"{i}.txt", 1, 1, 1, "") for i in order.tolist()]
    faiss.omp_set_num_threads(2)  # a build's threads; each search sets its own one
    started = time.perf_counter()
    store.add(chunks, vectors[order])
    return store, time.perf_counter() - started


def search_all(store: FaissDenseStore, queries: np.ndarray, ef: int) -> tuple[np.ndarray, float]:
    """The DEPTH best ids of every query, and the median milliseconds a query."""
    store.set_ef_search(ef)
    ids, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        found = store.search(query, DEPTH)
        seconds.append(time.perf_counter() - started)
        ids.append([h.id for h in found])
    return np.asarray(ids), statistics.median(seconds) * 1000


def agreement(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Mean share of the top k that two rankings have in common."""
    return float(np.mean([len(set(x[:k]) & set(y[:k])) / k for x, y in zip(a, b, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vectors", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--graphs", default="32:80,32:200", help="M:efConstruction, ...")
    parser.add_argument("--ef", default="128,256,512,1024", help="efSearch values")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    from esqa.embed.onnx_runtime import OnnxEmbedder

    with np.load(args.vectors, allow_pickle=False) as data:
        vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
    texts = query_texts(args.corpus, args.queries, args.seed)
    queries = np.asarray(OnnxEmbedder(precision="int8").embed(texts), dtype=np.float32)
    exact = FaissDenseStore(vectors.shape[1], hnsw_threshold=len(vectors))
    exact.add([Chunk(i, f"{i}.txt", 1, 1, 1, "") for i in range(len(vectors))], vectors)
    truth, _ = search_all(exact, queries, 0)
    shuffled = np.random.default_rng(args.seed).permutation(len(vectors))
    rows: list[dict[str, Any]] = []
    load = [round(x, 2) for x in os.getloadavg()]
    for spec in args.graphs.split(","):
        m, ef_construction = (int(x) for x in spec.split(":"))
        first, build_s = graph(vectors, np.arange(len(vectors)), m, ef_construction)
        second, _ = graph(vectors, shuffled, m, ef_construction)
        for ef in (int(x) for x in args.ef.split(",")):
            a, ms = search_all(first, queries, ef)
            b, _ = search_all(second, queries, ef)
            row = {
                "M": m,
                "ef_construction": ef_construction,
                "build_s": round(build_s, 1),
                "ef_search": ef,
                "query_ms": round(ms, 3),
                "recall10": round(agreement(a, truth, 10), 4),
                "recall10_other_order": round(agreement(b, truth, 10), 4),
                "recall50": round(agreement(a, truth, DEPTH), 4),
                "overlap10": round(agreement(a, b, 10), 4),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    results = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "vectors": len(vectors),
        "queries": len(queries),
        "load_before": load,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
