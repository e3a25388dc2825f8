"""Every sentence of the passages read, scored as evidence for the question.

Each sentence gets the features of `FEATURES`, and its score is their
weighted sum (`ComposerParams.weights`, fitted: see `esqa.answer.params`):

- coverage: the share of the question's terms (IDF-weighted) the sentence
  holds, an acronym counting as present when its expansion is and a term as
  present, at its similarity, when a close variant is (`paraphrase`);
  `context_coverage` counts the two sentences before it at a half and a
  quarter (a sentence leans on the ones before it), `previous_coverage`,
  `next_coverage` and `chunk_coverage` say how much its neighbours and its
  passage cover (the answer often follows the sentence that restates the
  question);
- `proximity` (how close together the question's terms sit) and `bigrams`
  (the question's word pairs in order);
- `dense`, `rank` and `lexical`: how retrieval ranked the passage;
- `bag_similarity`: the cosine of the sentence's and the question's mean
  word-piece vectors, a cheap dense similarity of the sentence itself;
- `typed`: it holds a candidate answer of the kind asked for that the
  question does not give (a value or a name; a definition for "what is X"),
  split by kind of question in `typed_value`, `typed_entity` and
  `typed_definition`;
- `novel` (the share of its terms the question lacks: a sentence that merely
  restates the question has none), its length, whether it opens its passage,
  whether it is a teaser, and how much of the question its title covers;
- `heading`: a short line without closing punctuation (a title, a section
  heading, a label), which names a topic and answers nothing;
- `sentence_dense`: the cosine of the sentence's own vector (stored at build
  time: `esqa.index.sentence_vectors`) to the question's; the passage's
  `dense` stands in where none is given. `previous_dense` and `next_dense`
  are its neighbours', `passage_dense` the best of its passage;
- `soft_coverage`: for each word of the question, the best cosine of its
  word-piece vector to a word of the sentence, averaged: coverage that
  neither thresholds nor weights (a common word such as "symptoms" or
  "effect" often names what is asked for);
- where the question's terms sit: `subject` (one among the sentence's first
  three terms: the sentence is about what is asked), `first_term` (the share
  of its terms before the first) and `after` (the share of its terms after
  the last that are not the question's: what the sentence adds comes after
  what it repeats);
- `symbols`: the share of its characters that are neither letters nor
  spaces (tables, references, catalogue numbers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from esqa.answer.candidates import CandidateAnswer, extract, given_by
from esqa.answer.paraphrase import WordVectors, close_words, words_of
from esqa.answer.question import ENTITY_TYPES, VALUE_TYPES, Question
from esqa.answer.values import has_value
from esqa.types import Chunk, Hit

FEATURES = (
    "coverage", "context_coverage", "dense", "rank", "lexical", "typed", "novel",
    "log_length", "teaser", "first", "title", "proximity", "paraphrase", "bag_similarity",
    "bigrams", "previous_coverage", "next_coverage", "chunk_coverage", "typed_value",
    "typed_entity", "typed_definition", "heading", "sentence_dense", "soft_coverage",
    "previous_dense", "next_dense", "passage_dense", "subject", "first_term", "after", "symbols",
)  # fmt: skip
_LOWER = re.compile(r"(?<![\w'’-])[a-z][a-z'’-]*")
# A heading, a title or a label ("Social distancing", "4 Conclusion and
# Limitations"): short, and no sentence's closing punctuation. It names a topic
# and answers nothing; of 4,683 such lines read for COVID-QA, 6 held an answer.
_HEADING_CHARS = 100
_CLOSED = re.compile(r"[.!?:;)\]\"”’']\s*$")
_LETTERS_AND_SPACES = re.compile(r"[^\W\d_]+|\s+")

Terms = Callable[[str], list[str]]
# A chunk's sentences' cosines to the question, one per span of `chunk.sentences`, or None.
Similarities = Callable[[Chunk], np.ndarray | None]


@dataclass(frozen=True)
class SentenceSpace:
    """The embedding model's view of a question and of the sentences read:
    `question` gives a question's vector, `sentences` a chunk's sentence vectors
    (rows as `chunk.sentences`); either may give None."""

    question: Callable[[str], np.ndarray | None]
    sentences: Callable[[Chunk], np.ndarray | None]

    def similarities(self, question: str) -> Similarities | None:
        """Each chunk's sentences' cosines to the question (the vectors are normalised)."""
        vector = self.question(question)
        if vector is None:
            return None

        def of(chunk: Chunk) -> np.ndarray | None:
            rows = self.sentences(chunk)
            return None if rows is None else rows @ vector

        return of


@dataclass(frozen=True)
class QuestionTerms:
    """What the sentences are compared with: the question's weighted terms and their variants."""

    weights: dict[str, float]  # term -> IDF
    synonyms: dict[str, list[set[str]]]  # acronym term -> the term sets of its expansions
    words: dict[str, str]  # term -> the question's word for it (for word vectors)
    bigrams: frozenset[tuple[str, str]]

    @property
    def total(self) -> float:
        return sum(self.weights.values()) or 1.0


