"""How answers look on a terminal and in Jupyter, from hand-made answers."""

from __future__ import annotations

from esqa.render import answer_text
from esqa.types import Answer, Citation

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
