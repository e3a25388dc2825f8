"""Near-duplicate paragraphs are indexed once, at the full article."""

from __future__ import annotations

from conftest import SEEDS, write_corpus

from esqa.index.build import build_index
from esqa.index.reader import load_index
from esqa.ingest.dedup import DedupItem, find_duplicates
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
