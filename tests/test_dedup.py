"""Near-duplicate paragraphs are indexed once, at the full article; re-decided after a change
as a decision over the whole corpus decides."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
from conftest import SEEDS, write_corpus

from esqa.index.build import build_index
from esqa.index.reader import load_index
from esqa.ingest.dedup import DedupItem, decide, find_duplicates, paragraph_table, shingles
from esqa.ingest.dedup_incremental import KnownParagraphs, redecide, ref
from esqa.ingest.pages import load_corpus

LEAD = (
    "Around 50 government officials and researchers from Japan and India met in New Delhi on "
    "Thursday to discuss cooperation on semiconductors, critical minerals and supply chains."
)
OTHER = (
    "The two governments agreed to meet again next year in Tokyo and to set up a working group "
    "on export controls before the end of the fiscal year."
)


def test_teaser_copy_maps_to_the_main_article_copy():
    items = [
        DedupItem(("a.txt", 9), LEAD, teaser=True),
        DedupItem(("b.txt", 2), LEAD, teaser=False),
        DedupItem(("b.txt", 3), OTHER, teaser=False),
    ]
    assert find_duplicates(items) == {("a.txt", 9): ("b.txt", 2)}


def test_near_identical_copy_is_a_duplicate_but_different_text_is_not():
    edited = LEAD.replace("on Thursday", "on Thursday, officials said,")
    items = [
        DedupItem(("a.txt", 1), LEAD, teaser=False),
        DedupItem(("b.txt", 1), edited, teaser=True),
        DedupItem(("c.txt", 1), OTHER, teaser=True),
    ]
    assert find_duplicates(items) == {("b.txt", 1): ("a.txt", 1)}


def _page(title: str, body: list[str], teasers: list[str] = ()) -> str:
    parts = [title, ""]
    for paragraph in body:
        parts += [paragraph, ""]
    if teasers:
        parts += ["Related Articles", ""]
        for teaser in teasers:
            parts += [teaser, ""]
    return "\n".join(parts)


def test_text_in_a_main_article_and_a_teaser_elsewhere_is_indexed_once_at_the_main(
    tmp_path, fake_embedder
):
    own = (
        "Tokyo hosted the first economic security forum on Monday, with officials from a "
        "dozen countries discussing rare earths and semiconductors."
    )
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            # the teaser comes first in corpus order, the full article second
            "a_forum.txt": _page("Tokyo hosts forum", [own], teasers=[LEAD]),
            "b_india.txt": _page("Japan and India hold talks", [LEAD, OTHER]),
        },
    )
    build_index(corpus, tmp_path / "idx", fake_embedder)
    index = load_index(tmp_path / "idx", fake_embedder.model_id, fake_embedder.dimension)
    holders = [c for c in index.chunks.values() if "New Delhi" in c.text]
    assert [(c.source, c.teaser) for c in holders] == [("b_india.txt", False)]
    assert holders[0].line_start == 3
    assert index.manifest.counts.duplicate_paragraphs >= 1
    assert any(c.source == "a_forum.txt" and c.text == own for c in index.chunks.values())


def test_seed_teaser_001_line_29_is_not_indexed_but_004_line_3_is(fake_seed_index, fake_embedder):
    teaser = (SEEDS / "001_9c16898d448cd4fa.txt").read_text(encoding="utf-8").split("\n")[28]
    lead = (SEEDS / "004_55f16e264c431d7b.txt").read_text(encoding="utf-8").split("\n")[2]
    assert teaser[:60] == lead[:60]  # the premise, read from the files
    index = load_index(fake_seed_index, fake_embedder.model_id, fake_embedder.dimension)
    chunks = list(index.chunks.values())
    assert not [
        c
        for c in chunks
        if c.source == "001_9c16898d448cd4fa.txt" and c.line_start <= 29 <= c.line_end
    ]
    assert [c for c in chunks if c.source == "004_55f16e264c431d7b.txt" and c.line_start == 3]


def test_seed_teaser_004_line_24_points_at_001_line_8(fake_seed_index, fake_embedder):
    index = load_index(fake_seed_index, fake_embedder.model_id, fake_embedder.dimension)
    chunks = list(index.chunks.values())
    assert not [
        c
        for c in chunks
        if c.source == "004_55f16e264c431d7b.txt" and c.line_start <= 24 <= c.line_end
    ]
    assert [c for c in chunks if c.source == "001_9c16898d448cd4fa.txt" and c.line_start == 8]


def test_seed_paragraphs_are_all_distinct_after_dedup(fake_seed_index, fake_embedder):
    index = load_index(fake_seed_index, fake_embedder.model_id, fake_embedder.dimension)
    scan = load_corpus(SEEDS)
    cited = {(c.source, c.paragraph) for c in index.chunks.values()}
    texts = {}
    for doc in scan.documents:
        for p in doc.paragraphs:
            if (p.source, p.number) in cited:
                assert p.text not in texts, f"{p.source} ¶{p.number} repeats {texts.get(p.text)}"
                texts[p.text] = (p.source, p.number)


# ---- the rule, decided incrementally ---------------------------------------------------


WORDS = (
    "japan india talks chips minerals supply chain ministry trade export control rare earth "
    "officials said friday monday tokyo delhi forum security cooperation plan fund bank"
).split()


def test_shingle_hashes_are_stable_across_processes():
    code = f"from esqa.ingest.dedup import shingles; print(shingles({LEAD!r}).tolist())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}  # fmt: skip
    assert runs == {f"{shingles(LEAD).tolist()}\n"}
    assert len(shingles(LEAD)) == len(LEAD.split()) - 3  # one per window of 4 words


def random_files(rng: random.Random, count: int) -> dict[str, list[tuple[str, bool]]]:
    """Files of paragraphs (text, teaser) with planted copies: whole, partial, teaser, short."""
    base = [" ".join(rng.choices(WORDS, k=rng.randint(1, 40))) for _ in range(12)]
    files: dict[str, list[tuple[str, bool]]] = {}
    for n in range(count):
        paragraphs = []
        for _ in range(rng.randint(1, 4)):
            text = rng.choice(base)
            words = text.split()
            kind = rng.random()
            if kind < 0.3:  # a fuller copy, or a cut one
                cut = rng.randint(0, max(0, len(words) // 5))
                text = " ".join(words[cut:] + rng.choices(WORDS, k=rng.randint(0, 3)))
            elif kind < 0.4:
                text = " ".join(rng.choices(WORDS, k=rng.randint(1, 30)))
            paragraphs.append((text, rng.random() < 0.3))
        files[f"f{n:03d}.txt"] = paragraphs
    return files


def table_of(files: dict[str, list[tuple[str, bool]]], names: list[str]):
    rows = [(i, n, teaser, text) for i, name in enumerate(names)
            for n, (text, teaser) in enumerate(files[name], start=1)]  # fmt: skip
    return paragraph_table(names, rows)


def full_decision(files) -> dict[tuple[str, int], bool]:
    names = sorted(files)
    table = table_of(files, names)
    kept = decide(table)
    return {
        (names[table.source[r]], int(table.number[r])): bool(kept[r]) for r in range(len(table))
    }


class Simulated:
    """An index's paragraphs in tables (segments), changed file by file as a build does."""

    def __init__(self, files) -> None:
        names = sorted(files)
        table = table_of(files, names)
        table.kept[:] = decide(table)
        self.tables = [table]
        self.live = [np.ones(len(table), dtype=bool)]
        self.where = {name: 0 for name in names}  # file -> table holding it

    def rows_of(self, name: str) -> list[int]:
        t = self.where[name]
        table = self.tables[t]
        return [ref(t, r) for r in range(len(table)) if table.sources[table.source[r]] == name]

    def change(self, files, touched: set[str]) -> int:
        removed = [r for name in sorted(touched) if name in self.where for r in self.rows_of(name)]
        for value in removed:
            self.live[value >> 40][value & ((1 << 40) - 1)] = False
        for name in touched:
            self.where.pop(name, None)
        names = sorted(n for n in touched if n in files)
        table = table_of(files, names)
        self.tables.append(table)
        self.live.append(np.ones(len(table), dtype=bool))
        for name in names:
            self.where[name] = len(self.tables) - 1
        result = redecide(KnownParagraphs(self.tables, self.live), len(self.tables) - 1, removed)
        for value, kept in [*result.new.items(), *result.flipped.items()]:
            self.tables[value >> 40].kept[value & ((1 << 40) - 1)] = kept
        return result.examined

    def decision(self) -> dict[tuple[str, int], bool]:
        out = {}
        for t, table in enumerate(self.tables):
            for r in np.flatnonzero(self.live[t]).tolist():
                out[(table.sources[table.source[r]], int(table.number[r]))] = bool(table.kept[r])
        return out


