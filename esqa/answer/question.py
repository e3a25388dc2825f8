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
            r"^\s*(?:who|whom|whose)\b|\bwhich\s+(?:person|official|minister|executive|"
            r"leader|expert|professor|panelist|president)\b|\bwho\b",
        ),
        (
            "definition",
            r"^\s*what\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?[\w'’ -]+\??\s*$"
            r"|\bwhat\s+does\s+.+\s+mean\b|\bdefine\b|\bmeaning\s+of\b",
        ),
    )
)


@dataclass(frozen=True)
class Question:
    text: str
    answer_type: str
    ordinal: int | None = None  # 1-based, -1 for "last"; set for "the fourth pillar"
    ordinal_noun: str | None = None
    acronym: str | None = None  # set for "what does METI stand for"


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
    if ordinal is not None:
        return Question(text, answer_type, ordinal=ordinal[0], ordinal_noun=ordinal[1])
    return Question(text, answer_type)
