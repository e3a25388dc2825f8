"""Near-duplicate paragraphs across the corpus: index each text once.

Scraped pages repeat text: a "related article" teaser repeats the lead of an
article that is in the corpus in full, two pages share an image caption. Such
text is indexed once, at its fullest copy, so that citations point at the
article itself and repeated text does not crowd out other results.

The rule. Two paragraphs *match* when at least `threshold` of the shorter
one's 4-word shingles occur in the longer one (their sets of shingles, as
stable 32-bit hashes). Paragraphs are taken best copy first: a main article
before a teaser, then the longer text, then corpus order (source, then
paragraph number). A paragraph is dropped when it matches one that was taken
before it and kept; otherwise it is kept.

Whether two paragraphs match depends on those two alone, and a paragraph's
fate on the paragraphs it matches that come before it. That is what lets an
index re-decide only what a change can reach (`esqa.ingest.dedup_incremental`)
and still end where a decision over the whole corpus ends: adding, changing
or removing a file re-examines the paragraphs its paragraphs match, and theirs
in turn only if their own fate changed. (Before index format 4 a shingle that
more than 50 kept paragraphs shared was skipped; that made the decision depend
on the order of the whole corpus, so it is gone.)

The hashes are stable (blake2b of each word, mixed four at a time), unlike
Python's `hash()`, which changes with every process: they are stored in the
index and compared across builds.

Finding the matches of every paragraph of a corpus uses prefix filtering
(Chaudhuri et al., 2006; Bayardo et al., 2007): if the shorter set X shares at
least t = ceil(threshold * |X|) shingles with another set, it shares one of any
|X| - t + 1 of its own, so only the rarest |X| - t + 1 shingles of each
paragraph need looking up, and a common shingle ("said in a statement") seldom
does. Identical sets are collapsed first: every copy after the first is
dropped whatever happens to the first (it matches what the first matches).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

SHINGLE_WORDS = 4
DEFAULT_THRESHOLD = 0.8

_TOKEN = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it is a bijection modulo 2**64
_SHORT = np.uint64(0xD6E8FEB86659FD93)  # sets a text of 1 to 3 words apart from a 4-word shingle
_WORDS: dict[str, int] = {}  # word -> its stable 64-bit hash, for the life of the process


def _word_hashes(words: Sequence[str]) -> np.ndarray:
    cache = _WORDS
    values = []
    for word in words:
        value = cache.get(word)
        if value is None:
            digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8)
            value = cache[word] = int.from_bytes(digest.digest(), "little")
        values.append(value)
    return np.array(values, dtype=np.uint64)


def shingles(text: str) -> np.ndarray:
    """The text's 4-word shingles as sorted, distinct, stable uint32 hashes.

    A text of one to three words is one shingle (its words); a text with no
    word has none.
    """
    words = _TOKEN.findall(text.casefold())
    if not words:
        return np.zeros(0, dtype=np.uint32)
    h = _word_hashes(words)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        if len(words) < SHINGLE_WORDS:
            mixed = np.zeros(1, dtype=np.uint64) + _SHORT * np.uint64(len(words))
            for value in h:
                mixed = mixed * _MIX + value
        else:
            n = len(words) - SHINGLE_WORDS + 1
            mixed = h[:n].copy()
            for offset in range(1, SHINGLE_WORDS):
                mixed = mixed * _MIX + h[offset : offset + n]
        mixed = mixed * _MIX
    return np.unique((mixed >> np.uint64(32)).astype(np.uint32))


@dataclass(frozen=True)
class DedupItem:
    key: tuple[str, int]  # (source, paragraph number)
    text: str
    teaser: bool


@dataclass(frozen=True)
class Paragraphs:
    """What the near-duplicate decision needs of a run of paragraphs, and what an index keeps.

    Rows are paragraphs in corpus order; `sources` names the files (row `i`
    is paragraph `number[i]` of `sources[source[i]]`). `ptr`/`hashes` are each
    paragraph's shingles (CSR: row i's are `hashes[ptr[i]:ptr[i + 1]]`, sorted);
    `kept` is the decision (False: a near-duplicate, not indexed).
    """

    sources: tuple[str, ...]
    source: np.ndarray  # int32, index into `sources`
    number: np.ndarray  # int32, paragraph number in its file
    teaser: np.ndarray  # bool
    length: np.ndarray  # int32, characters of the paragraph's text
    ptr: np.ndarray  # int64, len(rows) + 1
    hashes: np.ndarray  # uint32
    kept: np.ndarray  # bool
    _inverted: list[tuple[np.ndarray, np.ndarray]] = field(
        default_factory=list, repr=False, compare=False
    )

    def __len__(self) -> int:
        return len(self.number)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.ptr)

    def shingles_of(self, row: int) -> np.ndarray:
        return self.hashes[self.ptr[row] : self.ptr[row + 1]]

    def order_key(self, row: int) -> tuple[bool, int, str, int]:
        """Where the paragraph comes in the decision: main before teaser, longer, corpus order."""
        return (
            bool(self.teaser[row]),
            -int(self.length[row]),
            self.sources[int(self.source[row])],
            int(self.number[row]),
        )

    def inverted(self) -> tuple[np.ndarray, np.ndarray]:
        """(hash, row) of every shingle of every row, sorted by hash: who holds a shingle."""
        if not self._inverted:
            order = np.argsort(self.hashes, kind="stable")
            rows = np.repeat(np.arange(len(self), dtype=np.int32), self.sizes)
            self._inverted.append((self.hashes[order], rows[order]))
        return self._inverted[0]

    def with_inverted(self, hashes: np.ndarray, rows: np.ndarray) -> Paragraphs:
        """This table with its inverted index as stored (not computed again)."""
        self._inverted[:] = [(hashes, rows)]
        return self


def take_rows(parts: Sequence[tuple[Paragraphs, Sequence[int], Sequence[bool]]]) -> Paragraphs:
    """A table of chosen rows of other tables, with their decisions, in corpus order.

    Each part is (table, rows, kept); a file's rows must all come from one part.
    """
    pieces = []
    for table, rows, kept in parts:
        for row, keep in zip(rows, kept, strict=True):
            pieces.append(
                (table.sources[int(table.source[row])], int(table.number[row]), table, row, keep)
            )
    pieces.sort(key=lambda p: (p[0], p[1]))
    sources = tuple(dict.fromkeys(p[0] for p in pieces))
    index = {name: i for i, name in enumerate(sources)}
    sets = [p[2].shingles_of(p[3]) for p in pieces]
    ptr = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in sets], out=ptr[1:])
    return Paragraphs(
        sources=sources,
        source=np.array([index[p[0]] for p in pieces], dtype=np.int32),
        number=np.array([p[1] for p in pieces], dtype=np.int32),
        teaser=np.array([bool(p[2].teaser[p[3]]) for p in pieces], dtype=bool),
        length=np.array([int(p[2].length[p[3]]) for p in pieces], dtype=np.int32),
        ptr=ptr,
        hashes=np.concatenate(sets).astype(np.uint32) if sets else np.zeros(0, dtype=np.uint32),
        kept=np.array([bool(p[4]) for p in pieces], dtype=bool),
    )


def paragraph_table(
    sources: Sequence[str], rows: Sequence[tuple[int, int, bool, str]]
) -> Paragraphs:
    """The table of paragraphs given as (source index, number, teaser, text), undecided."""
    sets = [shingles(text) for *_, text in rows]
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=ptr[1:])
    return Paragraphs(
        sources=tuple(sources),
        source=np.array([r[0] for r in rows], dtype=np.int32),
        number=np.array([r[1] for r in rows], dtype=np.int32),
        teaser=np.array([r[2] for r in rows], dtype=bool),
        length=np.array([len(r[3]) for r in rows], dtype=np.int32),
        ptr=ptr,
        hashes=np.concatenate(sets) if sets else np.zeros(0, dtype=np.uint32),
        kept=np.ones(len(rows), dtype=bool),
    )


def matches(shared: Any, size: Any, others: Any, threshold: float) -> Any:
    """Whether paragraphs sharing `shared` shingles match, given both sets' sizes.

    The one comparison both the full and the incremental decision make, so
    that they agree to the last float.
    """
    return shared >= threshold * np.minimum(size, others)


def decision_order(table: Paragraphs) -> np.ndarray:
    """Rows in the order the decision takes them (rows are in corpus order)."""
    return np.lexsort((np.arange(len(table)), -table.length.astype(np.int64), table.teaser))


def decide(table: Paragraphs, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Which paragraphs of a whole corpus are kept (True) and which are near-duplicates.

    `table`'s rows must be the corpus's paragraphs in corpus order.
    """
    n = len(table)
    kept = np.ones(n, dtype=bool)
    if n == 0:
        return kept
    order = decision_order(table)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    sizes = table.sizes
    first = _first_of_identical(table, order)
    copies = (first != np.arange(n)) & (sizes > 0)
    kept[copies] = False  # each matches the first copy or what the first copy matches
    edges = _edges(table, ~copies & (sizes > 0), threshold)
    earlier: dict[int, list[int]] = {}
    for a, b in edges:
        x, y = (a, b) if rank[a] > rank[b] else (b, a)
        earlier.setdefault(int(x), []).append(int(y))
    for x in sorted(earlier, key=lambda row: rank[row]):
        kept[x] = not any(kept[y] for y in earlier[x])
    return kept


