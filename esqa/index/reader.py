"""Reading a built index: load it, check it, verify it in full.

`esqa.index.build` writes an index directory (its layout is described there);
this module opens one for searching. Nothing is pickled, and nothing is read
that the manifest does not list with its size and sha256.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from esqa.errors import IndexInvalidError
from esqa.fileio import sha256_file
from esqa.index.chunk_table import ChunkTable, SegmentedChunks
from esqa.index.manifest import (
    ACRONYMS,
    MANIFEST,
    FileRecord,
    Manifest,
    SourceRecords,
    read_manifest,
    read_sources,
    repair_hint,
)
from esqa.index.segments import read_deleted
from esqa.index.sentence_vectors import SentenceVectors
from esqa.ingest.acronyms import Acronym
from esqa.stores.base import DenseSearch, LexicalSearch
from esqa.stores.factory import SegmentFiles, open_index
from esqa.stores.hybrid import HybridStore


@dataclass
class Index:
    """A loaded index: chunks and the stores that search them."""

    path: Path  # as the user named it
    directory: Path  # the generation directory actually read
    manifest: Manifest
    chunks: SegmentedChunks  # live chunks by id, each read when first asked for
    dense: DenseSearch  # every segment searched as one
    lexical: LexicalSearch
    acronyms: dict[str, Acronym]
    hybrid: HybridStore | None = None  # an engine that fuses both searches itself

    @cached_property
    def sources(self) -> SourceRecords:
        """What the build recorded of each corpus file; read on first use."""
        return read_sources(self.path, self.directory, self.manifest)


# What loading checks: see `load_index`.
Verify = Literal["load", "full"]
# A file larger than this is checked by size when the index is loaded, by
# checksum when it is verified in full. Hashing runs at 1.7 GB/s here: the
# files of a million chunks (2.9 GB) take 1.7 s, more than the whole load
# may, while a file this size takes 20 ms.
HASH_ON_LOAD_BYTES = 32 << 20


def load_index(index: Path, model_id: str, dimension: int, verify: Verify = "load") -> Index:
    """Load the index at `index`, checking format, model and files.

    The index's segments are searched as one (`esqa.stores.factory.open_index`).
    The manifest checks itself. With `verify="load"` every file is checked
    against its recorded size, and every file of at most
    HASH_ON_LOAD_BYTES against its sha256: all of them in an index of up to
    some 20,000 chunks. The larger files are memory-mapped, so a load reads
    only the pages a question needs; hashing them would read them whole.
    They are hashed by `verify="full"`, which `esqa index verify` and every
    build that reuses the index use. Lucene checks its segment files the same
    way: footers at open, whole checksums on demand and at merge.
    """
    directory, manifest = read_manifest(index)
    model = manifest.model
    if model.id != model_id or model.dimension != dimension:
        raise IndexInvalidError(
            f"index {index} was built with {model.id} ({model.dimension} dimensions), "
            f"not {model_id} ({dimension})",
            hint=repair_hint(index),
        )
    verify_files(index, directory, manifest.files, hash_all=verify == "full")
    try:
        deleted = read_deleted(directory)
        if len(deleted) != manifest.deleted:
            raise ValueError(
                f"deleted.npy holds {len(deleted)} ids, the manifest counts {manifest.deleted}"
            )
        tables, parts, sentences = [], [], []
        for segment in manifest.segments:
            where = directory / segment.directory
            table = ChunkTable.open(where, repair_hint(index))
            if len(table) != segment.chunks:
                raise ValueError(
                    f"segment {segment.name} holds {len(table)} chunks, not {segment.chunks}"
                )
            mine = deleted[(deleted >= segment.base) & (deleted < segment.base + segment.chunks)]
            if len(mine) != segment.deleted:
                raise ValueError(
                    f"segment {segment.name} has {len(mine)} deleted chunks, not {segment.deleted}"
                )
            tables.append(table)
            sentences.append(SentenceVectors.open(where, segment.chunks))
            parts.append(SegmentFiles(where, segment.base, table, mine - segment.base))
        if sum(s.deleted for s in manifest.segments) != len(deleted):
            raise ValueError("deleted.npy names chunks outside every segment")
        chunks = SegmentedChunks(tables, [s.base for s in manifest.segments], deleted, sentences)
        stores = open_index(parts, manifest.dense, manifest.lexical, dimension, chunks.order_key)
        acronyms = {
            k: Acronym(**v)
            for k, v in json.loads((directory / ACRONYMS).read_text(encoding="utf-8")).items()
        }
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexInvalidError(
            f"index {index} cannot be read ({exc})", hint=repair_hint(index)
        ) from None
    return Index(
        path=index,
        directory=directory,
        manifest=manifest,
        chunks=chunks,
        dense=stores.dense,
        lexical=stores.lexical,
        acronyms=acronyms,
        hybrid=stores.hybrid,
    )


def verify_files(
    index: Path, directory: Path, files: Mapping[str, FileRecord], hash_all: bool
) -> None:
    """Check the index files against their sizes and checksums (see `load_index`).

    No file is read unless the manifest lists it. The directory is listed once
    (an index of many segments holds thousands of small files).
    """
    found = _listing(directory)
    for name, expected in files.items():
        path = directory / name
        size = found.pop(name, None)
        if size is None:
            raise IndexInvalidError(f"index file {path} is missing", hint=repair_hint(index))
        hashed = hash_all or size <= HASH_ON_LOAD_BYTES
        if size != expected.bytes or (hashed and sha256_file(path) != expected.sha256):
            raise IndexInvalidError(
                f"index file {path} is damaged (checksum mismatch)", hint=repair_hint(index)
            )
    found.pop(MANIFEST, None)
    if found:
        path = directory / min(found)
        raise IndexInvalidError(
            f"index file {path} has no checksum in {directory / MANIFEST}",
            hint=repair_hint(index),
        )


def _listing(directory: Path) -> dict[str, int]:
    """Every regular file under directory (relative name, "/" separators) and its size."""
    out: dict[str, int] = {}
    pending = [("", str(directory))]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    out[prefix + entry.name] = entry.stat(follow_symlinks=False).st_size
    return out


@dataclass(frozen=True)
class VerifyReport:
    """What `verify_index` checked."""

    index: Path
    directory: Path  # the generation directory read
    files: int
    bytes: int
    chunks: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(index=str(self.index), directory=str(self.directory))
        data["seconds"] = round(self.seconds, 3)
        return data


def verify_index(index: Path) -> VerifyReport:
    """Check every index file against its sha256, then open the index as a load does.

    Raises IndexInvalidError (one line naming the repair command) at the first
    damaged file. Example: `verify_index(Path("indexes/default")).files`.
    """
    started = time.monotonic()
    _, manifest = read_manifest(index)
    loaded = load_index(index, manifest.model.id, manifest.model.dimension, verify="full")
    directory, manifest = loaded.directory, loaded.manifest  # the generation verified
    loaded.sources  # noqa: B018 (read, so that its structure is checked too)
    files = manifest.files
    return VerifyReport(
        index=index,
        directory=directory,
        files=len(files) + 1,  # and the manifest, which checks itself
        bytes=sum(record.bytes for record in files.values()),
        chunks=len(loaded.chunks),
        seconds=time.monotonic() - started,
    )
