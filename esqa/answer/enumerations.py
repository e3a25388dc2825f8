"""Enumerations in running text: "has four pillars: A, B, C, and D".

A sentence announces a count and a noun, then lists the items after a colon,
separated by semicolons (when there are any) or commas, the last one after
"and" or "or". The items are returned as offsets into the sentence, so an
answer that quotes one item is still verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COUNTS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "several": 0, "multiple": 0, "many": 0, "the following": 0,
}  # fmt: skip
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3,
    "4th": 4, "5th": 5, "6th": 6, "7th": 7, "8th": 8, "9th": 9, "10th": 10,
    "last": -1, "final": -1,
}  # fmt: skip

_HEAD = re.compile(
    r"\b(?P<count>\d{1,2}|" + "|".join(_COUNTS) + r")\s+(?:[\w-]+\s+){0,2}?(?P<noun>[a-z][\w-]*s)\b"
    r"[^:;.]{0,200}?:\s*",
    re.IGNORECASE,
)
_ORDINAL = re.compile(
    r"\b(?P<ordinal>" + "|".join(_ORDINALS) + r")\s+(?P<noun>[a-z][\w-]*)\b", re.I
)
_LAST_JOIN = re.compile(r"^(?:,?\s*)(?:and|or)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Enumeration:
    noun: str  # plural as written, e.g. "pillars"
    count: int  # announced count; 0 when the text says "several"
    items: tuple[tuple[int, int], ...]  # (start, end) offsets into the sentence

    def item(self, ordinal: int) -> tuple[int, int] | None:
        """The 1-based item; -1 is the last one."""
        if ordinal == -1:
            return self.items[-1]
        return self.items[ordinal - 1] if 0 < ordinal <= len(self.items) else None


def _split_last(sentence: str, items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    start, end = items[-1]
    joins = list(re.finditer(r"\s+(?:and|or)\s+", sentence[start:end]))
    if not joins:
        return items
    m = joins[-1]
    return [*items[:-1], (start, start + m.start()), (start + m.end(), end)]


def parse_ordinal(text: str) -> tuple[int, str] | None:
    """("fourth pillar" ...) -> (4, "pillar"); "last" gives -1."""
    m = _ORDINAL.search(text)
    if m is None:
        return None
    return _ORDINALS[m.group("ordinal").lower()], m.group("noun").lower()


def find_enumeration(sentence: str) -> Enumeration | None:
    """The enumeration announced in a sentence, if its items can be counted."""
    for head in _HEAD.finditer(sentence):
        count_word = head.group("count").lower()
        count = int(count_word) if count_word.isdigit() else _COUNTS[count_word]
        body_start = head.end()
        body_end = len(sentence.rstrip().rstrip(".!?"))
        body = sentence[body_start:body_end]
        separator = ";" if ";" in body else ","
        items: list[tuple[int, int]] = []
        pos = body_start
        for piece in body.split(separator):
            start = pos
            end = pos + len(piece)
            pos = end + 1
            text = sentence[start:end]
            join = _LAST_JOIN.match(text)
            lead = join.end() if join else len(text) - len(text.lstrip())
            stripped = text[lead:].rstrip()
            if stripped:
                items.append((start + lead, start + lead + len(stripped)))
        if count and len(items) == count - 1:
            items = _split_last(sentence, items)  # "A, B and C": no comma before "and"
        if len(items) >= 2 and (count == 0 or count == len(items)):
            return Enumeration(head.group("noun"), count, tuple(items))
    return None


def same_noun(plural: str, noun: str) -> bool:
    """Whether "pillars" (from an enumeration) names the same thing as "pillar"."""
    a, b = plural.lower(), noun.lower()
    return a == b or a.rstrip("s") == b.rstrip("s") or a == b + "es" or a[:-3] + "y" == b