def _first_of_identical(table: Paragraphs, order: np.ndarray) -> np.ndarray:
    """For each row, the first row in decision order with the same set of shingles."""
    n = len(table)
    first = np.arange(n)
    seen: dict[bytes, int] = {}
    for row in order.tolist():
        start, end = int(table.ptr[row]), int(table.ptr[row + 1])
        if start == end:
            continue
        data = table.hashes[start:end].tobytes()
        key = hashlib.blake2b(data, digest_size=16).digest()
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = row
        elif table.shingles_of(earlier).tobytes() == data:
            first[row] = earlier
    return first


def _edges(table: Paragraphs, among: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Every pair of rows in `among` that match, found by prefix filtering (module docstring)."""
    sizes = table.sizes
    entry_row = np.repeat(np.arange(len(table), dtype=np.int64), sizes)
    chosen = among[entry_row]
    rows, hashes = entry_row[chosen], table.hashes[chosen]
    if len(rows) == 0:
        return []
    # Rarest shingles first, by how many of the paragraphs compared hold them.
    distinct, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    rarity = np.empty(len(distinct), dtype=np.int64)
    rarity[np.lexsort((distinct, counts))] = np.arange(len(distinct))
    ranks = rarity[inverse.reshape(-1)]
    by_row = np.lexsort((ranks, rows))
    rows, ranks = rows[by_row], ranks[by_row]
    starts = np.searchsorted(rows, rows, side="left")
    position = np.arange(len(rows)) - starts
    need = np.array([math.ceil(threshold * s) for s in sizes.tolist()], dtype=np.int64)
    prefix = position < (sizes - need + 1)[rows]
    probe_rows, probe_ranks = rows[prefix], ranks[prefix]
    by_rank = np.argsort(ranks, kind="stable")
    held_ranks, held_rows = ranks[by_rank], rows[by_rank]
    lo = np.searchsorted(held_ranks, probe_ranks, side="left")
    hi = np.searchsorted(held_ranks, probe_ranks, side="right")
    counts_per = hi - lo
    total = int(counts_per.sum())
    x = np.repeat(probe_rows, counts_per)
    offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(counts_per)[:-1]]), counts_per)
    y = held_rows[offsets + np.arange(total)]
    keep = (y != x) & (sizes[y] >= sizes[x])
    pairs = np.unique(np.minimum(x, y)[keep] * len(table) + np.maximum(x, y)[keep])
    edges = []
    cache: dict[int, set[int]] = {}
    for pair in pairs.tolist():
        a, b = divmod(pair, len(table))
        sa = cache.get(a) or cache.setdefault(a, set(table.shingles_of(a).tolist()))
        sb = cache.get(b) or cache.setdefault(b, set(table.shingles_of(b).tolist()))
        if matches(len(sa & sb), len(sa), np.int64(len(sb)), threshold):
            edges.append((a, b))
    return edges


def find_duplicates(
    items: Sequence[DedupItem], threshold: float = DEFAULT_THRESHOLD
) -> dict[tuple[str, int], tuple[str, int]]:
    """Map each redundant paragraph's key to the key of the first kept copy it matches.

    Items must be in corpus order.
    """
    names = list(dict.fromkeys(item.key[0] for item in items))
    index = {name: i for i, name in enumerate(names)}
    table = paragraph_table(names, [(index[i.key[0]], i.key[1], i.teaser, i.text) for i in items])
    kept = decide(table, threshold)
    table = replace(table, kept=kept)
    held_hashes, held_rows = table.inverted()
    out: dict[tuple[str, int], tuple[str, int]] = {}
    for row in np.flatnonzero(~kept).tolist():
        mine = table.shingles_of(row)
        lo = np.searchsorted(held_hashes, mine, side="left")
        hi = np.searchsorted(held_hashes, mine, side="right")
        found, shared = np.unique(
            np.concatenate([held_rows[a:b] for a, b in zip(lo, hi, strict=True)]),
            return_counts=True,
        )
        hit = matches(shared, len(mine), table.sizes[found], threshold) & kept[found]
        copy = min(found[hit].tolist(), key=table.order_key)
        out[items[row].key] = items[copy].key
    return out
