"""Sentence splitting and chunk windows that fit the embedding model.

all-MiniLM-L6-v2 reads at most 256 word pieces and silently drops the rest,
so a paragraph longer than that is cut into windows of whole sentences that
overlap by `overlap` sentences; a single sentence longer than a window (a
table, a run-on scrape) is cut at word boundaries. Every chunk is a verbatim
substring of one paragraph, so its lines are known exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Counts word pieces of each text, without the [CLS]/[SEP] the model adds.
TokenCounter = Callable[[Sequence[str]], list[int]]

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_WORD = re.compile(r"\S+")
# pysbd is thorough but slow on long inputs: for each abbreviation it finds it
# rewrites the whole text, so its time per character grows with the length (5
# us/char at 2,000 characters, 6 at 5,000, 16 at 20,000, 23 at 40,000). A text
# longer than this (a page scraped without line breaks) is handed over in
# pieces of at most `_PIECE_CHARS`, cut at sentence ends, which keeps the
# splitting linear in the length.
_SEGMENT_MAX_CHARS = 20_000
_PIECE_CHARS = 4_000


@dataclass(frozen=True)
class ChunkingParams:
    max_tokens: int = 256  # the model's window, special tokens included
    overlap: int = 1  # sentences repeated between consecutive windows

    def to_dict(self) -> dict[str, int]:
        return {"max_tokens": self.max_tokens, "overlap": self.overlap}


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Window:
    """A chunk's span in its paragraph, and the sentence spans inside it."""

    span: Span
    sentences: tuple[Span, ...]


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd  # deferred: only ingestion needs it

    return pysbd.Segmenter(language="en", clean=False)


# pysbd keeps a "sentence" whole while it believes a quotation is open, so one
# stray quote mark (scraped pages mix ' and ") can swallow a page. Spans longer
# than this are cut again at plain sentence ends.
_LONG_SENTENCE = 600
_PLAIN_END = re.compile(r"(?<=[.!?])(?P<close>[\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Gov|Sen|Rep|Rev|Corp|Inc|Ltd|Co|No|"
    r"Vol|Fig|vs|etc|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\.\w)\.$"
)


def _resplit(text: str, span: Span) -> list[Span]:
    parts: list[Span] = []
    start = span.start
    for m in _PLAIN_END.finditer(text, span.start, span.end):
        head = text[start : m.start()]
        if _ABBREVIATION.search(head):
            continue
        # The closing quote or bracket belongs to the sentence it closes.
        parts.append(Span(start, m.end("close")))
        start = m.end()
    parts.append(Span(start, span.end))
    return [_strip(text, p) for p in parts if text[p.start : p.end].strip()]


