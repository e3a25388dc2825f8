"""esqa.index.chunk_table: chunks read one at a time from a saved index, and what loading verifies.

Loading maps `chunks.jsonl` and parses a chunk only when a search returns it;
files over `HASH_ON_LOAD_BYTES` are checked by size at load and by checksum
by `esqa index verify` (and by every build that reuses the index).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIRST_SEGMENT, TWO_ARTICLES, HashedEmbedder, write_corpus
from helpers.checks import one_error_line

import esqa.index.reader
from esqa.cli import cli
from esqa.errors import IndexInvalidError
from esqa.index.build import build_index
from esqa.index.chunk_table import CHUNKS, CRCS, OFFSETS, ChunkTable, article_chunks, write_chunks
from esqa.index.reader import load_index, verify_index
from esqa.index.search import hybrid_search
from esqa.types import Chunk


def chunk(i: int, source: str = "a.txt", title: str | None = "T", text: str = "") -> Chunk:
    return Chunk(
        id=i,
        source=source,
        paragraph=i + 1,
        line_start=2 * i + 1,
        line_end=2 * i + 1,
        text=text or f"Paragraph {i} says “ünïcode” and\ttabs.",
        article_title=title,
        sentences=((0, 5),),
    )


def test_saved_chunks_read_back_equal_by_id(tmp_path):
    chunks = [chunk(0), chunk(1, "b/c.txt", None), chunk(2, text="line one\nline two")]
    write_chunks(tmp_path, chunks)
    table = ChunkTable.open(tmp_path)
    assert len(table) == 3
    assert [table[i] for i in range(3)] == chunks
    assert list(table.values()) == chunks
    assert 3 not in table and -1 not in table and 2 in table
    with pytest.raises(KeyError):
        table[3]
    assert table.get(-1) is None


def test_an_empty_chunk_list_saves_and_opens(tmp_path):
    write_chunks(tmp_path, [])
    table = ChunkTable.open(tmp_path)
    assert len(table) == 0 and list(table.values()) == []


def test_chunks_must_be_numbered_by_position(tmp_path):
    with pytest.raises(ValueError):
        write_chunks(tmp_path, [chunk(0), chunk(2)])


def test_offsets_that_do_not_fit_the_chunk_file_are_refused(tmp_path):
    write_chunks(tmp_path, [chunk(0), chunk(1)])
    with (tmp_path / CHUNKS).open("ab") as f:
        f.write(b"{}\n")
    with pytest.raises(ValueError):
        ChunkTable.open(tmp_path)


def test_article_chunks_are_the_chunks_of_the_same_article_in_file_order(fake_seed_index):
    index = load_index(fake_seed_index, HashedEmbedder.model_id, HashedEmbedder().dimension)
    grouped: dict[tuple[str, str | None], list[Chunk]] = defaultdict(list)
    for c in index.chunks.values():
        grouped[(c.source, c.article_title)].append(c)
    assert any(len({t for s, t in grouped if s == source}) > 1 for source, _ in grouped)
    for c in index.chunks.values():
        expected = sorted(grouped[(c.source, c.article_title)], key=lambda x: x.line_start)
        assert article_chunks(index.chunks, c) == expected


CORPUS = TWO_ARTICLES


@pytest.fixture
def built(tmp_path) -> Path:
    corpus = write_corpus(tmp_path / "corpus", CORPUS)
    build_index(corpus, tmp_path / "idx", HashedEmbedder())
    return tmp_path / "idx"


def load(index: Path):
    return load_index(index, HashedEmbedder.model_id, HashedEmbedder().dimension)


def _garble_same_size(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))


def _ask(index, query: str):
    return hybrid_search(index, query, HashedEmbedder().embed([query])[0], 5)


def test_a_load_hashes_small_files_and_only_sizes_large_ones(built, monkeypatch):
    hashed: list[str] = []
    real = esqa.index.reader.sha256_file
    monkeypatch.setattr(
        esqa.index.reader, "sha256_file", lambda p: hashed.append(p.name) or real(p)
    )
    load(built)
    listed = json.loads((built.resolve() / "manifest.json").read_text())["files"]
    assert len(hashed) == len(listed)  # a small index: every file
    hashed.clear()
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    load(built)
    assert hashed == []


def test_a_large_file_of_another_size_is_refused_at_load(built, monkeypatch):
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    path = built.resolve() / FIRST_SEGMENT / "dense.faiss"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    message = str(excinfo.value)
    assert "dense.faiss" in message and "esqa index build" in message and "\n" not in message


def test_a_damaged_chunk_is_found_when_read_and_named_with_the_repair(built, monkeypatch):
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    _garble_same_size(built.resolve() / FIRST_SEGMENT / CHUNKS, b'"id": 1,', b'"id": 7,')
    index = load(built)  # large files are not hashed at load: the damage is not seen yet
    assert "central bank" in index.chunks[len(index.chunks) - 1].text
    with pytest.raises(IndexInvalidError) as excinfo:
        index.chunks[1]  # noqa: B018
    message = str(excinfo.value)
    assert "line 2" in message and CHUNKS in message and "esqa index build" in message


def test_a_damaged_line_number_that_still_parses_is_never_cited(built, monkeypatch):
    # Same size, valid JSON, right id: only the line's checksum can tell.
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    path = built.resolve() / FIRST_SEGMENT / CHUNKS
    lines = path.read_bytes().splitlines(keepends=True)
    chunk = json.loads(lines[0])
    old = f'"line_end": {chunk["line_end"]}'.encode()
    end = chunk["line_end"]
    new = f'"line_end": {end - end % 10 + (end + 1) % 10}'.encode()  # its last digit
    assert old in lines[0] and len(old) == len(new)
    lines[0] = lines[0].replace(old, new)
    path.write_bytes(b"".join(lines))
    index = load(built)
    with pytest.raises(IndexInvalidError) as excinfo:
        index.chunks[0]  # noqa: B018
    message = str(excinfo.value)
    assert "line 1" in message and "checksum" in message and "esqa index build" in message


@pytest.mark.parametrize(
    "name",
    [f"{FIRST_SEGMENT}/{n}" for n in (CHUNKS, OFFSETS, CRCS, "dense.faiss")] + ["sources.json"],
)
def test_verify_finds_same_size_damage_in_any_file(built, monkeypatch, name):
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    path = built.resolve() / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexInvalidError) as excinfo:
        verify_index(built)
    assert name in str(excinfo.value)


def test_esqa_index_verify_reports_an_intact_index_and_fails_on_damage(built):
    result = CliRunner().invoke(cli, ["index", "verify", "--index", str(built), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["chunks"] == len(load(built).chunks) and report["files"] >= 8
    path = built.resolve() / FIRST_SEGMENT / "dense.faiss"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["index", "verify", "--index", str(built)])
    assert result.exit_code == 2
    assert "dense.faiss" in one_error_line(result)


def test_a_build_does_not_reuse_an_index_whose_large_file_is_damaged(built, monkeypatch):
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    path = built.resolve() / FIRST_SEGMENT / "dense.faiss"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    report = build_index(built.parent / "corpus", built, HashedEmbedder())
    assert not report.incremental and report.embedded == report.chunks
    assert any("not reused" in w and "dense.faiss" in w for w in report.warnings)
    verify_index(built)


# ---- damage in files too large to hash at load: checked where they are read ----------


def _ids_at_the_end(built) -> tuple[Path, int]:
    """dense.faiss ends with the id map of its IndexIDMap2: one int64 per chunk."""
    return built.resolve() / FIRST_SEGMENT / "dense.faiss", len(load(built).chunks)


def _write_ids(path: Path, count: int, ids: list[int]) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) - 8 * count :] = b"".join(i.to_bytes(8, "little", signed=True) for i in ids)
    path.write_bytes(bytes(data))


def test_a_damaged_id_map_in_a_large_dense_file_is_refused_at_load(built, monkeypatch):
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    path, count = _ids_at_the_end(built)
    _write_ids(path, count, [0x4141414141414141] * count)  # the 4 KB of garbage
    with pytest.raises(IndexInvalidError) as excinfo:
        load(built)
    message = str(excinfo.value)
    assert "dense.faiss" in message and "esqa index build" in message and "\n" not in message


def test_a_damaged_id_that_stays_in_range_is_refused_rather_than_mapped_to_another_chunk(
    built, monkeypatch
):
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    path, count = _ids_at_the_end(built)
    _write_ids(path, count, [*range(count - 1), 0])  # the last vector now claims chunk 0
    with pytest.raises(IndexInvalidError, match="dense.faiss"):
        load(built)


def test_a_damaged_postings_header_is_the_one_line_damaged_index_error(built, monkeypatch):
    # numpy parses the header as a Python literal: a flipped bit there raised
    # tokenize.TokenError through every command.
    monkeypatch.setattr(esqa.index.reader, "HASH_ON_LOAD_BYTES", 0)
    path = built.resolve() / FIRST_SEGMENT / "lexical" / "postings.tf.npy"
    data = bytearray(path.read_bytes())
    header = data.index(b"{")
    data[header : header + 1] = b"("
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(
        cli,
        ["search", "central bank", "--index", str(built), "--corpus", str(built.parent / "corpus")],
        env={"ESQA_EMBEDDER": "conftest:HashedEmbedder"},
    )
    line = one_error_line(result)
    assert result.exit_code == 2 and "postings.tf.npy" in line and "esqa index build" in line


def test_a_search_that_returns_a_chunk_the_index_does_not_hold_is_the_damaged_index_error(
    built,
):
    from esqa.stores.base import ScoredId

    index = load(built)

    class Damaged:
        def search(self, vector, k):
            return [ScoredId(len(index.chunks) + 99, 0.9)]

    index.dense = Damaged()  # type: ignore[assignment]
    with pytest.raises(IndexInvalidError) as excinfo:
        _ask(index, "central bank")
    message = str(excinfo.value)
    assert "damaged" in message and "esqa index build" in message and "\n" not in message
