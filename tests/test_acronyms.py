"""Acronym mining on hand-made chunks: definitions in parentheses and names by initials;
chosen again from per-segment occurrences as mining the live chunks chooses."""

from __future__ import annotations

import random

import pytest

from esqa.answer.compose import expand_query
from esqa.ingest.acronyms import (
    OccurrenceRun,
    acronym_occurrences,
    choose_acronyms,
    infer_expansion,
    mine_acronyms,
    name_initials,
)
from esqa.types import Chunk


def chunk(id: int, text: str, source: str = "a.txt") -> Chunk:
    return Chunk(
        id=id, source=source, paragraph=id + 1, line_start=id + 1, line_end=id + 1, text=text
    )


def test_parenthesised_definition_is_mined() -> None:
    found = mine_acronyms(
        [chunk(0, "Leaders of the North Atlantic Treaty Organization (NATO) met in Brussels.")]
    )
    assert "NATO" in found
    nato = found["NATO"]
    assert nato.long == "North Atlantic Treaty Organization"
    assert nato.defined is True
    assert nato.source == "a.txt"
    assert nato.paragraph == 1  # where the long form stands, as a citation names it


def test_definition_with_function_words_and_commas() -> None:
    text = "It reported to the Ministry of Economy, Trade and Industry (METI) last week."
    found = mine_acronyms([chunk(0, text)])
    assert found["METI"].long == "Ministry of Economy, Trade and Industry"


def test_plural_acronym_definition() -> None:
    text = "Loans for Small and Medium Enterprises (SMEs) will rise."
    found = mine_acronyms([chunk(0, text)])
    assert found["SMEs"].long == "Small and Medium Enterprises"


def test_long_form_is_verbatim_from_the_text() -> None:
    text = "Leaders of the North Atlantic Treaty Organization (NATO) met."
    found = mine_acronyms([chunk(0, text)])
    assert found["NATO"].long in text


def test_implicit_acronym_found_by_initials_elsewhere() -> None:
    chunks = [
        chunk(0, "The WHO said on Monday that cases rose again.", source="a.txt"),
        chunk(1, "Officials at the World Health Organization met in Geneva.", source="b.txt"),
    ]
    found = mine_acronyms(chunks)
    assert "WHO" in found
    who = found["WHO"]
    assert who.long == "World Health Organization"
    assert who.defined is False
    assert who.source == "b.txt"
    assert who.paragraph == 2


def test_a_name_with_initials_spells_no_acronym() -> None:
    # A reference list's "Hansen, T. S." is a person, not what HTS stands for.
    chunks = [
        chunk(0, "Hits were confirmed by HTS of the compound library.", source="a.txt"),
        chunk(1, "27. Stephensen, E. K.; Hansen, T. S. Danmark lukker ned.", source="b.txt"),
    ]
    assert "HTS" not in mine_acronyms(chunks)


def test_a_one_letter_word_that_is_no_initial_still_spells_an_acronym() -> None:
    chunks = [
        chunk(0, "Cases of HBV rose in the region.", source="a.txt"),
        chunk(1, "Hepatitis B Virus infects the liver.", source="b.txt"),
    ]
    assert mine_acronyms(chunks)["HBV"].long == "Hepatitis B Virus"


def test_name_without_the_bare_acronym_is_not_an_acronym() -> None:
    # Nobody writes "WHO" here, so the name alone does not make an acronym.
    found = mine_acronyms([chunk(0, "Officials at the World Health Organization met in Geneva.")])
    assert "WHO" not in found


def test_news_agency_credit_is_not_an_acronym() -> None:
    found = mine_acronyms(
        [chunk(0, "TOKYO (Reuters) - Japan's exports rose for a third month in March.")]
    )
    assert "Reuters" not in found
    assert all(a.short != "Reuters" for a in found.values())


