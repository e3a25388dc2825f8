"""Benchmark: the corpus check every `esqa ask` makes, at 10,000 and 100,000 files.

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/staleness.py

Before answering, esqa compares the corpus with the index, to say when the
index is stale (`esqa.api._changes`, the function `esqa ask` calls). That
check is timed here on the same corpus and records, in new processes, for
this checkout and, with `--before DIR`, for another one (say a worktree of
the commit before a change), runs interleaved:

- untouched: nothing changed since the build. This checkout lists the
  corpus once, with a stat per file, and compares one digest of all names and
  stats with the manifest's; before the digest, the check also read
  `sources.json` (every file's sha256, size and mtime; checked against its
  own checksum and structure) and compared each file's stat with its record.
- touched: one file's mtime changed (same content), so the digest misses and
  the records are compared: the price of a corpus that changed.

The corpus is N files of one short line each, in 100 folders (only names and
stats matter: no way reads a file's content unless its stat changed); the
records are what a build writes for them. Each process makes one untimed
check (so the directory entries and inodes are cached for every checkout
alike, as on a machine that just built the index) and then `--repeats`
timed ones; every figure is the median over the processes of their median.
Results are printed and written as JSON (`--out`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import machine, write_result

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "results" / "staleness.json"
FOLDERS = 100


def make_corpus(root: Path, files: int) -> None:
    for i in range(files):
        folder = root / f"f{i % FOLDERS:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"doc{i:07d}.txt").write_text(f"Article {i}\n\nText of article {i}.\n")


def write_records(corpus: Path, index: Path) -> dict[str, Any]:
    """sources.json as a build writes it for this corpus, and the manifest's part of it."""
    from esqa.index.changes import recorded_digest
    from esqa.index.manifest import CORPUS_STATS, SOURCES, SourceRecords
    from esqa.ingest.files import walk_corpus

    sources = {}
    for source, entry, left_out in walk_corpus(corpus):
        if left_out is not None:
            continue
        path = Path(entry.path)
        data = path.read_bytes()
        stat = path.stat()
        sources[source] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "encoding": "utf-8",
            "articles": 1,
            "chunks": 1,
            "paragraphs": 1,
            "dropped": [],
            "segment": "000000",
        }
    records = SourceRecords(sources, {})
    content = json.dumps(records.to_dict(), ensure_ascii=False).encode("utf-8")
    (index / SOURCES).write_bytes(content)
    return {
        "files": {SOURCES: {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}},
        CORPUS_STATS: recorded_digest(records),
        # Written after the corpus, a tick after the last file, as a build that
        # settled every file it read (esqa.index.changes.settle_racy).
        "racy_files": 0,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": 0.0,
    }


def check(corpus: Path, index: Path, repeats: int) -> float:
    """Median seconds of the check `esqa ask` makes; run in a new process."""
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    run = _check_of(esqa_layout(), corpus, index, manifest)
    changes = run()
    assert changes is not None and not changes.stale  # a touch changes no content
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def esqa_layout() -> str:
    """ "stages" for esqa with subpackages (80f60ee on), "flat" for the checkouts before."""
    import importlib.util

    return "stages" if importlib.util.find_spec("esqa.index.changes") else "flat"


def _check_of(layout: str, corpus: Path, index: Path, manifest: dict[str, Any]) -> Any:
    """The corpus check as `esqa ask` makes it, in the code of this layout."""
    if layout == "stages":
        from types import SimpleNamespace

        from esqa.index.changes import compare_corpus
        from esqa.index.manifest import SOURCES, FileRecord, build_began_ns, read_sources

        record = manifest["files"][SOURCES]
        # read_sources reads only the record of sources.json and the build's times.
        typed: Any = SimpleNamespace(
            files={SOURCES: FileRecord(record["sha256"], record["bytes"])},
            created=manifest["created"],
            build_seconds=manifest["build_seconds"],
        )
        digest = manifest["corpus_stats"]
        return lambda: compare_corpus(
            corpus,
            digest,
            lambda: read_sources(index, index, typed),
            began_ns=build_began_ns(typed),
            racy_files=manifest["racy_files"],
        )
    import importlib
    import inspect

    # The flat layout's modules, by name: this checkout has none of them.
    api: Any = importlib.import_module("esqa.api")
    flat_read = importlib.import_module("esqa.manifest").read_sources

    def records() -> Any:
        return flat_read(index, index, manifest)

    # Before the digest, `_changes` took the records and the corpus only.
    if len(inspect.signature(api._changes).parameters) == 3:
        return lambda: api._changes(records, corpus, manifest)
    return lambda: api._changes(records, corpus)


def in_process(corpus: Path, index: Path, repeats: int, source: Path | None) -> float:
    command = [sys.executable, __file__, "--worker", str(corpus), str(index)]
    command += ["--repeats", str(repeats)]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)  # ahead of the editable install's finder
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return float(done.stdout.strip().splitlines()[-1])


def measure(files: int, runs: int, repeats: int, before: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="esqa-bench-") as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        corpus.mkdir()
        index.mkdir()
        make_corpus(corpus, files)
        (index / "manifest.json").write_text(json.dumps(write_records(corpus, index)))
        checkouts: dict[str, Path | None] = {"this checkout": None}
        if before is not None:
            checkouts["--before"] = before
        row: dict[str, Any] = {
            "files": files,
            "sources_json_mb": round((index / "sources.json").stat().st_size / 1e6, 1),
        }
        for touched in (False, True):
            if touched:
                first = next(corpus.rglob("*.txt"))
                stat = first.stat()
                os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            seconds: dict[str, list[float]] = {name: [] for name in checkouts}
            for _ in range(runs):
                for name, source in checkouts.items():
                    seconds[name].append(in_process(corpus, index, repeats, source))
            case = "touched" if touched else "untouched"
            row[case] = {name: round(statistics.median(s), 4) for name, s in seconds.items()}
        print(f"  {files:,} files: {row}", file=sys.stderr, flush=True)
        return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="10000,100000", help="comma-separated file counts")
    parser.add_argument("--runs", type=int, default=5, help="processes per checkout and case")
    parser.add_argument("--repeats", type=int, default=5, help="timed checks per process")
    parser.add_argument("--before", type=Path, default=None, help="another checkout of esqa")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        corpus, index = args.worker
        print(check(corpus, index, args.repeats))
        return 0
    if args.before is not None and not (args.before / "esqa" / "__init__.py").is_file():
        parser.error(f"--before {args.before}: no esqa package there")
    load_before = os.getloadavg()
    rows = [measure(int(n), args.runs, args.repeats, args.before) for n in args.files.split(",")]
    result = {
        "command": " ".join(["benchmarks/staleness.py", *(argv or sys.argv[1:])]),
        "machine": machine(load_before),
        "before": None if args.before is None else str(args.before),
        "runs": args.runs,
        "repeats": args.repeats,
        "sizes": rows,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
