"""esqa.index.changes: which corpus files changed since the index was built."""

from __future__ import annotations

import datetime
import os
import pathlib
import time

import pytest
from conftest import HashedEmbedder, write_corpus

import esqa.api
import esqa.index.build
import esqa.index.changes
import esqa.index.manifest
import esqa.index.reader
from esqa.index.build import build_index
from esqa.index.changes import CorpusChanges, compare_corpus
from esqa.index.manifest import SourceRecords, read_manifest, read_sources


def corpus_changes(records: SourceRecords, corpus) -> CorpusChanges:
    """The comparison record by record (a digest that never matches)."""
    return compare_corpus(corpus, "", lambda: records, began_ns=records.began_ns, racy_files=-1)


A = "Rates rise\n\nThe central bank raised its main rate by a quarter point on Tuesday.\n"
B = "Chip rules\n\nJapan will tighten controls on exports of chip-making equipment, officials said.\n"


def recorded_sources(index) -> SourceRecords:
    directory, manifest = read_manifest(index)
    return read_sources(index, directory, manifest)


HOUR_NS = 3600 * 10**9


@pytest.fixture
def setup(tmp_path):
    """A corpus last edited an hour before its build, as most corpora are."""
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": A, "sub/b.txt": B, "empty.txt": b""})
    for path in corpus.rglob("*.txt"):
        _shift(path, -HOUR_NS)
    index = tmp_path / "idx"
    build_index(corpus, index, HashedEmbedder())
    recorded = recorded_sources(index)
    return corpus, recorded


def _shift(path, ns: int) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + ns))


def _later(path) -> None:
    _shift(path, 5_000_000_000)


def _racily_clean_edit(path, old: str, new: str) -> None:
    """Edit a file to the same size and give it back its modification time, as a
    second edit within the timestamp tick of the build's read leaves it."""
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    assert len(old) == len(new) and old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_fresh_index_is_up_to_date(setup):
    corpus, recorded = setup
    changes = corpus_changes(recorded, corpus)
    assert (changes.added, changes.changed, changes.removed) == ((), (), ())
    assert not changes.stale


def test_an_added_file_is_reported(setup):
    corpus, recorded = setup
    write_corpus(corpus, {"new/c.txt": A.replace("Rates", "Yields")})
    changes = corpus_changes(recorded, corpus)
    assert changes.added == ("new/c.txt",)
    assert changes.changed == () and changes.removed == ()
    assert changes.stale


def test_a_file_whose_content_changed_is_reported(setup):
    corpus, recorded = setup
    path = corpus / "a.txt"
    path.write_text(A.replace("quarter", "half"), encoding="utf-8")
    _later(path)
    changes = corpus_changes(recorded, corpus)
    assert changes.changed == ("a.txt",)
    assert changes.added == () and changes.removed == ()


def test_a_same_size_edit_is_reported(setup):
    corpus, recorded = setup
    path = corpus / "sub" / "b.txt"
    path.write_text(B.replace("chip", "ship"), encoding="utf-8")
    _later(path)
    assert corpus_changes(recorded, corpus).changed == ("sub/b.txt",)


def test_a_removed_file_is_reported(setup):
    corpus, recorded = setup
    (corpus / "a.txt").unlink()
    changes = corpus_changes(recorded, corpus)
    assert changes.removed == ("a.txt",)
    assert changes.added == () and changes.changed == ()


def test_touching_a_file_without_changing_it_is_not_a_change(setup):
    corpus, recorded = setup
    _later(corpus / "a.txt")
    assert not corpus_changes(recorded, corpus).stale


def test_a_skipped_empty_file_is_not_reported_as_added(setup):
    corpus, recorded = setup
    assert "empty.txt" in recorded.skipped
    changes = corpus_changes(recorded, corpus)
    assert "empty.txt" not in changes.added + changes.changed


def test_touching_a_skipped_empty_file_is_not_a_change(setup):
    corpus, recorded = setup
    _later(corpus / "empty.txt")
    assert not corpus_changes(recorded, corpus).stale