def test_parenthesis_whose_letters_do_not_match_is_not_a_definition() -> None:
    found = mine_acronyms([chunk(0, "The new shipping rules (XQZ) take effect in May.")])
    assert "XQZ" not in found


def test_infer_expansion_from_possessive_name() -> None:
    assert (
        infer_expansion("LDP", ["the Liberal Democratic Party's headquarters"])
        == "Liberal Democratic Party"
    )


def test_infer_expansion_none_when_no_name_matches() -> None:
    assert infer_expansion("LDP", ["the ruling party's headquarters in Tokyo"]) is None


def test_name_initials_lists_each_stretch() -> None:
    pairs = set(name_initials("The Liberal Democratic Party's Headquarters for Economic Security"))
    assert ("LDP", "Liberal Democratic Party") in pairs


def test_expand_query_spells_out_a_known_acronym() -> None:
    found = mine_acronyms([chunk(0, "The North Atlantic Treaty Organization (NATO) met.")])
    expanded = expand_query("When was NATO founded?", found)
    assert expanded.startswith("When was NATO founded?")
    assert "North Atlantic Treaty Organization" in expanded


def test_expand_query_abbreviates_a_known_long_form() -> None:
    found = mine_acronyms([chunk(0, "The North Atlantic Treaty Organization (NATO) met.")])
    expanded = expand_query("When was the north atlantic treaty organization founded?", found)
    assert "NATO" in expanded


def test_expand_query_leaves_other_questions_alone() -> None:
    found = mine_acronyms([chunk(0, "The North Atlantic Treaty Organization (NATO) met.")])
    assert expand_query("Where is the harbour?", found) == "Where is the harbour?"


# ---- chosen again from occurrences, as an index of segments does --------------------


PIECES = [
    "The Japan Bank for International Cooperation (JBIC) lent more.",
    "JBIC said on Monday it would lend again.",
    "Officials at Japan Bank for International Cooperation met.",
    "The Ministry of Economy, Trade and Industry (METI) spoke.",
    "METI and the Liberal Democratic Party agreed.",
    "The LDP and its Headquarters for Economic Security met.",
    "Liberal Democratic Party lawmakers said the LDP would act.",
    "The Economic Security Promotion Act (ESPA) has four pillars.",
    "ESPA took effect in 2022 and the ESPA review follows.",
    "The Quad met; Quadrilateral Security Dialogue (QSD) leaders spoke.",
    "QSD officials and the North Atlantic Council met.",
    "Nothing to see here, no acronym at all.",
]


def random_chunks(rng: random.Random) -> list[Chunk]:
    """Chunks of several files in corpus order (file, then position), ids as positions."""
    chunks: list[Chunk] = []
    for f in range(rng.randint(1, 8)):
        for n in range(rng.randint(1, 4)):
            text = " ".join(rng.sample(PIECES, rng.randint(1, 3)))
            chunks.append(Chunk(len(chunks), f"f{f}.txt", n + 1, n + 1, n + 1, text))
    return chunks


@pytest.mark.parametrize("seed", range(30))
def test_choosing_from_occurrences_of_live_files_equals_mining_the_live_chunks(seed):
    rng = random.Random(seed)
    chunks = random_chunks(rng)
    sources = sorted({c.source for c in chunks})
    dead = set(rng.sample(sources, rng.randint(0, len(sources) - 1)))
    # Files spread over runs (segments) in any order; each run in corpus order.
    runs_of = {s: rng.randint(0, 2) for s in sources}
    runs = []
    for number in range(3):
        held = [c for c in chunks if runs_of[c.source] == number]
        runs.append(
            OccurrenceRun(
                acronym_occurrences(held),
                source_of=lambda p, held=held: held[p].source,
                live=lambda p, held=held: held[p].source not in dead,
                chunk_at=lambda p, held=held: held[p],
            )
        )
    live = [c for c in chunks if c.source not in dead]
    assert choose_acronyms(runs) == mine_acronyms(live)
