"""What the pages show, computed from the library's results; the templates only lay it out.

Every piece of article text leaves here as plain text inside `Piece`s: the
templates escape it (Jinja2 autoescape), and the marks (quote, answer span)
are only offsets into that text, so no article text is ever markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from esqa.articles import ArticleEntry, SourceText
from esqa.types import Answer, Citation, Hit, line_range
from esqa.web.params import MAX_QUOTE_CHARS

# The article view shows every line of an ordinary article; a file longer
# than this is shown around the cited lines only.
MAX_LINES_SHOWN = 5_000
CONTEXT_LINES = 1_000


@dataclass(frozen=True)
class Piece:
    """A run of text, marked (`"quote"`, `"span"`) or not (None)."""

    text: str
    mark: str | None = None
    anchor: bool = False  # where the article view's `#quote` link lands
    # A quote holding the answer's span: its runs, the span marked (the
    # article view nests the span's mark inside the quote's).
    inner: tuple[Piece, ...] = ()


def pieces(text: str, marks: Sequence[tuple[int, int, str]]) -> list[Piece]:
    """`text` cut at the marks' (start, end, kind) offsets; a later mark wins where they overlap."""
    if not marks:
        return [Piece(text)]
    cuts = sorted({0, len(text), *(min(max(x, 0), len(text)) for m in marks for x in m[:2])})
    out: list[Piece] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        kind = None
        for start, end, mark in marks:
            if start <= a and b <= end:
                kind = mark
        if out and out[-1].mark == kind:
            out[-1] = Piece(out[-1].text + text[a:b], kind)
        else:
            out.append(Piece(text[a:b], kind))
    return out or [Piece(text)]


def span_offsets(answer: Answer) -> tuple[int, int] | None:
    """The answer span's (start, end) inside the first citation's quote, when it has one.

    A span that is not the text at its offsets of the quote is not marked.
    """
    span = answer.span
    if span is None or not answer.citations:
        return None
    if answer.citations[0].quote[span.start : span.end] != span.text or span.start >= span.end:
        return None
    return span.start, span.end


def answer_pieces(answer: Answer) -> list[Piece]:
    """The answer's text with its span marked, where the span can be found in it."""
    span = span_offsets(answer)
    if span is None:
        return [Piece(answer.text)]
    quote = answer.citations[0].quote
    at = answer.text.find(quote)
    if at >= 0:
        return pieces(answer.text, [(at + span[0], at + span[1], "span")])
    phrase = quote[span[0] : span[1]]
    at = answer.text.find(phrase)
    if at >= 0:
        return pieces(answer.text, [(at, at + len(phrase), "span")])
    return [Piece(answer.text)]


def url(path: str, fragment: str = "", **params: object) -> str:
    """A link with its parameters encoded (None and "" left out)."""
    query = urlencode({k: str(v) for k, v in params.items() if v is not None and v != ""})
    return path + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


@dataclass(frozen=True)
class CitationView:
    number: int
    citation: Citation
    where: str  # "¶11, line 18"
    article: ArticleEntry | None
    quote: list[Piece]
    href: str


def citation_views(
    answer: Answer, articles: Sequence[ArticleEntry | None], question: str
) -> list[CitationView]:
    """Each citation with its place, its article and the link that opens it."""
    span = span_offsets(answer)
    out = []
    for n, (c, article) in enumerate(zip(answer.citations, articles, strict=True), start=1):
        marks = [(span[0], span[1], "span")] if span and n == 1 else []
        out.append(
            CitationView(
                number=n,
                citation=c,
                where=f"¶{c.paragraph}, {line_range(c.line_start, c.line_end)}",
                article=article,
                quote=pieces(c.quote, marks),
                href=url(
                    "/article",
                    fragment="quote",
                    source=c.source,
                    start=c.line_start,
                    end=c.line_end,
                    quote=c.quote,
                    span=f"{span[0]}-{span[1]}" if span and n == 1 else None,
                    q=question,
                    n=n,
                ),
            )
        )
    return out


@dataclass(frozen=True)
class HitView:
    rank: int
    hit: Hit
    where: str
    href: str