@pytest.mark.parametrize("seed", range(40))
def test_after_any_changes_the_incremental_decision_is_the_full_one(seed):
    rng = random.Random(seed)
    files = random_files(rng, rng.randint(3, 25))
    index = Simulated(files)
    assert index.decision() == full_decision(files)
    for _ in range(6):
        touched = set(rng.sample(sorted(files), k=rng.randint(0, min(3, len(files)))))
        for name in list(touched):
            if rng.random() < 0.4:
                del files[name]  # removed
            else:  # changed: paragraphs taken from other files, or new ones
                files[name] = random_files(rng, 1)["f000.txt"]
        for _ in range(rng.randint(0, 2)):
            name = f"new{rng.randint(0, 999):03d}.txt"
            files[name] = random_files(rng, 1)["f000.txt"]
            touched.add(name)
        index.change(files, touched)
        assert index.decision() == full_decision(files)


def test_removing_the_fuller_copy_brings_its_copies_back_in_order():
    files = {
        "a.txt": [(LEAD + " " + OTHER, False)],  # the fullest
        "b.txt": [(LEAD, False)],
        "c.txt": [(LEAD, True)],
    }
    index = Simulated(files)
    assert index.decision() == {("a.txt", 1): True, ("b.txt", 1): False, ("c.txt", 1): False}
    del files["a.txt"]
    index.change(files, {"a.txt"})
    assert index.decision() == {("b.txt", 1): True, ("c.txt", 1): False}


