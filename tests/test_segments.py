"""Segments: what an incremental build writes, reads and keeps, and when segments merge.

The results of an incremental build equal a build from scratch's
(test_incremental.py); these tests check what it costs: only changed files are
read, only a new segment is written, the rest is linked, deleted chunks are
never returned, and merges (by policy or `--optimize`) end where `--full` does.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import test_incremental
from click.testing import CliRunner
from conftest import SEEDS, HashedEmbedder, write_corpus
from test_incremental import EXTRA, MODEL, assert_same_as_full_build, content, top_k

import esqa.index.update
import esqa.ingest.pages
from esqa.cli import cli
from esqa.index.build import build_index
from esqa.index.merge_policy import MergePolicy, SegmentSize
from esqa.index.reader import load_index, verify_index
from esqa.index.search import hybrid_search

# The fixtures of the incremental tests: a copy of the seeds, and its index.
corpus = test_incremental.corpus
index = test_incremental.index


def segment_files(index: Path) -> dict[str, int]:
    """Each segment file of the index's current generation, by name, with its inode."""
    directory = index.resolve()
    return {
        p.relative_to(directory).as_posix(): p.stat().st_ino
        for p in (directory / "segments").rglob("*")
        if p.is_file()
    }


def test_adding_a_file_writes_one_segment_and_links_the_others(corpus, index):
    before = segment_files(index)
    write_corpus(corpus, {"extra.txt": EXTRA})
    report = build_index(corpus, index, HashedEmbedder())
    after = segment_files(index)
    kept = {n: i for n, i in after.items() if n.startswith("segments/000001/")}
    assert kept == before  # the same files, not copies: hard links to the same inodes
    new = {n for n in after if n.startswith("segments/000002/")}
    assert new and report.written == report.embedded == report.chunks - report.reused
    assert report.segments == 2 and report.deleted == 0


def test_only_added_and_changed_files_are_read(corpus, index, monkeypatch):
    read: list[str] = []
    real = esqa.ingest.pages.read_document

    def counting(path, source, max_bytes=None):
        read.append(source)
        return real(path, source, max_bytes)

    # Every file a build reads goes through it, by either module's name.
    monkeypatch.setattr(esqa.ingest.pages, "read_document", counting)
    monkeypatch.setattr(esqa.index.update, "read_document", counting)
    write_corpus(corpus, {"extra.txt": EXTRA})
    changed = corpus / "000_f449784ec6a8c697.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nA new closing line.\n")
    report = build_index(corpus, index, HashedEmbedder())
    assert sorted(read) == ["000_f449784ec6a8c697.txt", "extra.txt"]
    assert report.chunked_files == 2


def test_a_removed_file_is_deleted_from_its_segment_and_never_found(corpus, index):
    gone = "003_116bf12851cd3169.txt"
    before = load_index(index, *MODEL)
    ids = {i for i in before.chunks if before.chunks[i].source == gone}
    (corpus / gone).unlink()
    report = build_index(corpus, index, HashedEmbedder())
    assert report.deleted == len(ids) and report.embedded == 0
    after = load_index(index, *MODEL)
    assert after.manifest.deleted == len(ids) and not ids & set(after.chunks)
    assert len(after.manifest.segments) == 1  # nothing to write: the old segment, linked
    embedder = HashedEmbedder()
    for query in ("ESPA fourth pillar", "Japan sets the pace for private sector", "Rapidus"):
        hits = hybrid_search(after, query, embedder.embed([query])[0], 50)
        assert hits and all(h.source != gone for h in hits)


