"""The sentence features that read where and how a sentence holds the question:
soft coverage through word vectors, the position of the question's terms, the
share of symbols, and the similarities of the neighbouring sentences."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_evidence import tiny_vectors

from esqa.answer.compose import Composer
from esqa.answer.paraphrase import WordVectors
from esqa.answer.sentences import FEATURES, Sentence, SentenceSpace
from esqa.types import Chunk, Hit


def _terms(text: str) -> list[str]:
    words = text.lower().replace(".", " ").replace("?", " ").replace(",", " ").split()
    return [w for w in words if len(w) > 2 and w not in {"the", "what", "did", "does"}]


def _composer(vectors: WordVectors | None = None, space: SentenceSpace | None = None) -> Composer:
    return Composer(_terms, lambda ts: dict.fromkeys(ts, 1.0), {}, vectors=vectors, space=space)


def _hit(*sentences: str) -> Hit:
    text = " ".join(sentences)
    spans, at = [], 0
    for s in sentences:
        spans.append((at, at + len(s)))
        at += len(s) + 1
    chunk = Chunk(
        id=0, source="a.txt", paragraph=1, line_start=1, line_end=1, text=text,
        sentences=tuple(spans),
    )  # fmt: skip
    return Hit(chunk=chunk, score=1.0, dense_score=0.5, lexical_score=1.0)


def _feature(sentences: list[Sentence], text: str, name: str) -> float:
    return next(s for s in sentences if s.text == text).features[FEATURES.index(name)]


def test_a_word_close_to_a_question_word_counts_towards_soft_coverage() -> None:
    e = np.eye(4)
    vectors = tiny_vectors(
        {"vessels": e[0] + 0.3 * e[1], "ships": e[0], "navy": e[2], "bread": e[3]}
    )
    same = "The navy ordered ships."
    close = "The navy ordered vessels."
    unrelated = "The navy ordered bread."
    unknown = "Quietly, nothing."  # none of its words has a vector
    ev = _composer(vectors).weigh(
        "What ships did the navy order?", [_hit(same, close, unrelated, unknown)]
    )
    soft = {
        t: _feature(ev.sentences, t, "soft_coverage") for t in (same, close, unrelated, unknown)
    }
    assert soft[same] == pytest.approx(1.0)
    assert soft[same] > soft[close] > soft[unrelated] > 0.0
    assert soft[unknown] == 0.0


def test_soft_coverage_is_the_same_whatever_the_sentences_around_it() -> None:
    # The passage's sentences are scored together; a sentence without a known
    # word (first, last, or between) must not shift the others' values.
    e = np.eye(3)
    vectors = tiny_vectors({"ships": e[0], "vessels": e[0] + 0.5 * e[1], "navy": e[2]})
    question = "What ships did the navy order?"
    alone = _composer(vectors).weigh(question, [_hit("The navy ordered vessels.")])
    expected = _feature(alone.sentences, "The navy ordered vessels.", "soft_coverage")
    for sentences in (
        ("Quietly, nothing.", "The navy ordered vessels."),
        ("The navy ordered vessels.", "Quietly, nothing."),
        ("Quietly, nothing.", "The navy ordered vessels.", "Quietly, nothing."),
    ):
        ev = _composer(vectors).weigh(question, [_hit(*sentences)])
        assert _feature(ev.sentences, "The navy ordered vessels.", "soft_coverage") == (
            pytest.approx(expected)
        )


def test_what_a_sentence_adds_after_the_question_terms_is_measured() -> None:
    restates = "Harbour Yards built the frigates."
    answers = "Harbour Yards built the frigates in Portwell during 1998 with steel from Ashdale."
    ev = _composer().weigh("Where did Harbour Yards build the frigates?", [_hit(restates, answers)])
    assert _feature(ev.sentences, restates, "after") == 0.0
    assert _feature(ev.sentences, answers, "after") > 0.4


def test_a_sentence_that_opens_with_the_question_term_is_about_it() -> None:
    opens = "Ashdale cider is a dry drink pressed from late apples."
    late = "Farmers sold their apples, much of them to the makers of ashdale cider, in May."
    ev = _composer().weigh("What is Ashdale cider?", [_hit(opens, late)])
    assert _feature(ev.sentences, opens, "subject") == 1.0
    assert _feature(ev.sentences, opens, "first_term") == 0.0
    assert _feature(ev.sentences, late, "subject") == 0.0
    assert _feature(ev.sentences, late, "first_term") > 0.5


def test_tables_and_references_have_a_high_share_of_symbols() -> None:
    prose = "Portwell counted that few buses had been late by March."
    table = "Portwell 4.2% [1.10%-7.3%] (12)"
    ev = _composer().weigh("How many buses were late in Portwell?", [_hit(prose, table)])
    assert _feature(ev.sentences, table, "symbols") > 0.4
    assert _feature(ev.sentences, prose, "symbols") < 0.05


def test_the_neighbours_and_the_passage_similarities_come_from_the_sentence_vectors() -> None:
    texts = ("Bats roost in caves.", "Bats carry many viruses.", "Caves are cold.")
    question = np.array([1.0, 0.0])
    rows = np.array([[0.2, 0.98], [0.9, 0.436], [0.6, 0.8]], dtype=np.float32)
    space = SentenceSpace(lambda q: question, lambda chunk: rows)
    ev = _composer(space=space).weigh("What do bats carry?", [_hit(*texts)])
    middle = texts[1]
    assert _feature(ev.sentences, middle, "previous_dense") == pytest.approx(0.2)
    assert _feature(ev.sentences, middle, "next_dense") == pytest.approx(0.6)
    assert _feature(ev.sentences, texts[0], "previous_dense") == 0.0
    assert _feature(ev.sentences, texts[2], "next_dense") == 0.0
    for text in texts:
        assert _feature(ev.sentences, text, "passage_dense") == pytest.approx(0.9)


def test_the_ranker_s_probability_of_the_best_sentence_is_part_of_the_confidence() -> None:
    answer = "Harbour Yards built the frigates in Portwell during 1998."
    unrelated = ("Bread prices rose.", "The weather stayed cold.", "Trains ran late.")
    tied = "Harbour Yards built the frigates in Portwell."
    composer = _composer()
    question = "Where did Harbour Yards build the frigates?"
    clear = composer.weigh(question, [_hit(answer, *unrelated)])
    even = composer.weigh(question, [_hit(tied), _hit(tied), _hit(tied)])
    assert clear.best is not None and clear.best.text == answer
    # Three copies of one sentence share the ranker's belief; one sentence that
    # alone covers the question holds most of it.
    assert even.probability < 0.5 < clear.probability
    # The same evidence but a clear favourite: more confident.
    assert composer.confidence(clear) > composer.confidence(
        dataclasses.replace(clear, probability=even.probability)
    )
