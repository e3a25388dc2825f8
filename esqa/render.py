"""Answers and hits as plain text for a terminal (their HTML is `esqa.types`').

Articles are untrusted: on a terminal, control characters (an escape sequence
could recolour or clear the screen) are dropped. That only changes what is
shown: the quotes in `Answer.to_dict()` stay verbatim.
"""

from __future__ import annotations

import re
import textwrap

from esqa.types import Answer, Hit, line_range

WIDTH = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _display(text: str) -> str:
    """One line of printable text: runs of white space (a hard wrap, the blank
    line inside a PDF paragraph) become one space."""
    return " ".join(_CONTROL.sub("", text).split())


def _quote(text: str) -> str:
    return (
        textwrap.fill(
            _display(text), width=WIDTH, initial_indent="    “", subsequent_indent="     "
        )
        + "”"
    )


def answer_text(answer: Answer) -> str:
    """The answer, its confidence, then the numbered citations with their quotes."""
    state = "" if answer.answered else "not answered; "
    out = [
        textwrap.fill(_display(answer.text), width=WIDTH),
        f"({state}confidence {answer.confidence:.2f})\n",
    ]
    for n, c in enumerate(answer.citations, start=1):
        about = ", ".join(_display(x) for x in (c.article_title, c.published) if x)
        out.append(
            f"[{n}] {_display(c.source)} ¶{c.paragraph}, {line_range(c.line_start, c.line_end, '-')}"
            + (f" — {about}" if about else "")
        )
        out.append(_quote(c.quote))
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
