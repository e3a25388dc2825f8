"""Build an index directory (loading it is `esqa.index.reader`'s).

`indexes/NAME/` (see `esqa.index.publish` for how it is written) holds:

- `manifest.json`: format and esqa versions, model id and dimension, the embedding
  backend (and ONNX export sha256) that embedded the build, chunking
  parameters, the stores' engines, the segments (`esqa.index.manifest.SegmentRecord`),
  counts, build time, the digest of the corpus files' names and stats
  (`esqa.index.changes`), the sha256 and size of every other index file, and
  the sha256 of its own content;
- `sources.json`: each corpus file's sha256, size and mtime, the segment that
  holds it, and the files skipped and why (see `esqa.index.manifest.SourceRecords`);
- `acronyms.json`: the acronyms found in the corpus (`esqa.ingest.acronyms`);
- `deleted.npy`: the chunk ids that are no longer live;
- `segments/NNNNNN/`: the segments (`esqa.index.segments`), each with its chunk
  table, stores (`dense.faiss`, `lexical/`), paragraphs and acronym occurrences.

A build from scratch writes one segment. An incremental build (the default)
reads and parses only the files whose size or modification time changed,
re-decides near-duplicates from what the segments keep, writes the new and
changed files into one new segment, deletes the chunks they replace, links
every other segment from the previous generation unchanged, and merges
segments when the policy says so (`esqa.index.merge_policy`). The result
searches as a build from scratch of the same corpus does.

Nothing is pickled. Loading checks the format version, the manifest's own
checksum and structure, the model, and each file's size and, up to
`esqa.index.reader.HASH_ON_LOAD_BYTES`, its checksum; it fails with a one-line
error that names the command to run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from esqa.embed.base import Embedder, ProgressFn
from esqa.errors import CorpusError, EsqaError
from esqa.index.chunk_table import text_hash
from esqa.index.generation import Plan, write_generation
from esqa.index.manifest import (
    Manifest,
    read_manifest,
)
from esqa.index.merge_policy import DEFAULT_POLICY, MergePolicy
from esqa.index.publish import check_location, publish, writer_lock
from esqa.index.segments import (
    SegmentContents,
    StoredSegment,
)
from esqa.index.sentence_vectors import (
    SENTENCE_FILES,
    SentenceVectors,
    quantise,
    sentence_texts,
)
from esqa.index.update import (
    Previous,
    Unusable,
    diff_corpus,
    new_segment_paragraphs,
    open_previous,
    read_moved,
    reading_previous,
    redecide_paragraphs,
)
from esqa.ingest.acronyms import acronym_occurrences
from esqa.ingest.chunking import ChunkingParams, TokenCounter
from esqa.ingest.chunks import document_chunks, document_paragraphs
from esqa.ingest.dedup import decide
from esqa.ingest.fingerprint import ingestion_fingerprint
from esqa.ingest.pages import load_corpus
from esqa.stores.bm25_lexical import describe_lexical
from esqa.stores.factory import (
    EMBEDDED,
    Stores,
    check_spec,
    create_stores,
    engine_descriptions,
    is_embedded,
    spec_of,
)
from esqa.types import Chunk

# Given how many items a stage has and its name ("chunking" files, "embedding"
# chunk and sentence texts), returns the callback that is told how many were just done.
ProgressFactory = Callable[[int, str], ProgressFn]


@dataclass(frozen=True)
class BuildReport:
    index: Path
    files: int
    articles: int
    paragraphs: int
    duplicates: int  # paragraphs not indexed because a fuller copy is
    chunks: int
    seconds: float
    warnings: tuple[str, ...] = ()
    incremental: bool = False  # the previous index was reused
    reused: int = 0  # live chunks not embedded by this build (kept in place, or vectors copied)
    embedded: int = 0  # chunks embedded by this build
    embedded_sentences: int = 0  # distinct sentences embedded by this build (others copied)
    chunked_files: int = 0  # files read and chunked by this build; the others kept their chunks
    segments: int = 1  # segments of the new index
    deleted: int = 0  # chunks this build marked deleted
    merged: int = 0  # segments merged away by this build
    written: int = 0  # chunks written into new segments (merges included)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["index"] = str(self.index)
        data["seconds"] = round(self.seconds, 3)
        data["warnings"] = list(self.warnings)
        return data


def build_index(
    corpus: Path,
    index: Path,
    embedder: Embedder,
    params: ChunkingParams | None = None,
    progress: ProgressFactory | None = None,
    full: bool = False,
    optimize: bool = False,
    policy: MergePolicy | None = DEFAULT_POLICY,
    store: str | None = None,
) -> BuildReport:
    """Build the index of every article under `corpus` and publish it at `index`.

    Example: `build_index(Path("seeds"), Path("indexes/default"), SentenceTransformerEmbedder())`.
    Unless `full`, the index being replaced is reused: only files whose stat
    changed are read, the new and changed ones are written into a new segment,
    and a chunk whose text it already holds keeps its vector. `optimize`
    merges every segment into one; `policy` says when segments merge on their
    own (None: never). The result is the same as a build from scratch. The
    previous index stays readable until the new one replaces it atomically.
    `store` is a store spec (`esqa.stores.factory`): by default the one the
    previous index was built with, else `embedded`. Segments are the embedded
    engine's: a server engine (Milvus) changes its rows in place itself, so
    its index is one segment that every build writes again from all files.
    """
    started = time.monotonic()
    params = params or ChunkingParams(max_tokens=embedder.max_tokens)
    check_location(index, corpus)  # before any work; `publish` checks again under the lock
    spec = check_spec(store) if store is not None else _recorded_store(index)
    with writer_lock(index):
        previous, unusable = (None, None) if full else _open_previous(index, embedder, params)
        warnings: list[str] = []
        if unusable:
            warnings.append(f"the previous index was not reused ({unusable}); building afresh")
        try:
            return _build(
                corpus, index, embedder, params, progress, previous, optimize, policy,
                warnings, started, spec,
            )  # fmt: skip
        except Unusable as exc:
            warnings.append(f"the previous index was not reused ({exc}); building afresh")
            return _build(
                corpus, index, embedder, params, progress, None, optimize, policy,
                warnings, started, spec,
            )  # fmt: skip


def _recorded_store(index: Path) -> str:
    """The store spec the index at `index` was built with; `embedded` when there is none."""
    try:
        _, manifest = read_manifest(index)
    except EsqaError:
        return EMBEDDED
    return spec_of(manifest.dense)


def _open_previous(
    index: Path, embedder: Embedder, params: ChunkingParams
) -> tuple[Previous | None, str | None]:
    tokenizer = describe_lexical()

    def reuse_chunks(manifest: Manifest) -> bool:
        return (
            manifest.chunking == params.to_dict()
            and manifest.ingestion == ingestion_fingerprint()
            and manifest.lexical == tokenizer
        )

    return open_previous(index, embedder.model_id, embedder.dimension, reuse_chunks)


def _build(
    corpus: Path,
    index: Path,
    embedder: Embedder,
    params: ChunkingParams,
    progress: ProgressFactory | None,
    previous: Previous | None,
    optimize: bool,
    policy: MergePolicy | None,
    warnings: list[str],
    started: float,
    spec: str = EMBEDDED,
) -> BuildReport:
    incremental = previous is not None
    embedded_engine = is_embedded(spec)
    same_engine = previous is not None and spec_of(previous.manifest.dense) == spec
    if previous is not None and previous.reuse_chunks and embedded_engine and same_engine:
        plan = _incremental_plan(corpus, previous)
    else:  # nothing, or only vectors, can be reused; or a server engine: every file
        plan = _fresh_plan(corpus)
    plan.warnings[:0] = warnings
    chunks, counts = _chunk(plan, embedder.count_tokens, params, progress)
    dimension = embedder.dimension
    # Before the slow part, so that a server that cannot be reached fails the build at once.
    stores = _new_stores(index, embedder, spec, previous)
    kept = stores.kept(chunks)
    done = _embed(chunks, previous, embedder, progress, kept)
    # A server engine's description names its collection and generation: known once filled.
    dense_engine, lexical_engine = engine_descriptions(dimension) if embedded_engine else ({}, {})
    new_contents = None
    if chunks:
        stores.dense.add(chunks, done.vectors)
        stores.lexical.add(chunks)
        if not embedded_engine:
            dense_engine, lexical_engine = stores.dense.describe(), stores.lexical.describe()
        new_contents = SegmentContents(
            sources=tuple(d.source for d in plan.documents),
            chunk_counts=tuple(counts),
            chunks=chunks,
            paragraphs=plan.paragraphs,
            occurrences=acronym_occurrences(chunks),
            stores=stores,
            sentences=done.sentences,
        )
    if not plan.kept and new_contents is None:
        raise CorpusError(f"no article files (*.txt with text) in {corpus}; add some first")
    embedded = len(chunks) - done.copied

    def write(directory: Path) -> Manifest:
        return write_generation(
            directory, corpus, plan, new_contents, previous, optimize, policy,
            embedder, params, dense_engine, lexical_engine, incremental,
            embedded, started,
        )  # fmt: skip

    written: list[Manifest] = []
    published = publish(index, lambda directory: written.append(write(directory)))
    stores.published()
    manifest = written[0]
    counts_ = manifest.counts
    return BuildReport(
        index=index,
        files=counts_.files,
        articles=counts_.articles,
        paragraphs=counts_.paragraphs,
        duplicates=counts_.duplicate_paragraphs,
        chunks=counts_.chunks,
        seconds=time.monotonic() - started,
        warnings=(*plan.warnings, *published.warnings),
        incremental=incremental,
        reused=counts_.chunks - embedded,
        embedded=embedded,
        embedded_sentences=done.sentences_embedded,
        chunked_files=len(plan.documents),
        segments=len(manifest.segments),
        deleted=manifest.build.deleted_chunks,
        merged=manifest.build.merged_segments,
        written=manifest.build.written_chunks,
    )


def _new_stores(index: Path, embedder: Embedder, spec: str, previous: Previous | None) -> Stores:
    """Empty stores of the spec; a server engine's continue the previous index's in place."""
    dense = None
    if previous is not None and not is_embedded(spec) and len(previous.segments) == 1:
        manifest = previous.manifest
        if spec_of(manifest.dense) == spec:
            with reading_previous("its store"):
                segment = previous.segments[0]
                dense = segment.stores(embedder.dimension, manifest.dense, manifest.lexical).dense
    return create_stores(
        embedder.dimension, spec, dense, model=embedder.model_id, owner=str(index.absolute())
    )


def _fresh_plan(corpus: Path) -> Plan:
    """Every file read and decided over the whole corpus: one segment."""
    scan = load_corpus(corpus)
    table = document_paragraphs(scan.documents)
    table = replace(table, kept=decide(table))
    return Plan(
        documents=list(scan.documents),
        paragraphs=table,
        kept=[],
        deleted=set(),
        sources={},
        skipped=dict(scan.skipped),
        warnings=list(scan.warnings),
    )


def _incremental_plan(corpus: Path, previous: Previous) -> Plan:
    """Only what changed is read; near-duplicates re-decided from the segments' paragraphs."""
    records = previous.records
    diff = diff_corpus(corpus, records)
    for _ in range(3):  # a file found edited while moving it is read again, once or twice
        with reading_previous("its near-duplicate data"):
            fresh, decision, segments = redecide_paragraphs(previous, diff.documents, diff.gone)
            table, moved = new_segment_paragraphs(previous, fresh, decision, segments)
        same, edited = read_moved(corpus, previous, moved)
        if not edited:
            break
        for source in edited:
            diff.read(corpus / source, source, records.sources[source])
    else:
        raise Unusable("files kept changing while they were read")
    documents = sorted([*diff.documents, *same], key=lambda d: d.source)
    gone = diff.gone | set(moved)
    deleted = set(previous.deleted.tolist())
    with reading_previous("its segments"):
        for source in sorted(gone):
            segment = previous.segment_of(source)
            base = segment.record.base
            deleted.update(base + i for i in segment.chunk_range(source))
        deleted_now = sum(len(previous.segment_of(s).chunk_range(s)) for s in gone)
    sources = {s: r for s, r in records.sources.items() if s not in gone}
    for source, (size, mtime_ns) in diff.touched.items():
        # A touched file whose paragraphs move to the new segment is recorded
        # afresh there, with the stat it was read with.
        if source in sources:
            sources[source] = {**sources[source], "bytes": size, "mtime_ns": mtime_ns}
    holding = {r["segment"] for r in sources.values()}
    kept = [s for s in previous.segments if s.name in holding]
    # Every large file a build keeps is hashed first, as before segments: a
    # build is the command that repairs an index, so it must not carry damage
    # forward (the small files were hashed when the manifest was read).
    with reading_previous("its segments"):
        for segment in kept:
            previous.verify_all(segment)
    # A segment left with no live file is dropped, and its deleted ids with it.
    deleted = {
        i
        for i in deleted
        if any(s.record.base <= i < s.record.base + s.record.chunks for s in kept)
    }
    return Plan(
        documents=documents,
        paragraphs=table,
        kept=kept,
        deleted=deleted,
        sources=sources,
        skipped=diff.skipped,
        warnings=diff.warnings,
        deleted_now=deleted_now,
    )


