"""esqa.index.build: building, publishing, checking and loading an index directory."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import FIRST_SEGMENT, SEED_BOILERPLATE, HashedEmbedder, seed_lines, write_corpus

import esqa
import esqa.index.publish
from esqa.errors import CorpusError, EsqaError, IndexInvalidError, IndexMissingError
from esqa.index.build import build_index
from esqa.index.chunk_table import CHUNKS as CHUNK_FILE
from esqa.index.manifest import MANIFEST, MANIFEST_SHA256, SOURCES, manifest_digest
from esqa.index.publish import writer_lock
from esqa.index.reader import load_index
from esqa.index.search import hybrid_search
from esqa.ingest.chunking import ChunkingParams
from esqa.ingest.chunks import make_chunks
from esqa.ingest.pages import load_corpus
from esqa.stores.base import merge_ranked
from esqa.stores.bm25_lexical import Bm25LexicalStore
from esqa.stores.faiss_dense import FaissDenseStore

ARTICLE_A = "\n".join(
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
ARTICLE_B = "\n".join(
    [
        "Rare earth imports fall",
        "",
        "Japan imported nearly 60% of its rare earth materials from China in 2022, down from "
        "over 80% in 2009, according to government data.",
        "",
    ]
)
QUERIES = ["undersea cables", "rare earth imports from China", "comment period", "ESPA pillar"]


# The chunk file of the one segment a build from scratch writes.
CHUNKS = f"{FIRST_SEGMENT}/{CHUNK_FILE}"


def load(index: Path, embedder=None):
    embedder = embedder or HashedEmbedder()
    return load_index(index, embedder.model_id, embedder.dimension)


def results(index, embedder=None):
    embedder = embedder or HashedEmbedder()
    out = []
    for q in QUERIES:
        hits = hybrid_search(index, q, embedder.embed([q])[0], 5)
        out.append([(h.chunk, round(h.score, 9)) for h in hits])
    return out


@pytest.fixture
def small_corpus(tmp_path):
    return write_corpus(tmp_path / "corpus", {"a.txt": ARTICLE_A, "b.txt": ARTICLE_B})


@pytest.fixture
def built(small_corpus, tmp_path):
    index = tmp_path / "indexes" / "default"
    build_index(small_corpus, index, HashedEmbedder())
    return index


def test_build_report_counts_what_was_indexed(small_corpus, tmp_path):
    report = build_index(small_corpus, tmp_path / "idx", HashedEmbedder())
    assert report.files == 2
    assert report.articles == 2
    assert report.chunks >= 3  # three body paragraphs at least
    assert report.index == tmp_path / "idx"


def test_loaded_index_searches_like_stores_built_in_memory(small_corpus, built):
    embedder = HashedEmbedder()
    loaded = load(built)
    chunks, _ = make_chunks(
        load_corpus(small_corpus).documents, embedder.count_tokens, ChunkingParams()
    )
    assert sorted(loaded.chunks.values(), key=lambda c: c.id) == chunks
    fresh = FaissDenseStore(embedder.dimension)
    fresh.add(chunks, embedder.embed([c.text for c in chunks]))
    lexical = Bm25LexicalStore()
    lexical.add(chunks)
    for q in QUERIES:
        vector = embedder.embed([q])[0]
        # Equal scores come in corpus order (a store alone leaves them as FAISS found them).
        assert loaded.dense.search(vector, 5) == merge_ranked(fresh.search(vector, 99), 5)
        assert [h.id for h in loaded.lexical.search(q, 5)] == [h.id for h in lexical.search(q, 5)]


def test_loading_twice_gives_identical_results(built):
    assert results(load(built)) == results(load(built))


def test_manifest_records_versions_model_chunking_sources_counts_and_checksums(small_corpus, built):
    directory = built.resolve()
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    assert isinstance(manifest["format_version"], int)
    assert manifest["esqa_version"] == esqa.__version__
    assert manifest["model"] == {"id": "test/hashed-bag-of-words", "dimension": 64}
    assert manifest["chunking"]["max_tokens"] == 256
    assert "overlap" in manifest["chunking"]
    sources = json.loads((directory / SOURCES).read_text(encoding="utf-8"))["sources"]
    assert set(sources) == {"a.txt", "b.txt"}
    data = (small_corpus / "a.txt").read_bytes()
    assert sources["a.txt"]["sha256"] == hashlib.sha256(data).hexdigest()
    counts = manifest["counts"]
    assert counts["files"] == 2
    assert counts["chunks"] == len(load(built).chunks)
    assert {CHUNKS, SOURCES, f"{FIRST_SEGMENT}/dense.faiss"} <= set(manifest["files"])
    assert any(name.startswith(f"{FIRST_SEGMENT}/lexical/") for name in manifest["files"])
    for name, record in manifest["files"].items():
        data = (directory / name).read_bytes()
        assert record["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert record["bytes"] == len(data)


def test_manifest_lists_skipped_files_with_a_reason(tmp_path):
    corpus = write_corpus(tmp_path / "c", {"a.txt": ARTICLE_A, "empty.txt": b""})
    report = build_index(corpus, tmp_path / "idx", HashedEmbedder())
    skipped = load(tmp_path / "idx").sources.skipped
    assert "empty.txt" in skipped
    assert "empty" in skipped["empty.txt"]["reason"]
    assert report.files == 1
    assert any("empty.txt" in w for w in report.warnings)


def _assert_one_line_repair_error(excinfo, name: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    assert name in message
    assert "esqa index build" in message


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _flip], ids=["truncated", "flipped"])
@pytest.mark.parametrize("name", [CHUNKS, f"{FIRST_SEGMENT}/dense.faiss"])
def test_a_damaged_index_file_is_reported_by_name(built, damage, name):
    damage(built.resolve() / name)
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    _assert_one_line_repair_error(excinfo, name)


def test_a_missing_lexical_file_is_reported_by_name(built):
    files = sorted((built.resolve() / FIRST_SEGMENT / "lexical").iterdir())
    files[0].unlink()
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    _assert_one_line_repair_error(excinfo, files[0].name)


def test_an_unparsable_manifest_is_reported_by_name(built):
    (built.resolve() / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    _assert_one_line_repair_error(excinfo, MANIFEST)


def _edit_manifest(index: Path, edit=None, reseal: bool = True, **changes) -> None:
    """Change the manifest; resealed (its checksum recomputed) unless told otherwise,
    so that a test reaches the check it is about rather than the checksum's."""
    path = index.resolve() / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    if edit:
        edit(manifest)
    if reseal:
        manifest[MANIFEST_SHA256] = manifest_digest(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_a_manifest_edited_without_its_checksum_is_refused(built):
    _edit_manifest(built, reseal=False, edit=lambda m: m["counts"].update(chunks=1))
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    _assert_one_line_repair_error(excinfo, MANIFEST)
    assert "checksum mismatch" in str(excinfo.value)


def test_a_manifest_without_its_own_checksum_is_refused(built):
    _edit_manifest(built, reseal=False, edit=lambda m: m.pop(MANIFEST_SHA256))
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    _assert_one_line_repair_error(excinfo, MANIFEST)


def test_the_manifest_checksum_covers_content_not_layout(built):
    path = built.resolve() / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(manifest, sort_keys=True, indent=7), encoding="utf-8")
    assert load(built).manifest.to_dict() == {
        k: v for k, v in manifest.items() if k != MANIFEST_SHA256
    }


