"""When an index's segments are merged: a size-tiered policy, as Lucene's.

Every build that adds or changes files writes one new segment with only their
chunks (`esqa.index.build`), so segments pile up, one per `esqa add`. A query
pays a little for each segment it searches, and exact (flat) segments cost
in proportion to their vectors, so segments are merged:

- **By tier.** A segment's size is its live chunks, counted as at least
  `floor` (1,000), and its tier is how many times `factor` (10) fits between
  the floor and its size: tier 0 holds segments of up to 9,999 chunks, tier 1
  up to 99,999, and so on. When a tier holds `factor` segments, they are
  merged into one, which usually lands in the next tier. So a merge rewrites
  each chunk about once per tier it climbs (log10 of the corpus), and there
  are at most `factor - 1` segments per tier: about 40 at a million chunks,
  most of them small.
- **Exact vectors are bounded.** When the exact segments hold more than
  `max_exact` vectors together (`esqa.stores.faiss_dense.HNSW_THRESHOLD`, as
  one index of that many would turn into a graph), they are merged into one,
  which is a graph: exact search costs about 0.08 ms per 1,000 vectors, so
  many exact segments would cost what one large flat index costs.
- **Deletions are expunged.** A segment of which `max_deleted` (half) or more
  is deleted is rewritten without them, with the rest of its tier: deleted
  chunks still cost their share of every exact search and of the statistics'
  upkeep, and keep their files' bytes.

`esqa index build --optimize` merges every segment into one, without
deletions: what `--full` would write, without embedding or tokenising again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from esqa.stores.faiss_dense import HNSW_THRESHOLD


@dataclass(frozen=True)
class SegmentSize:
    """What the policy knows of a segment."""

    name: str
    chunks: int  # chunks written, deleted ones included
    deleted: int
    exact: bool  # searched exhaustively (a flat index), not a graph

    @property
    def live(self) -> int:
        return self.chunks - self.deleted


@dataclass(frozen=True)
class MergePolicy:
    factor: int = 10
    floor: int = 1_000
    max_exact: int = HNSW_THRESHOLD
    max_deleted: float = 0.5

    def tier(self, segment: SegmentSize) -> int:
        return int(math.log(max(segment.live, self.floor) / self.floor, self.factor) + 1e-9)

    def merges(self, segments: Sequence[SegmentSize]) -> list[list[str]]:
        """The merges due now, each a list of segment names; none share a segment.

        Applied in order, each merged segment counted as one new segment of
        its merged size, until nothing more is due.
        """
        pending = list(segments)
        out: list[list[str]] = []
        counter = 0
        while True:
            group = self._next(pending)
            if not group:
                return out
            out.append([s.name for s in group])
            live = sum(s.live for s in group)
            counter += 1
            merged = SegmentSize(f"\0merged{counter}", live, 0, live <= self.max_exact)
            pending = [s for s in pending if s not in group] + [merged]

    def _next(self, segments: Sequence[SegmentSize]) -> list[SegmentSize]:
        exact = [s for s in segments if s.exact]
        if len(exact) > 1 and sum(s.live for s in exact) > self.max_exact:
            return exact
        tiers: dict[int, list[SegmentSize]] = {}
        for segment in segments:
            tiers.setdefault(self.tier(segment), []).append(segment)
        for tier in sorted(tiers):
            members = tiers[tier]
            if len(members) >= self.factor:
                return sorted(members, key=lambda s: s.live)[: self.factor]
        for segment in segments:
            if segment.chunks and segment.deleted / segment.chunks >= self.max_deleted:
                mates = [s for s in tiers[self.tier(segment)] if s is not segment]
                return [segment, *mates]
        return []

    def next_merge(self, segments: Sequence[SegmentSize]) -> str:
        """When the next merge comes, in words (for `esqa info`), if none is due now."""
        tiers: dict[int, int] = {}
        for segment in segments:
            tiers[self.tier(segment)] = tiers.get(self.tier(segment), 0) + 1
        fullest = min(tiers, key=lambda t: (self.factor - tiers[t], t), default=0)
        exact = sum(s.live for s in segments if s.exact)
        return (
            f"when tier {fullest} holds {self.factor} segments ({tiers.get(fullest, 0)} now), "
            f"or the exact segments more than {self.max_exact:,} chunks ({exact:,} now)"
        )


DEFAULT_POLICY = MergePolicy()


def merge_outlook(records: Sequence[Any], policy: MergePolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """What `esqa info` says of merging: the merges due now (each a list of segment
    names) and, when none is, when the next one comes. `records` are the manifest's."""
    sizes = [SegmentSize(r.name, r.chunks, r.deleted, r.exact) for r in records]
    due = policy.merges(sizes)
    named = [[n for n in group if not n.startswith("\0")] for group in due]
    return {"due": named, "next": "" if due else policy.next_merge(sizes)}
