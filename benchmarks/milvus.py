"""Benchmark: the Milvus store against a milvus-lite server, beside the embedded stores.

Run it with `make bench`, or:

    .venv/bin/python benchmarks/milvus.py --sizes 10000,100000

Results are printed and written as JSON (`--out`, default
`benchmarks/results/milvus.json`). Per size, with the synthetic chunks and
normalised Gaussian 384-d vectors of `benchmarks/scale.py`:

1. Insert: the embedded stores (`FaissDenseStore.add` + `Bm25LexicalStore`
   indexing) and the Milvus store (`MilvusStore.add`: esqa's analysis of
   every chunk, then batched inserts, and the flush of `save`), as rows per
   second of wall time.
2. Query latency, p50 and p99 over `--queries` queries after a warm-up, in
   this process: dense (a new Gaussian vector, 50 candidates), lexical (8
   consecutive words of a random chunk, 50 candidates) and hybrid (both, 16
   fused; embedded: `fuse` of the two searches; Milvus: one `hybrid_search`
   round trip with the RRF ranker).
3. Milvus only: the in-place change of an incremental build (one source's
   rows retired, new ones inserted, as `esqa add` of one article does), and
   reading back 1,000 stored vectors.

Queries are timed once the server is idle: after a flush, milvus-lite
compacts segments and builds their indexes in a background thread, and the
time until its CPU goes quiet is reported as `background_work_seconds`.

The server is milvus-lite's server process (`python -m milvus_lite server`) on
a free loopback port, started here and stopped at the end: a pure-Python test
server, not what a production Milvus measures (see the README).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from scale import (
    latencies,
    lexical_queries,
    machine,
    make_chunks,
    percentiles,
    synthetic_texts,
    unit_gaussian,
)

from esqa.stores.bm25_lexical import Bm25LexicalStore
from esqa.stores.faiss_dense import FaissDenseStore
from esqa.stores.hybrid import CANDIDATES, fuse
from esqa.stores.milvus import MilvusStore
from esqa.stores.milvus_expr import parse_spec
from esqa.types import Chunk

ROOT = Path(__file__).resolve().parent
DIMENSION = 384
K = 16


def latency(run: Callable[[int], Any], count: int) -> dict[str, float]:
    return percentiles(latencies(run, count))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, limit: float = 900.0) -> float:
    """Wait until the server has used less than 0.2 s of CPU in 3 s; returns the wait.

    milvus-lite compacts segments and builds their indexes in a background
    thread after a flush (minutes at 100,000 rows); queries timed meanwhile
    would measure that work.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_seconds(pid)
        time.sleep(3)
        if cpu_seconds(pid) - before < 0.2:
            break
    return round(time.monotonic() - started, 1)


@contextmanager
def milvus_lite_server(data: Path) -> Iterator[tuple[str, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (data.parent / "milvus-lite.log").open("wb")
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data)]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log
    )
    from pymilvus import MilvusClient

    from esqa.stores.milvus_server import GRPC_OPTIONS

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                MilvusClient(
                    uri=f"http://127.0.0.1:{port}", timeout=2, grpc_options=GRPC_OPTIONS
                ).close()
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"milvus-lite did not start; see {log.name}") from None
                time.sleep(0.3)
        yield f"milvus://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def embedded(chunks: Sequence[Chunk], vectors: np.ndarray, dense_q: np.ndarray, lexical_q: list[str], count: int) -> dict[str, Any]:  # fmt: skip
    started = time.perf_counter()
    dense, lexical = FaissDenseStore(DIMENSION), Bm25LexicalStore()
    dense.add(chunks, vectors)
    lexical.add(chunks)
    lexical.search("warm", 1)  # bm25s indexes on first use
    seconds = time.perf_counter() - started
    return {
        "insert_seconds": round(seconds, 2),
        "inserts_per_second": round(len(chunks) / seconds, 1),
        "dense": latency(lambda i: dense.search(dense_q[i], CANDIDATES), count),
        "lexical": latency(lambda i: lexical.search(lexical_q[i], CANDIDATES), count),
        "hybrid": latency(
            lambda i: fuse(
                dense.search(dense_q[i], CANDIDATES), lexical.search(lexical_q[i], CANDIDATES), K
            ),
            count,
        ),
    }


def milvus(server: tuple[str, int], chunks: Sequence[Chunk], vectors: np.ndarray, dense_q: np.ndarray, lexical_q: list[str], count: int, work: Path) -> dict[str, Any]:  # fmt: skip
    address, pid = server
    spec = parse_spec(f"{address}/bench_{len(chunks)}")
    started = time.perf_counter()
    store = MilvusStore.create(spec, DIMENSION, model="bench")
    store.add(chunks, vectors)
    store.save(work)
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {
        "insert_seconds": round(seconds, 2),
        "inserts_per_second": round(len(chunks) / seconds, 1),
        "background_work_seconds": wait_until_idle(pid),
        "dense": latency(lambda i: store.search(dense_q[i], CANDIDATES), count),
        "lexical": latency(lambda i: store.search(lexical_q[i], CANDIDATES), count),
        "hybrid": latency(
            lambda i: store.hybrid_search(lexical_q[i], dense_q[i], K, CANDIDATES), count
        ),
    }
    loaded = MilvusStore.open(work, DIMENSION, {c.id: c for c in chunks})
    source = chunks[len(chunks) // 2].source
    replaced = [c for c in chunks if c.source == source]
    started = time.perf_counter()
    loaded.remove_source(source)
    loaded.add(replaced, vectors[[c.id for c in replaced]])
    out["replace_one_source_seconds"] = round(time.perf_counter() - started, 2)
    wait_until_idle(pid)
    out["hybrid_after_change"] = latency(
        lambda i: loaded.hybrid_search(lexical_q[i], dense_q[i], K, CANDIDATES), count
    )
    ids = list(range(0, len(chunks), max(1, len(chunks) // 1000)))[:1000]
    started = time.perf_counter()
    loaded.vectors(ids)
    out["read_1000_vectors_seconds"] = round(time.perf_counter() - started, 2)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "milvus.json")
    args = parser.parse_args(argv)
    import milvus_lite
    import pymilvus

    results: dict[str, Any] = {
        "machine": machine(),
        "versions": {"pymilvus": pymilvus.__version__, "milvus_lite": milvus_lite.__version__},
        "load_before": os.getloadavg()[0],
        "sizes": {},
    }
    work = Path(tempfile.mkdtemp(prefix="esqa-milvus-bench-"))
    try:
        with milvus_lite_server(work / "data") as server:
            for n in (int(s) for s in args.sizes.split(",")):
                texts = list(synthetic_texts(n, args.seed))
                chunks = make_chunks(texts)
                vectors = unit_gaussian(n, args.seed)
                dense_q = unit_gaussian(args.queries + 5, args.seed + 1)
                lexical_q = lexical_queries(texts, args.queries + 5, args.seed + 2)
                size_work = work / str(n)
                size_work.mkdir()
                row = {
                    "embedded": embedded(chunks, vectors, dense_q, lexical_q, args.queries),
                    "milvus": milvus(
                        server, chunks, vectors, dense_q, lexical_q, args.queries, size_work
                    ),
                }
                results["sizes"][str(n)] = row
                print(json.dumps({n: row}, indent=1), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
