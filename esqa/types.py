"""The data model: every piece of text carries where it came from.

Data flows files -> Document (with Article and Paragraph) -> Chunk -> Hit.
Line numbers are 1-based and count lines as an editor shows them; paragraph
numbers are defined in the README ("Citations").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a source file, verbatim, with its place in the file."""

    source: str  # path relative to the corpus root, with "/" separators
    number: int  # 1-based paragraph number within the file
    line_start: int
    line_end: int
    text: str  # the lines of the paragraph joined by "\n", surrounding blanks stripped
    article: int  # 1-based article number within the file
    kind: str = "body"  # "body", "caption" or "heading"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Article:
    """A news article found in a file; a scraped page may hold several."""

    source: str
    number: int  # 1-based within the file
    title: str | None
    publisher: str | None
    published: str | None  # ISO 8601 date when the page gives one
    teaser: bool  # a "related article" summary rather than the page's own article
    line_start: int
    line_end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Document:
    """One ingested file: its articles and their paragraphs, boilerplate removed."""

    source: str
    sha256: str
    encoding: str
    articles: tuple[Article, ...]
    paragraphs: tuple[Paragraph, ...]
    warnings: tuple[str, ...] = field(default=())
    # (size in bytes, mtime in ns) of the file as it was read, recorded beside
    # sha256 so that a later stat comparison describes the same content.
    file_stat: tuple[int, int] | None = None

    def article_of(self, paragraph: Paragraph) -> Article:
        return self.articles[paragraph.article - 1]


@dataclass(frozen=True)
class Chunk:
    """A span of one paragraph sized for the embedding model; the unit of search."""

    id: int
    source: str
    paragraph: int
    line_start: int
    line_end: int
    text: str  # verbatim substring of the paragraph
    article_title: str | None = None
    publisher: str | None = None
    published: str | None = None
    teaser: bool = False
    # Sentence spans as (start, end) offsets into `text`, found at index time so
    # that answering needs no sentence splitting.
    sentences: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sentences"] = [list(s) for s in self.sentences]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        fields = dict(data)
        fields["sentences"] = tuple((int(a), int(b)) for a, b in fields.get("sentences", ()))
        return cls(**fields)

    def line_of(self, offset: int) -> int:
        """The file line that holds character `offset` of the chunk's text."""
        return self.line_start + self.text.count("\n", 0, offset)


@dataclass(frozen=True)
class Hit:
    """A chunk returned by search, with its fused score and the scores behind it."""

    chunk: Chunk
    score: float  # reciprocal-rank-fusion score; higher is better
    dense_score: float | None = None  # cosine similarity, when the dense search found it
    lexical_score: float | None = None  # BM25 score, when the lexical search found it

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def text(self) -> str:
        return self.chunk.text

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "source": c.source,
            "paragraph": c.paragraph,
            "line_start": c.line_start,
            "line_end": c.line_end,
            "text": c.text,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "lexical_score": None if self.lexical_score is None else round(self.lexical_score, 6),
            "article_title": c.article_title,
            "publisher": c.publisher,
            "published": c.published,
        }


@dataclass(frozen=True)
class Citation:
    """A verbatim quote and exactly where it stands in the corpus."""

    source: str
    paragraph: int
    line_start: int
    line_end: int
    quote: str  # an exact substring of lines line_start..line_end of the file
    score: float
    article_title: str | None = None
    published: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        return data


@dataclass(frozen=True)
class AnswerSpan:
    """The phrase that answers, inside the first citation's quote: `quote[start:end] == text`."""

    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """A composed answer: verbatim sentences from the corpus and their citations.

    When `answered` is False the articles do not support an answer; `text` says
    so and `citations` lists the closest passages. `span` is the candidate
    answer (a name, a date, an amount) inside the first citation's quote; None
    for list, reason and definition answers, and when not answered.
    """

    question: str
    answered: bool
    text: str
    confidence: float  # in [0, 1]
    citations: tuple[Citation, ...]
    answer_type: str = "other"
    span: AnswerSpan | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.text,
            "answer_span": None if self.span is None else self.span.to_dict(),
            "confidence": round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
        }

    def _repr_html_(self) -> str:
        """The answer in a notebook; every piece of corpus text is escaped (articles are untrusted)."""
        return _answer_html(self)


def line_range(start: int, end: int, dash: str = "–") -> str:
    """ "line 18" or "lines 3–5", as citations name their lines."""
    return f"line {start}" if start == end else f"lines {start}{dash}{end}"


def _marked_quote(quote: str, span: AnswerSpan | None) -> str:
    """The quote escaped, the answer's span in <mark> (each part escaped on its own)."""
    if span is None or quote[span.start : span.end] != span.text:
        return escape(quote)
    return (
        escape(quote[: span.start])
        + f"<mark>{escape(span.text)}</mark>"
        + escape(quote[span.end :])
    )


def _answer_html(answer: Answer) -> str:
    status = "" if answer.answered else "<em>(not answered by the articles)</em> "
    items = []
    for n, c in enumerate(answer.citations, start=1):
        about = ", ".join(escape(x) for x in (c.article_title, c.published) if x)
        items.append(
            f"<li value='{n}'><code>{escape(c.source)}</code> ¶{c.paragraph}, "
            f"{line_range(c.line_start, c.line_end)}"
            + (f" <small>({about})</small>" if about else "")
            + f"<br><q>{_marked_quote(c.quote, answer.span if n == 1 else None)}</q></li>"
        )
    return (
        "<div class='esqa-answer'>"
        f"<p><b>Q:</b> {escape(answer.question)}</p>"
        f"<p>{status}{escape(answer.text)} "
        f"<small>(confidence {answer.confidence:.2f})</small></p>"
        f"<ol>{''.join(items)}</ol></div>"
    )