def _rename(record: dict, key: str) -> None:
    record[key[:-1] + "X"] = record.pop(key)


RESEALED_DAMAGE = {
    # what a hand edit broke in a manifest whose checksum was then recomputed
    "no files": lambda m: _rename(m, "files"),
    "files not an object": lambda m: m.update(files=[]),
    "no chunks checksum": lambda m: m["files"].pop(CHUNKS),
    "file sha256": lambda m: _rename(m["files"][CHUNKS], "sha256"),
    "file size as text": lambda m: m["files"][CHUNKS].update(bytes="12"),
    "file outside": lambda m: m["files"].update({"../secret": {"sha256": "0" * 64, "bytes": 1}}),
    "model": lambda m: _rename(m, "model"),
    "model dimension": lambda m: m["model"].update(dimension="64"),
    "counts": lambda m: m["counts"].pop("chunks"),
    "build": lambda m: m["build"].update(reused_chunks=None),
    "corpus": lambda m: m.update(corpus=7),
    "corpus stats digest": lambda m: m.pop("corpus_stats"),
    "racy files as text": lambda m: m.update(racy_files="0"),
}


@pytest.mark.parametrize("damage", RESEALED_DAMAGE)
def test_a_resealed_manifest_missing_what_loading_relies_on_is_refused(built, damage):
    _edit_manifest(built, edit=RESEALED_DAMAGE[damage])
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    _assert_one_line_repair_error(excinfo, MANIFEST)
    with pytest.raises(IndexInvalidError):
        esqa.info(built)


