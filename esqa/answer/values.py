"""Does a sentence hold a value of the type a question expects?

Surface patterns, not a tagger: they only need to tell "On December 15" from
a sentence with no date, as one signal among several for the composer.
"""

from __future__ import annotations

import re

from esqa.ingest.boilerplate import MONTHS

# Full names, then the abbreviations of those longer than four letters ("Jan.", "Sept.").
_MONTH = (
    "(?:"
    + "|".join([*MONTHS, *(rf"{m[:3]}\." for m in MONTHS if len(m) > 4 and m[:3] != "Sep")])
    + r"|Sept?\.)"
)
_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|trillion|dozens?|half|a third|a quarter)"
)
_CAPITAL_WORD = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_ORG_WORD = (
    r"(?:Corp\.?|Corporation|Inc\.?|Ltd\.?|Co\.|Company|Group|Agency|Ministry|Organi[sz]ation|"
    r"Institute|Foundation|Bank|University|Association|Council|Commission|Party|Department|Office|"
    r"Bureau|Forum|Fund|Authority|Administration|Directorate|Secretariat|Times|News|Holdings|"
    r"Industries|Systems|Center|Centre|Committee|Union)"
)

# A date given as a distance from another ("two weeks later", "1 month later",
# "between 100 and 840 y ago"): the answer to "when" as often as a calendar date.
_UNITS = r"(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|centuries|century|y)"
RELATIVE_DATE = re.compile(
    rf"(?i:\b(?:between\s+|about\s+|around\s+|nearly\s+|almost\s+|some\s+)?"
    rf"(?:\d[\d,.]*|{_NUMBER_WORD}|a|an|several|a few|a couple of)"
    rf"(?:\s*(?:and|to|-|–)\s*(?:\d[\d,.]*|{_NUMBER_WORD}))?"
    rf"\s+{_UNITS}\s+(?:ago|later|earlier)\b)"
)
# Calendar dates and named times; `PATTERNS["date"]` adds the relative ones.
ABSOLUTE_DATE = (
    rf"\b{_MONTH}(?:\s+\d{{1,2}})?\b|\b\d{{1,2}}\s+{_MONTH}|\b(?:1[89]|20)\d{{2}}s?\b|"
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
    r"\b(?:yesterday|today|tomorrow|last|next|this)\s+(?:week|month|year)\b|\bfiscal\s+\d{4}\b|"
    r"\b(?:in|this|next|last|by|early|late|mid)[- ](?:the\s+)?(?:spring|summer|autumn|fall|winter)\b|"
    r"\b(?:first|second|third|fourth|last)\s+(?:quarter|half)\b|"
    r"\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
)

PATTERNS: dict[str, re.Pattern[str]] = {
    "percentage": re.compile(
        r"\d\s?%|\b\d+(?:\.\d+)?\s?(?:percent|per cent)\b|\bpercentage points?\b"
    ),
    "money": re.compile(
        r"[$¥€£]\s?\d|\b\d[\d,.]*\s?(?:dollars|yen|euros?|pounds|yuan|won|rupees)\b|"
        r"\b(?:US|U\.S\.)?\$|\b\d[\d,.]*\s?(?:million|billion|trillion)\s+(?:dollars|yen|euros?)\b"
    ),
    "date": re.compile(f"{ABSOLUTE_DATE}|{RELATIVE_DATE.pattern}"),
    "number": re.compile(rf"\b\d[\d,.]*\b|\b{_NUMBER_WORD}\b", re.IGNORECASE),
    "person": re.compile(
        rf"\b{_CAPITAL_WORD}\s+(?:[A-Z]\.\s+)?{_CAPITAL_WORD}\b(?!\s+{_ORG_WORD})|"
        r"\b(?:Mr|Mrs|Ms|Dr|Prof)\.?\s+[A-Z]|\b(?:said|says|told|according to)\s+[A-Z][a-z]+"
    ),
    "organisation": re.compile(
        rf"\b(?:[A-Z][\w&'-]+\s+(?:(?:of|for|and|the)\s+)?){{1,6}}{_ORG_WORD}|\b[A-Z]{{3,}}\b"
    ),
    "place": re.compile(
        rf"\b(?:in|at|from|to|near|off)\s+(?:the\s+)?{_CAPITAL_WORD}(?:\s+{_CAPITAL_WORD})*"
    ),
    "list": re.compile(r"(?:[^,;]+[,;]){2,}|\b\w+,\s+\w+,?\s+and\s+\w+"),
    "reason": re.compile(
        r"\b(?:because|due to|owing to|following|after|as a result|in order to|so that|"
        r"to (?:evaluate|address|discuss|ensure|prevent|protect|secure|reduce|respond)|amid|"
        r"since|retaliation|in response to|aim(?:ing|ed|s)? to|driven by|prompted)\b",
        re.IGNORECASE,
    ),
    "definition": re.compile(
        r"\b(?:is|are|was|refers? to|means|stands? for|defined as|known as|called|termed?)\b"
    ),
}


