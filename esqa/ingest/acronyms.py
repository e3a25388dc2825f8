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

The first definition in corpus order wins, and a bare acronym with no
definition takes the first name in corpus order whose initials spell it. An
index made of segments keeps, per segment, where each candidate first occurs
in each file (`AcronymOccurrences`), so that choosing again after a change
(`choose_acronyms`) reads a few chunks, not the corpus: the choice over the
live files of every segment is the choice `mine_acronyms` makes over their
chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

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
    paragraph: int  # the paragraph of `source` that holds the long form
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
                found[short] = Acronym(
                    short, " ".join(long.split()), chunk.source, chunk.paragraph, True
                )
        bare.update(m.group() for m in _ACRONYM.finditer(chunk.text))
    wanted = {a for a in bare if a not in found and a not in _NOT_ACRONYMS and len(a) >= 3}
    if not wanted:
        return found
    for chunk in chunk_list:
        for letters, name in name_initials(chunk.text):
            if letters in wanted and letters not in found:
                found[letters] = Acronym(letters, name, chunk.source, chunk.paragraph, False)
    return found


# Initials that could ever be wanted: what `_ACRONYM` matches, at least 3 long, no plural s.
_INITIALS = re.compile(r"[A-Z][A-Z0-9&]{2,7}")


@dataclass(frozen=True)
class AcronymOccurrences:
    """Where each candidate first occurs in each file of a run of chunks (a segment).

    Positions are the chunks' places in the run, ascending within each key;
    only a file's first occurrence is kept, because a file is live or deleted
    as a whole. `definitions` carries the long form each one defines.
    """

    definitions: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    bare: dict[str, list[int]] = field(default_factory=dict)
    initials: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "definitions": {k: [list(d) for d in v] for k, v in sorted(self.definitions.items())},
            "bare": dict(sorted(self.bare.items())),
            "initials": dict(sorted(self.initials.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AcronymOccurrences:
        definitions = data["definitions"]
        bare, initials = data["bare"], data["initials"]
        if not (
            isinstance(definitions, dict) and isinstance(bare, dict) and isinstance(initials, dict)
        ):
            raise ValueError("acronym occurrences are not objects")
        return cls(
            {k: [(int(p), str(long)) for p, long in v] for k, v in definitions.items()},
            {k: [int(p) for p in v] for k, v in bare.items()},
            {k: [int(p) for p in v] for k, v in initials.items()},
        )


def acronym_occurrences(chunks: Sequence[Chunk]) -> AcronymOccurrences:
    """Every candidate's first occurrence per file in these chunks (in corpus order)."""
    out = AcronymOccurrences()
    seen: set[tuple[str, str, str]] = set()  # (kind, key, source)

    def first(kind: str, key: str, source: str) -> bool:
        if (kind, key, source) in seen:
            return False
        seen.add((kind, key, source))
        return True

    for position, chunk in enumerate(chunks):
        text, source = chunk.text, chunk.source
        for m in _PAREN.finditer(text):
            short = m.group(1)
            if not any(c.isupper() for c in short[1:]) and len(short) > 2:
                continue  # "(Reuters)", not an acronym
            long = _long_form_before(text, m.start(), short)
            if long and first("d", short, source):
                out.definitions.setdefault(short, []).append((position, " ".join(long.split())))
        for m in _ACRONYM.finditer(text):
            if first("b", m.group(), source):
                out.bare.setdefault(m.group(), []).append(position)
        for letters, _ in name_initials(text):
            if _INITIALS.fullmatch(letters) and first("i", letters, source):
                out.initials.setdefault(letters, []).append(position)
    return out


@dataclass(frozen=True)
class OccurrenceRun:
    """A segment's occurrences, with what choosing needs to know of its chunks."""

    occurrences: AcronymOccurrences
    source_of: Callable[[int], str]  # the file of the chunk at a position
    live: Callable[[int], bool]  # whether the chunk at a position is live
    chunk_at: Callable[[int], Chunk]  # the chunk itself, read only for a winner


def choose_acronyms(runs: Sequence[OccurrenceRun]) -> dict[str, Acronym]:
    """`mine_acronyms` over the live chunks of every run, from their occurrences."""

    def earliest(table: str, key: str) -> tuple[int, int] | None:
        """(run, position) of the first live occurrence in corpus order: source, then place.

        A run's positions ascend, so its first live one is its candidate; a
        live file is in one run only, so candidates never share a source.
        """
        best: tuple[str, int, int] | None = None
        for number, run in enumerate(runs):
            for entry in getattr(run.occurrences, table).get(key, ()):
                position = entry[0] if isinstance(entry, tuple) else entry
                if run.live(position):
                    candidate = (run.source_of(position), position, number)
                    best = candidate if best is None or candidate < best else best
                    break
        return None if best is None else (best[2], best[1])

    found: dict[str, Acronym] = {}
    shorts = sorted({k for run in runs for k in run.occurrences.definitions})
    for short in shorts:
        at = earliest("definitions", short)
        if at is not None:
            run, position = at
            long = dict(runs[run].occurrences.definitions[short])[position]
            chunk = runs[run].chunk_at(position)
            found[short] = Acronym(short, long, chunk.source, chunk.paragraph, True)
    bare = {k for run in runs for k in run.occurrences.bare}
    wanted = sorted(
        a
        for a in bare
        if a not in found
        and a not in _NOT_ACRONYMS
        and len(a) >= 3
        and earliest("bare", a) is not None
    )
    for letters in wanted:
        at = earliest("initials", letters)
        if at is None:
            continue
        chunk = runs[at[0]].chunk_at(at[1])
        name = next(n for found_letters, n in name_initials(chunk.text) if found_letters == letters)
        found[letters] = Acronym(letters, name, chunk.source, chunk.paragraph, False)
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
                if _INITIAL.fullmatch(word):
                    # An initial ("Hansen, T. S."): a person's name, and no
                    # stretch through it spells an acronym ("Hepatitis B Virus",
                    # without the period, still spells HBV).
                    break
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


_INITIAL = re.compile(r"[A-Z]\.")
_CAPITALISED_RUN = re.compile(
    r"[A-Z][\w'’.&-]*(?:(?:,?\s+(?:of|and|for|the|on|in|to|&)\s+|,\s+|\s+)[A-Z][\w'’.&-]*)+"
)


def _capitalised_names(text: str) -> Iterable[re.Match[str]]:
    """Runs of capitalised words, function words allowed inside, commas between."""
    return _CAPITALISED_RUN.finditer(text)
