"""esqa.index.search: query cleaning and hybrid (dense + BM25) ranking."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import HashedEmbedder, write_corpus

from esqa.errors import QueryError
from esqa.index.build import build_index
from esqa.index.reader import load_index
from esqa.index.search import clean_query, hybrid_search


@pytest.mark.parametrize("query", ["", "   ", "?!?", "\t\n", "…!!", "\x00\x07"])
def test_queries_without_words_are_refused(query):
    with pytest.raises(QueryError):
        clean_query(query)


def test_query_error_message_is_one_line():
    with pytest.raises(QueryError) as excinfo:
        clean_query("?!")
    assert "\n" not in str(excinfo.value)


def test_control_characters_are_removed_and_spaces_collapsed():
    assert clean_query("  what\x00is\x07 ESPA\u200b?\n") == "what is ESPA ?"


def test_a_normal_query_is_kept_verbatim():
    assert clean_query("ESPA fourth pillar") == "ESPA fourth pillar"


def test_a_very_long_query_is_cut_but_still_searchable():
    text = clean_query("economic security " * 1000)
    assert 0 < len(text) < len("economic security " * 1000)


class ConstantEmbedder(HashedEmbedder):
    """Every text gets the same vector: dense search says nothing."""

    model_id = "test/constant"

    def embed(self, texts, batch_size=32, progress=None):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        out[:, 0] = 1.0
        if progress is not None:
            progress(len(texts))
        return out


FILLER = (
    "Officials from {n} countries discussed supply chains, semiconductors and critical "
    "minerals at the meeting in Tokyo on Monday, according to the organisers."
)
RARE = (
    "The Economic Security Promotion Act (ESPA) has four pillars, the last of which covers "
    "secret patents."
)


def _corpus(tmp_path, n_filler: int):
    files = {
        f"f{i:03d}.txt": f"Forum day {i}\n\n{FILLER.format(n=i + 3)}\n" for i in range(n_filler)
    }
    files["z_last.txt"] = f"Law explained\n\n{RARE}\n"  # sorts last: the highest chunk id
    return write_corpus(tmp_path / "corpus", files)


def _search(tmp_path, corpus, query, embedder):
    build_index(corpus, tmp_path / "idx", embedder)
    index = load_index(tmp_path / "idx", embedder.model_id, embedder.dimension)
    return hybrid_search(index, query, embedder.embed([query])[0], 5)


def test_a_rare_acronym_ranks_first_even_when_dense_search_is_uninformative(tmp_path):
    corpus = _corpus(tmp_path, 10)
    hits = _search(tmp_path, corpus, "ESPA", ConstantEmbedder())
    assert hits[0].chunk.source == "z_last.txt"
    assert "ESPA" in hits[0].text
    assert hits[0].lexical_score is not None and hits[0].lexical_score > 0


def test_a_rare_acronym_ranks_first_in_a_larger_index_with_uninformative_dense_search(tmp_path):
    corpus = _corpus(tmp_path, 60)
    hits = _search(tmp_path, corpus, "ESPA", ConstantEmbedder())
    assert hits[0].chunk.source == "z_last.txt"


def test_hybrid_hits_are_sorted_by_fused_score_and_carry_both_scores(tmp_path):
    corpus = _corpus(tmp_path, 5)
    embedder = HashedEmbedder()
    hits = _search(tmp_path, corpus, "secret patents pillars", embedder)
    assert hits[0].chunk.source == "z_last.txt"
    assert hits[0].dense_score is not None and hits[0].lexical_score is not None
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.chunk.id for h in hits}) == len(hits)


def test_k_limits_the_number_of_hits(tmp_path):
    corpus = _corpus(tmp_path, 8)
    embedder = HashedEmbedder()
    build_index(corpus, tmp_path / "idx", embedder)
    index = load_index(tmp_path / "idx", embedder.model_id, embedder.dimension)
    vector = embedder.embed(["Tokyo meeting"])[0]
    assert len(hybrid_search(index, "Tokyo meeting", vector, 3)) == 3
    assert len(hybrid_search(index, "Tokyo meeting", vector, 1)) == 1
