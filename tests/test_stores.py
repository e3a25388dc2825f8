"""What is particular to the FAISS and BM25 stores (the contract all stores keep is
test_store_contract.py's): bm25s parity, alone and over segments with deletions,
damaged postings, mapped files."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from conftest import SEEDS, HashedEmbedder

from esqa.errors import IndexInvalidError
from esqa.stores.bm25_lexical import (
    Bm25LexicalStore,
    bm25s_tokenizer,
    count_postings,
    describe_lexical,
    tokenize,
)
from esqa.stores.bm25_segments import LexicalSegment, SegmentedLexicalStore
from esqa.types import Chunk

TEXTS = {
    "a.txt": [
        "Japan passed the Economic Security Promotion Act (ESPA) in 2022.",
        "The law has four pillars covering supply chains and critical infrastructure.",
    ],
    "b.txt": [
        "Rare earth exports from China fell sharply in April, customs data showed.",
        "Japan imported nearly 60% of its rare earth materials from China in 2022.",
    ],
    "c.txt": [
        "The bank lent money to mining projects in Australia and Africa.",
    ],
}


def by_id(chunks: list[Chunk]) -> dict[int, Chunk]:
    """Chunks as a store's `load` takes them (an index passes its ChunkTable)."""
    return {c.id: c for c in chunks}


def make_chunks() -> list[Chunk]:
    chunks = []
    for source, texts in TEXTS.items():
        for n, text in enumerate(texts, start=1):
            chunks.append(Chunk(len(chunks), source, n, n, n, text))
    return chunks


def lexical_store(chunks):
    store = Bm25LexicalStore()
    store.add(chunks)
    return store


@pytest.fixture
def chunks():
    return make_chunks()


@pytest.fixture
def embedder():
    return HashedEmbedder()


def test_a_lexical_store_of_chunks_without_terms_saves_loads_and_finds_nothing(tmp_path):
    # Only stop words and one-letter words: bm25s has no vocabulary to build on.
    chunks = [Chunk(0, "the.txt", 1, 1, 1, "the"), Chunk(1, "a.txt", 1, 1, 1, "a I of")]
    store = Bm25LexicalStore()
    store.add(chunks)
    assert store.search("the", 5) == []
    assert store.search("rare earth", 5) == []
    assert store.idf(["earth"])["earth"] > 0
    names = store.save(tmp_path)
    loaded = Bm25LexicalStore.load(tmp_path, by_id(chunks))
    assert loaded.search("rare earth", 5) == []
    assert loaded.idf(["earth"]) == store.idf(["earth"])
    assert all((tmp_path / n).is_file() for n in names)


