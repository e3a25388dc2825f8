"""esqa.index.add: copying article files into the corpus safely, then updating the index."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import HashedEmbedder, distinct_sentences, write_corpus

import esqa
import esqa.index.publish
from esqa import api
from esqa.errors import CorpusError
from esqa.index.add import ADDED, REPLACED, SKIPPED, _name_problem, copy_articles

A = "Rates rise\n\nThe central bank raised its main rate by a quarter point on Tuesday.\n"
B = "Chip rules\n\nJapan will tighten controls on exports of chip-making equipment, officials said.\n"
NEW = (
    "Undersea cables join the list\n\nThe ministry will add undersea cables and satellites "
    "to the critical products named under the promotion act.\n"
)


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "corpus", {"a.txt": A, "b.txt": B})


@pytest.fixture
def index(corpus, tmp_path) -> Path:
    path = tmp_path / "idx"
    api.build(corpus, path, embedder=HashedEmbedder())
    return path


@pytest.fixture
def incoming(tmp_path) -> Path:
    return tmp_path / "incoming"


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def outcome(result) -> dict[str, tuple[str, bool]]:
    return {str(f.source or f.origin): (f.action, f.refused) for f in result.files}


def test_an_added_file_is_copied_and_indexed_without_embedding_the_others(corpus, index, incoming):
    new = write_corpus(incoming, {"cables.txt": NEW}) / "cables.txt"
    embedder = HashedEmbedder()
    result = esqa.add([new], corpus=corpus, index=index, embedder=embedder)
    assert [(f.source, f.action) for f in result.files] == [("cables.txt", ADDED)]
    assert (corpus / "cables.txt").read_bytes() == new.read_bytes()
    assert result.build is not None and result.build.incremental
    qa = api.load(index, corpus, embedder=HashedEmbedder())
    new_chunks = [c for c in qa.index.chunks.values() if c.source == "cables.txt"]
    assert result.build.embedded == len(new_chunks) > 0
    assert result.build.embedded_sentences == distinct_sentences(new_chunks)
    assert embedder.calls == result.build.embedded + result.build.embedded_sentences
    assert qa.search("undersea cables", k=1)[0].source == "cables.txt"


def test_a_folder_adds_every_txt_file_under_it_keeping_relative_paths(corpus, index, incoming):
    write_corpus(
        incoming,
        {
            "one.txt": NEW,
            "2025/06/two.txt": NEW.replace("cables", "ports"),
            "notes.md": "not an article file",
            ".hidden/three.txt": NEW.replace("cables", "drones"),
            "2025/.draft.txt": NEW.replace("cables", "chips"),
        },
    )
    result = api.add([incoming], corpus, index, embedder=HashedEmbedder())
    assert outcome(result) == {"2025/06/two.txt": (ADDED, False), "one.txt": (ADDED, False)}
    assert set(tree(corpus)) == {"a.txt", "b.txt", "one.txt", "2025/06/two.txt"}
    assert result.build is not None and result.build.files == 4


def test_an_identical_file_is_skipped_as_already_present_and_nothing_is_rebuilt(corpus, index):
    before = index.resolve()
    embedder = HashedEmbedder()
    result = api.add([corpus / "a.txt"], corpus, index, embedder=embedder)
    assert [(f.action, f.reason, f.refused) for f in result.files] == [
        (SKIPPED, "already present", False)
    ]
    assert result.build is None
    assert index.resolve() == before and embedder.calls == 0


def test_a_different_file_of_the_same_name_is_kept_unless_replace(corpus, index, incoming):
    other = write_corpus(incoming, {"a.txt": NEW}) / "a.txt"
    result = api.add([other], corpus, index, embedder=HashedEmbedder())
    (skipped,) = result.files
    assert skipped.action == SKIPPED and skipped.refused and "--replace" in skipped.reason
    assert (corpus / "a.txt").read_text(encoding="utf-8") == A

    result = api.add([other], corpus, index, replace=True, embedder=HashedEmbedder())
    assert [f.action for f in result.files] == [REPLACED]
    assert (corpus / "a.txt").read_text(encoding="utf-8") == NEW
    qa = api.load(index, corpus, embedder=HashedEmbedder())
    assert not qa.changes.stale
    assert {c.source for c in qa.index.chunks.values() if "undersea" in c.text} == {"a.txt"}
    assert not any("central bank" in c.text for c in qa.index.chunks.values())


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty"), (b"   \n\n", "empty"), (b"text\x00with NUL bytes\x00", "binary")],
)
def test_files_that_are_not_text_are_refused(corpus, index, incoming, content, reason):
    bad = write_corpus(incoming, {"bad.txt": content}) / "bad.txt"
    before = tree(corpus)
    result = api.add([bad], corpus, index, embedder=HashedEmbedder())
    (refused,) = result.refused
    assert reason in refused.reason
    assert tree(corpus) == before


def test_a_non_txt_file_named_explicitly_is_refused(corpus, incoming):
    page = write_corpus(incoming, {"page.html": "<p>News</p>"}) / "page.html"
    (refused,) = copy_articles([page], corpus).refused
    assert ".txt" in refused.reason
    assert not (corpus / "page.html").exists()


def test_symbolic_links_are_not_followed(corpus, incoming, tmp_path):
    secret = write_corpus(tmp_path / "outside", {"secret.txt": "Secret\n\nDo not copy me.\n"})
    incoming.mkdir()
    (incoming / "link.txt").symlink_to(secret / "secret.txt")
    (incoming / "linked_folder").symlink_to(secret, target_is_directory=True)
    result = copy_articles([incoming / "link.txt", incoming], corpus)
    assert [f.action for f in result.files] == [SKIPPED, SKIPPED]
    assert all("symbolic link" in f.reason for f in result.refused)
    assert set(tree(corpus)) == {"a.txt", "b.txt"}


def test_a_corpus_folder_that_links_outside_is_never_written_through(corpus, incoming, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (corpus / "sub").symlink_to(outside, target_is_directory=True)
    write_corpus(incoming, {"sub/new.txt": NEW})
    result = copy_articles([incoming], corpus)
    (refused,) = result.refused
    assert "outside the corpus" in refused.reason
    assert list(outside.iterdir()) == []


def test_a_symbolic_link_in_the_corpus_is_not_replaced(corpus, incoming, tmp_path):
    target = write_corpus(tmp_path / "outside", {"t.txt": A}) / "t.txt"
    (corpus / "new.txt").symlink_to(target)
    new = write_corpus(incoming, {"new.txt": NEW}) / "new.txt"
    (refused,) = copy_articles([new], corpus, replace=True).refused
    assert "symbolic link" in refused.reason
    assert target.read_text(encoding="utf-8") == A and (corpus / "new.txt").is_symlink()


@pytest.mark.parametrize(
    "name",
    ["../escape.txt", "/etc/passwd.txt", "a/../../escape.txt", "./a.txt", "a//b.txt", "x\\y.txt"],
)
def test_names_that_could_leave_the_corpus_are_refused(name):
    assert _name_problem(name) is not None


@pytest.mark.parametrize("name", [".hidden.txt", "bell\x07.txt", "notes.md", ""])
def test_names_the_index_would_not_see_are_refused(name):
    assert _name_problem(name) is not None


@pytest.mark.parametrize("name", ["a.txt", "2025/06/a b.txt", "Ünïcode-名前.txt"])
def test_plain_relative_txt_names_are_accepted(name):
    assert _name_problem(name) is None


def test_two_files_of_the_same_name_in_one_call_add_the_first_only(corpus, incoming):
    first = write_corpus(incoming / "x", {"same.txt": NEW}) / "same.txt"
    second = write_corpus(incoming / "y", {"same.txt": NEW.replace("cables", "ports")}) / "same.txt"
    result = copy_articles([first, second], corpus, replace=True)
    assert [f.action for f in result.files] == [ADDED, SKIPPED]
    assert (corpus / "same.txt").read_bytes() == first.read_bytes()


def test_adding_a_folder_that_holds_the_corpus_does_not_copy_the_corpus_into_itself(tmp_path):
    root = write_corpus(tmp_path / "project", {"new.txt": NEW, "corpus/a.txt": A})
    corpus = root / "corpus"
    result = copy_articles([root], corpus)
    assert outcome(result) == {"new.txt": (ADDED, False)}
    assert set(tree(corpus)) == {"a.txt", "new.txt"}


def test_a_missing_path_is_reported_not_raised(corpus, tmp_path):
    (refused,) = copy_articles([tmp_path / "nope.txt"], corpus).refused
    assert "no such file" in refused.reason


def test_nothing_is_written_outside_the_corpus_and_no_temporary_file_remains(
    corpus, index, incoming, tmp_path
):
    write_corpus(incoming, {"one.txt": NEW, "two.txt": NEW.replace("cables", "ports")})
    outside_before = {
        p for p in tmp_path.rglob("*") if corpus not in p.parents and index.parent not in p.parents
    }
    api.add([incoming], corpus, index, embedder=HashedEmbedder())
    outside_after = {
        p for p in tmp_path.rglob("*") if corpus not in p.parents and index.parent not in p.parents
    }
    assert outside_after == outside_before
    assert [p.name for p in corpus.iterdir() if p.name.startswith(".")] == []


def test_a_copy_that_fails_leaves_neither_a_partial_file_nor_a_temporary_one(
    corpus, incoming, monkeypatch
):
    new = write_corpus(incoming, {"new.txt": NEW}) / "new.txt"

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(esqa.index.publish.os, "replace", full_disk)
    with pytest.raises(CorpusError, match="No space left"):
        copy_articles([new], corpus)
    assert sorted(p.name for p in corpus.iterdir()) == ["a.txt", "b.txt"]


def test_copies_are_readable_files_not_private_temporaries(corpus, incoming):
    new = write_corpus(incoming, {"new.txt": NEW}) / "new.txt"
    copy_articles([new], corpus)
    assert (corpus / "new.txt").stat().st_mode & 0o644 == 0o644


def test_add_builds_a_missing_index(corpus, incoming, tmp_path):
    new = write_corpus(incoming, {"new.txt": NEW}) / "new.txt"
    result = api.add([new], corpus, tmp_path / "fresh", embedder=HashedEmbedder())
    assert result.build is not None and not result.build.incremental
    assert result.build.files == 3


def test_add_updates_an_index_that_was_already_stale(corpus, index):
    write_corpus(corpus, {"c.txt": NEW})  # put there by hand, without esqa add
    result = api.add([corpus / "a.txt"], corpus, index, embedder=HashedEmbedder())
    assert result.build is not None and result.build.files == 3


def test_the_result_serialises_what_happened_to_each_file(corpus, index, incoming):
    new = write_corpus(incoming, {"new.txt": NEW, "empty.txt": ""})
    result = api.add([new / "new.txt", new / "empty.txt"], corpus, index, embedder=HashedEmbedder())
    data = result.to_dict()
    assert [(f["source"], f["action"], f["refused"]) for f in data["files"]] == [
        ("new.txt", "added", False),
        ("empty.txt", "skipped", True),
    ]
    build = data["build"]
    assert build["incremental"] is True
    assert build["embedded"] > 0 and build["embedded"] + build["reused"] == build["chunks"]


def test_when_another_build_holds_the_lock_the_error_says_the_files_were_copied(
    corpus, index, incoming
):
    new = write_corpus(incoming, {"new.txt": NEW}) / "new.txt"
    with esqa.index.publish.writer_lock(index):
        with pytest.raises(esqa.EsqaError, match=r"copied 1 file.*another esqa process"):
            api.add([new], corpus, index, embedder=HashedEmbedder())
    assert (corpus / "new.txt").read_bytes() == new.read_bytes()
    again = api.add([new], corpus, index, embedder=HashedEmbedder())  # the stale index is updated
    assert [f.reason for f in again.files] == ["already present"]
    assert again.build is not None and again.build.files == 3
