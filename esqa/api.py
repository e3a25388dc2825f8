"""The library entry points: what `import esqa` and the CLI call.

import esqa
qa = esqa.load()                       # indexes/default, built from seeds/ if missing
for hit in qa.search("ESPA fourth pillar", k=3):
    print(hit.source, hit.chunk.line_start, hit.text[:80])
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esqa.add import AddResult, copy_articles
from esqa.answer import Composer, expand_query
from esqa.changes import CorpusChanges, compare_corpus
from esqa.chunk_table import article_chunks
from esqa.embed import Embedder, SentenceTransformerEmbedder
from esqa.errors import EsqaError
from esqa.index import BuildReport, ProgressFactory, build_index
from esqa.manifest import CORPUS_STATS, MANIFEST, SourceRecords, read_manifest, read_sources
from esqa.reader import Index, VerifyReport, load_index, verify_index
from esqa.retrieve import clean_query, hybrid_search
from esqa.types import Answer, Chunk, Hit

DEFAULT_CORPUS = Path("seeds")
DEFAULT_INDEX = Path("indexes/default")
# Chunks the composer reads its candidate sentences from. More passages find
# more answers (COVID-QA answer accuracy 0.457 at 16, 0.467 at 24) for about
# a quarter more time per question; the development set is the same at both.
ANSWER_CHUNKS = 24


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
    build: dict[str, Any] = field(default_factory=dict)  # incremental? chunks reused, embedded

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
            "build": self.build,
        }


def default_embedder() -> Embedder:
    """The bundled model through onnxruntime, else through sentence-transformers.

    `ESQA_EMBEDDER` picks one: `onnx`, `sentence-transformers`, or `auto` (the
    default: ONNX when onnxruntime is installed and the export is cached or
    can be made, which needs torch once). ONNX fp32 and sentence-transformers
    give the same vectors (cosine >= 0.9999), so an index built by one is
    queried by the other; `build`, `add` and `load` switch the ONNX embedder to
    the precision of the index (see `DOCUMENT_PRECISION`).
    """
    choice = os.environ.get("ESQA_EMBEDDER", "auto").strip().lower() or "auto"
    if choice not in _EMBEDDERS:
        raise EsqaError(
            f"ESQA_EMBEDDER={choice!r} is not one of {', '.join(_EMBEDDERS)}; "
            "set one of them or unset it"
        )
    if choice == "sentence-transformers":
        return SentenceTransformerEmbedder()
    missing = _onnx_missing()
    if missing is None:
        from esqa.onnx_embed import OnnxEmbedder

        return OnnxEmbedder()
    if choice == "onnx":
        raise EsqaError(f"ESQA_EMBEDDER=onnx, but {missing}")
    _note_once(f"esqa: note: {missing}; embedding with sentence-transformers (slower to start)")
    return SentenceTransformerEmbedder()


_EMBEDDERS = ("auto", "onnx", "sentence-transformers")

# The ONNX precision that embeds the documents of a new index (or of a --full
# rebuild); an existing index keeps the precision it was built with, and is
# always queried with it. int8 embeds 3.7-4.6x as many chunks/s as
# sentence-transformers where fp32 gives 1.8-2.9x, and citation@3 stayed within
# 0.01 of fp32 (dev 1.000 and 1.000, COVID-QA 0.726 and 0.730): see
# benchmarks/build_throughput.py. "fp32" gives sentence-transformers' vectors.
DOCUMENT_PRECISION = "int8"


def _default_for(index: Path, fresh: bool) -> Embedder:
    """`default_embedder()`, at the ONNX precision the index at `index` needs.

    That is the precision the index was built with, or DOCUMENT_PRECISION when
    it is about to be built from scratch (`fresh`) or has no readable manifest.
    Other embedders (sentence-transformers, a test's fake) are returned as they are.
    """
    embedder = default_embedder()
    from esqa.onnx_embed import OnnxEmbedder

    if not isinstance(embedder, OnnxEmbedder):
        return embedder
    precision = DOCUMENT_PRECISION
    if not fresh:
        try:
            _, manifest = read_manifest(index)
        except EsqaError:
            pass
        else:
            model_id = manifest["model"]["id"]
            precision = model_id.rpartition(":")[2] if ":" in model_id else "fp32"
    if precision not in ("fp32", "int8"):
        return embedder  # another model: loading says so, with the command that rebuilds
    return embedder.with_precision(precision)


def _onnx_missing() -> str | None:
    """Why the ONNX embedder cannot be used, or None when it can (nothing heavy imported)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install onnxruntime)"
    from esqa.embed import bundled_model_path
    from esqa.onnx_export import cached_export

    if cached_export(bundled_model_path()) is not None:
        return None
    for needed in ("torch", "transformers", "onnx"):
        if importlib.util.find_spec(needed) is None:
            return f"the ONNX export is not cached and making it needs {needed}, not installed"
    return None


