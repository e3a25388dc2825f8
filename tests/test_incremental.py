"""Incremental `build_index`: reuse what the previous index holds, end up where a full build does.

An incremental build writes the new and changed files into a new segment and
deletes the chunks they replace; the comparison with a build from scratch is
therefore by what a reader sees (live chunks in corpus order, their vectors,
acronyms, search results), not by chunk ids, which segments number otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SEEDS, HashedEmbedder, distinct_sentences, write_corpus

import esqa.index.build
from esqa.index.build import build_index
from esqa.index.manifest import ACRONYMS
from esqa.index.reader import load_index
from esqa.index.search import hybrid_search
from esqa.ingest.chunking import ChunkingParams
from esqa.types import Chunk

MODEL = (HashedEmbedder.model_id, HashedEmbedder.dimension)
QUERIES = [
    "ESPA fourth pillar",
    "rare earths supply chains",
    "Institute of Geoeconomics director",
    "semiconductor subsidies Rapidus",
    "undersea cables satellites",
]
EXTRA = (
    "Undersea cables join the list\n\n"
    "The ministry will add undersea cables and satellites to the critical products "
    "named under the Economic Security Promotion Act (ESPA), officials said on Friday.\n\n"
    "A public comment period opens next month.\n"
)
# The paragraphs 001 and 004 of the seeds share: 004's copies are dropped while 001 is there.
SHARED_WITH_004 = "001_9c16898d448cd4fa.txt"


class NoModel(HashedEmbedder):
    """Counts like the fake model but fails if anything is embedded."""

    def embed(self, texts, batch_size=32, progress=None):
        raise AssertionError(f"embedded {len(texts)} texts; nothing should need embedding")


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    shutil.copytree(SEEDS, root)
    for path in root.iterdir():
        path.chmod(0o644)  # the seeds are read-only; the tests edit copies
    return root


@pytest.fixture
def index(corpus, tmp_path) -> Path:
    path = tmp_path / "indexes" / "default"
    build_index(corpus, path, HashedEmbedder())
    return path


def live_chunks(index: Path, model: tuple[str, int] = MODEL) -> list[Chunk]:
    """The index's live chunks in corpus order (file, then place in it)."""
    loaded = load_index(index, *model)
    return [loaded.chunks[i] for i in sorted(loaded.chunks, key=loaded.chunks.order_key)]


def content(index: Path, model: tuple[str, int] = MODEL) -> tuple[list[dict], str]:
    """What a reader can see of the index's text: chunks (without ids) and acronyms."""
    chunks = [
        {k: v for k, v in c.to_dict().items() if k != "id"} for c in live_chunks(index, model)
    ]
    return chunks, (index.resolve() / ACRONYMS).read_text(encoding="utf-8")


def vectors(index: Path, model: tuple[str, int] = MODEL) -> list[bytes]:
    """Each live chunk's vector and its sentences' vectors, in corpus order."""
    loaded = load_index(index, *model)
    ids = sorted(loaded.chunks, key=loaded.chunks.order_key)
    sentences = [loaded.chunks.sentence_vectors(i) for i in ids]
    assert all(s is not None for s in sentences)
    return [row.tobytes() for row in loaded.dense.vectors(ids)] + [
        s.tobytes() for s in sentences if s is not None
    ]


def top_k(index: Path) -> list[list[tuple[str, int, int, str, float, float | None, float | None]]]:
    embedder = HashedEmbedder()
    loaded = load_index(index, embedder.model_id, embedder.dimension)
    out = []
    for query in QUERIES:
        hits = hybrid_search(loaded, query, embedder.embed([query])[0], 8)
        out.append(
            [
                (h.source, h.chunk.paragraph, h.chunk.line_start, h.text, h.score)
                + (h.dense_score, h.lexical_score)
                for h in hits
            ]
        )
    return out


