"""`esqa eval`: answer every question of a QA file and grade the answers.

The metrics and the text normalisation are those of the reference grader
(`shared/eval/grade.py`), so the figures agree; latency is measured per
question around `QA.ask`.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from esqa.errors import EsqaError
from esqa.types import Answer

MAX_ANSWER_CHARS = 600
_QUOTES = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2014", "-"),
    ("\u2013", "-"),
)


class Asker(Protocol):
    def ask(self, question: str) -> Answer: ...


def normalise(text: str) -> str:
    """Case-folded NFKC text with straight quotes, plain dashes and single spaces."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    for a, b in _QUOTES:
        text = text.replace(a, b)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Report:
    answerable: int = 0
    unanswerable: int = 0
    answer_accuracy: float = 0.0
    citation_at_1: float = 0.0
    citation_at_3: float = 0.0
    abstain_accuracy: float = 0.0
    false_abstain_rate: float = 0.0
    quote_fidelity: float = 0.0
    quotes: int = 0
    latency_median_ms: float = 0.0
    latency_p95_ms: float = 0.0
    misses: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_questions(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EsqaError(f"cannot read {path}: {exc.strerror or exc}") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            record["question"]  # noqa: B018 - every record needs one
        except (ValueError, KeyError, TypeError):
            raise EsqaError(
                f'{path}:{number} is not a JSON object with a "question" field'
            ) from None
        questions.append(record)
    return questions


def _quote_ok(corpus: Path, citation: dict[str, Any]) -> bool:
    try:
        lines = (corpus / citation["source"]).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return False
    span = normalise("\n".join(lines[citation["line_start"] - 1 : citation["line_end"]]))
    return bool(citation["quote"]) and normalise(citation["quote"]) in span


def _covers(citation: dict[str, Any], gold: Iterable[list[Any]]) -> bool:
    return any(
        Path(citation["source"]).name == name
        and citation["line_start"] <= line <= citation["line_end"]
        for name, line in gold
    )


def evaluate(asker: Asker, questions: list[dict[str, Any]], corpus: Path) -> Report:
    """Ask every question and grade the answers as the reference grader does."""
    report = Report()
    n_ok = c1 = c3 = un_ok = false_abstain = quotes_ok = 0
    latencies: list[float] = []
    for q in questions:
        started = time.perf_counter()
        answer = asker.ask(q["question"]).to_dict()
        latencies.append((time.perf_counter() - started) * 1000)
        citations = answer["citations"]
        for c in citations:
            report.quotes += 1
            quotes_ok += _quote_ok(corpus, c)
        text = normalise(answer["answer"])
        if q.get("abstain"):
            report.unanswerable += 1
            if answer["answered"]:
                report.misses.append(
                    {"id": q.get("id", ""), "why": f"should abstain: {text[:100]}"}
                )
            else:
                un_ok += 1
            continue
        report.answerable += 1
        false_abstain += not answer["answered"]
        keys_any, keys_all = q.get("any", []), q.get("all", [])
        hit = (
            answer["answered"]
            and len(text) <= MAX_ANSWER_CHARS
            and (not keys_any or any(normalise(k) in text for k in keys_any))
            and all(normalise(k) in text for k in keys_all)
        )
        n_ok += hit
        gold = q.get("gold", [])
        c1 += bool(citations) and _covers(citations[0], gold)
        c3 += any(_covers(c, gold) for c in citations[:3])
        if not hit:
            report.misses.append({"id": q.get("id", ""), "why": f"answer miss: {text[:100]}"})
    share = lambda x, n: round(x / n, 3) if n else 0.0  # noqa: E731
    report.answer_accuracy = share(n_ok, report.answerable)
    report.citation_at_1 = share(c1, report.answerable)
    report.citation_at_3 = share(c3, report.answerable)
    report.abstain_accuracy = share(un_ok, report.unanswerable)
    report.false_abstain_rate = share(false_abstain, report.answerable)
    report.quote_fidelity = share(quotes_ok, report.quotes)
    if latencies:
        ordered = sorted(latencies)
        report.latency_median_ms = round(statistics.median(ordered), 1)
        report.latency_p95_ms = round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)
    return report
