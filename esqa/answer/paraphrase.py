"""Paraphrase: a question's word counts as present when a close variant is.

Stemming already joins "designer" and "designed"; it cannot join "France"
and "French", "died" and "killed", "children" and "kids". The embedding
model can: the input word-piece vectors of all-MiniLM-L6-v2 put France next
to French (cosine 0.70), China next to Chinese (0.70), fund next to funding
(0.48) and owner next to owned (0.60). Those vectors are one matrix in the
model's weights file; this module maps it read-only (no copy, no parsing of
the rest of the file) and reads only the rows of the words at hand, so a
question costs a few hundred rows, not the 47 MB matrix.

Only words that are one word piece have a row of their own; a longer word
("hospitalised") is matched by its stem alone.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

_TENSOR = "embeddings.word_embeddings.weight"
_WORD = re.compile(r"[a-z]+")


class WordVectors:
    """The model's word-piece input vectors, read on demand from its safetensors file.

    Example: `WordVectors.open(model_dir).similarity("france", "french")` -> about 0.70.
    """

    def __init__(self, matrix: np.ndarray, vocabulary: dict[str, int]) -> None:
        self._matrix = matrix
        self._vocabulary = vocabulary
        # Unit rows, filled in as words are met: the zeros are not touched (and
        # so cost no memory) until a row is needed.
        self._unit = np.zeros(matrix.shape, dtype=np.float32)
        self._ready = np.zeros(matrix.shape[0], dtype=bool)

    @classmethod
    def open(cls, model_dir: Path) -> WordVectors | None:
        """The vectors of the model in `model_dir`, or None when its files are not there."""
        weights, vocab = model_dir / "model.safetensors", model_dir / "vocab.txt"
        try:
            with weights.open("rb") as f:
                size = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(size))
            meta = header[_TENSOR]
            if meta["dtype"] != "F32":
                return None
            start, _ = meta["data_offsets"]
            matrix = np.memmap(
                weights, dtype=np.float32, mode="r", offset=8 + size + start,
                shape=tuple(meta["shape"]),
            )  # fmt: skip
            words = vocab.read_text(encoding="utf-8").split("\n")
        except (OSError, KeyError, ValueError, struct.error):
            return None
        vocabulary = dict(zip(words, range(len(words)), strict=True))  # C-speed: 30,522 words
        vocabulary.pop("", None)
        return cls(matrix, vocabulary)

    def knows(self, word: str) -> bool:
        """Whether the word is one word piece of the model's vocabulary (an English
        word or name common enough to have a row of its own)."""
        return word in self._vocabulary

    def rows(self, words: Iterable[str]) -> tuple[list[str], np.ndarray]:
        """The words that are one word piece, and their unit vectors (one row each)."""
        known = [(w, i) for w in words if (i := self._vocabulary.get(w)) is not None]
        if not known:
            return [], np.zeros((0, self._matrix.shape[1]), dtype=np.float32)
        ids = np.fromiter((i for _, i in known), dtype=np.int64, count=len(known))
        todo = ids[~self._ready[ids]]
        if len(todo):
            todo = np.unique(todo)
            block = np.asarray(self._matrix[todo], dtype=np.float32)
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            self._unit[todo] = block / np.where(norms > 0, norms, 1.0)
            self._ready[todo] = True
        return [w for w, _ in known], self._unit[ids]

    def similarity(self, a: str, b: str) -> float:
        """Cosine of two words' vectors; 0 when either has none."""
        words, rows = self.rows([a, b])
        return float(rows[0] @ rows[1]) if len(words) == 2 else 0.0

    def variants(
        self, question_words: Iterable[str], words: Iterable[str], threshold: float
    ) -> dict[str, dict[str, float]]:
        """For each question word, the other `words` at `threshold` similarity or above."""
        asked, a = self.rows(dict.fromkeys(question_words))
        pool, p = self.rows(set(words))
        return close_words(asked, a, pool, p, threshold)

    def bag(self, words: Iterable[str], weights: dict[str, float]) -> np.ndarray | None:
        """The unit weighted mean vector of the words that have one."""
        known, rows = self.rows(words)
        if not known:
            return None
        total = (rows * np.array([weights.get(w, 0.0) for w in known])[:, None]).sum(axis=0)
        norm = float(np.linalg.norm(total))
        return total / norm if norm else None


def close_words(
    asked: list[str], a: np.ndarray, pool: list[str], p: np.ndarray, threshold: float
) -> dict[str, dict[str, float]]:
    """For each asked word (row of `a`), the other pool words (rows of `p`) at
    `threshold` cosine or above, with their cosine."""
    out: dict[str, dict[str, float]] = {}
    if not pool:
        return out
    for i, word in enumerate(asked):
        # One matrix-vector product per word: on a busy machine OpenBLAS's
        # matrix product of the same shapes took 40 times as long.
        sims = p @ a[i]
        close = {pool[j]: float(sims[j]) for j in np.flatnonzero(sims >= threshold)}
        close.pop(word, None)
        if close:
            out[word] = close
    return out


def words_of(text: str) -> list[str]:
    """Lower-case words, as the vocabulary spells them."""
    return _WORD.findall(text.lower())
