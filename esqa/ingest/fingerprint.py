"""The ingestion fingerprint: a digest of the code that turns files into chunks."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from esqa import __version__

# The whole `esqa.ingest` package and the data model its chunks are made of.
_PACKAGE = Path(__file__).resolve().parent
_TYPES = _PACKAGE.parent / "types.py"


@lru_cache(maxsize=1)
def ingestion_fingerprint() -> str:
    """A digest of the code that turns files into chunks.

    Stored chunks are reused only when this code is unchanged, so an edit to
    the parser or the chunker can never leave chunks made the old way beside
    chunks made the new way. Vectors depend only on the text and the model, so
    they are reused either way.
    """
    digest = hashlib.sha256()
    sources = sorted(_PACKAGE.glob("*.py")) + [_TYPES]
    if not sources[:-1] or not _TYPES.is_file():  # installed without sources
        return hashlib.sha256(f"esqa {__version__}".encode()).hexdigest()[:16]
    for path in sources:
        # The name too, so that moving code between modules changes the digest.
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
