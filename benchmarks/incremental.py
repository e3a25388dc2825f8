"""Benchmark: a full index build of a 2,000-article corpus vs `esqa add` of one article.

Run it with `make bench`, or:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/incremental.py

It uses the real model (all-MiniLM-L6-v2 through `esqa.api.default_embedder()`)
and times the `esqa` command in a new process each time, as a user runs it:
imports, model loading, parsing, chunking, embedding and writing are all
counted. Results are printed and written as JSON (`--out`).

How the corpus is generated (deterministic: one `random.Random(--seed)`):

1. The five seed articles in `seeds/` are parsed by esqa's own ingestion. Every
   sentence of 8 to 45 words from a body paragraph goes into a sentence pool,
   and every word of four or more letters into a vocabulary.
2. Article i has a title of 4 to 8 vocabulary words and 2 to 4 paragraphs of
   2 to 4 sentences drawn from the pool. In every sentence each word of four or
   more letters is replaced, with probability 0.3, by a vocabulary word.
3. The substitutions make nearly every 4-word shingle unique to its paragraph,
   so the near-duplicate filter (which drops paragraphs whose shingles are at
   least 80 % contained in another's) keeps them all; the script checks this
   and prints the count of dropped paragraphs.
4. The articles added one at a time are the next ones of the same sequence.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import timed_esqa

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
_LONG_WORD = re.compile(r"[A-Za-z]{4,}")
SUBSTITUTION = 0.3  # chance that a word of 4+ letters is replaced


def seed_pools(seeds: Path = SEEDS) -> tuple[list[str], list[str]]:
    """The sentence pool and the vocabulary taken from the seed articles."""
    from esqa.ingest.chunking import split_sentences
    from esqa.ingest.pages import load_corpus

    sentences: set[str] = set()
    vocabulary: set[str] = set()
    for doc in load_corpus(seeds).documents:
        for paragraph in doc.paragraphs:
            if paragraph.kind != "body":
                continue
            text = " ".join(paragraph.text.split())
            for span in split_sentences(text):
                sentence = text[span.start : span.end]
                if 8 <= len(sentence.split()) <= 45:
                    sentences.add(sentence)
            vocabulary.update(w.lower() for w in _LONG_WORD.findall(text))
    return sorted(sentences), sorted(vocabulary)


def make_article(rng: random.Random, sentences: list[str], vocabulary: list[str]) -> str:
    def vary(sentence: str) -> str:
        return _LONG_WORD.sub(
            lambda m: rng.choice(vocabulary) if rng.random() < SUBSTITUTION else m.group(),
            sentence,
        )

    title = " ".join(w.capitalize() for w in rng.sample(vocabulary, rng.randint(4, 8)))
    paragraphs = [
        " ".join(vary(rng.choice(sentences)) for _ in range(rng.randint(2, 4)))
        for _ in range(rng.randint(2, 4))
    ]
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def generate(root: Path, count: int, seed: int) -> list[str]:
    """Write `count` articles into root; returns the texts of the next ones to add."""
    sentences, vocabulary = seed_pools()
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (root / f"article_{i:05d}.txt").write_text(
            make_article(rng, sentences, vocabulary), encoding="utf-8"
        )
    return [make_article(rng, sentences, vocabulary) for _ in range(10)]


def esqa(*args: str) -> tuple[float, str]:
    """Run the esqa command in a new process; returns its wall time and stdout."""
    return timed_esqa(args, {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})


def run(articles: int, adds: int, seed: int, workdir: Path) -> dict[str, Any]:
    from esqa.ingest.pages import load_corpus

    corpus, index = workdir / "corpus", workdir / "index"
    to_add = generate(corpus, articles, seed)[:adds]
    started = time.perf_counter()
    load_corpus(corpus)
    parse_seconds = time.perf_counter() - started

    print(f"full build of {articles:,} articles (real model, new process)...", flush=True)
    full_seconds, out = esqa(
        "index", "build", "--full", "--corpus", str(corpus), "--index", str(index)
    )
    print("  " + out.strip(), flush=True)
    manifest = json.loads((index.resolve() / "manifest.json").read_text(encoding="utf-8"))

    add_runs = []
    for n, text in enumerate(to_add):
        new = workdir / f"new_{n}.txt"
        new.write_text(text, encoding="utf-8")
        seconds, out = esqa(
            "add", str(new), "--json", "--corpus", str(corpus), "--index", str(index)
        )
        build = json.loads(out)["build"]
        add_runs.append(
            {"seconds": round(seconds, 3), "reused": build["reused"], "embedded": build["embedded"]}
        )
        print(f"  add #{n + 1}: {seconds:.1f} s, reused {build['reused']:,}, "
              f"embedded {build['embedded']}", flush=True)  # fmt: skip
    add_median = statistics.median(r["seconds"] for r in add_runs)
    return {
        "articles": articles,
        "seed": seed,
        "chunks": manifest["counts"]["chunks"],
        "paragraphs": manifest["counts"]["paragraphs"],
        "near_duplicates_dropped": manifest["counts"]["duplicate_paragraphs"],
        "full_build_seconds": round(full_seconds, 3),
        "add_runs": add_runs,
        "add_median_seconds": round(add_median, 3),
        "add_to_full_ratio": round(add_median / full_seconds, 4),
        "parse_all_files_seconds": round(parse_seconds, 3),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000, help="corpus size (default 2000)")
    parser.add_argument("--adds", type=int, default=3, help="timed single-article adds (median)")
    parser.add_argument("--seed", type=int, default=4, help="random seed of the corpus")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results" / "incremental.json",
        help="where to write the JSON results",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="esqa-bench-") as tmp:
        results = run(args.articles, args.adds, args.seed, Path(tmp))
    print(
        f"full build: {results['full_build_seconds']:.1f} s; "
        f"add one article: {results['add_median_seconds']:.1f} s "
        f"(median of {len(results['add_runs'])}); "
        f"ratio {results['add_to_full_ratio']:.1%} (target < 5%)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
