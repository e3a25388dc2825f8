"""The HTML pages: ask, article view, search, corpus.

Each works without JavaScript (a form that GETs the same page); the script
in `static/esqa.js` only saves the reload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from esqa import settings
from esqa.articles import ArticleEntry
from esqa.errors import QueryError, SourceNotFoundError
from esqa.types import Answer, line_range
from esqa.web import params
from esqa.web.views import (
    answer_pieces,
    article_view,
    citation_views,
    hit_views,
    url,
)

if TYPE_CHECKING:
    from esqa.api import QA
    from esqa.web.app import Site

CORPUS_PAGE_SIZE = 200


def routes(site: Site) -> list[Route]:
    async def ask(request: Request) -> Response:
        """The question box; with ?q=, the answer and its citations."""
        try:
            question = params.question(request.query_params)
            k = params.integer(request.query_params, "k", settings.ANSWER_PASSAGES, 1, 50)
        except HTTPException as exc:
            raw = params.shown(request.query_params.get("q", ""))
            return _ask_page(site, request, raw, None, [], str(exc.detail), exc.status_code)
        if question is None:
            return _ask_page(site, request, "", None, [], "", 200)
        try:
            answer, articles = await site.run(_answer_with_articles, site.qa, question, k)
        except QueryError as exc:
            return _ask_page(site, request, question, None, [], str(exc), 400)
        return _ask_page(site, request, question, answer, articles, "", 200)

    async def article(request: Request) -> Response:
        """One corpus file by its indexed name, the cited lines highlighted."""
        query = request.query_params
        source = params.text(query, "source", params.MAX_NAME_CHARS, "source name")
        if not source:
            raise params.bad_request("name the article file: /article?source=NAME")
        start = params.integer(query, "start", None, 1, 10**9)
        end = params.integer(query, "end", start, 1, 10**9)
        if (start is None) != (end is None) or (start and end and start > end):
            raise params.bad_request("start and end are the first and last cited line, start ≤ end")
        quote = params.text(query, "quote", params.MAX_QUOTE_CHARS, "quote")
        span = _span(params.text(query, "span", 40, "span"))
        question = params.text(query, "q", params.MAX_QUESTION_CHARS, "question")
        number = params.integer(query, "n", None, 1, 1000)
        text = await site.run(site.qa.article, source)
        cited = (start, end) if start is not None and end is not None else None
        if cited and cited[1] > len(text.lines):
            raise params.bad_request(
                f"{source} has {len(text.lines):,} lines; "
                f"{line_range(cited[0], cited[1])} are past its end"
            )
        if question and query.get("back") == "search":
            back, back_label = url("/search", q=question), "Back to the search results"
        elif question:
            back = url("/", fragment=f"c{number}" if number else "", q=question)
            back_label = "Back to the answer"
        else:
            back, back_label = "/corpus", "Back to the corpus"
        view = article_view(text, cited, quote, span)
        return site.page(
            request,
            "article.html",
            title=_title(view.article, source),
            view=view,
            quote=quote,
            number=number,
            back=back,
            back_label=back_label,
            line_range=line_range,
        )

    async def search(request: Request) -> Response:
        """Ranked passages for a query, each opening the article view."""
        error, hits, status = "", None, 200
        raw = params.shown(request.query_params.get("q", ""))
        try:
            query = params.question(request.query_params, what="query")
            k = params.integer(request.query_params, "k", settings.SEARCH_HITS, 1, 100)
            if query is not None:
                hits = hit_views(await site.run(site.qa.search, query, k), query)
        except HTTPException as exc:
            error, status = str(exc.detail), exc.status_code
        except QueryError as exc:
            error, status = str(exc), 400
        return site.page(
            request, "search.html", status=status, title="Search", query=raw, hits=hits, error=error
        )

    async def corpus(request: Request) -> Response:
        """Every article with title, publisher, date and file; filtered by text."""
        needle = params.text(request.query_params, "filter", 200, "filter") or ""
        page = params.integer(request.query_params, "page", 1, 1, 10**6) or 1
        entries = await site.run(site.qa.articles, exclusive=False)
        words = needle.casefold().split()
        shown = [e for e in entries if all(w in _haystack(e) for w in words)]
        pages = max(1, -(-len(shown) // CORPUS_PAGE_SIZE))
        first = (min(page, pages) - 1) * CORPUS_PAGE_SIZE
        return site.page(
            request,
            "corpus.html",
            title="Corpus",
            needle=needle,
            total=len(entries),
            matching=len(shown),
            rows=[
                (e, url("/article", fragment=f"L{e.line_start}", source=e.source))
                for e in shown[first : first + CORPUS_PAGE_SIZE]
            ],
            page=min(page, pages),
            pages=pages,
            page_url=lambda n: url("/corpus", filter=needle, page=n),
        )

    return [
        Route("/", ask, methods=["GET"]),
        Route("/article", article, methods=["GET"]),
        Route("/search", search, methods=["GET"]),
        Route("/corpus", corpus, methods=["GET"]),
    ]


def _ask_page(
    site: Site,
    request: Request,
    question: str,
    answer: Answer | None,
    articles: list[ArticleEntry | None],
    error: str,
    status: int,
) -> Response:
    citations = citation_views(answer, articles, question) if answer else []
    return site.page(
        request,
        "ask.html",
        status=status,
        title=f"{question} · esqa" if question else "esqa",
        question=question,
        answer=answer,
        answer_pieces=answer_pieces(answer) if answer else [],
        citations=citations,
        error=error,
    )


def _answer_with_articles(
    qa: QA, question: str, k: int
) -> tuple[Answer, list[ArticleEntry | None]]:
    """The answer, and the article (with its publisher) of each citation."""
    answer = qa.ask(question, k)
    articles = []
    for c in answer.citations:
        try:
            articles.append(qa.article_at(c.source, c.line_start))
        except SourceNotFoundError:  # only an index damaged since its load
            articles.append(None)
    return answer, articles


def _span(value: str | None) -> tuple[int, int] | None:
    """`span=START-END`: the answer's offsets inside the quote."""
    if not value:
        return None
    start, dash, end = value.partition("-")
    if not (dash and start.isascii() and start.isdigit() and end.isascii() and end.isdigit()):
        raise params.bad_request("span is START-END, two offsets into the quote")
    return int(start), int(end)


def _title(article: ArticleEntry | None, source: str) -> str:
    return f"{article.title} · {source}" if article and article.title else source


def _haystack(entry: ArticleEntry) -> str:
    parts = (entry.title, entry.publisher, entry.published, entry.source)
    return " ".join(p for p in parts if p).casefold()
