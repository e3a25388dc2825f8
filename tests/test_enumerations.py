"""Enumerations in running text: the announced count, the noun and the items' offsets."""

from __future__ import annotations

import pytest

from esqa.answer.enumerations import find_enumeration, parse_ordinal, same_noun


def items_of(sentence: str) -> list[str]:
    enum = find_enumeration(sentence)
    assert enum is not None, sentence
    return [sentence[a:b] for a, b in enum.items]


def test_comma_list_with_oxford_comma() -> None:
    sentence = "The plan has three parts: A, B, and C."
    enum = find_enumeration(sentence)
    assert enum is not None
    assert enum.count == 3
    assert enum.noun == "parts"
    assert [sentence[a:b] for a, b in enum.items] == ["A", "B", "C"]


def test_items_of_a_real_sentence_shape() -> None:
    sentence = (
        "The strategy has four pillars: building sea walls, restoring wetlands, "
        "relocating pumping stations, and training volunteer wardens."
    )
    assert items_of(sentence) == [
        "building sea walls",
        "restoring wetlands",
        "relocating pumping stations",
        "training volunteer wardens",
    ]


def test_semicolon_list_keeps_commas_inside_items() -> None:
    sentence = (
        "The law has three goals: securing supplies of chips, batteries and rare earths; "
        "protecting ports; and funding research."
    )
    assert items_of(sentence) == [
        "securing supplies of chips, batteries and rare earths",
        "protecting ports",
        "funding research",
    ]


def test_or_joins_the_last_item() -> None:
    assert items_of("Buyers may choose one of three colours: red, green, or blue.") == [
        "red",
        "green",
        "blue",
    ]


def test_numeric_count() -> None:
    enum = find_enumeration("The report lists 3 risks: floods, fires, and droughts.")
    assert enum is not None
    assert enum.count == 3


def test_several_accepts_any_number_of_items() -> None:
    enum = find_enumeration("Officials named several ports: Kobe, Osaka, Nagoya, and Yokohama.")
    assert enum is not None
    assert enum.count == 0
    assert len(enum.items) == 4


def test_count_mismatch_is_not_an_enumeration() -> None:
    assert find_enumeration("The strategy has four pillars: a, b.") is None


def test_sentence_without_a_list_is_not_an_enumeration() -> None:
    assert find_enumeration("The strategy has four pillars and many supporters.") is None


def test_item_by_ordinal_and_last() -> None:
    sentence = "The plan has three parts: alpha, beta, and gamma."
    enum = find_enumeration(sentence)
    assert enum is not None
    first, second, last = (enum.item(n) for n in (1, 2, -1))
    assert first is not None and second is not None and last is not None
    assert sentence[first[0] : first[1]] == "alpha"
    assert sentence[second[0] : second[1]] == "beta"
    assert sentence[last[0] : last[1]] == "gamma"
    assert enum.item(-1) == enum.item(3)


def test_item_out_of_range_is_none() -> None:
    enum = find_enumeration("The plan has three parts: alpha, beta, and gamma.")
    assert enum is not None
    assert enum.item(4) is None
    assert enum.item(0) is None


def test_list_without_oxford_comma() -> None:
    assert items_of("The plan has three parts: planning, building and testing.") == [
        "planning",
        "building",
        "testing",
    ]


def test_two_items_joined_by_and() -> None:
    assert items_of("The deal covers two minerals: lithium and cobalt.") == ["lithium", "cobalt"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what is the third step", (3, "step")),
        ("What is ESPA's fourth pillar?", (4, "pillar")),
        ("the 5th goal", (5, "goal")),
        ("the last item", (-1, "item")),
        ("The FINAL Stage", (-1, "stage")),
        ("how many steps are there", None),
    ],
)
def test_parse_ordinal(text: str, expected: tuple[int, str] | None) -> None:
    assert parse_ordinal(text) == expected


@pytest.mark.parametrize(
    ("plural", "noun", "same"),
    [
        ("pillars", "pillar", True),
        ("Pillars", "pillar", True),
        ("companies", "company", True),
        ("boxes", "box", True),
        ("steps", "steps", True),
        ("pillars", "step", False),
        ("parts", "partner", False),
    ],
)
def test_same_noun(plural: str, noun: str, same: bool) -> None:
    assert same_noun(plural, noun) is same
