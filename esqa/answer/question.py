"""Question analysis: what kind of answer a question expects, from its words.

The expected answer type steers the composer towards sentences that hold a
value of that type (a date for "when", a percentage for "what share").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from esqa.answer.enumerations import parse_ordinal

ANSWER_TYPES = (
    "person", "organisation", "place", "date", "number", "percentage", "money",
    "list", "definition", "reason", "acronym", "other",
)  # fmt: skip

# Keywords match in any case, the acronym only in capitals ("METI", "U.S.").
_ACRONYM_Q = re.compile(
    r"(?i:\bwhat\s+(?:does|do|did|is|are)\s+(?:the\s+)?(?:acronym\s+|abbreviation\s+)?)"
    r"(?P<short>[A-Z][A-Z0-9&.]{1,9})(?i:\s+(?:stand\s+for|mean|short\s+for))\b"
    r"|(?i:\b(?:full\s+(?:form|name)|expansion|long\s+form)\s+of\s+(?:the\s+)?)"
    r"(?P<short2>[A-Z][A-Z0-9&.]{1,9})\b"
    r"|(?i:\bwhat\s+is\s+)(?P<short3>[A-Z]{2,8})\s*\??$",
)

# Ordered: the first rule that matches decides.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        (
            "percentage",
            r"\b(?:what|which)\s+(?:share|percentage|proportion|percent|fraction|portion)\b"
            r"|\bwhat\s+(?:is|was|are|were)\s+the\s+(?:share|percentage|proportion|fraction)\s+of\b"
            r"|\bhow\s+much\s+of\b|\bwhat\s+per\s*cent",
        ),
        (
            "money",
            r"\bhow\s+much\s+(?:money|funding|did|does|will|was|is)\b.*\b(?:cost|spend|spent|"
            r"invest|fund|pay|paid|worth|budget|support|commit)|\bhow\s+much\s+(?:money|funding)\b"
            r"|\bwhat\s+(?:amount|sum)\b|\bhow\s+much\b.*\b(?:yen|dollars?|euros?)\b",
        ),
        (
            "date",
            r"^\s*when\b|\b(?:what|which)\s+(?:year|date|day|month|time)\b|\bsince\s+when\b"
            r"|\bwhat\s+(?:is|was|are|were)\s+the\s+(?:year|date|day|month)\s+(?:of|when|on|in|that)\b"
            r"|\bhow\s+long\s+ago\b",
        ),
        (
            "number",
            r"\bhow\s+(?:many|much|large|big|long|far|old)\b|\bwhat\s+(?:number|count|size)\b"
            r"|\bnumber\s+of\b",
        ),
        (
            "reason",
            r"^\s*why\b|\bfor\s+what\s+reason\b|\bwhat\s+(?:caused|led\s+to|prompted|drove)\b"
            r"|\bhow\s+come\b",
        ),
        (
            "place",
            r"^\s*where\b|\b(?:which|what)\s+(?:country|countries|city|cities|place|region|"
            r"location|island|state|province|venue)\b|\bin\s+which\s+(?:country|city)\b",
        ),
        (
            "list",
            r"\b(?:which|what)\s+(?:\w+\s+)?(?:companies|firms|organi[sz]ations|countries|"
            r"technologies|items|sectors|materials|measures|steps|ways|products|people|members)\b"
            r"|\bwhat\s+are\s+the\b|\blist\b|\bname\s+the\b",
        ),
        (
            "organisation",
            r"\b(?:which|what)\s+(?:\w+\s+)?(?:company|firm|organi[sz]ation|agency|ministry|"
            r"institution|institute|bank|university|body|group|party|department|"
            r"think\s+tank|government|newspaper|publisher|foundation|office|bureau|"
            r"system|law|act|program|programme)\b",
        ),
        (
            "person",
            # "WHO" in capitals is the World Health Organization, not a question word.
            r"(?-i:^\s*(?:[Ww]ho|[Ww]hom|[Ww]hose)\b)|\bwhich\s+(?:person|official|minister|"
            r"executive|leader|expert|professor|panelist|president)\b|(?-i:\bwho\b)",
        ),
        (
            "definition",
            r"^\s*what\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?[\w'’ -]+\??\s*$"
            r"|\bwhat\s+does\s+.+\s+mean\b|\bdefine\b|\bmeaning\s+of\b",
        ),
    )
)


# "Which baseball team's owner ...", "what state has ...": the noun after
# which/what, before the verb, a possessive or a preposition, is the class of
# the answer (its focus). Auxiliaries, prepositions and relative pronouns are
# English grammar; they end the noun phrase after "which", "what" and "how many".
_PHRASE_END = (
    r"\s+(?:is|are|was|were|do|does|did|has|have|had|will|would|can|could|should|may|might|"
    r"must|of|in|on|at|for|to|from|by|with|that|who|which)\b"
)
_NOUN_PHRASE = r"(?P<words>(?:[\w-]+\s+){0,3}?[\w-]+?)"
_FOCUS = re.compile(
    rf"\b(?:which|what)\s+{_NOUN_PHRASE}(?:['’]s\b|{_PHRASE_END}"
    r"|(?P<article>\s+(?:the|a|an)\b)|\s*\?|\s*$)",
    re.IGNORECASE,
)
# "How many genotypes ...": the noun counted is the class of the answer too.
_COUNTED = re.compile(rf"\bhow\s+many\s+{_NOUN_PHRASE}(?:{_PHRASE_END}|\s*\?|\s*$)", re.I)
_VERBS = {
    "is", "are", "was", "were", "be", "do", "does", "did", "has", "have", "had", "will", "would",
    "can", "could", "should", "shall", "may", "might", "must",
}  # fmt: skip
_NOT_FOCUS = _VERBS | {"kind", "kinds", "type", "types", "sort", "the", "a", "an", "of"}
# The kinds of candidate answer each answer type expects (see esqa.answer.candidates).
EXPECTED_KINDS: dict[str, frozenset[str]] = {
    "person": frozenset({"person", "name"}),
    "organisation": frozenset({"organisation", "name"}),
    # A place may be a name ("in Wuhan") or a common noun ("in human urine").
    "place": frozenset({"place", "name", "organisation", "location"}),
    "date": frozenset({"date"}),
    "number": frozenset({"number", "money", "percentage"}),
    "percentage": frozenset({"percentage"}),
    "money": frozenset({"money", "number"}),
}
# Answer types that ask for a value, and for a named entity.
VALUE_TYPES = frozenset({"date", "number", "percentage", "money"})
ENTITY_TYPES = frozenset({"person", "organisation", "place"})
# A focus noun that names no answer type still asks for a name ("which team").
FOCUS_KINDS = frozenset({"name", "organisation", "place", "person", "work"})


@dataclass(frozen=True)
class Question:
    text: str
    answer_type: str
    ordinal: int | None = None  # 1-based, -1 for "last"; set for "the fourth pillar"
    ordinal_noun: str | None = None
    acronym: str | None = None  # set for "what does METI stand for"
    focus: str | None = None  # "team" in "which team's owner ...", lower case
    # "Which team's owner ...": the question names the thing asked for by what
    # belongs to it, so the sentence about the owner need not name the team.
    focus_possessive: bool = False

    @property
    def expected_kinds(self) -> frozenset[str]:
        """The kinds of candidate answer this question asks for; empty for open questions."""
        kinds = EXPECTED_KINDS.get(self.answer_type)
        if kinds is not None:
            return kinds
        if self.focus is not None and self.answer_type in ("other", "organisation"):
            return FOCUS_KINDS
        return frozenset()


def focus_noun(text: str) -> str | None:
    """The noun that names the class of the answer ("which team" -> "team"), if any."""
    return _focus(text)[0]


def _focus(text: str) -> tuple[str | None, bool]:
    """The focus noun, and whether the question gives it as a possessive ("team's")."""
    m = _FOCUS.search(text)
    if m is None:
        counted = _COUNTED.search(text)
        if counted is None:
            return None, False
        # The noun is the first plural ("how many different pathogens"), else
        # the first word ("how many people live there").
        words = [w for w in counted.group("words").lower().split() if w not in _NOT_FOCUS]
        if not words:
            return None, False
        return next((w for w in words if w.endswith("s") and len(w) > 3), words[0]), False
    words = m.group("words").lower().split()
    if words[0] in _VERBS:
        return None, False  # "what is X": X is the topic, not the class of the answer
    possessive = text[m.end("words") : m.end("words") + 1] in ("'", "’")
    if m.group("article") and len(words) >= 2:
        # "Which team won the cup?": the article starts the object of a verb
        # the pattern does not list ("won"); the focus is the noun before it.
        words = words[:-1]
    words = [w for w in words if w not in _NOT_FOCUS]
    return (words[-1], possessive) if words else (None, False)


def analyse(question: str) -> Question:
    """Classify a question by the answer it expects.

    >>> analyse("When was the security clearance law passed?").answer_type
    'date'
    """
    text = " ".join(question.split())
    m = _ACRONYM_Q.search(text)
    if m:
        short = (m.group("short") or m.group("short2") or m.group("short3")).replace(".", "")
        return Question(text, "acronym", acronym=short)
    ordinal = parse_ordinal(text)
    answer_type = next((kind for kind, rule in _RULES if rule.search(text)), "other")
    focus, possessive = _focus(text)
    if ordinal is not None:
        return Question(
            text, answer_type, ordinal[0], ordinal[1], focus=focus, focus_possessive=possessive
        )
    return Question(text, answer_type, focus=focus, focus_possessive=possessive)
