"""The library entry points: what `import esqa` and the CLI call.

import esqa
qa = esqa.load()                       # indexes/default, built from seeds/ if missing
for hit in qa.search("ESPA fourth pillar", k=3):
    print(hit.source, hit.chunk.line_start, hit.text[:80])
"""

from __future__ import annotations

import dataclasses
import functools
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from esqa import settings
from esqa.answer.compose import Composer, expand_query
from esqa.answer.paraphrase import WordVectors
from esqa.answer.sentences import SentenceSpace
from esqa.articles import ArticleEntry, Catalog, SourceText
from esqa.embed.base import Embedder, bundled_model_path
from esqa.embed.choice import make_embedder, with_precision
from esqa.errors import EsqaError, IndexBusyError
from esqa.index.add import AddResult, copy_articles, name_list
from esqa.index.build import BuildReport, ProgressFactory, build_index
from esqa.index.changes import CorpusChanges, compare_corpus
from esqa.index.chunk_table import article_chunks
from esqa.index.manifest import (
    MANIFEST,
    SOURCES,
    Manifest,
    SourceRecords,
    build_began_ns,
    read_manifest,
    read_sources,
)
from esqa.index.merge_policy import merge_outlook
from esqa.index.publish import check_location, wait_for_writer
from esqa.index.reader import Index, VerifyReport, load_index, verify_index
from esqa.index.search import clean_query, hybrid_search
from esqa.settings import ANSWER_PASSAGES, DEFAULT_CORPUS, SEARCH_HITS
from esqa.types import Answer, Chunk, Hit


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
    segments: list[dict[str, Any]] = field(default_factory=list)  # name, base, chunks, deleted, ...
    deleted: int = 0  # chunk ids deleted and not yet merged away
    merge: dict[str, Any] = field(default_factory=dict)  # "due": merges due now; "next": when

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
            "segments": self.segments,
            "deleted": self.deleted,
            "merge": self.merge,
        }


def embedder_for(
    index: Path, fresh: bool, precision: str | None = None, embedder: Embedder | None = None
) -> Embedder:
    """`embedder` (default: the configured one, `esqa.settings`) at the precision
    the index at `index` needs.

    That is the precision the index was built with; for an index about to be
    built from scratch (`fresh`) or without a readable manifest, `precision`,
    else the `precision` setting. Only the ONNX embedder has a precision.
    """
    embedder = embedder or make_embedder()
    wanted = precision or settings.current().precision
    if wanted not in settings.PRECISIONS:
        where = "precision" if precision else "ESQA_PRECISION"
        raise EsqaError(
            f"{where} {wanted!r} is not one of {', '.join(settings.PRECISIONS)}; pick one"
        )
    if not fresh:
        try:
            _, manifest = read_manifest(index)
        except EsqaError:
            pass
        else:
            wanted = manifest.model.precision
    # Another model's index keeps the embedder as it is: loading says so, with
    # the command that rebuilds.
    return with_precision(embedder, wanted)


def _index_path(index: Path | str | None) -> Path:
    return Path(index) if index is not None else settings.current().index


def index_exists(index: Path | str | None = None) -> bool:
    """Whether there is an index at `index` to load (a damaged one too: loading says so)."""
    try:
        return (_index_path(index).resolve() / MANIFEST).is_file()
    except (OSError, RuntimeError):  # a link loop (RuntimeError before 3.13): broken, not missing
        return True


def _recorded_corpus(manifest: Manifest | None, corpus: Path | str | None) -> Path:
    """The corpus asked for, else the one the index was built from."""
    if corpus is not None:
        return Path(corpus)
    return Path(manifest.corpus if manifest and manifest.corpus else DEFAULT_CORPUS)


def corpus_of(index: Path | str | None = None, corpus: Path | str | None = None) -> Path:
    """`corpus` if given (or the `corpus` setting), else the folder the index at
    `index` was built from, else seeds/."""
    corpus = corpus if corpus is not None else settings.current().corpus
    if corpus is None and index_exists(index):
        try:
            _, manifest = read_manifest(_index_path(index))
        except EsqaError:
            return DEFAULT_CORPUS  # a damaged index is rebuilt from the default corpus
        return _recorded_corpus(manifest, None)
    return _recorded_corpus(None, corpus)


