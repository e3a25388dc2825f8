"""Write faults (issue 11): every failed write is one line, and nothing esqa did not make is lost.

Faults are injected two ways. In every run, the operating-system calls by
which a build, `esqa add` and publishing write (opening a file for writing,
mkdir, rename, replace, symlink, fsync, chmod, and FAISS's write_index) are
recorded once, then each is made to fail in turn with ENOSPC, EIO, EROFS and
EACCES. Where `.ci/run` could mount them, a size-limited tmpfs
(`ESQA_TEST_TINY_FS`) and a read-only bind mount (`ESQA_TEST_RO_DIR` of
`ESQA_TEST_RW_DIR`) give real full and read-only file systems.

Each case checks what a user relies on: the exit status, a single line on
stderr without a traceback, the previous index still loads with the same
results and `esqa index verify` passes, and no file outside the corpus and
the index changed.
"""

from __future__ import annotations

import builtins
import dataclasses
import errno
import hashlib
import io
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import pytest
from click.testing import CliRunner, Result
from conftest import TWO_ARTICLES, TWO_ARTICLES_NEXT, HashedEmbedder, write_corpus
from helpers.checks import one_error_line
from helpers.processes import Esqa

from esqa import api
from esqa.cli import cli
from esqa.errors import CorpusWriteError, IndexWriteError, TargetRefusedError
from esqa.index import publish as publishing

V1 = TWO_ARTICLES
V2 = TWO_ARTICLES_NEXT
NEW_ARTICLES = {
    "ports.txt": "Ports expand\n\nThe harbour authority will add two container berths by 2027.\n",
    "grid.txt": "Grid upgrade\n\nThe utility plans new transmission lines to carry offshore wind.\n",
}
QUERIES = ["undersea cables", "central bank rate", "rare earth imports from China", "April"]
# errno -> whether the fault stays (a full or read-only disk) or happens once (an I/O error).
FAULTS = {
    errno.ENOSPC: True,
    errno.EROFS: True,
    errno.EACCES: True,
    errno.EIO: False,
}


# ---- helpers ----------------------------------------------------------------------------


def esqa(*args: object) -> Result:
    """`esqa ARGS` in this process, with the fake embedder."""
    return CliRunner().invoke(
        cli, [str(a) for a in args], env={"ESQA_EMBEDDER": "conftest:HashedEmbedder"}
    )


def view(index: Path) -> dict:
    """What a reader gets from the index: its chunks and what searches return."""
    qa = api.load(index, embedder=HashedEmbedder(), build_if_missing=False)
    chunks = sorted((c.source, c.line_start, c.text) for c in qa.index.chunks.values())
    hits = {q: [(h.source, h.chunk.line_start) for h in qa.search(q, 3)] for q in QUERIES}
    return {"chunks": chunks, "hits": hits}


def verified(index: Path) -> None:
    result = esqa("index", "verify", "--index", index)
    assert result.exit_code == 0, result.output


def one_warning_line(result: Result) -> str:
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("esqa: warning:"), result.stderr
    return lines[0]