def test_an_article_walk_stays_inside_its_file_across_segments(corpus, index):
    from esqa.index.chunk_table import article_chunks

    write_corpus(corpus, {"extra.txt": EXTRA})
    edited = corpus / "002_28dcf7c095409e64.txt"
    edited.write_text(edited.read_text(encoding="utf-8").replace("the", "that", 3))
    build_index(corpus, index, HashedEmbedder(), policy=None)
    loaded = load_index(index, *MODEL)
    assert len(loaded.manifest.segments) == 2 and loaded.manifest.deleted
    for chunk in loaded.chunks.values():
        same = sorted(
            (c for c in loaded.chunks.values()
             if (c.source, c.article_title) == (chunk.source, chunk.article_title)),
            key=lambda c: c.line_start,
        )  # fmt: skip
        assert article_chunks(loaded.chunks, chunk) == same


OPERATIONS = ("add", "change", "rename", "remove", "touch")


@pytest.mark.parametrize("seed", range(6))
def test_any_sequence_of_changes_searches_as_a_full_build_and_optimize_writes_what_full_does(
    corpus, index, tmp_path, seed
):
    rng = random.Random(seed)
    policy = None if seed % 2 else MergePolicy(factor=3, floor=1)  # merges often, or never
    sentences = [s for p in (SEEDS).glob("*.txt") for s in p.read_text().split(". ") if len(s) > 60]
    for step in range(5):
        names = sorted(p.name for p in corpus.iterdir())
        kind = rng.choice(OPERATIONS)
        if kind == "add" or len(names) < 3:
            body = ". ".join(rng.sample(sentences, 3))
            write_corpus(corpus, {f"new-{seed}-{step}.txt": f"Added {step}\n\n{body}.\n"})
        elif kind == "change":
            path = corpus / rng.choice(names)
            path.write_text(path.read_text(encoding="utf-8") + f"\n{rng.choice(sentences)}.\n")
        elif kind == "rename":
            name = rng.choice(names)
            (corpus / name).rename(corpus / f"renamed-{step}-{name}")
        elif kind == "remove":
            (corpus / rng.choice(names)).unlink()
        else:  # a new modification time, the same content
            path = corpus / rng.choice(names)
            path.write_bytes(path.read_bytes())
        report = build_index(corpus, index, HashedEmbedder(), policy=policy)
        assert report.incremental
        assert_same_as_full_build(corpus, index, tmp_path)
    build_index(corpus, index, HashedEmbedder(), optimize=True)
    full = tmp_path / "full"
    shutil.rmtree(full, ignore_errors=True)
    build_index(corpus, full, HashedEmbedder(), full=True)
    mine, theirs = index.resolve() / "segments", full.resolve() / "segments"
    assert len(list(mine.iterdir())) == 1
    files = sorted(
        p.relative_to(theirs / "000001").as_posix() for p in theirs.rglob("*") if p.is_file()
    )
    segment = next(mine.iterdir())
    for name in files:  # the merged segment is the one a build from scratch writes
        assert (segment / name).read_bytes() == (theirs / "000001" / name).read_bytes(), name
    assert content(index) == content(full) and top_k(index) == top_k(full)
    verify_index(index)


def test_optimize_merges_every_segment_into_one_without_deleted_chunks(corpus, index):
    for n in range(3):
        write_corpus(corpus, {f"extra{n}.txt": distinct_article(n)})
        build_index(corpus, index, HashedEmbedder(), policy=None)
    (corpus / "001_9c16898d448cd4fa.txt").unlink()
    build_index(corpus, index, HashedEmbedder(), policy=None)
    count = len(load_index(index, *MODEL).manifest.segments)
    assert count >= 3 and load_index(index, *MODEL).manifest.deleted
    before = top_k(index)
    report = build_index(corpus, index, HashedEmbedder(), optimize=True)
    loaded = load_index(index, *MODEL)
    assert report.merged == count and report.embedded == 0
    assert [s.base for s in loaded.manifest.segments] == [0] and loaded.manifest.deleted == 0
    assert top_k(index) == before


def distinct_article(n: int) -> str:
    """An article no other shares a paragraph with (so that none is a near-duplicate)."""
    rng = random.Random(n)
    words = [w for w in EXTRA.split() if w.isalpha()]
    return f"Article {n}\n\n" + " ".join(rng.choices(words, k=40)) + ".\n"


