"""Bad input (issue 4): every bad question and every bad corpus file has a defined behaviour.

Questions go through `esqa ask`/`esqa search` (click's CliRunner) and the
library's `qa.ask`/`qa.search`; corpus files through the library's ingestion
(`esqa.ingest.pages.load_corpus`) and through a build. The fast tier's hashed
bag-of-words embedder stands in for the model.

Line numbers are checked against the file as an editor shows it: decoded, with
Python's universal newlines ("\\n", "\\r\\n" and a lone "\\r" each end a line).
"""

from __future__ import annotations

import codecs
import json
import os
import pathlib
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import HashedEmbedder, write_corpus
from helpers.checks import one_error_line

from esqa import api
from esqa.cli import cli
from esqa.errors import EsqaError, QueryError
from esqa.ingest.pages import load_corpus
from esqa.types import Answer, Hit

BRIDGE = [
    "Lakeside Bridge Marks Its Anniversary",  # 1
    "",  # 2
    "The Lakeside Bridge was opened to traffic in September 1987 after six years of "
    "construction.",  # 3
    "",  # 4
    "Around 18,000 vehicles cross the bridge every day, the county transport office said.",  # 5
]
PLAN = [
    "Harbour Authority Unveils Coastal Resilience Plan",  # 1
    "",  # 2
    "The strategy has four pillars: building sea walls, restoring wetlands, relocating "
    "pumping stations, and training volunteer wardens.",  # 3
    "",  # 4
    "About 35% of Portwell's residents live within a kilometre of the shore.",  # 5
]
TOKYO = [
    "東京で新しい橋が開通",  # 1
    "",  # 2
    "東京湾に架かる新しい橋が月曜日に開通し、一日に約二万台の車が通行する見込みだと市当局が発表した。",  # 3
]
CORPUS = {"bridge.txt": "\n".join(BRIDGE) + "\n", "plan.txt": "\n".join(PLAN) + "\n"}
CORPUS["tokyo.txt"] = "\n".join(TOKYO) + "\n"
GOOD_QUESTION = "When was the Lakeside Bridge opened to traffic?"
# Answers must not take long; only a hang comes near this.
PROMPT_SECONDS = 60
HELPER = Path(__file__).resolve().parent / "helpers" / "esqa_fake.py"


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    monkeypatch.setenv("ESQA_EMBEDDER", "conftest:HashedEmbedder")
    for name in ("ESQA_INDEX", "ESQA_CORPUS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def news(tmp_path_factory) -> tuple[Path, Path]:
    """A small corpus (English and Japanese) and its index, built once."""
    root = tmp_path_factory.mktemp("bad-input")
    corpus = write_corpus(root / "corpus", CORPUS)
    api.build(corpus, root / "index", embedder=HashedEmbedder())
    return corpus, root / "index"


@pytest.fixture(scope="module")
def qa(news) -> api.QA:
    corpus, index = news
    return api.load(index, corpus, embedder=HashedEmbedder(), build_if_missing=False)


def esqa_cli(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def ask_cli(news, *args: object) -> Result:
    corpus, index = news
    return esqa_cli(*args, "--corpus", corpus, "--index", index)


def editor_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """The file's lines as an editor numbers them (index 0 is line 1)."""
    return path.read_text(encoding=encoding).split("\n")  # universal newlines


def assert_verbatim(corpus: Path, cited: list[dict], key: str, encoding: str = "utf-8") -> None:
    """Every citation's text stands in its cited lines, starting and ending on them."""
    for c in cited:
        lines = editor_lines(corpus / c["source"], encoding)
        assert 1 <= c["line_start"] <= c["line_end"] <= len(lines), c
        quoted = lines[c["line_start"] - 1 : c["line_end"]]
        assert c[key] in "\n".join(quoted), c
        parts = c[key].split("\n")
        assert parts[0] in quoted[0] and parts[-1] in quoted[-1], c


def assert_answer(obj: dict, corpus: Path) -> None:
    """An answer or an abstention, in the documented schema, quoting the corpus."""
    assert {"question", "answered", "answer", "confidence", "citations"} <= set(obj)
    assert isinstance(obj["answered"], bool) and isinstance(obj["answer"], str)
    assert 0.0 <= obj["confidence"] <= 1.0
    assert_verbatim(corpus, obj["citations"], "quote")


def assert_answered_or_abstained(news, qa: api.QA, question: str) -> None:
    """`esqa ask --json`, `esqa search --json` and `qa.ask` answer or abstain, quoting the corpus."""
    corpus, _ = news
    result = ask_cli(news, "ask", "--json", question)
    assert result.exit_code == 0, result.output
    assert_answer(json.loads(result.stdout), corpus)
    result = ask_cli(news, "search", "--json", question)
    assert result.exit_code == 0, result.output
    assert_verbatim(corpus, json.loads(result.stdout), "text")
    answer = qa.ask(question)
    assert isinstance(answer, Answer)
    assert_answer(answer.to_dict(), corpus)
    assert all(isinstance(hit, Hit) for hit in qa.search(question))


# ---- questions ------------------------------------------------------------------------

NO_WORDS = {
    "empty": "",
    "white space": " \t\n\r\u00a0 ",
    "punctuation": "?!… ¿¡ — «» ...",
    "control characters": "\x00\x07\x1b\x7f",
}


@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize("question", NO_WORDS.values(), ids=NO_WORDS.keys())
def test_a_question_without_words_is_a_one_line_error(news, command, question):
    result = ask_cli(news, command, question)
    line = one_error_line(result)
    assert result.stdout == ""
    assert "question" in line or "query" in line


@pytest.mark.parametrize("question", NO_WORDS.values(), ids=NO_WORDS.keys())
def test_the_library_refuses_a_question_without_words(qa, question):
    for method in (qa.ask, qa.search):
        with pytest.raises(QueryError) as excinfo:
            method(question)
        assert isinstance(excinfo.value, EsqaError)  # what a user of the library catches
        assert "\n" not in str(excinfo.value)


LONG = {
    "words": " ".join(["when", "was", "the", "Lakeside", "Bridge", "opened", "traffic"] * 2500),
    "one word": "x" * 100_000,
    "lines": "bridge traffic\n" * 6_667,
}


@pytest.mark.parametrize("question", LONG.values(), ids=LONG.keys())
def test_a_100000_character_question_is_answered_or_abstained_promptly(news, qa, question):
    question = question[:100_000].ljust(100_000, "?")
    started = time.monotonic()
    assert_answered_or_abstained(news, qa, question)
    assert time.monotonic() - started < PROMPT_SECONDS


def test_control_characters_in_a_question_are_ignored_and_never_printed(news, qa):
    noisy = "When\x00 was the\x07 Lakeside\x1b Bridge opened\r to\x7f traffic?\x08"
    assert qa.ask(noisy).to_dict()["citations"] == qa.ask(GOOD_QUESTION).to_dict()["citations"]
    assert qa.ask(noisy).text == qa.ask(GOOD_QUESTION).text
    for args in (["ask", noisy], ["ask", "--json", noisy], ["search", noisy]):
        result = ask_cli(news, *args)
        assert result.exit_code == 0, result.output
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stdout), result.stdout
    assert "1987" in ask_cli(news, "ask", noisy).stdout


NON_ENGLISH = {
    "japanese": "東京の新しい橋は一日に何台の車が通りますか",
    "arabic": "متى تم افتتاح جسر ليكسايد أمام حركة المرور؟",
    "chinese": "湖畔大桥是什么时候通车的？",
    "russian": "Когда мост Лейксайд открыли для движения?",
    "hindi": "लेकसाइड ब्रिज यातायात के लिए कब खोला गया?",
    "emoji": "🌉 when did the bridge open? 🚗🚗",
    "bidi marks": "\u202ewhen was the\u202c Lakeside Bridge \u200fopened\u200e?",
    "combining accents": "Whe\u0301n was the Lake\u0300side Bri\u0308dge opened?",
}


@pytest.mark.parametrize("question", NON_ENGLISH.values(), ids=NON_ENGLISH.keys())
def test_a_non_english_question_is_answered_or_abstained(news, qa, question):
    assert_answered_or_abstained(news, qa, question)


def test_a_batch_of_bad_questions_gives_one_json_line_each(news, tmp_path):
    corpus, _ = news
    questions = [
        json.dumps({"question": ""}),
        json.dumps({"question": " \t "}),
        "?!…",
        json.dumps({"question": "\x00\x1b"}),
        json.dumps({"question": LONG["words"][:100_000]}),
        NON_ENGLISH["japanese"],
        NON_ENGLISH["arabic"],
        GOOD_QUESTION,
    ]
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(questions) + "\n", encoding="utf-8")
    result = ask_cli(news, "ask", "--jsonl", batch)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(questions)
    for obj in answers:
        assert_answer(obj, corpus)
    assert [a["answered"] for a in answers[:4]] == [False] * 4
    assert answers[-1]["answered"] and "1987" in answers[-1]["answer"]


