"""Benchmark: what adding or removing one article costs, and what segments cost a query.

    HF_HUB_OFFLINE=1 nice .venv/bin/python benchmarks/segments.py \\
        --before /path/to/a/checkout/of/main [--sections news,synthetic,overlap]

Every `esqa` command runs in a new process, as a user runs it; results are
printed and written as JSON (`--out`, default `benchmarks/results/segments.json`)
with the load average before and after each section. The baseline is the
checkout given by `--before` (run with this interpreter and `PYTHONPATH`),
timed in the same run, interleaved with this one.

Sections:

- **news**: a corpus made by `benchmarks/incremental.py`'s documented, seeded
  generator scaled up (`--news-articles`, default 34,000 articles, about
  130,000 chunks: an HNSW index). Each checkout builds its index from scratch,
  then `esqa add` of one new article (the generator's next ones), three
  times, and removing one article (`rm`, then `esqa index build`), three
  times, alternating between the checkouts.
- **synthetic**: `--synthetic-files` files (default 100,000) of 10 paragraphs
  of 50 words drawn as `benchmarks/scale.py` draws them (a Zipf law over
  bm25s's stop words and 200,000 made-up words): about a million chunks. This
  checkout only (see the README for why the baseline is not run at this
  size): a build from scratch, three adds and three removals, then 100
  one-article adds with merging turned off, hybrid search latency on that
  index of 101 segments, `esqa index build --optimize`, and latency again, in
  new processes (as `benchmarks/scale.py` measures it: `load_index`, then
  `hybrid_search` with k = 16 over 200 queries after a warm-up).
- **overlap**: on the news corpus with real vectors (`--vectors`, made by
  `benchmarks/precomputed.py`), a sequence of adds, changes, renames and
  removals applied incrementally (HNSW base segment, exact small ones), then
  the top-10 hits of 300 queries compared with `esqa index build --full` of
  the same corpus (another graph) and with exact search over the same chunks.

The embedder is `benchmarks/precomputed.py`'s: the real ONNX int8 model,
whose vectors for the base corpus are computed once (or, for the timing
sections, pseudo-random unit vectors, `ESQA_BENCH_PSEUDO=1`, which cost
nothing to compute and take the same time to index and search). Only the
base builds use them: each timed `esqa add` embeds its new article with the
real model, loading it as `esqa add` does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import timed_esqa

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
DEFAULT_OUT = BENCH / "results" / "segments.json"
RUNS = 3
WARM_UP = 20
K = 16


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def esqa(
    src: Path | None, *args: str, pseudo: bool = False, vectors: Path | None = None
) -> tuple[float, str]:
    """Run `esqa ARGS` of the checkout `src` (None: this one) in a new process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESQA_")}
    # The checkout's own folder first, and as the working directory: `python -c`
    # puts the working directory before PYTHONPATH, so running from this
    # checkout would import its esqa for the baseline too.
    root = src or REPO
    paths = [str(BENCH), str(root)]
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(reversed(paths)),
        ESQA_EMBEDDER="precomputed:PrecomputedEmbedder",
    )
    if pseudo:
        env["ESQA_BENCH_PSEUDO"] = "1"
    if vectors:
        env["ESQA_BENCH_VECTORS"] = str(vectors)
    return timed_esqa(args, env, cwd=root)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


# ---------------------------------------------------------------- corpora


def news_corpus(root: Path, articles: int, seed: int) -> list[str]:
    """incremental.py's corpus of `articles` files; returns the next articles' texts."""
    sys.path.insert(0, str(BENCH))
    from incremental import generate

    if (root / "extra.json").is_file():
        return list(json.loads((root / "extra.json").read_text(encoding="utf-8")))
    extra = generate(root / "corpus", articles, seed)
    (root / "extra.json").write_text(json.dumps(extra), encoding="utf-8")
    return extra


def synthetic_corpus(root: Path, files: int, seed: int) -> list[str]:
    """`files` files of 10 paragraphs of 50 Zipf-drawn words (scale.py's vocabulary)."""
    sys.path.insert(0, str(BENCH))
    from scale import vocabulary

    corpus = root / "corpus"
    done = root / "extra.json"
    words = vocabulary(seed)
    weights = 1.0 / np.arange(1, len(words) + 1)
    rng = np.random.default_rng(seed)

    def article() -> str:
        drawn = rng.choice(len(words), size=(10, 50), p=weights / weights.sum())
        return "\n\n".join(" ".join(words[i] for i in row) + "." for row in drawn.tolist()) + "\n"

    if done.is_file():
        return list(json.loads(done.read_text(encoding="utf-8")))
    corpus.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        folder = corpus / f"{n // 1000:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"doc{n:06d}.txt").write_text(article(), encoding="utf-8")
    extra = [article() for _ in range(120)]
    done.write_text(json.dumps(extra), encoding="utf-8")
    return extra


