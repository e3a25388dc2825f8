"""esqa.answer.spelling: a question term misspelt against the passages read."""

from __future__ import annotations

from collections import Counter

import pytest
from test_sentence_vectors import _composer, _hit

from esqa.answer.spelling import corrections, distance


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [
        ("carageenan", "carrageenan", 1),  # a letter left out
        ("zanamavir", "zanamivir", 1),  # one replaced
        ("recieve", "receive", 1),  # two swapped
        ("kitten", "sitting", 3),
        ("same", "same", 0),
    ],
)
def test_distance_counts_insertions_deletions_substitutions_and_swaps(a, b, edits):
    assert distance(a, b, 5) == edits
    assert distance(a, b, 0) == min(edits, 1)


def test_a_term_the_passages_lack_stands_for_their_closest_word():
    passages = Counter({"carrageenan": 3, "zanamivir": 2, "carrageenin": 1, "influenza": 9})
    fixed = corrections(["carageenan", "zanamavir", "influenza", "oseltamivir"], passages)
    # The most frequent of equally close words; a term the passages hold stays;
    # a term with no close word stays.
    assert fixed == {"carageenan": "carrageenan", "zanamavir": "zanamivir"}


def test_short_terms_other_first_letters_and_far_words_are_not_guessed():
    passages = Counter({"date": 4, "barrageenan": 2, "vaccination": 3})
    assert corrections(["rate", "carrageenan", "vacination", "vcinatn"], passages) == {
        "vacination": "vaccination"
    }


def test_a_question_with_a_misspelt_word_covers_the_sentence_as_the_right_spelling_does():
    text = "Carrageenan is a sulfated polymer. Zanamivir blocks influenza."
    first = text.index(".") + 1
    hit = _hit(text, ((0, first), (first + 1, len(text))))
    composer = _composer(None)
    right = composer.weigh("What is carrageenan made of?", [hit])
    wrong = composer.weigh("What is carageenan made of?", [hit])
    assert right.best is not None and wrong.best is not None
    assert wrong.best.text == right.best.text == text[:first]
    assert wrong.best.coverage == right.best.coverage > 0
