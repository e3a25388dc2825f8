"""`esqa eval`: answer every question of a QA file and grade the answers.

The metrics and the text normalisation are those of the reference grader
(`shared/eval/grade.py`), so the figures agree; latency is measured per
question around `QA.ask`.
"""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from esqa.errors import EsqaError
from esqa.question_file import question_lines
from esqa.types import Answer, Hit

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


class Reader(Asker, Protocol):
    """What `--explain` needs besides `ask`: the passages read, then the answer from them."""

    def passages(self, question: str) -> list[Hit]: ...

    def compose(self, question: str, hits: Sequence[Hit]) -> Answer: ...


# Where an answerable question ends up (the table of `esqa eval --explain`).
RIGHT = "right"
WRONG = "wrong sentence, key in passages"
DECLINED = "declined, key in passages"
MISSED = "key not in passages (retrieval miss)"
CLASSES = (RIGHT, WRONG, DECLINED, MISSED)


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
    # How well confidence separates right from wrong answers (answered questions).
    confidence_auroc: float | None = None
    # --explain: the share of answerable questions in each of CLASSES.
    classes: dict[str, float] = field(default_factory=dict)
    misses: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_questions(path: Path) -> list[dict[str, Any]]:
    """The records of a QA file (JSON lines, decoded as `esqa.question_file` says).

    Raises EsqaError naming the file and line of the first line that is not
    a JSON object with a "question" string: a QA set is graded whole or not at all.
    """
    try:
        with path.open("rb") as f:
            lines = list(question_lines(f, str(path)))
    except OSError as exc:
        raise EsqaError(f"cannot read {path}: {exc.strerror or exc}") from None
    questions = []
    for line in lines:
        if line.record is None or line.error is not None:
            why = line.error or 'not a JSON object with a "question" field'
            raise EsqaError(f"{path}:{line.number}: {why}; fix that line")
        questions.append(line.record)
    return questions


def auroc(judged: Sequence[tuple[float, bool]]) -> float | None:
    """The probability that a right answer has a higher confidence than a wrong one
    (ties count half); None without both."""
    right = [c for c, ok in judged if ok]
    wrong = [c for c, ok in judged if not ok]
    if not right or not wrong:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return round(wins / (len(right) * len(wrong)), 3)


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


def evaluate(
    asker: Asker, questions: list[dict[str, Any]], corpus: Path, explain: bool = False
) -> Report:
    """Ask every question and grade the answers as the reference grader does.

    With `explain` (the asker must be a `Reader`), each answerable question is
    also put in one of CLASSES: whether the accepted answer string was in the
    passages read tells a retrieval miss from a composer miss.
    """
    report = Report()
    n_ok = c1 = c3 = un_ok = false_abstain = quotes_ok = 0
    latencies: list[float] = []
    counts = dict.fromkeys(CLASSES, 0)
    judged: list[tuple[float, bool]] = []  # (confidence, right) of answered questions
    for q in questions:
        started = time.perf_counter()
        hits: list[Hit] = []
        if explain:
            reader = cast(Reader, asker)
            hits = reader.passages(q["question"])
            answer = reader.compose(q["question"], hits).to_dict()
        else:
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
        if answer["answered"]:
            judged.append((answer["confidence"], bool(hit)))
        if explain:
            read = normalise(" ".join(h.chunk.text for h in hits))
            in_passages = (not keys_any or any(normalise(k) in read for k in keys_any)) and all(
                normalise(k) in read for k in keys_all
            )
            counts[
                RIGHT
                if hit
                else (MISSED if not in_passages else WRONG if answer["answered"] else DECLINED)
            ] += 1
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
    report.confidence_auroc = auroc(judged)
    if explain:
        report.classes = {name: share(n, report.answerable) for name, n in counts.items()}
    if latencies:
        ordered = sorted(latencies)
        report.latency_median_ms = round(statistics.median(ordered), 1)
        report.latency_p95_ms = round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)
    return report