def test_a_skipped_file_that_gains_text_is_reported(setup):
    corpus, recorded = setup
    path = corpus / "empty.txt"
    path.write_text(A, encoding="utf-8")
    _later(path)
    assert corpus_changes(recorded, corpus).stale


def test_an_untouched_corpus_is_checked_without_hashing_a_file(setup, monkeypatch):
    corpus, recorded = setup
    hashed = []
    monkeypatch.setattr(esqa.index.changes, "sha256_file", lambda path: hashed.append(path) or "")
    assert not corpus_changes(recorded, corpus).stale
    assert hashed == []


def _coarse_corpus(tmp_path, files):
    """A corpus on a file system that keeps whole seconds (as FAT, some network
    ones): every file's modification time is this second, to the nanosecond."""
    corpus = write_corpus(tmp_path / "corpus", files)
    second = time.time_ns() // 10**9 * 10**9
    for path in corpus.rglob("*.txt"):
        os.utime(path, ns=(second, second))
    return corpus, second


@pytest.fixture
def clock(monkeypatch):
    """Set what the build's settling step takes for now (esqa.index.changes._now_ns)."""

    def at(ns: int) -> None:
        monkeypatch.setattr(esqa.index.changes, "_now_ns", lambda: ns)

    return at


def test_an_edit_within_the_tick_of_the_build_is_reported(tmp_path, clock):
    # The build ends within the tick of the files' last edit: it cannot settle
    # them, and a second edit in that tick leaves the stat as recorded.
    corpus, second = _coarse_corpus(tmp_path, {"a.txt": A, "b.txt": B})
    index = tmp_path / "idx"
    clock(second + 10**9)
    build_index(corpus, index, HashedEmbedder())
    assert read_manifest(index)[1].racy_files == 2
    _racily_clean_edit(corpus / "a.txt", "quarter", "halfway")
    changes, read = _compare(corpus, index)
    assert read and changes.changed == ("a.txt",)
    assert esqa.api._index_stale(index, corpus)


def test_an_incremental_build_indexes_an_edit_made_within_the_tick_of_the_last_one(tmp_path, clock):
    corpus, second = _coarse_corpus(tmp_path, {"a.txt": A, "b.txt": B})
    index = tmp_path / "idx"
    clock(second + 10**9)
    build_index(corpus, index, HashedEmbedder())
    _racily_clean_edit(corpus / "a.txt", "quarter", "halfway")
    report = build_index(corpus, index, HashedEmbedder())
    assert report.incremental
    qa = esqa.api.load(index, corpus, embedder=HashedEmbedder())
    quotes = [h.chunk.text for h in qa.passages("central bank raised its main rate")]
    assert any("halfway point" in q for q in quotes)
    assert not any("quarter point" in q for q in quotes)


def test_a_build_that_outlasts_the_tick_settles_what_it_read(tmp_path, clock):
    # As `esqa add` of an article just copied: by the end of the build a tick
    # has passed, the file is as read, and the next check needs no records.
    corpus, second = _coarse_corpus(tmp_path, {"a.txt": A, "b.txt": B})
    index = tmp_path / "idx"
    clock(second + 10 * 10**9)
    build_index(corpus, index, HashedEmbedder())
    assert read_manifest(index)[1].racy_files == 0
    changes, read = _compare(corpus, index)
    assert not read and not changes.stale


def test_a_file_edited_during_the_build_is_not_settled(tmp_path, clock, monkeypatch):
    corpus, second = _coarse_corpus(tmp_path, {"a.txt": A, "b.txt": B})
    index = tmp_path / "idx"
    clock(second + 10 * 10**9)
    real = esqa.index.changes.sha256_file
    # By the time the build settles its files, a.txt holds other words (same size, same tick).
    monkeypatch.setattr(
        esqa.index.changes,
        "sha256_file",
        lambda path: "0" * 64 if path.name == "a.txt" else real(path),
    )
    build_index(corpus, index, HashedEmbedder())
    assert read_manifest(index)[1].racy_files == 1
    assert "settled" not in recorded_sources(index).sources["a.txt"]


