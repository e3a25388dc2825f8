"""all-MiniLM-L6-v2 through sentence-transformers: the fallback backend.

sentence-transformers (and torch) are imported only when a text is embedded,
because importing them takes seconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from esqa.embed.base import BundledTokenizer, ProgressFn


class SentenceTransformerEmbedder(BundledTokenizer):
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU."""

    def describe(self) -> dict[str, Any]:
        return {"backend": "sentence-transformers", "precision": "float32"}

    @cached_property
    def _model(self) -> Any:
        # The model is on disk; never let a library reach for a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Its weight-loading progress bar would interleave with esqa's own.
        transformers_logging.disable_progress_bar()
        model = SentenceTransformer(str(self.model_path), device="cpu")
        model.max_seq_length = self.max_tokens
        return model

    def embed(
        self, texts: Sequence[str], batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths and the first
        # batch shows the worst-case speed.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            vectors = self._model.encode(
                [texts[i] for i in batch],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[batch] = np.asarray(vectors, dtype=np.float32)
            if progress is not None:
                progress(len(batch))
        return out
