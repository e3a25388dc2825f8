"""Paragraphs -> chunks: near-duplicates dropped, the rest cut into windows.

Chunk ids are positions in corpus order, file by file and paragraph by
paragraph, so an article's chunks have consecutive ids (`esqa.index.chunk_table`
relies on it) and a build from scratch and an incremental one number alike.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Container, Sequence
from dataclasses import replace

import numpy as np

from esqa.ingest.chunking import ChunkingParams, TokenCounter, windows
from esqa.ingest.dedup import Paragraphs, decide, paragraph_table
from esqa.types import Chunk, Document

_BREAK = re.compile("\n")


def document_paragraphs(documents: Sequence[Document]) -> Paragraphs:
    """Every paragraph of the documents (in their order) as the near-duplicate decision takes them."""
    rows = [
        (i, p.number, doc.article_of(p).teaser, p.text)
        for i, doc in enumerate(documents)
        for p in doc.paragraphs
    ]
    return paragraph_table([doc.source for doc in documents], rows)


def dropped_numbers(table: Paragraphs) -> dict[str, list[int]]:
    """Paragraph numbers of each file that the table's decision does not index."""
    dropped: dict[str, list[int]] = defaultdict(list)
    for row in np.flatnonzero(~table.kept).tolist():
        dropped[table.sources[table.source[row]]].append(int(table.number[row]))
    return dropped


def find_dropped(documents: Sequence[Document]) -> dict[str, list[int]]:
    """Paragraph numbers of each file that are not indexed, a fuller copy being elsewhere.

    Decided over the whole corpus (see `esqa.ingest.dedup`); an index re-decides
    only what a change reaches (`esqa.ingest.dedup_incremental`).
    """
    table = document_paragraphs(documents)
    return dropped_numbers(replace(table, kept=decide(table)))


def document_chunks(
    doc: Document, dropped: Container[int], count: TokenCounter, params: ChunkingParams
) -> list[Chunk]:
    """Chunks of a file's indexed paragraphs, with ids counting from 0 within the file."""
    chunks: list[Chunk] = []
    for paragraph in doc.paragraphs:
        if paragraph.number in dropped:
            continue
        article = doc.article_of(paragraph)
        text = paragraph.text
        # Where the paragraph's lines break: counting them again for every chunk
        # would make a long paragraph's chunking quadratic.
        breaks = [m.start() for m in _BREAK.finditer(text)]
        for window in windows(text, count, params):
            span = window.span
            chunks.append(
                Chunk(
                    id=len(chunks),
                    source=paragraph.source,
                    paragraph=paragraph.number,
                    line_start=paragraph.line_start + bisect.bisect_left(breaks, span.start),
                    line_end=paragraph.line_start + bisect.bisect_left(breaks, span.end),
                    text=text[span.start : span.end],
                    article_title=article.title,
                    publisher=article.publisher,
                    published=article.published,
                    teaser=article.teaser,
                    sentences=tuple(
                        (s.start - span.start, s.end - span.start) for s in window.sentences
                    ),
                )
            )
    return chunks


def append_numbered(chunks: list[Chunk], more: Sequence[Chunk]) -> None:
    """Ids are positions in corpus order, as a build from scratch numbers them."""
    base = len(chunks)
    chunks.extend(replace(c, id=base + i) for i, c in enumerate(more))


def make_chunks(
    documents: Sequence[Document], count_tokens: TokenCounter, params: ChunkingParams
) -> tuple[list[Chunk], int]:
    """Chunks of every paragraph that is not a near-duplicate; and how many were."""
    dropped = find_dropped(documents)
    chunks: list[Chunk] = []
    for doc in documents:
        append_numbered(
            chunks, document_chunks(doc, set(dropped[doc.source]), count_tokens, params)
        )
    return chunks, sum(len(numbers) for numbers in dropped.values())
