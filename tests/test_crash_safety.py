"""Crash safety and concurrency of the index (issue 4), through the public API and the CLI.

A build in another process (tests/helpers/esqa_fake.py, the fake embedder) is
paused at a moment of its work and killed with SIGKILL, or let go on while this
process reads the index or starts a second build. Whatever happens, the index
must load (checksums verified) and be the previous index or the new one, never
a mixture. Damaged and foreign indexes are refused with one line and exit 2;
nothing in an index is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import FIRST_SEGMENT, TWO_ARTICLES, TWO_ARTICLES_NEXT, HashedEmbedder, write_corpus
from helpers.checks import one_error_line
from helpers.processes import WAIT, Esqa

from esqa import api
from esqa.cli import cli
from esqa.errors import IndexMissingError
from esqa.index.build import build_index
from esqa.index.reader import verify_index

V1 = TWO_ARTICLES
V2 = TWO_ARTICLES_NEXT
QUERIES = ["undersea cables", "central bank rate", "rare earth imports from China", "April"]


def fingerprint(index: Path, embedder: HashedEmbedder | None = None) -> dict:
    """What a reader gets from the index: its chunks and what searches return."""
    qa = api.load(index, embedder=embedder or HashedEmbedder(), build_if_missing=False)
    return reader_view(qa)


def reader_view(qa: api.QA) -> dict:
    chunks = sorted(
        (c.source, c.paragraph, c.line_start, c.line_end, c.text) for c in qa.index.chunks.values()
    )
    hits = {
        q: sorted((h.source, h.chunk.line_start, h.text) for h in qa.search(q, 3)) for q in QUERIES
    }
    return {"chunks": chunks, "hits": hits}


def set_corpus(corpus: Path, files: dict[str, str]) -> Path:
    if corpus.exists():
        shutil.rmtree(corpus)
    return write_corpus(corpus, files)


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> dict[str, dict]:
    """The reader's view of a full build of V1 and of V2, built apart."""
    root = tmp_path_factory.mktemp("versions")
    out = {}
    for name, files in (("old", V1), ("new", V2)):
        corpus = write_corpus(root / name, files)
        api.build(corpus, root / f"{name}-index", embedder=HashedEmbedder())
        out[name] = fingerprint(root / f"{name}-index")
    assert out["old"] != out["new"]
    return out


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path]:
    """An index of V1, then the corpus changed to V2 (so a build has work to do)."""
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    api.build(corpus, index, embedder=HashedEmbedder())
    set_corpus(corpus, V2)
    return corpus, index


def start_build(tmp_path: Path, corpus: Path, index: Path, **kw) -> Esqa:
    return Esqa(tmp_path, "index", "build", "--corpus", corpus, "--index", index, **kw)


# Embedding; every file written but not yet published; the new index complete but not
# yet in place; in place, with older generations not yet pruned.
MOMENTS = ["embed", "before:os.rename", "before:os.replace", "after:os.replace"]


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_build_killed_at_any_moment_leaves_a_complete_index(tmp_path, built, versions, moment):
    corpus, index = built
    build = start_build(tmp_path, corpus, index, pause_at=moment)
    build.wait_paused()
    build.kill()
    after_kill = fingerprint(index)  # loads, every checksum verified
    assert after_kill in (versions["old"], versions["new"])
    if moment == "embed":
        assert after_kill == versions["old"], "nothing new existed yet"
    # The killed build left no lock behind, and the next build is complete.
    api.build(corpus, index, embedder=HashedEmbedder())
    assert fingerprint(index) == versions["new"]


def _generations(index: Path) -> list[Path]:
    return sorted(
        p for p in index.parent.iterdir() if p.is_dir() and p.name.startswith(f".{index.name}.2")
    )


def _every_generation_verifies(index: Path) -> None:
    """Each generation left beside the index is whole (every file against its sha256):
    a segment hard-linked from one into the next is shared, never half-removed."""
    for generation in _generations(index):
        verify_index(generation)


