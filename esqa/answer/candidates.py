"""Candidate answers: the phrases of a sentence that could be what a question asks for.

A factoid question names the kind of thing it wants: a person ("who"), a place
("where", "which state"), a date, an amount, or a class of its own ("which
team", "what variant": the question's focus noun). This module finds, in one
sentence, the phrases of those kinds, with their offsets, so that the
composer can weigh each phrase by the sentences that support it and show it.

Surface patterns, not a trained tagger: numbers, amounts, percentages and
dates have regular shapes, and names are runs of capitalised words, typed by
what stands inside and around them ("Ministry of ...", "Dr. ...", "in ...",
quotation marks). The README ("Candidate answers") says why no tagger is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from esqa.answer.values import ABSOLUTE_DATE, RELATIVE_DATE

KINDS = (
    "person", "organisation", "place", "work", "date", "number", "money", "percentage", "name",
    "location",
)  # fmt: skip
VALUE_KINDS = frozenset({"date", "number", "money", "percentage"})
ENTITY_KINDS = frozenset({"person", "organisation", "place", "work", "name"})


@dataclass(frozen=True)
class CandidateAnswer:
    """A phrase of a sentence that may answer a question: offsets into the sentence."""

    text: str
    start: int
    end: int
    kind: str  # one of KINDS

    @property
    def key(self) -> str:
        """What two mentions of the same answer have in common ("the Rays" ~ "Rays")."""
        text = re.sub(r"^(?:the|a|an)\s+", "", self.text.casefold())
        return " ".join(re.sub(r"['’]s\b", "", text).split())


# Words that name the kind of a name. They are English grammar and common
# title words, not the words of any corpus.
_ORG_HEADS = (
    r"Corp\.?|Corporation|Inc\.?|Ltd\.?|Co\.|Company|Group|Agency|Ministry|Organi[sz]ation|"
    r"Institute|Institution|Foundation|Bank|University|College|School|Association|Council|"
    r"Commission|Party|Department|Office|Bureau|Forum|Fund|Authority|Administration|"
    r"Directorate|Secretariat|Times|News|Post|Journal|Holdings|Industries|Systems|Center|Centre|"
    r"Committee|Union|Club|Team|League|Federation|Society|Board|Service|Services|Network|"
    r"Laboratory|Laboratories|Hospital|Court|Congress|Parliament|Senate|Army|Navy|Force|Airlines"
)
# The head word anywhere in the name: "Bank of Japan", "Japan Organization for Metals".
_ORG_HEAD = re.compile(rf"\b(?:{_ORG_HEADS})(?![\w])")
_ORG_FIRST = re.compile(r"^(?:Ministry|University|Department|Bank|Institute|Office|Bureau)\s+of\b")
_PERSON_TITLE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Sir|Dame|St)\.?|\b(?:President|Prime Minister|"
    r"Minister|Secretary|Chancellor|Senator|Governor|Mayor|King|Queen|Prince|Princess|Judge|"
    r"Justice|Professor|Director|Chairman|Chairwoman|Chair|CEO|Coach|Captain|Pope|Ambassador|"
    r"Representative|General|Colonel|Chief|Commissioner|Speaker)\b)\s*$"
)
_OPENS = re.compile(r"[:;“\"(\[]\s*$|[.!?]\s+$")
_TITLE_WORD = re.compile(
    r"Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Sir|Dame|President|Prime|Minister|Secretary|General|"
    r"Chancellor|Senator|Governor|Mayor|Judge|Justice|Professor|Director|Chairman|Chairwoman|"
    r"Chair|Coach|Captain|Ambassador|Deputy|Vice|Chief|Commissioner|Speaker|Executive|Senior"
)
_SAYS_AFTER = re.compile(r"^\s*(?:,\s*(?:who|a|an|the)\b|said\b|says\b|told\b|added\b|wrote\b)")
_PLACE_BEFORE = re.compile(
    r"\b(?:in|at|from|near|across|throughout|outside|inside|to|into|toward|towards|of)\s+(?:the\s+)?$"
)
# A place named by a common noun: "replicate in the mucosa of the nasopharynx",
# "localizes to the nucleus", "held at a rally". Only prepositions of place
# start one; "to", "into" and "from" need an article, as they also start
# infinitives and ranges ("to protect", "from 2 to 5"). The phrase runs over
# lower-case words and "of" to the first function word or punctuation.
_PLACE_PREPOSITIONS = (
    "in", "within", "inside", "at", "on", "throughout", "across", "among", "near", "along",
    "beneath", "around",
)  # fmt: skip
_ARTICLE_PREPOSITIONS = ("to", "into", "onto", "from")  # need an article to start a place
_LOCATIVE = re.compile(
    rf"\b(?:(?:{'|'.join(_PLACE_PREPOSITIONS)})\s+(?:the\s+|an?\s+)?"
    rf"|(?:{'|'.join(_ARTICLE_PREPOSITIONS)})\s+(?:the|an?)\s+)(?=[a-z])"
)
_PHRASE_WORD = re.compile(r"[a-z][\w-]*")
_SPACES = re.compile(r" +")
# A phrase ends where another begins ("the nucleus | within hours").
_PREPOSITIONS = frozenset(
    _PLACE_PREPOSITIONS + _ARTICLE_PREPOSITIONS
    + ("with", "without", "for", "by", "during", "after", "before", "until", "since", "via",
       "through", "over", "under", "between")
)  # fmt: skip
_LOCATIVE_WORDS = 6
# Fixed phrases of English that start like a place and name none.
_NOT_A_PLACE = frozenset(
    {"addition", "order", "contrast", "particular", "fact", "general", "part", "turn", "response",
     "least", "most", "present", "first", "times", "average", "total", "case", "terms", "time",
     "place", "detail", "practice", "principle", "short", "brief", "summary", "conclusion"}
)  # fmt: skip
_CALENDAR = re.compile(
    r"^(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)$"
)
# A run of capitalised words, joined by the small words that names hold
# ("Bank of Japan", "Trinidad and Tobago"), possessives kept out.
_NAME_RUN = re.compile(
    r"(?<![\w'’])(?:[A-Z][\w.&'’-]*|[A-Z]{2,}\d*)"
    r"(?:\s+(?:(?:of|and|for|the|de|da|van|von|del|la|le|du|&)\s+)*(?:[A-Z][\w.&'’-]*|\d+))*"
)
_QUOTED = re.compile(r"[“\"](?P<title>[A-Z][^“”\"]{1,80}?)[”\"]")
_VALUE_ORDER = ("money", "percentage", "date", "number")
# A number that is part of a name or a label, not a quantity ("COVID-19", "H1N1").
_GLUED = re.compile(r"[A-Za-z]-?$")
# A reference or an item label, not a quantity: "[6]", "[6, 18-20]", "(1)".
_REFERENCE = re.compile(r"\[\s*\d[\d,;\s–-]*\]|\(\s*\d{1,2}\s*\)")
# ... or that opens one ("2019-nCoV"): a hyphen, then a word with a capital.
_OPENS_NAME = re.compile(r"-[a-z]*[A-Z]")


def _trim_name(
    sentence: str,
    start: int,
    end: int,
    common: Callable[[str], bool],
    ordinary: Collection[str],
) -> tuple[int, int]:
    """Drop function words and possessive endings at the edges of a name run.

    A run that opens the sentence (or a clause after a colon, a quotation mark
    or a bracket) is capitalised whatever its first word is: that word goes
    too when the text also writes it in lower case (`ordinary`: "We", "Our").
    """
    text = sentence[start:end]
    words = list(re.finditer(r"\S+", text))
    first = 0
    opens = not sentence[:start].strip() or bool(_OPENS.search(sentence[:start]))
    while first < len(words) and (
        common(words[first].group()) or (opens and words[first].group().lower() in ordinary)
    ):
        first += 1
    # A person's title is not part of the name ("Secretary General Yasutaka Nakasone").
    while first < len(words) - 1 and _TITLE_WORD.fullmatch(words[first].group().rstrip(".")):
        first += 1
    last = len(words)
    while last > first and words[last - 1].group().casefold() in {"of", "and", "for", "the", "&"}:
        last -= 1
    if first >= last:
        return start, start
    new_start, new_end = start + words[first].start(), start + words[last - 1].end()
    piece = sentence[new_start:new_end]
    piece = re.sub(r"(?:['’]s?|[.,;:])+$", "", piece)
    return new_start, new_start + len(piece)


def _name_kind(sentence: str, start: int, end: int) -> str:
    text = sentence[start:end]
    words = text.split()
    before, after = sentence[max(0, start - 40) : start], sentence[end : end + 20]
    if _ORG_HEAD.search(text) or _ORG_FIRST.match(text):
        return "organisation"
    if len(words) == 1 and re.fullmatch(r"[A-Z]{2,}\d*", words[0]):
        return "organisation"  # an acronym: most name an organisation or a programme
    if _PERSON_TITLE.search(before):
        return "person"
    # Two to four capitalised words are a person's name only with a sign of
    # one ("..., a senior fellow", "said", "by ..."); else just a name.
    if 2 <= len(words) <= 4 and all(w[0].isupper() for w in words):
        if _SAYS_AFTER.match(after) or re.search(r"\b(?:by|with|said)\s+$", before):
            return "person"
    if _PLACE_BEFORE.search(before):
        return "place"
    return "name"


def extract(
    sentence: str,
    common: Callable[[str], bool] = lambda w: False,
    kinds: frozenset[str] | None = None,
    ordinary: Collection[str] = frozenset(),
) -> list[CandidateAnswer]:
    """Every candidate answer in the sentence, left to right, none overlapping.

    `common` tells a function word ("The", "In") from a content word, so that a
    capitalised first word of a sentence is not taken for a name; the composer
    passes its analyser's stop words; `ordinary` holds the words the passages
    write in lower case (see `_trim_name`). `kinds` limits the search to those kinds
    (names are typed only after they are found, so any entity kind finds all names).
    """
    kinds = frozenset(KINDS) if kinds is None else kinds
    taken: list[tuple[int, int]] = []
    out: list[CandidateAnswer] = []

    def free(a: int, b: int) -> bool:
        return a < b and all(b <= s or a >= e for s, e in taken)

    def add(a: int, b: int, kind: str) -> None:
        if free(a, b):
            taken.append((a, b))
            out.append(CandidateAnswer(sentence[a:b], a, b, kind))

    names = bool(kinds & ENTITY_KINDS)
    if "date" in kinds:
        # Before the numbers: "1 month later" is a date, not the number 1. Only
        # when a date is asked for: "how many days later" wants the number.
        for m in RELATIVE_DATE.finditer(sentence):
            add(m.start(), m.end(), "date")
    if names:
        for m in _QUOTED.finditer(sentence):
            add(m.start("title"), m.end("title"), "work")
    taken.extend(m.span() for m in _REFERENCE.finditer(sentence))
    for kind in _VALUE_ORDER:
        # Every value kind is looked for when one is, so that "$5 million" is
        # never taken for the number 5.
        if kinds & VALUE_KINDS or names:
            for a, b in _value_spans(sentence, kind):
                if _OPENS_NAME.match(sentence, b):
                    taken.append((a, b))  # part of a name: neither a value nor a name's piece
                else:
                    add(a, b, kind)
    for m in _NAME_RUN.finditer(sentence) if names else ():
        start, end = _trim_name(sentence, m.start(), m.end(), common, ordinary)
        if end <= start:
            continue
        words = sentence[start:end].split()
        if len(words) == 1 and _CALENDAR.match(words[0]):
            continue
        # The first word of a sentence is capitalised whatever it is: a lone
        # one is a name only when it is all capitals ("NASA") or a title follows.
        if start == len(sentence) - len(sentence.lstrip()) and len(words) == 1:
            if not re.fullmatch(r"[A-Z]{2,}\d*", words[0]):
                continue
        add(start, end, _name_kind(sentence, start, end))
    if "location" in kinds:
        for a, b in _locative_spans(sentence, common):
            add(a, b, "location")
    out.sort(key=lambda c: c.start)
    return out


def _locative_spans(sentence: str, common: Callable[[str], bool]) -> Iterable[tuple[int, int]]:
    """The objects of the locative phrases of a sentence ("the nucleus" of "to the
    nucleus"): lower-case words, "of the" between them, up to the first function
    word or punctuation ("infected cells" of "in infected cells and ...")."""
    for m in _LOCATIVE.finditer(sentence):
        start = end = m.end()
        at, words, after_of = start, 0, False
        while words < _LOCATIVE_WORDS:
            w = _PHRASE_WORD.match(sentence, at)
            if w is None:
                break
            word = w.group()
            if word == "of" or (word == "the" and after_of):
                after_of = word == "of"
            elif common(word) or word in _PREPOSITIONS or (not words and word in _NOT_A_PLACE):
                break
            else:
                end, after_of, words = w.end(), False, words + 1
            gap = _SPACES.match(sentence, w.end())
            if gap is None:
                break
            at = gap.end()
        if end > start:
            yield start, end


# A quantity: the number with its scale word and, for a count, the noun it counts.
_SCALE = r"(?:\s+(?:hundred|thousand|million|billion|trillion)|\s?(?:k|m|bn|mn)\b)?"
_NUMBER = re.compile(
    r"(?<![\w.])(?:(?:about|around|over|under|nearly|almost|more than|less than|at least|"
    r"up to|some|roughly)\s+)?\d[\d,]*(?:\.\d+)?" + _SCALE + r"(?:\s*[-–]\s*\d[\d,]*(?:\.\d+)?)?"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|a hundred|a thousand|dozens|hundreds|thousands|millions)\b" + _SCALE,
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"(?:[$¥€£₹]|\b(?:US|U\.S\.|A|C|HK|NZ)\$|\bUSD\s?|\bEUR\s?)\s?\d[\d,]*(?:\.\d+)?"
    + _SCALE
    + r"|\b\d[\d,]*(?:\.\d+)?"
    + _SCALE
    + r"\s+(?:dollars|yen|euros?|pounds|yuan|won|rupees|francs|pesos|rubles|roubles)\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"\b\d[\d,]*(?:\.\d+)?(?:\s*[-–]\s*\d[\d,]*(?:\.\d+)?)?\s?(?:%|percent\b|per cent\b|percentage points?\b)"
    # A share in words: "one third of", "over half of", "two-thirds of".
    r"|\b(?:(?:about|around|nearly|almost|over|more than|less than|roughly)\s+)?"
    r"(?:(?:one|two|three|a|an)[\s-]+)?(?:half|thirds?|quarters?|fifths?|tenths?)(?=\s+of\b)",
    re.IGNORECASE,
)
_DATE = re.compile(
    ABSOLUTE_DATE
    + r"|\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"
)
_DATE_FULL = re.compile(
    r"\b(?:\d{1,2}\s+)?(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
    r"(?:\s+\d{1,2}(?:st|nd|rd|th)?\b)?(?:,?\s+(?:1[89]|20)\d{2}\b)?"
)


def _value_spans(sentence: str, kind: str) -> Iterable[tuple[int, int]]:
    if kind == "money":
        yield from (m.span() for m in _MONEY.finditer(sentence))
    elif kind == "percentage":
        yield from (m.span() for m in _PERCENT.finditer(sentence))
    elif kind == "date":
        # The full form first ("June 30, 2017"), then the shorter patterns.
        yield from (m.span() for m in _DATE_FULL.finditer(sentence) if m.group().strip())
        yield from (m.span() for m in _DATE.finditer(sentence))
    else:
        for m in _NUMBER.finditer(sentence):
            if m.start() > 0 and _GLUED.search(sentence[max(0, m.start() - 2) : m.start()]):
                continue
            yield m.span()


def given_by(candidate: CandidateAnswer, question: str) -> bool:
    """Whether the question already holds the candidate: then it is not an answer.

    Compared word by word, case and possessives ignored: "Japan" is given by
    "What did Japan's cabinet approve?", "Bank of Japan" is not.
    """
    words = set(re.findall(r"[\w]+", re.sub(r"['’]s\b", "", question.casefold())))
    mine = re.findall(r"[\w]+", candidate.key)
    return bool(mine) and all(w in words for w in mine)