def hit_views(hits: Sequence[Hit], query: str) -> list[HitView]:
    return [
        HitView(
            rank=rank,
            hit=h,
            where=f"¶{h.chunk.paragraph}, {line_range(h.chunk.line_start, h.chunk.line_end)}",
            href=url(
                "/article",
                fragment="quote",
                source=h.source,
                start=h.chunk.line_start,
                end=h.chunk.line_end,
                quote=h.text if len(h.text) <= MAX_QUOTE_CHARS else None,
                q=query,
                back="search",
            ),
        )
        for rank, h in enumerate(hits, start=1)
    ]


@dataclass(frozen=True)
class LineView:
    number: int
    cited: bool
    pieces: list[Piece]


@dataclass(frozen=True)
class ArticleView:
    text: SourceText
    article: ArticleEntry | None
    lines: list[LineView]
    cited: tuple[int, int] | None
    quote_found: bool  # the quote asked for is inside the cited lines
    first_shown: int
    last_shown: int


def article_view(
    text: SourceText,
    cited: tuple[int, int] | None,
    quote: str | None,
    span: tuple[int, int] | None,
) -> ArticleView:
    """The file's lines, the cited ones flagged and the quote (and span) marked inside them.

    The quote is marked only where it is found in the cited lines of the file
    as read now: text from the request can mark the file, never add to it.
    The link's `#quote` lands where the quote starts (a cited line can be a
    whole paragraph), else at the first cited line.
    """
    count = len(text.lines)
    first, last = 1, count
    if count > MAX_LINES_SHOWN:
        centre = cited[0] if cited else 1
        first = max(1, centre - CONTEXT_LINES)
        last = min(count, (cited[1] if cited else centre) + CONTEXT_LINES)
    marks: dict[int, list[tuple[int, int, str]]] = {}
    found = False
    if cited and quote:
        start, end = cited
        joined = "\n".join(text.lines[start - 1 : end])
        at = joined.find(quote)
        found = at >= 0
        if found:
            ranges = [(at, at + len(quote), "quote")]
            if span and 0 <= span[0] < span[1] <= len(quote):
                ranges.append((at + span[0], at + span[1], "span"))
            marks = _by_line(text.lines[start - 1 : end], start, ranges)
    lines = [
        LineView(
            number=n,
            cited=bool(cited and cited[0] <= n <= cited[1]),
            pieces=_nest(pieces(text.lines[n - 1], marks.get(n, []))),
        )
        for n in range(first, last + 1)
    ]
    if cited and first <= cited[0] <= last:
        _set_anchor(lines, cited[0] - first)
    return ArticleView(
        text=text,
        article=text.article_at(cited[0] if cited else 1),
        lines=lines,
        cited=cited,
        quote_found=found,
        first_shown=first,
        last_shown=last,
    )


def _nest(flat: list[Piece]) -> list[Piece]:
    """Runs of quote and span pieces as one quote piece with the span inside it."""
    out: list[Piece] = []
    for piece in flat:
        if piece.mark in ("quote", "span"):
            if out and out[-1].mark == "quote":
                last = out[-1]
                out[-1] = Piece(last.text + piece.text, "quote", inner=(*last.inner, piece))
            else:
                out.append(Piece(piece.text, "quote", inner=(piece,)))
        else:
            out.append(piece)
    return out


def _set_anchor(lines: list[LineView], at: int) -> None:
    """Put the anchor on the first marked piece of the cited lines, else on the first one."""
    for line in lines[at:]:
        if not line.cited:
            break
        for i, piece in enumerate(line.pieces):
            if piece.mark:
                line.pieces[i] = Piece(piece.text, piece.mark, anchor=True, inner=piece.inner)
                return
    first = lines[at].pieces
    first[0] = Piece(first[0].text, first[0].mark, anchor=True, inner=first[0].inner)


def _by_line(
    lines: Sequence[str], first: int, ranges: Sequence[tuple[int, int, str]]
) -> dict[int, list[tuple[int, int, str]]]:
    """Offsets into the lines joined by "\\n", as offsets into each line."""
    out: dict[int, list[tuple[int, int, str]]] = {}
    offset = 0
    for n, line in enumerate(lines, start=first):
        for start, end, kind in ranges:
            a, b = max(start - offset, 0), min(end - offset, len(line))
            if a < b:
                out.setdefault(n, []).append((a, b, kind))
        offset += len(line) + 1
    return out
