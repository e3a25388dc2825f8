"""Question terms misspelt against the passages read ("carageenan" for "carrageenan").

A term that no passage read holds weighs the most of all (it is rare: the
corpus never writes it) and no sentence can cover it, so a question with one
misspelt word looks unanswered: on COVID-QA 65 of 1,380 questions hold a term
the corpus never writes ("carageenan", "zanamavir", "isilated",
"concamitant"). Such a term stands for the word of the passages read within
one edit (two for long terms) that begins with the same letter, the most
frequent one when several are as close. Only the passages read are searched:
no vocabulary is scanned, and a word the retrieved text does not hold is never
guessed. A term the passages hold is never changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

# Shorter terms are too often other words one letter apart ("rate", "date").
MIN_CHARS = 5
# From this length a term may be two edits from the word it misspells.
TWO_EDITS_CHARS = 9


def distance(a: str, b: str, limit: int) -> int:
    """Edits (insertions, deletions, substitutions, swaps of neighbours) between
    a and b; any number above `limit` is returned as `limit + 1`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        previous2, previous = previous, row
    return min(previous[-1], limit + 1)


def corrections(terms: Iterable[str], passages: Counter[str]) -> dict[str, str]:
    """Each term that no passage read holds, mapped to the passage term it most
    likely misspells (`passages`: each passage term with how often it occurs)."""
    out: dict[str, str] = {}
    for term in set(terms):
        if term in passages or len(term) < MIN_CHARS or not term.isalpha():
            continue
        limit = 2 if len(term) >= TWO_EDITS_CHARS else 1
        best: tuple[int, int, str] | None = None
        for word, count in passages.items():
            if word[0] != term[0] or abs(len(word) - len(term)) > limit or not word.isalpha():
                continue
            d = distance(term, word, limit)
            if d <= limit and (best is None or (d, -count, word) < best):
                best = (d, -count, word)
        if best is not None:
            out[term] = best[2]
    return out
