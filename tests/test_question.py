"""Question analysis: the answer type, ordinal and acronym a question asks for.

Expectations come from what the question words mean ("when" asks for a date),
as the module docstring of esqa.answer.question describes.
"""

from __future__ import annotations

import pytest

from esqa.answer.question import ANSWER_TYPES, analyse


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did the harbour authority publish its plan?", "date"),
        ("What year was the bridge opened?", "date"),
        ("In what year did the council approve the budget?", "date"),
        ("On which date will the summit take place?", "date"),
        ("What is the date of the first harbour festival?", "date"),
        ("What was the year in which the bridge opened?", "date"),
        ("What is the day care policy of the city?", "definition"),
        ("How many volunteers joined the clean-up?", "number"),
        ("How many panels were held at the forum?", "number"),
        ("What share of the city's residents live near the shore?", "percentage"),
        ("What percentage of the budget goes to research?", "percentage"),
        ("What proportion of imports came from abroad?", "percentage"),
        ("What is the share of imports that came from abroad?", "percentage"),
        ("Who chaired the opening session?", "person"),
        ("Who is the director of the museum?", "person"),
        ("Whose plan did the council adopt?", "person"),
        # "WHO" in capitals is the World Health Organization, not "who".
        ("What is the WHO guidance on masks in schools?", "definition"),
        ("What did the WHO recommend for travellers?", "other"),
        ("Where was the summit held?", "place"),
        ("In which city did the ministers meet?", "place"),
        ("Why did the ministry hold an emergency meeting?", "reason"),
        ("Which companies are investing in the new factory?", "list"),
        ("What companies signed the agreement?", "list"),
    ],
)
def test_answer_type_of_clearly_typed_questions(question: str, expected: str) -> None:
    assert analyse(question).answer_type == expected


def test_every_answer_type_is_a_known_one() -> None:
    questions = [
        "When?",
        "Who won?",
        "Tell me something about the harbour",
        "What does the report say?",
        "How much money was spent on the bridge?",
    ]
    for question in questions:
        assert analyse(question).answer_type in ANSWER_TYPES + ("ordinal",)


@pytest.mark.parametrize(
    ("question", "acronym"),
    [
        ("What does NATO stand for?", "NATO"),
        ("what does NATO stand for", "NATO"),
        ("What does the acronym CRA stand for?", "CRA"),
        ("What is the full form of WHO?", "WHO"),
        ("What does METI mean?", "METI"),
    ],
)
def test_acronym_questions_name_the_acronym(question: str, acronym: str) -> None:
    q = analyse(question)
    assert q.answer_type == "acronym"
    assert q.acronym == acronym


def test_acronym_with_dots_is_returned_without_them() -> None:
    q = analyse("What does U.N. stand for?")
    assert q.answer_type == "acronym"
    assert q.acronym == "UN"


def test_lowercase_word_is_not_taken_for_an_acronym() -> None:
    # "stand for" after an ordinary word is not an acronym question.
    q = analyse("What does the mayor stand for?")
    assert q.answer_type != "acronym"
    assert q.acronym is None


@pytest.mark.parametrize(
    ("question", "ordinal", "noun"),
    [
        ("what is the third step", 3, "step"),
        ("What is the first pillar of the strategy?", 1, "pillar"),
        ("What is the 2nd goal?", 2, "goal"),
        ("What was the fourth recommendation?", 4, "recommendation"),
        ("What is the last item on the list?", -1, "item"),
        ("what was the final stage", -1, "stage"),
    ],
)
def test_ordinal_questions(question: str, ordinal: int, noun: str) -> None:
    q = analyse(question)
    assert q.ordinal == ordinal
    assert q.ordinal_noun == noun


def test_question_without_an_ordinal_has_none() -> None:
    q = analyse("How many pillars does the strategy have?")
    assert q.ordinal is None
    assert q.ordinal_noun is None


def test_question_text_is_whitespace_normalised() -> None:
    q = analyse("  When   was\nthe bridge\topened? ")
    assert q.text == "When was the bridge opened?"
    assert q.answer_type == "date"


def test_untyped_question_is_other_not_a_guess() -> None:
    # Nothing in this question names an answer type.
    assert analyse("Tell me about the harbour plan").answer_type == "other"
