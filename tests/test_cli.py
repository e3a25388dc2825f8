"""The `esqa` command, driven through click's CliRunner with the fake embedder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIRST_SEGMENT, TWO_ARTICLES, write_corpus

import esqa
import esqa.api
from esqa.cli import cli

A = "\n".join(
    [
        "Japan adds cables to critical goods",
        "",
        "The Ministry of Economy, Trade and Industry plans to add undersea cables and "
        "satellites to the list of critical products under the Economic Security Promotion Act.",
        "",
        "Officials said the change would take effect next year after a public comment period.",
        "",
    ]
)
B = "\n".join(
    [
        "Rare earth imports fall",
        "",
        "Japan Times16-06-2025",
        "",
        "Japan imported nearly 60% of its rare earth materials from China in 2022, down from "
        "over 80% in 2009, according to government data.",
        "",
    ]
)
HIT_KEYS = {
    "source",
    "paragraph",
    "line_start",
    "line_end",
    "text",
    "score",
    "article_title",
    "published",
}


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    monkeypatch.setenv("ESQA_EMBEDDER", "conftest:HashedEmbedder")


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "corpus", {"a.txt": A, "b.txt": B})


@pytest.fixture
def index(tmp_path) -> Path:
    return tmp_path / "indexes" / "default"


def run(runner, *args):
    return runner.invoke(cli, [str(a) for a in args])


def build(runner, corpus, index):
    result = run(runner, "index", "build", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    return result


def assert_one_line_error(result):
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("esqa: error:")
    return lines[0]


@pytest.mark.parametrize(
    "args, options",
    [
        ([], ["--help", "--version"]),
        (["index"], ["--help"]),
        (["index", "build"], ["--corpus", "--index", "--full"]),
        (["search"], ["-k", "--json", "--refresh", "--corpus", "--index"]),
        (["ask"], ["--jsonl", "--json", "--refresh", "--corpus", "--index"]),
        (["add"], ["--replace", "--json", "--corpus", "--index"]),
        (["info"], ["--json", "--corpus", "--index"]),
        (["serve"], ["--host", "--port", "--corpus", "--index", "127.0.0.1"]),
    ],
    ids=["esqa", "index", "index-build", "search", "ask", "add", "info", "serve"],
)
def test_help_of_every_command_lists_its_options(runner, args, options):
    result = run(runner, *args, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    for option in options:
        assert option in result.output


def test_top_level_help_lists_the_commands(runner):
    result = run(runner, "--help")
    for command in ("index", "search", "ask", "add", "info", "serve"):
        assert re.search(rf"^\s+{command}\b", result.output, re.MULTILINE)


def test_version_option_prints_the_version(runner):
    result = run(runner, "--version")
    assert result.exit_code == 0
    assert esqa.__version__ in result.output


def test_index_build_reports_what_it_indexed(runner, corpus, index):
    result = build(runner, corpus, index)
    assert "indexed 2 files" in result.stdout
    assert index.is_symlink()


def test_index_build_warns_about_a_cp1252_file(runner, corpus, index):
    write_corpus(corpus, {"old.txt": "Caf\u00e9 news\n\nThe caf\u00e9 opened.\n".encode("cp1252")})
    result = build(runner, corpus, index)
    assert "old.txt" in result.stderr and "cp1252" in result.stderr
    assert "indexed 3 files" in result.stdout


def test_search_json_lists_hits_with_their_citations(runner, corpus, index):
    build(runner, corpus, index)
    result = run(
        runner,
        "search",
        "materials government data 2009",
        "--json",
        "--corpus",
        corpus,
        "--index",
        index,
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert isinstance(hits, list) and 1 <= len(hits) <= 5
    for hit in hits:
        assert HIT_KEYS <= set(hit)
        lines = (corpus / hit["source"]).read_text(encoding="utf-8").split("\n")
        assert hit["text"] in "\n".join(lines[hit["line_start"] - 1 : hit["line_end"]])
    assert hits[0]["source"] == "b.txt"
    assert hits[0]["line_start"] == 5
    assert hits[0]["published"] == "2025-06-16"
    assert hits[0]["article_title"] == "Rare earth imports fall"


def test_search_k_limits_the_hits(runner, corpus, index):
    build(runner, corpus, index)
    result = run(
        runner, "search", "Japan", "-k", "1", "--json", "--corpus", corpus, "--index", index
    )
    assert len(json.loads(result.stdout)) == 1


def test_search_text_output_cites_file_paragraph_and_lines(runner, corpus, index):
    build(runner, corpus, index)
    result = run(runner, "search", "undersea cables", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert re.search(r"\[1\] a\.txt ¶\d+, lines? 3", result.stdout)
    assert "undersea cables" in result.stdout


def test_search_builds_a_missing_index_first(runner, corpus, index):
    assert not index.exists()
    result = run(
        runner, "search", "undersea cables", "--json", "--corpus", corpus, "--index", index
    )
    assert result.exit_code == 0, result.output
    assert "building" in result.stderr
    assert json.loads(result.stdout)[0]["source"] == "a.txt"
    assert (index / "manifest.json").is_file()


def test_info_shows_counts_and_up_to_date_then_stale_after_a_new_file(runner, corpus, index):
    build(runner, corpus, index)
    result = run(runner, "info", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert re.search(r"^files\s+2$", result.stdout, re.MULTILINE)
    assert re.search(r"^articles\s+2$", result.stdout, re.MULTILINE)
    assert "up to date" in result.stdout
    assert "STALE" not in result.stdout

    write_corpus(corpus, {"c_new.txt": A.replace("Japan", "Korea")})
    result = run(runner, "info", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0
    assert "STALE" in result.stdout
    assert "c_new.txt" in result.stdout
    assert "up to date" not in result.stdout


def test_info_json_reports_staleness(runner, corpus, index):
    build(runner, corpus, index)
    (corpus / "a.txt").unlink()
    result = run(runner, "info", "--json", "--corpus", corpus, "--index", index)
    data = json.loads(result.stdout)
    assert data["stale"] is True
    assert data["changes"]["removed"] == ["a.txt"]
    assert data["counts"]["files"] == 2
    (note,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "removed: a.txt" in note and "esqa index build" in note


def test_search_warns_on_stderr_when_the_corpus_changed(runner, corpus, index):
    build(runner, corpus, index)
    write_corpus(corpus, {"c_new.txt": B.replace("Japan", "Korea")})
    result = run(runner, "search", "rare earth", "--json", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0
    assert "c_new.txt" in result.stderr
    json.loads(result.stdout)  # stdout stays machine-readable


@pytest.mark.parametrize("query", ["?!", "   "])
def test_a_query_without_words_is_a_one_line_error(runner, corpus, index, query):
    build(runner, corpus, index)
    result = run(runner, "search", query, "--corpus", corpus, "--index", index)
    assert_one_line_error(result)


@pytest.mark.parametrize("name", ["chunks.jsonl", "dense.faiss"])
def test_a_damaged_index_is_a_one_line_error_naming_the_repair(runner, corpus, index, name):
    build(runner, corpus, index)
    path = index.resolve() / FIRST_SEGMENT / name
    path.write_bytes(path.read_bytes()[:-10])
    result = run(runner, "search", "cables", "--corpus", corpus, "--index", index)
    line = assert_one_line_error(result)
    assert name in line
    assert "esqa index build" in line


def test_info_on_a_missing_index_is_a_one_line_error(runner, corpus, index):
    result = run(runner, "info", "--corpus", corpus, "--index", index)
    line = assert_one_line_error(result)
    assert "esqa index build" in line


def test_building_from_a_missing_corpus_is_a_one_line_error(runner, tmp_path, index):
    result = run(runner, "index", "build", "--corpus", tmp_path / "nope", "--index", index)
    assert_one_line_error(result)


def test_building_from_an_empty_corpus_is_a_one_line_error(runner, tmp_path, index):
    (tmp_path / "empty").mkdir()
    result = run(runner, "index", "build", "--corpus", tmp_path / "empty", "--index", index)
    assert_one_line_error(result)
    assert not index.exists()


def test_k_out_of_range_is_a_usage_error(runner, corpus, index):
    result = run(runner, "search", "cables", "-k", "0", "--corpus", corpus, "--index", index)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_second_build_reuses_every_chunk_and_full_embeds_them_all(runner, corpus, index):
    first = build(runner, corpus, index)
    chunks = re.search(r"([\d,]+) chunks \(embedded all \1;", first.stdout)
    assert chunks, first.stdout
    again = build(runner, corpus, index)
    assert f"reused {chunks.group(1)} chunks, embedded 0" in again.stdout
    full = run(runner, "index", "build", "--full", "--corpus", corpus, "--index", index)
    assert full.exit_code == 0 and f"embedded all {chunks.group(1)}" in full.stdout


def test_add_copies_the_file_reports_it_and_updates_the_index(runner, corpus, index, tmp_path):
    build(runner, corpus, index)
    new = write_corpus(tmp_path / "in", {"c.txt": A.replace("Japan", "Korea")}) / "c.txt"
    result = run(runner, "add", new, "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert re.search(r"^added\s+c\.txt$", result.stdout, re.MULTILINE)
    assert re.search(r"indexed 3 files: .*\(reused \d+ chunks, embedded [1-9]", result.stdout)
    info = run(runner, "info", "--corpus", corpus, "--index", index)
    assert "up to date" in info.stdout and "incremental" in info.stdout


def test_add_reports_each_refusal_and_exits_non_zero_after_adding_the_rest(
    runner, corpus, index, tmp_path
):
    build(runner, corpus, index)
    incoming = write_corpus(
        tmp_path / "in", {"good.txt": B.replace("Japan", "Korea"), "bad.txt": b"\x00\x01\x02"}
    )
    result = run(runner, "add", incoming / "good.txt", incoming / "bad.txt", "--corpus", corpus,
                 "--index", index)  # fmt: skip
    assert result.exit_code == 1
    assert re.search(r"^skipped\s+bad\.txt: .*binary", result.stdout, re.MULTILINE)
    assert (corpus / "good.txt").is_file() and not (corpus / "bad.txt").exists()
    line = assert_one_line_error(result)
    assert "1 of 2 files were refused" in line


def test_add_of_a_file_already_there_says_so_and_rebuilds_nothing(runner, corpus, index):
    build(runner, corpus, index)
    before = index.resolve()
    result = run(runner, "add", corpus / "a.txt", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0
    assert re.search(r"^skipped\s+a\.txt: already present$", result.stdout, re.MULTILINE)
    assert "up to date" in result.stdout
    assert index.resolve() == before


def test_add_json_lists_every_file_and_the_build(runner, corpus, index, tmp_path):
    build(runner, corpus, index)
    new = write_corpus(tmp_path / "in", {"c.txt": A.replace("Japan", "Korea")}) / "c.txt"
    result = run(runner, "add", new, "--json", "--corpus", corpus, "--index", index)
    data = json.loads(result.stdout)
    assert [(f["source"], f["action"]) for f in data["files"]] == [("c.txt", "added")]
    assert data["build"]["incremental"] is True and data["build"]["embedded"] >= 1


def test_stale_warning_names_added_changed_and_removed_files_once(runner, corpus, index):
    build(runner, corpus, index)
    write_corpus(corpus, {"c_new.txt": B.replace("Japan", "Korea")})
    (corpus / "a.txt").write_text(A.replace("next year", "this year"), encoding="utf-8")
    (corpus / "b.txt").unlink()
    result = run(runner, "search", "cables", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0
    notes = [line for line in result.stderr.splitlines() if "corpus changed" in line]
    assert len(notes) == 1
    assert "added: c_new.txt" in notes[0]
    assert "changed: a.txt" in notes[0]
    assert "removed: b.txt" in notes[0]
    assert "esqa index build" in notes[0] and "--refresh" in notes[0]


@pytest.mark.parametrize("command", [["search", "Korea cables"], ["ask", "what did Korea add?"]])
def test_refresh_updates_a_stale_index_before_answering(runner, corpus, index, command):
    build(runner, corpus, index)
    write_corpus(corpus, {"c_new.txt": A.replace("Japan", "Korea")})
    result = run(runner, *command, "--refresh", "--json", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert "corpus changed" not in result.stderr
    assert re.search(r"updated the index: reused \d+ chunks, embedded [1-9]", result.stderr)
    data = json.loads(result.stdout)
    sources = (
        [h["source"] for h in data]
        if command[0] == "search"
        else [c["source"] for c in data["citations"]]
    )
    assert "c_new.txt" in sources
    assert "up to date" in run(runner, "info", "--corpus", corpus, "--index", index).stdout


def test_refresh_of_an_up_to_date_index_builds_nothing(runner, corpus, index):
    build(runner, corpus, index)
    before = index.resolve()
    result = run(runner, "search", "cables", "--refresh", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0
    assert "updated the index" not in result.stderr
    assert index.resolve() == before


def test_without_corpus_the_index_checks_the_corpus_it_was_built_from(runner, corpus, index):
    build(runner, corpus, index)
    result = run(runner, "search", "cables", "--index", index)
    assert result.exit_code == 0
    assert "corpus changed" not in result.stderr
    info = run(runner, "info", "--index", index)
    assert str(corpus.resolve()) in info.stdout and "up to date" in info.stdout
    write_corpus(corpus, {"c_new.txt": B.replace("Japan", "Korea")})
    assert "c_new.txt" in run(runner, "search", "cables", "--index", index).stderr


def test_only_esqa_lines_reach_the_terminal_when_a_library_configures_logging(tmp_path):
    """A library that logs on the root logger (onnxruntime's quantiser does)
    makes `logging.basicConfig()` send every library's debug lines to stderr."""
    corpus = write_corpus(tmp_path / "corpus", TWO_ARTICLES)
    helper = Path(__file__).resolve().parent / "helpers" / "esqa_fake.py"
    done = subprocess.run(
        [sys.executable, str(helper), "ask", "which rate rose", "--corpus", str(corpus),
         "--index", str(tmp_path / "idx")],
        capture_output=True, text=True, env={**os.environ, "ESQA_TEST_CHATTY": "1"}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Building index from tokens" not in done.stderr
    assert "advice from a library" not in done.stderr
    assert all(line.startswith("esqa: ") for line in done.stderr.splitlines()), done.stderr
