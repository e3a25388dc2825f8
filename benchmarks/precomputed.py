"""An embedder for benchmarks: all-MiniLM-L6-v2 (ONNX int8), with vectors computed once.

Building a benchmark's base index of 130,000 chunks embeds them all, which
takes the real model about 45 minutes on this machine, and the same texts
every time: their vectors depend on the text alone (ONNX runs one text at a
time). This embedder is the real one (same model id, tokenizer, counts and
vectors) that looks each text up first in a file of vectors it computed
before (`ESQA_BENCH_VECTORS`, written by `python benchmarks/precomputed.py`),
and embeds only the texts it has not seen. An `esqa add` run through it
embeds its new article with the real model, as a user's does.

    ESQA_EMBEDDER=precomputed:PrecomputedEmbedder PYTHONPATH=benchmarks esqa ...

The file holds one sorted array of text hashes (`keys`) and one of vectors
(`vectors`), as `.npz` without pickle.

With `ESQA_BENCH_PSEUDO=1` a text it has no vector for gets a normalised
Gaussian vector seeded by its hash instead (what `benchmarks/scale.py` uses
for latency): for building base indexes whose vectors only need to exist,
since the time of an `esqa add` or a search does not depend on their values.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from esqa.embed.onnx_runtime import OnnxEmbedder

VECTORS = "ESQA_BENCH_VECTORS"
PSEUDO = "ESQA_BENCH_PSEUDO"


def text_key(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class PrecomputedEmbedder(OnnxEmbedder):
    """OnnxEmbedder(int8) that reuses the vectors of `$ESQA_BENCH_VECTORS` (see the module)."""

    def __init__(self) -> None:
        super().__init__(precision="int8")
        self.looked_up = 0
        self.embedded = 0
        path = os.environ.get(VECTORS)
        self._keys = np.zeros(0, dtype=np.uint64)
        self._vectors = np.zeros((0, self.dimension), dtype=np.float32)
        if path and Path(path).is_file():
            with np.load(path, allow_pickle=False) as data:
                self._keys, self._vectors = data["keys"], data["vectors"]

    def with_precision(self, precision: str) -> OnnxEmbedder:
        return self  # always int8: the vectors are int8's

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        keys = np.array([text_key(t) for t in texts], dtype=np.uint64)
        known = np.zeros(len(texts), dtype=bool)
        if len(self._keys):
            where = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            known = self._keys[where] == keys
            out[known] = self._vectors[where[known]]
        missing = np.flatnonzero(~known)
        if len(missing) and os.environ.get(PSEUDO):
            for i in missing.tolist():
                row = np.random.default_rng(int(keys[i])).standard_normal(self.dimension)
                out[i] = (row / np.linalg.norm(row)).astype(np.float32)
        elif len(missing):
            out[missing] = super().embed([texts[int(i)] for i in missing], batch_size)
        self.looked_up += int(known.sum())
        self.embedded += len(missing)
        if progress is not None:
            progress(len(texts))
        return out


def save_vectors(path: Path, texts: Sequence[str], vectors: np.ndarray) -> None:
    keys = np.array([text_key(t) for t in texts], dtype=np.uint64)
    keys, first = np.unique(keys, return_index=True)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, keys=keys, vectors=np.asarray(vectors, dtype=np.float32)[first])
    partial.replace(path)


def main() -> None:
    """Embed the chunks of an index's corpus once: `precomputed.py CORPUS OUT.npz`."""
    from esqa.ingest.chunking import ChunkingParams
    from esqa.ingest.chunks import make_chunks
    from esqa.ingest.pages import load_corpus

    corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
    model = OnnxEmbedder(precision="int8")
    documents = load_corpus(corpus).documents
    chunks, _ = make_chunks(documents, model.count_tokens, ChunkingParams(max_tokens=256))
    texts = list(dict.fromkeys(c.text for c in chunks))
    print(f"{len(texts):,} distinct chunk texts to embed", file=sys.stderr, flush=True)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if done[0] % 5_000 < n:
            print(f"  {done[0]:,}", file=sys.stderr, flush=True)

    save_vectors(out, texts, model.embed(texts, progress=tick))


if __name__ == "__main__":
    main()