def _changes(
    records: Callable[[], SourceRecords], corpus: Path, manifest: Manifest
) -> CorpusChanges | None:
    """What changed in `corpus` since the build (None if it does not exist).

    The records are read only when the corpus's stats differ from the digest
    the build recorded (see `esqa.index.changes.compare_corpus`).
    """
    if not corpus.is_dir():
        return None
    return compare_corpus(
        corpus,
        manifest.corpus_stats,
        records,
        began_ns=build_began_ns(manifest),
        racy_files=manifest.racy_files,
    )


def verify(index: Path | str | None = None) -> VerifyReport:
    """Check every file of the index against its checksum, however large.

    A load checks large files by size only (see `esqa.index.reader.load_index`).
    Raises IndexInvalidError when a file is damaged. Example: `esqa.verify().files`.
    """
    return verify_index(_index_path(index))


def build(
    corpus: Path | str | None = None,
    index: Path | str | None = None,
    embedder: Embedder | None = None,
    progress: ProgressFactory | None = None,
    full: bool = False,
    precision: str | None = None,
    optimize: bool = False,
    store: str | None = None,
) -> BuildReport:
    """Update (or create) the index of `corpus` at `index`; returns what was done.

    Incremental unless `full`: only files whose stat changed are read, and
    unchanged text is not embedded again. `optimize` merges every segment into
    one (what `full` writes, without embedding again). `corpus` defaults to the
    one the index was built from. `precision` ("int8" or "fp32", default: the
    `precision` setting) is that of a new index's vectors; an existing index
    keeps its own unless `full`. `store` is where the vectors and terms go:
    "embedded" (files in the index, the default for a new index) or
    "milvus://HOST:PORT/COLLECTION"; an existing index keeps its own unless
    given. Example: `esqa.build(full=True, precision="fp32")`.
    """
    index = _index_path(index)
    corpus = corpus_of(index, corpus)
    embedder = embedder or embedder_for(index, fresh=full, precision=precision)
    return build_index(
        corpus, index, embedder, progress=progress, full=full, optimize=optimize, store=store
    )


def add(
    paths: Sequence[Path | str],
    corpus: Path | str | None = None,
    index: Path | str | None = None,
    replace: bool = False,
    embedder: Embedder | None = None,
    progress: ProgressFactory | None = None,
) -> AddResult:
    """Copy article files (or every `*.txt` in a folder) into the corpus, then update the index.

    A file of the same name with other content is kept unless `replace`; what
    was added, replaced or skipped, and why, is in the result, with the build
    report (None when nothing changed). Example: `esqa.add(["new.txt"]).added`.
    """
    index = _index_path(index)
    corpus = corpus_of(index, corpus)
    check_location(index, corpus)  # the build would refuse it: refuse before copying
    result = copy_articles([Path(p) for p in paths], corpus, replace=replace)
    copied = [f.source or str(f.origin) for f in (*result.added, *result.replaced)]
    if not copied and not _index_stale(index, corpus):
        return result
    try:
        embedder = embedder or embedder_for(index, fresh=False)
        report = build_index(corpus, index, embedder, progress=progress)
    except EsqaError as exc:
        if not copied:
            raise
        # The copies stay (each is whole); say so, or the user would not know they were made.
        error = type(exc)(
            f"copied {len(copied)} file(s) into {corpus} ({name_list(copied)}) but did not "
            f"update the index: {exc.problem}",
            hint=exc.hint,
        )
        if isinstance(exc, OSError) and isinstance(error, OSError):
            error.errno = exc.errno
        raise error from None
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
    manifest: Manifest,
    sources: SourceRecords,
    corpus: Path,
    changes: CorpusChanges | None,
) -> IndexInfo:
    return IndexInfo(
        index=index,
        directory=directory,
        corpus=corpus,
        created=manifest.created,
        esqa_version=manifest.esqa_version,
        model=manifest.model.id,
        dimension=manifest.model.dimension,
        counts=dataclasses.asdict(manifest.counts),
        chunking=manifest.chunking,
        dense=manifest.dense,
        lexical=manifest.lexical,
        changes=changes,
        skipped={s: r.get("reason", "") for s, r in sources.skipped.items()},
        build=dataclasses.asdict(manifest.build),
        segments=[dataclasses.asdict(s) for s in manifest.segments],
        deleted=manifest.deleted,
        merge=merge_outlook(manifest.segments),
    )