# ---- corpus files ---------------------------------------------------------------------

ARTICLE = "\n".join(PLAN) + "\n"
BAD_FILES: dict[str, tuple[bytes, str]] = {
    # name: (content, a word of the reason a user is told)
    "empty.txt": (b"", "empty"),
    "blank.txt": (b" \r\n\t\n \n", "empty"),
    "nbsp-only.txt": (b"\xc2\xa0\n\xc2\xa0\xc2\xa0\n", "no article text"),
    "bom-only.txt": (codecs.BOM_UTF8 + b"\r\n", "empty"),
    "image.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
    "nul.txt": (ARTICLE.replace("pillars", "pil\x00lars").encode("utf-8"), "binary"),
    "utf16-no-bom.txt": (ARTICLE.encode("utf-16-le"), "binary"),
    "furniture.txt": (b"Advertisement\nShare\nComments\nSign in\n", "no article text"),
}


@pytest.fixture
def zoo(tmp_path) -> Path:
    """Good articles next to every kind of bad file."""
    files: dict[str, str | bytes] = {name: data for name, (data, _) in BAD_FILES.items()}
    files.update({"bridge.txt": CORPUS["bridge.txt"], "plan.txt": ARTICLE})
    return write_corpus(tmp_path / "corpus", files)


def test_ingestion_skips_each_bad_file_and_says_why(zoo):
    scan = load_corpus(zoo)
    assert sorted(d.source for d in scan.documents) == ["bridge.txt", "plan.txt"]
    for name, (_, why) in BAD_FILES.items():
        assert why in scan.skipped[name], (name, scan.skipped[name])
        assert any(name in w for w in scan.warnings)


