"""Benchmark: how fast a question is answered, in a new process and in one process.

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/cold_start.py

In a new process each time, as a user runs it (the installed `esqa` script):
`esqa --help`, and `esqa ask "what is ESPA's fourth pillar"` on two indexes
of `seeds/`: one as esqa now builds it (int8 ONNX documents, so int8 ONNX
queries), and one with fp32 vectors (those of sentence-transformers), asked
through ONNX fp32 and, as the baseline of the same run, through
sentence-transformers (`ESQA_EMBEDDER=sentence-transformers`). The commands
are interleaved, so that a burst of load from other work slows every variant
alike. In one process: `qa.ask()` over the development questions, after a
first call that loads everything, for the same three.

Before timing, the indexes are built (in a temporary folder) and the ONNX
exports are made once in the cache (`$ESQA_CACHE`, default `~/.cache/esqa`):
a user pays that once, not per question. Likewise Python's bytecode: the
commands run without PYTHONDONTWRITEBYTECODE (a development shell may set it,
and then every run compiles esqa's modules again, 0.03 to 0.06 s), and an
untimed first run of each writes it. Every figure is a median; the load average
of the machine before and after is recorded, since other work slows it.

`--before DIR` also times another checkout of esqa (say the commit before a
change: `git archive COMMIT | tar -x -C DIR`) interleaved with this one, on
an index of `seeds/` that its own code builds: a speed-up measured across
two runs would mix in how busy the machine was in each.
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
DEFAULT = "onnx int8, new index"
FP32 = "onnx fp32, fp32 index"
BASELINE = "sentence-transformers, fp32 index"
EAGER = "eager"
BEFORE = "[--before]"
TARGETS = {"esqa --help": 0.3, "esqa ask": 0.8, "qa.ask": 0.030}


def esqa_command() -> list[str]:
    """The installed `esqa` script beside this Python, as a user runs it."""
    script = Path(sys.executable).parent / "esqa"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from esqa.cli import main; main()"]


def timed(
    args: list[str], backend: str | None = None, source: Path | None = None
) -> tuple[float, str]:
    """Wall time and stdout of `esqa ARGS` in a new process.

    `backend` is ESQA_EMBEDDER's value, or EAGER: the package imported whole
    before the command runs, as `esqa/__init__` did before its exports were lazy.
    `source` is another checkout whose esqa package runs instead (`--before`).
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("ESQA_EMBEDDER", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached (see the docstring)
    if source is not None:
        env["PYTHONPATH"] = str(source)  # ahead of the editable install's finder
    command = esqa_command()
    if backend == EAGER:
        command = [sys.executable, "-c", "import esqa.api; from esqa.cli import main; main()"]
    elif backend:
        env["ESQA_EMBEDDER"] = backend
    started = time.perf_counter()
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"esqa {' '.join(args)} failed:\n{done.stderr}")
    return seconds, done.stdout