RESEALED_SOURCES_DAMAGE = {
    # what a hand edit broke in sources.json, its checksum in the manifest then recomputed
    "source mtime": lambda m: _rename(m["sources"]["a.txt"], "mtime_ns"),
    "source not an object": lambda m: m["sources"].update({"a.txt": None}),
    "skipped size": lambda m: m["skipped"].update(
        {"x.txt": {"bytes": True, "mtime_ns": 1, "reason": "empty file"}}
    ),
    "no skipped": lambda m: m.pop("skipped"),
}


@pytest.mark.parametrize("damage", RESEALED_SOURCES_DAMAGE)
def test_resealed_source_records_missing_what_comparing_relies_on_are_refused(built, damage):
    path = built.resolve() / SOURCES
    records = json.loads(path.read_text(encoding="utf-8"))
    RESEALED_SOURCES_DAMAGE[damage](records)
    data = json.dumps(records).encode("utf-8")
    path.write_bytes(data)
    _edit_manifest(
        built,
        edit=lambda m: m["files"].update(
            {SOURCES: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}}
        ),
    )
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built).sources  # noqa: B018
    _assert_one_line_repair_error(excinfo, SOURCES)
    with pytest.raises(IndexInvalidError):
        esqa.info(built)


def test_an_index_file_without_a_checksum_is_refused(built):
    extra = built.resolve() / FIRST_SEGMENT / "lexical" / "extra.npy"
    extra.write_bytes(b"not listed")
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    _assert_one_line_repair_error(excinfo, f"{FIRST_SEGMENT}/lexical/extra.npy")