@dataclass(frozen=True)
class ChunkText:
    """What scoring needs of a chunk whatever the question; made once per chunk
    (the composer keeps them: a batch of questions reads the same chunks again)."""

    tokens: tuple[tuple[str, ...], ...]  # the analyser's terms of each sentence
    words: tuple[tuple[str, ...], ...]  # the lower-case words of each sentence
    lower: frozenset[str]  # the words the chunk writes in lower case
    title: frozenset[str]  # the analyser's terms of its article's title
    symbols: tuple[float, ...]  # each sentence's share of characters neither letters nor spaces


def analyse_chunk(chunk: Chunk, terms: Terms) -> ChunkText:
    spans = chunk.sentences or ((0, len(chunk.text)),)
    texts = [chunk.text[a:b] for a, b in spans]
    return ChunkText(
        tuple(tuple(terms(t)) for t in texts),
        tuple(tuple(words_of(t)) for t in texts),
        frozenset(w.lower() for w in _LOWER.findall(chunk.text)),
        frozenset(terms(chunk.article_title or "")),
        tuple(len(_LETTERS_AND_SPACES.sub("", t)) / max(1, len(t)) for t in texts),
    )


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage read, its score, and what it matched."""

    hit: Hit
    rank: int  # of the passage in retrieval, 0-based
    index: int  # of the sentence in the passage
    start: int
    end: int
    coverage: float  # context coverage (see the module docstring)
    has_type: bool
    score: float
    matched: frozenset[str]
    candidates: tuple[CandidateAnswer, ...] = ()  # of the kinds asked for, not given
    features: tuple[float, ...] = ()
    # When it holds none: those of the sentence before it, which it may lean
    # on ("The same year, Japan passed ..."); offsets into that sentence.
    before: tuple[CandidateAnswer, ...] = ()
    before_start: int = 0  # where that sentence starts in the chunk

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    @property
    def key(self) -> tuple[str, int]:
        return self.hit.chunk.source, self.hit.chunk.paragraph


class _Row(NamedTuple):
    """A sentence of a passage while its passage is scored: the features that need
    only the sentence, then (`extra`) those that come after its neighbours'."""

    sentence: int  # its index in the passage
    start: int
    end: int
    matched: set[str]
    context: float
    features: list[float]
    typed: bool
    extra: list[float]


def matched_terms(
    terms: set[str], weights: dict[str, float], synonyms: dict[str, list[set[str]]]
) -> set[str]:
    """The question terms present in `terms`, an acronym by its expansion too."""
    matched = {t for t in weights if t in terms}
    for term, expansions in synonyms.items():
        if term in weights and any(
            len(e & terms) >= max(1, math.ceil(0.67 * len(e))) for e in expansions
        ):
            matched.add(term)
    return matched


def typed_candidates(
    q: Question,
    sentence: str,
    common: Callable[[str], bool],
    ordinary: Collection[str] = frozenset(),
) -> tuple[CandidateAnswer, ...]:
    """The candidate answers of the kinds the question asks for that it does not give."""
    kinds = q.expected_kinds
    if not kinds:
        return ()
    return tuple(
        c
        for c in extract(sentence, common, kinds, ordinary)
        if c.kind in kinds and not given_by(c, q.text)
    )