# Moments of a build that keeps a segment and writes a new one: the kept
# segment's first file linked into the new generation; every file written;
# the new generation complete but not in place; in place.
SEGMENT_MOMENTS = ["after:os.link", "before:os.fsync", "before:os.rename", "after:os.replace"]


@pytest.mark.parametrize("moment", SEGMENT_MOMENTS)
def test_a_build_that_adds_a_segment_killed_at_any_moment_leaves_a_complete_index(tmp_path, moment):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    api.build(corpus, index, embedder=HashedEmbedder())
    old = fingerprint(index)
    write_corpus(corpus, {"minerals.txt": V2["minerals.txt"]})
    reference = write_corpus(tmp_path / "reference", {**V1, "minerals.txt": V2["minerals.txt"]})
    api.build(reference, tmp_path / "reference-index", embedder=HashedEmbedder())
    new = fingerprint(tmp_path / "reference-index")
    build = start_build(tmp_path, corpus, index, pause_at=moment)
    build.wait_paused()
    build.kill()
    assert fingerprint(index) in (old, new)
    _every_generation_verifies(index)
    report = api.build(corpus, index, embedder=HashedEmbedder())
    assert report.segments == 2  # the kept one and the new one
    assert fingerprint(index) == new
    _every_generation_verifies(index)


# A merge writes its segment from the segments it reads, inside a build: the
# same moments, with the segments being merged linked first.
MERGE_MOMENTS = ["after:os.link", "before:os.fsync", "before:os.rename", "before:os.replace"]


@pytest.mark.parametrize("moment", MERGE_MOMENTS)
def test_a_merge_killed_at_any_moment_leaves_a_complete_index(tmp_path, moment):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    api.build(corpus, index, embedder=HashedEmbedder())
    for name, text in (("minerals.txt", V2["minerals.txt"]), ("cables.txt", V2["cables.txt"])):
        write_corpus(corpus, {name: text})
        build_index(corpus, index, HashedEmbedder(), policy=None)  # no merge before this one
    view, segments = fingerprint(index), len(api.info(index).segments)
    assert segments == 3
    merge = Esqa(tmp_path, "index", "build", "--optimize", "--corpus", corpus, "--index", index,
                 pause_at=moment)  # fmt: skip
    merge.wait_paused()
    merge.kill()
    assert fingerprint(index) == view  # merging changes how it is stored, not what it holds
    assert len(api.info(index).segments) in (1, segments)
    _every_generation_verifies(index)
    api.build(corpus, index, embedder=HashedEmbedder(), optimize=True)
    assert fingerprint(index) == view and len(api.info(index).segments) == 1
    _every_generation_verifies(index)


