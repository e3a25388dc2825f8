"""The `esqa` command, driven through click's CliRunner with the fake embedder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import HashedEmbedder, write_corpus

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
    monkeypatch.setattr(esqa.api, "default_embedder", HashedEmbedder)


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
        (["index", "build"], ["--corpus", "--index"]),
        (["search"], ["-k", "--json", "--corpus", "--index"]),
        (["info"], ["--json", "--corpus", "--index"]),
    ],
    ids=["esqa", "index", "index-build", "search", "info"],
)
def test_help_of_every_command_lists_its_options(runner, args, options):
    result = run(runner, *args, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    for option in options:
        assert option in result.output


def test_top_level_help_lists_the_commands(runner):
    result = run(runner, "--help")
    for command in ("index", "search", "info"):
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
    path = index.resolve() / name
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
