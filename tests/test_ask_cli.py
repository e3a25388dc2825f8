"""`esqa ask` and `esqa eval` through click's CliRunner, with the fake embedder.

The index is built into tmp_path from a small corpus written here; the CLI
finds it through --index/--corpus, and ESQA_EMBEDDER names the fake embedder so
that no model is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import HashedEmbedder, write_corpus
from synthetic_news import BRIDGE, HARBOUR

from esqa.cli import cli
from esqa.index.build import build_index

CORPUS = {"plan.txt": HARBOUR, "bridge.txt": BRIDGE}

SCHEMA = {"question", "answered", "answer", "answer_span", "confidence", "citations"}
CITATION_KEYS = {"source", "paragraph", "line_start", "line_end", "quote", "score"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ask-cli")
    corpus = write_corpus(root / "corpus", CORPUS)
    index = root / "index"
    build_index(corpus, index, HashedEmbedder())
    return corpus, index


@pytest.fixture
def run(built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch):
    corpus, index = built
    monkeypatch.setenv("ESQA_EMBEDDER", "conftest:HashedEmbedder")
    monkeypatch.delenv("ESQA_INDEX", raising=False)
    monkeypatch.delenv("ESQA_CORPUS", raising=False)

    def invoke(*args: str, input: str | None = None) -> Result:
        where = ["--index", str(index), "--corpus", str(corpus)]
        return CliRunner().invoke(cli, [*args, *where], input=input)

    return invoke


def check_schema(obj: dict, corpus: Path) -> None:
    assert set(obj) == SCHEMA
    assert isinstance(obj["answered"], bool)
    assert 0.0 <= obj["confidence"] <= 1.0
    assert len(obj["answer"]) <= 600
    for c in obj["citations"]:
        assert CITATION_KEYS <= set(c)
        lines = (corpus / c["source"]).read_text(encoding="utf-8").split("\n")
        assert c["quote"] in "\n".join(lines[c["line_start"] - 1 : c["line_end"]])


def test_ask_help() -> None:
    result = CliRunner().invoke(cli, ["ask", "--help"])
    assert result.exit_code == 0
    assert "QUESTION" in result.output
    assert "--jsonl" in result.output
    assert "--json" in result.output


def test_eval_help() -> None:
    result = CliRunner().invoke(cli, ["eval", "--help"])
    assert result.exit_code == 0
    assert "QA_FILE" in result.output


def test_ask_json_prints_one_schema_object(run, built) -> None:
    corpus, _ = built
    result = run("ask", "--json", "What is the third pillar of the strategy?")
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert isinstance(obj, dict)
    check_schema(obj, corpus)
    assert obj["question"] == "What is the third pillar of the strategy?"
    assert obj["answered"] is True
    assert "relocating pumping stations" in obj["answer"]


def test_ask_plain_shows_answer_and_citation(run) -> None:
    result = run("ask", "When was the Lakeside Bridge opened to traffic?")
    assert result.exit_code == 0, result.output
    assert "1987" in result.stdout
    assert "bridge.txt" in result.stdout
    assert "confidence" in result.stdout


def test_ask_jsonl_file_prints_one_line_per_question(run, built, tmp_path: Path) -> None:
    corpus, _ = built
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "What does CRA stand for?\n"
        + json.dumps({"id": "b", "question": "When was the Lakeside Bridge opened to traffic?"})
        + "\n\n"
        + json.dumps({"question": "What is the last pillar of the strategy?", "any": ["x"]})
        + "\n",
        encoding="utf-8",
    )
    result = run("ask", "--jsonl", str(questions))
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().split("\n")
    assert len(lines) == 3
    objs = [json.loads(line) for line in lines]
    for obj in objs:
        check_schema(obj, corpus)
    assert [o["question"] for o in objs] == [
        "What does CRA stand for?",
        "When was the Lakeside Bridge opened to traffic?",
        "What is the last pillar of the strategy?",
    ]
    assert "Coastal Resilience Agency" in objs[0]["answer"]
    assert "1987" in objs[1]["answer"]
    assert "training volunteer wardens" in objs[2]["answer"]


def test_ask_jsonl_from_stdin(run) -> None:
    result = run("ask", "--jsonl", "-", input="What does CRA stand for?\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().split("\n")
    assert len(lines) == 1
    assert json.loads(lines[0])["question"] == "What does CRA stand for?"


def test_ask_jsonl_empty_question_is_an_unanswered_line(run, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text("?!\nWhat does CRA stand for?\n", encoding="utf-8")
    result = run("ask", "--jsonl", str(questions))
    assert result.exit_code == 0, result.output
    objs = [json.loads(line) for line in result.stdout.strip().split("\n")]
    assert len(objs) == 2
    assert objs[0]["answered"] is False
    assert objs[1]["answered"] is True


def test_ask_with_neither_question_nor_jsonl_is_a_usage_error(run) -> None:
    result = run("ask")
    assert result.exit_code != 0
    assert "Usage:" in result.output
    assert "QUESTION" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_ask_with_both_question_and_jsonl_is_a_usage_error(run, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text("What does CRA stand for?\n", encoding="utf-8")
    result = run("ask", "--jsonl", str(questions), "What does CRA stand for?")
    assert result.exit_code != 0
    assert "Usage:" in result.output
    assert "Traceback" not in result.output


def test_ask_punctuation_only_is_a_one_line_error(run) -> None:
    result = run("ask", "?!")
    assert result.exit_code != 0
    assert result.stdout == ""
    err = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(err) == 1
    assert err[0].startswith("esqa: error:")
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def write_qa(path: Path) -> Path:
    records = [
        {
            "id": "t1",
            "question": "When was the Lakeside Bridge opened to traffic?",
            "any": ["1987"],
            "gold": [["bridge.txt", 3]],
        },
        {
            "id": "t2",
            "question": "What is the third pillar of the strategy?",
            "any": ["relocating pumping stations"],
            "gold": [["plan.txt", 5]],
        },
        {"id": "t3", "question": "Who won the chess olympiad in Reykjavik?", "abstain": True},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_eval_prints_the_metrics(run, tmp_path: Path) -> None:
    result = run("eval", str(write_qa(tmp_path / "qa.jsonl")))
    assert result.exit_code == 0, result.output
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert "answer_accuracy" in values
    assert "quote_fidelity" in values
    assert 0.0 <= float(values["answer_accuracy"]) <= 1.0
    assert float(values["quote_fidelity"]) == 1.0
    assert values["answerable"] == "2"
    assert values["unanswerable"] == "1"


def test_eval_json(run, tmp_path: Path) -> None:
    result = run("eval", "--json", str(write_qa(tmp_path / "qa.jsonl")))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in (
        "answer_accuracy",
        "quote_fidelity",
        "citation_at_1",
        "citation_at_3",
        "abstain_accuracy",
        "false_abstain_rate",
    ):
        assert key in report
        assert 0.0 <= report[key] <= 1.0
    assert report["quote_fidelity"] == 1.0
    assert report["answerable"] == 2
    assert report["unanswerable"] == 1


def test_eval_rejects_a_line_without_a_question(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    result = run("eval", str(bad))
    assert result.exit_code != 0
    assert "esqa: error:" in result.stderr
    assert "bad.jsonl:1" in result.stderr
    assert "Traceback" not in result.output
