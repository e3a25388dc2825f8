"""Answers, hits and messages as plain text for a terminal (their HTML is `esqa.types`').

Articles, file names and question files are untrusted, and a terminal obeys
what it is sent: an escape sequence can retitle the window, clear or recolour
the screen, and a bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE) makes
"evil\u202etxt.exe" display as "evilexe.txt". So everything the command line
prints for people goes through `terminal_text` first. That only changes what
is shown: the quotes in `Answer.to_dict()` and every `--json` output stay
verbatim.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from esqa.types import Answer, AnswerSpan, Hit, line_range

WIDTH = 100
# C0 and C1 controls and DEL, but for the white space among them; the
# bidirectional embeddings, overrides, isolates and marks (the Trojan Source
# set, CVE-2021-42574, with the Arabic letter mark); and lone surrogates,
# which are not text and cannot be encoded to print.
_UNSAFE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Line and field breaks: each becomes a space, so a name or a message stays on its line.
_BREAKS = re.compile("[\t\n\x0b\x0c\r\x1c-\x1f\x85\u2028\u2029]")


def terminal_text(text: str) -> str:
    """Text that is safe to print on a terminal, on one line.

    Controls and bidirectional controls are removed, line breaks and tabs
    become spaces and a lone surrogate becomes U+FFFD. Everything else, any
    script and any emoji, is kept as it is. Example:
    `terminal_text("\x1b]0;PWNED\x07evil\u202etxt.exe")` is `"]0;PWNEDeviltxt.exe"`.
    """
    text = _UNSAFE.sub("", text)
    text = _BREAKS.sub(" ", text)
    return _SURROGATE.sub("\ufffd", text)


def json_text(obj: Any, indent: int | None = None) -> str:
    """`obj` as JSON for `--json` and `--jsonl` output, always encodable as UTF-8.

    Text stays verbatim, but for lone surrogates (a question file may spell
    one as the escape "\\ud800"): no UTF-8 writer can encode them, so they
    become U+FFFD rather than crash the output halfway through a batch.
    """
    return _SURROGATE.sub("\ufffd", json.dumps(obj, ensure_ascii=False, indent=indent))


def _display(text: str) -> str:
    """One line of printable text: runs of white space (a hard wrap, the blank
    line inside a PDF paragraph) become one space."""
    # The span markers below are dropped from the text first, so an article cannot bold itself.
    return " ".join(terminal_text(text).replace(_ON, "").replace(_OFF, "").split())


def _quote(text: str, span: AnswerSpan | None = None, bold: bool = False) -> str:
    marked = _marked(text, span) if bold else _display(text)
    wrapped = textwrap.fill(marked, width=WIDTH, initial_indent="    “", subsequent_indent="     ")
    return _ansi(wrapped) + "”"


# Private-use characters mark the span through wrapping; each becomes an ANSI
# code once the lines are made (a code's letters would count as width).
_ON, _OFF = "\ue000", "\ue001"


def _marked(text: str, span: AnswerSpan | None) -> str:
    """The displayed text with the span between markers (white space collapsed in each part)."""
    if span is None or text[span.start : span.end] != span.text:
        return _display(text)
    before, inside, after = text[: span.start], text[span.start : span.end], text[span.end :]
    lead = " " if before[-1:].isspace() else ""
    trail = " " if after[:1].isspace() else ""
    return (
        f"{_display(before)}{lead}{_ON}{_display(inside)}{_OFF}{trail}{_display(after)}"
    ).strip()


def _ansi(text: str) -> str:
    return text.replace(_ON, "\x1b[1m").replace(_OFF, "\x1b[0m")


def answer_text(answer: Answer, bold: bool = False) -> str:
    """The answer, its confidence, then the numbered citations with their quotes.

    With `bold` (a terminal), the answer's span is printed in bold in the first
    quote, and in the answer when the answer opens with that quote.
    """
    state = "" if answer.answered else "not answered; "
    span = answer.span
    first = answer.citations[0].quote if answer.citations else ""
    in_text = span is not None and bold and answer.text.startswith(first)
    head = _marked(answer.text, span) if in_text else _display(answer.text)
    out = [
        _ansi(textwrap.fill(head, width=WIDTH)),
        f"({state}confidence {answer.confidence:.2f})\n",
    ]
    for n, c in enumerate(answer.citations, start=1):
        about = ", ".join(_display(x) for x in (c.article_title, c.published) if x)
        out.append(
            f"[{n}] {_display(c.source)} ¶{c.paragraph}, {line_range(c.line_start, c.line_end, '-')}"
            + (f" — {about}" if about else "")
        )
        out.append(_quote(c.quote, span if n == 1 else None, bold))
    return "\n".join(out)


def hit_text(rank: int, hit: Hit) -> str:
    """One search result: where it is, its score, what it is about, its text."""
    c = hit.chunk
    about = ", ".join(_display(x) for x in (c.article_title, c.publisher, c.published) if x)
    head = (
        f"[{rank}] {_display(c.source)} ¶{c.paragraph}, {line_range(c.line_start, c.line_end, '-')}"
        f"  (score {hit.score:.4f})"
    )
    if about:
        head += f"\n    {about}"
    return f"{head}\n{_quote(c.text)}\n"


def describe_changes(changes: Any, index_dir: Path, corpus: Path) -> str:
    """What changed in the corpus since the build (a `CorpusChanges`), and the command that updates."""
    parts = []
    for label, names in (
        ("added", changes.added),
        ("changed", changes.changed),
        ("removed", changes.removed),
    ):
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            parts.append(f"{label}: {shown}")
    return (
        f"the corpus changed since the index was built ({'; '.join(parts)}); "
        f"to update the index run: esqa index build --corpus {corpus} --index {index_dir}"
    )