def _chunk(
    plan: Plan, count: TokenCounter, params: ChunkingParams, progress: ProgressFactory | None
) -> tuple[list[Chunk], list[int]]:
    """The new segment's chunks (ids local, in corpus order) and each file's count."""
    table = plan.paragraphs
    dropped: dict[str, set[int]] = {}
    for row in np.flatnonzero(~table.kept).tolist():
        dropped.setdefault(table.sources[table.source[row]], set()).add(int(table.number[row]))
    done = progress(len(plan.documents), "chunking") if progress and plan.documents else None
    chunks: list[Chunk] = []
    counts = []
    for doc in plan.documents:
        mine = document_chunks(doc, dropped.get(doc.source, set()), count, params)
        base = len(chunks)
        chunks.extend(replace(c, id=base + i) for i, c in enumerate(mine))
        counts.append(len(mine))
        if done:
            done(1)
    return chunks, counts


def _embedded_before(
    chunks: Sequence[Chunk], previous: Previous | None
) -> dict[int, tuple[StoredSegment, int]]:
    """The chunks whose text a segment of the previous index holds (live or
    deleted: a renamed file), by position: that segment and the chunk's place in it.

    Texts are found by their hash (`chunks.texts.npy`) and compared in full.
    """
    found: dict[int, tuple[StoredSegment, int]] = {}
    if previous is None or not chunks:
        return found
    wanted: dict[int, list[int]] = {}
    for i, chunk in enumerate(chunks):
        wanted.setdefault(text_hash(chunk.text), []).append(i)
    keys = np.array(sorted(wanted), dtype=np.uint64)
    for segment in previous.segments:
        with reading_previous(f"segment {segment.name}"):
            hashes = np.asarray(segment.text_hashes)
            hits = np.flatnonzero(np.isin(hashes, keys))
            for position in hits.tolist():
                text = segment.chunks[position].text
                for i in wanted.get(int(hashes[position]), ()):
                    if i not in found and chunks[i].text == text:
                        found[i] = (segment, position)
    return found


