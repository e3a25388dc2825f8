"""Candidate answers and the classes questions ask for, read off hand-made sentences.

Each expectation is what a reader sees in the sentence: "$5 million" is an
amount, "Dr. Ana Silva" a person, "Ministry of Transport" an organisation.
"""

from __future__ import annotations

import pytest

from esqa.answer.candidates import CandidateAnswer, extract, given_by
from esqa.answer.question import analyse, focus_noun

STOP = {"the", "in", "on", "a", "an", "at", "of", "and", "we", "it", "this"}


def common(word: str) -> bool:
    return word.lower() in STOP


def found(sentence: str) -> dict[str, str]:
    """Candidate text -> kind."""
    out = {}
    for c in extract(sentence, common):
        assert sentence[c.start : c.end] == c.text  # offsets always point at the text
        out[c.text] = c.kind
    return out


@pytest.mark.parametrize(
    ("sentence", "text", "kind"),
    [
        ("The fund raised $5 million in its first week.", "$5 million", "money"),
        ("The budget rose to 40 million euros over a decade.", "40 million euros", "money"),
        ("About 35% of residents live near the shore.", "35%", "percentage"),
        ("Turnout fell to 48.5 percent this year.", "48.5 percent", "percentage"),
        ("Nearly one third of the town's homes flooded.", "Nearly one third", "percentage"),
        ("Two-thirds of the members voted for the plan.", "Two-thirds", "percentage"),
        ("The bridge was opened in September 1987 after six years.", "September 1987", "date"),
        ("The law took effect on June 30, 2017, after a long debate.", "June 30, 2017", "date"),
        ("Around 18,000 vehicles cross the bridge every day.", "Around 18,000", "number"),
        ("The survey covered twelve villages of the valley.", "twelve", "number"),
        ("The plan was presented by Dr. Ana Silva to the council.", "Ana Silva", "person"),
        ("The dress was designed by Vera Wang for the gala.", "Vera Wang", "person"),
        ("Marta Gomez, a senior engineer, led the inspection.", "Marta Gomez", "person"),
        ("The Ministry of Transport approved the tunnel.", "Ministry of Transport", "organisation"),
        ("Officials from the Bank of Portwell attended.", "Bank of Portwell", "organisation"),
        ("Engineers from NASA joined the review.", "NASA", "organisation"),
        ("The delegates met in Reykjavik on Monday.", "Reykjavik", "place"),
        ("Her novel “The Quiet Harbour” won the prize.", "The Quiet Harbour", "work"),
    ],
)
def test_a_candidate_of_each_kind_is_found_and_typed(sentence: str, text: str, kind: str) -> None:
    assert found(sentence).get(text) == kind


def test_a_capitalised_first_word_is_not_a_name() -> None:
    names = found("Researchers found that the tunnel leaked. We must act now, she said.")
    assert "Researchers" not in names and "We" not in names


def test_a_function_word_opening_a_name_is_left_out() -> None:
    assert "Ministry of Transport" in found("The Ministry of Transport approved the tunnel.")
    assert "The Ministry of Transport" not in found(
        "The Ministry of Transport approved the tunnel."
    )


def test_a_title_is_not_part_of_a_name() -> None:
    names = found("Secretary General Lina Park said the talks would go on.")
    assert "Lina Park" in names


def test_an_amount_is_not_also_a_number() -> None:
    kinds = [c.kind for c in extract("It cost $5 million.", common)]
    assert kinds == ["money"]


@pytest.mark.parametrize(
    ("sentence", "relative"),
    [
        ("She came back 1 month later with a fever.", "1 month later"),
        ("Two weeks later, the council voted again.", "Two weeks later"),
        ("The two lineages split between 100 and 840 years ago.", "between 100 and 840 years ago"),
    ],
)
def test_a_date_given_as_a_distance_answers_when(sentence: str, relative: str) -> None:
    dates = [c.text for c in extract(sentence, common, frozenset({"date"}))]
    assert relative in dates
    # Asked "how many", the same sentence still offers the number itself.
    numbers = [c.text for c in extract(sentence, common, frozenset({"number"}))]
    assert relative not in numbers and numbers


def test_a_number_inside_a_label_is_not_a_quantity() -> None:
    assert not any(c.kind == "number" for c in extract("Cases of COVID-19 were reported.", common))


def test_a_year_that_opens_a_name_is_not_a_date() -> None:
    # "2019-nCoV" names a virus; the date of the sentence is still found.
    dates = [c.text for c in extract("The 2019-nCoV outbreak began in May 2019.", common)]
    assert dates == ["May 2019"]


@pytest.mark.parametrize(
    "sentence",
    [
        "The plan was endorsed by the council [4] [7, 9-11] .",  # references
        "Residents named (1) the cost and (2) the noise.",  # item labels
    ],
)
def test_references_and_item_labels_are_not_quantities(sentence: str) -> None:
    assert not [c.text for c in extract(sentence, common) if c.kind == "number"]


