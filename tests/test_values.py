"""Does a sentence hold what the question asks for? Read off hand-made sentences."""

from __future__ import annotations

import pytest

from esqa.answer.values import has_value


@pytest.mark.parametrize(
    "sentence",
    [
        "EGR1 is a transcription factor that binds DNA.",
        "Chikungunya virus (CHIKV), an arthropod-borne virus, spreads through mosquito bites.",
        "In this review, EGR1 refers to the early growth response gene.",
    ],
)
def test_a_sentence_that_defines_the_term_asked_about(sentence: str) -> None:
    question = "What is EGR1?" if "EGR1" in sentence else "What is chikungunya virus?"
    assert has_value(sentence, "definition", question)


@pytest.mark.parametrize(
    "sentence",
    [
        "The expression of EGR1 is altered after infection.",  # "is" belongs to "expression"
        "Transcription factors are proteins that bind DNA.",  # defines something else
    ],
)
def test_a_sentence_that_only_mentions_the_term_does_not_define_it(sentence: str) -> None:
    assert not has_value(sentence, "definition", "What is EGR1?")


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # A plural term is defined without an article.
        ("What are sea walls?", "Sea walls are concrete barriers built along a shore."),
        # The definition names the term after describing it.
        ("What is the tide gauge?", "Engineers installed a sensor known as the tide gauge."),
    ],
)
def test_a_plural_term_or_one_named_after_its_description_is_defined(
    question: str, sentence: str
) -> None:
    assert has_value(sentence, "definition", question)


def test_a_plural_term_that_is_only_described_is_not_defined() -> None:
    assert not has_value(
        "Sea walls are not enough, the mayor said.", "definition", "What are sea walls?"
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "The bridge opened in September 1987.",
        "Dredging is due to start in the spring, the authority said.",
        "The plant will open in the second half of the year.",
        "Talks resume next week.",
    ],
)
def test_a_date_or_a_time_of_year_is_a_value_for_when_questions(sentence: str) -> None:
    assert has_value(sentence, "date")


def test_a_sentence_without_a_time_is_no_answer_to_when() -> None:
    assert not has_value("The bridge opened after six years of work.", "date")


def test_a_person_already_named_in_the_question_is_not_an_answer() -> None:
    question = "Who did Helena Marsh meet?"
    assert not has_value("Helena Marsh spoke on Monday.", "person", question)
    assert has_value("Helena Marsh met Tom Ward on Monday.", "person", question)
