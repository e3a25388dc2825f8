"""The rule-based composer: question + retrieved passages -> cited answer.

No language model writes anything. The sentences of the passages read are
scored as evidence (`esqa.answer.sentences`). A question that asks for a
thing (a person, a place, a date, an amount, "which team") is answered by the
candidate answer the evidence supports best across passages
(`esqa.answer.evidence`), quoted in its best sentence, and declined when no
sentence read holds a candidate of its kind; other questions are answered
by the best sentence. Sentences join it by the rules of `esqa.answer.joins`.
Ordinal questions ("the fourth pillar") are answered with the item of an
enumeration, acronym questions with the mined expansion. When too little of
the question is covered, the composer abstains.

The composer never depends on a particular stemmer: it is given the store's
analyser (`terms`) and derives its stop terms by passing plain words through it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from esqa.answer import cite
from esqa.answer.enumerations import find_enumeration, same_noun
from esqa.answer.evidence import Supported, rank_candidates
from esqa.answer.joins import Draft, Neighbours, author_bio, join
from esqa.answer.params import ComposerParams
from esqa.answer.paraphrase import WordVectors, words_of
from esqa.answer.question import EXPECTED_KINDS, Question, analyse
from esqa.answer.sentences import (
    FEATURES,
    ChunkText,
    QuestionTerms,
    Sentence,
    SentenceSpace,
    analyse_chunk,
    matched_terms,
    score_sentences,
)
from esqa.answer.spelling import corrections
from esqa.ingest.acronyms import Acronym, infer_expansion
from esqa.types import Answer, AnswerSpan, Chunk, Hit

# Words that shape a question but are never what it is about; passed through
# the analyser, so they match whatever it makes of them.
QUESTION_WORDS = (
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "many", "much",
    "does", "did", "do", "is", "are", "was", "were", "will", "would", "can", "could", "should",
    "name", "tell", "describe", "explain", "list", "kind", "type", "about", "besides",
)  # fmt: skip
# Words that name the expected answer type ("what year", "what share") rather
# than the topic; removed from the question's terms once the type is known.
TYPE_WORDS = {
    "date": ("date", "year", "day", "month", "time"),
    "percentage": ("share", "percentage", "proportion", "percent", "fraction", "portion"),
    "number": ("number", "count"),
}
# Answer types whose answer names no single phrase: no span is shown.
_NO_SPAN = frozenset({"list", "reason", "definition"})
# "Besides X, which ...": X is given, not asked for.
_GIVEN = re.compile(
    r"\b(?:besides|apart from|other than|except(?: for)?|in addition to|aside from)\s+([^,?]+)",
    re.IGNORECASE,
)
_QUESTION_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,7}\b")
_WHAT_IS = re.compile(r"\s*what\s+(?:is|are)\b", re.IGNORECASE)

Terms = Callable[[str], list[str]]
_NO_TERMS = QuestionTerms({}, {}, {}, frozenset())
# Chunks whose analysis the composer keeps between questions (a few MB).
_KEPT_CHUNKS = 20_000


@dataclass(frozen=True)
class Evidence:
    """What the composer found for a question, before it writes the answer."""

    q: Question
    qt: QuestionTerms
    sentences: list[Sentence]  # every sentence read, best first
    best: Sentence | None  # the sentence to quote: the winner's, else the best
    winner: Supported | None  # the best supported candidate answer, if the question asks for one
    support: float  # how much of the question the best evidence covers
    margin: float  # best score over the best of another paragraph
    opinion: bool = False  # a first-person sentence whose writer the article's bio names
    expansion: str | None = None  # what an acronym question's acronym stands for, if known
    # The ranker's probability that the best sentence is the one that answers:
    # the softmax of the scores it was fitted with, over every sentence read.
    probability: float = 1.0


def expand_query(question: str, acronyms: dict[str, Acronym]) -> str:
    """The question with known acronyms spelled out, and long forms abbreviated."""
    extra: list[str] = []
    for short, acronym in acronyms.items():
        if re.search(rf"\b{re.escape(short)}\b", question):
            extra.append(acronym.long)
        elif acronym.long.casefold() in question.casefold():
            extra.append(short)
    return f"{question} ({'; '.join(extra)})" if extra else question


class Composer:
    """Composes answers from retrieved hits; holds what it needs from the index.

    `terms` is the lexical store's analyser, `idf` its term weights; `vectors`
    (optional) the embedding model's word vectors, for paraphrases; `space`
    (optional) its vectors of the question and of each sentence read.
    """

    def __init__(
        self,
        terms: Terms,
        idf: Callable[[Sequence[str]], dict[str, float]],
        acronyms: dict[str, Acronym],
        neighbours: Neighbours | None = None,
        vectors: WordVectors | None = None,
        params: ComposerParams | None = None,
        space: SentenceSpace | None = None,
    ) -> None:
        self._terms = terms
        self._idf = idf
        self.acronyms = acronyms
        self._neighbours = neighbours or (lambda chunk: [chunk])
        self._vectors = vectors
        self._space = space
        self.params = params or ComposerParams()
        weights = dict(self.params.weights)
        self._weights = tuple(weights.get(name, 0.0) for name in FEATURES)
        self._stop = self._analysed(QUESTION_WORDS)
        self._type_stop = {kind: self._analysed(words) for kind, words in TYPE_WORDS.items()}
        self._common = lru_cache(maxsize=4096)(lambda word: not terms(word))
        self._texts: dict[tuple[int, str], ChunkText] = {}

    def _chunk_text(self, chunk: Chunk) -> ChunkText:
        """The question-independent analysis of a chunk, kept for the next question."""
        key = (chunk.id, chunk.text)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= _KEPT_CHUNKS:
                self._texts.clear()
            text = self._texts[key] = analyse_chunk(chunk, self._terms)
        return text

    def with_params(self, params: ComposerParams) -> Composer:
        """The same composer with other parameters (an experiment, a fit)."""
        return Composer(
            self._terms, self._idf, self.acronyms, self._neighbours, self._vectors, params,
            self._space,
        )  # fmt: skip

    def _analysed(self, words: Sequence[str]) -> frozenset[str]:
        return frozenset(t for w in words for t in self._terms(w))

    def question_terms(self, q: Question, hits: Sequence[Hit]) -> QuestionTerms:
        """The question's weighted terms, the words they come from, and acronym expansions."""
        skip = self._stop | self._type_stop.get(q.answer_type, frozenset())
        # An acronym is never a question word, whatever it spells ("the WHO criteria").
        skip = skip - {t for w in _QUESTION_ACRONYM.findall(q.text) for t in self._terms(w)}
        given = _GIVEN.search(q.text)
        if given:
            skip = skip | set(self._terms(given.group(1)))
        sequence = [t for t in self._terms(q.text) if t not in skip]
        # A misspelt term ("carageenan") stands for the passages' word ("carrageenan").
        # A word of the model's vocabulary is spelt right ("founded" is not "funded"),
        # even where no passage read writes it.
        passages = Counter(
            t for h in hits for tokens in self._chunk_text(h.chunk).tokens for t in tokens
        )
        analysed = [(word, self._terms(word)) for word in words_of(q.text)]
        vectors = self._vectors
        spelt = {t for word, terms in analysed if vectors and vectors.knows(word) for t in terms}
        fixed = corrections([t for t in sequence if t not in spelt], passages)
        sequence = [fixed.get(t, t) for t in sequence]
        weights = self._idf(sequence) if sequence else {}
        words: dict[str, str] = {}
        for word, terms in analysed:
            if terms and terms[0] in weights:
                words.setdefault(terms[0], word)
        return QuestionTerms(
            weights,
            self._synonyms(q.text, hits),
            words,
            frozenset(zip(sequence, sequence[1:], strict=False)),
        )

    def _synonyms(self, question: str, hits: Sequence[Hit]) -> dict[str, list[set[str]]]:
        """For each acronym term of the question, the term sets of its expansion.

        Acronyms the corpus never defines ("LDP") are looked up by initials in
        the retrieved passages ("Liberal Democratic Party").
        """
        out: dict[str, list[set[str]]] = {}
        for short in set(_QUESTION_ACRONYM.findall(question)):
            known = self.acronyms.get(short)
            long = known.long if known else infer_expansion(short, (h.chunk.text for h in hits))
            if long:
                for term in self._terms(short):
                    out.setdefault(term, []).append(set(self._terms(long)))
        return out

    def sentences(self, q: Question, hits: Sequence[Hit]) -> tuple[QuestionTerms, list[Sentence]]:
        """Every sentence of the hits scored as evidence for the question, best first."""
        qt = self.question_terms(q, hits)
        similarities = self._space.similarities(q.text) if self._space is not None else None
        scored = score_sentences(
            q, qt, hits, self._chunk_text, self._common, self._weights, self._vectors,
            self.params.paraphrase_similarity, self.params.candidate_sentences, similarities,
        )  # fmt: skip
        return qt, scored

    def weigh(self, question: str, hits: Sequence[Hit]) -> Evidence:
        """The evidence for an answer: the sentences scored, the winning candidate
        answer (for a question that asks for a thing) and the best sentence."""
        q = analyse(question)
        expansion = self._expansion(q, hits) if q.answer_type == "acronym" else None
        if q.answer_type == "acronym" and expansion is None and _WHAT_IS.match(q.text):
            # "What is CHIKV?" where no passage spells it out: a definition
            # ("CHIKV is an arthropod-borne virus") answers it. "What does
            # CHIKV stand for?" asks for the expansion only.
            q = dataclasses.replace(q, answer_type="definition")
        qt, sentences = self.sentences(q, hits)
        supported: list[Supported] = []
        best = sentences[0] if sentences else None
        # "I came up with ...": the writer of an opinion piece is named in its bio.
        opinion = best is not None and author_bio(q, best, self._neighbours) is not None
        # Only a name given by the class a question names ("which team") leans on
        # its article to cover the question: a date or an amount must stand in
        # a sentence that covers it ("16 million" in a sentence about rare
        # earths is not how many tons Japan imports).
        focus_only = q.answer_type not in EXPECTED_KINDS
        if q.expected_kinds and sentences and not opinion:
            supported = rank_candidates(q, sentences, self.params)
            if supported and focus_only and not self._replaces_best(q, supported[0], sentences[0]):
                supported = []
            if supported:
                best = supported[0].sentence
        support = (
            self._support(best, qt, hits, sentences, bool(supported) and focus_only)
            if best is not None
            else 0.0
        )
        rival = next((s for s in sentences if best is not None and s.key != best.key), None)
        margin = best.score - rival.score if best is not None and rival is not None else 1.0
        winner = supported[0] if supported else None
        probability = _probability(best, sentences) if best is not None else 0.0
        return Evidence(
            q, qt, sentences, best, winner, support, margin, opinion, expansion, probability
        )

    def compose(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer the question from the hits, or decline; see the module docstring."""
        ev = self.weigh(question, hits)
        q, sentences, best = ev.q, ev.sentences, ev.best
        if best is None:
            return self._abstain(q, [], 0.0)
        if q.answer_type == "acronym" and ev.expansion is not None:
            answer = self._acronym_answer(q, sentences, ev.expansion)
            if answer is not None:
                return answer
        if q.ordinal is not None and q.ordinal_noun:
            answer = self._ordinal_answer(q, sentences)
            if answer is not None:
                return answer
        confidence = self.confidence(ev)
        if q.answer_type in EXPECTED_KINDS and ev.winner is None and not ev.opinion:
            # "When was X founded?" answered by a sentence about X with no date
            # in it, "who" by one that names nobody, is not an answer.
            return self._abstain(q, sentences, confidence)
        if ev.support < self.params.min_support:
            return self._abstain(q, sentences, confidence)
        draft = Draft(
            q, best, [best], sentences, ev.qt.weights, self.params, self._neighbours, self._common
        )
        chosen = join(draft)
        text = " ".join(c.text for c in chosen)
        if len(text) > self.params.max_answer_chars:
            text = _trim(best.text, set(ev.qt.weights), self._terms, self.params.max_answer_chars)
        first = cite.passages(chosen)[0]
        span = None
        if ev.winner is not None and q.answer_type not in _NO_SPAN:
            span = cite.span_in(first, best.hit.chunk.id, ev.winner.start, ev.winner.candidate)
        citations = cite.citations(chosen, sentences, self.params.citations)
        return Answer(q.text, True, text, confidence, citations, q.answer_type, span)

    def _replaces_best(self, q: Question, winner: Supported, best: Sentence) -> bool:
        """Whether a name beside a class noun is evidence enough to quote its
        sentence instead of the best one.

        "Which team's owner ...?" asks for the team through its owner: the
        sentence about the owner need not name it, so "the Seagulls team"
        elsewhere in the article answers. "Which enzyme is used to ...?" is
        answered by the sentence that says what is used, often in words no
        name pattern finds ("salivary amylase"); a name beside the noun in a
        passage the ranking puts far below it ("the Kellogg enzyme plant")
        is not evidence enough to replace it.
        """
        return (
            q.focus_possessive
            or winner.sentence.key == best.key
            or winner.score >= self.params.focus_min_support
        )

    def _support(
        self,
        best: Sentence,
        qt: QuestionTerms,
        hits: Sequence[Hit],
        sentences: Sequence[Sentence],
        winner: bool,
    ) -> float:
        """How much of the question the best evidence covers: the best sentence
        with its paragraph's other sentences (anaphora reach that far).

        A candidate answer's sentence may name the thing without restating the
        question ("Fisher has owned the Seagulls team since 2005" after "Team
        owner John Fisher announced ... selling the franchise"): its article's
        other passages read count as its context too.
        """
        total = sum(qt.weights.values())
        if not total:
            return 0.0
        chunk = best.hit.chunk
        texts = [self._chunk_text(chunk)]
        if winner:
            texts += [
                self._chunk_text(h.chunk)
                for h in hits
                if h.chunk.id != chunk.id
                and (h.chunk.source, h.chunk.article_title) == (chunk.source, chunk.article_title)
            ]
        context: set[str] = set(texts[0].title)
        for text in texts:
            for tokens in text.tokens:
                context.update(tokens)
        in_context = matched_terms(context, qt.weights, qt.synonyms)
        own = best.coverage
        if winner:  # the article's sentence that covers the question best stands for it
            own = max(
                [own]
                + [
                    s.coverage
                    for s in sentences
                    if (s.hit.chunk.source, s.hit.chunk.article_title)
                    == (chunk.source, chunk.article_title)
                ]
            )
        # Paraphrased terms count in the sentences' own coverage.
        return 0.5 * min(1.0, own) + 0.5 * sum(qt.weights[t] for t in in_context) / total

    def confidence(self, ev: Evidence) -> float:
        """A number in [0, 1] from the evidence: the coverage, the best score's
        margin over the best sentence of another paragraph, the ranker's
        probability of the best sentence, and, for a question that asks for a
        thing, the share of the candidates' evidence its answer holds."""
        p = self.params
        share = ev.winner.share if ev.winner is not None else 0.5
        z = (
            p.confidence_bias
            + p.confidence_support * ev.support
            + p.confidence_margin * max(-2.0, min(2.0, ev.margin))
            + p.confidence_share * share
            + p.confidence_probability * ev.probability
        )
        return 1.0 / (1.0 + math.exp(-z))

    def _ordinal_answer(self, q: Question, sentences: list[Sentence]) -> Answer | None:
        assert q.ordinal is not None and q.ordinal_noun is not None
        for s in sentences[:40]:
            enum = find_enumeration(s.text)
            if enum is None or not same_noun(enum.noun, q.ordinal_noun):
                continue
            item = enum.item(q.ordinal)
            if item is None:  # "the ninth pillar" of four: the articles do not say
                return self._abstain(q, [s, *sentences], 0.2)
            text = s.text[item[0] : item[1]]
            confidence = self._fixed_confidence(s, sentences, max(s.coverage, 0.6))
            span = AnswerSpan(text, item[0], item[1])
            citations = cite.citations([s], sentences, self.params.citations)
            return Answer(q.text, True, text, confidence, citations, "ordinal", span)
        return None

    def _expansion(self, q: Question, hits: Sequence[Hit]) -> str | None:
        """What the question's acronym stands for: mined from the corpus, else
        a name in the passages read whose initials spell it."""
        if not q.acronym:
            return None
        known = self.acronyms.get(q.acronym)
        if known is not None:
            return known.long
        return infer_expansion(q.acronym, (h.chunk.text for h in hits))

    def _acronym_answer(self, q: Question, sentences: list[Sentence], long: str) -> Answer | None:
        pattern = re.compile(r"\s+".join(re.escape(w) for w in long.split()))
        for s in sentences:
            m = pattern.search(s.text)
            if m is None:
                continue
            text = s.text[m.start() : m.end()]
            confidence = self._fixed_confidence(s, sentences, 0.9)
            span = AnswerSpan(text, m.start(), m.end())
            citations = cite.citations([s], sentences, self.params.citations)
            return Answer(q.text, True, text, confidence, citations, "acronym", span)
        return None

    def _fixed_confidence(
        self, s: Sentence, sentences: Sequence[Sentence], support: float
    ) -> float:
        """Confidence of an answer found by a rule (an enumeration's item, an expansion).

        The rule, not the ranker, chose the sentence (an enumeration is often not
        the sentence that scores best), so the ranker's probability is not held
        against it.
        """
        rival = next((r for r in sentences if r.key != s.key), None)
        margin = s.score - rival.score if rival is not None else 1.0
        return self.confidence(Evidence(analyse(""), _NO_TERMS, [], s, None, support, margin))

    def _abstain(self, q: Question, sentences: Sequence[Sentence], confidence: float) -> Answer:
        citations = [cite.cite(c) for c in cite.others(sentences, [])][: self.params.citations]
        return Answer(
            q.text,
            False,
            "The articles do not answer this question; the closest passages are cited below.",
            min(confidence, 0.5),
            tuple(citations),
            q.answer_type,
        )


def _probability(best: Sentence, sentences: Sequence[Sentence]) -> float:
    """The softmax probability of `best`, one of `sentences`, among their scores."""
    scores = np.array([s.score for s in sentences])
    top = float(scores.max())
    return math.exp(best.score - top) / float(np.exp(scores - top).sum())


def _trim(sentence: str, terms: set[str], analyse_terms: Terms, limit: int) -> str:
    """The clause of an over-long sentence that holds most question terms."""
    parts = [p.strip() for p in re.split(r";\s+", sentence) if p.strip()]
    if len(parts) == 1:
        parts = [p.strip() for p in re.split(r",\s+", sentence) if p.strip()]
    best = max(parts, key=lambda p: len(terms & set(analyse_terms(p))))
    return best[:limit]
