"""The composer's parameters and rules: one frozen dataclass, an ordered table, any analyser."""

from __future__ import annotations

import dataclasses
import re

import pytest

from esqa.answer.compose import Composer
from esqa.answer.joins import JOINS
from esqa.answer.params import ComposerParams
from esqa.answer.question import analyse
from esqa.answer.sentences import FEATURES


def shouting(text: str) -> list[str]:
    """An analyser unlike bm25s's: no stemming, upper-case terms, few stop words."""
    return [w.upper() for w in re.findall(r"\w+", text) if w.lower() not in {"the", "a", "of"}]


def test_stop_terms_come_through_the_analyser_given() -> None:
    composer = Composer(shouting, lambda terms: dict.fromkeys(terms, 1.0), {})
    for question, terms in (
        ("How many ships did the navy order?", {"SHIPS", "NAVY", "ORDER"}),
        ("What year was the bridge opened?", {"BRIDGE", "OPENED"}),
        ("Besides Oslo, which cities joined?", {"CITIES", "JOINED"}),
    ):
        qt = composer.question_terms(analyse(question), [])
        assert set(qt.weights) == terms, question


def test_parameters_are_one_frozen_dataclass() -> None:
    params = ComposerParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.min_support = 0.1  # type: ignore[misc]
    assert set(dict(params.weights)) == set(FEATURES)  # every feature has a weight
    shorter = dataclasses.replace(params, max_answer_chars=200)
    composer = Composer(shouting, lambda terms: dict.fromkeys(terms, 1.0), {}, params=shorter)
    assert composer.params.max_answer_chars == 200


def test_the_joining_rules_are_an_ordered_table_of_named_rules() -> None:
    names = [name for name, _ in JOINS]
    assert names[0] == "previous sentence holds the value"
    assert len(set(names)) == len(names)
    assert all(callable(rule) for _, rule in JOINS)