def test_the_policy_merges_ten_small_segments_into_one(corpus, index):
    reports = []
    for n in range(10):
        write_corpus(corpus, {f"extra{n}.txt": distinct_article(n)})
        reports.append(build_index(corpus, index, HashedEmbedder()))
    # Tier 0 holds up to 9: the build that writes its 10th segment merges all 10.
    assert [r.segments for r in reports] == [2, 3, 4, 5, 6, 7, 8, 9, 1, 2]
    assert [r.merged for r in reports] == [0] * 8 + [10, 0]
    assert load_index(index, *MODEL).manifest.segments[0].base == 0


def test_an_index_of_an_older_format_is_rebuilt_with_a_warning(corpus, index):
    path = index.resolve() / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format_version"] = 3
    path.write_text(json.dumps(manifest), encoding="utf-8")
    runner = CliRunner()
    env = {"ESQA_EMBEDDER": "conftest:HashedEmbedder"}
    result = runner.invoke(
        cli, ["search", "ESPA", "--corpus", str(corpus), "--index", str(index)], env=env
    )
    assert result.exit_code == 2
    assert "format version 3" in result.stderr and "esqa index build" in result.stderr
    result = runner.invoke(
        cli, ["index", "build", "--corpus", str(corpus), "--index", str(index)], env=env
    )
    assert result.exit_code == 0
    assert "not reused" in result.stderr and "format version 3" in result.stderr


def test_info_shows_segments_deleted_chunks_and_when_a_merge_comes(corpus, index):
    write_corpus(corpus, {"extra.txt": EXTRA})
    (corpus / "003_116bf12851cd3169.txt").unlink()
    build_index(corpus, index, HashedEmbedder(), policy=None)
    env = {"ESQA_EMBEDDER": "conftest:HashedEmbedder"}
    result = CliRunner().invoke(
        cli, ["info", "--corpus", str(corpus), "--index", str(index)], env=env
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    deleted = load_index(index, *MODEL).manifest.deleted
    assert deleted and f"{deleted:,} deleted chunks" in lines["segments"]
    assert "000001" in lines and "000002" in lines
    assert "none due" in lines["merge"] and "tier 0" in lines["merge"]
    data = json.loads(
        CliRunner().invoke(cli, ["info", "--json", "--index", str(index)], env=env).stdout
    )
    assert [s["name"] for s in data["segments"]] == ["000001", "000002"]
    assert data["deleted"] == deleted and data["merge"]["due"] == []


# ---- the policy ---------------------------------------------------------------------


def sizes(*live: int, exact: bool = True) -> list[SegmentSize]:
    return [SegmentSize(f"{n:06d}", chunks, 0, exact) for n, chunks in enumerate(live, start=1)]


def test_a_tier_merges_when_it_holds_ten_segments():
    policy = MergePolicy()
    assert policy.merges(sizes(*[5] * 9)) == []
    merged = policy.merges(sizes(*[5] * 10))
    assert merged == [[f"{n:06d}" for n in range(1, 11)]]
    # A large segment is not in the small ones' tier, and is left alone.
    assert policy.merges([*sizes(*[5] * 9), SegmentSize("big", 1_000_000, 0, False)]) == []


def test_exact_segments_together_above_the_threshold_merge_into_a_graph():
    policy = MergePolicy()
    assert policy.merges(sizes(30_000, 15_000)) == []
    assert policy.merges(sizes(30_000, 15_000, 6_000)) == [["000001", "000002", "000003"]]


def test_a_segment_half_deleted_is_rewritten_and_merges_cascade_to_an_end():
    policy = MergePolicy()
    assert policy.merges([SegmentSize("000001", 100, 49, True)]) == []
    assert policy.merges([SegmentSize("000001", 100, 50, True)]) == [["000001"]]
    many = policy.merges(sizes(*[1] * 100))
    assert len(many) == 11  # ten merges of ten, then the ten merged ones
    assert all(len(group) == 10 for group in many)