def score_sentences(
    q: Question,
    qt: QuestionTerms,
    hits: Sequence[Hit],
    texts: Callable[[Chunk], ChunkText],
    common: Callable[[str], bool],
    weights: Sequence[float],
    vectors: WordVectors | None,
    threshold: float,
    candidate_sentences: int,
    similarities: Similarities | None = None,
) -> list[Sentence]:
    """Every sentence of `hits`, best first; the best `candidate_sentences` with
    their candidate answers when the question asks for a thing."""
    total = qt.total
    max_lexical = max([h.lexical_score or 0.0 for h in hits] + [1e-9])
    analysed = [texts(h.chunk) for h in hits]
    variants, pool = _variants(qt, analysed, vectors, threshold)
    w = np.asarray(weights, dtype=np.float64)
    out: list[Sentence] = []
    titles: dict[str | None, float] = {}  # passages of one article share a title
    for rank, (hit, text) in enumerate(zip(hits, analysed, strict=True)):
        chunk = hit.chunk
        spans = chunk.sentences or ((0, len(chunk.text)),)
        if chunk.article_title not in titles:
            titles[chunk.article_title] = (
                sum(qt.weights[t] for t in qt.weights if t in text.title) / total
            )
        title_cover = titles[chunk.article_title]
        own_dense = similarities(chunk) if similarities is not None else None
        soft = pool.soft(text.words) if pool is not None else [0.0] * len(spans)
        if own_dense is not None and len(own_dense) != len(spans):
            own_dense = None  # not this chunk's sentences: the passage's similarity stands in
        rows: list[_Row] = []
        previous: set[str] = set()
        earlier: set[str] = set()
        for index, (start, end) in enumerate(spans):
            sentence = chunk.text[start:end]
            tokens = text.tokens[index]
            present = set(tokens)
            matched = matched_terms(present, qt.weights, qt.synonyms)
            near = matched_terms(previous, qt.weights, qt.synonyms) - matched
            far = matched_terms(earlier, qt.weights, qt.synonyms) - matched - near
            earlier |= previous
            previous = present
            own = sum(qt.weights[t] for t in matched)
            words = text.words[index]
            close = _paraphrase(qt, matched, words, variants)
            coverage = (own + close) / total
            context = (
                coverage
                + (0.5 * sum(qt.weights[t] for t in near) + 0.25 * sum(qt.weights[t] for t in far))
                / total
            )
            # Candidates are extracted for the best sentences only (see
            # _with_candidates); until then the surface test of values stands in.
            typed = has_value(sentence, q.answer_type, q.text)
            f = [
                coverage,
                context,
                hit.dense_score or 0.0,
                1.0 / (1 + rank),
                (hit.lexical_score or 0.0) / max_lexical,
                float(typed),
                len([t for t in present if t not in qt.weights]) / max(1, len(present)),
                math.log(len(sentence) + 1),
                float(chunk.teaser),
                float(index == 0),
                title_cover,
                _proximity(tokens, qt.weights),
                close / total,
                pool.similarity(words) if pool is not None else 0.0,
                len(qt.bigrams & set(zip(tokens, tokens[1:], strict=False)))
                / max(1, len(qt.bigrams)),
            ]
            asked = [i for i, t in enumerate(tokens) if t in qt.weights]
            extra = [
                soft[index],
                float(bool(asked) and asked[0] < 3),
                asked[0] / len(tokens) if asked else 1.0,
                sum(t not in qt.weights for t in tokens[asked[-1] + 1 :]) / len(tokens)
                if asked
                else 0.0,
                text.symbols[index],
            ]
            rows.append(_Row(index, start, end, matched, context, f, typed, extra))
        best_in_chunk = max((r.features[0] for r in rows), default=0.0)
        # The sentences' own similarities; the passage's stands in for each where none is given.
        dense_of = [
            float(own_dense[r.sentence]) if own_dense is not None else r.features[2] for r in rows
        ]
        best_dense = max(dense_of, default=0.0)
        value_q = q.answer_type in VALUE_TYPES
        entity_q = q.answer_type in ENTITY_TYPES
        definition_q = q.answer_type == "definition"
        for j, (index, start, end, matched, context, f, typed, extra) in enumerate(rows):
            f += [
                rows[j - 1].features[0] if j > 0 else 0.0,
                rows[j + 1].features[0] if j + 1 < len(rows) else 0.0,
                best_in_chunk,
                f[5] * value_q,
                f[5] * entity_q,
                f[5] * definition_q,
                float(_is_heading(chunk.text[start:end])),
                dense_of[j],
                extra[0],
                dense_of[j - 1] if j > 0 else 0.0,
                dense_of[j + 1] if j + 1 < len(rows) else 0.0,
                best_dense,
                *extra[1:],
            ]
            score = float(np.dot(w, f))
            out.append(
                Sentence(
                    hit,
                    rank,
                    index,
                    start,
                    end,
                    context,
                    typed,
                    score,
                    frozenset(matched),
                    (),
                    tuple(f),
                )  # fmt: skip
            )
    out.sort(key=lambda s: -s.score)
    if q.expected_kinds:
        ordinary = set().union(*(t.lower for t in analysed))
        out = _with_candidates(q, out, common, ordinary, w, candidate_sentences)
    return out