def test_a_skipped_file_that_becomes_readable_text_within_the_tick_is_indexed(tmp_path, clock):
    corpus, second = _coarse_corpus(tmp_path, {"a.txt": A, "bin.txt": b"\0" * len(B)})
    index = tmp_path / "idx"
    clock(second + 10**9)
    build_index(corpus, index, HashedEmbedder())
    assert "bin.txt" in recorded_sources(index).skipped
    path = corpus / "bin.txt"
    path.write_text(B, encoding="utf-8")
    os.utime(path, ns=(second, second))
    build_index(corpus, index, HashedEmbedder())
    assert "bin.txt" in recorded_sources(index).sources


def test_a_touched_file_whose_duplicate_paragraph_is_freed_is_indexed_again(tmp_path):
    # y.txt repeats x.txt's paragraph, so its copy was dropped; with x.txt gone
    # its own copy is kept, so y.txt moves to the new segment while touched.
    shared = "The harbour authority approved the new ferry terminal after a long debate."
    corpus = write_corpus(
        tmp_path / "corpus",
        {"x.txt": f"Ferry plan\n\n{shared}\n", "y.txt": f"Port news\n\n{shared}\n\nMore soon.\n"},
    )
    for path in corpus.rglob("*.txt"):
        _shift(path, -HOUR_NS)
    index = tmp_path / "idx"
    build_index(corpus, index, HashedEmbedder())
    assert recorded_sources(index).sources["y.txt"]["dropped"]
    (corpus / "x.txt").unlink()
    _later(corpus / "y.txt")
    report = build_index(corpus, index, HashedEmbedder())
    assert report.incremental
    recorded = recorded_sources(index)
    assert set(recorded.sources) == {"y.txt"} and not recorded.sources["y.txt"]["dropped"]
    assert recorded.sources["y.txt"]["mtime_ns"] == (corpus / "y.txt").stat().st_mtime_ns
    assert not corpus_changes(recorded, corpus).stale


@pytest.mark.parametrize(
    ("mtime", "began", "racy"),
    [
        (100 * 10**9, 102 * 10**9, True),  # whole seconds: within the 3 s tick
        (100 * 10**9, 104 * 10**9, False),
        (100 * 10**9 + 5, 100 * 10**9 + 50_000_000, True),  # finer times: a 0.1 s tick
        (100 * 10**9 + 5, 101 * 10**9, False),
        (105 * 10**9, 104 * 10**9, True),  # edited after the build began
    ],
)
def test_a_file_is_racy_within_its_file_systems_tick_of_the_build(mtime, began, racy):
    assert esqa.index.manifest.is_racy(mtime, began) is racy


def test_the_build_began_build_seconds_before_it_was_created():
    _, manifest = read_manifest_of_created("2026-12-01T18:00:10+0200", 4.5)
    assert esqa.index.manifest.build_began_ns(manifest) == (
        int(datetime.datetime(2026, 12, 1, 16, 0, 5, 500000, datetime.UTC).timestamp() * 1e9)
    )
    _, unreadable = read_manifest_of_created("yesterday", 4.5)
    assert esqa.index.manifest.build_began_ns(unreadable) == 0  # every file racy


def read_manifest_of_created(created: str, seconds: float):
    manifest = esqa.index.manifest.Manifest.__new__(esqa.index.manifest.Manifest)
    object.__setattr__(manifest, "created", created)
    object.__setattr__(manifest, "build_seconds", seconds)
    return None, manifest


def test_an_incremental_build_records_fresh_stats_so_the_index_is_up_to_date(setup):
    corpus, _ = setup
    _later(corpus / "a.txt")  # touched, same content
    write_corpus(corpus, {"c.txt": A.replace("Rates", "Yields")})
    index = corpus.parent / "idx"
    report = build_index(corpus, index, HashedEmbedder())
    assert report.incremental
    recorded = recorded_sources(index)
    assert not corpus_changes(recorded, corpus).stale
    assert recorded.sources["a.txt"]["mtime_ns"] == (corpus / "a.txt").stat().st_mtime_ns


