"""`esqa serve`'s pages and JSON API through Starlette's TestClient (fake embedder)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from conftest import SEEDS, HashedEmbedder, seed_lines, write_corpus
from helpers.web import HOSTILE, HOSTILE_NAME

from esqa import api
from esqa.api import QA
from esqa.cli import cli
from esqa.errors import IndexInvalidError
from esqa.types import AnswerSpan

pytest.importorskip("starlette", reason="the web extra is not installed: pip install 'esqa[web]'")
from starlette.testclient import TestClient  # noqa: E402

from esqa.web.app import create_app  # noqa: E402

QUESTION = "what is ESPA's fourth pillar"
PILLAR_FILE = "003_116bf12851cd3169.txt"

SECRET = "top-secret-outside-the-corpus"


@pytest.fixture(scope="module")
def qa(fake_seed_index) -> QA:
    return api.load(fake_seed_index, SEEDS, embedder=HashedEmbedder(), build_if_missing=False)


@pytest.fixture(scope="module")
def client(qa) -> TestClient:
    return TestClient(create_app(qa))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> TestClient:
    root = tmp_path_factory.mktemp("hostile")
    corpus = write_corpus(root / "corpus", HOSTILE)
    (root / "secret.txt").write_text(SECRET)
    qa = api.load(root / "idx", corpus, embedder=HashedEmbedder())
    return TestClient(create_app(qa))


class Page(HTMLParser):
    """Every element of a page with its attributes and the text inside it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in {"meta", "link", "input", "br", "img", "hr"}:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, Any]]:
        def matches(e: dict[str, Any]) -> bool:
            if tag and e["tag"] != tag:
                return False
            for name, value in attrs.items():
                got = e["attrs"].get(name.rstrip("_"))
                if got is None or (value not in got.split() and value != got):
                    return False
            return True

        return [e for e in self.elements if matches(e)]

    def one(self, tag: str | None = None, **attrs: str) -> dict[str, Any]:
        found = self.find(tag, **attrs)
        assert len(found) == 1, (tag, attrs, found)
        return found[0]


def words(text: str) -> str:
    return " ".join(text.split())


# -- the ask page --------------------------------------------------------------------------


def test_the_ask_page_has_a_focused_labelled_question_box_that_submits_by_get(client):
    page = Page(client.get("/").text)
    form = page.one("form", class_="ask")
    assert (form["attrs"]["action"], form["attrs"]["method"]) == ("/", "get")
    box = page.one("input", id="q")
    assert "autofocus" in box["attrs"] and box["attrs"]["name"] == "q"
    assert page.one("label")["attrs"]["for"] == "q"
    assert page.one("button")["attrs"]["type"] == "submit"  # Enter in the box submits


def test_the_answer_page_shows_the_answer_and_its_numbered_citations(client, qa):
    answer = qa.ask(QUESTION)
    page = Page(client.get("/", params={"q": QUESTION}).text)
    assert words(page.one("p", class_="answer")["text"]) == words(answer.text)
    assert f"confidence {answer.confidence:.2f}" in page.one(class_="confidence")["text"]
    items = [e for e in page.find("li") if e["attrs"].get("id", "").startswith("c")]
    assert [e["attrs"]["id"] for e in items] == [f"c{n}" for n in range(1, len(items) + 1)]
    for n, (item, cited) in enumerate(zip(items, answer.citations, strict=True), start=1):
        text = words(item["text"])
        assert text.startswith(f"[{n}] {cited.source} ¶{cited.paragraph}, line")
        assert words(cited.quote) in text
        if cited.article_title:
            assert cited.article_title in text


def test_a_citation_names_the_publisher_of_its_article(client, qa):
    answer = qa.ask(QUESTION)
    first = answer.citations[0]
    chunk = next(
        c
        for c in qa.index.chunks.values()
        if c.source == first.source and c.line_start <= first.line_start <= c.line_end
    )
    assert chunk.publisher  # the seeds' article names its publisher
    page = Page(client.get("/", params={"q": QUESTION}).text)
    assert chunk.publisher in page.one("li", id="c1")["text"]


