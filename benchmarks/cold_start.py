"""Benchmark: how fast a question is answered, in a new process and in one process.

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/cold_start.py

In a new process each time, as a user runs it (the installed `esqa` script):
`esqa --help`, and `esqa ask "what is ESPA's fourth pillar"` on an index of
`seeds/` with the query encoder through ONNX (`ESQA_EMBEDDER=onnx`) and,
as the baseline of the same run, through sentence-transformers
(`ESQA_EMBEDDER=sentence-transformers`). The commands are interleaved, so
that a burst of load from other work slows every variant alike. In one
process: `qa.ask()` over the development questions, after a first call that
loads everything, for both backends.

Before timing, the index is built (in a temporary folder) and the ONNX export
is made once in the cache (`$ESQA_CACHE`, default `~/.cache/esqa`): a user
pays that once, not per question. Every figure is a median; the load average
of the machine before and after is recorded, since other work slows it.
Targets (issue 5): `esqa ask` <= 0.8 s, `esqa --help` <= 0.3 s, `qa.ask` <= 30 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DEV_QA = REPO.parent / "shared" / "eval" / "dev_qa.jsonl"
QUESTION = "what is ESPA's fourth pillar"
BACKENDS = ("onnx", "sentence-transformers")
TARGETS = {"esqa --help": 0.3, "esqa ask (onnx)": 0.8, "qa.ask (onnx)": 0.030}


def esqa_command() -> list[str]:
    """The installed `esqa` script beside this Python, as a user runs it."""
    script = Path(sys.executable).parent / "esqa"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from esqa.cli import main; main()"]


def timed(args: list[str], backend: str | None = None) -> tuple[float, str]:
    """Wall time and stdout of `esqa ARGS` in a new process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("ESQA_EMBEDDER", None)
    if backend:
        env["ESQA_EMBEDDER"] = backend
    started = time.perf_counter()
    done = subprocess.run(
        [*esqa_command(), *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"esqa {' '.join(args)} failed:\n{done.stderr}")
    return seconds, done.stdout


def dev_questions() -> list[str]:
    if not DEV_QA.is_file():
        return [QUESTION]
    with DEV_QA.open(encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def in_process(index: Path, backend: str, repeats: int) -> dict[str, Any]:
    """First `qa.ask` (loads the encoder) and the median of later ones, in this process."""
    from esqa import api
    from esqa.embed import SentenceTransformerEmbedder
    from esqa.onnx_embed import OnnxEmbedder

    embedder = OnnxEmbedder() if backend == "onnx" else SentenceTransformerEmbedder()
    started = time.perf_counter()
    qa = api.load(index, SEEDS, embedder=embedder, build_if_missing=False)
    qa.ask(QUESTION)
    first = time.perf_counter() - started
    questions = dev_questions()
    times = []
    for n in range(repeats):
        question = questions[n % len(questions)]
        started = time.perf_counter()
        qa.ask(question)
        times.append(time.perf_counter() - started)
    return {
        "first_seconds": round(first, 3),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))] * 1000, 1),
        "calls": len(times),
    }


def prepare(index: Path) -> dict[str, Any]:
    """Make the ONNX export if the cache lacks it, and build the seeds index (not timed)."""
    from esqa import api
    from esqa.embed import bundled_model_path
    from esqa.onnx_export import cache_root, cached_export, ensure_export

    model = bundled_model_path()
    started = time.perf_counter()
    cached = cached_export(model) is not None
    export = ensure_export(model)
    export_seconds = None if cached else round(time.perf_counter() - started, 1)
    api.build(SEEDS, index)
    return {
        "cache": str(cache_root()),
        "onnx_sha256": export.sha256,
        "export_seconds": export_seconds,  # None: the export was already cached
    }


def run(index: Path, runs: int, repeats: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    setup = prepare(index)
    commands: dict[str, tuple[list[str], str | None]] = {
        "esqa --help": (["--help"], None),
        **{
            f"esqa ask ({backend})": (["ask", QUESTION, "--index", str(index)], backend)
            for backend in BACKENDS
        },
    }
    answers = {name: timed(args, backend)[1] for name, (args, backend) in commands.items()}
    if answers["esqa ask (onnx)"] != answers["esqa ask (sentence-transformers)"]:
        raise SystemExit("the two backends answered differently:\n" + json.dumps(answers))
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for n in range(runs):  # the warm-up above is not counted
        for name, (args, backend) in commands.items():
            samples[name].append(timed(args, backend)[0])
        print(
            f"  run {n + 1}/{runs}: "
            + ", ".join(f"{name} {s[-1]:.2f} s" for name, s in samples.items()),
            flush=True,
        )
    medians = {name: round(statistics.median(s), 3) for name, s in samples.items()}
    library = {backend: in_process(index, backend, repeats) for backend in BACKENDS}
    import onnxruntime
    import torch

    return {
        "question": QUESTION,
        "runs": runs,
        "new_process_seconds": {
            name: {"median": medians[name], "runs": [round(x, 3) for x in s]}
            for name, s in samples.items()
        },
        "speedup_esqa_ask": round(
            medians["esqa ask (sentence-transformers)"] / medians["esqa ask (onnx)"], 1
        ),
        "qa_ask": library,
        "targets": TARGETS,
        "met": {
            "esqa --help": medians["esqa --help"] <= TARGETS["esqa --help"],
            "esqa ask (onnx)": medians["esqa ask (onnx)"] <= TARGETS["esqa ask (onnx)"],
            "qa.ask (onnx)": library["onnx"]["median_ms"] / 1000 <= TARGETS["qa.ask (onnx)"],
        },
        "setup": setup,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "torch": torch.__version__,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="new-process runs per command")
    parser.add_argument("--repeats", type=int, default=60, help="in-process qa.ask calls")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results" / "cold_start.json",
        help="where to write the JSON results",
    )
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5 (every figure is a median)")
    with tempfile.TemporaryDirectory(prefix="esqa-bench-") as tmp:
        results = run(Path(tmp) / "index", args.runs, args.repeats)
    for name, row in results["new_process_seconds"].items():
        print(f"{name:<36} median {row['median']:.2f} s")
    for backend, row in results["qa_ask"].items():
        print(f"qa.ask ({backend}){'':<18} median {row['median_ms']:.1f} ms after the first call")
    print(f"esqa ask: {results['speedup_esqa_ask']}x faster through ONNX; met: {results['met']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