def test_a_build_warns_once_about_each_bad_file_and_indexes_the_rest(zoo, tmp_path):
    index = tmp_path / "index"
    result = esqa_cli("index", "build", "--corpus", zoo, "--index", index)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("esqa: warning:")]
    for name, (_, why) in BAD_FILES.items():
        mine = [line for line in warnings if f" {name}:" in line]
        assert len(mine) == 1 and why in mine[0], (name, warnings)
    assert "indexed 2 files" in result.stdout
    info = json.loads(esqa_cli("info", "--json", "--corpus", zoo, "--index", index).stdout)
    assert set(info["skipped"]) == set(BAD_FILES)
    assert info["stale"] is False  # bad files are not "new" at every later command
    result = esqa_cli("search", "--json", "pillars sea walls", "--corpus", zoo, "--index", index)
    assert {hit["source"] for hit in json.loads(result.stdout)} <= {"bridge.txt", "plan.txt"}


def test_a_corpus_of_only_bad_files_is_a_one_line_error(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {n: d for n, (d, _) in BAD_FILES.items()})
    result = esqa_cli("index", "build", "--corpus", corpus, "--index", tmp_path / "index")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("esqa: error:")]
    assert len(errors) == 1
    assert all(
        line.startswith(("esqa: error:", "esqa: warning:"))
        for line in result.stderr.splitlines()
        if line.strip()
    )
    assert not api.index_exists(tmp_path / "index")


def test_a_corpus_of_stop_words_only_builds_or_is_a_one_line_error(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"the.txt": "the\n"})
    result = esqa_cli("index", "build", "--corpus", corpus, "--index", tmp_path / "index")
    if result.exit_code != 0:
        one_error_line(result)
    assert result.exception is None or isinstance(result.exception, SystemExit)