class _Payload:
    """Unpickling this creates the file `marker`: proof that code from the index ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_with_a_resealed_manifest_is_never_run(small_corpus, built, tmp_path):
    # Whoever can write the index can recompute every checksum, the manifest's
    # own included: the checksums detect damage, the loaders refuse code. A
    # query reads some files, a build the others (a segment's paragraphs,
    # text hashes and acronym occurrences): neither ever runs code.
    directory = built.resolve()
    names = sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST
    )
    pristine = {name: (directory / name).read_bytes() for name in names}
    manifest_text = (directory / MANIFEST).read_text(encoding="utf-8")
    for n, name in enumerate(names):
        marker = tmp_path / f"code-ran-{n}"
        target = directory / name
        if target.suffix == ".npy":
            np.save(target, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
        else:
            target.write_bytes(pickle.dumps(_Payload(marker)))
        data = target.read_bytes()
        record = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        _edit_manifest(
            built, edit=lambda m, name=name, record=record: m["files"].update({name: record})
        )
        try:
            load(built).sources  # noqa: B018 (the source records are read on demand)
        except IndexInvalidError:
            refused = True
        else:
            refused = False
        assert not marker.exists(), f"loading the index executed code from {name}"
        if not refused:  # a file only builds read: the next one refuses to reuse it
            copy = tmp_path / f"copy-{n}"
            shutil.copytree(built.parent, copy, symlinks=True)
            write_corpus(small_corpus, {"new.txt": ARTICLE_A.replace("cables", "satellites")})
            report = build_index(small_corpus, copy / built.name, HashedEmbedder())
            (small_corpus / "new.txt").unlink()
            assert any("not reused" in w for w in report.warnings), name
            assert not marker.exists(), f"a build executed code from {name}"
        target.write_bytes(pristine[name])
        (directory / MANIFEST).write_text(manifest_text, encoding="utf-8")


def test_another_format_version_is_rejected(built):
    version = load(built).manifest.format_version
    _edit_manifest(built, format_version=version + 1)
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    assert "esqa index build" in str(excinfo.value)


def test_an_index_of_another_model_is_rejected(built):
    with pytest.raises(IndexInvalidError) as excinfo:
        load_index(built, "sentence-transformers/all-MiniLM-L6-v2", 384)
    assert "esqa index build" in str(excinfo.value)
    _edit_manifest(built, model={"id": "other/model", "dimension": 64})
    with pytest.raises(IndexInvalidError):
        load(built)


def test_a_missing_index_raises_index_missing_error(tmp_path):
    with pytest.raises(IndexMissingError) as excinfo:
        load(tmp_path / "nowhere")
    assert "esqa index build" in str(excinfo.value)


def test_no_index_file_is_a_pickle(built):
    files = [p for p in built.resolve().rglob("*") if p.is_file()]
    assert len(files) >= 4
    for path in files:
        with path.open("rb") as f:
            assert f.read(1) != b"\x80", f"{path} looks like a pickle"


class FailingEmbedder(HashedEmbedder):
    def embed(self, texts, batch_size=32, progress=None):
        raise RuntimeError("model crashed")


def _snapshot(index: Path) -> dict[str, bytes]:
    directory = index.resolve()
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file()
    }


def test_a_build_that_fails_leaves_the_previous_index_unchanged(small_corpus, built):
    before_target = built.resolve()
    before = _snapshot(built)
    before_results = results(load(built))
    write_corpus(small_corpus, {"c.txt": ARTICLE_A.replace("Japan", "Korea")})
    with pytest.raises(RuntimeError):
        build_index(small_corpus, built, FailingEmbedder())
    assert built.resolve() == before_target
    assert _snapshot(built) == before
    assert results(load(built)) == before_results


def test_a_build_that_fails_while_writing_leaves_the_previous_index_and_no_debris(
    small_corpus, built, monkeypatch
):
    before = _snapshot(built)
    names_before = sorted(p.name for p in built.parent.iterdir())
    write_corpus(small_corpus, {"new.txt": ARTICLE_A.replace("cables", "satellites")})

    def broken_save(self, directory):
        raise OSError("disk full")

    monkeypatch.setattr(Bm25LexicalStore, "save", broken_save)
    with pytest.raises(OSError):
        build_index(small_corpus, built, HashedEmbedder())
    assert _snapshot(built) == before
    assert sorted(p.name for p in built.parent.iterdir()) == names_before
    load(built)


def test_an_empty_corpus_is_an_error_and_keeps_the_previous_index(tmp_path, built):
    before = _snapshot(built)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError):
        build_index(empty, built, HashedEmbedder())
    assert _snapshot(built) == before


def test_a_second_writer_is_refused_while_the_lock_is_held(small_corpus, built):
    with writer_lock(built):
        with pytest.raises(EsqaError, match="another esqa process"):
            build_index(small_corpus, built, HashedEmbedder())
    build_index(small_corpus, built, HashedEmbedder())  # lock released


def _generation_dirs(index: Path) -> list[Path]:
    return [
        p
        for p in index.parent.iterdir()
        if p.name.startswith(f".{index.name}.") and p.is_dir() and not p.is_symlink()
    ]


def test_the_index_is_a_symlink_swapped_to_a_new_generation(small_corpus, built):
    assert built.is_symlink()
    first = built.resolve()
    build_index(small_corpus, built, HashedEmbedder())
    second = built.resolve()
    assert built.is_symlink()
    assert second != first
    assert first.is_dir(), "the previous generation must survive one rebuild"
    load(built)


def test_older_generations_are_pruned(small_corpus, built):
    for _ in range(3):
        build_index(small_corpus, built, HashedEmbedder())
    generations = _generation_dirs(built)
    assert len(generations) == 2
    assert built.resolve() in generations


def test_the_generation_just_replaced_survives_builds_within_one_second(
    small_corpus, tmp_path, monkeypatch
):
    # Three builds in the same second; random tokens happen to sort in reverse.
    monkeypatch.setattr(esqa.index.publish.time, "strftime", lambda fmt, *args: "20250101T000000")
    tokens = iter(["f" * 32, "e" * 32, "d" * 32])
    monkeypatch.setattr(esqa.index.publish.uuid, "uuid4", lambda: uuid.UUID(next(tokens)))
    index = tmp_path / "idx"
    build_index(small_corpus, index, HashedEmbedder())
    build_index(small_corpus, index, HashedEmbedder())
    previous = index.resolve()
    build_index(small_corpus, index, HashedEmbedder())
    assert previous.is_dir()


def test_an_orphan_generation_is_removed_and_the_replaced_one_kept(small_corpus, built):
    # A build killed after renaming its generation into place, before the swap:
    # the orphan is the newest directory, but no reader can be on it.
    orphan = built.parent / f".{built.name}.29991231T235959-0123abcd"
    orphan.mkdir()
    (orphan / CHUNK_FILE).write_text("never linked", encoding="utf-8")
    replaced = built.resolve()
    build_index(small_corpus, built, HashedEmbedder())
    assert not orphan.exists()
    assert replaced.is_dir()
    assert sorted(_generation_dirs(built)) == sorted([replaced, built.resolve()])


def test_pruning_leaves_the_generations_of_another_index_alone(small_corpus, tmp_path):
    # ".a.b.<time>-<id>" starts with ".a." but belongs to the index "a.b".
    other = tmp_path / "indexes" / "a.b"
    build_index(small_corpus, other, HashedEmbedder())
    theirs = other.resolve()
    for _ in range(3):
        build_index(small_corpus, tmp_path / "indexes" / "a", HashedEmbedder())
    assert theirs.is_dir()
    load(other)


def test_leftovers_of_a_killed_build_are_removed_by_the_next_build(small_corpus, built):
    staging = built.parent / f".{built.name}.tmp-deadbeef"
    staging.mkdir()
    (staging / CHUNK_FILE).write_text("half written", encoding="utf-8")
    os.symlink("nowhere", built.parent / f".{built.name}.link-deadbeef")
    build_index(small_corpus, built, HashedEmbedder())
    assert not staging.exists()
    assert not (built.parent / f".{built.name}.link-deadbeef").is_symlink()
    load(built)


def test_every_chunk_is_verbatim_from_its_cited_lines(fake_seed_index):
    index = load(fake_seed_index)
    assert index.chunks
    files = {source: seed_lines(source) for source in SEED_BOILERPLATE}
    for chunk in index.chunks.values():
        lines = files[chunk.source]
        assert 1 <= chunk.line_start <= chunk.line_end <= len(lines)
        assert chunk.text.strip() and chunk.text == chunk.text.strip()
        assert chunk.text in "\n".join(lines[chunk.line_start - 1 : chunk.line_end])


def test_chunks_of_a_hard_wrapped_paragraph_cite_the_lines_they_are_on(tmp_path):
    lines = ["Rates rise again", ""]
    for i in range(12):
        lines.append(f"line {i:02d} of a long wrapped paragraph about rates and the economy and")
    lines[-1] = lines[-1].removesuffix(" and") + "."
    corpus = write_corpus(tmp_path / "c", {"w.txt": "\n".join(lines) + "\n"})
    build_index(corpus, tmp_path / "idx", HashedEmbedder(), ChunkingParams(max_tokens=40))
    chunks = [c for c in load(tmp_path / "idx").chunks.values() if c.line_start >= 3]
    assert len(chunks) > 1
    assert min(c.line_start for c in chunks) == 3 and max(c.line_end for c in chunks) == 14
    for chunk in chunks:
        assert chunk.text in "\n".join(lines[chunk.line_start - 1 : chunk.line_end])
        parts = chunk.text.split("\n")
        if len(parts) == 1:  # a piece of one line
            assert chunk.line_start == chunk.line_end and parts[0] in lines[chunk.line_start - 1]
            continue
        assert lines[chunk.line_start - 1].endswith(parts[0])  # starts on line_start
        assert lines[chunk.line_end - 1].startswith(parts[-1])  # ends on line_end


def test_no_chunk_of_the_seed_index_covers_a_boilerplate_line(fake_seed_index):
    index = load(fake_seed_index)
    bad = [
        (c.source, n)
        for c in index.chunks.values()
        for n in SEED_BOILERPLATE.get(c.source, [])
        if c.line_start <= n <= c.line_end
    ]
    assert bad == []


def test_chunks_carry_their_article_metadata(fake_seed_index):
    index = load(fake_seed_index)
    espa = [c for c in index.chunks.values() if "ESPA" in c.text]
    assert espa
    assert {(c.source, c.article_title, c.publisher, c.published, c.teaser) for c in espa} == {
        (
            "003_116bf12851cd3169.txt",
            "Japan sets the pace for private sector economic security management",
            "Asia Times",
            "2025-05-05",
            False,
        )
    }


def test_seed_chunks_fit_the_model_window(fake_seed_index):
    index = load(fake_seed_index)
    counter = HashedEmbedder().count_tokens
    assert max(counter([c.text for c in index.chunks.values()])) <= 254
    # the giant single lines of 003 were split into several chunks
    line_18 = [
        c for c in index.chunks.values() if c.source.startswith("003") and c.line_start == 18
    ]
    assert len(line_18) > 1