def bm25s_index(texts: list[str]):
    """The reference: bm25s itself, indexing the tokens esqa's build gives it."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(tokenize(texts, bm25s_tokenizer()), show_progress=False)
    return retriever


def test_lexical_search_ranks_by_bm25_score_then_chunk_order():
    # The store selects its top k itself (bm25s's `retrieve` is slow for one
    # query); the scores must be bm25s's, equal scores in the order chunks were added.
    words = ["rare", "earth", "china", "japan", "export", "mining", "law", "bank"]
    chunks = [
        Chunk(10 + i, f"s{i % 7}.txt", 1, 1, 1, " ".join(words[(i * j) % 8] for j in range(1, 6)))
        for i in range(60)
    ]
    store = lexical_store(chunks)
    retriever = bm25s_index([c.text for c in chunks])
    for query in ["rare earth", "china", "japan export law", "bank mining rare", "earth"]:
        for k in (1, 5, 20, 60):
            tokens = [t for t in store.terms(query) if t in retriever.vocab_dict]
            scores = retriever.get_scores(tokens)
            ranked = sorted((d for d in range(60) if scores[d] > 0), key=lambda d: (-scores[d], d))
            hits = store.search(query, k)
            assert [(h.id, h.score) for h in hits] == [
                (10 + d, float(scores[d])) for d in ranked[:k]
            ]
            _, bm25s_scores = retriever.retrieve([tokens], k=k, show_progress=False)
            assert [h.score for h in hits] == [float(s) for s in bm25s_scores[0] if s > 0]
        assert len({float(s) for s in scores if s > 0}) < len(ranked)  # the query has ties


def test_best_documents_breaks_ties_by_position_and_skips_zero_scores():
    from esqa.stores.bm25_lexical import best_documents

    scores = np.array([0.0, 2.0, 1.0, 2.0, 0.0, 1.0, 3.0, 1.0], dtype=np.float32)
    assert best_documents(scores, 3).tolist() == [6, 1, 3]
    assert best_documents(scores, 5).tolist() == [6, 1, 3, 2, 5]
    assert best_documents(scores, 50).tolist() == [6, 1, 3, 2, 5, 7]
    assert best_documents(np.zeros(4, dtype=np.float32), 2).tolist() == []
    assert best_documents(scores, 0).tolist() == []


def test_best_documents_is_the_top_k_of_a_full_sort_whatever_the_ties():
    from esqa.stores.bm25_lexical import best_documents

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 400))
        # Few distinct values and many zeros: ties at the k-th place are common.
        scores = rng.choice([0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0], size=n).astype(np.float32)
        k = int(rng.integers(1, 60))
        positive = [d for d in range(n) if scores[d] > 0]
        expected = sorted(positive, key=lambda d: (-scores[d], d))[:k]
        assert best_documents(scores, k).tolist() == expected


def test_a_loaded_lexical_store_maps_its_postings_instead_of_reading_them(chunks, tmp_path):
    lexical_store(chunks).save(tmp_path)
    postings = Bm25LexicalStore.load(tmp_path, by_id(chunks)).postings
    assert all(isinstance(a, np.memmap) for a in (postings.docs, postings.counts, postings.indptr))


def _postings_file(tmp_path, name: str):
    return tmp_path / "lexical" / f"{name}.npy"


def test_a_lexical_store_whose_column_pointers_were_damaged_is_refused_at_load(chunks, tmp_path):
    lexical_store(chunks).save(tmp_path)
    path = _postings_file(tmp_path, "postings.indptr")
    indptr = np.load(path)
    indptr[len(indptr) // 2] = indptr[-1] + 1  # past the end: a term would read beyond
    np.save(path, indptr)
    with pytest.raises(ValueError, match="postings"):
        Bm25LexicalStore.load(tmp_path, by_id(chunks))


def test_postings_that_name_a_document_beyond_the_index_are_an_index_error(chunks, tmp_path):
    lexical_store(chunks).save(tmp_path)
    path = _postings_file(tmp_path, "postings.docs")
    docs = np.load(path)
    docs[:] = len(chunks) + 5
    np.save(path, docs)
    loaded = Bm25LexicalStore.load(tmp_path, by_id(chunks))
    with pytest.raises(IndexInvalidError, match="esqa index build"):
        loaded.search("ESPA", 5)


# A loaded store answers queries without bm25s (`esqa.stores.bm25_reader`
# weighs the saved counts with numpy): its terms must be those bm25s.tokenize
# gives, and its scores those bm25s computes for an index of the same chunks.

VARIED_TEXTS = [
    "Japan's Economic Security Promotion Act (ESPA) has FOUR pillars.",
    "The the THE tHe a an and of to in it is was were be, by the way, ARE not",
    "supply-chain well\u2011known co-operation \u2014 en\u2013dash; semi;colon/slash\\backslash",
    "ESPA\u2019s curly \u2018quotes\u2019 and don't, won't, rock'n'roll, O'Neill, 'tis",
    "Numbers: 2022, 3.5%, 1,000,000, 60 %, 24/7, 0x1F, 1e-9, \u21165, \u00bd, x\u00b2, \u0663\u0664",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade Stra\u00dfe \u00c6SIR \u00d8rsted \u0130stanbul",
    "\u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3 \u041c\u043e\u0441\u043a\u0432\u0430 "
    "\u6771\u4eac\u90fd \uc11c\uc6b8 \U0001f680\U0001f680 emoji",
    "snake_case __dunder__ camelCase iPhone McDonald's e-mail U.S.A. a.m. 9a.m.",
    "one-letter words: a b c I x y z 7 8 9",
    "tabs\tand\nnew\r\nlines  and   spaces",
    "running runs ran runner easily fairly generously cats cat's caresses ponies",
    "",
    "   ",
    "!!! ??? ... --- ,,,",
    "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 letters and \ufb01 ligature",
    "Kelvin \u212a, dotless \u0131, long \u017f, combining e\u0301 and \u00e9",
]


def random_texts(n: int, seed: int) -> list[str]:
    """Texts glued from pieces of VARIED_TEXTS: words, punctuation, parts of words."""
    rng = random.Random(seed)
    pieces = [p for t in VARIED_TEXTS for p in re.split(r"(\W)", t) if p] + list(" -'\u2019._")
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(n)]


def seed_texts() -> list[str]:
    lines = (line for path in sorted(SEEDS.glob("*.txt")) for line in path.read_text().splitlines())
    return [line for line in lines if line.strip()]


def bm25s_tokens(text: str) -> list[str]:
    """The reference: bm25s.tokenize as esqa's index build calls it."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(
        [text], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    return list(tokens[0])


