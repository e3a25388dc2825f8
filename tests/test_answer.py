"""The composer end to end on a small synthetic corpus, indexed with the fake embedder.

Every expectation is read off the articles below: the answer to an ordinal
question is the item the sentence lists at that place, the answer to "what
does CRA stand for" is the name the article defines, and so on.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from conftest import HashedEmbedder, write_corpus
from synthetic_news import BRIDGE, HARBOUR

from esqa import api
from esqa.answer.compose import Composer
from esqa.answer.params import ComposerParams
from esqa.answer.question import analyse
from esqa.types import Answer

MAX_ANSWER_CHARS = ComposerParams().max_answer_chars

LONG_SENTENCE = (
    "The county transport office reported that bus ridership grew in every district, "
    "that the new tram line to Millbrook carried more passengers than its planners had "
    "forecast, that cycling lanes were extended along both banks of the river Wend, "
    "that two park-and-ride sites opened near the motorway junctions, that the night "
    "buses to the university campus would run every twenty minutes from now on, "
    "that the ticket machines at all central stops were replaced with contactless "
    "readers, that the old depot on Canal Street would be turned into housing, "
    "and that the ferry service to Eastholm island would resume in April."
)

CORPUS = {
    "harbour/resilience.txt": HARBOUR,
    "bridge.txt": BRIDGE,
    "museum.txt": (
        "Glass Museum Reopens After Security Review\n"
        "\n"
        "The Northfield Museum of Modern Glass reopened on Saturday after a two-week security "
        "review.\n"
        "\n"
        "Investigators found that a visitor kiosk displayed the string "
        "<script>alert(1)</script> inside its welcome banner.\n"
        "\n"
        "The curator, Helena Marsh, said the kiosk software had been replaced and no visitor "
        "data was exposed.\n"
    ),
    "survey.txt": (
        "Valley Household Survey Published\n"
        "\n"
        "The survey divided the households of Ashdale valley into three groups:\n"
        "\n"
        "Farming families, commuters to the city, and seasonal orchard workers.\n"
        "\n"
        "The regional council paid for the survey.\n"
    ),
    "clinic.txt": (
        "Rural Clinic Trial Reports Results\n"
        "\n"
        "The rural clinic trial evaluated a new malaria test in twelve villages of the Osse "
        "valley. It found that the test detected nine out of ten infections within twenty "
        "minutes.\n"
        "\n"
        "A regional health charity paid for the trial.\n"
    ),
    "dome.txt": (
        "Glass Dome Restored\n"
        "\n"
        "The curator Helena Marsh restored the museum's glass dome with a team of volunteers.\n"
    ),
    "pier.txt": (
        "Floating Pier Opens at Eastholm\n"
        "\n"
        "The floating pier at Eastholm has a number of advantages as a ferry landing. "
        "Ferries can dock at any tide, and storms cannot tear its moorings loose. "
        "Repairs take hours instead of weeks.\n"
    ),
    "transport.txt": (
        "County Publishes Annual Transport Report\n\n" + LONG_SENTENCE + "\n\n"
        "Officials did not say how much the changes would cost.\n"
    ),
}

QUESTIONS = [
    "What does CRA stand for?",
    "What is the third pillar of the strategy?",
    "What is the last pillar of the strategy?",
    "When was the Lakeside Bridge opened to traffic?",
    "What share of Portwell's residents live near the shore?",
    "When did the Coastal Resilience Agency present its flood plan?",
    "How many vehicles cross the Lakeside Bridge every day?",
    "Who is the curator of the glass museum?",
    "What string did the visitor kiosk display in its welcome banner?",
    "When will the ferry service to Eastholm island resume?",
    "Which grandmaster won the chess olympiad in Reykjavik?",
    "What would the restored wetlands shelter?",
    "What does QPX stand for?",
    "What is the full name of the CRA?",
    "What is the second pillar of the CRA strategy?",
    "What is the ninth pillar of the strategy?",
    "Into which groups did the survey divide the households of Ashdale valley?",
    "What did the rural clinic trial of the new malaria test in the Osse valley show?",
    "When did Helena Marsh restore the museum's glass dome?",
    "What are the advantages of the floating pier at Eastholm?",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("answer-corpus") / "corpus", CORPUS)


@pytest.fixture(scope="module")
def qa(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> api.QA:
    index = tmp_path_factory.mktemp("answer-index") / "idx"
    return api.load(index, corpus, embedder=HashedEmbedder())


@pytest.fixture(scope="module")
def answers(qa: api.QA) -> dict[str, Answer]:
    return {q: qa.ask(q) for q in QUESTIONS}


def file_lines(corpus: Path, source: str) -> list[str]:
    return (corpus / source).read_bytes().decode("utf-8").split("\n")


# --- answers the articles give ---------------------------------------------


def test_ordinal_question_answers_with_that_item(answers: dict[str, Answer]) -> None:
    answer = answers["What is the third pillar of the strategy?"]
    assert answer.answered
    assert "relocating pumping stations" in answer.text
    for other in ("building sea walls", "restoring wetlands", "training volunteer wardens"):
        assert other not in answer.text


def test_last_ordinal_answers_with_the_last_item(answers: dict[str, Answer]) -> None:
    answer = answers["What is the last pillar of the strategy?"]
    assert answer.answered
    assert "training volunteer wardens" in answer.text
    assert "relocating pumping stations" not in answer.text


def test_ordinal_answer_cites_the_enumeration(answers: dict[str, Answer], corpus: Path) -> None:
    answer = answers["What is the third pillar of the strategy?"]
    first = answer.citations[0]
    assert first.source == "harbour/resilience.txt"
    assert "four pillars" in first.quote
    assert answer.text in first.quote


def test_acronym_question_answers_with_the_expansion(answers: dict[str, Answer]) -> None:
    answer = answers["What does CRA stand for?"]
    assert answer.answered
    assert "Coastal Resilience Agency" in answer.text
    assert len(answer.text) < 100  # the expansion, not a paragraph


def test_full_name_question_answers_with_the_expansion(answers: dict[str, Answer]) -> None:
    answer = answers["What is the full name of the CRA?"]
    assert answer.answered
    assert "Coastal Resilience Agency" in answer.text


def test_ordinal_question_naming_the_acronym(answers: dict[str, Answer]) -> None:
    answer = answers["What is the second pillar of the CRA strategy?"]
    assert answer.answered
    assert "restoring wetlands" in answer.text
    assert "building sea walls" not in answer.text


def test_unknown_acronym_is_not_answered(answers: dict[str, Answer]) -> None:
    # No article mentions QPX.
    assert answers["What does QPX stand for?"].answered is False


def test_ordinal_past_the_end_of_the_list_is_not_answered(answers: dict[str, Answer]) -> None:
    assert answers["What is the ninth pillar of the strategy?"].answered is False


def test_when_question_answer_holds_the_date(answers: dict[str, Answer]) -> None:
    answer = answers["When was the Lakeside Bridge opened to traffic?"]
    assert answer.answered
    assert "1987" in answer.text
    assert answer.citations[0].source == "bridge.txt"


def test_when_question_through_the_long_form(answers: dict[str, Answer]) -> None:
    answer = answers["When did the Coastal Resilience Agency present its flood plan?"]
    assert answer.answered
    assert "March 3, 2021" in answer.text


def test_share_question_answer_holds_the_percentage(answers: dict[str, Answer]) -> None:
    answer = answers["What share of Portwell's residents live near the shore?"]
    assert answer.answered
    assert "35%" in answer.text


def test_how_many_question_answer_holds_the_number(answers: dict[str, Answer]) -> None:
    answer = answers["How many vehicles cross the Lakeside Bridge every day?"]
    assert answer.answered
    assert "18,000" in answer.text


def test_who_question_answer_names_the_person(answers: dict[str, Answer]) -> None:
    answer = answers["Who is the curator of the glass museum?"]
    assert answer.answered
    assert "Helena Marsh" in answer.text


def test_a_lead_in_ending_with_a_colon_is_quoted_with_what_it_announces(
    answers: dict[str, Answer],
) -> None:
    answer = answers["Into which groups did the survey divide the households of Ashdale valley?"]
    assert answer.answered
    assert "into three groups:" in answer.text
    assert "Farming families, commuters to the city, and seasonal orchard workers." in answer.text
    assert [c.paragraph for c in answer.citations[:2]] == [2, 3]


def test_a_sentence_that_announces_a_set_is_quoted_with_its_members(
    answers: dict[str, Answer],
) -> None:
    # "has a number of advantages" says there are some; the next two sentences say which.
    answer = answers["What are the advantages of the floating pier at Eastholm?"]
    assert answer.answered
    assert "a number of advantages" in answer.text
    assert "Ferries can dock at any tide" in answer.text
    assert "Repairs take hours instead of weeks." in answer.text


def test_a_sentence_that_carries_the_answer_on_is_quoted_with_it(
    answers: dict[str, Answer],
) -> None:
    answer = answers[
        "What did the rural clinic trial of the new malaria test in the Osse valley show?"
    ]
    assert answer.answered
    assert "detected nine out of ten infections" in answer.text
    # Two adjacent sentences of one paragraph are one passage: one citation.
    first = answer.citations[0]
    assert first.source == "clinic.txt"
    assert "twelve villages" in first.quote and "nine out of ten" in first.quote
    others = answer.citations[1:]
    assert all((c.source, c.paragraph) != (first.source, first.paragraph) for c in others)


def test_over_long_sentence_is_trimmed_to_the_limit(answers: dict[str, Answer]) -> None:
    assert len(LONG_SENTENCE) > MAX_ANSWER_CHARS  # the premise of this test
    answer = answers["When will the ferry service to Eastholm island resume?"]
    assert answer.answered
    assert len(answer.text) <= MAX_ANSWER_CHARS
    assert "Eastholm" in answer.text
    assert answer.text in LONG_SENTENCE  # trimmed, still verbatim


def test_hard_wrapped_sentence_is_quoted_whole(answers: dict[str, Answer]) -> None:
    answer = answers["What would the restored wetlands shelter?"]
    quotes = [c.quote for c in answer.citations if "migrating cranes" in c.quote]
    assert quotes, "the sentence about the wetlands is cited"
    assert all("spring and autumn" in q for q in quotes)


# --- abstention ---------------------------------------------------------------


def test_a_when_question_is_not_answered_by_a_sentence_without_a_date(
    answers: dict[str, Answer],
) -> None:
    # The article says who restored the dome and how, never when.
    answer = answers["When did Helena Marsh restore the museum's glass dome?"]
    assert not answer.answered
    assert answer.citations and answer.citations[0].source == "dome.txt"


def test_question_about_something_absent_is_not_answered(answers: dict[str, Answer]) -> None:
    answer = answers["Which grandmaster won the chess olympiad in Reykjavik?"]
    assert answer.answered is False
    assert answer.citations, "the closest passages are still cited"
    assert 0.0 <= answer.confidence <= 0.5


def test_composer_with_no_passages_abstains() -> None:
    composer = Composer(lambda text: text.lower().split(), lambda ts: dict.fromkeys(ts, 1.0), {})
    answer = composer.compose("When was the bridge opened?", [])
    assert answer.answered is False
    assert answer.citations == ()
    assert 0.0 <= answer.confidence <= 1.0


# --- invariants of every answer -------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_quote_is_verbatim_from_its_cited_lines(
    question: str, answers: dict[str, Answer], corpus: Path
) -> None:
    answer = answers[question]
    assert answer.citations
    for c in answer.citations:
        lines = file_lines(corpus, c.source)
        assert 1 <= c.line_start <= c.line_end <= len(lines)
        assert c.paragraph >= 1
        assert c.quote
        assert c.quote in "\n".join(lines[c.line_start - 1 : c.line_end])


@pytest.mark.parametrize("question", QUESTIONS)
def test_answer_length_and_confidence(question: str, answers: dict[str, Answer]) -> None:
    answer = answers[question]
    assert len(answer.text) <= MAX_ANSWER_CHARS
    assert 0.0 <= answer.confidence <= 1.0
    assert all(0.0 <= c.score <= 1.0 for c in answer.citations)


@pytest.mark.parametrize("question", QUESTIONS)
def test_answered_text_is_verbatim_from_a_cited_quote(
    question: str, answers: dict[str, Answer]
) -> None:
    answer = answers[question]
    if not answer.answered:
        return
    # The composer writes nothing: the answer is one cited quote, a part of one,
    # or cited quotes joined by spaces.
    if any(answer.text in c.quote for c in answer.citations):
        return
    rest = answer.text
    for c in answer.citations:
        rest = rest.replace(c.quote, "", 1)
    assert rest.strip() == ""


# --- the schema -------------------------------------------------------------------

SCHEMA = {"question", "answered", "answer", "answer_span", "confidence", "citations"}
CITATION_SCHEMA = {"source", "paragraph", "line_start", "line_end", "quote", "score"}


def test_to_dict_has_the_schema_keys_and_types(answers: dict[str, Answer]) -> None:
    for question, answer in answers.items():
        data = answer.to_dict()
        assert set(data) == SCHEMA
        assert data["question"] == question
        assert isinstance(data["answered"], bool)
        assert isinstance(data["answer"], str)
        assert isinstance(data["confidence"], float)
        assert 0.0 <= data["confidence"] <= 1.0
        assert isinstance(data["citations"], list)
        for c in data["citations"]:
            assert CITATION_SCHEMA <= set(c)
            assert isinstance(c["source"], str)
            assert all(isinstance(c[k], int) for k in ("paragraph", "line_start", "line_end"))
            assert isinstance(c["quote"], str)
            assert isinstance(c["score"], float)
        span = data["answer_span"]
        if span is not None:  # the phrase that answers, inside the first quote
            assert set(span) == {"text", "start", "end"}
            assert data["citations"][0]["quote"][span["start"] : span["end"]] == span["text"]


def test_sources_are_paths_relative_to_the_corpus(answers: dict[str, Answer]) -> None:
    sources = {c.source for a in answers.values() for c in a.citations}
    assert "harbour/resilience.txt" in sources
    assert all(not Path(s).is_absolute() and s in CORPUS for s in sources)


# --- HTML for Jupyter -------------------------------------------------------------


def test_html_escapes_markup_from_the_articles(answers: dict[str, Answer]) -> None:
    answer = answers["What string did the visitor kiosk display in its welcome banner?"]
    assert any("<script>alert(1)</script>" in c.quote for c in answer.citations)
    page = answer._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert html.escape(answer.question) in page


def test_html_shows_every_citation(answers: dict[str, Answer]) -> None:
    answer = answers["When was the Lakeside Bridge opened to traffic?"]
    page = answer._repr_html_()
    for c in answer.citations:
        assert html.escape(c.source) in page
        assert html.escape(c.quote) in page


def test_html_marks_an_unanswered_question(answers: dict[str, Answer]) -> None:
    answer = answers["Which grandmaster won the chess olympiad in Reykjavik?"]
    assert "not answered" in answer._repr_html_()


# --- the real seed corpus with the real model -------------------------------------

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DEV_QA = REPO.parent / "shared" / "eval" / "dev_qa.jsonl"


@pytest.fixture(scope="module")
def real_qa(real_seed_index: Path, real_embedder) -> api.QA:
    return api.load(real_seed_index, SEEDS, embedder=real_embedder, build_if_missing=False)


def dev_questions() -> list[str]:
    if not DEV_QA.is_file():
        return []
    return [
        json.loads(line)["question"]
        for line in DEV_QA.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.mark.real
def test_real_quotes_are_byte_exact_for_every_dev_question(real_qa: api.QA) -> None:
    questions = dev_questions()
    if not questions:
        pytest.skip(f"{DEV_QA} not found")
    files = {p.name: p.read_bytes().decode("utf-8").split("\n") for p in SEEDS.glob("*.txt")}
    bad = []
    for question in questions:
        answer = real_qa.ask(question)
        assert 0.0 <= answer.confidence <= 1.0, question
        assert len(answer.text) <= MAX_ANSWER_CHARS, question
        for c in answer.citations:
            lines = files[c.source]
            cited = "\n".join(lines[c.line_start - 1 : c.line_end])
            if not c.quote or c.quote not in cited:
                bad.append((question, c.source, c.line_start, c.line_end, c.quote[:80]))
    assert bad == []


@pytest.mark.real
def test_real_a_word_of_the_model_vocabulary_is_not_taken_for_a_misspelling(
    real_qa: api.QA,
) -> None:
    # No seed passage writes "founded"; "funded" is one edit away, but "founded"
    # is an English word, so the question keeps it.
    question = analyse("Where was the Hudson Institute founded?")
    terms = real_qa.composer.question_terms(question, real_qa.passages(question.text))
    assert terms.words.get("found") == "founded"
    assert "fund" not in terms.weights


ABSENT = [
    "What is the population of Brazil?",
    "Who won the 1998 football World Cup?",
    "What is the boiling point of mercury?",
    # On the seeds' own topics, but the fact is not in them.
    "How much did it cost to organise the Tokyo Economic Security Forum?",
    "How many tons of rare earths does Japan import each year?",
    "What tariff did India impose on Japanese cars?",
    "When was the Hudson Institute founded?",
]


@pytest.mark.real
@pytest.mark.parametrize("question", ABSENT)
def test_real_abstains_on_what_the_seeds_do_not_say(real_qa: api.QA, question: str) -> None:
    answer = real_qa.ask(question)
    assert answer.answered is False
    assert 0.0 <= answer.confidence <= 1.0


# (question, key string from the answering sentence, file, line of that sentence),
# read off the seed files.
ANSWERABLE = [
    (
        "Which think tank hosted the Japan-India meeting in New Delhi?",
        "Observer Research Foundation",
        "004_55f16e264c431d7b.txt",
        5,
    ),
    (
        "In what year did researchers discover rare-earth-rich mud near the Ogasawara Islands?",
        "2012",
        "002_28dcf7c095409e64.txt",
        16,
    ),
    (
        "Where will the Tokyo Economic Security Forum be held?",
        "Nikkei Hall",
        "001_9c16898d448cd4fa.txt",
        10,
    ),
    ("Who is Japan's ambassador to India?", "Keiichi Ono", "004_55f16e264c431d7b.txt", 9),
]


@pytest.mark.real
@pytest.mark.parametrize(("question", "key", "source", "line"), ANSWERABLE)
def test_real_answers_what_the_seeds_say(
    real_qa: api.QA, question: str, key: str, source: str, line: int
) -> None:
    answer = real_qa.ask(question)
    assert answer.answered is True
    assert key in answer.text
    assert any(
        c.source == source and c.line_start <= line <= c.line_end for c in answer.citations[:3]
    )


def test_an_acronym_that_spells_a_question_word_is_a_question_term(qa: api.QA) -> None:
    # "WHO" is what the question is about; "who" only asks for a person.
    asked = qa.composer.question_terms(analyse("What did the WHO recommend for travellers?"), [])
    assert "who" in asked.words.values()
    asked = qa.composer.question_terms(analyse("Who recommended masks for travellers?"), [])
    assert "who" not in asked.words.values()