def test_a_removed_file_disappears_from_the_index_after_a_rebuild(setup):
    corpus, _ = setup
    (corpus / "sub" / "b.txt").unlink()
    index = corpus.parent / "idx"
    build_index(corpus, index, HashedEmbedder())
    recorded = recorded_sources(index)
    assert set(recorded.sources) == {"a.txt"}
    assert not corpus_changes(recorded, corpus).stale


@pytest.fixture
def unreadable(monkeypatch):
    """Make files of mode 000 unreadable, as they are for any user but root.

    Returns a function that locks a file (mode 000); files are unlocked at the end.
    """
    locked: list[pathlib.Path] = []
    if os.geteuid() == 0:
        open_ = pathlib.Path.open

        def checked_open(path, *args, **kwargs):
            try:
                refused = not path.stat().st_mode & 0o777
            except OSError:
                refused = False
            if refused:
                raise PermissionError(13, "Permission denied", str(path))
            return open_(path, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, "open", checked_open)
        monkeypatch.setattr(pathlib.Path, "read_bytes", lambda p: p.open("rb").read())

    def lock(path: pathlib.Path) -> None:
        path.chmod(0)
        locked.append(path)

    yield lock
    for path in locked:
        path.chmod(0o644)


@pytest.fixture
def with_locked(tmp_path, unreadable):
    """A corpus whose locked.txt could not be read when it was indexed."""
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": A, "locked.txt": B})
    unreadable(corpus / "locked.txt")
    index = tmp_path / "idx"
    build_index(corpus, index, HashedEmbedder())
    recorded = recorded_sources(index)
    return corpus, recorded


def test_an_unreadable_file_is_recorded_as_skipped_without_a_hash(with_locked):
    corpus, recorded = with_locked
    record = recorded.skipped["locked.txt"]
    assert "sha256" not in record
    assert record["bytes"] == len(B.encode("utf-8"))
    assert not corpus_changes(recorded, corpus).stale


def test_an_unreadable_file_whose_stat_changes_is_reported(with_locked):
    corpus, recorded = with_locked
    _later(corpus / "locked.txt")
    assert corpus_changes(recorded, corpus).changed == ("locked.txt",)


def test_an_unreadable_file_made_readable_is_reported(with_locked):
    corpus, recorded = with_locked
    (corpus / "locked.txt").chmod(0o644)  # size and mtime unchanged: only the mode
    assert corpus_changes(recorded, corpus).changed == ("locked.txt",)
    index = corpus.parent / "idx"
    build_index(corpus, index, HashedEmbedder())
    recorded = recorded_sources(index)
    assert "locked.txt" in recorded.sources
    assert not corpus_changes(recorded, corpus).stale


def test_an_indexed_file_that_became_unreadable_and_changed_is_reported(setup, unreadable):
    corpus, recorded = setup
    path = corpus / "a.txt"
    path.write_text(A.replace("quarter", "quartet"), encoding="utf-8")  # same size: hashed
    _later(path)
    unreadable(path)
    assert corpus_changes(recorded, corpus).changed == ("a.txt",)