def test_pruning_never_removes_a_segment_that_a_kept_generation_uses(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    api.build(corpus, index, embedder=HashedEmbedder())
    for n in range(4):  # each build links segment 000001 and prunes a generation
        write_corpus(corpus, {f"more{n}.txt": V2["minerals.txt"].replace("60%", f"{60 + n}%")})
        build_index(corpus, index, HashedEmbedder(), policy=None)
    kept = _generations(index)
    assert len(kept) == 2  # the current one and the one before, for readers still on it
    for generation in kept:
        assert (generation / FIRST_SEGMENT / "chunks.jsonl").is_file()
    _every_generation_verifies(index)


def test_a_first_build_killed_leaves_no_index_and_the_next_command_builds_it(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    # Killed when its index is complete on disk but not yet in place.
    build = start_build(tmp_path, corpus, index, pause_at="before:os.replace")
    build.wait_paused()
    build.kill()
    with pytest.raises(IndexMissingError):
        api.load(index, corpus, embedder=HashedEmbedder(), build_if_missing=False)
    result = cli_run("search", "undersea cables", "--json", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["source"] == "cables.txt"


def test_the_index_replaced_after_a_killed_build_survives_the_next_build(tmp_path, built):
    corpus, index = built
    build = start_build(tmp_path, corpus, index, pause_at="before:os.replace")
    build.wait_paused()
    build.kill()
    reader_on = api.info(index).directory  # a reader resolves the index ...
    api.build(corpus, index, embedder=HashedEmbedder())  # ... just before the swap
    assert reader_on != api.info(index).directory
    assert (reader_on / "manifest.json").is_file()


def test_a_loaded_reader_keeps_its_results_through_rebuilds(tmp_path, built):
    corpus, index = built
    set_corpus(corpus, V1)
    qa = api.load(index, corpus, embedder=HashedEmbedder(), build_if_missing=False)
    before = reader_view(qa)
    answer = qa.ask("What will the ministry add to the list of critical products?").to_dict()
    for files in (V2, V1, V2):  # enough builds that the reader's generation is pruned
        set_corpus(corpus, files)
        api.build(corpus, index, embedder=HashedEmbedder())
    assert reader_view(qa) == before
    assert (
        qa.ask("What will the ministry add to the list of critical products?").to_dict() == answer
    )


def test_a_reader_sees_the_old_index_until_the_swap_and_the_new_one_after(
    tmp_path, built, versions
):
    corpus, index = built
    build = start_build(tmp_path, corpus, index, pause_at="before:os.replace")
    build.wait_paused()
    assert fingerprint(index) == versions["old"]
    build.go_on()
    status, _, err = build.finish()
    assert status == 0, err
    assert fingerprint(index) == versions["new"]


def test_readers_loading_during_a_build_always_get_a_whole_index(tmp_path, built, versions):
    corpus, index = built
    build = start_build(tmp_path, corpus, index, pause_at="embed", delay=0.05)
    build.wait_paused()
    build.go_on()
    seen: list[dict] = []
    while build.proc.poll() is None:
        seen.append(fingerprint(index))
    status, _, err = build.finish()
    assert status == 0, err
    seen.append(fingerprint(index))
    assert seen[-1] == versions["new"]
    assert all(view in (versions["old"], versions["new"]) for view in seen)


def test_a_second_writer_fails_with_one_line_or_waits_and_neither_corrupts(
    tmp_path, built, versions
):
    corpus, index = built
    first = start_build(tmp_path, corpus, index, pause_at="embed")
    first.wait_paused()
    second = start_build(tmp_path, corpus, index)
    try:
        status, _, err = second.finish(timeout=WAIT / 2)
    except subprocess.TimeoutExpired:  # it waits for the lock: let the first one finish
        first.go_on()
        assert first.finish()[0] == 0
        status, _, err = second.finish()
        assert status == 0, err
    else:
        lines = [line for line in err.splitlines() if line.strip()]
        assert status != 0
        assert len(lines) == 1 and lines[0].startswith("esqa: error:"), err
        assert "another" in lines[0]
        first.go_on()
        status, _, err = first.finish()
        assert status == 0, err
    assert fingerprint(index) == versions["new"]


# ---- damaged and foreign indexes: one line, exit 2, the repair command --------------


def cli_run(*args: object, embedder: type = HashedEmbedder) -> Result:
    # The embedder setting names the class, as a user names one (module:Class).
    name = f"{embedder.__module__}:{embedder.__qualname__}"
    return CliRunner().invoke(cli, [str(a) for a in args], env={"ESQA_EMBEDDER": name})


@pytest.fixture
def pristine(tmp_path) -> tuple[Path, Path]:
    """A corpus and a folder holding an index of it, to copy before damaging."""
    corpus = write_corpus(tmp_path / "corpus", V1)
    api.build(corpus, tmp_path / "pristine" / "idx", embedder=HashedEmbedder())
    return corpus, tmp_path / "pristine"


def copy_index(pristine: Path, to: Path) -> Path:
    shutil.copytree(pristine, to, symlinks=True)
    return to / "idx"


def index_files(index: Path) -> list[str]:
    directory = index.resolve()
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def _truncate_to_empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncate_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))


DAMAGES = {
    "emptied": _truncate_to_empty,
    "truncated": _truncate_half,
    "garbled": _garble,
    "deleted": Path.unlink,
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_every_damaged_index_file_is_a_one_line_error_with_exit_2(tmp_path, pristine, damage):
    corpus, template = pristine
    names = [n for n in index_files(template / "idx") if n != "manifest.json"]
    assert {"chunks.jsonl", "dense.faiss"} <= {Path(n).name for n in names} and len(names) >= 5
    for n, name in enumerate(names):
        index = copy_index(template, tmp_path / f"copy{n}")
        DAMAGES[damage](index.resolve() / name)
        for command in ("search", "ask"):
            result = cli_run(command, "undersea cables", "--corpus", corpus, "--index", index)
            line = one_error_line(result)
            assert result.exit_code == 2, (name, command, line)
            assert Path(name).name in line, line
            assert "esqa index build" in line


@pytest.mark.parametrize("damage", ["emptied", "truncated"])
def test_a_damaged_manifest_is_a_one_line_error_with_exit_2(tmp_path, pristine, damage):
    corpus, template = pristine
    index = copy_index(template, tmp_path / "copy")
    DAMAGES[damage](index.resolve() / "manifest.json")
    for command in (["search", "undersea cables"], ["info"]):
        result = cli_run(*command, "--corpus", corpus, "--index", index)
        line = one_error_line(result)
        assert result.exit_code == 2
        assert "manifest.json" in line and "esqa index build" in line


@pytest.mark.parametrize("lose", ["manifest", "generation"])
def test_an_index_whose_manifest_or_directory_is_gone_is_missing_and_rebuilt(
    tmp_path, pristine, lose
):
    corpus, template = pristine
    index = copy_index(template, tmp_path / "copy")
    if lose == "manifest":
        (index.resolve() / "manifest.json").unlink()
    else:
        shutil.rmtree(index.resolve())  # the link now points nowhere
    result = cli_run("info", "--corpus", corpus, "--index", index)
    assert result.exit_code == 2
    assert "esqa index build" in one_error_line(result)
    result = cli_run("search", "undersea cables", "--json", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["source"] == "cables.txt"


def _rename_key(record: dict, key: str) -> None:
    record[key[:-1] + "X"] = record.pop(key)  # one garbled byte in the key's name


GARBLED_KEYS = {
    # (command, file, where in it a key's name lost a byte)
    "files-sha256": (
        "search",
        "manifest.json",
        lambda m: _rename_key(m["files"][f"{FIRST_SEGMENT}/chunks.jsonl"], "sha256"),
    ),
    "sources-mtime": (
        "search",
        "sources.json",
        lambda m: _rename_key(m["sources"]["cables.txt"], "mtime_ns"),
    ),
    "model": ("info", "manifest.json", lambda m: _rename_key(m, "model")),
}


@pytest.mark.parametrize("garble", GARBLED_KEYS)
def test_a_manifest_with_a_garbled_key_is_a_one_line_error(tmp_path, pristine, garble):
    corpus, template = pristine
    index = copy_index(template, tmp_path / "copy")
    command, name, edit = GARBLED_KEYS[garble]
    path = index.resolve() / name
    content = json.loads(path.read_text(encoding="utf-8"))
    edit(content)
    path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    args = [command, "undersea cables"] if command == "search" else [command]
    result = cli_run(*args, "--corpus", corpus, "--index", index)
    line = one_error_line(result)
    assert result.exit_code == 2
    assert name in line and "esqa index build" in line


def test_a_manifest_that_lost_its_file_list_is_refused(tmp_path, pristine):
    corpus, template = pristine
    index = copy_index(template, tmp_path / "copy")
    path = index.resolve() / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    _rename_key(manifest, "files")
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    chunks = index.resolve() / FIRST_SEGMENT / "chunks.jsonl"
    chunks.write_text(chunks.read_text(encoding="utf-8").replace("undersea", "orbital"))
    result = cli_run("search", "orbital cables", "--corpus", corpus, "--index", index)
    assert result.exit_code == 2
    assert "manifest.json" in one_error_line(result)


class OtherModel(HashedEmbedder):
    """Another model with the same dimension (different vectors)."""

    model_id = "test/other-model"

    def embed(self, texts, batch_size=32, progress=None):
        return super().embed([f"{t} salt pepper" for t in texts], batch_size, progress)


class OtherDimension(HashedEmbedder):
    dimension = 32


@pytest.mark.parametrize("other", [OtherModel, OtherDimension], ids=["model", "dimension"])
def test_an_index_of_another_model_is_refused_and_the_named_command_repairs_it(
    tmp_path, pristine, other
):
    corpus, template = pristine
    index = copy_index(template, tmp_path / "copy")
    result = cli_run(
        "search", "undersea cables", "--corpus", corpus, "--index", index, embedder=other
    )
    line = one_error_line(result)
    assert result.exit_code == 2
    assert HashedEmbedder.model_id in line and str(HashedEmbedder.dimension) in line
    repair = re.search(r"run: (esqa index build[^;]*)", line)
    assert repair, line
    args = repair.group(1).split()[1:]
    result = cli_run(*args, "--corpus", corpus, embedder=other)
    assert result.exit_code == 0, result.output
    # The repaired index holds this model's vectors, not reused ones of the old model.
    fresh = tmp_path / "fresh"
    api.build(corpus, fresh, embedder=other())
    assert fingerprint(index, other()) == fingerprint(fresh, other())


# ---- no pickle -----------------------------------------------------------------------


def _no_unpickling(*args, **kwargs):
    raise AssertionError("an index file was unpickled")


def test_no_index_file_is_a_pickle_and_loading_never_unpickles(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    api.build(corpus, index, embedder=HashedEmbedder())
    set_corpus(corpus, V2)
    api.build(corpus, index, embedder=HashedEmbedder())  # two generations
    files = [p for p in index.parent.rglob("*") if p.is_file()]
    assert len(files) >= 10
    for path in files:
        head = path.read_bytes()[:2]
        assert not (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")), path
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)  # no object arrays
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, _no_unpickling)
    qa = api.load(index, corpus, embedder=HashedEmbedder(), build_if_missing=False)
    assert qa.search("rare earth imports", 1)[0].source == "minerals.txt"
    assert qa.ask("How much of its rare earth materials did Japan import from China?").citations


class _Payload:
    """Unpickling this creates the file `marker`: proof that code from the index ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _plant(path: Path, marker: Path) -> None:
    if path.suffix == ".npy":
        np.save(path, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(pickle.dumps(_Payload(marker)))


def test_a_pickle_planted_in_any_index_file_is_never_executed(tmp_path, pristine):
    corpus, template = pristine
    names = [n for n in index_files(template / "idx") if n != "manifest.json"]
    assert any(n.endswith(".npy") for n in names)
    assert "dense.faiss" in {Path(n).name for n in names}
    for n, name in enumerate(names):
        index = copy_index(template, tmp_path / f"copy{n}")
        target = index.resolve() / name
        marker = tmp_path / f"code-ran-{n}"
        _plant(target, marker)
        # Whoever can write the index can rewrite its manifest too.
        manifest_path = index.resolve() / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        data = target.read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        result = cli_run("search", "undersea cables", "--corpus", corpus, "--index", index)
        assert not marker.exists(), f"loading the index executed code from {name}"
        if result.exit_code == 0:
            # A file only builds read (a segment's paragraphs, text hashes,
            # acronym occurrences): the next build that reads it refuses it.
            write_corpus(corpus, {"more.txt": V2["minerals.txt"]})
            built = cli_run("index", "build", "--corpus", corpus, "--index", index)
            (corpus / "more.txt").unlink()
            assert built.exit_code == 0, built.output
            assert not marker.exists(), f"a build executed code from {name}"
            continue
        assert result.exit_code == 2, (name, result.output)
        assert "esqa index build" in one_error_line(result)
