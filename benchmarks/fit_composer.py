"""Fit the composer's sentence weights and confidence, and report them on held-out questions.

The sentence score is a weighted sum of the features of
`esqa.answer.sentences.FEATURES`. Its weights are fitted as a listwise ranker:
for each question, a softmax over the sentences read, maximising the
probability of the sentences that hold an accepted answer string (questions
where none does are left out). Confidence is then a logistic regression of
"the answer holds the key" on the evidence the composer reports (support,
margin, the winning candidate's share), fitted on the answers the new weights give.

Fitted on the development set and the half of COVID-QA whose question id
hashes even (first byte of sha256); reported on the other half, which the fit
never sees. Prints `FITTED_WEIGHTS` and the confidence parameters for
`esqa/answer/params.py`, and writes benchmarks/results/fit_composer.json.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_composer.py \\
        --dev-index /tmp/dev --covid-index /tmp/covid
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

import esqa
from esqa.answer.compose import Composer
from esqa.answer.params import ComposerParams
from esqa.answer.sentences import FEATURES
from esqa.evaluate import normalise, read_questions

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
RESULTS = Path(__file__).resolve().parent / "results" / "fit_composer.json"
L2 = 1e-3


def half(question_id: str) -> str:
    """The fixed split of COVID-QA: "fit" when the id's sha256 starts with an even byte."""
    return "fit" if hashlib.sha256(question_id.encode()).digest()[0] % 2 == 0 else "test"


def holds(q: dict[str, Any], text: str) -> bool:
    keys_any, keys_all = q.get("any", []), q.get("all", [])
    return (not keys_any or any(normalise(k) in text for k in keys_any)) and all(
        normalise(k) in text for k in keys_all
    )


def read_set(name: str, qa_file: Path, index: Path, corpus: Path) -> list[dict[str, Any]]:
    """Each answerable question with the passages read for it."""
    qa = esqa.load(index=index, corpus=corpus, build_if_missing=False)
    out = []
    for q in read_questions(qa_file):
        if q.get("abstain"):
            continue
        split = "fit" if name == "dev" else half(q.get("id", q["question"]))
        out.append({"q": q, "hits": qa.passages(q["question"]), "split": split, "qa": qa})
    return out


def ranking_data(
    items: list[dict[str, Any]], composer_of: Any
) -> list[tuple[np.ndarray, np.ndarray]]:
    groups = []
    for item in items:
        composer: Composer = composer_of(item["qa"])
        ev = composer.weigh(item["q"]["question"], item["hits"])
        if not ev.sentences:
            continue
        x = np.array([s.features for s in ev.sentences], dtype=np.float64)
        y = np.array([holds(item["q"], normalise(s.text)) for s in ev.sentences], dtype=bool)
        if y.any():
            groups.append((x, y))
    return groups


def fit_ranker(groups: list[tuple[np.ndarray, np.ndarray]], only: str | None = None) -> np.ndarray:
    """Weights maximising the mean log-probability of the key-holding sentences
    (`only`: that feature's weight alone, the others held at their values)."""
    start = np.array([dict(ComposerParams().weights).get(f, 0.0) for f in FEATURES])
    free = np.ones(len(FEATURES)) if only is None else (np.array(FEATURES) == only) * 1.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        w = start + free * (w - start)
        total, grad = 0.0, np.zeros_like(w)
        for x, y in groups:
            s = x @ w
            s -= s.max()
            p = np.exp(s)
            z = p.sum()
            zp = p[y].sum()
            total -= math.log(zp / z)
            grad -= x[y].T @ (p[y] / zp) - x.T @ (p / z)
        n = len(groups)
        return total / n + L2 * float(w @ w), free * (grad / n + 2 * L2 * w)

    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return np.asarray(start + free * (result.x - start))


def top1(groups: list[tuple[np.ndarray, np.ndarray]], w: np.ndarray) -> float:
    return float(np.mean([y[int(np.argmax(x @ w))] for x, y in groups])) if groups else 0.0


def answers(items: list[dict[str, Any]], params: ComposerParams) -> list[dict[str, Any]]:
    """Compose every question with `params`: the answer, its evidence and whether it is right."""
    out = []
    for item in items:
        qa = item["qa"]
        composer = _composer(qa, params)
        ev = composer.weigh(item["q"]["question"], item["hits"])
        answer = composer.compose(item["q"]["question"], item["hits"])
        text = normalise(answer.text)
        right = answer.answered and len(text) <= 600 and holds(item["q"], text)
        gold = item["q"].get("gold", [])
        c1 = bool(answer.citations) and any(
            Path(answer.citations[0].source).name == g
            and answer.citations[0].line_start <= line <= answer.citations[0].line_end
            for g, line in gold
        )
        share = ev.winner.share if ev.winner is not None else 0.5
        out.append(
            {
                "split": item["split"],
                "answered": answer.answered,
                "right": right,
                "c1": c1,
                "confidence": answer.confidence,
                "x": [ev.support, max(-2.0, min(2.0, ev.margin)), share, ev.probability],
            }
        )
    return out


