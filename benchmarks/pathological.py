"""Benchmark: ingesting one large file, with and without line breaks (issue 11).

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/pathological.py

A page scraped without line breaks is one paragraph of megabytes, and every
stage that was quadratic in a paragraph's length showed there: a corpus of
one 50 MB single-line file had not finished indexing after 25 minutes. This
times esqa's ingestion of one file of 1, 10 and 50 MB, in a new process per
measurement:

- parse: `esqa.ingest.pages.load_corpus` (decode, classify lines, paragraphs);
- chunk: `esqa.ingest.chunks.make_chunks` (near-duplicates, sentences by
  pysbd, windows of at most 256 word pieces counted by the model's own
  tokenizer): everything a build does before embedding;
- peak resident memory of the process (`ru_maxrss`).

Each is given in wall seconds and in CPU seconds of the process: on a shared
machine the wall time also counts the other work.

Embedding is left out: its cost is per chunk, whatever the file's shape
(`benchmarks/build_throughput.py`: about 50 chunks/s with int8 here).

The text is generated as `benchmarks/incremental.py` generates its corpus
(seeded): sentences of the seed articles with three in ten words of four or
more letters replaced from their vocabulary, so that no paragraph is a
near-duplicate of another. Two shapes of the same sentences:

- one line: every sentence on a single line, no line break at all;
- paragraphs: 2 to 4 sentences per paragraph, a blank line between them.

Then two files over the limits (`esqa.settings.MAX_FILE_BYTES`,
`MAX_FILE_LINES`), which must be skipped at once: a 70 MB file and a 10 MB
file of five million one-character lines.

With `--before DIR` (a checkout of another commit, e.g. `git archive main`),
the same files are ingested by that checkout too, interleaved, at the sizes
of `--before-sizes`. Results are printed and written as JSON (`--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, write_result  # noqa: E402
from incremental import _LONG_WORD, SUBSTITUTION, seed_pools  # noqa: E402

DEFAULT_OUT = HERE / "results" / "pathological.json"
SHAPES = ("one line", "paragraphs")


def write_text(path: Path, megabytes: float, shape: str, seed: int) -> None:
    """`megabytes` of generated news sentences in the given shape (see the module doc)."""
    sentences, vocabulary = seed_pools()
    rng = random.Random(seed)

    def vary(sentence: str) -> str:
        return _LONG_WORD.sub(
            lambda m: rng.choice(vocabulary) if rng.random() < SUBSTITUTION else m.group(),
            sentence,
        )

    target = int(megabytes * 1_000_000)
    size = 0
    with path.open("w", encoding="utf-8") as f:
        while size < target:
            paragraph = " ".join(vary(rng.choice(sentences)) for _ in range(rng.randint(2, 4)))
            piece = paragraph + (" " if shape == "one line" else "\n\n")
            f.write(piece)
            size += len(piece.encode("utf-8"))


def worker(corpus: Path) -> dict[str, Any]:
    """Ingest the corpus in this process; called in a new process per measurement."""
    import resource

    from esqa.embed.base import BundledTokenizer
    from esqa.ingest.chunking import ChunkingParams
    from esqa.ingest.chunks import make_chunks
    from esqa.ingest.pages import load_corpus

    count = BundledTokenizer().count_tokens
    started, cpu_started = time.perf_counter(), time.process_time()
    scan = load_corpus(corpus)
    parsed, cpu_parsed = time.perf_counter(), time.process_time()
    chunks, dropped = make_chunks(scan.documents, count, ChunkingParams())
    done, cpu_done = time.perf_counter(), time.process_time()
    return {
        "parse_s": round(parsed - started, 2),
        "chunk_s": round(done - parsed, 2),
        "total_s": round(done - started, 2),
        # CPU seconds: on a shared machine wall time also counts the other work.
        "parse_cpu_s": round(cpu_parsed - cpu_started, 2),
        "chunk_cpu_s": round(cpu_done - cpu_parsed, 2),
        "total_cpu_s": round(cpu_done - cpu_started, 2),
        "paragraphs": sum(len(d.paragraphs) for d in scan.documents),
        "chunks": len(chunks),
        "duplicates": dropped,
        "skipped": scan.skipped,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def measure(corpus: Path, checkout: Path | None) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)  # ahead of the editable install's finder
    command = [sys.executable, __file__, "--worker", str(corpus)]
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50", help="comma-separated sizes in MB")
    parser.add_argument("--before", type=Path, default=None, help="another checkout of esqa")
    parser.add_argument("--before-sizes", default="1,10", help="sizes to run --before at")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    if args.before is not None and not (args.before / "esqa" / "__init__.py").is_file():
        parser.error(f"--before {args.before}: no esqa package there")
    before_sizes = {float(s) for s in args.before_sizes.split(",")}
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="esqa-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for size in (float(s) for s in args.sizes.split(",")):
            for shape in SHAPES:
                path = corpus / "big.txt"
                write_text(path, size, shape, args.seed)
                row: dict[str, Any] = {"mb": size, "shape": shape, "bytes": path.stat().st_size}
                row["now"] = measure(corpus, None)
                if args.before is not None and size in before_sizes:
                    row["before"] = measure(corpus, args.before)
                print(f"  {row}", file=sys.stderr, flush=True)
                rows.append(row)
        path = corpus / "big.txt"
        with path.open("wb") as f:  # over MAX_FILE_BYTES: skipped by its size, never read
            f.truncate(70_000_000)
        rows.append({"mb": 70, "shape": "over the size limit", "now": measure(corpus, None)})
        path.write_bytes(b"a\n" * 5_000_000)  # over MAX_FILE_LINES
        rows.append({"mb": 10, "shape": "5,000,000 lines", "now": measure(corpus, None)})
        print(f"  {rows[-2:]}", file=sys.stderr, flush=True)
    result = {
        "command": " ".join(["benchmarks/pathological.py", *(argv or sys.argv[1:])]),
        "machine": machine(load_before),
        "before": None if args.before is None else str(args.before),
        "rows": rows,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