def assert_same_as_full_build(corpus: Path, index: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    shutil.rmtree(full, ignore_errors=True)
    report = build_index(corpus, full, HashedEmbedder(), full=True)
    assert not report.incremental and report.reused == 0
    assert content(index) == content(full)
    assert top_k(index) == top_k(full)
    assert vectors(index) == vectors(full)
    loaded = load_index(index, HashedEmbedder.model_id, HashedEmbedder.dimension)
    assert loaded.manifest.counts == load_index(full, *MODEL).manifest.counts


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_after_adding_changing_and_removing_files_the_index_equals_a_full_build(
    corpus, index, tmp_path
):
    before = json.loads((index.resolve() / "manifest.json").read_text(encoding="utf-8"))
    write_corpus(corpus, {"new/extra.txt": EXTRA})
    edit(corpus / "000_f449784ec6a8c697.txt", "four panel discussions", "five panel discussions")
    (corpus / "002_28dcf7c095409e64.txt").unlink()
    embedder = HashedEmbedder()

    report = build_index(corpus, index, embedder)

    assert report.incremental
    # What the report says it embedded (chunks and their sentences), it did.
    assert report.embedded + report.embedded_sentences == embedder.calls
    assert report.reused + report.embedded == report.chunks
    assert report.reused > 10 * report.embedded
    assert report.chunked_files == 2  # the new file and the edited one
    assert report.files == before["counts"]["files"]  # one added, one removed
    assert_same_as_full_build(corpus, index, tmp_path)


def test_only_the_new_file_is_embedded(corpus, index):
    write_corpus(corpus, {"extra.txt": EXTRA})
    embedder = HashedEmbedder()
    report = build_index(corpus, index, embedder)
    loaded = load_index(index, embedder.model_id, embedder.dimension)
    new_chunks = [c for c in loaded.chunks.values() if c.source == "extra.txt"]
    assert new_chunks
    assert report.embedded == len(new_chunks)
    assert report.embedded_sentences == distinct_sentences(new_chunks)
    assert embedder.calls == report.embedded + report.embedded_sentences


def test_a_rebuild_of_an_unchanged_corpus_never_touches_the_model(corpus, index, tmp_path):
    report = build_index(corpus, index, NoModel())
    assert report.incremental
    assert report.embedded == 0 and report.chunked_files == 0
    assert report.reused == report.chunks
    assert_same_as_full_build(corpus, index, tmp_path)


def test_removing_files_embeds_nothing(corpus, index, tmp_path):
    (corpus / "003_116bf12851cd3169.txt").unlink()
    report = build_index(corpus, index, NoModel())
    assert report.files == 4 and report.embedded == 0
    assert_same_as_full_build(corpus, index, tmp_path)


def test_removing_the_fuller_copy_brings_back_the_paragraphs_it_had_made_redundant(
    corpus, index, tmp_path
):
    shared_before = json.loads((index.resolve() / "sources.json").read_text())["sources"]
    assert shared_before["004_55f16e264c431d7b.txt"]["dropped"]  # the premise
    (corpus / SHARED_WITH_004).unlink()
    report = build_index(corpus, index, HashedEmbedder())
    # 004 is unchanged on disk but its dropped paragraphs are not: it is chunked again.
    assert report.chunked_files == 1
    assert report.duplicates == 0
    assert_same_as_full_build(corpus, index, tmp_path)


def test_adding_a_fuller_copy_drops_the_paragraph_of_an_unchanged_file(corpus, index, tmp_path):
    (corpus / SHARED_WITH_004).rename(corpus / "zz_later.txt")  # now after 004 in corpus order
    build_index(corpus, index, HashedEmbedder(), full=True)
    source = (corpus / "004_55f16e264c431d7b.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in source.split("\n\n") if len(p.split()) > 25]
    fuller = paragraphs[0] + " It was the first such step, officials added on Friday."
    write_corpus(corpus, {"aaa_fuller.txt": "A fuller copy\n\n" + fuller + "\n"})
    report = build_index(corpus, index, HashedEmbedder())
    assert report.chunked_files == 2  # the new file, and 004 which lost a paragraph to it
    assert_same_as_full_build(corpus, index, tmp_path)


def test_a_renamed_file_is_chunked_again_but_not_embedded_again(corpus, index, tmp_path):
    (corpus / "000_f449784ec6a8c697.txt").rename(corpus / "renamed.txt")
    report = build_index(corpus, index, NoModel())
    assert report.chunked_files == 1 and report.embedded == 0
    assert_same_as_full_build(corpus, index, tmp_path)


def test_touching_a_file_without_changing_it_reuses_its_chunks(corpus, index):
    path = corpus / "000_f449784ec6a8c697.txt"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    report = build_index(corpus, index, NoModel())
    assert report.chunked_files == 0


def test_full_embeds_every_chunk(corpus, index):
    embedder = HashedEmbedder()
    report = build_index(corpus, index, embedder, full=True)
    assert not report.incremental
    assert report.embedded == report.chunks
    assert embedder.calls == report.chunks + report.embedded_sentences
    assert report.chunked_files == report.files


def test_the_manifest_records_how_the_index_was_built(corpus, index):
    write_corpus(corpus, {"extra.txt": EXTRA})
    report = build_index(corpus, index, HashedEmbedder())
    manifest = json.loads((index.resolve() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["build"] == {
        "incremental": True,
        "reused_chunks": report.reused,
        "embedded_chunks": report.embedded,
        "chunked_files": 1,
        "written_chunks": report.embedded,  # one new segment, of the new file's chunks
        "deleted_chunks": 0,
        "merged_segments": 0,
    }


def test_an_index_of_another_model_is_not_reused(corpus, index, tmp_path):
    class OtherModel(HashedEmbedder):
        model_id = "test/another-model"

    embedder = OtherModel()
    report = build_index(corpus, index, embedder)
    assert not report.incremental
    assert embedder.calls == report.chunks + report.embedded_sentences
    assert any("not reused" in w for w in report.warnings)


def segment_file(index: Path, name: str) -> Path:
    """A file of the index's (first) segment."""
    return next(index.resolve().glob(f"segments/*/{name}"))


def test_a_damaged_previous_index_is_rebuilt_from_scratch(corpus, index, tmp_path):
    dense = segment_file(index, "dense.faiss")
    dense.write_bytes(dense.read_bytes()[:-100])
    embedder = HashedEmbedder()
    report = build_index(corpus, index, embedder)
    assert not report.incremental
    assert embedder.calls == report.chunks + report.embedded_sentences
    warning = next(w for w in report.warnings if "not reused" in w)
    assert "dense.faiss" in warning
    assert_same_as_full_build(corpus, index, tmp_path)


def test_new_chunking_parameters_rechunk_every_file_but_reuse_vectors_of_same_text(
    corpus, index, tmp_path
):
    params = ChunkingParams(max_tokens=256, overlap=0)
    embedder = HashedEmbedder()
    report = build_index(corpus, index, embedder, params=params)
    assert report.incremental and report.chunked_files == report.files
    assert embedder.calls == report.embedded + report.embedded_sentences
    assert report.embedded < report.chunks
    full = tmp_path / "full"
    build_index(corpus, full, HashedEmbedder(), params=params, full=True)
    assert content(index) == content(full)


def test_changed_ingestion_code_rechunks_every_file(corpus, index, monkeypatch):
    monkeypatch.setattr(esqa.index.build, "ingestion_fingerprint", lambda: "another parser")
    report = build_index(corpus, index, NoModel())
    assert report.chunked_files == report.files
    assert report.embedded == 0  # same text, same vectors


def test_reused_vectors_are_the_stored_ones(corpus, index):
    embedder = HashedEmbedder()
    before = load_index(index, embedder.model_id, embedder.dimension)
    by_text = {c.text: before.dense.vectors([c.id])[0] for c in before.chunks.values()}
    write_corpus(corpus, {"extra.txt": EXTRA})
    build_index(corpus, index, embedder)
    after = load_index(index, embedder.model_id, embedder.dimension)
    for chunk in after.chunks.values():
        if chunk.source != "extra.txt":
            np.testing.assert_array_equal(after.dense.vectors([chunk.id])[0], by_text[chunk.text])


def _edit_manifest(index: Path, edit) -> None:
    path = index.resolve() / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_files_without_a_checksum_in_the_manifest_are_not_carried_forward(corpus, index, tmp_path):
    _edit_manifest(index, lambda m: m.update(filesX=m.pop("files")))  # a garbled key
    chunks = segment_file(index, "chunks.jsonl")
    chunks.write_text(chunks.read_text(encoding="utf-8").replace("rare earth", "rare metal"))
    report = build_index(corpus, index, HashedEmbedder())
    assert not report.incremental
    assert any("checksum" in w for w in report.warnings)
    assert_same_as_full_build(corpus, index, tmp_path)


def test_a_garbled_manifest_field_does_not_stop_the_rebuild_that_repairs_it(corpus, index):
    name = "segments/000001/chunks.jsonl"
    _edit_manifest(index, lambda m: m["files"][name].update(sha256X=m["files"][name]["sha256"]))
    _edit_manifest(index, lambda m: m["files"][name].pop("sha256"))
    report = build_index(corpus, index, HashedEmbedder())
    assert not report.incremental
    assert any("manifest.json is damaged" in w for w in report.warnings)
    load_index(index, HashedEmbedder.model_id, HashedEmbedder.dimension)


@pytest.mark.real
def test_an_unchanged_rebuild_with_the_real_model_never_loads_it(real_seed_index, tmp_path):
    from esqa.embed.sentence_transformers import SentenceTransformerEmbedder

    index = tmp_path / "idx"
    shutil.copytree(real_seed_index.resolve(), index)
    embedder = SentenceTransformerEmbedder()
    report = build_index(SEEDS, index, embedder)
    assert report.incremental and report.embedded == 0
    assert "_model" not in vars(embedder)  # the cached property was never computed


@pytest.mark.real
def test_with_int8_onnx_documents_an_incremental_build_equals_a_full_one(
    corpus, tmp_path, onnx_cache
):
    """The issue's reproduction: after adding one article to the seeds, no
    vector was bit-identical to a full build's and 4 of 30 development
    questions got other answers, because int8 vectors moved with the texts
    batched beside them."""
    from esqa.embed.onnx_runtime import OnnxEmbedder

    embedder = OnnxEmbedder(cache=onnx_cache, precision="int8")
    index, full = tmp_path / "incremental", tmp_path / "full"
    build_index(corpus, index, embedder)
    write_corpus(corpus, {"new/extra.txt": EXTRA})
    assert build_index(corpus, index, embedder).incremental
    build_index(corpus, full, embedder, full=True)
    model = (embedder.model_id, embedder.dimension)
    assert content(index, model) == content(full, model)
    assert vectors(index, model) == vectors(full, model)
