"""Which embedder esqa uses: the `embedder` setting (`ESQA_EMBEDDER`) resolved.

ONNX fp32 and sentence-transformers give the same vectors (cosine >= 0.9999),
so an index built by one is queried by the other; the entry points switch the
ONNX embedder to the precision of the index (`with_precision`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging

from esqa import settings
from esqa.embed.base import Embedder
from esqa.errors import EsqaError


def make_embedder(choice: str | None = None) -> Embedder:
    """The embedder that `choice` names (default: the `embedder` setting).

    `onnx`, `sentence-transformers`, `auto` (ONNX when it can be used, else
    sentence-transformers with a note), or `module:Class`, a class with the
    `Embedder` methods made with no arguments. Raises EsqaError for any other name.
    """
    name = (choice or settings.current().embedder).strip()
    if ":" in name:
        return _named_class(name)
    name = name.lower() or "auto"
    if name not in settings.EMBEDDERS:
        raise EsqaError(
            f"ESQA_EMBEDDER={name!r} is not one of {', '.join(settings.EMBEDDERS)} "
            "or module:Class; set one of them or unset it"
        )
    if name == "sentence-transformers":
        return _sentence_transformers()
    missing = onnx_missing()
    if missing is None:
        from esqa.embed.onnx_runtime import OnnxEmbedder

        return OnnxEmbedder()
    if name == "onnx":
        raise EsqaError(f"ESQA_EMBEDDER=onnx, but {missing}")
    _note_once(f"esqa: note: {missing}; embedding with sentence-transformers (slower to start)")
    return _sentence_transformers()


def with_precision(embedder: Embedder, precision: str) -> Embedder:
    """The ONNX embedder at `precision` ("fp32" or "int8"); any other embedder as it is."""
    from esqa.embed.onnx_runtime import OnnxEmbedder

    if isinstance(embedder, OnnxEmbedder) and precision in settings.PRECISIONS:
        return embedder.with_precision(precision)
    return embedder


def _sentence_transformers() -> Embedder:
    from esqa.embed.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def _named_class(name: str) -> Embedder:
    module_name, _, class_name = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        embedder: Embedder = cls()
    except Exception as exc:  # an import error, a typo, a constructor that fails: one line
        raise EsqaError(
            f"ESQA_EMBEDDER={name!r} cannot be made ({type(exc).__name__}: {exc}); "
            "name an importable module:Class or unset it"
        ) from None
    return embedder


def onnx_missing() -> str | None:
    """Why the ONNX embedder cannot be used, or None when it can (nothing heavy imported)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install onnxruntime)"
    from esqa.embed.base import bundled_model_path
    from esqa.embed.onnx_export import cached_export

    if cached_export(bundled_model_path()) is not None:
        return None
    for needed in ("torch", "transformers", "onnx"):
        if importlib.util.find_spec(needed) is None:
            return f"the ONNX export is not cached and making it needs {needed}, not installed"
    return None


@functools.cache
def _note_once(note: str) -> None:
    logging.getLogger("esqa").warning(note)
