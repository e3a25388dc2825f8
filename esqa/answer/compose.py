"""The rule-based composer: question + retrieved passages -> cited answer.

No language model writes anything. Candidate sentences come from the top
retrieved chunks; each is scored by

- coverage: the share of the question's terms (weighted by IDF) that the
  sentence holds, an acronym counting as present when its expansion is;
- the dense similarity of its chunk to the question;
- whether it holds a value of the expected answer type (a date for "when");
- the rank of its chunk in the fused retrieval.

The best sentence is the answer; an adjacent sentence joins it when the answer
needs it (it holds the expected value that the best one lacks, "The same year,
..."), and a sentence from another paragraph joins when it covers question
terms that the first leaves out. Ordinal questions ("the fourth pillar") are
answered with the item of an enumeration, acronym questions with the mined
expansion. When too little of the question is covered, the composer abstains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from esqa.answer.enumerations import find_enumeration, same_noun
from esqa.answer.question import Question, analyse
from esqa.answer.values import has_value
from esqa.ingest.acronyms import Acronym, infer_expansion
from esqa.types import Answer, Chunk, Citation, Hit

MAX_ANSWER_CHARS = 600
MAX_SENTENCES = 3
CITATIONS = 3
# Weights of the sentence score; tuned on the development set as a whole.
W_COVERAGE, W_DENSE, W_TYPE, W_RANK = 0.55, 0.25, 0.12, 0.08
# Abstain when the best evidence covers less of the question than this.
MIN_SUPPORT = 0.5
# The next sentence joins the best one when it carries the same subject on
# and the two stay readable together (see Composer._continues).
CONTINUATION_CHARS = 400
# Answer types whose answer is a value that a sentence either holds or not.
VALUE_TYPES = frozenset({"date", "number", "percentage", "money"})
# A sentence opening like this leans on the one before it.
_LEANS_BACK = re.compile(
    r"(?:It|This|These|They|Those|Such|Its|Their|He|She|His|Her|Moreover|Furthermore|"
    r"In addition|Additionally|However|Thus|Therefore|As a result|Consequently)\b"
)
# Words that shape a question but are never what it is about.
_QUESTION_WORDS = {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "mani", "much",
    "doe", "did", "do", "is", "are", "was", "were", "will", "would", "can", "could", "should",
    "name", "tell", "describ", "explain", "list", "kind", "type", "about", "besid",
}  # fmt: skip
_FIRST_PERSON = re.compile(r"\b(?:I|me|my|I'm|I've)\b")
_AUTHOR_BIO = re.compile(
    r"^(?P<name>[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3})\s*(?:\([^)]*\)?\s*)?"
    r"(?:is|was|serves as)\s+(?:a|an|the|deputy|senior|visiting|professor|director|editor|"
    r"columnist|fellow|president|chair|research)\b"
)

# Words that name the expected answer type ("what year", "what share") rather
# than the topic; removed from the question's terms once the type is known.
_TYPE_WORDS = {
    "date": {"date", "year", "day", "month", "time"},
    "percentage": {"share", "percentag", "proport", "percent", "fraction", "portion"},
    "number": {"number", "count"},
}
# "Besides X, which ...": X is given, not asked for.
_GIVEN = re.compile(
    r"\b(?:besides|apart from|other than|except(?: for)?|in addition to|aside from)\s+([^,?]+)",
    re.IGNORECASE,
)

_QUESTION_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,7}\b")

Terms = Callable[[str], list[str]]
Neighbours = Callable[[Chunk], Sequence[Chunk]]


@dataclass(frozen=True)
class _Candidate:
    hit: Hit
    rank: int  # of the chunk in retrieval, 0-based
    index: int  # of the sentence in the chunk
    start: int
    end: int
    coverage: float
    has_type: bool
    score: float
    matched: frozenset[str]

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    @property
    def key(self) -> tuple[str, int]:
        return self.hit.chunk.source, self.hit.chunk.paragraph


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
    """Composes answers from retrieved hits; holds what it needs from the index."""

    def __init__(
        self,
        terms: Terms,
        idf: Callable[[Sequence[str]], dict[str, float]],
        acronyms: dict[str, Acronym],
        neighbours: Neighbours | None = None,
    ) -> None:
        self._terms = terms
        self._idf = idf
        self.acronyms = acronyms
        self._neighbours = neighbours or (lambda chunk: [chunk])

    def _question_terms(self, q: Question) -> dict[str, float]:
        skip = _QUESTION_WORDS | _TYPE_WORDS.get(q.answer_type, set())
        given = _GIVEN.search(q.text)
        if given:
            skip = skip | set(self._terms(given.group(1)))
        terms = [t for t in self._terms(q.text) if t not in skip]
        return self._idf(terms) if terms else {}

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

    def compose(self, question: str, hits: Sequence[Hit]) -> Answer:
        q = analyse(question)
        weights = self._question_terms(q)
        synonyms = self._synonyms(question, hits)
        candidates = self._candidates(q, hits, weights, synonyms)
        if not candidates:
            return _abstain(q, [], 0.0)
        if q.answer_type == "acronym" and q.acronym:
            answer = self._acronym_answer(q, candidates)
            if answer is not None:
                return answer
        if q.ordinal is not None and q.ordinal_noun:
            answer = self._ordinal_answer(q, candidates)
            if answer is not None:
                return answer
        best = candidates[0]
        support = self._support(best, weights, synonyms)
        confidence = _confidence(best.score, support)
        if support < MIN_SUPPORT:
            return _abstain(q, candidates, confidence)
        chosen = self._evidence(q, best, candidates, hits, weights)
        if q.answer_type in VALUE_TYPES and not any(c.has_type for c in chosen):
            # "When was X founded?" answered by a sentence about X with no date
            # in it, or the one beside it, is not an answer.
            return _abstain(q, candidates, confidence)
        text = " ".join(c.text for c in chosen)
        if len(text) > MAX_ANSWER_CHARS:
            text = _trim(best.text, set(weights), self._terms)
        citations = _citations(chosen, candidates)
        return Answer(q.text, True, text, confidence, citations, q.answer_type)

    def _candidates(
        self,
        q: Question,
        hits: Sequence[Hit],
        weights: dict[str, float],
        synonyms: dict[str, list[set[str]]],
    ) -> list[_Candidate]:
        total = sum(weights.values()) or 1.0
        out: list[_Candidate] = []
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            dense = hit.dense_score or 0.0
            spans = chunk.sentences or ((0, len(chunk.text)),)
            previous: set[str] = set()  # terms of the sentence before
            earlier: set[str] = set()  # terms of the sentences before that
            for index, (start, end) in enumerate(spans):
                sentence = chunk.text[start:end]
                terms = set(self._terms(sentence))
                matched = _matched(terms, weights, synonyms)
                # A sentence leans on the ones before it ("Investments come
                # from ..." after "Rapidus"): their terms count, less and less.
                near = _matched(previous, weights, synonyms) - matched
                far = _matched(earlier, weights, synonyms) - matched - near
                earlier |= previous
                previous = terms
                coverage = (
                    sum(weights[t] for t in matched)
                    + 0.5 * sum(weights[t] for t in near)
                    + 0.25 * sum(weights[t] for t in far)
                ) / total
                typed = has_value(sentence, q.answer_type, q.text)
                score = (
                    W_COVERAGE * coverage
                    + W_DENSE * dense
                    + W_TYPE * typed
                    + W_RANK / (1 + rank)
                    - (0.1 if chunk.teaser else 0.0)
                )
                out.append(
                    _Candidate(
                        hit, rank, index, start, end, coverage, typed, score, frozenset(matched)
                    )
                )
        out.sort(key=lambda c: -c.score)
        return out

    def _support(
        self,
        best: _Candidate,
        weights: dict[str, float],
        synonyms: dict[str, list[set[str]]],
    ) -> float:
        """How much of the question the best evidence covers: the best sentence
        with its paragraph's other sentences (anaphora reach that far)."""
        total = sum(weights.values())
        if not total:
            return 0.0
        context = set(self._terms(best.hit.chunk.text))
        if best.hit.chunk.article_title:
            context |= set(self._terms(best.hit.chunk.article_title))
        in_context = _matched(context, weights, synonyms)
        return 0.5 * best.coverage + 0.5 * sum(weights[t] for t in in_context) / total

    def _evidence(
        self,
        q: Question,
        best: _Candidate,
        candidates: list[_Candidate],
        hits: Sequence[Hit],
        weights: dict[str, float],
    ) -> list[_Candidate]:
        chosen = [best]
        # The expected value may sit in the sentence before ("The same year, ...").
        if not best.has_type and best.index > 0:
            prev = next(
                (c for c in candidates if c.hit is best.hit and c.index == best.index - 1), None
            )
            if prev is not None and prev.has_type:
                chosen.insert(0, prev)
        # A lead-in ("The people were divided into five compartments:") announces
        # the answer that the next sentence gives; the expected value may be there too.
        following = self._following(q, best, candidates)
        if following is not None and (
            best.text.rstrip().endswith(":")
            or (len(chosen) == 1 and not best.has_type and following.has_type)
            or self._continues(best, following, weights)
        ):
            chosen.append(following)
        # "I came up with ...": in an opinion piece the writer is named in the bio at its end.
        if q.answer_type == "person" and _FIRST_PERSON.search(best.text):
            bio = _author_bio(best, self._neighbours(best.hit.chunk))
            if bio is not None:
                chosen.append(bio)
        # A sentence elsewhere that covers what the chosen ones leave out.
        covered = set().union(*(c.matched for c in chosen))
        for other in candidates[1:6]:
            if len(chosen) >= MAX_SENTENCES:
                break
            gain = sum(weights[t] for t in other.matched - covered)
            if (
                other.key != best.key
                and gain >= 0.25 * sum(weights.values())
                and other.score >= 0.85 * best.score
                and other.text not in {c.text for c in chosen}
            ):
                chosen.append(other)
                covered |= other.matched
        while len(" ".join(c.text for c in chosen)) > MAX_ANSWER_CHARS and len(chosen) > 1:
            chosen.pop()
        return chosen

    def _continues(
        self, best: _Candidate, following: _Candidate, weights: dict[str, float]
    ) -> bool:
        """Whether the sentence after `best` carries its subject on ("This ...",
        "However, ...", or the question's terms again) in few enough words to
        quote both: the substance (the figure, the list, the consequence) is
        often in that second sentence, and it reads as one passage."""
        if len(best.text) + len(following.text) >= CONTINUATION_CHARS:
            return False
        return bool(_LEANS_BACK.match(following.text)) or bool(following.matched & set(weights))

    def _following(
        self, q: Question, best: _Candidate, candidates: list[_Candidate]
    ) -> _Candidate | None:
        """The sentence after `best`: in its chunk, else the first of the article's next chunk."""
        following = next(
            (c for c in candidates if c.hit is best.hit and c.index == best.index + 1), None
        )
        if following is not None or best.index + 1 < len(best.hit.chunk.sentences):
            return following
        article = list(self._neighbours(best.hit.chunk))
        at = next((i for i, c in enumerate(article) if c.id == best.hit.chunk.id), None)
        if at is None or at + 1 >= len(article):
            return None
        chunk = article[at + 1]
        # Windows of one paragraph overlap by a sentence: skip the one already quoted.
        start, end = next(
            ((s, e) for s, e in chunk.sentences if chunk.text[s:e] != best.text), (0, 0)
        )
        if start == end:
            return None
        typed = has_value(chunk.text[start:end], q.answer_type, q.text)
        return _Candidate(Hit(chunk, 0.0), best.rank, 0, start, end, 0.0, typed, 0.0, frozenset())

    def _ordinal_answer(self, q: Question, candidates: list[_Candidate]) -> Answer | None:
        assert q.ordinal is not None and q.ordinal_noun is not None
        for cand in candidates[:40]:
            enum = find_enumeration(cand.text)
            if enum is None or not same_noun(enum.noun, q.ordinal_noun):
                continue
            span = enum.item(q.ordinal)
            if span is None:  # "the ninth pillar" of four: the articles do not say
                return _abstain(q, [cand, *candidates], _confidence(cand.score, 0.0))
            text = cand.text[span[0] : span[1]]
            confidence = _confidence(cand.score, max(cand.coverage, 0.6))
            return Answer(q.text, True, text, confidence, _citations([cand], candidates), "ordinal")
        return None

    def _acronym_answer(self, q: Question, candidates: list[_Candidate]) -> Answer | None:
        acronym = self.acronyms.get(q.acronym or "")
        if acronym is None:
            return None
        pattern = re.compile(r"\s+".join(re.escape(w) for w in acronym.long.split()))
        for cand in candidates:
            m = pattern.search(cand.text)
            if m is None:
                continue
            text = cand.text[m.start() : m.end()]
            confidence = _confidence(cand.score, 0.9)
            return Answer(q.text, True, text, confidence, _citations([cand], candidates), "acronym")
        return None