def test_each_citation_links_to_its_lines_in_the_article_view(client, qa):
    answer = qa.ask(QUESTION)
    page = Page(client.get("/", params={"q": QUESTION}).text)
    links = page.find("a", class_="cite")
    assert len(links) == len(answer.citations)
    for n, (cited, link) in enumerate(zip(answer.citations, links, strict=True), start=1):
        parts = urlsplit(link["attrs"]["href"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert parts.path == "/article" and parts.fragment == "quote"
        assert query["source"] == cited.source
        assert (int(query["start"]), int(query["end"])) == (cited.line_start, cited.line_end)
        assert query["quote"] == cited.quote
        assert query["q"] == QUESTION and query["n"] == str(n)


def test_a_not_answered_question_says_so_plainly(client, qa):
    question = "What is the recipe for a chocolate cake with raspberries?"
    answer = qa.ask(question)
    assert not answer.answered  # the seeds are about economic security
    page = Page(client.get("/", params={"q": question}).text)
    shown = words(page.one("p", class_="answer")["text"])
    assert shown.startswith("Not answered.")
    assert page.one("h3")["text"] == "Closest passages"


@pytest.mark.parametrize(
    "question", [QUESTION, "who is a director at the Institute of Geoeconomics?"]
)
def test_the_answer_span_is_highlighted_in_the_answer_and_the_first_quote(client, qa, question):
    answer = qa.ask(question)
    assert answer.span is not None  # the composer names the answering phrase
    page = Page(client.get("/", params={"q": question}).text)
    in_answer = [m["text"] for m in page.find("mark", class_="span")]
    assert in_answer == [answer.span.text, answer.span.text]  # the answer, then quote [1]
    shown = page.one("p", class_="answer")["text"]
    assert answer.span.text in shown and words(shown) == words(answer.text)
    quote = page.one("li", id="c1")
    assert words(answer.citations[0].quote) in words(quote["text"])


def test_the_article_view_marks_the_span_inside_the_quote(client, qa):
    answer = qa.ask(QUESTION)
    page = Page(client.get("/", params={"q": QUESTION}).text)
    href = page.find("a", class_="cite")[0]["attrs"]["href"]
    assert f"span={answer.span.start}-{answer.span.end}" in href
    view = Page(client.get(href).text)
    (quote,) = view.find("mark", class_="quote")  # the span is marked inside the quote
    assert quote["text"] == answer.citations[0].quote and quote["attrs"]["id"] == "quote"
    assert [m["text"] for m in view.find("mark", class_="span")] == [answer.span.text]


class _WrongSpanQA(QA):
    """Answers whose span does not name the text at its offsets of the quote."""

    def ask(self, question: str, k: int = 24) -> Any:
        answer = super().ask(question, k)
        return dataclasses.replace(answer, span=AnswerSpan("not in the quote", 0, 16))


def test_a_span_that_is_not_its_quotes_text_is_not_marked(qa):
    wrong = _WrongSpanQA(qa.index, qa.embedder, corpus=qa.corpus, changes=qa.changes)
    page = Page(TestClient(create_app(wrong)).get("/", params={"q": QUESTION}).text)
    assert page.find("mark") == []
    assert "span=" not in page.find("a", class_="cite")[0]["attrs"]["href"]


def test_an_answer_without_a_span_is_shown_plainly(qa):
    class NoSpanQA(QA):
        def ask(self, question: str, k: int = 24) -> Any:
            return dataclasses.replace(super().ask(question, k), span=None)

    plain = NoSpanQA(qa.index, qa.embedder, corpus=qa.corpus, changes=qa.changes)
    page = Page(TestClient(create_app(plain)).get("/", params={"q": QUESTION}).text)
    assert page.find("mark") == []
    assert words(page.one("p", class_="answer")["text"]) == words(qa.ask(QUESTION).text)


# -- the article view ----------------------------------------------------------------------


def article(client, source, start=None, end=None, **more):
    params = {"source": source, "start": start, "end": end, **more}
    return client.get("/article", params={k: v for k, v in params.items() if v is not None})


def test_the_article_view_numbers_every_line_and_highlights_the_cited_ones(client):
    lines = seed_lines(PILLAR_FILE)
    page = Page(article(client, PILLAR_FILE, 18, 18).text)
    rows = page.find("div", class_="line")
    assert [r["attrs"]["id"] for r in rows] == [f"L{n}" for n in range(1, len(lines) + 1)]
    for n, row in enumerate(rows, start=1):
        number, _, text = row["text"].partition(str(n))
        assert number == "" and text.removeprefix("cited: ") == lines[n - 1]
    assert [r["attrs"]["id"] for r in page.find("div", class_="cited")] == ["L18"]


def test_the_article_view_marks_the_quote_inside_the_cited_lines(client):
    line = seed_lines(PILLAR_FILE)[17]
    quote = line[line.index("The legislation has four pillars") :].split(". ")[0] + "."
    page = Page(article(client, PILLAR_FILE, 18, 18, quote=quote).text)
    marks = page.find("mark", class_="quote")
    assert [m["text"] for m in marks] == [quote]
    assert marks[0]["attrs"]["id"] == "quote"  # where the citation's #quote link lands
    row = page.one("div", id="L18")
    assert quote in row["text"]


def test_a_quote_spanning_lines_is_marked_on_each(tmp_path):
    corpus = write_corpus(
        tmp_path / "c",
        {"wrapped.txt": "Cables\n\nThe ministry plans to add undersea cables\nand satellites to "
         "the list of critical\nproducts next year.\n"},
    )  # fmt: skip
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    page = Page(
        article(
            TestClient(create_app(qa)), "wrapped.txt", 3, 5, quote="undersea cables\nand satellites"
        ).text
    )
    assert [m["text"] for m in page.find("mark", class_="quote")] == [
        "undersea cables",
        "and satellites",
    ]


def test_a_quote_that_is_not_in_the_cited_lines_marks_nothing_and_says_so(client):
    page = Page(article(client, PILLAR_FILE, 18, 18, quote="words this file never says").text)
    assert page.find("mark") == []
    assert "not found in the cited lines" in words(page.one(class_="warning")["text"])
    assert page.one("div", id="L18")["attrs"]["class"] == "line cited"


def test_the_article_view_shows_the_articles_metadata_and_a_link_back(client, qa):
    chunk = next(
        c for c in qa.index.chunks.values() if c.source == PILLAR_FILE and c.line_start == 18
    )
    html = article(client, PILLAR_FILE, 18, 18, q=QUESTION, n=1).text
    page = Page(html)
    assert page.one("h1")["text"] == chunk.article_title
    meta = words(page.one("dl")["text"])
    assert chunk.publisher in meta and chunk.published in meta and PILLAR_FILE in meta
    (link,) = [a for a in page.find("a") if a["text"].startswith("← Back to the answer")]
    parts = urlsplit(link["attrs"]["href"])
    assert parts.path == "/" and parse_qs(parts.query)["q"] == [QUESTION]
    assert parts.fragment == "c1"


@pytest.mark.parametrize(
    "params, why",
    [
        ({"source": PILLAR_FILE, "start": "18", "end": "10"}, "start"),
        ({"source": PILLAR_FILE, "start": "x"}, "whole number"),
        ({"source": PILLAR_FILE, "start": "0"}, "from 1"),
        ({"source": PILLAR_FILE, "start": "900", "end": "901"}, "past its end"),
        ({"source": ""}, "name the article file"),
        ({}, "name the article file"),
        ({"source": PILLAR_FILE, "quote": "q" * 5000}, "at most"),
        ({"source": PILLAR_FILE, "span": "1-x"}, "START-END"),
    ],
)
def test_bad_article_parameters_are_a_clear_400(client, params, why):
    response = client.get("/article", params=params)
    assert response.status_code == 400
    assert why in Page(response.text).one("p", class_="error")["text"]


TRAVERSALS = [
    "../../etc/passwd",
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "..\\..\\etc\\passwd",
    f"{PILLAR_FILE}/../../README.md",
    "./" + PILLAR_FILE,
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",  # sent encoded twice: arrives encoded once
    "../secret.txt",
    "not-in-the-index.txt",
]


@pytest.mark.parametrize("source", TRAVERSALS)
def test_only_files_the_index_holds_can_be_opened(hostile, source):
    response = article(hostile, source)
    assert response.status_code == 404
    assert "the index holds no article file named" in response.text
    assert SECRET not in response.text and "root:" not in response.text


@pytest.mark.parametrize(
    "raw",
    [
        "/article?source=..%2F..%2Fetc%2Fpasswd",
        "/article?source=%2Fetc%2Fpasswd",
        "/article?source=..%252F..%252Fetc%252Fpasswd",
        "/article?source=%2E%2E/secret.txt",
        "/article/../../etc/passwd",
        "/static/../app.py",
        "/static/..%2F..%2Fapi.py",
        "/static/%2e%2e/app.py",
        "/static//etc/passwd",
    ],
)
def test_encoded_traversals_in_the_raw_url_are_refused(hostile, raw):
    response = hostile.get(raw)
    assert response.status_code == 404
    assert SECRET not in response.text and "root:" not in response.text
    assert "create_app" not in response.text  # no source file of the server either


def test_a_file_added_since_the_build_cannot_be_opened_until_indexed(tmp_path):
    corpus = write_corpus(tmp_path / "c", {"a.txt": "Cables\n\nUndersea cables matter.\n"})
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    (corpus / "later.txt").write_text("Later\n\nA file the index has not read.\n")
    response = article(TestClient(create_app(qa)), "later.txt")
    assert response.status_code == 404


def test_an_indexed_file_replaced_by_a_link_outside_the_corpus_is_refused(tmp_path):
    corpus = write_corpus(tmp_path / "c", {"a.txt": "Cables\n\nUndersea cables matter.\n"})
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    (tmp_path / "secret.txt").write_text(SECRET)
    (corpus / "a.txt").unlink()
    (corpus / "a.txt").symlink_to(tmp_path / "secret.txt")
    response = article(TestClient(create_app(qa)), "a.txt")
    assert response.status_code == 404
    assert SECRET not in response.text


def test_an_index_that_names_a_file_outside_its_corpus_is_not_followed(tmp_path):
    from esqa.articles import Catalog
    from esqa.errors import SourceNotFoundError
    from esqa.types import Chunk

    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "corpus").mkdir()
    name = "../secret.txt"
    index: Any = SimpleNamespace(
        path=tmp_path / "idx",
        sources=SimpleNamespace(sources={name: {"chunks": 1, "sha256": ""}}),
        chunks={0: Chunk(0, name, 1, 1, 1, SECRET)},
    )
    with pytest.raises(SourceNotFoundError):
        Catalog(index, tmp_path / "corpus").read(name)


def test_an_edited_file_is_shown_with_a_warning_that_its_lines_may_have_moved(tmp_path):
    corpus = write_corpus(tmp_path / "c", {"a.txt": "Cables\n\nUndersea cables matter.\n"})
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    (corpus / "a.txt").write_text("Cables\n\nA new first line.\n\nUndersea cables matter.\n")
    page = Page(article(TestClient(create_app(qa)), "a.txt", 3, 3).text)
    assert "changed since the index was built" in words(page.find(class_="warning")[0]["text"])


# -- hostile articles ----------------------------------------------------------------------


def _pages(client: TestClient) -> dict[str, str]:
    out = {
        "ask": client.get("/", params={"q": "undersea cables ministry officials"}).text,
        "search": client.get("/search", params={"q": "undersea cables", "k": 10}).text,
        "corpus": client.get("/corpus").text,
    }
    for name in HOSTILE:
        out[name] = article(
            client, name, 1, 3, quote="<script>", q="<script>alert(9)</script>"
        ).text
    return out


def test_hostile_article_text_is_escaped_on_every_page(hostile):
    pages = _pages(hostile)
    for name, html in pages.items():
        page = Page(html)
        scripts = page.find("script")
        assert [s["attrs"].get("src") for s in scripts] == ["/static/esqa.js"], name
        assert all(s["text"] == "" for s in scripts), name
        assert page.find("img") == [] and page.find("svg") == [], name
        handlers = [(e["tag"], a) for e in page.elements for a in e["attrs"] if a.startswith("on")]
        assert handlers == [], name
    # ... and shown as the text it is.
    assert "<script>window.__pwned = 1;" in Page(pages["hostile.txt"]).one("div", id="L1")["text"]
    assert "&lt;script&gt;" in pages["corpus"] or "&lt;img" in pages["corpus"]
    assert HOSTILE_NAME in Page(pages["corpus"]).one("tbody")["text"]


def test_hostile_text_reaches_the_json_api_verbatim(hostile):
    hits = hostile.get("/api/search", params={"q": "undersea cables", "k": 10}).json()
    texts = " ".join(h["text"] for h in hits)
    assert '<img src=x onerror="window.__pwned=2">' in texts  # data, not markup: JSON is exact
    response = hostile.get("/api/search", params={"q": "undersea cables"})
    assert response.headers["content-type"] == "application/json"


def test_no_page_has_inline_script_or_style_that_the_policy_would_block(hostile, client):
    pages = {**_pages(hostile), "article": article(client, PILLAR_FILE, 18, 18).text}
    pages["error"] = client.get("/nowhere").text
    for name, html in pages.items():
        page = Page(html)
        assert not [e for e in page.elements if "style" in e["attrs"]], name
        assert not [e for e in page.find("style")], name
        assert all(e["attrs"].get("src", "").startswith("/static/") for e in page.find("script"))


# -- the headers and the errors ------------------------------------------------------------

ALL_KINDS = [
    "/",
    f"/?q={QUESTION}",
    "/?q=",
    "/search?q=rare+earths",
    "/corpus",
    f"/article?source={PILLAR_FILE}",
    "/article?source=../../etc/passwd",
    "/api/ask?q=rare+earths",
    "/api/ask",
    "/api/info",
    "/api/openapi.json",
    "/static/esqa.css",
    "/static/nothing.css",
    "/nowhere",
]


@pytest.mark.parametrize("path", ALL_KINDS)
def test_every_response_forbids_inline_script_and_other_origins(client, path):
    response = client.get(path)
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no other origin
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(r"app;dur=\d+\.\d\d", response.headers["server-timing"])


def test_an_app_told_its_names_refuses_requests_for_any_other(qa):
    app = create_app(qa, hosts={"127.0.0.1", "localhost"})
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/api/info").status_code == 200
    refused = TestClient(app, base_url="http://rebound.example:8000").get("/api/info")
    assert refused.status_code == 400 and "answers to 127.0.0.1, localhost only" in refused.text
    assert "content-security-policy" in refused.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/api/ask", "/article", "/static/esqa.css"])
def test_the_server_only_reads(client, method, path):
    response = client.request(method, path, params={"q": QUESTION})
    assert response.status_code == 405
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "path, why",
    [
        ("/?q=", "empty"),
        ("/?q=%20%20%09", "empty"),
        ("/?q=" + "a" * 2001, "at most 2,000"),
        ("/?q=%3F%21%3F", "no words"),
        ("/?q=x%00y", "NUL"),
        ("/?q=rare&k=0", "from 1 to 50"),
        ("/search?q=", "empty"),
        ("/search?q=rare&k=abc", "whole number"),
        ("/api/ask", "give the question"),
        ("/api/ask?q=", "empty"),
        ("/api/ask?q=" + "word%20" * 5000, "at most 2,000"),
        ("/api/ask?q=%3F%3F", "no words"),
        ("/api/ask?q=rare&k=51", "from 1 to 50"),
        ("/api/search", "give the query"),
        ("/api/search?q=rare&k=-1", "whole number"),
        ("/api/search?q=rare&k=101", "from 1 to 100"),
    ],
)
def test_bad_questions_get_a_400_that_says_what_to_send(client, path, why):
    response = client.get(path)
    assert response.status_code == 400
    if path.startswith("/api/"):  # a JSON error object
        body = response.json()
        assert body["status"] == 400 and why in body["error"]
    else:  # the page again, with the message and the box to try again
        page = Page(response.text)
        assert why in page.one("p", class_="error")["text"]
        assert page.find("input", id="q")