def test_a_loaded_store_tokenises_a_query_as_bm25s_does(chunks, tmp_path):
    lexical_store(chunks).save(tmp_path)
    loaded = Bm25LexicalStore.load(tmp_path, by_id(chunks))
    texts = VARIED_TEXTS + random_texts(400, seed=1) + seed_texts()
    expected = [bm25s_tokens(text) for text in texts]
    assert [loaded.terms(text) for text in texts] == expected
    assert sum(map(len, expected)) > 5 * len(texts)  # the texts have terms to compare


def parity_queries(texts: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    words = " ".join(texts).split()
    return [
        *VARIED_TEXTS,
        *random_texts(100, seed=seed + 1),
        *(" ".join(rng.choices(words, k=rng.randint(1, 8))) for _ in range(300)),
        "pillar pillars PILLAR",  # one term three times counts three times
    ]


def assert_ranks_as_bm25s(store, texts: list[str], ids: list[int], queries: list[str]) -> None:
    """`store` holds the documents `texts` (chunk ids `ids`); bm25s indexes them afresh."""
    reference = bm25s_index(texts)
    found = 0
    for query in queries:
        tokens = [t for t in bm25s_tokens(query) if t in reference.vocab_dict]
        scores = reference.get_scores(tokens) if tokens else np.zeros(len(texts), np.float32)
        ranked = sorted(
            (d for d in range(len(texts)) if scores[d] > 0), key=lambda d: (-scores[d], d)
        )
        for k in (1, 10, len(texts)):
            assert [(h.id, h.score) for h in store.search(query, k)] == [
                (ids[d], float(scores[d])) for d in ranked[:k]
            ], query
        found += bool(ranked)
    assert found > 0.8 * len(queries)  # most queries match something
    n = len(texts)
    held = [set(t) for t in tokenize(texts, bm25s_tokenizer())]
    terms = sorted(reference.vocab_dict)[:200] + ["zyzzyva"]
    for term, idf in store.idf(terms).items():
        df = sum(term in t for t in held)
        assert idf == pytest.approx(np.log(1 + (n - df + 0.5) / (df + 0.5)), rel=1e-12)


def test_a_loaded_store_scores_and_ranks_as_bm25s_does(tmp_path):
    texts = seed_texts() + VARIED_TEXTS + random_texts(200, seed=2)
    # Ids unlike positions, so that a hit's id is checked to be its document's.
    chunks = [Chunk(1000 + 3 * i, f"s{i % 5}.txt", 1, 1, 1, t) for i, t in enumerate(texts)]
    lexical_store(chunks).save(tmp_path)
    loaded = Bm25LexicalStore.load(tmp_path, by_id(chunks))
    assert_ranks_as_bm25s(loaded, texts, [c.id for c in chunks], parity_queries(texts, 3))


@pytest.mark.parametrize("tail", [0, 10_000], ids=["each-segment", "small-ones-merged"])
def test_segments_with_deletions_score_as_one_bm25s_index_of_the_live_chunks(tail):
    # Corpus-wide statistics: document frequencies and average length over the
    # live documents of every segment, not each segment's own.
    texts = seed_texts() + VARIED_TEXTS + random_texts(200, seed=5)
    tokens = tokenize(texts, bm25s_tokenizer())
    dead = set(random.Random(6).sample(range(len(texts)), 40))
    cuts = [0, 90, 95, 260, len(texts)]
    segments = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        mask = np.array([i in dead for i in range(start, end)])
        segments.append(LexicalSegment(count_postings(tokens[start:end]), start, mask))
    store = SegmentedLexicalStore(
        segments, bm25s_tokenizer(), 1.5, 0.75, describe_lexical(), tail_documents=tail
    )
    live = [i for i in range(len(texts)) if i not in dead]
    assert len(store) == len(live)
    assert_ranks_as_bm25s(store, [texts[i] for i in live], live, parity_queries(texts, 7))