def copy_corpus(source: Path, target: Path) -> Path:
    if not target.is_dir():
        shutil.copytree(source, target)
    return target


# ---------------------------------------------------------------- timing adds and removals


def build_from_scratch(src: Path | None, corpus: Path, index: Path) -> dict[str, Any]:
    shutil.rmtree(index.parent, ignore_errors=True)
    index.parent.mkdir(parents=True)
    seconds, out = esqa(
        src, "index", "build", "--full", "--corpus", str(corpus), "--index", str(index), pseudo=True
    )
    print(f"    {out.strip()}", flush=True)
    return {"seconds": round(seconds, 1), "output": out.strip()}


def add_and_remove(
    checkouts: dict[str, Path | None], work: Path, texts: list[str], label: str
) -> dict[str, Any]:
    """RUNS adds of one article and RUNS removals, alternating between the checkouts."""
    out: dict[str, Any] = {name: {"add": [], "remove": []} for name in checkouts}
    for run in range(RUNS):
        for name, src in checkouts.items():
            corpus, index = work / name / "corpus", work / name / "indexes" / "index"
            new = work / f"{label}-new-{run}.txt"
            new.write_text(texts[run], encoding="utf-8")
            seconds, stdout = esqa(
                src, "add", str(new), "--corpus", str(corpus), "--index", str(index)
            )
            out[name]["add"].append({"seconds": round(seconds, 2), "output": stdout.strip()})
            print(f"  {name} add #{run + 1}: {seconds:.1f} s", flush=True)
        for name, src in checkouts.items():
            corpus, index = work / name / "corpus", work / name / "indexes" / "index"
            (corpus / f"{label}-new-{run}.txt").unlink()
            seconds, stdout = esqa(
                src, "index", "build", "--corpus", str(corpus), "--index", str(index)
            )
            out[name]["remove"].append({"seconds": round(seconds, 2), "output": stdout.strip()})
            print(f"  {name} remove #{run + 1}: {seconds:.1f} s", flush=True)
    for name in checkouts:
        for kind in ("add", "remove"):
            out[name][f"{kind}_median_s"] = median([r["seconds"] for r in out[name][kind]])
    return out


def news_section(args: argparse.Namespace) -> dict[str, Any]:
    root = args.work / "news"
    extra = news_corpus(root, args.news_articles, args.seed)
    checkouts: dict[str, Path | None] = {"now": None}
    if args.before:
        checkouts = {"before": args.before, "now": None}
    result: dict[str, Any] = {"articles": args.news_articles, "load_before": load(), "builds": {}}
    for name, src in checkouts.items():
        corpus = copy_corpus(root / "corpus", args.work / "news-runs" / name / "corpus")
        print(f"== news: {name}: build from scratch", flush=True)
        result["builds"][name] = build_from_scratch(
            src, corpus, args.work / "news-runs" / name / "indexes" / "index"
        )
    result["runs"] = add_and_remove(checkouts, args.work / "news-runs", extra, "news")
    result["load_after"] = load()
    return result


# ---------------------------------------------------------------- search latency (new process)


