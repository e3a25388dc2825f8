"""all-MiniLM-L6-v2 through onnxruntime and `tokenizers`: the same vectors as
sentence-transformers (cosine ≥ 0.9999) without importing torch.

A new process answers a question in well under a second this way; through
sentence-transformers the imports alone take several seconds. The model is
the export of `esqa.embed.onnx_export`, made once per weights into a cache.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from esqa.embed.base import MODEL_ID, BundledTokenizer, ProgressFn
from esqa.embed.onnx_export import (
    EXPORT_SECONDS,
    PRECISIONS,
    Export,
    cache_root,
    cached_export,
    ensure_export,
)
from esqa.errors import EsqaError

log = logging.getLogger("esqa")

# Texts tokenised together, so that the token ids of a whole corpus are never
# held at once.
_TOKENISE_BLOCK = 4096


class OnnxEmbedder(BundledTokenizer):
    """all-MiniLM-L6-v2 exported to ONNX, run by onnxruntime on the CPU.

    `precision` "fp32" gives sentence-transformers' vectors (cosine >= 0.9999);
    "int8" (dynamic, per channel) is faster but another model: an index is
    queried with the precision that embedded it (the model id says which).
    One thread by default, for queries and batches alike: on the shared 2-core
    machine a second thread was slower (fp32 25 vs 34 chunks/s, int8 46 vs 53;
    benchmarks/build_throughput.py). Example:
    `OnnxEmbedder().embed(["what is ESPA's fourth pillar"])`.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        cache: Path | None = None,
        batch_threads: int | None = None,
        precision: str = "fp32",
    ) -> None:
        super().__init__(model_path)
        self.cache = cache or cache_root()
        self.batch_threads = batch_threads or 1
        if precision not in PRECISIONS:
            raise EsqaError(f"no ONNX export of precision {precision!r}; use one of {PRECISIONS}")
        self.precision = precision
        if precision != "fp32":
            # Not interchangeable with fp32 vectors: a different model id makes
            # loading refuse an index embedded by the other variant.
            self.model_id = f"{MODEL_ID}:{precision}"
        self._sessions: dict[int, Any] = {}

    def with_precision(self, precision: str) -> OnnxEmbedder:
        """The same model, cache and threads at another precision (self if the same)."""
        if precision == self.precision:
            return self
        return OnnxEmbedder(self.model_path, self.cache, self.batch_threads, precision)

    @cached_property
    def export(self) -> Export:
        """The cached export, made first (with a note on stderr) when missing."""
        found = cached_export(self.model_path, self.cache, self.precision)
        if found is not None:
            return found
        log.warning(
            "esqa: preparing the ONNX query encoder once (about %d s); it is cached in %s",
            EXPORT_SECONDS,
            self.cache / "onnx",
        )
        return ensure_export(self.model_path, self.cache, self.precision)

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "backend": "onnxruntime",
            "precision": {"fp32": "float32"}.get(self.precision, self.precision),
        }
        # Only an export that exists: describing must never make one.
        found = self.__dict__.get("export") or cached_export(
            self.model_path, self.cache, self.precision
        )
        if found is not None:
            record.update(found.describe())
        return record

    @cached_property
    def _encoder(self) -> Any:
        tokenizer = self.load_tokenizer()
        # sentence-transformers reads up to 256 word pieces (max_seq_length);
        # the shipped tokenizer.json stops at 128, which changes long texts'
        # vectors (cosine 0.90). Padding is done per batch, to its longest text.
        tokenizer.enable_truncation(max_length=self.max_tokens)
        return tokenizer

    def _session(self, threads: int) -> Any:
        if threads not in self._sessions:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # The export is stored optimised (see esqa.embed.onnx_export): optimising
            # again would only cost time at every start.
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
            try:
                self._sessions[threads] = onnxruntime.InferenceSession(
                    str(self.export.path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise EsqaError(
                    f"the ONNX model {self.export.path} cannot be loaded "
                    f"({str(exc).splitlines()[0]}); delete {self.export.path.parent} "
                    "and run the command again to export it anew"
                ) from None
        return self._sessions[threads]

    def embed(
        self, texts: Sequence[str], batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        """One vector per text; `progress` is told every `batch_size` texts.

        Each text is run through the model on its own, so that its vector
        never depends on the texts beside it: int8's activations are
        quantised with one scale per input tensor, so in a batch of 32 every
        text's vector moved with its neighbours (cosine 0.954 to 0.999 to
        the same text embedded alone), and even fp32 differed in the last
        bits with the padding. An index built incrementally then holds the
        very vectors a full build would. It costs nothing: on 256 COVID-QA
        chunks one text per run embedded 23 to 27 chunks/s against 22 to 23
        in sorted batches of 32 (int8), and 13 to 24 against 12 to 20 (fp32).
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        session = self._session(1 if len(texts) <= 1 else self.batch_threads)
        unreported = 0
        for block in range(0, len(texts), _TOKENISE_BLOCK):
            encodings = self._encoder.encode_batch(list(texts[block : block + _TOKENISE_BLOCK]))
            for i, encoding in enumerate(encodings):
                out[block + i] = self._run(session, np.asarray(encoding.ids, dtype=np.int64))
                unreported += 1
                if progress is not None and unreported == batch_size:
                    progress(unreported)
                    unreported = 0
        if progress is not None and unreported:
            progress(unreported)
        return out

    @staticmethod
    def _run(session: Any, ids: np.ndarray) -> np.ndarray:
        """The vector of one text's token ids."""
        input_ids = ids.reshape(1, -1)
        mask = np.ones_like(input_ids)
        (vectors,) = session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        return np.asarray(vectors[0], dtype=np.float32)
