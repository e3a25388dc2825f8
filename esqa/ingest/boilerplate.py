"""Classifying the lines of a scraped news page.

Scraped pages mix the article with the page around it: cookie banners, app
promotions, image credits, tag lists, bylines with glued dates. These rules
recognise such lines by their shape and by vocabulary that is common to web
pages in general (several languages), never by the text of particular files.
The context rules that need neighbouring lines live in `esqa.ingest.pages`.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from dataclasses import dataclass
from enum import Enum


class LineKind(Enum):
    BLANK = "blank"
    BOILERPLATE = "boilerplate"  # never indexed
    CREDIT = "credit"  # image credit; the line next to it is a caption
    CAPTION = "caption"  # set by esqa.ingest.pages, which sees the neighbouring credit
    TAGS = "tags"  # short bullet items: section and tag lists
    DATELINE = "dateline"  # a date or relative time, maybe glued to a publisher
    RELATED = "related"  # "Related Articles": what follows are teasers of other articles
    TEXT = "text"


@dataclass(frozen=True)
class Dateline:
    publisher: str | None
    published: str | None  # ISO date, None for relative times ("12 minutes ago")


# Characters that render as nothing or as a space; a line of them is blank.
_INVISIBLE = "\u00a0\u200b\u200c\u200d\u2060\ufeff\t "

_TERMINAL = re.compile(r"[.!?…:;][\"'”’»)\]]*$")

_WORD = re.compile(r"\w+")

_BULLET = re.compile(r"^\s*[•·▪◦‣∙●○■□►▶–—*-]\s*\S")

_RELATIVE_TIME = re.compile(
    r"^(?:time|updated|posted|published)?\s*:?\s*"
    r"(?:\d+|an?|one)\s+(?:second|sec|minute|min|hour|hr|day|week|month|year)s?\s+ago$",
    re.IGNORECASE,
)

# English month names, for datelines here and dates in answers (`esqa.answer.values`).
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_MONTHS = {m.lower(): i + 1 for i, m in enumerate(MONTHS)}
_MONTH_NAMES = "|".join(list(_MONTHS) + [m[:3] for m in _MONTHS] + ["sept"])

# A date at the end of a short line, possibly glued to the text before it:
# "Japan Times16-06-2025", "time05-05-2025", "Reuters, May 5, 2025".
_GLUED_DATE = re.compile(
    r"^(?P<prefix>.*?)\s*[,|·•-]?\s*(?P<date>"
    r"(?P<d1>\d{1,2})[-./](?P<m1>\d{1,2})[-./](?P<y1>\d{4})"
    r"|(?P<y2>\d{4})-(?P<m2>\d{2})-(?P<d2>\d{2})"
    rf"|(?P<mn3>{_MONTH_NAMES})\.?\s+(?P<d3>\d{{1,2}}),?\s+(?P<y3>\d{{4}})"
    rf"|(?P<d4>\d{{1,2}})\s+(?P<mn4>{_MONTH_NAMES})\.?,?\s+(?P<y4>\d{{4}})"
    r")$",
    re.IGNORECASE,
)

# Words that mark an image credit, in the languages scraped pages come in:
# "Photo: ...", "Courtesy of ...", "Bilde generert av AI", "AI:n luoma kuva".
_CREDIT_START = re.compile(
    r"^(?:courtesy of|photo(?:graph)?s?\s*(?:by|:|credit)|image\s*(?:by|:|credit)|"
    r"illustration\s*(?:by|:)|credit\s*:|foto\s*:|bild\s*:|kuva\s*:|©|\(c\)\s|getty images|"
    r"source\s*:\s*(?:getty|reuters|ap|afp))",
    re.IGNORECASE,
)
_MACHINE_CREDIT = re.compile(
    r"\b(?:generated|generert|generiert|genererad|genereret|g[ée]n[ée]r[ée]e?|generad[ao]|"
    r"generat[ao]|luoma|rapportert|raportoinut|reported|rapporterad|berichtet|written|skrevet)\b",
    re.IGNORECASE,
)
_AI_WORD = re.compile(r"\bA\.?I\b(?::n)?|\bKI\b|\bIA\b")

# Cookie and consent banners. A cookie word alone could be news ("EU cookie
# law"), so it must come with the site talking about itself, or be short.
_COOKIE = re.compile(
    r"cookie|informasjonskapsl|evästei|\bkakor\b|\bkagerne?\b|tietosuoj|personvern|datenschutz",
    re.IGNORECASE,
)
_SITE_USES_COOKIES = re.compile(
    r"\b(?:use|uses|using|bruker|käyttää|käytämme|verwendet|verwenden|utilise|utilisons|"
    r"använder|bruger|usa|usamos)\s+(?:\w+\s+)?(?:cookie|informasjonskapsl|evästei|kakor)",
    re.IGNORECASE,
)

# The shapes of an app promotion, not any mention of app stores (which is news).
_APP_PROMO = re.compile(
    r"\bdownload\s+(?:the\s+|our\s+)?(?:[\w-]+\s+)?app\b|app[- ]?store\s*play[- ]?store|"
    r"\b(?:available|get it) on (?:the )?(?:app store|google play)\b|\bpreferred app store\b",
    re.IGNORECASE,
)

_TAG_LINE = re.compile(
    r"^(?:#\S*|(?:#\w+\s*)+|(?:latest|more) (?:news|stories|articles) (?:with|on|about|tagged) .*|"
    r"(?:related )?(?:tags?|topics?|categories)\s*(?::.*)?)$",
    re.IGNORECASE,
)

_RELATED = re.compile(
    r"^(?:related(?: articles?| stories| news| posts| content| coverage| reading)?|"
    r"relaterte artikler|relaterade artiklar|relaterede artikler|liittyvät artikkelit|"
    r"lue myös|les også|läs också|læs også|verwandte artikel|ähnliche artikel|mehr zum thema|"
    r"articles? (?:connexes|liés|similaires)|à lire aussi|artículos relacionados|"
    r"articoli correlati|gerelateerde artikelen|see also|you may also like|"
    r"recommended(?: for you| stories| articles)?|more from [\w ]+|more stories|more news)\s*:?$",
    re.IGNORECASE,
)

_DECORATIVE_IMAGE = re.compile(r"^\w+ (?:background|banner|image|icon|placeholder)$", re.IGNORECASE)


def _normalise_label(line: str) -> str:
    return " ".join(re.sub(r"[^\w\s#&'’]", " ", line.casefold()).split())


# Short lines that are page furniture: labels of buttons, widgets and consent
# banners, compared after case-folding and dropping punctuation.
_LABELS = frozenset(
    {
        " ".join(phrase.split())
        for phrase in (
            "logo|menu|search|share|print|email|comments|comment|advertisement|advertising|"
            "sponsored|subscribe|newsletter|sign in|log in|login|sign up|register|"
            "skip to content|skip to main content|back to top|next|previous|close|read more|"
            "show more|load more|see more|follow us|no comments yet|be the first to comment|"
            "leave a comment|add a comment|view comments|accept|reject|decline|agree|ok|okay|"
            "settings|manage preferences|manage cookies|accept all|reject all|cookie settings|"
            "avvis|godta|godta alle|hylkää|hyväksy|hyväksy kaikki|ablehnen|akzeptieren|"
            "alle akzeptieren|refuser|accepter|tout accepter|neka|acceptera|twitter|facebook|"
            "linkedin|whatsapp|telegram|instagram|youtube|try our ai features|"
            "listen to this article|listen|audio|video|photo gallery|get started now"
        ).split("|")
    }
)


# Labels are a few words ("be the first to comment"): a longer line is none, and
# normalising a paragraph of megabytes only to compare it with them would cost.
_LABEL_MAX_CHARS = 200


def word_count(text: str, at_most: int | None = None) -> int:
    """The number of words; with `at_most`, at most `at_most + 1`, so that
    `word_count(t, n) <= n` exactly when t has n words or fewer. The rules only
    compare counts with a few dozen, and a scraped line can be megabytes long."""
    if at_most is None:
        return len(_WORD.findall(text))
    return sum(1 for _ in itertools.islice(_WORD.finditer(text), at_most + 1))


def ends_sentence(text: str) -> bool:
    """True when the text ends like a sentence or a lead-in (".", "?", ":" ...)."""
    return bool(_TERMINAL.search(text.rstrip(_INVISIBLE)))


# No dateline is longer ("Japan Times, Updated: September 16, 2025 09:41 JST" is
# 51). Matching `_GLUED_DATE` costs about 1.5 us per character, and a line of
# twelve words can be megabytes long (a page scraped without spaces).
DATELINE_MAX_CHARS = 200


def parse_dateline(line: str) -> Dateline | None:
    """Recognise a date line; returns the publisher glued in front, if any."""
    text = line.strip(_INVISIBLE)
    if len(text) > DATELINE_MAX_CHARS:
        return None
    if _RELATIVE_TIME.match(text):
        return Dateline(None, None)
    m = _GLUED_DATE.match(text)
    if m is None:
        return None
    prefix = m.group("prefix").strip(" ,|·•-").rstrip(":").strip()
    if word_count(prefix, 5) > 5 or ends_sentence(prefix):
        return None  # a sentence that happens to end with a date, not a dateline
    published = _iso_date(m)
    if published is None:
        return None
    generic = ("", "time", "date", "updated", "posted", "published")
    publisher = None if prefix.casefold() in generic else prefix
    return Dateline(publisher, published)


def _iso_date(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    try:
        if g["d1"]:
            day, month, year = int(g["d1"]), int(g["m1"]), int(g["y1"])
            if month > 12 >= day:  # month-first (US) order: 06-16-2025
                day, month = month, day
        elif g["y2"]:
            year, month, day = int(g["y2"]), int(g["m2"]), int(g["d2"])
        else:
            name = (g["mn3"] or g["mn4"]).casefold().rstrip(".")
            month = next(v for k, v in _MONTHS.items() if k.startswith(name[:3]))
            day, year = int(g["d3"] or g["d4"]), int(g["y3"] or g["y4"])
        return _dt.date(year, month, day).isoformat()
    except (ValueError, StopIteration):
        return None


def classify_line(line: str) -> LineKind:
    """Classify one line on its own; see `esqa.ingest.pages` for rules that need context."""
    text = line.strip(_INVISIBLE)
    if not text:
        return LineKind.BLANK
    words = word_count(text, 40)  # compared with 40 at most, below
    label = _normalise_label(text) if len(text) <= _LABEL_MAX_CHARS else ""
    if label in _LABELS or _DECORATIVE_IMAGE.match(text) or not _WORD.search(text):
        return LineKind.BOILERPLATE
    if _RELATED.match(text):
        return LineKind.RELATED
    if words <= 12 and (
        _CREDIT_START.match(text) or (_AI_WORD.search(text) and _MACHINE_CREDIT.search(text))
    ):
        return LineKind.CREDIT
    if _BULLET.match(line) and words <= 4 and not ends_sentence(text):
        return LineKind.TAGS
    if words <= 12 and parse_dateline(text) is not None:
        return LineKind.DATELINE
    # The cheap word count goes first: a long paragraph is scanned once, not three times.
    if (words <= 12 or _SITE_USES_COOKIES.search(text)) and _COOKIE.search(text):
        return LineKind.BOILERPLATE
    if words <= 40 and _APP_PROMO.search(text):
        return LineKind.BOILERPLATE
    if words <= 12 and _TAG_LINE.match(text):
        return LineKind.BOILERPLATE
    return LineKind.TEXT
