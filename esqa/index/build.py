"""Build an index directory (loading it is `esqa.index.reader`'s).

`indexes/NAME/` (see `esqa.index.publish` for how it is written) holds:

- `manifest.json`: format and esqa versions, model id and dimension, the embedding
  backend (and ONNX export sha256) that embedded the build, chunking
  parameters, the stores' descriptions, counts, build time, the digest of the
  corpus files' names and stats (`esqa.index.changes`), the sha256 and size of
  every other index file, and the sha256 of its own content;
- `sources.json`: each corpus file's sha256, size and mtime, and the files
  skipped and why (see `esqa.index.manifest.SourceRecords`);
- `acronyms.json`: the acronyms found in the corpus (`esqa.ingest.acronyms`);
- `chunks.jsonl`: one chunk per line, with its provenance, with
  `chunks.offsets.npy`, where each line starts, and `chunks.crc32.npy`, each
  line's CRC-32 (see `esqa.index.chunk_table`);
- the stores' files: `dense.faiss` (FAISS) and `lexical/` (bm25s arrays and JSON).

Nothing is pickled. Loading checks the format version, the manifest's own
checksum and structure, the model, and each file's size and, up to
`esqa.index.reader.HASH_ON_LOAD_BYTES`, its checksum; it fails with a one-line
error that names the command to run.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from esqa import __version__
from esqa.embed.base import Embedder, ProgressFn, describe_embedder
from esqa.errors import CorpusError, EsqaError
from esqa.fileio import sha256_file
from esqa.index.changes import recorded_digest
from esqa.index.chunk_table import write_chunks
from esqa.index.manifest import (
    ACRONYMS,
    MANIFEST,
    SOURCES,
    BuildRecord,
    Counts,
    Manifest,
    ModelRecord,
    SourceRecords,
    read_manifest,
    write_manifest,
)
from esqa.index.publish import check_location, publish, writer_lock
from esqa.index.reader import load_index
from esqa.ingest.acronyms import mine_acronyms
from esqa.ingest.chunking import ChunkingParams, TokenCounter
from esqa.ingest.chunks import append_numbered, document_chunks, find_dropped
from esqa.ingest.fingerprint import ingestion_fingerprint
from esqa.ingest.pages import load_corpus
from esqa.stores.base import DenseStore
from esqa.stores.factory import EMBEDDED, check_spec, create_stores, spec_of
from esqa.types import Chunk, Document

# Given how many items a stage has and its name ("chunking" files, "embedding"
# chunks), returns the callback that is told how many were just done.
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
    incremental: bool = False  # the previous index's vectors (and chunks) were reused
    reused: int = 0  # chunks whose vector came from the previous index
    embedded: int = 0  # chunks embedded by this build
    chunked_files: int = 0  # files chunked by this build; the others kept their stored chunks

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["index"] = str(self.index)
        data["seconds"] = round(self.seconds, 3)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class _Previous:
    """What a build may reuse from the index it replaces."""

    sources: dict[str, Any]  # the record of each indexed file (`sources.json`)
    chunks: dict[str, list[Chunk]]  # by source, in order
    reuse_chunks: bool  # False when the chunking parameters or the ingestion code changed
    ids_by_text: dict[str, int]  # chunk text -> id of its vector in `dense`
    dense: DenseStore

    def chunks_of(self, doc: Document, dropped: list[int]) -> list[Chunk] | None:
        """The stored chunks of an unchanged file, or None when it must be chunked again."""
        record = self.sources.get(doc.source)
        if not self.reuse_chunks or record is None:
            return None
        if record.get("sha256") != doc.sha256 or record.get("dropped") != dropped:
            return None
        return self.chunks.get(doc.source, [])


def _previous_index(
    index: Path, embedder: Embedder, params: ChunkingParams
) -> tuple[_Previous | None, str | None]:
    """The index about to be replaced, when its vectors can be reused; else None and
    why not (None too when there is no index yet)."""
    try:
        directory = index.resolve()
    except RuntimeError as exc:  # a link loop (OSError from Python 3.13 on)
        return None, f"{index} is a broken symbolic link ({exc})"
    except OSError as exc:
        return None, f"{index} cannot be resolved ({exc.strerror or exc})"
    if not (directory / MANIFEST).is_file():
        return None, None
    try:
        # Every checksum: damage in a reused vector would outlive this build.
        loaded = load_index(index, embedder.model_id, embedder.dimension, verify="full")
        loaded.sources  # noqa: B018 (read now, so that a damaged file is caught here)
    except EsqaError as exc:
        return None, exc.problem
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # The repair command must never fail on the index it repairs.
        return None, f"{directory / MANIFEST} is damaged ({type(exc).__name__}: {exc})"
    except OSError as exc:  # an I/O error reading it: build afresh rather than fail
        return None, f"{directory} cannot be read ({exc.strerror or exc})"
    manifest = loaded.manifest
    ordered = list(loaded.chunks.values())  # a chunk table iterates in id order
    by_source: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in ordered:
        by_source[chunk.source].append(chunk)
    return (
        _Previous(
            sources=loaded.sources.sources,
            chunks=dict(by_source),
            reuse_chunks=manifest.chunking == params.to_dict()
            and manifest.ingestion == ingestion_fingerprint(),
            ids_by_text={c.text: c.id for c in ordered},
            dense=loaded.dense,
        ),
        None,
    )


def _corpus_chunks(
    documents: Sequence[Document],
    dropped: dict[str, list[int]],
    previous: _Previous | None,
    count: TokenCounter,
    params: ChunkingParams,
    progress: ProgressFactory | None,
) -> tuple[list[Chunk], int]:
    """Every chunk of the corpus, numbered in corpus order; and how many files were chunked.

    Unchanged files keep their stored chunks: sentence splitting is the slow part.
    """
    stored = {
        doc.source: previous.chunks_of(doc, dropped[doc.source]) if previous else None
        for doc in documents
    }
    chunked_files = sum(1 for kept in stored.values() if kept is None)
    done = progress(chunked_files, "chunking") if progress and chunked_files else None
    chunks: list[Chunk] = []
    for doc in documents:
        kept = stored[doc.source]
        if kept is None:
            kept = document_chunks(doc, set(dropped[doc.source]), count, params)
            if done:
                done(1)
        append_numbered(chunks, kept)
    return chunks, chunked_files


def _vectors(
    chunks: Sequence[Chunk],
    previous: _Previous | None,
    embedder: Embedder,
    progress: ProgressFactory | None,
    kept: Sequence[int] = (),
) -> tuple[np.ndarray, int]:
    """Every chunk's vector, and how many came from the previous index.

    A vector depends only on the text and the model, so any chunk whose text
    the previous index holds reuses its vector, wherever the chunk now is.
    The chunks at `kept` stay in the stores as they are and need none (a
    server changed in place): their rows stay zero, and they count as reused.
    """
    vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    known = previous.ids_by_text if previous else {}
    skip = set(kept)
    reuse = [i for i, c in enumerate(chunks) if c.text in known and i not in skip]
    if previous is not None and reuse:
        vectors[reuse] = previous.dense.vectors([known[chunks[i].text] for i in reuse])
    todo = [i for i, c in enumerate(chunks) if c.text not in known]
    # Loading the model takes seconds: a build that embeds nothing never loads it.
    if todo:
        vectors[todo] = embedder.embed(
            [chunks[i].text for i in todo],
            progress=progress(len(todo), "embedding") if progress else None,
        )
    return vectors, len(reuse) + len(skip)


def build_index(
    corpus: Path,
    index: Path,
    embedder: Embedder,
    params: ChunkingParams | None = None,
    progress: ProgressFactory | None = None,
    full: bool = False,
    store: str | None = None,
) -> BuildReport:
    """Build the index of every article under `corpus` and publish it at `index`.

    Example: `build_index(Path("seeds"), Path("indexes/default"), SentenceTransformerEmbedder())`.
    Unless `full`, the index being replaced is reused: a chunk whose text it
    already holds keeps its vector, and a file whose content and near-duplicate
    paragraphs are unchanged keeps its chunks. The result is the same as a
    build from scratch. The previous index stays readable until the new one
    replaces it atomically. `store` is a store spec (`esqa.stores.factory`):
    by default the one the previous index was built with, else `embedded`.
    """
    started = time.monotonic()
    params = params or ChunkingParams(max_tokens=embedder.max_tokens)
    check_location(index, corpus)  # before any work; `publish` checks again under the lock
    spec = check_spec(store) if store is not None else _recorded_store(index)
    with writer_lock(index):
        previous, unusable = (None, None) if full else _previous_index(index, embedder, params)
        # Before the slow part, so that a server that cannot be reached fails the build at once.
        stores = create_stores(
            embedder.dimension,
            spec,
            previous.dense if previous else None,
            model=embedder.model_id,
            owner=str(index.absolute()),
        )
        # Every file is parsed, not only the changed ones: near-duplicate
        # decisions need every paragraph, and parsing is cheap next to
        # chunking and embedding (about 1 s per 2,000 short articles).
        scan = load_corpus(corpus)
        documents, warnings = scan.documents, list(scan.warnings)
        if not documents:
            raise CorpusError(f"no article files (*.txt with text) in {corpus}; add some first")
        if unusable:
            warnings.append(f"the previous index was not reused ({unusable}); building afresh")
        dropped = find_dropped(documents)
        chunks, chunked_files = _corpus_chunks(
            documents, dropped, previous, embedder.count_tokens, params, progress
        )
        vectors, reused = _vectors(chunks, previous, embedder, progress, stores.kept(chunks))
        stores.dense.add(chunks, vectors)
        stores.lexical.add(chunks)
        acronyms = mine_acronyms(chunks)
        duplicates = sum(len(numbers) for numbers in dropped.values())
        seconds = time.monotonic() - started
        sources = SourceRecords(
            _source_records(corpus, documents, chunks, dropped),
            _skipped_records(corpus, scan.skipped),
        )
        manifest = Manifest(
            esqa_version=__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_seconds=round(seconds, 3),
            build=BuildRecord(
                incremental=previous is not None,
                reused_chunks=reused,
                embedded_chunks=len(chunks) - reused,
                chunked_files=chunked_files,
            ),
            corpus=str(corpus.resolve()),  # absolute: later commands may run elsewhere
            model=ModelRecord(embedder.model_id, embedder.dimension),
            # Which backend embedded this build's new chunks (and its ONNX
            # export's sha256). Informational: vectors are interchangeable
            # between backends of the same model id, so loading does not check it.
            embedder=describe_embedder(embedder),
            chunking=params.to_dict(),
            ingestion=ingestion_fingerprint(),
            dense=stores.dense.describe(),
            lexical=stores.lexical.describe(),
            counts=Counts(
                files=len(documents),
                articles=sum(len(d.articles) for d in documents),
                paragraphs=sum(len(d.paragraphs) for d in documents),
                duplicate_paragraphs=duplicates,
                chunks=len(chunks),
            ),
            warnings=tuple(warnings),
            corpus_stats=recorded_digest(sources),
        )

        def write(directory: Path) -> None:
            (directory / ACRONYMS).write_text(
                json.dumps(
                    {k: a.to_dict() for k, a in sorted(acronyms.items())}, ensure_ascii=False
                )
            )
            (directory / SOURCES).write_text(
                json.dumps(sources.to_dict(), ensure_ascii=False), encoding="utf-8"
            )
            names = [
                *write_chunks(directory, chunks),
                SOURCES,
                ACRONYMS,
                *stores.save(directory),
            ]
            write_manifest(directory, manifest, names)

        published = publish(index, write)
        stores.published()
    counts = manifest.counts
    return BuildReport(
        index=index,
        files=counts.files,
        articles=counts.articles,
        paragraphs=counts.paragraphs,
        duplicates=duplicates,
        chunks=len(chunks),
        seconds=time.monotonic() - started,
        warnings=(*warnings, *published.warnings),
        incremental=previous is not None,
        reused=reused,
        embedded=len(chunks) - reused,
        chunked_files=chunked_files,
    )


def _recorded_store(index: Path) -> str:
    """The store spec the index at `index` was built with; `embedded` when there is none."""
    try:
        _, manifest = read_manifest(index)
    except EsqaError:
        return EMBEDDED
    return spec_of(manifest.dense)


def _source_records(
    corpus: Path,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    dropped: dict[str, list[int]],
) -> dict[str, Any]:
    per_source: dict[str, int] = {}
    for chunk in chunks:
        per_source[chunk.source] = per_source.get(chunk.source, 0) + 1
    records = {}
    for doc in documents:
        # The stat taken when the file was read, never a later one: a file
        # edited since would otherwise be recorded with new stat and old hash,
        # and the staleness check, seeing the stat unchanged, would miss the edit.
        size, mtime_ns = doc.file_stat or _stat_of(corpus / doc.source)
        records[doc.source] = {
            "sha256": doc.sha256,
            "bytes": size,
            "mtime_ns": mtime_ns,
            "encoding": doc.encoding,
            "articles": len(doc.articles),
            "chunks": per_source.get(doc.source, 0),
            # Its chunks can be reused only while the same paragraphs are dropped.
            "dropped": dropped.get(doc.source, []),
        }
    return records


def _stat_of(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _skipped_records(corpus: Path, skipped: dict[str, str]) -> dict[str, Any]:
    """Files not indexed, recorded so that they do not look new at every check.

    A file that cannot be read is recorded by its size and modification time
    only: left out, it would be reported as added after every build, which no
    build can change.
    """
    records = {}
    for source, reason in skipped.items():
        try:
            stat = (corpus / source).stat()
        except OSError:
            continue  # gone since the scan: nothing to record
        record: dict[str, Any] = {
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "reason": reason,
        }
        try:
            record["sha256"] = sha256_file(corpus / source)
        except OSError:
            pass  # unreadable: see esqa.index.changes
        records[source] = record
    return records
