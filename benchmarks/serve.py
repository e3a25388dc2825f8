"""Benchmark: how long `esqa serve` takes to answer, warm, on the seeds.

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/serve.py

Builds the index of `seeds/` as `esqa index build` does (int8 ONNX, in a
temporary folder), starts `esqa serve --port 0` on it in its own process,
asks every development question once to warm it (the first answer loads
the model's session and the composer), then asks them `--rounds` times
more, one request at a time, through `/api/ask` (JSON) and `/` (the ask
page, HTML with each citation's article). Server time is what the server
itself reports in each response's `Server-Timing` header: from the request
reaching the application to the response starting, routing, the question,
the answer and its encoding included; round trip adds the HTTP client and
the socket. As the baseline of the same run, this process loads the same
index (`esqa.load`) and times `qa.ask()` on the same questions, interleaved
with the requests: the difference is what serving costs. Every figure is a median (and a 95th percentile) over all
requests; the load average before and after is recorded, since other work
slows the machine. Target (issue 16): warm `/api/ask` median <= 50 ms.

The corpus page lists every article from the chunk table, read whole once
and then kept (`esqa.articles.Catalog.articles`); `--listing 100000` also
times that first listing on a synthetic chunk table of that many chunks
(ten per file, two articles per file), the cost paid by the first visit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DEV_QA = REPO.parent / "shared" / "eval" / "dev_qa.jsonl"
RESULTS = REPO / "benchmarks" / "results" / "serve.json"
# Used where the development set is not beside the checkout.
FALLBACK = [
    "what is ESPA's fourth pillar",
    "who is a director at the Institute of Geoeconomics?",
    "what did METI propose to add to the list of critical products?",
    "when was the Economic Security Promotion Act passed?",
]
TARGET_MS = 50.0
_SERVING = re.compile(r"esqa: serving .* at http://([^:/]+):(\d+)/")
_DURATION = re.compile(r"app;dur=([\d.]+)")


def questions() -> list[str]:
    if not DEV_QA.is_file():
        return FALLBACK
    lines = DEV_QA.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def build(index: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("ESQA_EMBEDDER", None)
    subprocess.run(
        [sys.executable, "-c", "from esqa.cli import main; main()", "index", "build"]
        + ["--corpus", str(SEEDS), "--index", str(index), "--precision", "int8"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start(index: Path, log: Path) -> tuple[subprocess.Popen[bytes], str, int]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("ESQA_EMBEDDER", None)
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from esqa.cli import main; main()", "serve", "--port", "0"]
            + ["--index", str(index), "--corpus", str(SEEDS)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = _SERVING.search(log.read_text())
        if found:
            return proc, found.group(1), int(found.group(2))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"esqa serve did not start:\n{log.read_text()}")


def ask(connection: http.client.HTTPConnection, path: str, question: str) -> tuple[float, float]:
    """(server ms, round-trip ms) of one request."""
    url = f"{path}?{urllib.parse.urlencode({'q': question})}"
    began = time.perf_counter()
    connection.request("GET", url)
    response = connection.getresponse()
    body = response.read()
    took = (time.perf_counter() - began) * 1000
    if response.status != 200:
        raise SystemExit(f"{url}: {response.status} {body[:200]!r}")
    found = _DURATION.search(response.getheader("server-timing") or "")
    if not found:
        raise SystemExit(f"{url}: no Server-Timing header")
    return float(found.group(1)), took


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "requests": len(ordered),
    }


def time_listing(chunks: int) -> dict[str, float]:
    """Seconds for the first `Catalog.articles()` over a synthetic table of `chunks` chunks."""
    from types import SimpleNamespace

    from esqa.articles import Catalog
    from esqa.index.chunk_table import ChunkTable, write_chunks
    from esqa.types import Chunk

    per_file = 10
    made = [
        Chunk(
            i,
            f"{i // per_file:07d}.txt",
            i % per_file + 1,
            2 * (i % per_file) + 3,
            2 * (i % per_file) + 3,
            f"Paragraph {i} of a synthetic article about undersea cables and rare earths.",
            article_title=f"Article {i // per_file}{'' if i % per_file < 5 else ' (second)'}",
            publisher="Synthetic Times",
            published="2025-05-05",
        )
        for i in range(chunks)
    ]
    with tempfile.TemporaryDirectory() as folder:
        write_chunks(Path(folder), made)
        records = {f"{n:07d}.txt": {"chunks": per_file} for n in range(chunks // per_file)}
        index: Any = SimpleNamespace(
            chunks=ChunkTable.open(Path(folder)), sources=SimpleNamespace(sources=records)
        )
        began = time.perf_counter()
        listed = Catalog(index, Path(folder)).articles()
        seconds = time.perf_counter() - began
    return {"chunks": chunks, "articles": len(listed), "first_listing_s": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over the questions")
    parser.add_argument(
        "--listing", type=int, default=0, help="also time the corpus listing at this many chunks"
    )
    args = parser.parse_args()
    asked = questions()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "idx"
        build(index)
        proc, host, port = start(index, Path(folder) / "stderr")
        import esqa

        qa = esqa.load(index, SEEDS, build_if_missing=False)
        try:
            connection = http.client.HTTPConnection(host, port, timeout=60)
            for q in asked:  # warm: the first answer loads what the rest reuse
                ask(connection, "/api/ask", q)
                ask(connection, "/", q)
                qa.ask(q)
            times: dict[str, dict[str, list[float]]] = {
                p: {"server": [], "round_trip": []} for p in ("/api/ask", "/")
            }
            library: list[float] = []
            for _ in range(args.rounds):
                for q in asked:
                    for path in times:  # interleaved: load from other work slows all alike
                        server, trip = ask(connection, path, q)
                        times[path]["server"].append(server)
                        times[path]["round_trip"].append(trip)
                    began = time.perf_counter()
                    qa.ask(q)
                    library.append((time.perf_counter() - began) * 1000)
            connection.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result: dict[str, Any] = {
        "questions": len(asked),
        "rounds": args.rounds,
        "target_api_ask_median_ms": TARGET_MS,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    for path, kinds in times.items():
        result[path] = {kind: summary(values) for kind, values in kinds.items()}
    result["qa.ask"] = summary(library)
    if args.listing:
        result["corpus_listing"] = time_listing(args.listing)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for path in times:
        s, r = result[path]["server"], result[path]["round_trip"]
        print(
            f"{path:<9} server {s['median_ms']:.1f} ms (p95 {s['p95_ms']:.1f}), "
            f"round trip {r['median_ms']:.1f} ms (p95 {r['p95_ms']:.1f}), {s['requests']} requests"
        )
    lib = result["qa.ask"]
    print(f"qa.ask()  in this process {lib['median_ms']:.1f} ms (p95 {lib['p95_ms']:.1f})")
    if args.listing:
        listing = result["corpus_listing"]
        print(
            f"corpus page, first listing of {listing['chunks']:,} chunks "
            f"({listing['articles']:,} articles): {listing['first_listing_s']:.2f} s"
        )
    print(
        f"target: /api/ask server median <= {TARGET_MS:.0f} ms; load {result['load_average_after']}"
    )


if __name__ == "__main__":
    main()
