"""Benchmark: embedding throughput for index builds, and whether int8 keeps retrieval.

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/build_throughput.py
    ... build_throughput.py --retrieval      # also build and grade dev + COVID-QA per variant

Throughput: the same real chunks, esqa's own chunks of the first 40 COVID-QA
papers and of seeds/ (a random sample, and a random sample of those of at
least 200 word pieces), are embedded by sentence-transformers (the baseline),
by onnxruntime fp32 and by onnxruntime int8 (dynamic, per channel), each with
1 and 2 threads, after a warm-up batch that loads the model, in interleaved
rounds so that load from other work slows every backend alike; chunks/s is
the median of the rounds, and each speed-up is over the faster
sentence-transformers setting of the same run. The cosine of each backend's
vectors to sentence-transformers' is recorded too.

Retrieval (`--retrieval`): the development set (seeds/) and COVID-QA are
indexed once per ONNX variant and graded (`esqa eval`'s metrics), each queried
by the variant that embedded its documents. int8 may embed documents only if
citation@3 stays within 0.01 of fp32 on both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"
DEV_QA = SHARED / "eval" / "dev_qa.jsonl"
COVID = SHARED / "bench" / "covidqa"
LONG_PIECES = 200


def real_chunks(papers: int) -> list[str]:
    """Every chunk, as esqa cuts them, of the first COVID-QA papers and seeds/."""
    from esqa.embed.base import BundledTokenizer
    from esqa.ingest.chunking import ChunkingParams
    from esqa.ingest.chunks import make_chunks
    from esqa.ingest.pages import load_corpus

    counter = BundledTokenizer()
    with tempfile.TemporaryDirectory(prefix="esqa-bench-") as tmp:
        corpus = Path(tmp)
        sources = sorted((COVID / "corpus").glob("*.txt"))[:papers] + sorted(SEEDS.glob("*.txt"))
        for path in sources:
            (corpus / path.name).write_bytes(path.read_bytes())
        documents = load_corpus(corpus).documents
        chunks, _ = make_chunks(
            documents, counter.count_tokens, ChunkingParams(max_tokens=counter.max_tokens)
        )
    return [c.text for c in chunks]


def chunk_sets(papers: int, sample: int, long: int, seed: int) -> dict[str, list[str]]:
    """A random sample of the chunks, and a random sample of the long ones (>= 200 pieces)."""
    from esqa.embed.base import BundledTokenizer

    texts = real_chunks(papers)
    pieces = BundledTokenizer().count_tokens(texts)
    rng = random.Random(seed)
    longest = [t for t, n in zip(texts, pieces, strict=True) if n >= LONG_PIECES]
    return {
        "sample": rng.sample(texts, min(sample, len(texts))),
        f"long (>= {LONG_PIECES} word pieces)": rng.sample(longest, min(long, len(longest))),
    }


class TorchThreads:
    """The sentence-transformers embedder with torch limited to `threads` while it embeds."""

    def __init__(self, embedder: Any, threads: int) -> None:
        self.embedder, self.threads = embedder, threads

    def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        torch.set_num_threads(self.threads)
        return self.embedder.embed(texts, batch_size=batch_size)


def embedders(threads: list[int]) -> dict[str, Any]:
    from esqa.embed.onnx_runtime import OnnxEmbedder
    from esqa.embed.sentence_transformers import SentenceTransformerEmbedder

    st = SentenceTransformerEmbedder()
    chosen: dict[str, Any] = {}
    for n in threads:
        chosen[f"sentence-transformers fp32, {n} thread(s)"] = TorchThreads(st, n)
    for n in threads:
        chosen[f"onnxruntime fp32, {n} thread(s)"] = OnnxEmbedder(batch_threads=n)
    for n in threads:
        chosen[f"onnxruntime int8, {n} thread(s)"] = OnnxEmbedder(batch_threads=n, precision="int8")
    return chosen


def throughput(texts: list[str], chosen: dict[str, Any], rounds: int, batch: int) -> dict[str, Any]:
    """chunks/s of every embedder on `texts` (median of interleaved rounds), and
    each one's speed-up over the fastest sentence-transformers setting."""
    from esqa.embed.base import BundledTokenizer

    pieces = BundledTokenizer().count_tokens(texts)
    print(
        f"{len(texts)} chunks, {statistics.median(pieces):.0f} word pieces median",
        flush=True,
    )
    vectors: dict[str, np.ndarray] = {}
    for embedder in chosen.values():  # warm-up: load the model, make the export
        embedder.embed(texts[:batch], batch_size=batch)
    seconds: dict[str, list[float]] = {name: [] for name in chosen}
    for n in range(rounds):
        for name, embedder in chosen.items():
            started = time.perf_counter()
            vectors[name] = embedder.embed(texts, batch_size=batch)
            seconds[name].append(time.perf_counter() - started)
        print(
            f"  round {n + 1}/{rounds}: "
            + ", ".join(f"{name} {len(texts) / s[-1]:.1f}/s" for name, s in seconds.items()),
            flush=True,
        )
    rates = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    baseline_name = max(
        (name for name in chosen if name.startswith("sentence-transformers")),
        key=lambda name: rates[name],
    )
    reference = vectors[baseline_name]
    rows: dict[str, Any] = {}
    for name in chosen:
        cosines = np.sum(vectors[name] * reference, axis=1)
        rows[name] = {
            "chunks_per_second": round(rates[name], 1),
            "speedup": round(rates[name] / rates[baseline_name], 2),
            "rounds_seconds": [round(s, 2) for s in seconds[name]],
            "cosine_to_sentence_transformers": {
                "mean": round(float(cosines.mean()), 5),
                "min": round(float(cosines.min()), 5),
            },
        }
    return {
        "chunks": len(texts),
        "word_pieces": {"median": statistics.median(pieces), "max": max(pieces)},
        "baseline": baseline_name,
        "backends": rows,
    }