@functools.cache
def _note_once(note: str) -> None:
    logging.getLogger("esqa").warning(note)


def index_exists(index: Path = DEFAULT_INDEX) -> bool:
    return (Path(index).resolve() / MANIFEST).is_file()


def _recorded_corpus(manifest: dict[str, Any], corpus: Path | str | None) -> Path:
    """The corpus asked for, else the one the index was built from."""
    if corpus is not None:
        return Path(corpus)
    return Path(manifest.get("corpus") or DEFAULT_CORPUS)


def corpus_of(index: Path = DEFAULT_INDEX, corpus: Path | str | None = None) -> Path:
    """`corpus` if given, else the folder the index at `index` was built from, else seeds/."""
    if corpus is None and index_exists(index):
        try:
            _, manifest = read_manifest(Path(index))
        except EsqaError:
            return DEFAULT_CORPUS  # a damaged index is rebuilt from the default corpus
        return _recorded_corpus(manifest, None)
    return _recorded_corpus({}, corpus)


def _changes(
    records: Callable[[], SourceRecords], corpus: Path, manifest: dict[str, Any]
) -> CorpusChanges | None:
    """What changed in `corpus` since the build (None if it does not exist).

    The records are read only when the corpus's stats differ from the digest
    the build recorded (see `esqa.changes.compare_corpus`).
    """
    if not corpus.is_dir():
        return None
    return compare_corpus(corpus, manifest[CORPUS_STATS], records)


def verify(index: Path | str = DEFAULT_INDEX) -> VerifyReport:
    """Check every file of the index against its checksum, however large.

    A load checks large files by size only (see `esqa.reader.load_index`).
    Raises IndexInvalidError when a file is damaged. Example: `esqa.verify().files`.
    """
    return verify_index(Path(index))


def build(
    corpus: Path | str | None = None,
    index: Path | str = DEFAULT_INDEX,
    embedder: Embedder | None = None,
    progress: ProgressFactory | None = None,
    full: bool = False,
) -> BuildReport:
    """Update (or create) the index of `corpus` at `index`; returns what was done.

    Incremental unless `full`: unchanged text is not embedded again. `corpus`
    defaults to the one the index was built from. Example: `esqa.build(full=True)`.
    """
    index = Path(index)
    corpus = corpus_of(index, corpus)
    embedder = embedder or _default_for(index, fresh=full)
    return build_index(corpus, index, embedder, progress=progress, full=full)


def add(
    paths: Sequence[Path | str],
    corpus: Path | str | None = None,
    index: Path | str = DEFAULT_INDEX,
    replace: bool = False,
    embedder: Embedder | None = None,
    progress: ProgressFactory | None = None,
) -> AddResult:
    """Copy article files (or every `*.txt` in a folder) into the corpus, then update the index.

    A file of the same name with other content is kept unless `replace`; what
    was added, replaced or skipped, and why, is in the result, with the build
    report (None when nothing changed). Example: `esqa.add(["new.txt"]).added`.
    """
    index = Path(index)
    corpus = corpus_of(index, corpus)
    result = copy_articles([Path(p) for p in paths], corpus, replace=replace)
    copied = len(result.added) + len(result.replaced)
    if not copied and not _index_stale(index, corpus):
        return result
    try:
        embedder = embedder or _default_for(index, fresh=False)
        report = build_index(corpus, index, embedder, progress=progress)
    except EsqaError as exc:
        if not copied:
            raise
        # The copies stay (each is whole); say so, or the user would not know they were made.
        raise type(exc)(
            f"copied {copied} file(s) into {corpus} but did not update the index: {exc}"
        ) from None
    return dataclasses.replace(result, build=report)


