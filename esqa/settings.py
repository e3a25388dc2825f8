"""Every default and every environment variable esqa reads, in one place.

The library and the command line both take their defaults from here (a test
checks that they agree), and no other module reads `os.environ` for esqa's
own variables. This module imports nothing heavy: `esqa --help` reads it.

| variable | setting | default |
|---|---|---|
| `ESQA_CORPUS` | `corpus` | the corpus the index was built from, else `seeds/` |
| `ESQA_INDEX` | `index` | `indexes/default` |
| `ESQA_EMBEDDER` | `embedder` | `auto` (ONNX, else sentence-transformers) |
| `ESQA_PRECISION` | `precision` | `int8`: the ONNX precision of a new index's vectors |
| `ESQA_CACHE` | `cache` | `$XDG_CACHE_HOME/esqa`, else `~/.cache/esqa` |
| `ESQA_MILVUS_TOKEN` | `milvus_token` | none: the credentials of a Milvus server (`user:password` or an API key) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CORPUS = Path("seeds")
DEFAULT_INDEX = Path("indexes/default")
# Passages the composer reads its candidate sentences from. More passages find
# more answers (COVID-QA answer accuracy 0.457 at 16, 0.467 at 24; later 0.518
# at 24, 0.526 at 40 with the weights refitted) for a few milliseconds more per
# question; the development set is the same at all three.
ANSWER_PASSAGES = 40
SEARCH_HITS = 5  # passages `esqa search` and `qa.search()` return
# A corpus file larger than this, or of more lines, is skipped with a warning
# (and listed as skipped): an article is kilobytes, and ingesting and
# embedding 64 MiB of text takes minutes to hours (benchmarks/pathological.py).
# Every line costs about 600 bytes of memory while the file is parsed, so the
# lines are capped too: a million lines is 64 MiB of text wrapped at 67
# characters, and 64 MiB of one-character lines would need 20 GB. Read at
# every use, so a test may lower them.
MAX_FILE_BYTES = 64 * 2**20
MAX_FILE_LINES = 1_000_000
# `auto`: ONNX when onnxruntime is installed and the export is cached or can be
# made (which needs torch once), else sentence-transformers. `module:Class`
# names any class with the `esqa.embed.base.Embedder` methods, made with no
# arguments (tests use it for a fast fake model).
EMBEDDERS = ("auto", "onnx", "sentence-transformers")
# int8 embeds 3.7-4.6x as many chunks/s as sentence-transformers where fp32
# gives 1.8-2.9x, and citation@3 stayed within 0.01 of fp32 (dev 1.000 and
# 1.000, COVID-QA 0.726 and 0.730): see benchmarks/build_throughput.py.
# "fp32" gives sentence-transformers' vectors. An existing index keeps the
# precision it was built with and is always queried with it.
PRECISIONS = ("int8", "fp32")
DEFAULT_PRECISION = "int8"


@dataclass(frozen=True)
class Settings:
    corpus: Path | None = None  # None: the index's own corpus, else DEFAULT_CORPUS
    index: Path = DEFAULT_INDEX
    embedder: str = "auto"  # one of EMBEDDERS, or module:Class
    precision: str = DEFAULT_PRECISION  # one of PRECISIONS
    cache: Path | None = None  # None: the XDG cache
    # Never written into an index: a manifest records the server, not who may use it.
    milvus_token: str | None = None

    @property
    def cache_root(self) -> Path:
        """Where the ONNX export of the model is kept."""
        if self.cache is not None:
            return self.cache
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg) if xdg else Path.home() / ".cache") / "esqa"


def current(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings as the environment gives them now (read at every call: cheap,
    and a test or a notebook may change a variable between calls)."""
    env = os.environ if environ is None else environ

    def value(name: str) -> str | None:
        text = env.get(name, "").strip()
        return text or None

    corpus, index, cache = value("ESQA_CORPUS"), value("ESQA_INDEX"), value("ESQA_CACHE")
    return Settings(
        corpus=Path(corpus) if corpus else None,
        index=Path(index) if index else DEFAULT_INDEX,
        embedder=value("ESQA_EMBEDDER") or "auto",
        precision=(value("ESQA_PRECISION") or DEFAULT_PRECISION).lower(),
        cache=Path(cache) if cache else None,
        milvus_token=value("ESQA_MILVUS_TOKEN"),
    )