_NAME_RUN = re.compile(r"\b[A-Z][\w'’-]+(?:\s+(?:[A-Z]\.\s+)?[A-Z][\w'’-]+)+")
_TITLES = {
    "prime", "minister", "president", "secretary", "general", "ambassador", "professor",
    "director", "chief", "deputy", "senior", "chairman", "chair", "governor", "mayor",
    "senator", "dr", "mr", "mrs", "ms", "prof", "the", "foreign", "finance", "defense",
}  # fmt: skip
_ORG_WORDS = re.compile(_ORG_WORD + r"$")
_WORD = re.compile(r"[\w'’-]+")


def _names(sentence: str) -> list[list[str]]:
    """Runs of 2-4 capitalised words that may be a person's name (titles removed)."""
    names = []
    for run in _NAME_RUN.finditer(sentence):
        if re.search(r"\b(?:of|for)\s+$", sentence[max(0, run.start() - 5) : run.start()]):
            continue  # inside an organisation's name: "Promotion of Economic Security"
        words = [re.sub(r"['’]s$", "", w) for w in _WORD.findall(run.group())]
        while words and words[0].lower() in _TITLES:
            words.pop(0)
        if 2 <= len(words) <= 4 and not any(_ORG_WORDS.match(w) for w in words):
            names.append(words)
    return names


def has_value(sentence: str, answer_type: str, given: str = "") -> bool:
    """Whether the sentence holds something of the expected answer type that
    is not already in `given` (the question: an answer must add something).

    Types without a pattern ("other", "acronym") accept every sentence.
    """
    if answer_type == "person":
        known = {w.casefold() for w in _WORD.findall(given)}
        return any(any(w.casefold() not in known for w in name) for name in _names(sentence))
    if answer_type == "definition":
        return _defines(sentence, given)
    pattern = PATTERNS.get(answer_type)
    if pattern is None:
        return True
    if answer_type in ("organisation", "place") and given:
        text = given.casefold()
        return any(m.group().casefold() not in text for m in pattern.finditer(sentence))
    return bool(pattern.search(sentence))


_DEFINED = re.compile(
    r"^\s*what\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?P<term>.+?)\s*\??\s*$", re.IGNORECASE
)
# What follows a term that a sentence defines: "EGR1 is a ...", "CHIKV, an arbovirus,".
_DEFINES = (
    r"(?:\s*\([^)]{1,60}\))?\s*(?:,\s*(?:an?|the)\s|(?:is|are|was|were)\s+(?:an?|the|one)\s"
    r"|(?:are|were)\s+(?!not\b|also\b|used\b|found\b|being\b)[a-z]"
    r"|refers?\s+to\b|means\b|stands?\s+for\b|(?:is|are)\s+(?:defined|known)\s+as\b)"
)


# What names a term it defines from before: "a response called the interferon pathway".
_NAMES_IT = r"\b(?:called|termed|named|known\s+as|referred\s+to\s+as)"


def _defines(sentence: str, question: str) -> bool:
    """Whether the sentence defines what "what is X?" asks about ("X is a ...")."""
    m = _DEFINED.match(question)
    if m is None:
        return bool(PATTERNS["definition"].search(sentence))
    term = r"\s+".join(re.escape(w) for w in m.group("term").split())
    return (
        re.search(rf"(?<!\w){term}(?!\w){_DEFINES}", sentence, re.IGNORECASE) is not None
        or re.search(rf"{_NAMES_IT}\s+(?:the\s+)?{term}(?!\w)", sentence, re.IGNORECASE) is not None
    )