def files_under(root: Path, skip: Callable[[Path], bool]) -> dict[str, str]:
    """sha256 and modification time of every file under root (links as their target name)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if skip(path):
            continue
        if path.is_symlink():
            found[path.relative_to(root).as_posix()] = f"-> {os.readlink(path)}"
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[path.relative_to(root).as_posix()] = f"{digest} {path.stat().st_mtime_ns}"
    return found


@dataclass
class World:
    """A corpus and its index under root, with bystander files that must never change."""

    root: Path
    corpus: Path
    index: Path
    old: dict = field(default_factory=dict)  # the reader's view of the index as built

    def owned(self, path: Path) -> bool:
        """Whether path is the corpus's or the index's (the link, its generations, its lock)."""
        if path == self.corpus or self.corpus in path.parents:
            return True
        rel = path.relative_to(self.index.parent) if self.index.parent in path.parents else None
        if rel is None:
            return False
        first = rel.parts[0]
        return first == self.index.name or first.startswith(f".{self.index.name}.")

    def outside(self) -> dict[str, str]:
        return files_under(self.root, self.owned)

    def index_entries(self) -> list[str]:
        return sorted(p.name for p in self.index.parent.iterdir() if self.owned(p))


def make_world(root: Path, generations: int = 1) -> World:
    corpus = write_corpus(root / "corpus", V1)
    index = root / "indexes" / "default"
    for _ in range(generations):
        api.build(corpus, index, embedder=HashedEmbedder())
    # Bystanders: beside the index, beside the corpus, and elsewhere.
    write_corpus(root / "indexes", {"README.md": "indexes live here\n", "other/notes.md": "x\n"})
    write_corpus(root, {"home/todo.md": "keep\n"})
    world = World(root, corpus, index)
    world.old = view(index)
    return world


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    """An index of V1, then the corpus changed to V2 (so a build has work to do)."""
    # Copies of it go beside it, not into it.
    built = make_world(tmp_path / "world")
    monkeypatch.chdir(built.root)  # anything written relative to the working folder is seen
    shutil.rmtree(built.corpus)
    write_corpus(built.corpus, V2)
    return built


@pytest.fixture(scope="module")
def new_view(tmp_path_factory) -> dict:
    """The reader's view of an index of V2, built apart."""
    root = tmp_path_factory.mktemp("v2")
    corpus = write_corpus(root / "corpus", V2)
    api.build(corpus, root / "idx", embedder=HashedEmbedder())
    return view(root / "idx")


def assert_new_index(world: World, new_view: dict, outside: dict) -> None:
    assert view(world.index) == new_view
    verified(world.index)
    assert world.outside() == outside, "a file outside the corpus and the index changed"


def assert_previous_index_intact(world: World, outside: dict, entries: list[str]) -> None:
    assert view(world.index) == world.old
    verified(world.index)
    assert world.outside() == outside, "a file outside the corpus and the index changed"
    assert world.index_entries() == entries, "a failed build left something beside the index"


# ---- the fault injector ----------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


@dataclass
class Call:
    kind: str
    path: str
    raised: bool = False  # it failed by itself when recorded (mkdir of a folder that exists)


