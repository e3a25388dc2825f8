"""An index on a Milvus server: built, searched, changed, crashed and refused as with the
embedded stores, against a milvus-lite server process (conftest's `milvus_server`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SEEDS, HashedEmbedder, write_corpus
from helpers.checks import one_error_line
from helpers.milvus_server import free_port

import esqa
from esqa.cli import cli
from esqa.index.build import build_index
from esqa.index.manifest import read_manifest
from esqa.index.reader import load_index
from esqa.index.search import hybrid_search
from esqa.stores.milvus_expr import quoted
from esqa.stores.milvus_server import GRPC_OPTIONS

pytestmark = pytest.mark.milvus

HELPER = Path(__file__).resolve().parent / "helpers" / "esqa_fake.py"
# A source name that breaks any filter built by pasting it between quotes.
HOSTILE = 'o"brien\'s \\ {s} " or born >= 0 or ".txt'
TOP = 10


@pytest.fixture
def spec(milvus_server: str) -> str:
    return f"{milvus_server}/t_{uuid.uuid4().hex[:10]}"


def client(spec: str):
    from pymilvus import MilvusClient

    return MilvusClient(
        uri="http://" + spec.removeprefix("milvus://").rpartition("/")[0], grpc_options=GRPC_OPTIONS
    )


def queries(index: Path, n: int = 30) -> list[str]:
    """The first words of chunks spread over the corpus: queries that no one chose."""
    chunks = list(
        load_index(index, HashedEmbedder.model_id, HashedEmbedder.dimension).chunks.values()
    )
    picked = chunks[:: max(1, len(chunks) // n)][:n]
    return [" ".join(c.text.split()[:8]) for c in picked]


def top_ids(index: Path, query_texts: list[str], k: int = TOP) -> list[list[int]]:
    embedder = HashedEmbedder()
    loaded = load_index(index, embedder.model_id, embedder.dimension)
    return [
        [h.chunk.id for h in hybrid_search(loaded, q, embedder.embed([q])[0], k)]
        for q in query_texts
    ]


def state(index: Path) -> dict:
    """The store state the index's one segment recorded (`esqa.stores.milvus`)."""
    directory, manifest = read_manifest(index)
    (segment,) = manifest.segments  # a Milvus index is one segment
    return json.loads((directory / segment.directory / "milvus.json").read_text())


def overlap(a: list[list[int]], b: list[list[int]]) -> float:
    return float(
        np.mean([len(set(x) & set(y)) / max(len(x), 1) for x, y in zip(a, b, strict=True)])
    )


def test_an_index_on_milvus_holds_no_store_files_and_answers_with_exact_citations(
    spec, tmp_path, monkeypatch
):
    monkeypatch.setenv("ESQA_MILVUS_TOKEN", "root:s3cret-xyz")  # milvus-lite accepts any
    index = tmp_path / "idx"
    report = build_index(SEEDS, index, HashedEmbedder(), store=spec)
    generation = index.resolve()
    assert not list(generation.rglob("dense.faiss")) and not list(generation.rglob("lexical"))
    manifest = json.loads((generation / "manifest.json").read_text())
    assert manifest["dense"]["engine"] == manifest["lexical"]["engine"] == "milvus"
    assert manifest["dense"]["store"] == spec
    assert manifest["dense"]["collection"].startswith(spec.rpartition("/")[2])
    for path in generation.rglob("*"):
        assert not path.is_file() or b"s3cret-xyz" not in path.read_bytes()
    # The alias names the collection the index reads.
    alias = client(spec).describe_alias(spec.rpartition("/")[2])
    assert alias["collection_name"] == manifest["dense"]["collection"]

    qa = esqa.load(index, embedder=HashedEmbedder(), build_if_missing=False)
    assert qa.index.hybrid is not None
    answer = qa.ask("what is ESPA's fourth pillar")
    assert answer.citations
    for citation in answer.citations:
        lines = (SEEDS / citation.source).read_text(encoding="utf-8").split("\n")
        assert citation.quote in "\n".join(lines[citation.line_start - 1 : citation.line_end])
    assert esqa.verify(index).chunks == report.chunks