NOTEPAD = [
    "Café owners brace for the “quiet season”",  # 1
    "",  # 2
    "Reuters, May 5, 2025",  # 3
    "",  # 4
    "The owner of the Café Ångström in Malmö said business had fallen by a third since the",  # 5
    "festival ended, and that the terrace would close for the winter on November 1.",  # 6
    "",  # 7
    "Prices for coffee beans rose 12% this year, the association of roasters said.",  # 8
]
ENCODINGS = {
    # name: (bytes of the file, codec that reads it back, whether a warning is due)
    "cp1252": ("\r\n".join(NOTEPAD).encode("cp1252"), "cp1252", True),
    "latin-1": (
        "\n".join(NOTEPAD).replace("“", '"').replace("”", '"').encode("latin-1"),
        "latin-1",
        True,
    ),
    "latin-1 C1 byte": (
        "\n".join(NOTEPAD).replace("“", "\x81").replace("”", "\x81").encode("latin-1"),
        "latin-1",
        True,
    ),
    "utf-16-le BOM CRLF": (
        codecs.BOM_UTF16_LE + "\r\n".join(NOTEPAD).encode("utf-16-le"),
        "utf-16",
        False,
    ),
    "utf-16-be BOM": (
        codecs.BOM_UTF16_BE + "\n".join(NOTEPAD).encode("utf-16-be"),
        "utf-16",
        False,
    ),
    "utf-8 BOM CRLF": (codecs.BOM_UTF8 + "\r\n".join(NOTEPAD).encode("utf-8"), "utf-8-sig", False),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_file_in_another_encoding_is_decoded_and_cited_on_the_right_lines(tmp_path, encoding):
    data, codec, warns = ENCODINGS[encoding]
    corpus = write_corpus(tmp_path / "corpus", {"cafe.txt": data})
    scan = load_corpus(corpus)
    (doc,) = scan.documents
    lines = editor_lines(corpus / "cafe.txt", codec)
    for p in doc.paragraphs:
        assert p.text == "\n".join(lines[p.line_start - 1 : p.line_end]).strip()
    body = [(p.line_start, p.line_end) for p in doc.paragraphs if "business" in p.text]
    assert body == [(5, 6)]
    assert any("cafe.txt" in w for w in scan.warnings) == warns
    report = api.build(corpus, tmp_path / "index", embedder=HashedEmbedder())
    assert any("cafe.txt" in w for w in report.warnings) == warns
    qa = api.load(tmp_path / "index", corpus, embedder=HashedEmbedder(), build_if_missing=False)
    hits = [h.to_dict() for h in qa.search("terrace close for the winter", 3)]
    assert (hits[0]["line_start"], hits[0]["line_end"]) == (5, 6)
    assert "Malmö" in hits[0]["text"]
    assert_verbatim(corpus, hits, "text", codec)
    assert_verbatim(
        corpus,
        qa.ask("How much did coffee bean prices rise?").to_dict()["citations"],
        "quote",
        codec,
    )


WRAPPED = [
    "Port upgrade approved",  # 1
    "",  # 2
    "The city council approved a plan on Monday to deepen the harbour channel so that",  # 3
    "larger container ships can dock, a project the port authority says will cost",  # 4
    "about 40 million euros and take three years to finish.",  # 5
    "",  # 6
    "Dredging is due to start in the spring, the authority said.",  # 7
    "",  # 8
    "Fishermen's groups said they would ask a court to halt the work.",  # 9
]
LINE_ENDINGS = {
    "crlf": ["\r\n"],
    "cr": ["\r"],
    "mixed": ["\r\n", "\n", "\r", "\n", "\r\n"],
}


def join_with(lines: list[str], breaks: list[str]) -> str:
    return "".join(line + breaks[i % len(breaks)] for i, line in enumerate(lines))


@pytest.mark.parametrize("endings", LINE_ENDINGS)
def test_line_numbers_of_citations_match_the_file_whatever_its_line_endings(tmp_path, endings):
    corpus = write_corpus(
        tmp_path / "corpus", {"port.txt": join_with(WRAPPED, LINE_ENDINGS[endings])}
    )
    index = tmp_path / "index"
    assert esqa_cli("index", "build", "--corpus", corpus, "--index", index).exit_code == 0
    result = esqa_cli(
        "search", "--json", "-k", "3", "container ships dock", "--corpus", corpus, "--index", index
    )
    hits = json.loads(result.stdout)
    assert (hits[0]["line_start"], hits[0]["line_end"]) == (3, 5)
    assert hits[0]["text"] == "\n".join(WRAPPED[2:5])
    assert_verbatim(corpus, hits, "text")
    result = esqa_cli(
        "ask", "--json", "When is dredging due to start?", "--corpus", corpus, "--index", index
    )
    answer = json.loads(result.stdout)
    assert answer["answered"], answer
    assert (answer["citations"][0]["line_start"], answer["citations"][0]["line_end"]) == (7, 7)
    assert_answer(answer, corpus)
    plain = esqa_cli("ask", "When is dredging due to start?", "--corpus", corpus, "--index", index)
    assert "port.txt ¶" in plain.stdout and "line 7" in plain.stdout


FIFTY_MB = 50_000_000


def test_a_50_mb_file_is_ingested_with_every_paragraph_on_its_line(tmp_path):
    sentence = (
        "The ministry said on Tuesday that exports of chip-making tools would need a licence. "
    )
    lines: list[str] = []
    body: dict[int, str] = {}  # line number -> body paragraph
    size = 0
    while size < FIFTY_MB:
        before = len(lines)
        if len(lines) % 400 == 0:
            lines += [f"Export rules, part {len(lines)}", "", "Reuters, May 5, 2025", ""]
        if len(lines) % 40 == 0:
            lines += ["Advertisement", ""]
        text = f"Paragraph {len(lines) + 1}: " + sentence * 11
        lines += [text.strip(), ""]
        body[len(lines) - 1] = text.strip()
        size += sum(len(line) + 1 for line in lines[before:])
    path = tmp_path / "corpus" / "big.txt"
    path.parent.mkdir()
    path.write_text("\n".join(lines), encoding="utf-8")
    assert path.stat().st_size >= FIFTY_MB
    (doc,) = load_corpus(path.parent).documents
    found = {p.line_start: p for p in doc.paragraphs if p.kind == "body"}
    assert {n: (p.line_end, p.text) for n, p in found.items()} == {
        n: (n, text) for n, text in body.items()
    }
    assert not [p for p in doc.paragraphs if "Advertisement" in p.text]


def one_mb_line() -> str:
    """About 13,000 sentences on one line, with markers at its start, middle and end."""
    rules, months = ["export", "import", "safety", "labour"], ["April", "May", "June"]
    sentences = [
        f"Officials in district {i} said the new {rules[i % 4]} rules would take effect in "
        f"{months[i % 3]}."
        for i in range(13_000)
    ]
    half = len(sentences) // 2
    return " ".join(
        ["Then quokkafirst reported.", *sentences[:half], "The quokkamiddle report came out."]
        + [*sentences[half:], "Then quokkalast closed the meeting."]
    )


@pytest.fixture(scope="module", autouse=True)
def one_mb_build(tmp_path_factory):
    """The build of a file holding a 1 MB line, in another process (`esqa index build`
    with the fake embedder). Splitting the line into sentences takes seconds, so the
    build starts with the module and runs on the second core while the other tests do;
    its test waits for it."""
    root = tmp_path_factory.mktemp("one-mb-line")
    line = one_mb_line()
    corpus = write_corpus(root / "corpus", {"long.txt": f"Rules for districts\n\n{line}\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESQA_")}
    command = ["index", "build", "--corpus", str(corpus), "--index", str(root / "index")]
    build = subprocess.Popen(
        [sys.executable, str(HELPER), *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield corpus, root / "index", line, build
    if build.poll() is None:
        build.kill()
        build.communicate()


def test_a_1_mb_line_is_indexed_whole(one_mb_build):
    corpus, index, line, build = one_mb_build
    assert len(line.encode("utf-8")) >= 1_000_000
    _, err = build.communicate(timeout=600)
    assert build.returncode == 0, err
    assert "Traceback" not in err
    qa = api.load(index, corpus, embedder=HashedEmbedder(), build_if_missing=False)
    chunks = [c for c in qa.index.chunks.values() if c.line_start == 3]
    assert all(c.line_end == 3 and c.text in line for c in chunks)
    covered = bytearray(len(line))
    for c in chunks:
        start = line.find(c.text)
        covered[start : start + len(c.text)] = b"\x01" * len(c.text)
    lost = [m.group() for m in re.finditer(r"\S+", line) if not all(covered[m.start() : m.end()])]
    assert lost == []
    for marker in ("quokkafirst", "quokkamiddle", "quokkalast"):
        hit = qa.search(marker, 1)[0]
        assert marker in hit.text and hit.chunk.line_start == 3


def test_a_symlink_out_of_the_corpus_is_never_followed(tmp_path):
    outside = write_corpus(
        tmp_path / "outside",
        {"secret.txt": "Secret plans\n\nThe zeppelin fleet will be sold in June, insiders said.\n"},
    )
    corpus = write_corpus(tmp_path / "corpus", {"bridge.txt": CORPUS["bridge.txt"]})
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "linked").symlink_to(outside, target_is_directory=True)
    index = tmp_path / "index"
    result = esqa_cli("index", "build", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert "indexed 1 files" in result.stdout
    assert any("secret.txt" in line for line in result.stderr.splitlines())
    qa = api.load(index, corpus, embedder=HashedEmbedder(), build_if_missing=False)
    assert not [c for c in qa.index.chunks.values() if "zeppelin" in c.text]
    (outside / "secret.txt").write_text(
        "Changed\n\nThe zeppelin fleet was sold.\n", encoding="utf-8"
    )
    write_corpus(outside, {"more.txt": "More\n\nAnother zeppelin story from outside the corpus.\n"})
    assert api.info(index, corpus).stale is False


@pytest.fixture
def locked(tmp_path) -> Path:
    """A corpus whose file locked.txt cannot be read (its mode is 000)."""
    corpus = write_corpus(
        tmp_path / "corpus",
        {"bridge.txt": CORPUS["bridge.txt"], "locked.txt": CORPUS["plan.txt"]},
    )
    (corpus / "locked.txt").chmod(0)
    yield corpus
    (corpus / "locked.txt").chmod(0o644)


@pytest.fixture
def as_user(monkeypatch) -> None:
    """Reading a file of mode 000 fails, as it does for any user but root."""
    if os.geteuid() != 0:
        return
    read_bytes, open_ = pathlib.Path.read_bytes, pathlib.Path.open

    def refused(path: Path) -> bool:
        try:
            return not path.stat().st_mode & 0o777
        except OSError:  # a file about to be created
            return False

    def checked_read_bytes(path: Path) -> bytes:
        if refused(path):
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    def checked_open(path: Path, *args, **kwargs):
        if refused(path):
            raise PermissionError(13, "Permission denied", str(path))
        return open_(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_bytes", checked_read_bytes)
    monkeypatch.setattr(pathlib.Path, "open", checked_open)


def test_an_unreadable_file_is_skipped_with_a_warning(locked, as_user, tmp_path):
    scan = load_corpus(locked)
    assert [d.source for d in scan.documents] == ["bridge.txt"]
    assert "read" in scan.skipped["locked.txt"]
    result = esqa_cli("index", "build", "--corpus", locked, "--index", tmp_path / "index")
    assert result.exit_code == 0, result.output
    assert "indexed 1 files" in result.stdout
    assert [line for line in result.stderr.splitlines() if "locked.txt" in line]


def test_an_unreadable_file_does_not_make_the_index_look_stale(locked, as_user, tmp_path):
    api.build(locked, tmp_path / "index", embedder=HashedEmbedder())
    assert api.info(tmp_path / "index", locked).stale is False


SHELL_NAMES = [
    "with spaces.txt",
    "日本 ニュース.txt",
    "$(touch pwned1).txt",
    "`touch pwned2`.txt",
    "; touch pwned3 #.txt",
    "x' && touch pwned4 && '.txt",
    "-rf --help.txt",
    "|cat >pwned5.txt",
    "*.txt",
]


def test_file_names_with_spaces_unicode_and_shell_syntax_are_only_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {
        name: f"Report {n}\n\nThe harbour office logged {n} ships named zebra{n} this week.\n"
        for n, name in enumerate(SHELL_NAMES)
    }
    corpus = write_corpus(tmp_path / "corpus", files)
    index = tmp_path / "index"
    result = esqa_cli("index", "build", "--corpus", corpus, "--index", index)
    assert result.exit_code == 0, result.output
    assert f"indexed {len(SHELL_NAMES)} files" in result.stdout
    for n, name in enumerate(SHELL_NAMES):
        result = esqa_cli(
            "search", "--json", "-k", "1", f"zebra{n}", "--corpus", corpus, "--index", index
        )
        assert json.loads(result.stdout)[0]["source"] == name
        result = esqa_cli(
            "ask", f"How many ships named zebra{n}?", "--corpus", corpus, "--index", index
        )
        assert name in result.stdout
    assert not [p for p in tmp_path.rglob("pwned*")] and not list(Path.cwd().glob("pwned*"))