def test_a_fraction_is_a_share_only_of_something() -> None:
    # "half an hour" is no share; "half of the votes" is.
    assert not [
        c for c in extract("The talks lasted half an hour.", common) if c.kind == "percentage"
    ]
    shares = [c.text for c in extract("Half of the votes were counted.", common)]
    assert shares == ["Half"]


def test_a_quantity_in_brackets_is_still_one() -> None:
    numbers = [c.text for c in extract("Turnout was high (about 5,000 voters) [3].", common)]
    assert numbers == ["about 5,000"]


PLACE_KINDS = frozenset({"place", "name", "organisation", "location"})


@pytest.mark.parametrize(
    ("sentence", "place"),
    [
        ("The protein moves to the nucleus within hours.", "nucleus"),
        ("The virus replicates in the lining of the nose.", "lining of the nose"),
        ("The hormone was first found in human urine.", "human urine"),
        ("The talks were held at a hotel near the airport.", "hotel"),
    ],
)
def test_a_place_named_by_a_common_noun_answers_where(sentence: str, place: str) -> None:
    locations = {c.text: c.kind for c in extract(sentence, common, PLACE_KINDS)}
    assert locations.get(place) == "location"


@pytest.mark.parametrize(
    "sentence",
    [
        "In addition, the council voted to protect the shore.",  # a fixed phrase, an infinitive
        "The share rose from 2 to 5 percent.",  # a range
        "The vote is at least a start.",
    ],
)
def test_phrases_that_only_look_like_places_are_not_locations(sentence: str) -> None:
    assert not [c.text for c in extract(sentence, common, PLACE_KINDS) if c.kind == "location"]


def test_a_named_place_stays_a_name_and_locations_are_asked_for_by_where_only() -> None:
    assert {c.text: c.kind for c in extract("They met in Reykjavik.", common, PLACE_KINDS)} == {
        "Reykjavik": "place"
    }
    assert "location" in analyse("Where was the hormone first found?").expected_kinds
    assert "location" not in analyse("Who designed the dress?").expected_kinds


@pytest.mark.parametrize(
    ("question", "sentence", "answers"),
    [
        ("Who met Anna Berg in Oslo?", "Anna Berg met Piet Vos in Oslo.", ["Piet Vos"]),
        ("Where did Japan's delegates meet?", "Japan's delegates met in Helsinki.", ["Helsinki"]),
    ],
)
def test_a_candidate_the_question_gives_is_not_an_answer(
    question: str, sentence: str, answers: list[str]
) -> None:
    assert [c.text for c in extract(sentence, common) if not given_by(c, question)] == answers


def test_given_by_compares_whole_words() -> None:
    bank = CandidateAnswer("Bank of Japan", 0, 13, "organisation")
    assert not given_by(bank, "What did Japan's cabinet approve?")
    assert given_by(CandidateAnswer("Japan", 0, 5, "place"), "What did Japan's cabinet approve?")


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("Which baseball team's owner announced he may sell the franchise?", "team"),
        ("Which state has the most confirmed cases of measles?", "state"),
        ("What planet did the probe reach first?", "planet"),
        ("Which Western European country has the lowest attack rate?", "country"),
        ("What variant was found in the samples?", "variant"),
        ("What is the capital of Norway?", None),
        ("What will the council decide?", None),
        ("Who designed the dress?", None),
        # The focus stops before a verb, listed or not ("won", "built").
        ("Which team won the cup?", "team"),
        ("Which company built the tunnel?", "company"),
        ("Which think tank hosted the forum in Delhi?", "tank"),
        ("Which of the bridges opened first?", None),
        # A type of something is named by modifiers, not by a name beside it.
        ("What type of vaccine did the clinic use?", None),
        ("What kind of boats does the ferry line run?", None),
        # "How many" names the class it counts.
        ("How many different species were found in the pond?", "species"),
        ("How many people live on the island?", "people"),
    ],
)
def test_the_focus_noun_is_the_class_the_question_names(question: str, focus: str | None) -> None:
    assert focus_noun(question) == focus


@pytest.mark.parametrize(
    ("question", "possessive"),
    [
        ("Which baseball team's owner announced he may sell the franchise?", True),
        ("Which company’s chief executive resigned?", True),
        ("What variant was found in the samples?", False),
        ("Which team won the title?", False),
    ],
)
def test_a_focus_given_as_a_possessive_is_told_apart(question: str, possessive: bool) -> None:
    # "Which team's owner": the sentence about the owner need not name the team.
    assert analyse(question).focus_possessive is possessive


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who designed the dress?", "person"),
        ("Where was the summit held?", "place"),
        ("When did the bridge open?", "date"),
        ("How much has her fund raised?", "number"),
        ("What percentage of voters turned out?", "percentage"),
        ("Which company built the tunnel?", "organisation"),
        ("Which team won the cup?", "name"),
    ],
)
def test_each_question_asks_for_candidates_of_its_kind(question: str, kind: str) -> None:
    assert kind in analyse(question).expected_kinds


def test_open_questions_ask_for_no_candidate() -> None:
    for question in ("Why did the council close the bridge?", "What is a sea wall?"):
        assert analyse(question).expected_kinds == frozenset()
