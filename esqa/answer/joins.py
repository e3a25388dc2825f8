"""Which sentences join the best one in an answer: an ordered table of named rules.

The best sentence is rarely the whole answer: the expected value may sit in
the sentence before ("The same year, ..."), a lead-in ending with a colon
announces what the next sentence gives, the next sentence often carries the
subject on ("This ...", "However, ..."), an opinion piece names its writer in
the bio at its end, and another paragraph may cover what the first leaves
out. Each rule looks at the answer so far and returns the sentences it adds
(before or after); the rules run in the order of `JOINS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from esqa.answer.evidence import is_term
from esqa.answer.params import ComposerParams
from esqa.answer.question import VALUE_TYPES, Question
from esqa.answer.sentences import Sentence, typed_candidates
from esqa.answer.values import has_value
from esqa.types import Chunk, Hit

# A sentence opening like this leans on the one before it.
_LEANS_BACK = re.compile(
    r"(?:It|This|These|They|Those|Such|Its|Their|He|She|His|Her|Moreover|Furthermore|"
    r"In addition|Additionally|However|Thus|Therefore|As a result|Consequently)\b"
)
# "Baculoviruses have a number of advantages as vaccine vectors.": a sentence
# that announces a set (a quantifier, then a plural noun near its end) and
# does not list it; the sentences after it give the members.
_ANNOUNCES = re.compile(
    r"\b(?:a\s+(?:number|variety|range|series|set)\s+of|several|various|multiple|"
    r"the\s+following|two|three|four|five|six|seven|eight|nine|ten|[2-9])\s+"
    r"(?:[\w-]+\s+){0,2}?(?P<noun>[a-z][\w-]*s)\b(?P<rest>[^,;:]*)$"
)
_ANNOUNCEMENT_TAIL = 8  # words after the noun: more, and the sentence says something else
_FIRST_PERSON = re.compile(r"\b(?:I|me|my|I'm|I've)\b")
_AUTHOR_BIO = re.compile(
    r"^(?P<name>[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3})\s*(?:\([^)]*\)?\s*)?"
    r"(?:is|was|serves as)\s+(?:a|an|the|deputy|senior|visiting|professor|director|editor|"
    r"columnist|fellow|president|chair|research)\b"
)

Neighbours = Callable[[Chunk], Sequence[Chunk]]


@dataclass
class Draft:
    """The answer being put together: what the rules read and extend."""

    q: Question
    best: Sentence
    chosen: list[Sentence]
    sentences: list[Sentence]  # every sentence read, best first
    weights: dict[str, float]
    params: ComposerParams
    neighbours: Neighbours
    common: Callable[[str], bool]

    def sibling(self, offset: int) -> Sentence | None:
        """The sentence `offset` places from the best one in its passage."""
        b = self.best
        return next(
            (s for s in self.sentences if s.hit is b.hit and s.index == b.index + offset), None
        )


def _previous_holds_value(d: Draft) -> list[Sentence]:
    """The expected value may sit in the sentence before ("The same year, ...")."""
    if d.best.has_type or d.best.index == 0:
        return []
    previous = d.sibling(-1)
    if previous is not None and previous.has_type:
        d.chosen.insert(0, previous)
        return [previous]
    return []


def announces(sentence: Sentence) -> bool:
    """Whether the sentence announces a set of what the question asks about
    ("... has a number of advantages", "... in two phases") without listing it."""
    m = _ANNOUNCES.search(sentence.text.rstrip(" .!"))
    return (
        m is not None
        and len(m.group("rest").split()) <= _ANNOUNCEMENT_TAIL
        and is_term(m.group("noun"), sentence.matched)
    )


def _next_completes(d: Draft) -> list[Sentence]:
    """A lead-in ending with a colon or announcing a set, a missing value, or the
    subject carried on ("This ...", the question's terms again) in few enough
    words to quote both. The members of an announced set may take two sentences."""
    following = _following(d)
    if following is None:
        return []
    best = d.best
    # For "how many", "two phases" is the answer itself, not an announcement.
    if d.q.answer_type not in VALUE_TYPES and announces(best):
        added = [following]
        after = d.sibling(2) if following.hit is best.hit else None
        if after is not None and len(d.chosen) + 2 <= d.params.max_sentences:
            added.append(after)
        d.chosen.extend(added)
        return added
    joins = (
        best.text.rstrip().endswith(":")
        or (len(d.chosen) == 1 and not best.has_type and following.has_type)
        or (
            len(best.text) + len(following.text) < d.params.continuation_chars
            and (
                bool(_LEANS_BACK.match(following.text)) or bool(following.matched & set(d.weights))
            )
        )
    )
    if joins:
        d.chosen.append(following)
        return [following]
    return []


def author_bio(q: Question, best: Sentence, neighbours: Neighbours) -> Sentence | None:
    """The "Name is a ..." sentence that closes the opinion piece a first-person
    sentence comes from, for a question that asks who."""
    if q.answer_type != "person" or not _FIRST_PERSON.search(best.text):
        return None
    for chunk in reversed(list(neighbours(best.hit.chunk))):
        for index, (start, end) in reversed(list(enumerate(chunk.sentences))):
            text = chunk.text[start:end]
            if _AUTHOR_BIO.match(text) and not _FIRST_PERSON.search(text):
                return Sentence(
                    Hit(chunk, 0.0), best.rank, index, start, end, 0.0, True, 0.0, frozenset()
                )
    return None


def _author_of_opinion(d: Draft) -> list[Sentence]:
    """ "I came up with ...": in an opinion piece the writer is named in the bio at its end."""
    bio = author_bio(d.q, d.best, d.neighbours)
    if bio is None:
        return []
    d.chosen.append(bio)
    return [bio]


def _covers_the_rest(d: Draft) -> list[Sentence]:
    """A sentence elsewhere that covers question terms the chosen ones leave out."""
    added: list[Sentence] = []
    covered = set().union(*(c.matched for c in d.chosen))
    total = sum(d.weights.values())
    for other in d.sentences[1:6]:
        if len(d.chosen) >= d.params.max_sentences:
            break
        gain = sum(d.weights.get(t, 0.0) for t in other.matched - covered)
        if (
            other.key != d.best.key
            and gain >= d.params.join_gain * total
            and other.score >= d.params.join_score_ratio * d.best.score
            and other.text not in {c.text for c in d.chosen}
        ):
            d.chosen.append(other)
            added.append(other)
            covered |= other.matched
    return added


JOINS: tuple[tuple[str, Callable[[Draft], list[Sentence]]], ...] = (
    ("previous sentence holds the value", _previous_holds_value),
    ("next sentence completes", _next_completes),
    ("author of an opinion piece", _author_of_opinion),
    ("another paragraph covers the rest", _covers_the_rest),
)


def join(d: Draft) -> list[Sentence]:
    """Run the rules in order; the chosen sentences, cut to the answer's length."""
    for _, rule in JOINS:
        rule(d)
    while len(" ".join(c.text for c in d.chosen)) > d.params.max_answer_chars and len(d.chosen) > 1:
        d.chosen.pop()
    return d.chosen


def _following(d: Draft) -> Sentence | None:
    """The sentence after the best: in its chunk, else the first of the article's next chunk."""
    best = d.best
    following = d.sibling(1)
    if following is not None or best.index + 1 < len(best.hit.chunk.sentences):
        return following
    article = list(d.neighbours(best.hit.chunk))
    at = next((i for i, c in enumerate(article) if c.id == best.hit.chunk.id), None)
    if at is None or at + 1 >= len(article):
        return None
    chunk = article[at + 1]
    # Windows of one paragraph overlap by a sentence: skip the one already quoted.
    start, end = next(((s, e) for s, e in chunk.sentences if chunk.text[s:e] != best.text), (0, 0))
    if start == end:
        return None
    text = chunk.text[start:end]
    typed = (
        bool(typed_candidates(d.q, text, d.common))
        if d.q.expected_kinds
        else has_value(text, d.q.answer_type, d.q.text)
    )
    return Sentence(Hit(chunk, 0.0), best.rank, 0, start, end, 0.0, typed, 0.0, frozenset())
