"""Acronyms and their expansions, mined from the corpus at index time.

Two sources, both checked letter by letter against the acronym:

- definitions in parentheses, "Economic Security Promotion Act (ESPA)"
  (the long form before the parenthesis, as in Schwartz & Hearst, 2003);
- capitalised names whose initials spell an acronym that the corpus also uses
  bare: "Ministry of Economy, Trade and Industry" for "METI". Function words
  ("of", "and", "for", "the") may sit inside the name without a letter.

The index keeps, for each acronym, its expansion and where it was seen, so
questions can be matched both ways ("ESPA" <-> "Economic Security Promotion
Act") and "What does JBIC stand for?" can be answered with the expansion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from esqa.types import Chunk

_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,7}s?\b")
_PAREN = re.compile(r"\(([A-Z][A-Za-z0-9&]{1,9})\)")
_FUNCTION_WORDS = {"of", "and", "for", "the", "on", "in", "to", "&", "de", "du", "des", "la"}
# Two-letter words that are not acronyms in running English text.
_NOT_ACRONYMS = {
    "I",
    "A",
    "AM",
    "PM",
    "OK",
    "TV",
    "AN",
    "AS",
    "AT",
    "BE",
    "BY",
    "DO",
    "GO",
    "HE",
    "IF",
    "IN",
    "IS",
    "IT",
    "ME",
    "MY",
    "NO",
    "OF",
    "ON",
    "OR",
    "SO",
    "TO",
    "UP",
    "US",
    "WE",
}


@dataclass(frozen=True)
class Acronym:
    short: str
    long: str  # verbatim from the corpus
    source: str
    chunk: int  # id of a chunk that holds the long form
    defined: bool  # True for "Long Name (ABC)", False when found by initials

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _initials_match(short: str, words: list[str]) -> bool:
    letters = [w[0].upper() for w in words if w.lower() not in _FUNCTION_WORDS]
    return "".join(letters) == short.upper().rstrip("S") or "".join(letters) == short.upper()


def _long_form_before(text: str, end: int, short: str) -> str | None:
    """The run of name words ending at `end` whose initials spell `short`."""
    words = list(re.finditer(r"[\w'’.&-]+", text[max(0, end - 300) : end]))
    offset = max(0, end - 300)
    letters_needed = len(short.rstrip("s"))
    # Try the shortest run that ends right before the parenthesis.
    for first in range(len(words) - 1, -1, -1):
        run = [w.group() for w in words[first:]]
        content = [w for w in run if w.lower() not in _FUNCTION_WORDS]
        if len(content) > letters_needed:
            return None
        if run[0].lower() in _FUNCTION_WORDS:
            continue
        if len(content) == letters_needed and _initials_match(short.rstrip("s"), run):
            start = offset + words[first].start()
            return text[start:end].rstrip(" ,")
    return None


def mine_acronyms(chunks: Iterable[Chunk]) -> dict[str, Acronym]:
    """Acronym -> expansion, from parenthesised definitions and from initials."""
    chunk_list = list(chunks)
    found: dict[str, Acronym] = {}
    bare: set[str] = set()
    for chunk in chunk_list:
        for m in _PAREN.finditer(chunk.text):
            short = m.group(1)
            if not any(c.isupper() for c in short[1:]) and len(short) > 2:
                continue  # "(Reuters)", not an acronym
            long = _long_form_before(chunk.text, m.start(), short)
            if long and short not in found:
                found[short] = Acronym(short, " ".join(long.split()), chunk.source, chunk.id, True)
        bare.update(m.group() for m in _ACRONYM.finditer(chunk.text))
    wanted = {a for a in bare if a not in found and a not in _NOT_ACRONYMS and len(a) >= 3}
    if not wanted:
        return found
    for chunk in chunk_list:
        for letters, name in name_initials(chunk.text):
            if letters in wanted and letters not in found:
                found[letters] = Acronym(letters, name, chunk.source, chunk.id, False)
    return found


def name_initials(text: str) -> Iterable[tuple[str, str]]:
    """(initials, name) for every stretch of every run of capitalised words.

    Any stretch may be the name: "Liberal Democratic Party's Headquarters for
    ..." holds "Liberal Democratic Party" (LDP).
    """
    for run in _capitalised_names(text):
        words = list(re.finditer(r"[\w'’.&-]+", run.group()))
        for i in range(len(words)):
            if words[i].group().lower() in _FUNCTION_WORDS:
                continue
            letters = ""
            for j in range(i, min(len(words), i + 12)):
                word = words[j].group()
                if word.lower() in _FUNCTION_WORDS:
                    continue
                letters += word[0].upper()
                if len(letters) >= 2:
                    start = run.start() + words[i].start()
                    end = run.start() + words[j].end()
                    yield letters, re.sub(r"['’]s$", "", text[start:end].rstrip("."))


def infer_expansion(short: str, texts: Iterable[str]) -> str | None:
    """A capitalised name in texts whose initials spell `short` (at least 2 words)."""
    wanted = short.upper().rstrip("S") if len(short) > 3 and short.endswith("s") else short.upper()
    for text in texts:
        for letters, name in name_initials(text):
            if letters == wanted:
                return name
    return None


_CAPITALISED_RUN = re.compile(
    r"[A-Z][\w'’.&-]*(?:(?:,?\s+(?:of|and|for|the|on|in|to|&)\s+|,\s+|\s+)[A-Z][\w'’.&-]*)+"
)


def _capitalised_names(text: str) -> Iterable[re.Match[str]]:
    """Runs of capitalised words, function words allowed inside, commas between."""
    return _CAPITALISED_RUN.finditer(text)