class Injector:
    """Records the writing calls under a folder, or makes the n-th (and, persistent, later) fail."""

    def __init__(self, root: Path, fail_at: int | None = None, code: int = 0, persistent=False):
        self.root = str(root)
        self.fail_at = fail_at
        self.code = code
        self.persistent = persistent
        self.calls: list[Call] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Injector:
        real_open = builtins.open

        def opened(file, mode="r", *args, **kwargs):
            if isinstance(file, int) or not any(c in mode for c in "wax+"):
                return real_open(file, mode, *args, **kwargs)
            return self._call("open", os.fspath(file), real_open, file, mode, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", opened)
        monkeypatch.setattr(io, "open", opened)
        real_os_open = os.open

        def os_opened(path, flags, *args, **kwargs):
            if not flags & _WRITE_FLAGS:
                return real_os_open(path, flags, *args, **kwargs)
            return self._call(
                "os.open", os.fspath(path), real_os_open, path, flags, *args, **kwargs
            )

        monkeypatch.setattr(os, "open", os_opened)
        for name in ("mkdir", "rename", "replace", "symlink", "chmod"):
            self._wrap(monkeypatch, os, name)
        real_fsync = os.fsync

        def fsynced(fd):
            return self._call("os.fsync", os.readlink(f"/proc/self/fd/{fd}"), real_fsync, fd)

        monkeypatch.setattr(os, "fsync", fsynced)
        return self

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, module, name: str) -> None:
        real = getattr(module, name)

        def wrapped(*args, **kwargs):
            # symlink(value, link): the link is what is written.
            path = os.fspath(args[1] if name == "symlink" else args[0])
            return self._call(f"os.{name}", path, real, *args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    def _call(self, kind: str, path: str, real: Callable, *args, **kwargs):
        target = os.path.abspath(path)
        if not target.startswith(self.root):
            return real(*args, **kwargs)
        n = len(self.calls)
        call = Call(kind, target)
        self.calls.append(call)
        if self.fail_at is not None and (
            n == self.fail_at or (self.persistent and n > self.fail_at)
        ):
            raise OSError(self.code, os.strerror(self.code), target)
        try:
            return real(*args, **kwargs)
        except OSError:
            call.raised = True
            raise


def record(monkeypatch: pytest.MonkeyPatch, root: Path, work: Callable[[], Result]) -> list[Call]:
    with monkeypatch.context() as patch:
        injector = Injector(root).install(patch)
        result = work()
    assert result.exit_code == 0, result.output
    return injector.calls


def with_fault(
    monkeypatch: pytest.MonkeyPatch, root: Path, at: int, code: int, work: Callable[[], Result]
) -> Result:
    with monkeypatch.context() as patch:
        Injector(root, at, code, FAULTS[code]).install(patch)
        return work()


def fresh_world(template: World, to: Path) -> World:
    shutil.copytree(template.root, to, symlinks=True)
    moved = World(to, to / "corpus", to / "indexes" / "default", template.old)
    return moved


# ---- item 2: a write error at any step of a build ---------------------------------------


@pytest.fixture
def template(tmp_path, monkeypatch, world) -> tuple[World, list[Call]]:
    """The world, and the writing calls of a build of it (recorded on a copy)."""
    probe = fresh_world(world, tmp_path / "probe")
    return world, record(monkeypatch, probe.root, build(probe))


def build(w: World) -> Callable[[], Result]:
    return lambda: esqa("index", "build", "--corpus", w.corpus, "--index", w.index)


def named(path: str) -> str:
    """A pattern for the file name of path, whatever random token a build gave it."""
    name = re.sub(r"(?<=-)[0-9a-f]{8}$", "TOKEN", Path(path).name)
    return re.escape(name).replace("TOKEN", "[0-9a-f]{8}")


def swap_point(calls: list[Call], index: Path) -> int:
    """The call that puts the new index in place: os.replace onto the index's link."""
    return next(n for n, c in enumerate(calls) if c.kind == "os.replace" and "link-" in c.path)


def test_the_build_writes_through_the_calls_the_injector_sees(template):
    _, calls = template
    kinds = {c.kind for c in calls if not c.raised}
    # The lock, the staging folder, every index file, FAISS's, the fsyncs, the renames, the swap.
    assert {"open", "os.mkdir", "os.fsync", "os.rename", "os.symlink", "os.replace"} <= kinds
    assert any(c.kind == "open" and c.path.endswith("dense.faiss") for c in calls)
    assert sum(c.kind == "os.fsync" for c in calls) >= 12
    assert len([c for c in calls if not c.raised]) >= 30


@pytest.mark.parametrize("code", FAULTS, ids=[errno.errorcode[c] for c in FAULTS])
def test_a_write_error_at_any_step_of_a_build_is_one_line_and_keeps_the_previous_index(
    template, tmp_path, monkeypatch, new_view, code
):
    world, calls = template
    swap = swap_point(calls, world.index)
    points = [n for n, c in enumerate(calls) if not c.raised]
    for n in points:
        copy = fresh_world(world, tmp_path / f"{errno.errorcode[code]}-{n}")
        outside, entries = copy.outside(), copy.index_entries()
        result = with_fault(monkeypatch, copy.root, n, code, build(copy))
        where = f"fault {n} ({calls[n].kind} {calls[n].path})"
        if n <= swap:
            line = one_error_line(result)
            assert result.exit_code == 3, (where, line)
            assert os.strerror(code) in line, (where, line)
            assert re.search(named(calls[n].path), line), (where, line)
            assert "the previous index is intact" in line, (where, line)
            assert_previous_index_intact(copy, outside, entries)
        else:
            # After the swap only syncing its folder is left: the new index is in place.
            line = one_warning_line(result)
            assert "the new index is published" in line, (where, line)
            assert_new_index(copy, new_view, outside)


def test_an_unwritable_index_folder_is_one_line_naming_it(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "locked" / "default"

    def refused(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(os, "mkdir", refused)
    for command in (["index", "build"], ["ask", "who raised rates?"]):
        result = esqa(*command, "--corpus", corpus, "--index", index)
        line = one_error_line(result)
        assert result.exit_code == 3
        assert "Permission denied" in line and str(index.parent) in line
        assert "no index was created" in line
    assert not index.parent.exists()


def test_a_write_that_fails_inside_faiss_is_a_write_error_not_a_truncated_index(
    world, monkeypatch, capfd
):
    """FAISS writes its file through Python's (see esqa.stores.faiss_dense): a
    disk that fills half-way through it raises OSError with its errno, where
    FAISS's own writer raised without one or, at close, only printed."""
    outside, entries = world.outside(), world.index_entries()
    real = faiss.PyCallbackIOWriter

    def filling(write, *args):
        written = 0

        def write_until_full(data):
            nonlocal written
            if written > 512:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written += len(data)
            return write(data)

        return real(write_until_full, *args)

    monkeypatch.setattr(faiss, "PyCallbackIOWriter", filling)
    result = esqa("index", "build", "--corpus", world.corpus, "--index", world.index)
    line = one_error_line(result)
    assert result.exit_code == 3
    assert "No space left on device" in line
    assert capfd.readouterr().err == "", "FAISS's own message reached the terminal"
    assert_previous_index_intact(world, outside, entries)


def test_when_the_disk_fills_superseded_generations_make_room_and_the_build_succeeds(
    tmp_path, monkeypatch, new_view
):
    built = make_world(tmp_path / "world", generations=2)  # the current one and the one before
    generations = [p for p in built.index.parent.iterdir() if p.name.startswith(".default.2")]
    assert len(generations) == 2
    shutil.rmtree(built.corpus)
    write_corpus(built.corpus, V2)
    outside = built.outside()
    real_mkdir = os.mkdir
    failed: list[str] = []

    def full_once(path, *args, **kwargs):
        # The first write of the new generation, its folder, finds the disk full.
        if ".tmp-" in os.fspath(path) and not failed:
            failed.append(os.fspath(path))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", full_once)
    result = esqa("index", "build", "--corpus", built.corpus, "--index", built.index)
    assert failed
    line = one_warning_line(result)
    assert "removed 1 superseded" in line
    assert_new_index(built, new_view, outside)
    current = built.index.resolve()
    left = [p for p in built.index.parent.iterdir() if p.name.startswith(".default.2")]
    assert current in left and len(left) == 2, "the generation replaced now is kept for readers"


# ---- item 2: write errors during esqa add ----------------------------------------------


def test_a_write_error_at_any_step_of_an_add_names_what_was_copied(world, tmp_path, monkeypatch):
    write_corpus(world.root / "incoming", NEW_ARTICLES)  # copied with the world
    probe = fresh_world(world, tmp_path / "probe")

    def add(w: World) -> Callable[[], Result]:
        return lambda: esqa("add", w.root / "incoming", "--corpus", w.corpus, "--index", w.index)

    calls = record(monkeypatch, probe.root, add(probe))
    points = [n for n, c in enumerate(calls) if not c.raised]
    copies = [n for n in points if calls[n].path.startswith(str(probe.corpus))]
    assert len(copies) >= 4, "each copy is written, synced and renamed into the corpus"
    swap = swap_point(calls, probe.index)
    for code in (errno.ENOSPC, errno.EIO):
        for n in [p for p in points if p <= swap]:
            copy = fresh_world(world, tmp_path / f"add-{errno.errorcode[code]}-{n}")
            outside, entries = copy.outside(), copy.index_entries()
            before = set(os.listdir(copy.corpus))
            result = with_fault(monkeypatch, copy.root, n, code, add(copy))
            where = f"fault {n} ({calls[n].kind} {calls[n].path})"
            line = one_error_line(result)
            assert result.exit_code == 3, (where, line)
            assert os.strerror(code) in line, (where, line)
            if n in copies:
                assert "the index was not updated" in line, (where, line)
            else:
                assert "did not update the index" in line, (where, line)
            copied = sorted(set(os.listdir(copy.corpus)) - before)
            # Every file in the corpus is whole; no temporary file is left; each copy is named.
            assert all(not name.startswith(".") for name in copied), (where, copied)
            for name in copied:
                assert (copy.corpus / name).read_text() == NEW_ARTICLES[name]
                assert name in line, (where, line)
            if not copied:
                assert "nothing was copied" in line, (where, line)
            assert_previous_index_intact(copy, outside, entries)


def test_a_disk_full_while_copying_lists_the_files_already_copied(world, tmp_path, monkeypatch):
    incoming = write_corpus(tmp_path / "incoming", {**NEW_ARTICLES, "zz.txt": "Last\n\nOne.\n"})
    real_replace = os.replace

    def full_at_the_third(src, dst):
        if str(dst).endswith("zz.txt"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), src, None, dst)
        return real_replace(src, dst)

    outside, entries = world.outside(), world.index_entries()
    monkeypatch.setattr(os, "replace", full_at_the_third)
    with pytest.raises(CorpusWriteError) as caught:
        api.add([incoming], world.corpus, world.index, embedder=HashedEmbedder())
    message = str(caught.value)
    assert "the 2 file(s) copied before it" in message
    assert "grid.txt" in message and "ports.txt" in message
    assert "the index was not updated" in message
    assert caught.value.errno == errno.ENOSPC
    assert sorted(os.listdir(world.corpus)) == sorted([*V2, *NEW_ARTICLES])
    monkeypatch.undo()
    assert_previous_index_intact(world, outside, entries)


# ---- item 1: an index location holding what esqa did not create -------------------------


def test_an_index_at_a_folder_of_notes_is_refused_and_nothing_is_moved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus = write_corpus(tmp_path / "corpus", V1)
    notes = write_corpus(tmp_path / "d" / "notes", {"todo.md": "keep\n"})
    before = files_under(tmp_path, lambda p: False)
    for _ in range(2):  # the second build is the one that used to delete it
        result = esqa("index", "build", "--corpus", corpus, "--index", notes)
        line = one_error_line(result)
        assert "not an esqa index" in line and "todo.md" in line and "nothing was changed" in line
    assert files_under(tmp_path, lambda p: False) == before
    assert sorted(os.listdir(tmp_path / "d")) == ["notes"]


def test_an_index_at_the_corpus_itself_is_refused_and_the_articles_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    news = write_corpus(tmp_path / "d" / "news", V1)
    before = files_under(tmp_path, lambda p: False)
    result = esqa("index", "build", "--corpus", news, "--index", news)
    assert "the same folder" in one_error_line(result)
    # A following add (which used to write into the index) is refused before copying.
    incoming = write_corpus(tmp_path / "incoming", NEW_ARTICLES)
    after_incoming = files_under(tmp_path, lambda p: False)
    result = esqa("add", incoming, "--corpus", news, "--index", news)
    one_error_line(result)
    assert files_under(tmp_path, lambda p: False) == after_incoming
    assert {k: v for k, v in after_incoming.items() if k.startswith("d/")} == before
    assert sorted(os.listdir(tmp_path / "d")) == ["news"]


@pytest.mark.parametrize("where", ["inside the corpus", "corpus inside the index"])
def test_an_index_and_a_corpus_inside_one_another_are_refused(tmp_path, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    if where == "inside the corpus":
        corpus = write_corpus(tmp_path / "news", V1)
        index = corpus / "idx"
    else:
        other = write_corpus(tmp_path / "other", V1)
        index = tmp_path / "idx"
        api.build(other, index, embedder=HashedEmbedder())
        corpus = write_corpus(index.resolve() / "articles", V1)
    before = files_under(tmp_path, lambda p: False)
    with pytest.raises(TargetRefusedError, match="inside"):
        api.build(corpus, index, embedder=HashedEmbedder())
    assert one_error_line(esqa("index", "build", "--corpus", corpus, "--index", index))
    assert files_under(tmp_path, lambda p: False) == before


def test_a_file_or_a_link_to_a_folder_of_notes_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus = write_corpus(tmp_path / "corpus", V1)
    write_corpus(tmp_path, {"file": "not an index\n", "notes/todo.md": "keep\n"})
    os.symlink("notes", tmp_path / "link")
    before = files_under(tmp_path, lambda p: False)
    # (The command line refuses a file for --index itself, as a usage error.)
    with pytest.raises(TargetRefusedError, match="is a file"):
        api.build(corpus, tmp_path / "file", embedder=HashedEmbedder())
    result = esqa("index", "build", "--corpus", corpus, "--index", tmp_path / "link")
    assert "not an esqa index" in one_error_line(result)
    assert files_under(tmp_path, lambda p: False) == before


def test_an_index_from_before_generations_is_still_replaced(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    plain = tmp_path / "plain"
    shutil.copytree(index.resolve(), plain)  # a real folder holding only index files
    api.build(corpus, plain, embedder=HashedEmbedder())
    assert plain.is_symlink()
    verified(plain)


def test_an_index_from_before_generations_is_moved_back_when_the_swap_fails(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", V1)
    api.build(corpus, tmp_path / "idx", embedder=HashedEmbedder())
    plain = tmp_path / "plain"
    shutil.copytree((tmp_path / "idx").resolve(), plain)
    before = files_under(plain, lambda p: False)
    real_replace = os.replace

    def swap_fails(src, dst):
        if os.fspath(dst) == str(plain):  # after the plain folder was moved aside
            raise OSError(errno.EIO, os.strerror(errno.EIO), src, None, dst)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", swap_fails)
    result = esqa("index", "build", "--corpus", corpus, "--index", plain)
    line = one_error_line(result)
    assert result.exit_code == 3 and "the previous index is intact" in line
    monkeypatch.undo()
    assert plain.is_dir() and not plain.is_symlink()
    assert files_under(plain, lambda p: False) == before
    verified(plain)


# ---- item 4: errors that the repair command used to hit ---------------------------------


def test_a_link_loop_is_one_line_and_the_build_repairs_it(world):
    os.unlink(world.index)
    os.symlink(world.index.name, world.index)  # ln -sfn default idx/default
    for command in (["ask", "undersea cables"], ["search", "rates"], ["info"], ["index", "verify"]):
        corpus = [] if command[0] == "index" else ["--corpus", world.corpus]
        result = esqa(*command, *corpus, "--index", world.index)
        line = one_error_line(result)
        assert result.exit_code == 2, (command, line)
        assert "symbolic link" in line and "esqa index build" in line
    result = esqa("index", "build", "--corpus", world.corpus, "--index", world.index)
    assert result.exit_code == 0, result.output
    verified(world.index)
    assert esqa("ask", "undersea cables", "--index", world.index).exit_code == 0


def test_a_deeply_nested_manifest_is_one_line_and_the_build_repairs_it(world):
    (world.index.resolve() / "manifest.json").write_text("[" * 100_000)
    for command in (["ask", "undersea cables"], ["info"], ["index", "verify"]):
        corpus = [] if command[0] == "index" else ["--corpus", world.corpus]
        result = esqa(*command, *corpus, "--index", world.index)
        line = one_error_line(result)
        assert result.exit_code == 2, (command, line)
        assert "manifest.json is damaged" in line
    result = esqa("index", "build", "--corpus", world.corpus, "--index", world.index)
    assert result.exit_code == 0, result.output
    verified(world.index)


# ---- item 11: the minor ones -----------------------------------------------------------


def test_temporaries_of_a_killed_add_are_removed_by_the_next_one(world, tmp_path):
    incoming = write_corpus(tmp_path / "incoming", NEW_ARTICLES)
    # Killed after writing its first temporary copy, before renaming it into place.
    add = Esqa(
        tmp_path,
        "add",
        incoming,
        "--corpus",
        world.corpus,
        "--index",
        world.index,
        pause_at="before:os.replace",
    )
    add.wait_paused()
    add.kill()
    left = [n for n in os.listdir(world.corpus) if n.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".grid.txt.")
    # Hidden files that only look alike are not esqa's: they stay.
    others = {".notes.tmp": "a", ".grid.txt.tmp": "b", "sub/.x.txt.ABCDEFGH.tmp": "c"}
    write_corpus(world.corpus, others)
    result = esqa("add", incoming, "--corpus", world.corpus, "--index", world.index)
    assert result.exit_code == 0, result.output
    assert not (world.corpus / left[0]).exists()
    for name, content in others.items():
        assert (world.corpus / name).read_text() == content
    assert {n for n in os.listdir(world.corpus) if n.endswith(".txt")} == {*V2, *NEW_ARTICLES}


def test_a_qa_that_outlives_two_rebuilds_still_describes_its_index(world):
    qa = api.load(world.index, world.corpus, embedder=HashedEmbedder(), build_if_missing=False)
    loaded_from = qa.index.directory
    for files in (V1, V2):
        shutil.rmtree(world.corpus)
        write_corpus(world.corpus, files)
        api.build(world.corpus, world.index, embedder=HashedEmbedder())
    assert not loaded_from.exists(), "its generation is removed"
    info = qa.info()
    assert info.directory == loaded_from
    assert info.counts == dataclasses.asdict(qa.index.manifest.counts)
    assert qa.ask("Which central bank raised its rate?").citations


def test_two_first_questions_at_once_both_answer_and_the_second_waits(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    question = ("ask", "who raised its main rate?", "--corpus", corpus, "--index", index)
    first = Esqa(tmp_path, *question, pause_at="embed")
    first.wait_paused()  # building the missing index, holding the lock
    second = Esqa(tmp_path, *question)
    time.sleep(1.0)
    assert second.proc.poll() is None, "the second question did not wait for the build"
    first.go_on()
    for process in (first, second):
        status, out, err = process.finish()
        assert status == 0, err
        assert "rate" in out
        assert "error" not in err
    verified(index)


def build_args(cwd: Path, w: World) -> list[object]:
    return [cwd, "index", "build", "--corpus", w.corpus, "--index", w.index]


def test_ask_refresh_during_a_build_answers_from_the_current_index_with_a_note(world, tmp_path):
    writer = Esqa(*build_args(tmp_path, world), pause_at="embed")
    writer.wait_paused()
    question = ["ask", "--refresh", "--json", "who raised its main rate?"]
    result = esqa(*question, "--corpus", world.corpus, "--index", world.index)
    line = one_warning_line(result)
    assert "another esqa process is writing the index" in line
    assert "minerals.txt" in line  # what the answer does not know about yet
    assert json.loads(result.stdout)["citations"][0]["source"] == "rates.txt"
    writer.go_on()
    assert writer.finish()[0] == 0
    assert view(world.index) != world.old


# ---- real file systems: a size-limited tmpfs and a read-only mount ----------------------


def _mounted(variable: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        pytest.skip(
            f"{variable} is not set: .ci/run mounts it (as root, where mount is permitted); "
            "the injected faults above cover the same steps"
        )
    return Path(value)


def _empty(folder: Path) -> Path:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return folder


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Iterator[Path]:
    """The empty size-limited tmpfs; emptied again afterwards."""
    root = _empty(_mounted("ESQA_TEST_TINY_FS"))
    monkeypatch.chdir(tmp_path)
    yield root
    _empty(root)


def _free(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of folder until `leave` bytes are free."""
    filler = folder / "filler.bin"
    with filler.open("ab") as f:
        f.write(b"\0" * max(_free(folder) - leave, 0))
    return filler


def _blocks(directory: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in directory.rglob("*") if p.is_file())


def _tiny_world(tiny: Path, tmp_path: Path, generations: int = 1) -> World:
    """The index on the tiny disk, the corpus (changed to V2) and bystanders off it.

    Each generation is a full build: an incremental one would hard-link the
    previous generation's segments and take next to no room of its own.
    """
    corpus = write_corpus(tmp_path / "corpus", V1)
    index = tiny / "indexes" / "default"
    for _ in range(generations):
        api.build(corpus, index, embedder=HashedEmbedder(), full=True)
    write_corpus(tiny / "indexes", {"README.md": "indexes live here\n"})
    built = World(tiny, corpus, index, view(index))
    shutil.rmtree(corpus)
    write_corpus(corpus, V2)
    return built


LEVELS = 16


def test_a_full_disk_at_every_fill_level_is_one_line_and_keeps_the_previous_index(
    tiny, tmp_path, new_view, monkeypatch, capfd
):
    built = _tiny_world(tiny, tmp_path)
    generation = _blocks(built.index.resolve())
    # Which files the new generation held when the disk filled (publishing measures it).
    written: list[tuple[str, ...]] = []
    measure = publishing.tree_size

    def measured(directory):
        if directory is not None and ".tmp-" in directory.name:
            written.append(tuple(sorted(p.name for p in directory.rglob("*") if p.is_file())))
        return measure(directory)

    monkeypatch.setattr(publishing, "tree_size", measured)
    for level in range(LEVELS + 2):
        leave = generation * level // LEVELS  # 0 to 112 % of what a generation takes
        filler = _fill(tiny, leave)
        outside, entries = built.outside(), built.index_entries()
        result = esqa("index", "build", "--corpus", built.corpus, "--index", built.index)
        if result.exit_code == 0:
            assert leave >= generation // 2, f"a build fit in {leave} bytes"
            assert_new_index(built, new_view, outside)
            break
        line = one_error_line(result)
        assert result.exit_code == 3, line
        assert "No space left on device" in line and "the previous index is intact" in line
        assert "a build needs" in line
        assert str(tiny) in line
        assert_previous_index_intact(built, outside, entries)
        filler.unlink()
    else:
        pytest.fail("no fill level left room for a build")
    assert level >= LEVELS // 2, "too few levels ran out of space to test anything"
    assert len(set(written)) >= 4, f"the disk filled at too few steps: {written}"
    assert capfd.readouterr().err == "", "a C library printed on the terminal"


def test_a_disk_with_room_for_two_generations_but_not_three_takes_a_build(tiny, tmp_path, new_view):
    built = _tiny_world(tiny, tmp_path, generations=2)
    generation = _blocks(built.index.resolve())
    _fill(tiny, generation // 2)
    outside = built.outside()
    result = esqa("index", "build", "--corpus", built.corpus, "--index", built.index)
    assert "removed 1 superseded" in one_warning_line(result)
    assert_new_index(built, new_view, outside)


def test_a_disk_full_during_add_lists_the_copies_and_leaves_the_index(tiny, tmp_path):
    corpus = write_corpus(tiny / "corpus", V1)
    index = tmp_path / "indexes" / "default"
    api.build(corpus, index, embedder=HashedEmbedder())
    old = view(index)
    big = "Long read\n\n" + "The harbour authority expanded the port again. " * 2000 + "\n"
    incoming = write_corpus(tmp_path / "incoming", {**NEW_ARTICLES, "zz.txt": big})
    _fill(tiny, 40_000)  # room for the two short articles, not for the long one
    result = esqa("add", incoming, "--corpus", corpus, "--index", index)
    line = one_error_line(result)
    assert result.exit_code == 3
    assert "No space left on device" in line and "the index was not updated" in line
    assert "grid.txt" in line and "ports.txt" in line
    assert sorted(os.listdir(corpus)) == sorted([*V1, *NEW_ARTICLES])
    assert view(index) == old
    verified(index)


@pytest.fixture
def read_only(tmp_path, monkeypatch) -> Iterator[tuple[Path, Path]]:
    """(a writable folder, the same folder mounted read-only); emptied afterwards."""
    writable = _empty(_mounted("ESQA_TEST_RW_DIR"))
    mounted = _mounted("ESQA_TEST_RO_DIR")
    monkeypatch.chdir(tmp_path)
    yield writable, mounted
    _empty(writable)


def test_a_read_only_file_system_is_one_line_for_every_writing_command(read_only, tmp_path):
    writable, mounted = read_only
    corpus = write_corpus(writable / "corpus", V1)
    api.build(corpus, writable / "indexes" / "default", embedder=HashedEmbedder())
    write_corpus(corpus, {"extra.txt": V2["minerals.txt"]})  # so a build has work to do
    incoming = write_corpus(tmp_path / "incoming", NEW_ARTICLES)
    index, ro_corpus = mounted / "indexes" / "default", mounted / "corpus"
    old = view(index)
    outside = files_under(writable, lambda p: False)
    question = "who raised rates?"
    commands = {
        "build": ["index", "build", "--index", index],
        "first ask": ["ask", question, "--index", mounted / "new"],
        "refresh": ["ask", "--refresh", question, "--index", index],
        "add": ["add", incoming, "--index", index],
    }
    for name, command in commands.items():
        result = esqa(*command, "--corpus", ro_corpus)
        line = one_error_line(result)
        assert result.exit_code == 3, (name, line)
        assert "Read-only file system" in line, (name, line)
        assert "nothing was copied" in line if name == "add" else True
        assert view(index) == old
    # Reading needs no write: a question is answered from the read-only index.
    result = esqa("search", "central bank rate", "--corpus", ro_corpus, "--index", index)
    assert result.exit_code == 0, result.output
    verified(index)
    assert files_under(writable, lambda p: False) == outside


def test_the_api_raises_write_errors_that_are_also_os_errors(world, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "dense.faiss")

    monkeypatch.setattr(faiss, "write_index", full)
    with pytest.raises(IndexWriteError) as caught:
        api.build(world.corpus, world.index, embedder=HashedEmbedder())
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
