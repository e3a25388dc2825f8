"""Hostile input (issue 11): question files and corpus shapes an attacker or an accident makes.

Question files (`esqa ask --jsonl`, `esqa eval`): lone surrogates, nesting too
deep for a parser, lines that are not questions, files in other encodings or
not text at all. Corpus shapes: folders nested deeper than Python's recursion
limit, folders that cannot be listed, file names and text holding terminal
escapes and bidirectional controls, and files too large to be articles.

Every command runs through click's CliRunner with the fake embedder
(`color=True` where the output is checked for escapes: CliRunner, like a pipe,
would otherwise strip colour codes itself, hiding what a terminal receives),
or, for a real pipe, in its own process (tests/helpers/esqa_fake.py). Each
test checks the exit status, that an error is one line on stderr with no
traceback, that the other lines are still answered, and that no file outside
the corpus and the index changed.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import HashedEmbedder, write_corpus
from helpers.checks import one_error_line
from synthetic_news import BRIDGE, HARBOUR

from esqa import api, settings
from esqa.cli import cli
from esqa.ingest.chunking import ChunkingParams, split_sentences
from esqa.ingest.chunks import document_chunks
from esqa.ingest.files import walk_corpus
from esqa.ingest.pages import load_corpus, parse_text
from esqa.render import terminal_text

HELPER = Path(__file__).resolve().parent / "helpers" / "esqa_fake.py"
GOOD = "When was the Lakeside Bridge opened to traffic?"
# What a terminal must never receive from esqa's text output: C0/C1 controls
# (a line break ends a line, nothing else passes) and bidirectional controls.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    monkeypatch.setenv("ESQA_EMBEDDER", "conftest:HashedEmbedder")
    for name in ("ESQA_INDEX", "ESQA_CORPUS"):
        monkeypatch.delenv(name, raising=False)


def esqa(*args: object, color: bool = False, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], color=color, input=input)


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """(size, sha256) of every file under root by path, but for the entries of
    root named in `skip` or whose names start with `.NAME.` for one of them
    (listed without recursion: some trees here are deeper than Python's limit)."""
    out = {}
    hidden = tuple(f".{name}." for name in skip)
    stack = [e for e in os.scandir(root) if e.name not in skip and not e.name.startswith(hidden)]
    while stack:
        entry = stack.pop()
        if entry.is_dir(follow_symlinks=False):
            stack.extend(os.scandir(entry.path))
        elif entry.is_file(follow_symlinks=False):
            path = Path(entry.path)
            out[str(path.relative_to(root))] = (entry.stat().st_size, _sha(path))
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def nothing_changes_outside(root: Path, *inside: Path) -> Iterator[None]:
    """No file under root (the test's whole world, its working folder) changes,
    appears or disappears, except in the folders `inside`, children of root
    (the corpus; the index, whose generations and lock are its siblings `.NAME.*`)."""
    skip = tuple(p.name for p in inside)
    before = snapshot(root, skip)
    yield
    assert snapshot(root, skip) == before


def assert_terminal_safe(text: str) -> None:
    assert not UNSAFE.search(text), repr(UNSAFE.findall(text))


@pytest.fixture(scope="module")
def news(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(world, corpus, index): two articles and their index, built once."""
    world = tmp_path_factory.mktemp("hostile")
    corpus = write_corpus(world / "corpus", {"bridge.txt": BRIDGE, "plan.txt": HARBOUR})
    api.build(corpus, world / "index", embedder=HashedEmbedder())
    return world, corpus, world / "index"


@pytest.fixture
def ask_file(news, tmp_path, monkeypatch):
    """Run `esqa ask --jsonl` (or `eval`) on a file of the given bytes; checks that
    neither the file, the corpus, the index nor anything beside them changed."""
    world, corpus, index = news
    monkeypatch.chdir(tmp_path)

    def run(data: bytes, command: str = "ask") -> Result:
        path = tmp_path / "q.jsonl"
        path.write_bytes(data)
        args = ["ask", "--jsonl", path] if command == "ask" else ["eval", path]
        with nothing_changes_outside(world), nothing_changes_outside(tmp_path):
            return esqa(*args, "--corpus", corpus, "--index", index)

    return run


def records(result: Result) -> list[dict]:
    """The JSON lines of stdout, which must be valid UTF-8 throughout."""
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.stderr == ""
    text = result.stdout_bytes.decode("utf-8")  # strict: any byte that is not UTF-8 fails
    return [json.loads(line) for line in text.split("\n") if line]


def assert_error_record(record: dict, line: int, *words: str) -> None:
    assert record["answered"] is False and record["citations"] == []
    assert record["line"] == line and f"line {line}" in record["error"]
    assert all(word in record["error"] for word in words), record["error"]
    assert isinstance(record["question"], str)


def assert_answered(record: dict, expected: str) -> None:
    assert "error" not in record and record["answered"] is True, record
    assert expected in record["answer"]


# ---- question files: bad lines --------------------------------------------------------


def test_a_lone_surrogate_is_one_error_record_and_the_batch_goes_on(ask_file):
    # The reproduction: printf '{"question": "\\ud800"}\n' > q.jsonl; esqa ask --jsonl q.jsonl
    out = records(ask_file(b'{"question": "\\ud800"}\n' + GOOD.encode() + b"\n"))
    assert len(out) == 2
    assert_error_record(out[0], 1, "surrogate")
    assert out[0]["question"] == "\ufffd"
    assert_answered(out[1], "1987")


HOSTILE_LINES = {
    "surrogate pair half": '{"question": "When was the bridge \\udc00opened?"}',
    "deep nesting": '{"question": ' * 100_000 + '"x"' + "}" * 100_000,
    "deep nesting unclosed": '{"a": [' * 50_000,
    "broken JSON": '{"question": "When was the bridge opened?"',
    "no question": '{"id": "q7", "any": ["1987"]}',
    "question is a number": '{"question": 1987}',
    "question is a list": '{"question": ["When", "was"]}',
    "huge number": '{"question": "When?", "n": ' + "9" * 5_000 + "}",
    "no words": '{"question": "?!\\u0000\\u001b"}',
    "brackets only": "[" * 100_000,
}


def test_every_hostile_line_is_one_error_record_between_answered_lines(ask_file):
    lines = []
    for line in HOSTILE_LINES.values():
        lines += [GOOD, line]
    lines.append(json.dumps({"question": "What is the last pillar of the strategy?"}))
    out = records(ask_file("\n".join(lines).encode("utf-8") + b"\n"))
    assert len(out) == len(lines)
    for n, record in enumerate(out[1::2][: len(HOSTILE_LINES)], start=1):
        assert_error_record(record, 2 * n)
    for record in out[0:-1:2]:
        assert_answered(record, "1987")
    assert_answered(out[-1], "training volunteer wardens")


def test_a_question_keeps_a_line_separator_inside_it(ask_file):
    # U+2028 may stand raw in a JSON string; only \n, \r\n and \r end a line.
    question = "When was the Lakeside Bridge\u2028opened to traffic?"
    out = records(ask_file(json.dumps({"question": question}, ensure_ascii=False).encode()))
    assert len(out) == 1  # not two lines, of which neither is the question
    assert out[0]["question"] == GOOD  # white space normalised, as in every answer
    assert_answered(out[0], "1987")


# ---- question files: encodings --------------------------------------------------------

QUESTIONS = [GOOD, "What is the last pillar of the strategy?", "Wie viele Fahrzeuge überqueren?"]
READABLE = {
    "utf-8": "\n".join(QUESTIONS).encode("utf-8"),
    "utf-8 BOM CRLF": codecs.BOM_UTF8 + "\r\n".join(QUESTIONS).encode("utf-8"),
    "utf-16-le BOM": codecs.BOM_UTF16_LE + "\n".join(QUESTIONS).encode("utf-16-le"),
    "utf-16-be BOM CRLF": codecs.BOM_UTF16_BE + "\r\n".join(QUESTIONS).encode("utf-16-be"),
    "utf-32-le BOM": codecs.BOM_UTF32_LE + "\n".join(QUESTIONS).encode("utf-32-le"),
    "lone CR": "\r".join(QUESTIONS).encode("utf-8"),
}


@pytest.mark.parametrize("encoding", READABLE)
def test_utf8_and_files_with_a_byte_order_mark_are_read_exactly(ask_file, encoding):
    out = records(ask_file(READABLE[encoding]))
    assert [r["question"] for r in out] == QUESTIONS
    assert_answered(out[0], "1987")


UNREADABLE = {
    # name: (bytes, the line the error names)
    "latin-1": ("\n".join([GOOD, "Wie viele Fahrzeuge überqueren?"]).encode("latin-1"), 2),
    "cp1252 quotes": ("\n".join([GOOD, GOOD, "“When?”"]).encode("cp1252"), 3),
    "utf-16 without a mark": ("\n".join(QUESTIONS).encode("utf-16-le"), 1),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", 3),
    "utf-16 mark, odd bytes": (codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le") + b"\x00", 1),
}


@pytest.mark.parametrize("command", ["ask", "eval"])
@pytest.mark.parametrize("name", UNREADABLE)
def test_an_undecodable_file_is_one_error_naming_its_line_before_any_answer(
    ask_file, name, command
):
    data, line = UNREADABLE[name]
    result = ask_file(data, command)
    error = one_error_line(result)
    assert "q.jsonl" in error and f"line {line}" in error and "UTF-8" in error
    assert result.stdout == ""


EVAL_LINES = {
    "surrogate": ('{"id": "s", "question": "\\ud800"}', "surrogate"),
    "deep nesting": ('{"question": ' * 100_000 + '"x"' + "}" * 100_000, "nested"),
    "broken JSON": ('{"id": "b", "question": "When?"', "JSON"),
    "plain text": (GOOD, "JSON object"),
}


@pytest.mark.parametrize("name", EVAL_LINES)
def test_eval_refuses_a_bad_line_with_one_error_that_names_it(ask_file, name):
    line, word = EVAL_LINES[name]
    good = json.dumps({"id": "g", "question": GOOD, "any": ["1987"]})
    result = ask_file(f"{good}\n{line}\n".encode(), "eval")
    error = one_error_line(result)
    assert "q.jsonl:2" in error and word in error
    assert result.stdout == ""


def test_a_pipe_is_answered_line_by_line_until_a_line_is_not_utf8(news, tmp_path):
    """stdin as a real pipe: each line is answered as it comes; an undecodable
    line stops the batch with one error that names it."""
    _, corpus, index = news
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESQA_")}
    done = subprocess.run(
        [sys.executable, HELPER, "ask", "--jsonl", "-", "--corpus", corpus, "--index", index],
        input=f'{GOOD}\n{{"question": "\\ud800"}}\ncaf\xe9?\n{GOOD}\n'.encode("latin-1"),
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1
    err = done.stderr.decode("utf-8")
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.strip()]
    assert line.startswith("esqa: error:") and "line 3" in line and "UTF-8" in line
    out = [json.loads(x) for x in done.stdout.decode("utf-8").splitlines()]
    assert len(out) == 2
    assert_answered(out[0], "1987")
    assert_error_record(out[1], 2, "surrogate")
    assert list(tmp_path.iterdir()) == []


# ---- corpus shapes: deep folders ------------------------------------------------------

DEPTH = 1_100  # deeper than Python's recursion limit (1,000)
DEEP_ARTICLE = "Deep news\n\nThe deepest archive reports that the quokka colony doubled in size.\n"


def make_deep(top: Path, name: str, text: str) -> str:
    """An article DEPTH folders below top (made one mkdir at a time: os.makedirs
    itself recurses); returns its source name."""
    path = str(top)
    os.makedirs(path, exist_ok=True)
    for _ in range(DEPTH):
        path = os.path.join(path, "d")
        os.mkdir(path)
    Path(path, name).write_text(text, encoding="utf-8")
    return "d/" * DEPTH + name


def remove_tree(top: Path) -> None:
    """shutil.rmtree recurses too: remove the folders from the deepest up."""
    folders, stack = [], [str(top)]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


@pytest.fixture
def world(tmp_path, monkeypatch) -> Iterator[Path]:
    """The test's working folder; folders nested too deep for shutil are removed after."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    monkeypatch.undo()  # a test may have made os.scandir fail
    for top in tmp_path.iterdir():
        if top.is_dir() and not top.is_symlink():
            remove_tree(top)


def test_folders_nested_deeper_than_the_recursion_limit_are_indexed(world):
    assert DEPTH > sys.getrecursionlimit()
    corpus = write_corpus(world / "corpus", {"bridge.txt": BRIDGE})
    deep = make_deep(corpus, "deep.txt", DEEP_ARTICLE)
    index = world / "index"
    assert [(source, why) for source, _, why in walk_corpus(corpus)] == [
        ("bridge.txt", None),
        (deep, None),
    ]
    with nothing_changes_outside(world, corpus, index):
        result = esqa("index", "build", "--corpus", corpus, "--index", index)
        assert result.exit_code == 0, result.output
        assert "indexed 2 files" in result.stdout
        result = esqa("ask", "--json", "How much did the quokka colony grow?", "--index", index)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["citations"][0]["source"] == deep
        result = esqa("info", "--json", "--index", index)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["stale"] is False


def test_esqa_add_works_with_deep_folders_in_the_corpus_and_in_what_it_adds(world):
    corpus = write_corpus(world / "corpus", {"bridge.txt": BRIDGE})
    make_deep(corpus, "deep.txt", DEEP_ARTICLE)
    index = world / "index"
    api.build(corpus, index, embedder=HashedEmbedder())
    new = write_corpus(world / "new", {"plan.txt": HARBOUR})
    added = make_deep(world / "folder", "wombat.txt", DEEP_ARTICLE.replace("quokka", "wombat"))
    with nothing_changes_outside(world, corpus, index):
        result = esqa("add", new / "plan.txt", "--corpus", corpus, "--index", index)
        assert result.exit_code == 0, result.output
        assert "added     plan.txt" in result.stdout
        result = esqa("add", world / "folder", "--corpus", corpus, "--index", index)
        assert result.exit_code == 0, result.output
        assert "indexed 4 files" in result.stdout
    assert (corpus / added).read_text(encoding="utf-8") == DEEP_ARTICLE.replace("quokka", "wombat")
    qa = api.load(index, corpus, embedder=HashedEmbedder(), build_if_missing=False)
    assert qa.search("wombat colony", 1)[0].source == added


# ---- corpus shapes: folders that cannot be listed -------------------------------------


@pytest.fixture
def failing_folder(monkeypatch):
    """Make os.scandir fail for one folder, as it does for a folder of mode 000
    (for any user but root, as CI runs) or on a failing disk."""

    def fail(folder: Path, error: OSError) -> None:
        scandir = os.scandir
        target = os.path.realpath(folder)

        def checked(path=".", *args, **kwargs):
            if isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(path) == target:
                raise error
            return scandir(path, *args, **kwargs)

        monkeypatch.setattr(os, "scandir", checked)

    return fail


def split_corpus(world: Path) -> Path:
    return write_corpus(
        world / "corpus",
        {"bridge.txt": BRIDGE, "locked/plan.txt": HARBOUR, "locked/inner/more.txt": BRIDGE},
    )


ERRORS = {
    "permission": PermissionError(errno.EACCES, "Permission denied"),
    "i/o error": OSError(errno.EIO, "Input/output error"),
}


@pytest.mark.parametrize("error", ERRORS.values(), ids=ERRORS.keys())
def test_a_folder_that_cannot_be_listed_is_a_warning_and_listed_as_skipped(
    world, failing_folder, error
):
    corpus = split_corpus(world)
    index = world / "index"
    failing_folder(corpus / "locked", error)
    with nothing_changes_outside(world, corpus, index):
        result = esqa("index", "build", "--corpus", corpus, "--index", index, color=True)
        assert result.exit_code == 0, result.output
        assert "indexed 1 files" in result.stdout
        warnings = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(warnings) == 1 and warnings[0].startswith("esqa: warning: skipped locked/")
        assert error.strerror in warnings[0]
        result = esqa("info", "--json", "--corpus", corpus, "--index", index)
        details = json.loads(result.stdout)
        assert error.strerror in details["skipped"]["locked/"]
        assert details["stale"] is False
        result = esqa("info", "--corpus", corpus, "--index", index)
        assert "skipped    locked/: cannot list this folder" in result.stdout


def test_an_incremental_build_treats_a_folder_that_cannot_be_listed_as_a_full_build_does(
    world, failing_folder
):
    corpus = split_corpus(world)
    index = world / "index"
    assert "indexed 3 files" in esqa("index", "build", "--corpus", corpus, "--index", index).stdout
    error = ERRORS["i/o error"]
    failing_folder(corpus / "locked", error)
    with nothing_changes_outside(world, corpus, index):
        result = esqa("index", "build", "--corpus", corpus, "--index", index)
        assert result.exit_code == 0, result.output
        assert "indexed 1 files" in result.stdout and "replaced chunks deleted" in result.stdout
        warnings = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(warnings) == 1 and warnings[0].startswith("esqa: warning: skipped locked/")
        details = json.loads(esqa("info", "--json", "--corpus", corpus, "--index", index).stdout)
        assert error.strerror in details["skipped"]["locked/"]
        assert details["stale"] is False


def test_a_folder_of_mode_000_is_a_warning(world):
    if os.geteuid() == 0:
        pytest.skip("root reads a folder of mode 000 (the test above injects the error)")
    corpus = split_corpus(world)
    (corpus / "locked").chmod(0)
    try:
        result = esqa("index", "build", "--corpus", corpus, "--index", world / "index")
        assert result.exit_code == 0, result.output
        assert "skipped locked/: cannot list this folder (Permission denied)" in result.stderr
    finally:
        (corpus / "locked").chmod(0o755)


@pytest.mark.parametrize("error", ERRORS.values(), ids=ERRORS.keys())
def test_a_corpus_root_that_cannot_be_listed_is_its_own_error(world, failing_folder, error):
    corpus = split_corpus(world)
    index = world / "index"
    api.build(corpus, index, embedder=HashedEmbedder())
    failing_folder(corpus, error)
    with nothing_changes_outside(world, corpus):
        for args in (["index", "build"], ["ask", GOOD], ["info"]):
            result = esqa(*args, "--corpus", corpus, "--index", index)
            error_line = one_error_line(result)
            assert "cannot list the corpus directory" in error_line
            assert error.strerror in error_line and "no article files" not in error_line
    fresh = world / "fresh"
    result = esqa("index", "build", "--corpus", corpus, "--index", fresh)
    assert "cannot list the corpus directory" in one_error_line(result)
    assert not fresh.exists()


# ---- corpus shapes: terminal escapes and bidirectional controls -----------------------

ESCAPES = "\x1b]0;PWNED\x07\x1b[2J\x1b[31mevil.txt"
REVERSED = "invoice\u202etxt.exe\u202c.txt"
EMPTY_EVIL = "\x1b[2Kblank\u2066.txt"


def test_file_names_with_escapes_are_printed_harmless_and_kept_verbatim_in_json(world):
    corpus = write_corpus(
        world / "corpus",
        {
            "bridge.txt": BRIDGE,
            ESCAPES: "Zanzibar port\n\nThe zanzibar ferry now sails twice a day, the port said.\n",
            REVERSED: "Invoices\n\nThe quokka invoices were paid in March, the office said.\n",
            EMPTY_EVIL: b"",
        },
    )
    index = world / "index"
    printed: list[str] = []

    def run(*args: object) -> Result:
        result = esqa(*args, "--corpus", corpus, "--index", index, color=True)
        # --json output is for programs, and verbatim; everything else is for people.
        printed.extend([result.stderr] if "--json" in args else [result.stdout, result.stderr])
        return result

    with nothing_changes_outside(world, corpus, index):
        result = run("index", "build")
        assert result.exit_code == 0 and "blank.txt" in result.stderr  # the empty one, skipped
        result = run("search", "zanzibar ferry")
        assert "]0;PWNED[2J[31mevil.txt" in result.stdout
        result = run("ask", "When were the quokka invoices paid?")
        assert "invoicetxt.exe.txt" in result.stdout
        cited = json.loads(run("ask", "--json", "When were the quokka invoices paid?").stdout)
        assert cited["citations"][0]["source"] == REVERSED
        hits = json.loads(run("search", "--json", "zanzibar ferry").stdout)
        assert hits[0]["source"] == ESCAPES
        info = run("info")
        assert "skipped    [2Kblank.txt: empty file" in info.stdout
        assert EMPTY_EVIL in json.loads(run("info", "--json").stdout)["skipped"]
    # The "corpus changed" note, in ask's warning and in info.
    write_corpus(corpus, {"\x1b[5mnew\u202e.txt": "New\n\nThe new harbour opened on Monday.\n"})
    assert "added: [5mnew.txt" in run("search", "harbour").stderr
    assert "added: [5mnew.txt" in run("info").stdout
    assert "added: [5mnew.txt" in run("info", "--json").stderr
    for text in printed:
        assert_terminal_safe(text.replace("\t", " "))
        assert "Traceback" not in text


def test_esqa_add_prints_a_refused_name_harmless(world):
    corpus = write_corpus(world / "corpus", {"bridge.txt": BRIDGE})
    index = world / "index"
    api.build(corpus, index, embedder=HashedEmbedder())
    given = write_corpus(world / "given", {ESCAPES: HARBOUR, REVERSED: HARBOUR, "ok.txt": HARBOUR})
    with nothing_changes_outside(world, corpus, index):
        result = esqa("add", given, "--corpus", corpus, "--index", index, color=True)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "added     ok.txt" in result.stdout
    assert result.stdout.count("skipped") == 2 and "evil.txt" in result.stdout
    assert [line for line in result.stderr.splitlines() if line.strip()][-1].startswith(
        "esqa: error: 2 of 3 files were refused"
    )
    assert_terminal_safe(result.output)
    assert sorted(p.name for p in corpus.iterdir()) == ["bridge.txt", "ok.txt"]


def test_bidi_controls_in_article_text_are_not_printed_but_stay_in_json(world):
    body = "The \u202eawlines gnieb\u202c rule was approved by the \u2067council\u2069 in May."
    corpus = write_corpus(world / "corpus", {"rule.txt": f"Rule approved\n\n{body}\n"})
    index = world / "index"
    api.build(corpus, index, embedder=HashedEmbedder())
    question = "When was the rule approved by the council?"
    result = esqa("ask", question, "--corpus", corpus, "--index", index, color=True)
    assert result.exit_code == 0, result.output
    assert "awlines gnieb rule was approved by the council in May." in result.stdout
    assert_terminal_safe(result.output)
    quote = json.loads(esqa("ask", "--json", question, "--corpus", corpus, "--index", index).stdout)
    assert body in quote["citations"][0]["quote"]


def test_terminal_text_removes_controls_and_keeps_every_script():
    assert terminal_text("\x1b]0;PWNED\x07evil\u202etxt.exe") == "]0;PWNEDeviltxt.exe"
    assert terminal_text("a\r\nb\tc\x85d\u2028e") == "a  b c d e"
    assert terminal_text("lone \ud800 surrogate") == "lone \ufffd surrogate"
    kept = "東京 متى ✓ café 🌉 \u200d"
    assert terminal_text(kept) == kept


# ---- corpus shapes: files too large to be articles ------------------------------------

LIMIT = 50_000


def long_line(size: int) -> str:
    """One line of numbered sentences, `size` characters or more."""
    sentences, total = [], 0
    while total < size:
        sentence = f"District {len(sentences)} said the new export rules take effect in May."
        sentences.append(sentence)
        total += len(sentence) + 1
    return " ".join(sentences)


def big_corpus(world: Path) -> Path:
    return write_corpus(
        world / "corpus",
        {
            "bridge.txt": BRIDGE,
            "big.txt": f"Rules\n\n{long_line(3 * LIMIT)}\n",
            "small.txt": HARBOUR,
        },
    )


def test_a_file_over_the_size_limit_is_skipped_by_the_library(world):
    scan = load_corpus(big_corpus(world), max_file_bytes=LIMIT)
    assert [d.source for d in scan.documents] == ["bridge.txt", "small.txt"]
    assert "limit" in scan.skipped["big.txt"] and "MiB" in scan.skipped["big.txt"]
    assert [w for w in scan.warnings if "big.txt" in w]


def test_a_file_over_the_size_limit_is_a_warning_and_listed_as_skipped(world, monkeypatch):
    monkeypatch.setattr(settings, "MAX_FILE_BYTES", LIMIT)
    corpus = big_corpus(world)
    index = world / "index"
    big = write_corpus(world / "given", {"huge.txt": long_line(2 * LIMIT)})
    with nothing_changes_outside(world, corpus, index):
        result = esqa("index", "build", "--corpus", corpus, "--index", index)
        assert result.exit_code == 0, result.output
        assert "indexed 2 files" in result.stdout
        (warning,) = [line for line in result.stderr.splitlines() if line.strip()]
        assert warning.startswith("esqa: warning: skipped big.txt:") and "limit" in warning
        details = json.loads(esqa("info", "--json", "--corpus", corpus, "--index", index).stdout)
        assert "limit" in details["skipped"]["big.txt"] and details["stale"] is False
        result = esqa("ask", "--json", GOOD, "--corpus", corpus, "--index", index)
        assert "1987" in json.loads(result.stdout)["answer"]
        result = esqa("add", big / "huge.txt", "--corpus", corpus, "--index", index)
        assert result.exit_code == 1 and "limit" in result.stdout
        assert one_error_line(result).startswith("esqa: error: 1 of 1 files were refused")
    assert not (corpus / "huge.txt").exists()


def test_a_file_of_too_many_lines_is_skipped(world, monkeypatch):
    monkeypatch.setattr(settings, "MAX_FILE_LINES", 1_000)
    corpus = write_corpus(world / "corpus", {"bridge.txt": BRIDGE, "lines.txt": "a\n" * 5_000})
    scan = load_corpus(corpus)
    assert [d.source for d in scan.documents] == ["bridge.txt"]
    assert "5,000 lines" in scan.skipped["lines.txt"]


def test_a_long_line_is_split_into_its_sentences_exactly(world):
    """Text beyond 20,000 characters goes to pysbd in pieces (its time per
    character grows with the length); a piece ends at a sentence end, so no
    sentence of a long line is cut in two."""
    line = long_line(100_000)
    sentences = [line[s.start : s.end] for s in split_sentences(line)]
    assert sentences == [s + "." for s in line[:-1].split(". ")]


def test_the_chunks_of_a_paragraph_of_thousands_of_wrapped_lines_cite_their_lines(world):
    words = long_line(200_000).split(" ")
    lines = [" ".join(words[i : i + 11]) for i in range(0, len(words), 11)]
    doc = parse_text("wrapped.txt", "Wrapped\n\n" + "\n".join(lines) + "\n")
    body = [p for p in doc.paragraphs if p.kind == "body"]
    assert len(body) == 1 and (body[0].line_start, body[0].line_end) == (3, len(lines) + 2)
    chunks = document_chunks(doc, set(), HashedEmbedder().count_tokens, params=ChunkingParams())
    file_lines = ["Wrapped", "", *lines]
    assert len(chunks) > 100
    for chunk in chunks:
        cited = "\n".join(file_lines[chunk.line_start - 1 : chunk.line_end])
        parts = chunk.text.split("\n")
        assert chunk.text in cited
        assert parts[0] in file_lines[chunk.line_start - 1]
        assert parts[-1] in file_lines[chunk.line_end - 1]
