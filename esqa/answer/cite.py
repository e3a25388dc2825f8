"""Citations and the answer's span: where each quoted passage stands in the corpus.

Adjacent sentences of one chunk are quoted as one passage with one citation;
the next-best paragraphs fill the remaining places. Line numbers come from
the chunk (`Chunk.line_of`), so a quote is always an exact substring of the
cited lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from esqa.answer.candidates import CandidateAnswer
from esqa.answer.sentences import Sentence
from esqa.types import AnswerSpan, Citation


def passages(chosen: Sequence[Sentence]) -> list[Sentence]:
    """The chosen sentences with adjacent ones of one chunk merged into one passage."""
    out: list[Sentence] = []
    for c in chosen:
        last = out[-1] if out else None
        if (
            last is not None
            and last.hit is c.hit
            and last.end <= c.start
            and not c.hit.chunk.text[last.end : c.start].strip()
        ):
            out[-1] = replace(last, end=c.end)
        else:
            out.append(c)
    return out


def others(sentences: Sequence[Sentence], chosen: Sequence[Sentence]) -> list[Sentence]:
    """Next-best sentences from paragraphs not already cited, for supporting citations."""
    seen = {c.key for c in chosen}
    out = []
    for c in sentences:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out


def citations(
    chosen: Sequence[Sentence], sentences: Sequence[Sentence], limit: int
) -> tuple[Citation, ...]:
    """A citation per quoted passage, then the next-best paragraphs, `limit` in all."""
    cited = [cite(c) for c in passages(chosen)]
    cited += [cite(c) for c in others(sentences, chosen)][: max(0, limit - len(cited))]
    return tuple(cited)


def cite(c: Sentence) -> Citation:
    chunk = c.hit.chunk
    return Citation(
        source=chunk.source,
        paragraph=chunk.paragraph,
        line_start=chunk.line_of(c.start),
        line_end=chunk.line_of(max(c.start, c.end - 1)),
        quote=c.text,
        score=max(0.0, min(1.0, c.score)),
        article_title=chunk.article_title,
        published=chunk.published,
    )


def span_in(
    first: Sentence, chunk_id: int, start: int, candidate: CandidateAnswer
) -> AnswerSpan | None:
    """The candidate, found in the sentence that starts at `start` of chunk `chunk_id`,
    as a span of the passage `first` quotes; None when that passage does not hold it."""
    if first.hit.chunk.id != chunk_id:
        return None
    at = start + candidate.start - first.start
    end = at + (candidate.end - candidate.start)
    quote = first.text
    if at < 0 or end > len(quote) or quote[at:end] != candidate.text:
        return None
    return AnswerSpan(candidate.text, at, end)