def _index_stale(index: Path, corpus: Path) -> bool:
    """Whether the index is missing, unreadable or behind the corpus."""
    try:
        directory, manifest = read_manifest(index)
        changes = _changes(lambda: read_sources(index, directory, manifest), corpus, manifest)
    except EsqaError:
        return True
    return changes is None or changes.stale


def _info_of(
    index: Path,
    directory: Path,
    manifest: dict[str, Any],
    sources: SourceRecords,
    corpus: Path,
    changes: CorpusChanges | None,
) -> IndexInfo:
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
        skipped={s: r.get("reason", "") for s, r in sources.skipped.items()},
        build=manifest.get("build", {}),
    )


def info(index: Path | str = DEFAULT_INDEX, corpus: Path | str | None = None) -> IndexInfo:
    """Describe an index without loading its vectors."""
    index = Path(index)
    directory, manifest = read_manifest(index)
    sources = read_sources(index, directory, manifest)
    where = _recorded_corpus(manifest, corpus)
    changes = _changes(lambda: sources, where, manifest)
    return _info_of(index, directory, manifest, sources, where, changes)


class QA:
    """A loaded index with its embedder: search it and ask it."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        built: BuildReport | None = None,
        corpus: Path | None = None,
        changes: CorpusChanges | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.built = built  # set when `load` built or refreshed the index first
        self.corpus = corpus or _recorded_corpus(index.manifest, None)
        # Corpus files added, changed or removed since the build, as found at
        # load time; None when the corpus folder is gone.
        self.changes = changes
        self.__composer: Composer | None = None

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
        return article_chunks(self.index.chunks, chunk)

    def info(self) -> IndexInfo:
        """What `esqa info` shows, as of loading (the corpus is not compared again)."""
        index = self.index
        return _info_of(
            index.path, index.directory, index.manifest, index.sources, self.corpus, self.changes
        )

    def __repr__(self) -> str:
        counts = self.index.manifest.get("counts", {})
        return f"<esqa.QA index={str(self.index.path)!r} chunks={counts.get('chunks')}>"


def load(
    index: Path | str = DEFAULT_INDEX,
    corpus: Path | str | None = None,
    embedder: Embedder | None = None,
    build_if_missing: bool = True,
    progress: ProgressFactory | None = None,
    refresh: bool = False,
) -> QA:
    """Load the index at `index`, building it from `corpus` first if it is missing.

    `corpus` defaults to the folder the index was built from (seeds/ for a new
    index). The corpus is compared with the index once, here: `qa.changes`
    lists the files added, changed or removed since the build. With `refresh`,
    a stale index is first updated (incrementally). Example: `esqa.load(refresh=True)`.
    """
    index = Path(index)
    embedder = embedder or _default_for(index, fresh=not index_exists(index))
    report = None
    if build_if_missing and not index_exists(index):
        report = build_index(corpus_of(index, corpus), index, embedder, progress=progress)
    loaded = load_index(index, embedder.model_id, embedder.dimension)
    where = _recorded_corpus(loaded.manifest, corpus)
    changes = _changes(lambda: loaded.sources, where, loaded.manifest)
    if refresh and changes is not None and changes.stale:
        report = build_index(where, index, embedder, progress=progress)
        loaded = load_index(index, embedder.model_id, embedder.dimension)
        changes = _changes(lambda: loaded.sources, where, loaded.manifest)
    return QA(loaded, embedder, built=report, corpus=where, changes=changes)


# `esqa.add` names both a submodule and the `add` function above; the package
# exports the function. Importing the submodule (this module does, at its top)
# binds the name to the module, and `esqa/__init__` imports lazily, so the
# function is bound here, once the submodule is in.
import esqa as _package  # noqa: E402

_package.add = add
