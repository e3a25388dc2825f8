"""The one place that names search engines.

A build asks for new stores (`create_stores`), a load for the stores an index
recorded (`open_stores`, from the manifest's `dense` and `lexical`
descriptions, whose `engine` names the class). Everything else holds them as
the protocols of `esqa.stores.base`, so a new engine is one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esqa.stores.base import DenseStore, LexicalStore
from esqa.types import Chunk

# The embedded default: FAISS for dense search, bm25s for lexical, both
# saving their files into the index directory.
EMBEDDED = "embedded"


@dataclass(frozen=True)
class Stores:
    """The dense and the lexical store of one index."""

    dense: DenseStore
    lexical: LexicalStore

    def save(self, directory: Path) -> list[str]:
        """Write both stores into directory; returns the file names written."""
        return [*self.dense.save(directory), *self.lexical.save(directory)]


def create_stores(dimension: int, engine: str = EMBEDDED) -> Stores:
    """Empty stores of `engine` for vectors of `dimension`.

    Raises ValueError for an engine this esqa does not know.
    """
    if engine != EMBEDDED:
        raise ValueError(f"unknown search engine {engine!r}; use {EMBEDDED!r}")
    from esqa.stores.bm25_lexical import Bm25LexicalStore
    from esqa.stores.faiss_dense import FaissDenseStore

    return Stores(FaissDenseStore(dimension), Bm25LexicalStore())


def open_stores(
    directory: Path,
    dense: Mapping[str, Any],
    lexical: Mapping[str, Any],
    dimension: int,
    chunks: Mapping[int, Chunk],
) -> Stores:
    """The stores an index recorded (`dense` and `lexical` are the manifest's
    descriptions of them), holding these chunks.

    Raises ValueError when a description names an unknown engine or the files
    do not match the chunks.
    """
    return Stores(
        _dense_class(dense.get("engine")).open(directory, dimension, chunks),
        _lexical_class(lexical.get("engine")).open(directory, dimension, chunks),
    )


def _dense_class(engine: object) -> type[DenseStore]:
    if engine == "faiss":
        from esqa.stores.faiss_dense import FaissDenseStore

        return FaissDenseStore
    raise ValueError(f"the manifest names an unknown dense engine {engine!r}")


def _lexical_class(engine: object) -> type[LexicalStore]:
    if engine == "bm25s":
        from esqa.stores.bm25_lexical import Bm25LexicalStore

        return Bm25LexicalStore
    raise ValueError(f"the manifest names an unknown lexical engine {engine!r}")