def grade(corpus: Path, qa_file: Path, precision: str, workdir: Path) -> dict[str, Any]:
    """Index `corpus` with the ONNX variant, answer `qa_file` with the same variant, grade."""
    from esqa import api
    from esqa.embed.onnx_runtime import OnnxEmbedder
    from esqa.evaluate import evaluate, read_questions

    embedder = OnnxEmbedder(precision=precision)
    index = workdir / f"{corpus.parent.name}-{precision}"
    started = time.perf_counter()
    api.build(corpus, index, embedder=embedder, full=True)
    build_seconds = time.perf_counter() - started
    qa = api.load(index, corpus, embedder=embedder, build_if_missing=False)
    report = evaluate(qa, read_questions(qa_file), corpus)
    return {
        "build_seconds": round(build_seconds, 1),
        "chunks": qa.index.manifest.counts.chunks,
        "answer_accuracy": report.answer_accuracy,
        "citation_at_1": report.citation_at_1,
        "citation_at_3": report.citation_at_3,
        "false_abstain_rate": report.false_abstain_rate,
    }


def retrieval(sets: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="esqa-bench-") as tmp:
        for name, (corpus, qa_file) in sets.items():
            results[name] = {}
            for precision in ("fp32", "int8"):
                print(f"  {name}: indexing and grading with {precision}...", flush=True)
                results[name][precision] = grade(corpus, qa_file, precision, Path(tmp))
                print(f"    {results[name][precision]}", flush=True)
            fp32, int8 = results[name]["fp32"], results[name]["int8"]
            results[name]["int8_citation_at_3_delta"] = round(
                int8["citation_at_3"] - fp32["citation_at_3"], 4
            )
    results["int8_holds"] = all(
        abs(r["int8_citation_at_3_delta"]) <= 0.01 or r["int8_citation_at_3_delta"] > 0
        for name, r in results.items()
        if name in sets
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=40, help="COVID-QA papers to chunk")
    parser.add_argument("--sample", type=int, default=256, help="chunks in the random sample")
    parser.add_argument("--long", type=int, default=128, help="chunks in the long sample")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median)")
    parser.add_argument("--batch", type=int, default=32, help="batch size")
    parser.add_argument("--threads", default="1,2", help="threads to compare (comma list)")
    parser.add_argument(
        "--retrieval", action="store_true", help="also index and grade dev and COVID-QA"
    )
    parser.add_argument("--no-covid", action="store_true", help="with --retrieval: dev set only")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results" / "build_throughput.json",
        help="where to write the JSON results",
    )
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3 (every figure is a median)")
    load_before = os.getloadavg()
    chosen = embedders([int(n) for n in args.threads.split(",")])
    results: dict[str, Any] = {"batch": args.batch, "rounds": args.rounds, "throughput": {}}
    for name, texts in chunk_sets(args.papers, args.sample, args.long, seed=5).items():
        print(f"== {name}", flush=True)
        results["throughput"][name] = throughput(texts, chosen, args.rounds, args.batch)
    if args.retrieval:
        sets = {"dev": (SEEDS, DEV_QA)}
        if not args.no_covid:
            sets["covidqa"] = (COVID / "corpus", COVID / "qa.jsonl")
        results["retrieval"] = retrieval(sets)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    results["date"] = time.strftime("%Y-%m-%d")
    for set_name, table in results["throughput"].items():
        print(f"{set_name} ({table['chunks']} chunks; baseline {table['baseline']})")
        for name, row in table["backends"].items():
            print(
                f"  {name:<40} {row['chunks_per_second']:6.1f} chunks/s  {row['speedup']:4.2f}x  "
                f"cosine to ST min {row['cosine_to_sentence_transformers']['min']}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