def query_set(index: Path, count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Gaussian query vectors (as scale.py) and 8-word runs of the index's chunk texts."""
    from esqa.index.manifest import read_manifest
    from esqa.index.reader import load_index

    _, manifest = read_manifest(index)
    loaded = load_index(index, manifest.model.id, manifest.model.dimension)
    rng = random.Random(seed)
    ids = loaded.chunks.ids
    texts = []
    for _ in range(count):
        words = loaded.chunks[int(ids[rng.randrange(len(ids))])].text.split()
        start = rng.randrange(max(1, len(words) - 8))
        texts.append(" ".join(words[start : start + 8]))
    vectors = np.random.default_rng(seed).standard_normal((count, manifest.model.dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), texts


def search_graphs_with(ef_search: int | None) -> None:
    """Make every graph loaded from now on search with `ef_search` candidates
    instead of this version's efSearch (`HnswParams`); None changes nothing.

    A loaded store takes its efSearch in `set_ef_search`, and the parameters
    that leave deleted ids out copy it from there, so this is the one place."""
    if ef_search is None:
        return
    from esqa.stores.faiss_dense import FaissDenseStore

    own = FaissDenseStore.set_ef_search

    def searching_with(store: FaissDenseStore, _: int) -> None:
        own(store, ef_search)

    FaissDenseStore.set_ef_search = searching_with  # type: ignore[method-assign,assignment]


def worker(index: Path, queries: Path, ef_search: int | None = None) -> dict[str, Any]:
    """In a new process: load as `esqa ask` does, time hybrid search, return the hits."""
    search_graphs_with(ef_search)
    from esqa.index.manifest import read_manifest
    from esqa.index.reader import load_index
    from esqa.index.search import hybrid_search

    with np.load(queries.with_suffix(".npz"), allow_pickle=False) as data:
        vectors = data["vectors"]
    texts = json.loads(queries.with_suffix(".json").read_text(encoding="utf-8"))
    _, manifest = read_manifest(index)
    started = time.perf_counter()
    loaded = load_index(index, manifest.model.id, manifest.model.dimension)
    load_s = time.perf_counter() - started
    for i in range(WARM_UP):
        hybrid_search(loaded, texts[i], vectors[i], K)
    seconds, hits = [], []
    for i in range(len(texts)):
        started = time.perf_counter()
        found = hybrid_search(loaded, texts[i], vectors[i], K)
        seconds.append(time.perf_counter() - started)
        hits.append([[h.source, h.chunk.paragraph, h.chunk.line_start] for h in found[:10]])
    ms = np.asarray(seconds) * 1000
    return {
        "load_index_s": round(load_s, 3),
        "hybrid_p50_ms": round(float(np.percentile(ms, 50)), 3),
        "hybrid_p99_ms": round(float(np.percentile(ms, 99)), 3),
        "hits": hits,
    }


def in_new_process(*args: str) -> Any:
    """Run this script with `args` (a hidden worker option) in a new process; its JSON line."""
    done = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def latency(index: Path, queries: Path, runs: int, ef_search: int | None = None) -> dict[str, Any]:
    ef = ["--ef-search", str(ef_search)] if ef_search else []
    results = [
        in_new_process("--worker", str(index), "--queries", str(queries), *ef) for _ in range(runs)
    ]
    return {
        "runs": runs,
        "load_index_s": median([r["load_index_s"] for r in results]),
        "hybrid_p50_ms": median([r["hybrid_p50_ms"] for r in results]),
        "hybrid_p99_ms": median([r["hybrid_p99_ms"] for r in results]),
        "each": [{k: v for k, v in r.items() if k != "hits"} for r in results],
        "hits": results[0]["hits"],
    }


def overlap(a: list[list[Any]], b: list[list[Any]]) -> float:
    """Mean share of each query's top 10 that both lists hold."""
    shares = [
        len({tuple(h) for h in x} & {tuple(h) for h in y}) / max(len(y), 1)
        for x, y in zip(a, b, strict=True)
        if y
    ]
    return round(float(np.mean(shares)), 4) if shares else 1.0


def dense_agreement(a: Path, b: Path, queries: Path) -> dict[str, float]:
    """Where two indexes' dense top 10s differ: each against exact search over its
    own live vectors (its graph's recall), and the two exact searches against each
    other (what segmentation itself changes; 1.0 when it changes nothing)."""
    from esqa.index.manifest import read_manifest
    from esqa.index.reader import load_index

    with np.load(queries.with_suffix(".npz"), allow_pickle=False) as data:
        vectors = data["vectors"]
    loaded = []
    for path in (a, b):
        _, manifest = read_manifest(path)
        index = load_index(path, manifest.model.id, manifest.model.dimension)
        ids = np.asarray(index.chunks.ids, dtype=np.int64)
        stored = np.asarray(index.dense.vectors(ids.tolist()), dtype=np.float32)
        loaded.append((index, ids, stored))

    def key(index: Any, chunk_id: int) -> tuple[str, int, int]:
        chunk = index.chunks[chunk_id]
        return chunk.source, chunk.paragraph, chunk.line_start

    shares: dict[str, list[float]] = {"recall_a": [], "recall_b": [], "exact": [], "graphs": []}
    for vector in vectors:
        exact, found = [], []
        for index, ids, stored in loaded:
            top = ids[np.argsort(-(stored @ vector))[:10]]
            exact.append({key(index, int(i)) for i in top})
            found.append({key(index, h.id) for h in index.dense.search(vector, 10)})
        shares["recall_a"].append(len(found[0] & exact[0]) / 10)
        shares["recall_b"].append(len(found[1] & exact[1]) / 10)
        shares["exact"].append(len(exact[0] & exact[1]) / 10)
        shares["graphs"].append(len(found[0] & found[1]) / 10)
    return {
        "dense_recall_at_10_segmented": round(float(np.mean(shares["recall_a"])), 4),
        "dense_recall_at_10_full": round(float(np.mean(shares["recall_b"])), 4),
        "exact_top10_overlap_segmented_vs_full": round(float(np.mean(shares["exact"])), 4),
        "dense_top10_overlap_segmented_vs_full": round(float(np.mean(shares["graphs"])), 4),
    }


def segments_of(index: Path) -> int:
    from esqa.index.manifest import read_manifest

    return len(read_manifest(index)[1].segments)


def synthetic_section(args: argparse.Namespace) -> dict[str, Any]:
    root = args.work / "synthetic"
    print(f"== synthetic: corpus of {args.synthetic_files:,} files", flush=True)
    extra = synthetic_corpus(root, args.synthetic_files, args.seed)
    result: dict[str, Any] = {"files": args.synthetic_files, "load_before": load()}
    runs = args.work / "synthetic-runs"
    corpus = copy_corpus(root / "corpus", runs / "now" / "corpus")
    index = runs / "now" / "indexes" / "index"
    if not (index / "manifest.json").is_file() or args.rebuild:
        print("== synthetic: build from scratch", flush=True)
        result["build"] = build_from_scratch(None, corpus, index)
    result["runs"] = add_and_remove({"now": None}, runs, extra, "synthetic")
    # 100 one-article adds, merging off: the worst case the policy would prevent.
    print("== synthetic: 100 adds without a merge", flush=True)
    os.environ["ESQA_BENCH_PSEUDO"] = "1"
    sys.path.insert(0, str(BENCH))
    from precomputed import PrecomputedEmbedder

    from esqa.index.build import build_index

    embedder = PrecomputedEmbedder()
    started = time.perf_counter()
    for n in range(100):
        (corpus / f"added-{n:03d}.txt").write_text(extra[10 + n], encoding="utf-8")
        build_index(corpus, index, embedder, policy=None)
    result["hundred_adds_s"] = round(time.perf_counter() - started, 1)
    result["segments_after_adds"] = segments_of(index)
    queries = runs / "queries"
    vectors, texts = query_set(index, 200 + WARM_UP, args.seed)
    np.savez(queries.with_suffix(".npz"), vectors=vectors)
    queries.with_suffix(".json").write_text(json.dumps(texts), encoding="utf-8")
    print("== synthetic: latency, 101 segments", flush=True)
    result["unmerged"] = latency(index, queries, args.latency_runs)
    print("== synthetic: esqa index build --optimize", flush=True)
    seconds, out = esqa(
        None,
        "index",
        "build",
        "--optimize",
        "--corpus",
        str(corpus),
        "--index",
        str(index),
        pseudo=True,
    )
    result["optimize"] = {"seconds": round(seconds, 1), "output": out.strip()}
    result["segments_after_optimize"] = segments_of(index)
    print("== synthetic: latency, merged", flush=True)
    result["merged"] = latency(index, queries, args.latency_runs)
    result["p50_ratio_unmerged_to_merged"] = round(
        result["unmerged"]["hybrid_p50_ms"] / result["merged"]["hybrid_p50_ms"], 3
    )
    result["top10_overlap_unmerged_vs_merged"] = overlap(
        result["unmerged"]["hits"], result["merged"]["hits"]
    )
    for key in ("unmerged", "merged"):
        result[key].pop("hits")
    result["load_after"] = load()
    return result


# ---------------------------------------------------------------- HNSW overlap, real vectors


def overlap_section(args: argparse.Namespace) -> dict[str, Any]:
    if not args.vectors or not args.vectors.is_file():
        raise SystemExit("--vectors FILE (benchmarks/precomputed.py) is needed for this section")
    root = args.work / "news"
    extra = news_corpus(root, args.news_articles, args.seed)
    runs = args.work / "overlap-runs"
    corpus = runs / "corpus"
    index, full = runs / "index", runs / "full"
    result: dict[str, Any] = {"load_before": load()}

    def build(target: Path, *options: str) -> None:
        where = ("--corpus", str(corpus), "--index", str(target))
        esqa(None, "index", "build", *options, *where, vectors=args.vectors)

    queries = runs / "queries"
    built = all(p.exists() for p in (index, full, queries.with_suffix(".npz")))
    if args.reuse and built:
        print("== overlap: reusing the indexes and queries of the last run", flush=True)
        result.update(json.loads((runs / "built.json").read_text(encoding="utf-8")))
        return ef_sweep(args, index, full, queries, result)
    shutil.rmtree(runs, ignore_errors=True)
    copy_corpus(root / "corpus", corpus)
    build(index, "--full")
    rng = random.Random(args.seed)
    names = sorted(p.name for p in corpus.iterdir())
    operations = []
    for n in range(20):  # adds, changes, renames, removals, one build each
        kind = ["add", "change", "rename", "remove"][n % 4]
        # The generator's ten further articles: the five adds take the first
        # five, the five changes append one of the others to a file.
        if kind == "add":
            text = extra[(n // 4) % len(extra)]
            (corpus / f"zz-added-{n:02d}.txt").write_text(text, encoding="utf-8")
        elif kind == "change":
            path = corpus / rng.choice(names)
            appended = extra[(5 + n // 4) % len(extra)]
            path.write_text(path.read_text(encoding="utf-8") + "\n" + appended, encoding="utf-8")
        elif kind == "rename":
            name = names.pop(rng.randrange(len(names)))
            (corpus / name).rename(corpus / f"renamed-{name}")
        else:
            (corpus / names.pop(rng.randrange(len(names)))).unlink()
        operations.append(kind)
        build(index)
    result["operations"] = operations
    result["segments"] = segments_of(index)
    build(full, "--full")
    (runs / "built.json").write_text(json.dumps(result), encoding="utf-8")
    # Queries: 300 sentences' worth of words from the corpus, embedded by the real model.
    sys.path.insert(0, str(BENCH))
    from precomputed import PrecomputedEmbedder

    _, texts = query_set(index, 300 + WARM_UP, args.seed + 1)
    vectors = PrecomputedEmbedder().embed(texts)
    np.savez(queries.with_suffix(".npz"), vectors=vectors)
    queries.with_suffix(".json").write_text(json.dumps(texts), encoding="utf-8")
    segmented = latency(index, queries, 1)
    merged = latency(full, queries, 1)
    result["top10_overlap_segmented_vs_full"] = overlap(segmented["hits"], merged["hits"])
    result["dense_agreement"] = dense_agreement(index, full, queries)
    result["segmented"] = {k: v for k, v in segmented.items() if k != "hits"}
    result["full"] = {k: v for k, v in merged.items() if k != "hits"}
    result["load_after"] = load()
    return ef_sweep(args, index, full, queries, result)


def ef_sweep(
    args: argparse.Namespace, index: Path, full: Path, queries: Path, result: dict[str, Any]
) -> dict[str, Any]:
    """The overlap and recall again with each efSearch of `--ef-sweep` (graphs unchanged)."""
    sweep = []
    for ef in [int(x) for x in args.ef_sweep.split(",") if x]:
        segmented = latency(index, queries, 1, ef)
        merged = latency(full, queries, 1, ef)
        agreement = in_new_process(
            "--agreement", str(index), str(full), "--queries", str(queries), "--ef-search", str(ef)
        )
        row = {
            "ef_search": ef,
            "top10_overlap_segmented_vs_full": overlap(segmented["hits"], merged["hits"]),
            "hybrid_p50_ms_segmented": segmented["hybrid_p50_ms"],
            "hybrid_p50_ms_full": merged["hybrid_p50_ms"],
            **agreement,
        }
        print(f"    {row}", flush=True)
        sweep.append(row)
    result["ef_sweep"] = sweep
    result["load_after_sweep"] = load()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sections", default="news,synthetic", help="news, synthetic, overlap")
    parser.add_argument("--before", type=Path, help="a checkout of the baseline (main)")
    parser.add_argument("--news-articles", type=int, default=34_000)
    parser.add_argument("--synthetic-files", type=int, default=100_000)
    parser.add_argument("--vectors", type=Path, help="benchmarks/precomputed.py's vectors")
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("/tmp/esqa-bench-segments"))
    parser.add_argument("--rebuild", action="store_true", help="build the synthetic index again")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--ef-sweep", default="128,256,384,512", help="overlap: efSearch values to compare"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="overlap: the last run's indexes, only the sweep"
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--agreement", type=Path, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ef-search", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.queries, args.ef_search)))
        return
    if args.agreement:
        search_graphs_with(args.ef_search)
        segmented, full = args.agreement
        print(json.dumps(dense_agreement(segmented, full, args.queries)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    results["command"] = "benchmarks/segments.py " + " ".join(sys.argv[1:])
    sections = {"news": news_section, "synthetic": synthetic_section, "overlap": overlap_section}
    for name in args.sections.split(","):
        results[name] = sections[name](args)
        results[name]["date"] = time.strftime("%Y-%m-%d %H:%M")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: v for k, v in results[name].items() if k != "runs"}, indent=1))
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