def dev_questions() -> list[str]:
    if not DEV_QA.is_file():
        return [QUESTION]
    with DEV_QA.open(encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def in_process(index: Path, embedder: Any, repeats: int) -> dict[str, Any]:
    """First `qa.ask` (loads the encoder) and the median of later ones, in this process."""
    from esqa import api

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


def prepare(workdir: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """The ONNX exports (made if the cache lacks them) and the two seeds indexes (not timed)."""
    from esqa import api
    from esqa.embed.base import bundled_model_path
    from esqa.embed.onnx_export import cache_root, cached_export, ensure_export
    from esqa.embed.onnx_runtime import OnnxEmbedder

    model = bundled_model_path()
    started = time.perf_counter()
    cached = cached_export(model) is not None
    exports = {p: ensure_export(model, precision=p) for p in ("fp32", "int8")}
    export_seconds = None if cached else round(time.perf_counter() - started, 1)
    indexes = {"new": workdir / "new", "fp32": workdir / "fp32"}
    api.build(SEEDS, indexes["new"])  # as `esqa index build` makes it
    api.build(SEEDS, indexes["fp32"], embedder=OnnxEmbedder(precision="fp32"))
    new_model = json.loads((indexes["new"] / "manifest.json").read_text())["model"]["id"]
    return indexes, {
        "cache": str(cache_root()),
        "onnx_sha256": {p: e.sha256 for p, e in exports.items()},
        "export_seconds": export_seconds,  # None: the exports were already cached
        "new_index_model": new_model,
    }


def run(workdir: Path, runs: int, repeats: int, before: Path | None) -> dict[str, Any]:
    load_before = os.getloadavg()
    indexes, setup = prepare(workdir)
    ask = ["ask", QUESTION, "--index"]
    Command = tuple[list[str], str | None, Path | None]  # args, backend, source
    commands: dict[str, Command] = {
        "esqa --help": (["--help"], None, None),
        "esqa --help (package imported eagerly, as before)": (["--help"], EAGER, None),
        f"esqa ask ({DEFAULT})": ([*ask, str(indexes["new"])], None, None),
        f"esqa ask ({FP32})": ([*ask, str(indexes["fp32"])], "onnx", None),
        f"esqa ask ({BASELINE})": ([*ask, str(indexes["fp32"])], "sentence-transformers", None),
    }
    if before is not None:
        # Built by the earlier code itself: its index format may differ.
        build = ["index", "build", "--index", str(workdir / "before"), "--corpus", str(SEEDS)]
        timed(build, source=before)
        ask_before = [*ask, str(workdir / "before")]
        commands[f"esqa ask ({DEFAULT}) {BEFORE}"] = (ask_before, None, before)
    answers = {name: timed(*command)[1] for name, command in commands.items()}
    if answers[f"esqa ask ({FP32})"] != answers[f"esqa ask ({BASELINE})"]:
        raise SystemExit("ONNX fp32 and sentence-transformers answered differently")
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for n in range(runs):  # the warm-up above is not counted
        for name, command in commands.items():
            samples[name].append(timed(*command)[0])
        print(
            f"  run {n + 1}/{runs}: "
            + ", ".join(f"{name} {s[-1]:.2f} s" for name, s in samples.items()),
            flush=True,
        )
    medians = {name: round(statistics.median(s), 3) for name, s in samples.items()}
    from esqa.embed.onnx_runtime import OnnxEmbedder
    from esqa.embed.sentence_transformers import SentenceTransformerEmbedder

    library = {
        DEFAULT: in_process(indexes["new"], OnnxEmbedder(precision="int8"), repeats),
        FP32: in_process(indexes["fp32"], OnnxEmbedder(), repeats),
        BASELINE: in_process(indexes["fp32"], SentenceTransformerEmbedder(), repeats),
    }
    import onnxruntime
    import torch

    import esqa

    return {
        "question": QUESTION,
        "runs": runs,
        "new_process_seconds": {
            name: {"median": medians[name], "runs": [round(x, 3) for x in s]}
            for name, s in samples.items()
        },
        "speedup_esqa_ask": {
            name: round(medians[f"esqa ask ({BASELINE})"] / medians[f"esqa ask ({name})"], 1)
            for name in (DEFAULT, FP32)
        },
        "before": None
        if before is None
        else {
            "source": str(before),
            "esqa_ask_seconds_saved": round(
                medians[f"esqa ask ({DEFAULT}) {BEFORE}"] - medians[f"esqa ask ({DEFAULT})"], 3
            ),
        },
        "qa_ask": library,
        "targets": TARGETS,
        "met": {
            "esqa --help": medians["esqa --help"] <= TARGETS["esqa --help"],
            **{
                f"esqa ask ({name})": medians[f"esqa ask ({name})"] <= TARGETS["esqa ask"]
                for name in (DEFAULT, FP32)
            },
            **{
                f"qa.ask ({name})": library[name]["median_ms"] / 1000 <= TARGETS["qa.ask"]
                for name in (DEFAULT, FP32)
            },
        },
        "setup": setup,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "esqa_source": str(Path(esqa.__file__).parent),
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
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout of esqa whose `esqa ask` is timed interleaved with this one's",
    )
    args = parser.parse_args()
    if args.before is not None and not (args.before / "esqa" / "__init__.py").is_file():
        parser.error(f"--before {args.before}: no esqa package there")
    if args.runs < 5:
        parser.error("--runs must be at least 5 (every figure is a median)")
    with tempfile.TemporaryDirectory(prefix="esqa-bench-") as tmp:
        results = run(Path(tmp), args.runs, args.repeats, args.before)
    for name, row in results["new_process_seconds"].items():
        print(f"{name:<56} median {row['median']:.2f} s")
    for name, row in results["qa_ask"].items():
        print(f"qa.ask ({name}){'':<14} median {row['median_ms']:.1f} ms after the first call")
    print(f"esqa ask speed-up over sentence-transformers: {results['speedup_esqa_ask']}")
    if results["before"] is not None:
        print(
            f"esqa ask, seconds saved since --before: {results['before']['esqa_ask_seconds_saved']}"
        )
    print(f"targets met: {results['met']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