def test_an_unknown_page_is_a_404_page_and_an_unknown_api_path_a_404_object(client):
    page = client.get("/nowhere/<script>")
    assert page.status_code == 404 and "<script>" not in page.text
    api_error = client.get("/api/nowhere")
    assert api_error.status_code == 404 and api_error.json()["status"] == 404


class _BrokenQA(QA):
    def ask(self, question: str, k: int = 24) -> Any:
        raise RuntimeError("a bug <script>alert(1)</script>")

    def search(self, query: str, k: int = 5) -> Any:
        raise IndexInvalidError("index /x is damaged (a chunk line)", hint="run: esqa index build")


@pytest.fixture(scope="module")
def broken(qa) -> TestClient:
    return TestClient(create_app(_BrokenQA(qa.index, qa.embedder, corpus=qa.corpus)))


@pytest.mark.parametrize("path", [f"/?q={QUESTION}", f"/api/ask?q={QUESTION}"])
def test_a_failure_inside_the_library_is_a_500_without_a_traceback(broken, path, caplog):
    with caplog.at_level(logging.ERROR, logger="esqa.web"):
        response = broken.get(path)
    assert response.status_code == 500
    assert "Traceback" not in response.text and "a bug" not in response.text
    assert "its log has one line" in response.text
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "RuntimeError" in lines[0] and "\n" not in lines[0]
    assert not any(r.exc_info for r in caplog.records)