def test_a_file_edited_while_the_build_runs_is_reported(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": A, "sub/b.txt": B})
    real_load_corpus = esqa.index.build.load_corpus

    def load_then_edit(root):
        scan = real_load_corpus(root)
        # Edited after the build read it, before the build recorded it.
        path = corpus / "a.txt"
        path.write_text(A.replace("quarter", "quartet"), encoding="utf-8")  # same size
        _later(path)
        return scan

    monkeypatch.setattr(esqa.index.build, "load_corpus", load_then_edit)
    index = tmp_path / "idx"
    build_index(corpus, index, HashedEmbedder())
    recorded = recorded_sources(index)
    assert corpus_changes(recorded, corpus).changed == ("a.txt",)


def test_documents_carry_the_stat_of_the_file_as_read(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": A})
    (doc,) = esqa.index.build.load_corpus(corpus).documents
    stat = (corpus / "a.txt").stat()
    assert doc.file_stat == (stat.st_size, stat.st_mtime_ns)


# ---------------------------------------------------------------- the stats digest


@pytest.fixture
def clean(tmp_path):
    """A corpus of two indexed files and a skipped empty one, edited an hour before
    its build, and its index."""
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": A, "sub/b.txt": B, "empty.txt": b""})
    for path in corpus.rglob("*.txt"):
        _shift(path, -HOUR_NS)
    index = tmp_path / "idx"
    build_index(corpus, index, HashedEmbedder())
    return corpus, index


def _compare(corpus, index):
    """compare_corpus as a load calls it, and whether it read the records."""
    reads = []

    def records():
        reads.append(1)
        return recorded_sources(index)

    manifest = read_manifest(index)[1]
    changes = esqa.index.changes.compare_corpus(
        corpus,
        manifest.corpus_stats,
        records,
        began_ns=esqa.index.manifest.build_began_ns(manifest),
        racy_files=manifest.racy_files,
    )
    return changes, bool(reads)


def test_an_untouched_corpus_is_compared_without_reading_the_records(clean):
    # The skipped file counts too: else one empty page would cost every check.
    changes, read = _compare(*clean)
    assert not changes.stale and not read


def test_a_corpus_left_racy_by_its_build_is_compared_by_its_records(tmp_path, clock):
    # Its stats match the digest, yet a same-size edit in the same tick would too.
    corpus, second = _coarse_corpus(tmp_path, {"a.txt": A, "sub/b.txt": B})
    index = tmp_path / "idx"
    clock(second + 10**9)
    build_index(corpus, index, HashedEmbedder())
    changes, read = _compare(corpus, index)
    assert read and not changes.stale


def _edit(corpus):
    path = corpus / "sub" / "b.txt"
    path.write_text(B.replace("chip", "ship"), encoding="utf-8")
    _later(path)


MUTATIONS = {
    "touched": lambda corpus: _later(corpus / "a.txt"),
    "edited": _edit,
    "added": lambda corpus: write_corpus(corpus, {"new.txt": A.replace("Rates", "Yields")}),
    "removed": lambda corpus: (corpus / "a.txt").unlink(),
    # A rename keeps every size and time: only the names differ.
    "renamed": lambda corpus: (corpus / "a.txt").rename(corpus / "c.txt"),
    "empty file added": lambda corpus: write_corpus(corpus, {"empty2.txt": b""}),
    "skipped file gains text": lambda corpus: write_corpus(corpus, {"empty.txt": A}),
    "skipped file removed": lambda corpus: (corpus / "empty.txt").unlink(),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_any_change_to_the_listing_or_a_stat_sends_the_check_to_the_records(clean, mutation):
    # What must never happen is the digest matching a corpus whose records
    # would show a change; a touch (same content) may go to the records too.
    corpus, index = clean
    MUTATIONS[mutation](corpus)
    changes, read = _compare(corpus, index)
    assert read
    assert changes == corpus_changes(recorded_sources(index), corpus)


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_load_reports_what_the_records_report(clean, mutation):
    corpus, index = clean
    MUTATIONS[mutation](corpus)
    expected = corpus_changes(recorded_sources(index), corpus)
    assert esqa.api.load(index, corpus, embedder=HashedEmbedder()).changes == expected


def test_a_load_of_an_untouched_corpus_never_reads_the_records(clean, monkeypatch):
    corpus, index = clean

    def fail(*args):
        raise AssertionError("source records read")

    monkeypatch.setattr(esqa.index.reader, "read_sources", fail)
    monkeypatch.setattr(esqa.api, "read_sources", fail)
    qa = esqa.api.load(index, corpus, embedder=HashedEmbedder())
    assert qa.changes is not None and not qa.changes.stale
    assert not esqa.api._index_stale(index, corpus)


def test_a_corpus_with_an_unreadable_file_is_always_compared_record_by_record(clean):
    # Never hashed, so its record cannot vouch for its content (see _changed).
    if os.geteuid() == 0:
        pytest.skip("root reads files of mode 000")
    corpus, index = clean
    locked = write_corpus(corpus, {"locked.txt": A.replace("Rates", "Yields")}) / "locked.txt"
    locked.chmod(0)
    try:
        build_index(corpus, index, HashedEmbedder())
        changes, read = _compare(corpus, index)
        assert read and not changes.stale
    finally:
        locked.chmod(0o644)