@dataclass(frozen=True)
class _Embedded:
    """The vectors of a build's chunks and of their sentences, and what was embedded."""

    vectors: np.ndarray  # one row per chunk
    copied: int  # chunks whose vector came from the previous index, or stayed in place
    sentences: SentenceVectors
    sentences_embedded: int  # distinct sentences embedded


def _embed(
    chunks: Sequence[Chunk],
    previous: Previous | None,
    embedder: Embedder,
    progress: ProgressFactory | None,
    kept: Sequence[int] = (),
) -> _Embedded:
    """Every chunk's vector and its sentences' vectors: copied where a segment of
    the previous index holds the chunk's text, else embedded.

    A vector depends only on the text and the model, so a chunk whose text any
    segment holds (live or deleted: a renamed file) copies its vector and its
    sentences' (the same text has the same sentences). The chunks at `kept`
    stay in the stores as they are and need no vector (a server changed in
    place): their rows stay zero, and they count as copied. Each distinct
    sentence is embedded once: neighbouring chunks share one (the overlap).

    The chunks and the sentences are embedded side by side on two threads,
    which the model's runtime lets run at once (it releases the GIL), as one
    progress stage: on two cores the sentences then cost little more than the
    chunks alone.
    """
    found = _embedded_before(chunks, previous)
    skip = set(kept)
    todo = [i for i in range(len(chunks)) if i not in found and i not in skip]
    unfound = [i for i in range(len(chunks)) if i not in found]
    texts = [sentence_texts(chunks[i]) for i in unfound]
    distinct = list(dict.fromkeys(t for group in texts for t in group))
    total = len(todo) + len(distinct)
    report = progress(total, "embedding") if progress is not None and total else None
    # Copied first: a previous index that turns out unreadable stops the build
    # (which starts afresh) before any embedding.
    vectors = _copied_vectors(chunks, previous, found, embedder.dimension, skip)
    parts = _copied_sentences(chunks, previous, found)
    chunk_rows, rows = _side_by_side(embedder, [[chunks[i].text for i in todo], distinct], report)
    if todo:
        vectors[todo] = chunk_rows
    row = {text: n for n, text in enumerate(distinct)}
    for i, group in zip(unfound, texts, strict=True):
        parts[i] = quantise(rows[[row[t] for t in group]])
    sentences = SentenceVectors.join([p for p in parts if p is not None], embedder.dimension)
    return _Embedded(vectors, len(chunks) - len(todo), sentences, len(distinct))


