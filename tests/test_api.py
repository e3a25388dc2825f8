"""esqa.api: the library entry points (load, build, info, QA.search)."""

from __future__ import annotations

import pytest
from conftest import HashedEmbedder, distinct_sentences, write_corpus

import esqa.index.build
import esqa.index.reader
from esqa import api
from esqa.errors import IndexMissingError, QueryError

A = (
    "Japan adds cables to critical goods\n\nThe Ministry of Economy, Trade and Industry plans to "
    "add undersea cables and satellites to the list of critical products.\n"
)
B = (
    "Rare earth imports fall\n\nJapan imported nearly 60% of its rare earth materials from China "
    "in 2022, down from over 80% in 2009.\n"
)


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus", {"a.txt": A, "b.txt": B})


def test_load_builds_a_missing_index_and_then_reuses_it(corpus, tmp_path):
    index = tmp_path / "idx"
    embedder = HashedEmbedder()
    qa = api.load(index, corpus, embedder=embedder)
    assert qa.built is not None and qa.built.files == 2
    assert api.index_exists(index)
    again = api.load(index, corpus, embedder=HashedEmbedder())
    assert again.built is None


def test_load_without_building_raises_index_missing(corpus, tmp_path):
    with pytest.raises(IndexMissingError):
        api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder(), build_if_missing=False)


def test_search_returns_cited_hits_best_first(corpus, tmp_path):
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    hits = qa.search("undersea cables satellites", k=2)
    assert len(hits) == 2
    assert hits[0].source == "a.txt"
    assert (hits[0].chunk.line_start, hits[0].chunk.line_end) == (3, 3)
    assert "undersea cables" in hits[0].text
    assert hits[0].score >= hits[1].score


def test_search_refuses_a_query_without_words(corpus, tmp_path):
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    with pytest.raises(QueryError):
        qa.search("?!?")


def test_info_reports_counts_and_staleness(corpus, tmp_path):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    details = api.info(index, corpus)
    assert details.counts["files"] == 2
    assert details.model == HashedEmbedder.model_id
    assert details.dimension == HashedEmbedder.dimension
    assert not details.stale
    write_corpus(corpus, {"c.txt": A.replace("Japan", "Korea")})
    details = api.info(index, corpus)
    assert details.stale
    assert details.changes is not None and details.changes.added == ("c.txt",)


def test_info_of_an_index_whose_corpus_is_gone_is_stale(corpus, tmp_path):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    details = api.info(index, tmp_path / "gone")
    assert details.changes is None and details.stale


def test_build_reports_progress_for_every_file_chunked_and_chunk_embedded(corpus, tmp_path):
    done: dict[str, list[int]] = {}
    totals = []

    def factory(total, stage):
        totals.append((stage, total))
        return done.setdefault(stage, []).append

    report = api.build(corpus, tmp_path / "idx", embedder=HashedEmbedder(), progress=factory)
    # Chunks and their sentences are embedded as one stage.
    embedded = report.chunks + report.embedded_sentences
    assert report.embedded_sentences > 0
    assert totals == [("chunking", report.files), ("embedding", embedded)]
    assert sum(done["chunking"]) == report.files and sum(done["embedding"]) == embedded

    write_corpus(corpus, {"c.txt": A.replace("Japan", "Korea")})
    totals.clear()
    report = api.build(corpus, tmp_path / "idx", embedder=HashedEmbedder(), progress=factory)
    assert totals == [("chunking", 1), ("embedding", report.embedded + report.embedded_sentences)]


def test_load_compares_the_corpus_once_and_exposes_the_changes(corpus, tmp_path, monkeypatch):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    write_corpus(corpus, {"c.txt": A.replace("Japan", "Korea")})
    calls = {"manifest": 0, "changes": 0}
    real_read, real_changes = esqa.index.reader.read_manifest, api.compare_corpus

    def counting_read(*args):
        calls["manifest"] += 1
        return real_read(*args)

    def counting_changes(*args, **kwargs):
        calls["changes"] += 1
        return real_changes(*args, **kwargs)

    monkeypatch.setattr(esqa.index.reader, "read_manifest", counting_read)
    monkeypatch.setattr(api, "read_manifest", counting_read)
    monkeypatch.setattr(api, "compare_corpus", counting_changes)
    qa = api.load(index, corpus, embedder=HashedEmbedder())
    assert qa.changes is not None and qa.changes.added == ("c.txt",)
    assert qa.info().changes == qa.changes and qa.info().counts["files"] == 2
    assert calls == {"manifest": 1, "changes": 1}


def test_load_with_refresh_updates_a_stale_index_first(corpus, tmp_path):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    write_corpus(corpus, {"c.txt": A.replace("Japan", "Korea").replace("cables", "ports")})
    embedder = HashedEmbedder()
    qa = api.load(index, corpus, embedder=embedder, refresh=True)
    assert qa.built is not None and qa.built.incremental
    new_chunks = [c for c in qa.index.chunks.values() if c.source == "c.txt"]
    assert qa.built.embedded == len(new_chunks) > 0
    assert qa.built.embedded_sentences == distinct_sentences(new_chunks)
    assert embedder.calls == qa.built.embedded + qa.built.embedded_sentences
    assert qa.changes is not None and not qa.changes.stale
    assert qa.search("Korea ports", k=1)[0].source == "c.txt"


def test_load_with_refresh_of_an_up_to_date_index_builds_nothing(corpus, tmp_path):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    before = index.resolve()
    qa = api.load(index, corpus, embedder=HashedEmbedder(), refresh=True)
    assert qa.built is None and index.resolve() == before


def test_without_a_corpus_the_index_is_compared_with_the_one_it_was_built_from(corpus, tmp_path):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    qa = api.load(index, embedder=HashedEmbedder())
    assert qa.corpus.resolve() == corpus.resolve()
    assert qa.changes is not None and not qa.changes.stale
    assert api.info(index).corpus.resolve() == corpus.resolve()
    (corpus / "a.txt").unlink()
    report = api.build(index=index, embedder=HashedEmbedder())  # rebuilds that corpus
    assert report.files == 1 and report.incremental


def test_build_full_reuses_nothing(corpus, tmp_path):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    embedder = HashedEmbedder()
    report = api.build(corpus, index, embedder=embedder, full=True)
    assert not report.incremental
    assert embedder.calls == report.chunks + report.embedded_sentences


def test_info_says_how_the_index_was_built(corpus, tmp_path):
    index = tmp_path / "idx"
    api.build(corpus, index, embedder=HashedEmbedder())
    write_corpus(corpus, {"c.txt": A.replace("Japan", "Korea")})
    report = api.build(corpus, index, embedder=HashedEmbedder())
    build = api.info(index).build
    assert build["incremental"] is True
    assert (build["reused_chunks"], build["embedded_chunks"]) == (report.reused, report.embedded)


def test_search_spells_out_acronyms_as_ask_does(tmp_path):
    """An acronym the corpus defines finds the passages that use only its long form."""
    corpus = write_corpus(
        tmp_path / "acronyms",
        {
            "0_other.txt": "Fees rise\n\nThe ESPA office raised its fees on Tuesday.\n",
            "a_defines.txt": "New law\n\nThe Economic Security Promotion Act (ESPA) "
            "passed in 2022.\n",
            "z_long_form.txt": "Four pillars\n\nThe Economic Security Promotion Act "
            "has four pillars.\n",
        },
    )
    qa = api.load(tmp_path / "idx", corpus, embedder=HashedEmbedder())
    sources = [hit.source for hit in qa.search("ESPA", k=2)]
    assert sources == ["a_defines.txt", "z_long_form.txt"]
