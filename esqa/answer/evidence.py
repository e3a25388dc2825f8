"""Evidence across passages: which candidate answer the read sentences support best.

A question that asks for a thing (a person, a date, "which team") is answered
by the phrase that the best evidence holds, not by the sentence that best
restates the question. Each candidate answer of the kind asked for is
supported by every sentence that holds it, each sentence counting

- by its own score as evidence (`esqa.answer.sentences`), relative to the best;
- by how close the question's terms sit to the phrase in it (a figure three
  words from "raised" is more likely the amount raised than one at the far end);
- more when the phrase stands next to the question's focus noun ("the Rays
  team", "the state of Ohio") and less when it is of another kind than asked;

and a candidate that several articles hold gains from each further article:
news repeats its facts, and independent support is a strong signal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from esqa.answer.candidates import CandidateAnswer
from esqa.answer.params import ComposerParams
from esqa.answer.question import EXPECTED_KINDS, Question
from esqa.answer.sentences import Sentence

_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class Supported:
    """A candidate answer, the sentence that supports it best, and its evidence."""

    candidate: CandidateAnswer  # offsets into the sentence that holds it
    sentence: Sentence  # the sentence to quote
    score: float
    sources: int  # files whose sentences hold it
    share: float  # of all candidates' evidence
    start: int  # where the sentence holding the candidate starts in the chunk


def is_term(word: str, terms: frozenset[str]) -> bool:
    """Whether a surface word is one of the question's stemmed terms (stems are
    prefixes of their words, or the word less its last letter: "studi")."""
    w = word.casefold()
    return any(w.startswith(t) or (len(t) > 4 and w.startswith(t[:-1])) for t in terms)


def _term_positions(sentence: Sentence) -> list[tuple[int, int]]:
    """(start, word number) of each word of the sentence that is a question term."""
    return [
        (m.start(), n)
        for n, m in enumerate(_WORD.finditer(sentence.text))
        if is_term(m.group(), sentence.matched)
    ]


def _distance(
    sentence: Sentence, candidate: CandidateAnswer, positions: list[tuple[int, int]]
) -> float:
    """Words between the candidate and the nearest question term of its sentence (a
    sentence without one counts as far as its length: it may still answer, "X said")."""
    text = sentence.text
    if not positions:
        return float(len(_WORD.findall(text)))
    first = len(_WORD.findall(text[: candidate.start]))
    last = first + len(_WORD.findall(candidate.text))
    gaps = [
        first - n - 1 if n < first else n - last
        for start, n in positions
        if not candidate.start <= start < candidate.end
    ]
    return float(max(0, min(gaps))) if gaps else float(len(_WORD.findall(text)))


def _focus_adjacent(sentence: Sentence, candidate: CandidateAnswer, focus: str | None) -> bool:
    """Whether the focus noun stands right before or after the candidate ("team Rays", "Rays team")."""
    if not focus:
        return False
    stem = focus[:-1] if len(focus) > 4 else focus
    # The word right before or right after: "the Seagulls team", "the team Seagulls";
    # not "Team owner John Fisher", where the noun belongs to another phrase.
    around = (
        sentence.text[max(0, candidate.start - 25) : candidate.start].casefold().split()[-1:]
        + sentence.text[candidate.end : candidate.end + 25].casefold().split()[:1]
    )
    return any(w.strip(",.;:()'’s").startswith(stem) for w in around)


def rank_candidates(
    q: Question, sentences: Sequence[Sentence], params: ComposerParams
) -> list[Supported]:
    """The candidate answers of the sentences, best supported first."""
    if not sentences:
        return []
    primary = {kind for kind in EXPECTED_KINDS.get(q.answer_type, frozenset()) if kind != "name"}
    best = sentences[0].score
    # key -> source -> (contribution, sentence, candidate), the best per source
    found: dict[str, dict[str, tuple[float, Sentence, CandidateAnswer, int]]] = {}
    adjacent: set[str] = set()  # keys of candidates seen next to the focus noun
    for sentence in sentences[: params.candidate_sentences]:
        if not sentence.candidates and not sentence.before:
            continue
        base = math.exp(min(0.0, sentence.score - best))
        positions = _term_positions(sentence)
        own = bool(sentence.candidates)
        for candidate in sentence.candidates or sentence.before:
            weight = base
            if primary and candidate.kind not in primary:
                weight *= params.other_kind
            if own:
                weight /= 1.0 + _distance(sentence, candidate, positions) / params.proximity_words
            else:  # in the sentence before: as far as a sentence
                weight *= params.lean_back
            if own and _focus_adjacent(sentence, candidate, q.focus):
                weight *= params.focus_adjacent
                adjacent.add(candidate.key)
            by_source = found.setdefault(candidate.key, {})
            source = sentence.hit.chunk.source
            start = sentence.start if own else sentence.before_start
            if weight > by_source.get(source, (0.0,))[0]:
                by_source[source] = (weight, sentence, candidate, start)
    ranked: list[Supported] = []
    # A focus noun alone ("which team", "what role") asks for a name only where
    # the passages put a name next to it ("the Rays team"); elsewhere it names
    # a class whose members are common nouns, and a capitalised phrase nearby
    # is no answer.
    focus_only = q.answer_type not in EXPECTED_KINDS
    for key, by_source in found.items():
        if not by_source or (focus_only and key not in adjacent):
            continue
        support = sorted(by_source.values(), key=lambda x: -x[0])
        top, sentence, candidate, start = support[0]
        score = top + params.independent_support * sum(s[0] for s in support[1:])
        ranked.append(Supported(candidate, sentence, score, len(support), 0.0, start))
    total = sum(s.score for s in ranked) or 1.0
    ranked = [
        Supported(s.candidate, s.sentence, s.score, s.sources, s.score / total, s.start)
        for s in ranked
    ]
    ranked.sort(key=lambda s: (-s.score, s.sentence.rank, s.candidate.start))
    return ranked
