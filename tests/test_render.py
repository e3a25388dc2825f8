"""How answers look on a terminal and in Jupyter, from hand-made answers."""

from __future__ import annotations

from esqa.render import answer_text
from esqa.types import Answer, AnswerSpan, Citation

QUOTE = "the major role of chest CT is to understand the\n\nextent of \x1b[2Jlung lesions."


def _answer() -> Answer:
    citation = Citation("paper.txt", 4, 659, 661, QUOTE, 0.8, "A <b>title</b>", "2020-02-24")
    return Answer("What is the role of CT?", True, QUOTE, 0.9, (citation,))


def test_terminal_text_drops_control_characters_and_joins_broken_lines() -> None:
    text = answer_text(_answer())
    assert "\x1b" not in text
    assert "understand the extent of [2Jlung lesions." in text  # harmless once ESC is gone
    assert "[1] paper.txt ¶4, lines 659-661 — A <b>title</b>, 2020-02-24" in text


def test_the_machine_readable_quote_stays_verbatim() -> None:
    assert _answer().to_dict()["citations"][0]["quote"] == QUOTE


def test_html_escapes_the_article_text() -> None:
    html = _answer()._repr_html_()
    assert "<b>title</b>" not in html and "&lt;b&gt;title&lt;/b&gt;" in html


def _spanned() -> Answer:
    quote = "The <Seagulls> team was sold for $5 million on Friday."
    start = quote.index("$5 million")
    citation = Citation("team.txt", 2, 3, 3, quote, 0.8)
    span = AnswerSpan("$5 million", start, start + len("$5 million"))
    return Answer("How much was the team sold for?", True, quote, 0.9, (citation,), "money", span)


def test_the_span_is_bold_on_a_terminal_and_plain_elsewhere() -> None:
    assert "\x1b[1m$5 million\x1b[0m" in answer_text(_spanned(), bold=True)
    plain = answer_text(_spanned())
    assert "\x1b" not in plain and "sold for $5 million on Friday" in plain


def test_html_marks_the_span_and_escapes_around_it() -> None:
    html = _spanned()._repr_html_()
    assert "<mark>$5 million</mark>" in html
    assert "&lt;Seagulls&gt;" in html and "<Seagulls>" not in html


def test_json_carries_the_span() -> None:
    span = _spanned().to_dict()["answer_span"]
    assert span == {"text": "$5 million", "start": 33, "end": 43}
    assert _answer().to_dict()["answer_span"] is None