def _strip(text: str, span: Span) -> Span:
    piece = text[span.start : span.end]
    lead = len(piece) - len(piece.lstrip())
    return Span(span.start + lead, span.start + len(piece.rstrip()))


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of text, as offsets; text[s.start:s.end] is a stripped sentence."""
    spans: list[Span] = []
    for span in _segment(text):
        for part in _resplit(text, span) if span.end - span.start > _LONG_SENTENCE else [span]:
            if spans and _continues(text, spans[-1], part):
                spans[-1] = Span(spans[-1].start, part.end)
            else:
                spans.append(part)
    return spans


# A word of one to three letters before a period ("Ae.", "spp.", "in.") or one
# with a period inside ("e.g."): an abbreviation more often than a sentence's end.
_SHORT_WORD_END = re.compile(r"(?:^|\s)(?:[A-Za-z]{1,3}|[A-Za-z]+\.[A-Za-z]+)\.$")


def _continues(text: str, previous: Span, span: Span) -> bool:
    """Whether `span` goes on the sentence `previous` ended at an abbreviation: it
    starts with a lower-case letter, which no sentence does ("Ae. | albopictus
    became the main vector", "Eimeria spp. | infections in lambs")."""
    first = text[span.start : span.start + 1]
    return first.islower() and bool(_SHORT_WORD_END.search(text[previous.start : previous.end]))


def _segment(text: str) -> list[Span]:
    spans: list[Span] = []
    # pysbd ends a sentence at a line break; a hard-wrapped paragraph's breaks
    # are spaces. Same length, so the offsets stay valid.
    text = text.replace("\n", " ")
    for piece in _pieces(text):
        pos = piece.start
        for sentence in _pysbd_sentences(text[piece.start : piece.end]):
            stripped = sentence.strip()
            if not stripped:
                continue
            found = text.find(stripped, pos, piece.end)
            if found < 0:  # pysbd altered the text; fall back to the rest as one span
                found = pos
                stripped = text[pos : piece.end].strip()
                if not stripped:
                    break
                found = text.index(stripped, pos)
            spans.append(Span(found, found + len(stripped)))
            pos = found + len(stripped)
            if pos >= piece.end:
                break
    return spans


def _pysbd_sentences(text: str) -> list[str]:
    """pysbd's sentences of text, without the character spans `segment` adds.

    `Segmenter.segment` finds each sentence's span with a regular expression
    compiled for it and run from the start of the text, which is quadratic in
    the length (and floods `re`'s cache); the spans are found here instead,
    from where the previous sentence ended (`_segment`).
    """
    if not text:
        return []
    return list(_segmenter().processor(text).process())


def _pieces(text: str) -> list[Span]:
    """Text as pysbd is given it: whole up to `_SEGMENT_MAX_CHARS`, else in pieces
    of at most `_PIECE_CHARS`, cut after a sentence end where there is one."""
    if len(text) <= _SEGMENT_MAX_CHARS:
        return [Span(0, len(text))]
    pieces: list[Span] = []
    start = 0
    while len(text) - start > _PIECE_CHARS:
        end = _cut(text, start, start + _PIECE_CHARS)
        pieces.append(Span(start, end))
        start = end
    pieces.append(Span(start, len(text)))
    return pieces


def _cut(text: str, start: int, limit: int) -> int:
    """Where to end a piece that starts at `start` and may not reach past `limit`:
    after the last plain sentence end in its second half, else at its last space."""
    cut = None
    for m in _PLAIN_END.finditer(text, start + _PIECE_CHARS // 2, limit):
        if not _ABBREVIATION.search(text, max(start, m.start() - 16), m.start()):
            cut = m.end("close")
    if cut is None:
        space = text.rfind(" ", start + 1, limit)
        cut = space if space > start else limit
    return cut


def _split_long(text: str, span: Span, budget: int, count: TokenCounter) -> list[Span]:
    """Cut one over-long sentence into spans of <= budget pieces, at spaces where
    there are any, else (URLs, scripts written without spaces) inside the word."""
    words: list[tuple[int, int]] = []
    for m in _WORD.finditer(text, span.start, span.end):
        words.extend(_cut_word(text, m.start(), m.end(), budget, count))
    sizes = _count_blocks(count, text, words)
    parts: list[Span] = []
    start, used, prev_end = words[0][0], 0, words[0][1]
    for (a, b), size in zip(words, sizes, strict=True):
        if used and used + size > budget:
            parts.append(Span(start, prev_end))
            start, used = a, 0
        used += size
        prev_end = b
    parts.append(Span(start, prev_end))
    return parts


def _cut_word(
    text: str, start: int, end: int, budget: int, count: TokenCounter
) -> list[tuple[int, int]]:
    size = count([text[start:end]])[0]
    if size <= budget or end - start <= 1:
        return [(start, end)]
    # Cut in proportion to the piece count, with a margin, and check again.
    step = max(1, int((end - start) * budget / size * 0.8))
    out: list[tuple[int, int]] = []
    for a in range(start, end, step):
        out.extend(_cut_word(text, a, min(end, a + step), budget, count))
    return out


# Texts given to the token counter at once: a tokenizer keeps every text's
# encoding (ids, offsets, word pieces) until the call returns, about 2 KB a
# sentence, so the 400,000 sentences of a 50 MB line would hold gigabytes.
_COUNT_BLOCK = 2048


def _count_blocks(count: TokenCounter, text: str, spans: Sequence[tuple[int, int]]) -> list[int]:
    """count() of each span of text, in blocks of `_COUNT_BLOCK`."""
    sizes: list[int] = []
    for at in range(0, len(spans), _COUNT_BLOCK):
        sizes.extend(count([text[a:b] for a, b in spans[at : at + _COUNT_BLOCK]]))
    return sizes


def windows(
    text: str, count: TokenCounter, params: ChunkingParams = ChunkingParams()
) -> list[Window]:
    """Chunk windows of one paragraph: overlapping runs of whole sentences."""
    budget = params.max_tokens - SPECIAL_TOKENS
    sentences = split_sentences(text)
    if not sentences:
        return []
    sizes = _count_blocks(count, text, [(s.start, s.end) for s in sentences])
    units: list[tuple[Span, int]] = []
    for sentence, size in zip(sentences, sizes, strict=True):
        if size <= budget:
            units.append((sentence, size))
        else:
            parts = _split_long(text, sentence, budget, count)
            units.extend(zip(parts, count([text[p.start : p.end] for p in parts]), strict=True))
    result: list[Window] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and (j == i or used + units[j][1] <= budget):
            used += units[j][1]
            j += 1
        # What lies between sentences (a closing quote left outside a span)
        # has pieces too: check the window as it will be embedded.
        while j - 1 > i and count([text[units[i][0].start : units[j - 1][0].end]])[0] > budget:
            j -= 1
        span = Span(units[i][0].start, units[j - 1][0].end)
        result.append(Window(span, tuple(u for u, _ in units[i:j])))
        if j >= len(units):
            break
        i = max(i + 1, j - params.overlap)
    return result