def test_a_damaged_index_is_a_500_that_names_the_repair(broken):
    response = broken.get("/api/search", params={"q": "rare earths"})
    assert response.status_code == 500
    assert response.json()["error"].endswith("run: esqa index build")


# -- the JSON API: the objects of --json ---------------------------------------------------


@pytest.fixture(scope="module")
def cli_json(fake_seed_index):
    def run(*args: str) -> Any:
        result = CliRunner().invoke(
            cli,
            [*args, "--json", "--index", str(fake_seed_index), "--corpus", str(SEEDS)],
            env={"ESQA_EMBEDDER": "conftest:HashedEmbedder"},
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return run


def test_api_ask_returns_what_esqa_ask_json_prints(client, cli_json):
    assert client.get("/api/ask", params={"q": QUESTION}).json() == cli_json("ask", QUESTION)
    assert client.get("/api/ask", params={"q": QUESTION, "k": 5}).json() == cli_json(
        "ask", QUESTION, "-k", "5"
    )


def test_api_search_returns_what_esqa_search_json_prints(client, cli_json):
    got = client.get("/api/search", params={"q": "rare earths", "k": 7}).json()
    assert got == cli_json("search", "rare earths", "-k", "7")
    assert len(got) == 7


def test_api_info_returns_what_esqa_info_json_prints(client, cli_json):
    assert client.get("/api/info").json() == cli_json("info")


def test_the_openapi_description_lists_each_endpoint_and_matches_the_responses(client):
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {"/api/ask", "/api/search", "/api/info"}
    components = schema["components"]["schemas"]
    answer = client.get("/api/ask", params={"q": QUESTION}).json()
    assert set(components["Answer"]["required"]) <= set(answer)
    assert set(components["Answer"]["properties"]) <= set(answer)
    for citation in answer["citations"]:
        assert set(components["Citation"]["properties"]) <= set(citation)
    hit = client.get("/api/search", params={"q": QUESTION}).json()[0]
    assert set(components["Hit"]["properties"]) == set(hit)
    error = client.get("/api/ask").json()
    assert set(components["Error"]["properties"]) == set(error)
    parameters = {p["name"] for p in schema["paths"]["/api/ask"]["get"]["parameters"]}
    assert parameters == {"q", "k"}


# -- search and corpus pages ---------------------------------------------------------------


def test_the_search_page_ranks_passages_that_open_in_the_article_view(client, qa):
    hits = qa.search("rare earths", k=4)
    page = Page(client.get("/search", params={"q": "rare earths", "k": 4}).text)
    links = page.find("a", class_="cite")
    assert len(links) == 4
    for hit, link in zip(hits, links, strict=True):
        query = parse_qs(urlsplit(link["attrs"]["href"]).query)
        assert query["source"] == [hit.source] and query["quote"] == [hit.text]
        assert query["back"] == ["search"]
        view = Page(client.get(link["attrs"]["href"]).text)
        assert "".join(m["text"] for m in view.find("mark", class_="quote")) == hit.text.replace(
            "\n", ""
        )


def test_the_corpus_page_lists_every_article_with_its_metadata(client, qa):
    page = Page(client.get("/corpus").text)
    rows = page.find("tr")[1:]
    entries = qa.articles()
    assert len(rows) == len(entries) > 0
    titled = [e for e in entries if e.title]
    assert titled
    for entry in titled:
        row = next(r for r in rows if entry.title in r["text"])
        assert entry.source in row["text"]
        for field in (entry.publisher, entry.published):
            if field:
                assert field in row["text"]


def test_the_corpus_page_filters_by_text_and_links_to_each_file(client):
    page = Page(client.get("/corpus", params={"filter": "asia times"}).text)
    rows = page.find("tr")[1:]
    assert rows and all("Asia Times" in r["text"] for r in rows)
    assert f"{len(rows)} of" in page.one("p", id="count")["text"]
    hrefs = [
        a["attrs"]["href"] for a in page.find("a") if a["attrs"]["href"].startswith("/article")
    ]
    assert hrefs and all(client.get(h).status_code == 200 for h in hrefs)
    none = Page(client.get("/corpus", params={"filter": "no such words zzz"}).text)
    assert none.find("tr")[1:] == [] and none.one("p", id="count")["text"].startswith("0 of")


def test_a_stale_index_is_noted_on_every_page(tmp_path):
    corpus = write_corpus(tmp_path / "c", {"a.txt": "Cables\n\nUndersea cables matter.\n"})
    api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    (corpus / "b.txt").write_text("Later\n\nA file added after the build.\n")
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    client = TestClient(create_app(qa))
    for path in ("/", "/corpus", "/search?q=cables"):
        note = Page(client.get(path).text).one("p", class_="stale")["text"]
        assert "added: b.txt" in note and "esqa index build" in note


def test_static_assets_are_served_from_the_package(client):
    import esqa.web

    folder = Path(esqa.web.__file__).parent / "static"
    for name, kind in (("esqa.css", "text/css"), ("esqa.js", "javascript"), ("favicon.svg", "svg")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert response.content == (folder / name).read_bytes()
    for name in ("esqa.css", "esqa.js"):  # nothing from the internet
        assert not re.search(r"https?://", (folder / name).read_text())
