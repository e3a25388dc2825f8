"""Acronym mining on hand-made chunks: definitions in parentheses and names by initials."""

from __future__ import annotations

from esqa.answer.compose import expand_query
from esqa.ingest.acronyms import infer_expansion, mine_acronyms, name_initials
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
    assert nato.chunk == 0


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
    assert who.chunk == 1


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