def _composer(qa: Any, params: ComposerParams) -> Composer:
    composer: Composer = qa.composer
    return composer.with_params(params)


def fit_confidence(rows: list[dict[str, Any]]) -> np.ndarray:
    """Logistic regression of rightness on [support, margin, share, probability]
    (answered questions)."""
    x = np.array([[1.0, *r["x"]] for r in rows if r["answered"]])
    y = np.array([r["right"] for r in rows if r["answered"]], dtype=np.float64)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-9
        value = -float(np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
        return value + L2 * float(w @ w), x.T @ (p - y) / len(y) + 2 * L2 * w

    # Each piece of evidence may only raise the confidence (the bias is free): a
    # fit left free gave the support a small negative weight beside the
    # probability, which says nothing about a rule's answer whose support is set.
    bounds = [(None, None)] + [(0.0, None)] * (x.shape[1] - 1)
    return np.asarray(
        minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds).x
    )


def auroc(rows: list[dict[str, Any]]) -> float:
    pos = np.array([r["confidence"] for r in rows if r["answered"] and r["right"]])
    neg = np.array([r["confidence"] for r in rows if r["answered"] and not r["right"]])
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    n = len(rows) or 1
    return {
        "questions": len(rows),
        "answer_accuracy": round(sum(r["right"] for r in rows) / n, 3),
        "citation_at_1": round(sum(r["c1"] for r in rows) / n, 3),
        "false_abstain_rate": round(sum(not r["answered"] for r in rows) / n, 3),
        "auroc_right_vs_wrong": round(auroc(rows), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-index", type=Path, required=True)
    parser.add_argument("--covid-index", type=Path, required=True)
    parser.add_argument("--dev-qa", type=Path, default=SHARED / "eval" / "dev_qa.jsonl")
    parser.add_argument("--dev-corpus", type=Path, default=REPO / "seeds")
    parser.add_argument("--covid-qa", type=Path, default=SHARED / "bench/covidqa/qa.jsonl")
    parser.add_argument("--covid-corpus", type=Path, default=SHARED / "bench/covidqa/corpus")
    parser.add_argument("--only", choices=FEATURES, help="fit this weight alone")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the report")
    args = parser.parse_args()

    items = read_set("dev", args.dev_qa, args.dev_index, args.dev_corpus)
    items += read_set("covid", args.covid_qa, args.covid_index, args.covid_corpus)
    before = ComposerParams()
    fit_items = [i for i in items if i["split"] == "fit"]
    test_items = [i for i in items if i["split"] == "test"]

    fit_groups = ranking_data(fit_items, lambda qa: _composer(qa, before))
    test_groups = ranking_data(test_items, lambda qa: _composer(qa, before))
    w0 = np.array([dict(before.weights).get(f, 0.0) for f in FEATURES])
    w = fit_ranker(fit_groups, args.only)
    weights = tuple((f, round(float(v), 3)) for f, v in zip(FEATURES, w, strict=True))
    ranked = dataclasses.replace(before, weights=weights)

    rows = answers(fit_items, ranked)
    c = fit_confidence(rows)
    fitted = dataclasses.replace(
        ranked,
        confidence_bias=round(float(c[0]), 3),
        confidence_support=round(float(c[1]), 3),
        confidence_margin=round(float(c[2]), 3),
        confidence_share=round(float(c[3]), 3),
        confidence_probability=round(float(c[4]), 3),
    )
    report = {
        "split": "fit = dev + COVID-QA ids whose sha256 starts with an even byte; test = the rest",
        "top1_key_sentence": {
            "fit_before": round(top1(fit_groups, w0), 3),
            "fit_after": round(top1(fit_groups, w), 3),
            "test_before": round(top1(test_groups, w0), 3),
            "test_after": round(top1(test_groups, w), 3),
        },
        "covid_test_before": summary(
            [r for r in answers(test_items, before) if r["split"] == "test"]
        ),
        "covid_test_after": summary(answers(test_items, fitted)),
        "weights": dict(weights),
        "confidence": [round(float(v), 3) for v in c],
    }
    print(json.dumps(report, indent=2))
    print("FITTED_WEIGHTS = (")
    for f, v in weights:
        print(f'    ("{f}", {v}),')
    print(")")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
