"""The articles of a loaded index: what it recorded of each, and a file's text by its name.

A citation names a file by its source (its path inside the corpus); the web
page opens that file to show the cited lines. A file is opened only when the
index recorded a source of exactly that name, and the path is made from the
index's own record, never from what a caller passed: `../../etc/passwd`, an
absolute path or a name the index does not hold is refused.

Article metadata (title, publisher, date, line range) comes from the chunk
table, as the index recorded it: no corpus file is read to list the corpus.

Example: `qa.article("003_116bf12851cd3169.txt").lines[17]` is line 18.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import cached_property
from itertools import accumulate
from pathlib import Path, PurePosixPath
from typing import Any

from esqa.errors import EsqaError, SourceNotFoundError
from esqa.index.reader import Index
from esqa.ingest.textfile import NotTextError, decode_bytes, split_lines
from esqa.types import Chunk


@dataclass(frozen=True)
class ArticleEntry:
    """An article as the index recorded it: one run of chunks of one file."""

    source: str
    title: str | None
    publisher: str | None
    published: str | None
    teaser: bool  # a "related article" summary rather than the page's own article
    line_start: int  # the first and last line of its indexed text
    line_end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceText:
    """A corpus file's lines as an editor numbers them, with the index's articles in it."""

    source: str
    lines: tuple[str, ...]  # lines[0] is line 1
    articles: tuple[ArticleEntry, ...]
    # The file's content differs from what the index read: its lines may no
    # longer be the ones the citations name.
    changed: bool

    def article_at(self, line: int) -> ArticleEntry | None:
        """The article whose indexed lines hold `line`, else the file's first."""
        return _article_at(self.articles, line)


def _article_at(articles: tuple[ArticleEntry, ...], line: int) -> ArticleEntry | None:
    for article in articles:
        if article.line_start <= line <= article.line_end:
            return article
    return articles[0] if articles else None


class Catalog:
    """The articles of a loaded index, found through its chunk table.

    Builds number chunks file by file, in the order of the source records,
    so a file's chunks are one run of ids that the records' chunk counts
    locate: an article's metadata costs reading its own chunks only.
    """

    def __init__(self, index: Index, corpus: Path) -> None:
        self.index = index
        self.corpus = corpus
        self._articles: dict[str, tuple[ArticleEntry, ...]] = {}

    @cached_property
    def _ids(self) -> dict[str, _File]:
        records = self.index.sources.sources
        counts = [int(r.get("chunks", 0)) for r in records.values()]
        ends = list(accumulate(counts))
        return {
            s: _File(PurePosixPath(s), range(e - n, e))
            for s, n, e in zip(records, counts, ends, strict=True)
        }

    def sources(self) -> list[str]:
        """Every indexed file's source name, in corpus order."""
        return list(self._ids)

    def articles_of(self, source: str) -> tuple[ArticleEntry, ...]:
        """The articles of one indexed file; SourceNotFoundError for any other name."""
        if source not in self._ids:
            raise SourceNotFoundError(
                f"the index holds no article file named {_shown(source)}",
                hint="pick one from the corpus page or `esqa info`",
            )
        cached = self._articles.get(source)
        if cached is None:
            cached = self._articles[source] = _entries(self._chunks_of(source))
        return cached

    def article_at(self, source: str, line: int) -> ArticleEntry | None:
        """The article of `source` whose indexed lines hold `line` (a citation's)."""
        return _article_at(self.articles_of(source), line)

    def articles(self) -> list[ArticleEntry]:
        """Every article of every indexed file, teasers of other articles left out.

        Reads the whole chunk table once (about 12 µs a chunk), then keeps it.
        """
        out: list[ArticleEntry] = []
        for source in self._ids:
            entries = self.articles_of(source)
            own = [a for a in entries if not a.teaser]
            out.extend(own or entries[:1])
        return out

    def read(self, source: str) -> SourceText:
        """The lines of the indexed file named `source`, decoded as the build decoded them."""
        articles = self.articles_of(source)  # refuses names the index does not hold
        record = self.index.sources.sources[source]
        # The path is the index's own record of the name; the checks guard
        # against an index that would name a file outside its corpus.
        relative = self._ids[source].path
        name = relative.as_posix()
        if relative.is_absolute() or ".." in relative.parts or "\\" in name:
            raise SourceNotFoundError(f"{_shown(name)} is not a file inside the corpus")
        root = self.corpus.resolve()
        path = root.joinpath(*relative.parts)
        try:
            if path.is_symlink() or root not in path.resolve(strict=True).parents:
                raise SourceNotFoundError(f"{_shown(name)} is not a file inside the corpus")
            data = path.read_bytes()
        except OSError as exc:
            raise SourceNotFoundError(
                f"{_shown(name)} is in the index but cannot be read from {root} "
                f"({exc.strerror or exc})",
                hint=f"run: esqa index build --index {self.index.path}",
            ) from None
        try:
            decoded = decode_bytes(data, name)
        except NotTextError as exc:
            raise EsqaError(
                f"{exc}; it changed since the index was built",
                hint=f"run: esqa index build --index {self.index.path}",
            ) from None
        return SourceText(
            source=name,
            lines=tuple(split_lines(decoded.text)),
            articles=articles,
            changed=hashlib.sha256(data).hexdigest() != record.get("sha256"),
        )

    def _chunks_of(self, source: str) -> list[Chunk]:
        table = self.index.chunks
        chunks = [table[i] for i in self._ids[source].ids]
        if all(c.source == source for c in chunks):
            return chunks
        # Not the order builds write: find the file's chunks the slow way.
        return [table[i] for i in table if table[i].source == source]


@dataclass(frozen=True)
class _File:
    path: PurePosixPath  # the source name the index recorded, as a path inside the corpus
    ids: range  # its chunks


def _entries(chunks: list[Chunk]) -> tuple[ArticleEntry, ...]:
    """Runs of chunks with the same article metadata, as articles."""
    out: list[ArticleEntry] = []
    for c in chunks:
        key = (c.article_title, c.publisher, c.published, c.teaser)
        last = out[-1] if out else None
        if last is not None and (last.title, last.publisher, last.published, last.teaser) == key:
            out[-1] = ArticleEntry(
                c.source,
                *key,
                min(last.line_start, c.line_start),
                max(last.line_end, c.line_end),
            )
        else:
            out.append(ArticleEntry(c.source, *key, c.line_start, c.line_end))
    return tuple(out)


def _shown(name: str) -> str:
    """A name for a message: quoted, and cut when a caller sent something huge."""
    return repr(name if len(name) <= 120 else name[:117] + "...")