def info(index: Path | str | None = None, corpus: Path | str | None = None) -> IndexInfo:
    """Describe an index without loading its vectors."""
    index = _index_path(index)
    corpus = corpus if corpus is not None else settings.current().corpus
    directory, manifest = read_manifest(index)
    sources = read_sources(index, directory, manifest)
    where = _recorded_corpus(manifest, corpus)
    changes = _changes(lambda: sources, where, manifest)
    return _info_of(index, directory, manifest, sources, where, changes)


# Query vectors a QA keeps: `ask` embeds its question once for the search and the composer.
_KEPT_QUERIES = 16


@functools.cache
def _word_vectors() -> WordVectors | None:
    """The bundled model's word-piece vectors, for paraphrases; None without the model."""
    try:
        return WordVectors.open(bundled_model_path())
    except EsqaError:
        return None


class QA:
    """A loaded index with its embedder: search it and ask it."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        built: BuildReport | None = None,
        corpus: Path | None = None,
        changes: CorpusChanges | None = None,
        refresh_skipped: str | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.built = built  # set when `load` built or refreshed the index first
        self.corpus = corpus or _recorded_corpus(index.manifest, None)
        # Corpus files added, changed or removed since the build, as found at
        # load time; None when the corpus folder is gone.
        self.changes = changes
        # Why `load(refresh=True)` answers from the index as it was (another
        # process was writing it), or None.
        self.refresh_skipped = refresh_skipped
        self.__composer: Composer | None = None
        self.__vectors: dict[str, np.ndarray] = {}
        # `info()` reads `sources.json` only when asked (parsing it at load
        # would cost seconds on a large corpus), and two rebuilds later the
        # generation it is in may be removed. An open descriptor keeps the
        # file's content readable until this object goes: one descriptor,
        # where reading it now would cost the time loading saves.
        self.__sources_fd: int | None = None
        try:
            self.__sources_fd = os.open(index.directory / SOURCES, os.O_RDONLY)
        except OSError:
            pass  # `info()` reads it by name, and says so if that fails
        else:
            weakref.finalize(self, os.close, self.__sources_fd)
        self.__catalog: Catalog | None = None

    def search(self, query: str, k: int = SEARCH_HITS) -> list[Hit]:
        """The k passages that best match the query, best first.

        Searched as `ask` searches: known acronyms are spelled out (and long
        forms abbreviated) before both searches.
        """
        return self._hits(clean_query(query), k)

    def ask(self, question: str, k: int = ANSWER_PASSAGES) -> Answer:
        """Answer a question with verbatim sentences and their citations.

        `k` is how many retrieved passages the composer reads. Example:
        `qa.ask("what is ESPA's fourth pillar").text`.
        """
        text = clean_query(question)
        return self._composer.compose(text, self._hits(text, k))

    def passages(self, question: str, k: int = ANSWER_PASSAGES) -> list[Hit]:
        """The k passages the composer reads for a question, best first (as `ask` reads them).

        `esqa eval --explain` reads them to tell a retrieval miss from a composer miss.
        """
        return self._hits(clean_query(question), k)

    def _hits(self, text: str, k: int) -> list[Hit]:
        query = expand_query(text, self.index.acronyms)
        return hybrid_search(self.index, query, self._query_vector(query), k)

    def _query_vector(self, query: str) -> np.ndarray:
        """The query's vector; the last few are kept, as `ask` searches with the
        question's (spelled out where it names a known acronym) and the composer
        compares the question's own with the sentences read: one vector when the
        two are the same text."""
        vector = self.__vectors.get(query)
        if vector is None:
            if len(self.__vectors) >= _KEPT_QUERIES:
                self.__vectors.pop(next(iter(self.__vectors)))
            vector = self.__vectors[query] = self.embedder.embed([query])[0]
        return vector

    def compose(self, question: str, hits: Sequence[Hit]) -> Answer:
        """The answer to a question from passages already read (see `passages`)."""
        return self._composer.compose(clean_query(question), hits)

    @property
    def composer(self) -> Composer:
        """The composer of this index (its analyser, term weights and acronyms)."""
        return self._composer

    @property
    def _composer(self) -> Composer:
        if self.__composer is None:
            lexical = self.index.lexical
            self.__composer = Composer(
                lexical.terms,
                lexical.idf,
                self.index.acronyms,
                self._article_chunks,
                vectors=_word_vectors(),
                # The question as asked: the expansions added for search
                # ("(Severe Acute Respiratory Syndrome)") moved the sentence
                # similarities away from it (held-out top-1 key sentence 0.607
                # with them, 0.618 without: see the README's "Results").
                space=SentenceSpace(
                    self._query_vector,
                    lambda chunk: self.index.chunks.sentence_vectors(chunk.id),
                ),
            )
        return self.__composer

    def _article_chunks(self, chunk: Chunk) -> list[Chunk]:
        """Every chunk of the article that holds `chunk`, in file order."""
        return article_chunks(self.index.chunks, chunk)

    def articles(self) -> list[ArticleEntry]:
        """Every article the index holds (title, publisher, date, file, lines), in corpus order."""
        return self._catalog.articles()

    def article_at(self, source: str, line: int) -> ArticleEntry | None:
        """The article of the indexed file `source` that holds `line`, as the index recorded it.

        Raises SourceNotFoundError when the index holds no file of that name.
        """
        return self._catalog.article_at(source, line)

    def article(self, source: str) -> SourceText:
        """The lines of the indexed file `source`, read from the corpus.

        Only a name the index recorded is opened (never a path given here).
        Raises SourceNotFoundError for any other name, or when the file is
        gone. Example: `qa.article(answer.citations[0].source).lines`.
        """
        return self._catalog.read(source)

    @property
    def _catalog(self) -> Catalog:
        if self.__catalog is None:
            self.__catalog = Catalog(self.index, self.corpus)
        return self.__catalog

    def info(self) -> IndexInfo:
        """What `esqa info` shows, as of loading (the corpus is not compared again)."""
        index = self.index
        return _info_of(
            index.path, index.directory, index.manifest, self._sources(), self.corpus, self.changes
        )

    def _sources(self) -> SourceRecords:
        """The source records of the loaded generation, even once it has been removed."""
        fd = self.__sources_fd
        if fd is None:
            return self.index.sources
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0)
        return read_sources(self.index.path, self.index.directory, self.index.manifest, data)

    def __repr__(self) -> str:
        chunks = self.index.manifest.counts.chunks
        return f"<esqa.QA index={str(self.index.path)!r} chunks={chunks}>"


def load(
    index: Path | str | None = None,
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
    index = _index_path(index)
    corpus = corpus if corpus is not None else settings.current().corpus
    embedder = embedder or embedder_for(index, fresh=not index_exists(index))
    report = None
    if build_if_missing and not index_exists(index):
        report = _build_missing(corpus_of(index, corpus), index, embedder, progress)
    loaded = load_index(index, embedder.model_id, embedder.dimension)
    where = _recorded_corpus(loaded.manifest, corpus)
    changes = _changes(lambda: loaded.sources, where, loaded.manifest)
    skipped = None
    if refresh and changes is not None and changes.stale:
        try:
            report = build_index(where, index, embedder, progress=progress)
        except IndexBusyError:
            # A reader does not need the update to answer: the index it has is whole.
            skipped = f"another esqa process is writing the index {index} now"
        else:
            loaded = load_index(index, embedder.model_id, embedder.dimension)
            changes = _changes(lambda: loaded.sources, where, loaded.manifest)
    return QA(
        loaded, embedder, built=report, corpus=where, changes=changes, refresh_skipped=skipped
    )


def _build_missing(
    corpus: Path, index: Path, embedder: Embedder, progress: ProgressFactory | None
) -> BuildReport | None:
    """Build the missing index; None when another process was building it and did.

    Two first questions at once: the second waits for the first one's build,
    as a reader, instead of failing because another process writes.
    """
    try:
        return build_index(corpus, index, embedder, progress=progress)
    except IndexBusyError:
        wait_for_writer(index)
        if index_exists(index):
            return None
        return build_index(corpus, index, embedder, progress=progress)  # that build failed
