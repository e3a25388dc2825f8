"""`esqa eval --explain`: where a corpus loses answers, on a small corpus.

The QA file below holds one question of each class, each read off the
articles of tests/test_evidence.py: one the articles answer and esqa gets
right, one whose accepted string stands in a passage read but not in the
sentence quoted, one declined although a passage read holds the string, and
one whose string is nowhere in the corpus (a retrieval miss).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_corpus
from test_evidence import NEWS

from esqa.cli import cli
from esqa.evaluate import CLASSES, DECLINED, MISSED, RIGHT, WRONG

QUESTIONS = [
    {"id": "right", "question": "How much has the charity fund raised?", "any": ["$4.2 million"]},
    # Two articles say Vera Wang; the blog's claim is in a passage read, not in the answer.
    {
        "id": "wrong",
        "question": "Who designed the red dress worn at the gala?",
        "any": ["a blog claimed"],
    },
    # No sentence holds a date: declined, though "volunteers" is in the passage read.
    {
        "id": "declined",
        "question": "When was the museum's glass dome restored?",
        "any": ["volunteers"],
    },
    {"id": "miss", "question": "Who won the chess olympiad in Reykjavik?", "any": ["Magnus"]},
]


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESQA_EMBEDDER", "conftest:HashedEmbedder")


def test_explain_puts_each_question_in_its_class(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    qa_file = tmp_path / "qa.jsonl"
    qa_file.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n", encoding="utf-8")
    index = tmp_path / "idx"
    runner = CliRunner()
    args = ["eval", str(qa_file), "--corpus", str(corpus), "--index", str(index), "--explain"]
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["classes"] == {RIGHT: 0.25, WRONG: 0.25, DECLINED: 0.25, MISSED: 0.25}

    text = runner.invoke(cli, args)
    assert text.exit_code == 0, text.output
    for name in CLASSES:
        assert name in text.output
    assert "answer_accuracy=0.25" in text.output


def test_without_explain_no_classes_are_reported(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    qa_file = tmp_path / "qa.jsonl"
    qa_file.write_text(json.dumps(QUESTIONS[0]) + "\n", encoding="utf-8")
    args = ["eval", str(qa_file), "--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["classes"] == {}
