"""The library entry points: what `import esqa` and the CLI call.

import esqa
qa = esqa.load()                       # indexes/default, built from seeds/ if missing
for hit in qa.search("ESPA fourth pillar", k=3):
    print(hit.source, hit.chunk.line_start, hit.text[:80])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esqa.answer import Composer, expand_query
from esqa.embed import Embedder, SentenceTransformerEmbedder
from esqa.index import (
    MANIFEST,
    BuildReport,
    CorpusChanges,
    Index,
    ProgressFactory,
    build_index,
    corpus_changes,
    load_index,
    read_manifest,
)
from esqa.retrieve import clean_query, hybrid_search
from esqa.types import Answer, Chunk, Hit

DEFAULT_CORPUS = Path("seeds")
DEFAULT_INDEX = Path("indexes/default")
# Chunks the composer reads its candidate sentences from.
ANSWER_CHUNKS = 16


@dataclass(frozen=True)
class IndexInfo:
    """What `esqa info` shows: where the index is, what it holds, whether it is stale."""

    index: Path
    directory: Path
    corpus: Path
    created: str
    esqa_version: str
    model: str
    dimension: int
    counts: dict[str, int]
    chunking: dict[str, int]
    dense: dict[str, Any]
    lexical: dict[str, Any]
    changes: CorpusChanges | None  # None when the corpus directory is gone
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return self.changes is None or self.changes.stale

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": str(self.index),
            "directory": str(self.directory),
            "corpus": str(self.corpus),
            "created": self.created,
            "esqa_version": self.esqa_version,
            "model": self.model,
            "dimension": self.dimension,
            "counts": self.counts,
            "chunking": self.chunking,
            "dense": self.dense,
            "lexical": self.lexical,
            "stale": self.stale,
            "changes": None if self.changes is None else self.changes.to_dict(),
            "skipped": self.skipped,
        }


def default_embedder() -> Embedder:
    return SentenceTransformerEmbedder()


def index_exists(index: Path = DEFAULT_INDEX) -> bool:
    return (index.resolve() / MANIFEST).is_file()


def build(
    corpus: Path = DEFAULT_CORPUS,
    index: Path = DEFAULT_INDEX,
    embedder: Embedder | None = None,
    progress: ProgressFactory | None = None,
) -> BuildReport:
    """Build (or rebuild) the index of `corpus` at `index`."""
    return build_index(corpus, index, embedder or default_embedder(), progress=progress)


def info(index: Path = DEFAULT_INDEX, corpus: Path | None = None) -> IndexInfo:
    """Describe an index without loading its vectors."""
    directory, manifest = read_manifest(index)
    corpus = corpus or Path(manifest.get("corpus", DEFAULT_CORPUS))
    changes = corpus_changes(manifest, corpus) if corpus.is_dir() else None
    return IndexInfo(
        index=index,
        directory=directory,
        corpus=corpus,
        created=manifest.get("created", "?"),
        esqa_version=manifest.get("esqa_version", "?"),
        model=manifest["model"]["id"],
        dimension=manifest["model"]["dimension"],
        counts=manifest.get("counts", {}),
        chunking=manifest.get("chunking", {}),
        dense=manifest.get("dense", {}),
        lexical=manifest.get("lexical", {}),
        changes=changes,
        skipped={s: r.get("reason", "") for s, r in manifest.get("skipped", {}).items()},
    )


class QA:
    """A loaded index with its embedder: search it (and, later, ask it)."""

    def __init__(self, index: Index, embedder: Embedder, built: BuildReport | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.built = built  # set when `load` had to build the index first
        self.__composer: Composer | None = None
        self.__articles: dict[tuple[str, str | None], list[Chunk]] | None = None

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The k passages that best match the query, best first."""
        text = clean_query(query)
        vector = self.embedder.embed([text])[0]
        return hybrid_search(self.index, text, vector, k)

    def ask(self, question: str, k: int = ANSWER_CHUNKS) -> Answer:
        """Answer a question with verbatim sentences and their citations.

        `k` is how many retrieved passages the composer reads. Example:
        `qa.ask("what is ESPA's fourth pillar").text`.
        """
        text = clean_query(question)
        query = expand_query(text, self.index.acronyms)
        vector = self.embedder.embed([query])[0]
        hits = hybrid_search(self.index, query, vector, k)
        return self._composer.compose(text, hits)

    @property
    def _composer(self) -> Composer:
        if self.__composer is None:
            lexical = self.index.lexical
            self.__composer = Composer(
                lexical.terms, lexical.idf, self.index.acronyms, self._article_chunks
            )
        return self.__composer

    def _article_chunks(self, chunk: Chunk) -> list[Chunk]:
        """Every chunk of the article that holds `chunk`, in file order."""
        if self.__articles is None:
            articles: dict[tuple[str, str | None], list[Chunk]] = {}
            for c in sorted(
                self.index.chunks.values(), key=lambda c: (c.source, c.line_start, c.id)
            ):
                articles.setdefault((c.source, c.article_title), []).append(c)
            self.__articles = articles
        return self.__articles.get((chunk.source, chunk.article_title), [chunk])

    def info(self, corpus: Path | None = None) -> IndexInfo:
        return info(self.index.path, corpus)

    def __repr__(self) -> str:
        counts = self.index.manifest.get("counts", {})
        return f"<esqa.QA index={str(self.index.path)!r} chunks={counts.get('chunks')}>"


def load(
    index: Path = DEFAULT_INDEX,
    corpus: Path = DEFAULT_CORPUS,
    embedder: Embedder | None = None,
    build_if_missing: bool = True,
    progress: ProgressFactory | None = None,
) -> QA:
    """Load the index at `index`, building it from `corpus` first if it is missing."""
    index, corpus = Path(index), Path(corpus)
    embedder = embedder or default_embedder()
    report = None
    if build_if_missing and not index_exists(index):
        report = build_index(corpus, index, embedder, progress=progress)
    loaded = load_index(index, embedder.model_id, embedder.dimension)
    return QA(loaded, embedder, built=report)
