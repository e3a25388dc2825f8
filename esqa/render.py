"""HTML for Jupyter. Every piece of corpus text is escaped: articles are untrusted."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from esqa.types import Answer


def _lines(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}–{end}"


def answer_html(answer: Answer) -> str:
    status = "" if answer.answered else "<em>(not answered by the articles)</em> "
    items = []
    for n, c in enumerate(answer.citations, start=1):
        about = ", ".join(escape(x) for x in (c.article_title, c.published) if x)
        items.append(
            f"<li value='{n}'><code>{escape(c.source)}</code> ¶{c.paragraph}, "
            f"{_lines(c.line_start, c.line_end)}"
            + (f" <small>({about})</small>" if about else "")
            + f"<br><q>{escape(c.quote)}</q></li>"
        )
    return (
        "<div class='esqa-answer'>"
        f"<p><b>Q:</b> {escape(answer.question)}</p>"
        f"<p>{status}{escape(answer.text)} "
        f"<small>(confidence {answer.confidence:.2f})</small></p>"
        f"<ol>{''.join(items)}</ol></div>"
    )