def test_seed_search_matches_the_embedded_stores(spec, tmp_path):
    embedded, milvus = tmp_path / "embedded", tmp_path / "milvus"
    build_index(SEEDS, embedded, HashedEmbedder())
    build_index(SEEDS, milvus, HashedEmbedder(), store=spec)
    texts = queries(embedded) + ["what is ESPA's fourth pillar", "rare earth exports", "METI"]
    assert overlap(top_ids(milvus, texts), top_ids(embedded, texts)) >= 0.9


def test_incremental_builds_change_sources_in_place_and_match_a_full_build(spec, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = tmp_path / "idx"
    build_index(corpus, index, HashedEmbedder(), store=spec)
    first = state(index)
    before = esqa.load(index, embedder=HashedEmbedder(), build_if_missing=False)
    seen = [h.chunk.id for h in before.search("Quad critical minerals", k=TOP)]

    article = "Quad minerals pact\n\nThe Quad agreed on critical minerals with Japan and India.\n"
    write_corpus(corpus, {"zz_" + HOSTILE: article})
    report = build_index(corpus, index, HashedEmbedder())  # the recorded store, not embedded
    second = state(index)
    assert report.incremental and report.embedded >= 1
    assert second["collection"] == first["collection"]  # in place
    assert second["generation"] == first["generation"] + 1
    # An unchanged file's rows stay as they were written, and its vectors were not read back.
    kept = client(spec).query(
        second["collection"], filter='source == "000_f449784ec6a8c697.txt"', output_fields=["born"]
    )
    assert kept and {r["born"] for r in kept} == {first["generation"]}
    assert report.reused == report.chunks - report.embedded
    # A reader of the previous generation sees what it saw: not the new rows.
    assert [h.chunk.id for h in before.search("Quad critical minerals", k=TOP)] == seen

    (corpus / ("zz_" + HOSTILE)).write_text(article.replace("India", "Australia"))
    (corpus / "001_9c16898d448cd4fa.txt").unlink()
    build_index(corpus, index, HashedEmbedder())
    full = tmp_path / "full"
    build_index(corpus, full, HashedEmbedder())
    texts = queries(full) + ["Quad critical minerals Australia", "India"]
    # The same chunks as a build from scratch; BM25 statistics are per segment on the
    # server, so ranks may differ where scores are close.
    assert overlap(top_ids(index, texts), top_ids(full, texts)) >= 0.9
    loaded = load_index(index, HashedEmbedder.model_id, HashedEmbedder.dimension)
    sources = {c.source for c in loaded.chunks.values()}
    found = {loaded.chunks[i].source for i in top_ids(index, ["Quad Australia"], 3)[0]}
    assert "zz_" + HOSTILE in found and "001_9c16898d448cd4fa.txt" not in sources
    # Rows no kept generation reads are gone: the first version of the hostile file.
    rows = client(spec).query(
        second["collection"], filter=f"source == {quoted('zz_' + HOSTILE)}", output_fields=["born"]
    )
    assert {r["born"] for r in rows} <= {second["generation"], second["generation"] + 1}


def test_a_full_build_writes_a_new_collection_and_switches_the_alias(spec, tmp_path):
    index = tmp_path / "idx"
    build_index(SEEDS, index, HashedEmbedder(), store=spec)
    first = state(index)["collection"]
    build_index(SEEDS, index, HashedEmbedder(), full=True)
    second = state(index)["collection"]
    build_index(SEEDS, index, HashedEmbedder(), full=True)
    third = state(index)["collection"]
    assert len({first, second, third}) == 3
    names = set(client(spec).list_collections())
    assert third in names and second in names  # the previous generation's readers keep it
    assert first not in names
    assert client(spec).describe_alias(spec.rpartition("/")[2])["collection_name"] == third


def test_a_killed_build_leaves_the_previous_collection_serving(spec, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = tmp_path / "idx"
    build_index(corpus, index, HashedEmbedder(), store=spec)
    texts = queries(index)
    before = top_ids(index, texts)
    write_corpus(corpus, {"zz_new.txt": "Rapidus chips\n\n" + " ".join(texts) + "\n"})
    signals = tmp_path / "signals"
    signals.mkdir()
    env = {
        **os.environ,
        "ESQA_TEST_PAUSE_AT": "before:os.rename",
        "ESQA_TEST_SIGNALS": str(signals),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            str(HELPER),
            "index",
            "build",
            "--corpus",
            str(corpus),
            "--index",
            str(index),
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not (signals / "before:os.rename.reached").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)  # its rows are on the server, its index is not
    finally:
        process.wait()
    assert top_ids(index, texts) == before
    build_index(corpus, index, HashedEmbedder())  # and the next build recovers
    assert any("zz_new.txt" == load_index(index, HashedEmbedder.model_id, 64).chunks[i].source
               for i in top_ids(index, [texts[0]], 3)[0])  # fmt: skip


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    monkeypatch.setenv("ESQA_EMBEDDER", "conftest:HashedEmbedder")
    return CliRunner()


def test_the_cli_builds_asks_adds_and_verifies_on_milvus(spec, tmp_path, runner):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = tmp_path / "idx"
    where = ["--corpus", str(corpus), "--index", str(index)]
    built = runner.invoke(cli, ["index", "build", *where, "--store", spec])
    assert built.exit_code == 0, built.output
    assert runner.invoke(cli, ["ask", "who chairs METI?", *where]).exit_code == 0
    new = tmp_path / "new.txt"
    new.write_text("Lynas and JOGMEC\n\nJOGMEC invested in the Lynas rare earth project.\n")
    added = runner.invoke(cli, ["add", str(new), *where])
    assert added.exit_code == 0, added.output
    hits = runner.invoke(cli, ["search", "JOGMEC Lynas", "--json", *where])
    assert json.loads(hits.stdout)[0]["source"] == "new.txt"
    info = runner.invoke(cli, ["info", "--json", *where])
    assert json.loads(info.stdout)["dense"]["store"] == spec
    verified = runner.invoke(cli, ["index", "verify", "--index", str(index)])
    assert verified.exit_code == 0, verified.output


def test_an_unreachable_server_or_a_changed_collection_is_one_line_naming_it(
    tmp_path, runner, spec
):
    down = f"milvus://127.0.0.1:{free_port()}/news"
    result = runner.invoke(cli, ["index", "build", "--index", str(tmp_path / "a"), "--store", down])
    line = one_error_line(result)
    assert "127.0.0.1" in line and "start the server" in line

    index = tmp_path / "b"
    build_index(SEEDS, index, HashedEmbedder(), store=spec)
    collection = state(index)["collection"]
    client(spec).alter_collection_properties(collection, {"esqa.model": "other/model"})
    line = one_error_line(runner.invoke(cli, ["search", "ESPA", "--index", str(index)]))
    assert "holds other/model vectors" in line and "127.0.0.1" in line
    assert "esqa index build" in line
    client(spec).drop_collection(collection)
    line = one_error_line(runner.invoke(cli, ["search", "ESPA", "--index", str(index)]))
    assert "is gone" in line and "esqa index build --full" in line


def test_another_index_or_models_collection_or_a_bad_spec_is_refused(spec, tmp_path, runner):
    build_index(SEEDS, tmp_path / "a", HashedEmbedder(), store=spec)

    class Other(HashedEmbedder):
        model_id, dimension = "test/other", 32

    alias = spec.rpartition("/")[2]
    serving = client(spec).describe_alias(alias)["collection_name"]
    with pytest.raises(
        esqa.EsqaError, match=r"serves the index .*a \(test/hashed-bag-of-words, 64"
    ):
        build_index(SEEDS, tmp_path / "b", Other(), store=spec)  # another index, another model
    assert client(spec).describe_alias(alias)["collection_name"] == serving  # untouched
    build_index(SEEDS, tmp_path / "a", Other(), full=True)  # its own index may change model
    assert client(spec).describe_alias(alias)["collection_name"] != serving
    for bad in ("milvus://localhost/news", "milvus://h:19530/9lives", "qdrant://h:1/x"):
        line = one_error_line(runner.invoke(cli, ["index", "build", "--store", bad]))
        assert repr(bad) in line and "--store" in line


def test_quoted_names_survive_the_servers_filter_parser():
    tokens = pytest.importorskip("milvus_lite.search.filter.tokens")
    for name in (HOSTILE, "", "tab\there", "line\nbreak", "ünï €", "\\", '"'):
        parsed = tokens.tokenize(f"source == {quoted(name)}")
        assert [t.value for t in parsed if t.kind.name == "STRING"] == [name]
    with pytest.raises(ValueError):
        quoted("bell\x07")