def _with_candidates(
    q: Question,
    ranked: list[Sentence],
    common: Callable[[str], bool],
    ordinary: set[str],
    w: np.ndarray,
    top: int,
) -> list[Sentence]:
    """The best `top` sentences with their candidate answers, rescored and sorted again.

    For a question of a typed kind (a date, a person) `typed` now means that
    the sentence holds a candidate of that kind; a focus noun alone ("what
    role") keeps the surface test, as most such classes are not names.
    """
    if q.answer_type not in VALUE_TYPES | ENTITY_TYPES:
        # Only a name beside the focus noun counts (esqa.answer.evidence):
        # sentences without the noun are not searched.
        stem = (q.focus or "")[:-1] if len(q.focus or "") > 4 else (q.focus or "")
        head = [
            replace(s, candidates=typed_candidates(q, s.text, common, ordinary))
            if stem and stem in s.text.casefold()
            else s
            for s in ranked[:top]
        ]
        return head + ranked[top:]
    typed_at = FEATURES.index("typed")
    by_kind = FEATURES.index("typed_value" if q.answer_type in VALUE_TYPES else "typed_entity")
    head = []
    for s in ranked[:top]:
        candidates = typed_candidates(q, s.text, common, ordinary)
        before: tuple[CandidateAnswer, ...] = ()
        before_start = 0
        if not candidates and s.index > 0 and s.index <= len(s.hit.chunk.sentences):
            before_start, before_end = s.hit.chunk.sentences[s.index - 1]
            before = typed_candidates(
                q, s.hit.chunk.text[before_start:before_end], common, ordinary
            )
        f = list(s.features)
        f[typed_at] = f[by_kind] = float(bool(candidates))
        head.append(
            replace(
                s,
                has_type=bool(candidates),
                candidates=candidates,
                before=before,
                before_start=before_start,
                features=tuple(f),
                score=float(np.dot(w, f)),
            )  # fmt: skip
        )
    head.sort(key=lambda s: -s.score)
    return head + ranked[top:]


class _Pool:
    """Each word of the passages with the cosine of its vector to the question's mean
    vector and to each of the question's words, computed once per question: a
    sentence's similarities are then a mean and a maximum."""

    def __init__(
        self, known: list[str], rows: np.ndarray, question: np.ndarray, asked: np.ndarray
    ) -> None:
        self._similarity = dict(zip(known, (rows @ question).tolist(), strict=True))
        self._row = {w: i for i, w in enumerate(known)}
        self._asked = rows @ asked.T  # passage word x question word

    def similarity(self, words: Sequence[str]) -> float:
        """The mean cosine of the sentence's words (with a vector) to the question."""
        sims = [self._similarity[w] for w in set(words) if w in self._similarity]
        return sum(sims) / len(sims) if sims else 0.0

    def soft(self, sentences: Sequence[Sequence[str]]) -> list[float]:
        """For each sentence (its words), the mean over the question's words of the
        best cosine of one of its words to it; one gather for a passage's sentences."""
        rows = [[self._row[w] for w in set(words) if w in self._row] for words in sentences]
        held = [r for r in rows if r]  # a sentence without such a word scores 0
        if not held:
            return [0.0] * len(rows)
        starts = np.cumsum([0] + [len(r) for r in held[:-1]])
        flat = [r for sentence in held for r in sentence]
        best = iter(np.maximum.reduceat(self._asked[flat], starts, axis=0).mean(axis=1).tolist())
        return [next(best) if r else 0.0 for r in rows]


def _variants(
    qt: QuestionTerms, texts: Sequence[ChunkText], vectors: WordVectors | None, threshold: float
) -> tuple[dict[str, dict[str, float]], _Pool | None]:
    """For each question term, the words of the passages that stand for it, at their
    similarity; and the passages' words with their similarity to the question."""
    if vectors is None or not qt.words:
        return {}, None
    words: set[str] = set()
    for text in texts:
        for sentence_words in text.words:
            words.update(sentence_words)
    asked, a = vectors.rows(qt.words.values())
    known, rows = vectors.rows(words)
    if not asked or not known:
        return {}, None
    by_word = close_words(asked, a, known, rows, threshold)
    variants = {t: by_word[w] for t, w in qt.words.items() if w in by_word}
    weights = np.array([qt.weights[t] for t, w in qt.words.items() if w in set(asked)])
    bag = (a * weights[:, None]).sum(axis=0) if len(weights) == len(asked) else a.sum(axis=0)
    norm = float(np.linalg.norm(bag))
    return variants, (_Pool(known, rows, bag / norm, a) if norm else None)


def _paraphrase(
    qt: QuestionTerms,
    matched: set[str],
    words: Sequence[str],
    variants: dict[str, dict[str, float]],
) -> float:
    """The weight of question terms not matched but present through a close variant,
    each at its similarity."""
    if not variants:
        return 0.0
    present = set(words)
    soft = 0.0
    for term, close in variants.items():
        if term in matched:
            continue
        best = max((s for w, s in close.items() if w in present), default=0.0)
        soft += qt.weights.get(term, 0.0) * best
    return soft


def _is_heading(sentence: str) -> bool:
    text = sentence.strip()
    return len(text) < _HEADING_CHARS and _CLOSED.search(text) is None


def _proximity(tokens: Sequence[str], weights: dict[str, float]) -> float:
    """Distinct question terms per word of the shortest span holding them all (1 = adjacent)."""
    positions = [i for i, t in enumerate(tokens) if t in weights]
    if len(positions) < 2:
        return 1.0 if positions else 0.0
    return len({tokens[i] for i in positions}) / (positions[-1] - positions[0] + 1)
