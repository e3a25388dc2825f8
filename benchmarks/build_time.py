"""Benchmark: how long a build from scratch takes, against another checkout of esqa.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/build_time.py [--before DIR] [--also DIR] [--runs 2]

Each run builds the same corpus (COVID-QA's 98 papers by default) from scratch
with `esqa index build --full`, once with this checkout and once with each
other checkout given (`--before`, `--also`), interleaved so that other work on
the machine slows all alike; the result is the median wall time of each, the
ratio of this checkout's to `--before`'s, the index sizes and the machine's load. Issue 13 allows a build at most twice as
long as before it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import machine, timed_esqa, write_result

REPO = Path(__file__).resolve().parent.parent
COVID = REPO.parent / "shared" / "bench" / "covidqa" / "corpus"
OUT = Path(__file__).resolve().parent / "results" / "build_time.json"


def size(index: Path) -> int:
    """Bytes of the index's current generation."""
    return sum(p.stat().st_size for p in index.resolve().rglob("*") if p.is_file())


def run(
    corpus: Path,
    before: Path | None,
    runs: int,
    work: Path,
    others: dict[str, Path] | None = None,
) -> dict[str, Any]:
    load_before = os.getloadavg()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    checkouts = {"this checkout": REPO, **({"before": before} if before else {}), **(others or {})}
    seconds: dict[str, list[float]] = {name: [] for name in checkouts}
    sizes: dict[str, int] = {}
    for n in range(runs):
        for name, source in checkouts.items():
            index = work / f"{name.replace(' ', '-')}-{n}"
            args = ("index", "build", "--full", "--corpus", str(corpus), "--index", str(index))
            took, _ = timed_esqa(args, {**env, "PYTHONPATH": str(source)}, cwd=source)
            seconds[name].append(round(took, 2))
            sizes[name] = size(index)
            manifest = json.loads((index.resolve() / "manifest.json").read_text(encoding="utf-8"))
            print(f"{name}: {took:.1f} s, {manifest['counts']['chunks']:,} chunks", flush=True)
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    return {
        "corpus": str(corpus),
        "runs": seconds,
        "median_seconds": medians,
        "ratio": round(medians["this checkout"] / medians["before"], 3) if before else None,
        "index_bytes": sizes,
        "before": str(before) if before else None,
        "machine": machine(load_before),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout of esqa to time beside")
    parser.add_argument("--corpus", type=Path, default=COVID)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--also", type=Path, action="append", default=[], help="a further checkout to time"
    )
    args = parser.parse_args()
    for other in [args.before, *args.also]:
        if other is not None and not (other / "esqa" / "__init__.py").is_file():
            parser.error(f"{other}: no esqa package there")
    with tempfile.TemporaryDirectory(prefix="esqa-build-time-") as work:
        others = {str(p): p.resolve() for p in args.also}
        before = args.before.resolve() if args.before is not None else None
        result = run(args.corpus, before, args.runs, Path(work), others)
        write_result(args.out, result)


if __name__ == "__main__":
    main()
