"""Answers that name the answer: candidates weighed across passages, the span, declining.

Small made-up corpora, indexed with the fake embedder; each expectation is
read off the articles (who the articles say designed the dress, which
sentence names the team).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import HashedEmbedder, write_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esqa import api
from esqa.answer.paraphrase import WordVectors
from esqa.types import Answer

NEWS = {
    "dress-a.txt": (
        "Gala Night Dazzles\n\n"
        "The red dress worn at the gala was designed by Vera Wang, organisers said.\n"
    ),
    "dress-b.txt": (
        "Fashion Notes\n\nDesigner Vera Wang made the red dress for the gala, her studio confirmed.\n"
    ),
    "dress-c.txt": (
        "Gossip Column\n\nThe red dress worn at the gala was designed by Tom Ford, a blog claimed.\n"
    ),
    "team.txt": (
        "Owner Weighs Sale\n\n"
        "Team owner John Fisher announced on Tuesday that he has begun a formal process that "
        "could result in selling the franchise.\n\n"
        "Fisher has owned the Seagulls team since 2005, and attendance has fallen every season.\n"
    ),
    "enzyme.txt": (
        "How Bread Is Digested\n\n"
        "Salivary amylase is used to break down the starch of bread in the mouth, digestion "
        "researchers found in a study of bread and starch digestion.\n"
    ),
    "plant.txt": (
        "Factory News\n\nThe Kellogg enzyme plant closed after a fire in the warehouse.\n"
    ),
    "tick.txt": (
        "Tick Fever Spreads\n\n"
        "Doctors in the valley reported new cases of ZQX this week.\n\n"
        "ZQX is a virus carried by ticks, doctors said.\n"
    ),
    "council.txt": (
        "Bridge Talks\n\nThe Atlantic Bridge Council met in Lisbon on Monday to discuss tolls.\n"
    ),
    "guide.txt": (
        "Health Guide\n\n"
        "Distancing and the spread of the flu virus\n\n"
        "Keeping two metres apart slows the spread of the flu virus, doctors said.\n"
    ),
    "dome.txt": (
        "Glass Dome Restored\n\n"
        "The curator restored the museum's glass dome with a team of volunteers.\n"
    ),
    "fund.txt": (
        "Charity Fund Grows\n\n"
        "Her fund raised millions in its first year, supporters said.\n\n"
        "By the end of the year the charity fund had raised $4.2 million from 9,000 donors.\n"
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("evidence") / "corpus", NEWS)


@pytest.fixture(scope="module")
def qa(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> api.QA:
    index = tmp_path_factory.mktemp("evidence-index") / "idx"
    return api.load(index, corpus, embedder=HashedEmbedder())


def lines_of(corpus: Path, answer: Answer) -> str:
    c = answer.citations[0]
    lines = (corpus / c.source).read_text(encoding="utf-8").split("\n")
    return "\n".join(lines[c.line_start - 1 : c.line_end])


def test_the_candidate_several_articles_support_wins(qa: api.QA) -> None:
    # Two articles say Vera Wang, one says Tom Ford, in sentences alike.
    answer = qa.ask("Who designed the red dress worn at the gala?")
    assert answer.answered
    assert answer.span is not None and answer.span.text == "Vera Wang"
    assert "Vera Wang" in answer.text


def test_the_sentence_naming_the_class_asked_for_beats_the_one_restating_the_question(
    qa: api.QA,
) -> None:
    answer = qa.ask("Which baseball team's owner announced he may sell the franchise?")
    assert answer.answered
    assert answer.span is not None and answer.span.text == "Seagulls"
    assert "Seagulls" in answer.text


def test_a_weak_name_beside_the_class_noun_does_not_replace_the_sentence_that_answers(
    qa: api.QA,
) -> None:
    # "Kellogg enzyme" is a name beside the class noun, in a passage about
    # something else; the best sentence answers in words (no name to extract).
    answer = qa.ask("Which enzyme is used to break down the starch of bread in the mouth?")
    assert answer.answered
    assert "Salivary amylase" in answer.text
    assert "Kellogg" not in answer.text


def test_an_acronym_nobody_spells_out_is_answered_by_its_definition(qa: api.QA) -> None:
    answer = qa.ask("What is ZQX?")
    assert answer.answered and answer.answer_type == "definition"
    assert "ZQX is a virus carried by ticks" in answer.text
    # Asked what it stands for, the articles do not say.
    assert qa.ask("What does ZQX stand for?").answer_type == "acronym"


def test_an_acronym_is_expanded_from_a_name_in_the_passages_read(qa: api.QA) -> None:
    # The corpus never writes "ABC", so the index mined no expansion for it.
    answer = qa.ask("What does ABC stand for?")
    assert answer.answered
    assert answer.text == "Atlantic Bridge Council"
    assert answer.span is not None and answer.span.text == "Atlantic Bridge Council"


def test_a_heading_that_restates_the_question_is_not_the_answer(qa: api.QA) -> None:
    answer = qa.ask("How does distancing slow the spread of the flu virus?")
    assert answer.answered
    assert answer.citations[0].quote.startswith("Keeping two metres apart")


def test_the_figure_beats_the_vague_word(qa: api.QA) -> None:
    answer = qa.ask("How much has the charity fund raised?")
    assert answer.answered
    assert "$4.2 million" in answer.text
    assert answer.span is not None and answer.span.text.startswith("$4.2 million")


def test_a_question_for_a_date_is_declined_when_no_sentence_holds_one(qa: api.QA) -> None:
    answer = qa.ask("When was the museum's glass dome restored?")
    assert not answer.answered
    assert answer.span is None


def test_spans_are_substrings_of_the_quote_of_the_cited_lines(qa: api.QA, corpus: Path) -> None:
    for question in (
        "Who designed the red dress worn at the gala?",
        "How much has the charity fund raised?",
        "How many donors gave to the charity fund?",
    ):
        answer = qa.ask(question)
        assert answer.span is not None, question
        quote = answer.citations[0].quote
        assert quote[answer.span.start : answer.span.end] == answer.span.text
        assert quote in lines_of(corpus, answer)


def test_a_definition_answer_has_no_span(qa: api.QA) -> None:
    answer = qa.ask("What is a formal process?")
    assert answer.span is None


# --- paraphrase -----------------------------------------------------------


def tiny_vectors(pairs: dict[str, np.ndarray]) -> WordVectors:
    words = list(pairs)
    matrix = np.stack([pairs[w] for w in words]).astype(np.float32)
    return WordVectors(matrix, {w: i for i, w in enumerate(words)})


def test_a_close_variant_of_a_question_word_counts_as_present(
    tmp_path: Path, fake_embedder: HashedEmbedder
) -> None:
    corpus = write_corpus(
        tmp_path / "c",
        {
            "navy.txt": "Navy Orders Ships\n\nThe French navy ordered four ships from Harbour Yards.\n",
            "other.txt": "Budget Talks\n\nThe navy budget talks ended without a deal.\n",
        },
    )
    qa = api.load(tmp_path / "idx", corpus, embedder=fake_embedder)
    question = "How many ships did the navy of France order?"
    plain = qa.composer
    e = np.eye(4)
    vectors = tiny_vectors(
        {"france": e[0] + 0.2 * e[1], "french": e[0], "ships": e[2], "navy": e[3]}
    )
    paraphrasing = plain.__class__(
        plain._terms, plain._idf, plain.acronyms, plain._neighbours, vectors, plain.params
    )
    hits = qa.passages(question)
    without = plain.weigh(question, hits)
    with_variants = paraphrasing.weigh(question, hits)
    french = next(s for s in with_variants.sentences if "French" in s.text)
    french_before = next(s for s in without.sentences if "French" in s.text)
    assert french.coverage > french_before.coverage  # "French" stands for "France"
    answer = paraphrasing.compose(question, hits)
    assert answer.answered and "four ships" in answer.text


def test_word_vectors_read_from_a_safetensors_file(tmp_path: Path) -> None:
    import json
    import struct

    matrix = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1]], dtype=np.float32)
    header = {
        "embeddings.word_embeddings.weight": {
            "dtype": "F32",
            "shape": list(matrix.shape),
            "data_offsets": [0, matrix.nbytes],
        }
    }
    raw = json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(
        struct.pack("<Q", len(raw)) + raw + matrix.tobytes()
    )
    (tmp_path / "vocab.txt").write_text("france\nfrench\nharbour\n", encoding="utf-8")
    vectors = WordVectors.open(tmp_path)
    assert vectors is not None
    assert vectors.similarity("france", "french") > 0.9
    assert vectors.similarity("france", "harbour") == pytest.approx(0.0)
    assert vectors.variants(["france"], ["french", "harbour"], 0.6) == {
        "france": {"french": pytest.approx(vectors.similarity("france", "french"))}
    }
    assert WordVectors.open(tmp_path / "missing") is None


@pytest.mark.real
def test_the_bundled_model_puts_a_country_next_to_its_adjective() -> None:
    from esqa.embed.base import bundled_model_path

    vectors = WordVectors.open(bundled_model_path())
    assert vectors is not None
    assert vectors.similarity("france", "french") >= 0.6
    assert vectors.similarity("japan", "japanese") >= 0.6
    assert vectors.similarity("france", "bridge") < 0.3


# --- the span is always inside the quote, the quote inside the cited lines --

NAMES = st.sampled_from(["Ashdale", "Northfield", "Portwell", "Millbrook", "Eastholm"])
NOUNS = st.sampled_from(["buses", "bridges", "schools", "parks", "clinics"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    town=NAMES,
    noun=NOUNS,
    count=st.integers(2, 9_999),
    year=st.integers(1950, 2030),
    wrap=st.booleans(),
)
def test_span_offsets_property(
    tmp_path_factory: pytest.TempPathFactory,
    town: str,
    noun: str,
    count: int,
    year: int,
    wrap: bool,
) -> None:
    root = tmp_path_factory.mktemp("span")
    sentence = f"In {year} the {town} council approved {count:,} new {noun} for the county."
    if wrap:  # a hard-wrapped line inside the paragraph
        sentence = sentence.replace(" approved ", "\napproved ", 1)
    corpus = write_corpus(
        root / "c",
        {
            "a.txt": f"{town} Plans\n\nThe {town} council met on Tuesday.\n{sentence}\n",
            "b.txt": "Weather\n\nRain is expected over the weekend.\n",
        },
    )
    qa = api.load(root / "idx", corpus, embedder=HashedEmbedder())
    for question in (
        f"How many new {noun} did the {town} council approve?",
        f"When did the {town} council approve new {noun}?",
    ):
        answer = qa.ask(question)
        assert answer.answered, question
        assert answer.span is not None, question
        quote = answer.citations[0].quote
        assert quote[answer.span.start : answer.span.end] == answer.span.text
        assert quote in lines_of(corpus, answer)
