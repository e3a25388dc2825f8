"""The manifest of an index directory: its names, its checksum, its checks.

`manifest.json` records the format and esqa versions, the model, the chunking
parameters, the stores' descriptions, counts, and the sha256 of every other
index file; and the sha256 of its own content. `sources.json` records every
corpus file's sha256 (with size and mtime), read only to compare the corpus.
`read_manifest` checks all of that once and returns a frozen `Manifest`;
nothing outside this module reads a manifest's keys by name.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from esqa.errors import IndexInvalidError, IndexMissingError
from esqa.fileio import sha256_file
from esqa.index.chunk_table import CHUNK_FILES

# 2: the manifest holds the sha256 of its own content (`MANIFEST_SHA256`).
# 3: chunks are read one at a time through `chunks.offsets.npy`; the source
# records moved to `sources.json`, read only to compare the corpus.
# 4: an index is a list of immutable segments (`segments/NNNNNN/`, each its
# own chunk table, dense and lexical stores, paragraphs and acronym
# occurrences) plus deleted chunk ids (`deleted.npy`); BM25 keeps raw counts.
# 5: each segment keeps its chunks' sentence vectors (`sentences.*.npy`).
FORMAT_VERSION = 5
MANIFEST = "manifest.json"
MANIFEST_SHA256 = "manifest_sha256"
ACRONYMS = "acronyms.json"
SOURCES = "sources.json"
DELETED = "deleted.npy"
SEGMENTS = "segments"
# The digest of the names and stats of the corpus files a build read
# (`esqa.index.changes.recorded_digest`).
CORPUS_STATS = "corpus_stats"


def repair_hint(index: Path) -> str:
    """The command that rebuilds the index, for the end of an error message."""
    return f"run: esqa index build --index {index}"


@dataclass(frozen=True)
class ModelRecord:
    id: str  # e.g. "sentence-transformers/all-MiniLM-L6-v2:int8"
    dimension: int

    @property
    def precision(self) -> str:
        """The ONNX precision the id names ("int8"); "fp32" when it names none."""
        return self.id.rpartition(":")[2] if ":" in self.id else "fp32"


@dataclass(frozen=True)
class BuildRecord:
    """How the build went: what it reused from the index it replaced."""

    incremental: bool
    reused_chunks: int  # live chunks not embedded by this build
    embedded_chunks: int
    chunked_files: int  # files read, parsed and chunked (added, changed, or re-decided)
    written_chunks: int = 0  # chunks written into new segments (merges included)
    deleted_chunks: int = 0  # chunks this build marked deleted
    merged_segments: int = 0  # segments this build merged away


@dataclass(frozen=True)
class SegmentRecord:
    """One segment of the index: `segments/<name>/`, holding chunk ids base .. base + chunks - 1."""

    name: str  # six digits, increasing with each segment written
    base: int  # the chunk id of its first chunk
    chunks: int  # chunks written, deleted ones included
    paragraphs: int  # paragraphs it holds (indexed or not: near-duplicates too)
    sources: int  # files it holds, live or not
    deleted: int  # of its chunks, how many are deleted
    exact: bool  # searched exhaustively (a flat index) rather than through a graph
    dense: str  # its dense index type (FAISS factory name)

    @property
    def directory(self) -> str:
        return f"{SEGMENTS}/{self.name}"

    @property
    def live(self) -> int:
        return self.chunks - self.deleted


@dataclass(frozen=True)
class Counts:
    files: int
    articles: int
    paragraphs: int
    duplicate_paragraphs: int  # paragraphs not indexed because a fuller copy is
    chunks: int


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """What `manifest.json` says, checked (`read_manifest`); `to_dict` is the file's content."""

    esqa_version: str
    created: str
    build_seconds: float
    build: BuildRecord
    corpus: str  # absolute path of the corpus the index was built from
    model: ModelRecord
    chunking: dict[str, Any]  # `ChunkingParams.to_dict()`
    ingestion: str  # `esqa.ingest.fingerprint.ingestion_fingerprint()`
    dense: dict[str, Any]  # the stores' own descriptions; `engine` names the store
    lexical: dict[str, Any]
    counts: Counts
    warnings: tuple[str, ...]
    corpus_stats: str  # `esqa.index.changes.recorded_digest` of the files read
    segments: tuple[SegmentRecord, ...] = ()  # by base, ascending
    deleted: int = 0  # chunk ids in `deleted.npy`
    # Which backend embedded the build's new chunks; informational.
    embedder: dict[str, Any] = field(default_factory=dict)
    files: dict[str, FileRecord] = field(default_factory=dict)  # every other index file
    # Files the build read within a tick of their last edit (`is_racy`) and could
    # not settle (`esqa.index.changes.settle_racy`); -1: not known (an older index).
    racy_files: int = -1
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        data["segments"] = [asdict(s) for s in self.segments]
        data[CORPUS_STATS] = data.pop("corpus_stats")
        return {"format_version": data.pop("format_version"), **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """The manifest of a dict that `_manifest_problem` found whole."""
        return cls(
            esqa_version=data["esqa_version"],
            created=data["created"],
            build_seconds=float(data["build_seconds"]),
            build=BuildRecord(**{k: data["build"][k] for k in _BUILD}),
            segments=tuple(
                SegmentRecord(**{k: s[k] for k in _SEGMENT_RECORD}) for s in data["segments"]
            ),
            deleted=data["deleted"],
            racy_files=data.get("racy_files", -1),
            corpus=data["corpus"],
            model=ModelRecord(**{k: data["model"][k] for k in _MODEL}),
            chunking=data["chunking"],
            ingestion=data["ingestion"],
            dense=data["dense"],
            lexical=data["lexical"],
            counts=Counts(**{k: data["counts"][k] for k in _COUNTS}),
            warnings=tuple(str(w) for w in data["warnings"]),
            corpus_stats=data[CORPUS_STATS],
            embedder=dict(data.get("embedder") or {}),
            files={n: FileRecord(r["sha256"], r["bytes"]) for n, r in data["files"].items()},
            format_version=data["format_version"],
        )


def manifest_digest(manifest: dict[str, Any]) -> str:
    """The sha256 of a manifest's content, its own checksum left out.

    Computed over canonical JSON (sorted keys, ASCII, no spaces), so the
    digest depends on the content only, not on how the file is laid out.
    """
    content = {k: v for k, v in manifest.items() if k != MANIFEST_SHA256}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def write_manifest(
    directory: Path,
    manifest: Manifest,
    names: Sequence[str],
    known: Mapping[str, FileRecord] | None = None,
) -> Manifest:
    """Record the size and sha256 of each named file, seal the manifest and write it.

    `known` are the records of files linked unchanged from the previous
    generation: their checksums are the ones computed when they were written,
    so hashing them again (2.9 GB at a million chunks) is not needed, and
    damage since stays visible to `esqa index verify` instead of being sealed
    in. Returns the manifest as written, with its `files`.
    """
    known = known or {}
    files = {
        name: known[name]
        if name in known
        else FileRecord(sha256_file(directory / name), (directory / name).stat().st_size)
        for name in names
    }
    manifest = replace(manifest, files=files)
    content = manifest.to_dict()
    content[MANIFEST_SHA256] = manifest_digest(content)
    (directory / MANIFEST).write_text(
        json.dumps(content, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return manifest


def read_manifest(index: Path) -> tuple[Path, Manifest]:
    """Resolve the index location and parse its manifest, checking it before any use.

    The format version, the manifest's own checksum and its structure (every
    key a build writes, with its type) are checked here, once, so that code
    reading the manifest may index it without guarding every field. Raises
    IndexMissingError or IndexInvalidError (one line naming the repair command).
    """
    try:
        directory = index.resolve()
    except (OSError, RuntimeError) as exc:  # a link loop: RuntimeError before Python 3.13
        raise IndexInvalidError(
            f"index {index} is a broken symbolic link ({exc})", hint=repair_hint(index)
        ) from None
    path = directory / MANIFEST
    if not path.is_file():
        raise IndexMissingError(f"no index at {index}", hint=repair_hint(index))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nesting too deep
        raise IndexInvalidError(f"{path} is damaged ({exc})", hint=repair_hint(index)) from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if not _is(version, int):
        raise IndexInvalidError(f"{path} is damaged (no format version)", hint=repair_hint(index))
    if version != FORMAT_VERSION:
        raise IndexInvalidError(
            f"index {index} has format version {version}, this esqa reads {FORMAT_VERSION}",
            hint=repair_hint(index),
        )
    problem = _manifest_problem(manifest)
    if problem:
        raise IndexInvalidError(f"{path} is damaged ({problem})", hint=repair_hint(index))
    return directory, Manifest.from_dict(manifest)


# What a build writes into the manifest, with the types that code reading it relies on.
_TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "esqa_version": str,
    "created": str,
    "build_seconds": (int, float),
    "build": dict,
    "corpus": str,
    "model": dict,
    "chunking": dict,
    "ingestion": str,
    "dense": dict,
    "lexical": dict,
    "counts": dict,
    "warnings": list,
    "files": dict,
    CORPUS_STATS: str,
    "segments": list,
    "deleted": int,
}
_MODEL = {"id": str, "dimension": int}
_BUILD = {
    "incremental": bool,
    "reused_chunks": int,
    "embedded_chunks": int,
    "chunked_files": int,
    "written_chunks": int,
    "deleted_chunks": int,
    "merged_segments": int,
}
_SEGMENT_RECORD = {
    "name": str,
    "base": int,
    "chunks": int,
    "paragraphs": int,
    "sources": int,
    "deleted": int,
    "exact": bool,
    "dense": str,
}
_COUNTS = dict.fromkeys(("files", "articles", "paragraphs", "duplicate_paragraphs", "chunks"), int)
_FILE_RECORD = {"sha256": str, "bytes": int}
_SOURCE_RECORD = {
    "sha256": str,
    "bytes": int,
    "mtime_ns": int,
    "dropped": list,
    "segment": str,
    "chunks": int,
    "paragraphs": int,
}
# sha256 only where the file could be read (see `_skipped_records`).
_SKIPPED_RECORD = {"bytes": int, "mtime_ns": int, "reason": str}


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # a subclass of int, but never a count or a size
        return kind is bool
    return isinstance(value, kind)


def _record_problem(where: str, record: Any, fields: Mapping[str, type]) -> str | None:
    if not isinstance(record, dict):
        return f"{where} is not an object"
    for key, kind in fields.items():
        if not _is(record.get(key), kind):
            return f"{where} has no {kind.__name__} {key!r}"
    return None


def _manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with a parsed manifest, or None when it is whole."""
    if not isinstance(manifest.get(MANIFEST_SHA256), str):
        return "it has no checksum of its own"
    if manifest[MANIFEST_SHA256] != manifest_digest(manifest):
        return "checksum mismatch"
    # A manifest that matches its checksum can still have been rewritten by
    # hand (and resealed): check what the code below relies on.
    for key, kind in _TOP_LEVEL.items():
        if not _is(manifest.get(key), kind):
            return f"{key!r} is missing or of the wrong type"
    if not _is(manifest.get("racy_files", -1), int):  # absent in indexes written before it
        return "'racy_files' is of the wrong type"
    problem = (
        _record_problem("'model'", manifest["model"], _MODEL)
        or _record_problem("'build'", manifest["build"], _BUILD)
        or _record_problem("'counts'", manifest["counts"], _COUNTS)
    )
    for name, record in manifest["files"].items():
        problem = problem or _record_problem(f"'files' entry {name!r}", record, _FILE_RECORD)
    for n, segment in enumerate(manifest["segments"]):
        problem = problem or _record_problem(f"segment {n}", segment, _SEGMENT_RECORD)
    if problem:
        return problem
    problem = _segments_problem(manifest["segments"])
    if problem:
        return problem
    # Loading opens every listed name: none may lead out of the index directory.
    outside = [n for n in manifest["files"] if Path(n).is_absolute() or ".." in Path(n).parts]
    if outside:
        return f"'files' names {outside[0]!r}, outside the index"
    # Without these every load would read unverified files.
    needed = [ACRONYMS, SOURCES, DELETED]
    for segment in manifest["segments"]:
        needed += [f"{SEGMENTS}/{segment['name']}/{name}" for name in CHUNK_FILES]
    missing = [n for n in needed if n not in manifest["files"]]
    return f"'files' lists no checksum for {missing[0]}" if missing else None


def _segments_problem(segments: list[dict[str, Any]]) -> str | None:
    """Segments must be named as builds name them and hold disjoint, ascending id ranges."""
    end = 0
    names = set()
    for segment in segments:
        name = segment["name"]
        if not (len(name) == 6 and name.isascii() and name.isdigit()) or name in names:
            return f"segment name {name!r} is not six digits of its own"
        names.add(name)
        if segment["base"] < end or segment["chunks"] < 0:
            return f"segment {name} overlaps the one before it"
        if not 0 <= segment["deleted"] <= segment["chunks"]:
            return f"segment {name} deletes {segment['deleted']} of its {segment['chunks']} chunks"
        end = segment["base"] + segment["chunks"]
    return None


# How long after a file's modification time an edit may still leave it: a
# file system that keeps whole seconds (FAT keeps two) gets three; one that
# keeps finer times (ext4, XFS, tmpfs: the kernel's clock tick, a few ms) a
# tenth of a second.
COARSE_TICK_NS = 3_000_000_000
FINE_TICK_NS = 100_000_000


def mtime_tick_ns(mtime_ns: int) -> int:
    """The tick of the file system a file with this modification time sits on."""
    return COARSE_TICK_NS if mtime_ns % 1_000_000_000 == 0 else FINE_TICK_NS


def is_racy(mtime_ns: int, began_ns: int) -> bool:
    """Whether a build that began reading at `began_ns` may have read the file
    within a tick of its last edit, so that a second edit, to the same size,
    leaves its stat as recorded: git calls such entries "racily clean"."""
    return mtime_ns >= began_ns - mtime_tick_ns(mtime_ns)


def build_began_ns(manifest: Manifest) -> int:
    """When the build began reading files: `build_seconds` (a monotonic duration)
    before `created` (wall time, truncated to the second, which only makes it
    earlier: the safe side). 0 when `created` cannot be read, and then every
    file counts as racy. A clock stepped back during a build, or a network
    file system whose server clock runs ahead, can still hide an edit."""
    try:
        created = datetime.datetime.strptime(manifest.created, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return 0
    return max(0, int((created.timestamp() - manifest.build_seconds) * 1e9))


@dataclass(frozen=True)
class SourceRecords:
    """What the index knows of each corpus file, to tell what changed since its build."""

    # Indexed files: sha256, size, mtime_ns, encoding, articles, chunks,
    # paragraphs, dropped, and the segment that holds them.
    sources: dict[str, Any]
    # Files not indexed, and why (`reason`); sha256 only where readable.
    skipped: dict[str, Any]
    # When the build that wrote them began reading (`build_began_ns`): a record
    # racy against it (`is_racy`) and not `settled` by the build is trusted by
    # its hash only. The default distrusts every record.
    began_ns: int = 0

    def trusts(self, record: dict[str, Any], size: int, mtime_ns: int) -> bool:
        """Whether a file with this stat is, without reading it, what `record` says."""
        return (
            size == record["bytes"]
            and mtime_ns == record["mtime_ns"]
            and (not is_racy(mtime_ns, self.began_ns) or record.get("settled") is True)
        )

    def to_dict(self) -> dict[str, Any]:
        return {"sources": self.sources, "skipped": self.skipped}


def read_sources(
    index: Path, directory: Path, manifest: Manifest, data: bytes | None = None
) -> SourceRecords:
    """The source records of the index, checked against their checksum and structure.

    Kept out of the manifest so that loading an index never parses them: a
    corpus of 200,000 files makes them 58 MB of JSON, 2.3 s to parse and
    check. Only comparing the corpus and building read them. `data` is the
    file's content when the caller has read it already (see `esqa.api.QA`).
    """
    path = directory / SOURCES
    expected = manifest.files[SOURCES]
    try:
        data = path.read_bytes() if data is None else data
    except OSError as exc:
        raise IndexInvalidError(f"{path} cannot be read ({exc})", hint=repair_hint(index)) from None
    if len(data) != expected.bytes or hashlib.sha256(data).hexdigest() != expected.sha256:
        raise IndexInvalidError(
            f"index file {path} is damaged (checksum mismatch)", hint=repair_hint(index)
        )
    try:
        content = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise IndexInvalidError(f"{path} is damaged ({exc})", hint=repair_hint(index)) from None
    problem = _sources_problem(content)
    if problem:
        raise IndexInvalidError(f"{path} is damaged ({problem})", hint=repair_hint(index))
    return SourceRecords(content["sources"], content["skipped"], build_began_ns(manifest))


def _sources_problem(content: Any) -> str | None:
    if not isinstance(content, dict):
        return "it is not an object"
    for table, fields in (("sources", _SOURCE_RECORD), ("skipped", _SKIPPED_RECORD)):
        if not isinstance(content.get(table), dict):
            return f"{table!r} is missing or of the wrong type"
        for name, record in content[table].items():
            problem = _record_problem(f"{table!r} entry {name!r}", record, fields)
            if problem:
                return problem
    return None