def test_a_new_fuller_copy_demotes_a_kept_paragraph_and_frees_its_copies_only_if_due():
    # b held c back; a new fuller a now holds b back, and holds c back too (c is in a).
    files = {"b.txt": [(LEAD, False)], "c.txt": [(LEAD[:150], True)]}
    index = Simulated(files)
    files["a.txt"] = [(LEAD + " And more was said.", False)]
    index.change(files, {"a.txt"})
    assert index.decision() == {("a.txt", 1): True, ("b.txt", 1): False, ("c.txt", 1): False}
    assert index.decision() == full_decision(files)


def test_a_change_examines_only_the_paragraphs_it_can_reach():
    rng = random.Random(7)
    files = {f"f{n:04d}.txt": [(" ".join(rng.choices(WORDS, k=30)), False)] for n in range(300)}
    index = Simulated(files)
    files["zz.txt"] = [(OTHER, False)]
    assert index.change(files, {"zz.txt"}) == 1


def _chain() -> dict[str, list[tuple[str, bool]]]:
    """a holds b back; c matches b (its tail) but not a: c's fate follows b's, not a's."""
    w = [f"w{i}" for i in range(60)]
    extra = [f"x{i}" for i in range(40)]
    return {
        "a.txt": [(" ".join(w[:45] + extra), False)],
        "b.txt": [(" ".join(w[:50]), False)],
        "c.txt": [(" ".join(w[38:50]), False)],
    }


def test_a_flip_cascades_to_the_copies_of_the_flipped_paragraph_when_one_is_removed():
    files = _chain()
    index = Simulated(files)
    assert index.decision() == {("a.txt", 1): True, ("b.txt", 1): False, ("c.txt", 1): True}
    del files["a.txt"]
    index.change(files, {"a.txt"})
    assert index.decision() == {("b.txt", 1): True, ("c.txt", 1): False}
    assert index.decision() == full_decision(files)


def test_a_flip_cascades_to_the_copies_of_the_flipped_paragraph_when_one_is_added():
    files = _chain()
    a = files.pop("a.txt")
    index = Simulated(files)
    assert index.decision() == {("b.txt", 1): True, ("c.txt", 1): False}
    files["a.txt"] = a
    index.change(files, {"a.txt"})
    assert index.decision() == {("a.txt", 1): True, ("b.txt", 1): False, ("c.txt", 1): True}
