"""Near-duplicate paragraphs across the corpus: index each text once.

Scraped pages repeat text: a "related article" teaser repeats the lead of an
article that is in the corpus in full, two pages share an image caption. Such
text is indexed once, at its fullest copy, so that citations point at the
article itself and repeated text does not crowd out other results.

Two paragraphs are near-identical when at least `threshold` of the shorter
one's word shingles occur in the longer one. The copy kept is the one in a
main article rather than a teaser, then the longer, then the first in corpus
order. Candidates are found through an inverted index of shingles, so the
cost grows with the number of shared shingles, not with the square of the
corpus.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

SHINGLE_WORDS = 4
DEFAULT_THRESHOLD = 0.8
# A shingle shared by this many paragraphs is boilerplate-like and says little
# about duplication; skipping it keeps candidate lists short.
MAX_POSTING = 50

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class DedupItem:
    key: tuple[str, int]  # (source, paragraph number)
    text: str
    teaser: bool


def shingles(text: str) -> frozenset[int]:
    words = _TOKEN.findall(text.casefold())
    if len(words) < SHINGLE_WORDS:
        return frozenset({hash(tuple(words))}) if words else frozenset()
    return frozenset(
        hash(tuple(words[i : i + SHINGLE_WORDS])) for i in range(len(words) - SHINGLE_WORDS + 1)
    )


def find_duplicates(
    items: Sequence[DedupItem], threshold: float = DEFAULT_THRESHOLD
) -> dict[tuple[str, int], tuple[str, int]]:
    """Map each redundant paragraph's key to the key of the copy that is kept."""
    sets = [shingles(item.text) for item in items]
    # Best copies first: main article, then longer, then corpus order.
    order = sorted(range(len(items)), key=lambda i: (items[i].teaser, -len(items[i].text), i))
    postings: dict[int, list[int]] = defaultdict(list)
    duplicates: dict[tuple[str, int], tuple[str, int]] = {}
    for i in order:
        mine = sets[i]
        if not mine:
            continue
        overlap: dict[int, int] = defaultdict(int)
        for shingle in mine:
            kept = postings.get(shingle, ())
            if len(kept) <= MAX_POSTING:
                for j in kept:
                    overlap[j] += 1
        best = next(
            (
                j
                for j, shared in sorted(overlap.items(), key=lambda kv: -kv[1])
                if shared >= threshold * min(len(mine), len(sets[j]))
            ),
            None,
        )
        if best is not None:
            duplicates[items[i].key] = items[best].key
            continue
        for shingle in mine:
            postings[shingle].append(i)
    return duplicates
