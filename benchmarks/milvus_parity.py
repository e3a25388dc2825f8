"""Parity: the Milvus store against the embedded stores, with the real model.

    .venv/bin/python benchmarks/milvus_parity.py            # dev set (seeds/) and COVID-QA

For each question set (the development set on `seeds/`, COVID-QA's 1,380
questions on its 98 papers), the corpus is indexed once with the embedded
stores and the configured embedder (ONNX int8, as `esqa index build`), then
the same index is built into a collection of a milvus-lite server process
(`--store milvus://...`; its vectors are reused, not embedded again).
Reported per set: the mean overlap of the top-10 passages (`qa.search(q, 10)`,
acronyms expanded as `ask` does), how many answers (`qa.ask(q).text`) are the
same, and the grader's metrics (`esqa.evaluate`) of both. Results go to
`benchmarks/results/milvus_parity.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from milvus import milvus_lite_server

import esqa
from esqa.api import embedder_for
from esqa.evaluate import evaluate, read_questions
from esqa.index.build import build_index

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
SHARED = REPO.parent / "shared"
SETS = {
    "dev": (REPO / "seeds", SHARED / "eval" / "dev_qa.jsonl"),
    "covidqa": (SHARED / "bench" / "covidqa" / "corpus", SHARED / "bench" / "covidqa" / "qa.jsonl"),
}
TOP = 10


def compare(name: str, corpus: Path, qa_file: Path, server: str, work: Path) -> dict[str, Any]:
    embedded, milvus = work / f"{name}-embedded", work / f"{name}-milvus"
    embedder = embedder_for(embedded, fresh=True)
    build_index(corpus, embedded, embedder)
    shutil.copytree(embedded.resolve(), milvus)  # so the Milvus build reuses its vectors
    report = build_index(corpus, milvus, embedder, store=f"{server}/parity_{name}")
    assert report.embedded == 0, "the Milvus build embedded text again"
    questions = read_questions(qa_file)
    a = esqa.load(embedded, embedder=embedder, build_if_missing=False)
    b = esqa.load(milvus, embedder=embedder, build_if_missing=False)
    overlaps, same = [], 0
    for q in questions:
        top_a = {h.chunk.id for h in a.search(q["question"], TOP)}
        top_b = {h.chunk.id for h in b.search(q["question"], TOP)}
        overlaps.append(len(top_a & top_b) / max(len(top_a), 1))
        same += a.ask(q["question"]).text == b.ask(q["question"]).text
    metrics = ("answer_accuracy", "citation_at_1", "citation_at_3", "latency_median_ms")
    reports = {label: evaluate(qa, questions, corpus) for label, qa in (("embedded", a), ("milvus", b))}  # fmt: skip
    return {
        "questions": len(questions),
        "chunks": report.chunks,
        "top10_overlap_mean": round(float(np.mean(overlaps)), 4),
        "top10_overlap_min": round(float(np.min(overlaps)), 4),
        "same_answers": same,
        **{label: {m: getattr(r, m) for m in metrics} for label, r in reports.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "milvus_parity.json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="esqa-milvus-parity-"))
    results: dict[str, Any] = {}
    try:
        with milvus_lite_server(work / "data") as (server, _):
            for name in args.sets.split(","):
                results[name] = compare(name, *SETS[name], server, work)
                print(json.dumps({name: results[name]}, indent=1), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