def _matched(
    terms: set[str], weights: dict[str, float], synonyms: dict[str, list[set[str]]]
) -> set[str]:
    matched = {t for t in weights if t in terms}
    for term, expansions in synonyms.items():
        if term in weights and any(
            len(e & terms) >= max(1, math.ceil(0.67 * len(e))) for e in expansions
        ):
            matched.add(term)
    return matched


def _author_bio(best: _Candidate, article: Sequence[Chunk]) -> _Candidate | None:
    """The "Name is a ..." sentence that closes an opinion piece, if the article has one."""
    for chunk in reversed(article):
        for index, (start, end) in reversed(list(enumerate(chunk.sentences))):
            if _AUTHOR_BIO.match(chunk.text[start:end]) and not _FIRST_PERSON.search(
                chunk.text[start:end]
            ):
                hit = Hit(chunk, 0.0)
                return _Candidate(hit, best.rank, index, start, end, 0.0, True, 0.0, frozenset())
    return None


def _others(candidates: list[_Candidate], chosen: list[_Candidate]) -> list[_Candidate]:
    """Next-best candidates from paragraphs not already cited, for supporting citations."""
    seen = {c.key for c in chosen}
    out = []
    for c in candidates:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out


def _citations(chosen: list[_Candidate], candidates: list[_Candidate]) -> tuple[Citation, ...]:
    """A citation per quoted passage, then the next-best paragraphs, CITATIONS in all.

    Adjacent sentences of one chunk are one passage: one quote, one line range.
    """
    passages: list[_Candidate] = []
    for c in chosen:
        last = passages[-1] if passages else None
        if (
            last is not None
            and last.hit is c.hit
            and last.end <= c.start
            and not c.hit.chunk.text[last.end : c.start].strip()
        ):
            passages[-1] = replace(last, end=c.end)
        else:
            passages.append(c)
    cited = [_cite(c) for c in passages]
    cited += [_cite(c) for c in _others(candidates, chosen)][: max(0, CITATIONS - len(cited))]
    return tuple(cited)


def _cite(c: _Candidate) -> Citation:
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


def _confidence(score: float, support: float) -> float:
    """A number in [0, 1] that grows with the evidence's score and coverage."""
    z = 6.0 * (0.6 * support + 0.4 * score) - 3.0
    return 1.0 / (1.0 + math.exp(-z))


def _trim(sentence: str, terms: set[str], analyse_terms: Terms) -> str:
    """The clause of an over-long sentence that holds most question terms."""
    parts = [p.strip() for p in re.split(r";\s+", sentence) if p.strip()]
    if len(parts) == 1:
        parts = [p.strip() for p in re.split(r",\s+", sentence) if p.strip()]
    best = max(parts, key=lambda p: len(terms & set(analyse_terms(p))))
    return best[:MAX_ANSWER_CHARS]


def _abstain(q: Question, candidates: list[_Candidate], confidence: float) -> Answer:
    citations = [_cite(c) for c in _others(candidates, [])][:CITATIONS]
    return Answer(
        q.text,
        False,
        "The articles do not answer this question; the closest passages are cited below.",
        min(confidence, 0.5),
        tuple(citations),
        q.answer_type,
    )
