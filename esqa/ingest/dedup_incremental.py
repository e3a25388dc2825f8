"""Re-deciding near-duplicates after a change, without reading the corpus again.

`esqa.ingest.dedup` decides over a whole corpus; an index keeps, for every
paragraph it has seen (indexed or dropped), what that decision needs: the
paragraph's place in the order, its shingle hashes, an inverted index of them
and its decision (`Paragraphs`). When files are added, changed or removed,
only paragraphs that match a changed one can change, and of those only the
ones after it in the decision order; a paragraph whose fate changes reaches
the paragraphs after it that it matches, and so on. So the re-decision walks
a queue in decision order, seeded with the new paragraphs and with those that
matched a removed kept paragraph (removing the fuller copy brings its copies
back), and looks at nothing else. Its result is the full decision's: each
paragraph taken from the queue is decided by the same rule against the
paragraphs before it, which are final by then.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from esqa.ingest.dedup import DEFAULT_THRESHOLD, Paragraphs, matches

# A paragraph of the index: (table number, row), packed into one int.
Ref = int
_ROW_BITS = 40


def ref(table: int, row: int) -> Ref:
    return (table << _ROW_BITS) | row


def unref(value: Ref) -> tuple[int, int]:
    return value >> _ROW_BITS, value & ((1 << _ROW_BITS) - 1)


@dataclass(frozen=True)
class Redecision:
    """What changed: the decision of every new paragraph, and old paragraphs whose decision flipped."""

    new: dict[Ref, bool]  # every row of the new table -> kept
    flipped: dict[Ref, bool]  # an old live paragraph whose decision changed -> kept now
    examined: int  # paragraphs decided again (new ones included)


class KnownParagraphs:
    """The paragraphs of several tables (an index's segments, and the new one), some not live.

    `live[t][row]` is False for paragraphs of files that were removed or
    replaced: they match nothing any more.
    """

    def __init__(self, tables: Sequence[Paragraphs], live: Sequence[np.ndarray]) -> None:
        self.tables = list(tables)
        self.live = [np.asarray(mask, dtype=bool) for mask in live]

    def key(self, value: Ref) -> tuple[bool, int, str, int]:
        table, row = unref(value)
        return self.tables[table].order_key(row)

    def kept(self, value: Ref) -> bool:
        table, row = unref(value)
        return bool(self.tables[table].kept[row])

    def is_live(self, value: Ref) -> bool:
        table, row = unref(value)
        return bool(self.live[table][row])

    def matches_of(self, value: Ref, threshold: float) -> list[Ref]:
        """Every live paragraph that the paragraph `value` matches (itself excluded)."""
        table, row = unref(value)
        mine = self.tables[table].shingles_of(row)
        if len(mine) == 0:
            return []
        out: list[Ref] = []
        for number, other in enumerate(self.tables):
            held_hashes, held_rows = other.inverted()
            lo = np.searchsorted(held_hashes, mine, side="left")
            hi = np.searchsorted(held_hashes, mine, side="right")
            lengths = hi - lo
            total = int(lengths.sum())
            if total == 0:
                continue
            starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
            rows = held_rows[starts + np.arange(total)]
            rows = rows[self.live[number][rows]]
            found, shared = np.unique(rows, return_counts=True)
            sizes = other.sizes[found]
            hit = matches(shared, len(mine), sizes, threshold)
            for j in found[hit].tolist():
                if number != table or j != row:
                    out.append(ref(number, j))
        return out


def redecide(
    known: KnownParagraphs,
    added: int,
    removed: Iterable[Ref],
    threshold: float = DEFAULT_THRESHOLD,
) -> Redecision:
    """Decide the rows of table `added` and every old paragraph the change can reach.

    `removed` are the paragraphs that were live before and are gone now
    (`known` must already mark them not live). Old paragraphs keep their
    stored decision unless returned in `flipped`.
    """
    status: dict[Ref, bool] = {}
    queue: list[tuple[tuple[bool, int, str, int], Ref]] = []
    queued: set[Ref] = set()

    def push(value: Ref) -> None:
        if value not in queued:
            queued.add(value)
            heapq.heappush(queue, (known.key(value), value))

    def later_matches(value: Ref) -> None:
        key = known.key(value)
        for other in known.matches_of(value, threshold):
            if known.key(other) > key:
                push(other)

    new_rows = [ref(added, row) for row in range(len(known.tables[added]))]
    for value in new_rows:
        push(value)
    for value in removed:
        if known.kept(value):  # a dropped paragraph held nothing back
            later_matches(value)
    fresh = set(new_rows)
    while queue:
        key, value = heapq.heappop(queue)
        before = [other for other in known.matches_of(value, threshold) if known.key(other) < key]
        kept = not any(status.get(other, known.kept(other)) for other in before)
        status[value] = kept
        was_kept = False if value in fresh else known.kept(value)
        if kept != was_kept:
            later_matches(value)
    flipped = {
        value: kept
        for value, kept in status.items()
        if value not in fresh and kept != known.kept(value)
    }
    return Redecision({v: status[v] for v in new_rows}, flipped, len(status))
