"""Shared fixtures: a deterministic fake embedder (fast tier) and the real index (real tier)."""

from __future__ import annotations

import os
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest

from esqa.types import Chunk

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
# Where a build from scratch puts its one segment's files, inside the index directory.
FIRST_SEGMENT = "segments/000001"

_WORD = re.compile(r"\w+")


class HashedEmbedder:
    """Hashed bag of words: a stable, fast stand-in for the sentence-transformers model.

    Texts that share words get similar vectors, so dense search still means something.
    """

    model_id = "test/hashed-bag-of-words"
    dimension = 64
    max_tokens = 256

    def __init__(self) -> None:
        self.calls = 0  # texts embedded so far
        # A build embeds chunks and sentences on two threads at once.
        self._lock = threading.Lock()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = range(start, min(start + batch_size, len(texts)))
            for i in batch:
                for word in _WORD.findall(texts[i].lower()):
                    out[i, zlib.crc32(word.encode("utf-8")) % self.dimension] += 1.0
                norm = float(np.linalg.norm(out[i]))
                if norm > 0:
                    out[i] /= norm
                else:
                    out[i, 0] = 1.0
            with self._lock:
                self.calls += len(batch)
            if progress is not None:
                progress(len(batch))
        return out


def distinct_sentences(chunks: Iterable[Chunk]) -> int:
    """How many distinct sentences the chunks have (a chunk without spans is one):
    what a build embeds for them, besides the chunks themselves."""
    return len({c.text[a:b] for c in chunks for a, b in c.sentences or ((0, len(c.text)),)})


@pytest.fixture
def fake_embedder() -> HashedEmbedder:
    return HashedEmbedder()


# Two short articles, for tests that need a corpus but not the seeds.
TWO_ARTICLES = {
    "cables.txt": (
        "Japan adds cables to critical goods\n\n"
        "The Ministry of Economy, Trade and Industry plans to add undersea cables and "
        "satellites to the list of critical products.\n\n"
        "Officials said the change would take effect next year after a public comment period.\n"
    ),
    "rates.txt": (
        "Rates rise again\n\n"
        "The central bank raised its main rate by a quarter point on Tuesday, to a 17-year high.\n"
    ),
}


# The next version of TWO_ARTICLES: one file changed, one added, one removed.
TWO_ARTICLES_NEXT = {
    "cables.txt": TWO_ARTICLES["cables.txt"].replace("next year", "in April"),
    "minerals.txt": (
        "Rare earth imports fall\n\n"
        "Japan imported nearly 60% of its rare earth materials from China in 2022, down from "
        "over 80% in 2009, according to government data.\n"
    ),
}


def write_corpus(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write article files under root (str is written as UTF-8)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes(content)
    return root


def seed_lines(source: str) -> list[str]:
    """Lines of a seed file as an editor numbers them (index 0 is line 1)."""
    return (SEEDS / source).read_text(encoding="utf-8").split("\n")


# Page furniture in seeds/, checked by hand against the files (1-based line numbers):
# cookie banners, app promotions, labels, image credits, tag lines, bullets,
# relative times and lines of non-breaking spaces. None may ever be indexed.
SEED_BOILERPLATE: dict[str, list[int]] = {
    "000_f449784ec6a8c697.txt": [3, 40],
    "001_9c16898d448cd4fa.txt": [2, 6, 21, 25, 31, 37, 43, 47, 49, 51, 53, 55, 56],
    "002_28dcf7c095409e64.txt": [1, 26, 28, 30, 32, 34, 43, 45, 56, 58, 69, 71, 77, 79, 81, 82],
    "003_116bf12851cd3169.txt": [1, 2, 4, 11, 13, 14, 25, 27, 28, 39, 41, 42, 48, 50, 52, 53],
    "004_55f16e264c431d7b.txt": [18, 22, 28, 34, 40, 44, 46, 48, 50, 52, 53],
}

# Section labels ("Related Articles"), datelines and bylines: metadata, not paragraphs.
SEED_NOT_PARAGRAPHS: dict[str, list[int]] = {
    "001_9c16898d448cd4fa.txt": [18],
    "002_28dcf7c095409e64.txt": [6, 36, 41, 54, 67],
    "003_116bf12851cd3169.txt": [9, 23, 37],
    "004_55f16e264c431d7b.txt": [15],
}


@pytest.fixture(scope="session")
def fake_seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed corpus indexed once with the fake embedder; tests only read it."""
    from esqa.index.build import build_index

    index = tmp_path_factory.mktemp("fake-seed-index") / "idx"
    build_index(SEEDS, index, HashedEmbedder())
    return index


@pytest.fixture(scope="session")
def real_embedder():
    from esqa.embed.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_seed_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    """The seed corpus indexed once with the bundled all-MiniLM-L6-v2 model."""
    from esqa.index.build import build_index

    index = tmp_path_factory.mktemp("real-seed-index") / "idx"
    build_index(SEEDS, index, real_embedder)
    return index


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ESQA_CACHE holding the ONNX export of the bundled model, made once (needs torch)."""
    from esqa.embed.base import bundled_model_path
    from esqa.embed.onnx_export import ensure_export

    cache = tmp_path_factory.mktemp("esqa-cache")
    ensure_export(bundled_model_path(), cache)
    return cache


@pytest.fixture(scope="session")
def onnx_embedder(onnx_cache: Path):
    from esqa.embed.onnx_runtime import OnnxEmbedder

    return OnnxEmbedder(cache=onnx_cache)


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory):
    """`milvus://127.0.0.1:PORT` of a milvus-lite server process for this session."""
    from helpers.milvus_server import milvus_lite_server

    with milvus_lite_server(tmp_path_factory.mktemp("milvus") / "data") as spec:
        yield spec
