"""Sentence vectors: stored per chunk at build time, kept through adds and merges,
checked at load, and read by the composer to prefer the sentence nearest the question."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import test_incremental
from conftest import FIRST_SEGMENT, HashedEmbedder, distinct_sentences, write_corpus

from esqa.answer.compose import Composer
from esqa.answer.sentences import FEATURES, SentenceSpace
from esqa.errors import IndexInvalidError
from esqa.index.build import build_index
from esqa.index.reader import load_index
from esqa.index.sentence_vectors import SENTENCE_OFFSETS, quantise, sentence_texts
from esqa.types import Chunk, Hit

MODEL = (HashedEmbedder.model_id, HashedEmbedder.dimension)
# The fixtures of the incremental tests: a copy of the seeds, and its index.
corpus = test_incremental.corpus
index = test_incremental.index


def test_quantised_rows_keep_their_direction():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[7] = 0.0
    codes, scales = quantise(vectors)
    assert codes.dtype == np.int8 and scales.dtype == np.float32
    back = codes.astype(np.float32) * scales[:, None]
    assert not back[7].any()
    rows = [i for i in range(200) if i != 7]
    cosines = (back[rows] * vectors[rows]).sum(axis=1) / np.linalg.norm(back[rows], axis=1)
    assert cosines.min() > 0.999


def test_every_sentence_of_every_chunk_has_its_own_vector(corpus, index):
    loaded = load_index(index, *MODEL)
    embedder = HashedEmbedder()
    for chunk_id in loaded.chunks:
        chunk = loaded.chunks[chunk_id]
        stored = loaded.chunks.sentence_vectors(chunk_id)
        assert stored is not None and len(stored) == max(1, len(chunk.sentences))
        expected = embedder.embed(sentence_texts(chunk))
        cosines = (stored * expected).sum(axis=1) / np.linalg.norm(stored, axis=1)
        assert cosines.min() > 0.999, chunk.text[:80]


def test_an_added_file_embeds_only_its_own_sentences_and_merging_keeps_them(
    corpus, index, tmp_path
):
    write_corpus(corpus, {"extra.txt": "Undersea cables carry data.\n\nPorts ship goods.\n"})
    embedder = HashedEmbedder()
    report = build_index(corpus, index, embedder)
    loaded = load_index(index, *MODEL)
    new = [loaded.chunks[i] for i in loaded.chunks if loaded.chunks[i].source == "extra.txt"]
    assert report.embedded_sentences == distinct_sentences(new) > 0
    before = {i: loaded.chunks.sentence_vectors(i) for i in loaded.chunks}
    texts = {i: loaded.chunks[i].text for i in loaded.chunks}

    build_index(corpus, index, HashedEmbedder(), optimize=True)
    merged = load_index(index, *MODEL)
    assert len(merged.manifest.segments) == 1
    by_text = {merged.chunks[i].text: merged.chunks.sentence_vectors(i) for i in merged.chunks}
    for i, text in texts.items():
        after = by_text[text]
        assert after is not None and before[i] is not None
        assert after.tobytes() == before[i].tobytes()


def test_sentence_vectors_that_do_not_match_the_chunks_are_a_damaged_index(corpus, index):
    offsets = index.resolve() / FIRST_SEGMENT / SENTENCE_OFFSETS
    np.save(offsets, np.load(offsets)[:-1], allow_pickle=False)
    with pytest.raises(IndexInvalidError):
        load_index(index, *MODEL)


def _composer(space: SentenceSpace | None) -> Composer:
    def terms(text: str) -> list[str]:
        return [w for w in text.lower().replace(".", " ").replace("?", " ").split() if len(w) > 2]

    return Composer(terms, lambda ts: dict.fromkeys(ts, 1.0), {}, space=space)


def _hit(text: str, sentences: tuple[tuple[int, int], ...]) -> Hit:
    chunk = Chunk(
        id=0,
        source="a.txt",
        paragraph=1,
        line_start=1,
        line_end=1,
        text=text,
        sentences=sentences,
    )
    return Hit(chunk=chunk, score=1.0, dense_score=0.5, lexical_score=1.0)


@pytest.mark.parametrize("nearest", [0, 1])
def test_of_two_sentences_that_cover_the_question_alike_the_nearest_in_meaning_answers(nearest):
    first = "Bats keep the interferon pathway switched on."
    second = "Bats keep their roosts in caves."
    text = f"{first} {second}"
    hit = _hit(text, ((0, len(first)), (len(first) + 1, len(text))))
    question = np.array([1.0, 0.0])
    rows = np.array([[0.9, 0.436], [0.4, 0.917]], dtype=np.float32)
    if nearest == 1:
        rows = rows[::-1].copy()
    space = SentenceSpace(lambda q: question, lambda chunk: rows)
    ev = _composer(space).weigh("What do bats keep?", [hit])
    assert ev.best is not None and ev.best.text == (first, second)[nearest]


def test_without_sentence_vectors_the_passage_similarity_stands_in():
    first = "Bats keep the interferon pathway switched on."
    second = "Bats keep their roosts in caves."
    text = f"{first} {second}"
    hit = _hit(text, ((0, len(first)), (len(first) + 1, len(text))))
    nothing = SentenceSpace(lambda q: None, lambda chunk: None)
    for space in (None, nothing):
        ev = _composer(space).weigh("What do bats keep?", [hit])
        at = FEATURES.index("sentence_dense")
        assert {s.features[at] for s in ev.sentences} == {hit.dense_score}


def test_a_corpus_built_from_scratch_reports_the_sentences_it_embedded(tmp_path: Path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, {"a.txt": "One sentence here. Another one there.\n"})
    embedder = HashedEmbedder()
    report = build_index(corpus, tmp_path / "idx", embedder)
    loaded = load_index(tmp_path / "idx", *MODEL)
    assert report.embedded_sentences == distinct_sentences(loaded.chunks.values())
    assert embedder.calls == report.embedded + report.embedded_sentences


class _SlowThenFailing(HashedEmbedder):
    """Its first list is embedded a text at a time, slowly; its second fails at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lists = 0

    def embed(self, texts, batch_size=32, progress=None):
        with self._lock:
            self.lists += 1
            failing = self.lists == 2
        if failing:
            raise RuntimeError("the model failed")
        out = []
        for text in texts:
            time.sleep(0.01)
            out.append(super().embed([text], batch_size=1, progress=progress))
        return np.concatenate(out)


def test_when_one_embedding_thread_fails_the_other_stops_and_the_error_reaches_the_caller(
    tmp_path: Path,
):
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            f"a{i}.txt": f"Title {i}\n\nSentence one of {i}. Sentence two of {i}.\n"
            for i in range(60)
        },
    )
    embedder = _SlowThenFailing()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the model failed"):
        build_index(corpus, tmp_path / "idx", embedder)
    # 60 chunks and 120 sentences: the slow list would take over half a second alone.
    assert embedder.calls < 20 and time.monotonic() - started < 5
    assert not (tmp_path / "idx").exists()