class _Stopped(Exception):
    """Raised in an embedding thread once the other one has failed."""


def _side_by_side(
    embedder: Embedder, lists: list[list[str]], report: ProgressFn | None
) -> list[np.ndarray]:
    """Each list of texts embedded on a thread of its own, all at once.

    When one fails, or the build is interrupted (Ctrl-C), the others stop at
    their next progress report (every few texts) instead of embedding all
    they were given before the error reaches the user.
    """
    stop = threading.Event()

    def tick(done: int) -> None:
        if stop.is_set():
            raise _Stopped
        if report is not None:
            report(done)

    def run(texts: list[str]) -> np.ndarray:
        if not texts:  # loading the model takes seconds: nothing to embed, no model
            return np.zeros((0, embedder.dimension), dtype=np.float32)
        return embedder.embed(texts, progress=tick)

    pool = ThreadPoolExecutor(max_workers=len(lists))
    try:
        jobs = [pool.submit(run, texts) for texts in lists]
        finished, _ = wait(jobs, return_when=FIRST_EXCEPTION)
        for job in finished:
            error = job.exception()
            if error is not None:
                raise error
        return [job.result() for job in jobs]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)


def _copied_vectors(
    chunks: Sequence[Chunk],
    previous: Previous | None,
    found: dict[int, tuple[StoredSegment, int]],
    dimension: int,
    skip: set[int],
) -> np.ndarray:
    """A row per chunk: the vector of each found chunk not skipped, zeros elsewhere."""
    vectors = np.zeros((len(chunks), dimension), dtype=np.float32)
    copy = {i: where for i, where in found.items() if i not in skip}
    by_segment: dict[str, list[int]] = {}
    for i, (segment, _) in copy.items():
        by_segment.setdefault(segment.name, []).append(i)
    if previous is not None:
        manifest = previous.manifest
        for rows in by_segment.values():
            segment = copy[rows[0]][0]
            with reading_previous(f"segment {segment.name}"):
                if f"{segment.record.directory}/dense.faiss" in previous.manifest.files:
                    previous.verify(segment, "dense.faiss")
                stores = segment.stores(dimension, manifest.dense, manifest.lexical)
                vectors[rows] = stores.dense.vectors([copy[i][1] for i in rows])
    return vectors


def _copied_sentences(
    chunks: Sequence[Chunk],
    previous: Previous | None,
    found: dict[int, tuple[StoredSegment, int]],
) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Each found chunk's sentence rows as stored (codes, scales); None elsewhere."""
    parts: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(chunks)
    for i, (segment, position) in found.items():
        assert previous is not None
        with reading_previous(f"segment {segment.name}"):
            for name in SENTENCE_FILES:
                previous.verify(segment, name)
            parts[i] = segment.sentences.part(position)
    return parts
