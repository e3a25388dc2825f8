"""Real tier: the seed corpus indexed once with the bundled all-MiniLM-L6-v2 model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import SEED_BOILERPLATE, SEEDS, seed_lines

from esqa import api
from esqa.cli import cli
from esqa.index.reader import load_index
from esqa.ingest.chunking import ChunkingParams, Span, windows


def _window_spans(text, count, params: ChunkingParams | None = None) -> list[Span]:
    """Where each chunk window of a paragraph starts and ends."""
    return [w.span for w in windows(text, count, params or ChunkingParams())]


pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def qa(real_seed_index, real_embedder):
    return api.load(real_seed_index, SEEDS, embedder=real_embedder, build_if_missing=False)


def test_espa_fourth_pillar_ranks_003_line_18_first(qa):
    hits = qa.search("ESPA fourth pillar", k=5)
    top = hits[0].chunk
    assert top.source == "003_116bf12851cd3169.txt"
    assert top.line_start <= 18 <= top.line_end
    assert "ESPA" in top.text or "pillar" in top.text


def test_every_real_chunk_is_verbatim_from_its_cited_lines(qa):
    files = {source: seed_lines(source) for source in SEED_BOILERPLATE}
    for chunk in qa.index.chunks.values():
        lines = files[chunk.source]
        assert chunk.text in "\n".join(lines[chunk.line_start - 1 : chunk.line_end])


def test_no_real_chunk_covers_a_boilerplate_line(qa):
    bad = [
        (c.source, n)
        for c in qa.index.chunks.values()
        for n in SEED_BOILERPLATE[c.source]
        if c.line_start <= n <= c.line_end
    ]
    assert bad == []


def test_real_chunks_fit_the_model_window(qa, real_embedder):
    sizes = real_embedder.count_tokens([c.text for c in qa.index.chunks.values()])
    assert max(sizes) <= real_embedder.max_tokens - 2


def test_teaser_in_001_is_indexed_once_at_004(qa):
    chunks = list(qa.index.chunks.values())
    assert not [
        c for c in chunks if c.source.startswith("001") and c.line_start <= 29 <= c.line_end
    ]
    assert [c for c in chunks if c.source.startswith("004") and c.line_start == 3]


def test_index_records_the_real_model(real_seed_index, real_embedder):
    index = load_index(real_seed_index, real_embedder.model_id, real_embedder.dimension)
    assert index.manifest.model.id == "sentence-transformers/all-MiniLM-L6-v2"
    assert index.manifest.model.dimension == 384
    assert index.manifest.chunking["max_tokens"] == 256


def test_cli_search_json_round_trip(real_seed_index, monkeypatch):
    monkeypatch.setenv("ESQA_EMBEDDER", "sentence-transformers")
    result = CliRunner().invoke(
        cli,
        [
            "search",
            "ESPA fourth pillar",
            "--json",
            "--corpus",
            str(SEEDS),
            "--index",
            str(real_seed_index),
        ],
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["source"] == "003_116bf12851cd3169.txt"
    assert hits[0]["line_start"] <= 18 <= hits[0]["line_end"]
    assert "warning" not in result.stderr  # the index matches the corpus


def test_japanese_text_without_spaces_is_split_within_the_model_window(real_embedder):
    text = (
        "日本政府は経済安全保障推進法に基づき、半導体や重要鉱物の供給網を強化する方針を示した" * 20
        + "。"
    )
    spans = _window_spans(text, real_embedder.count_tokens, ChunkingParams(max_tokens=256))
    sizes = real_embedder.count_tokens([text[s.start : s.end] for s in spans])
    assert max(sizes) <= 254
