"""Nothing heavy on the query path: `esqa --help`, `esqa ask` and `esqa search`
run in a new process without importing torch, sentence-transformers,
transformers or scikit-learn (seconds of imports) once the ONNX export is cached,
nor bm25s and scipy (0.15 s: the lexical index is read without them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SEEDS

HEAVY = ("torch", "sentence_transformers", "transformers", "sklearn", "bm25s", "scipy")

# Runs the command as the `esqa` script does, then reports which heavy
# top-level packages ended up in sys.modules (on stderr, after the output).
PROBE = f"""
import json, sys
from esqa.cli import main
sys.argv = ["esqa", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {set(HEAVY)!r})
print("HEAVY " + json.dumps(heavy), file=sys.stderr)
sys.exit(code)
"""


def run_esqa(args: list[str], cache: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "ESQA_EMBEDDER"}
    env.update(ESQA_CACHE=str(cache), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("HEAVY "), result.stderr
    return result, json.loads(last.removeprefix("HEAVY "))


def test_a_loaded_lexical_store_searches_without_bm25s_or_scipy(tmp_path):
    from esqa.stores.bm25_lexical import Bm25LexicalStore
    from esqa.types import Chunk

    texts = ["Japan passed the ESPA in 2022.", "The law has four pillars.", "the a of"]
    chunks = [Chunk(i, "a.txt", i + 1, i + 1, i + 1, t) for i, t in enumerate(texts)]
    store = Bm25LexicalStore()
    store.add(chunks)
    store.save(tmp_path)
    probe = f"""
import json, sys
from pathlib import Path
from esqa.stores.bm25_lexical import Bm25LexicalStore
from esqa.types import Chunk
chunks = {{c.id: c for c in map(Chunk.from_dict, json.loads(sys.argv[1]))}}
store = Bm25LexicalStore.load(Path({str(tmp_path)!r}), chunks)
hits = store.search("pillars of the law", 5)
print(json.dumps([[h.id for h in hits], store.terms("Pillars"), store.idf(["law"])]))
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & {{"bm25s", "scipy"}})))
"""
    rows = json.dumps([c.to_dict() for c in chunks])
    done = subprocess.run(
        [sys.executable, "-c", probe, rows], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found, imported = (json.loads(line) for line in done.stdout.splitlines())
    assert found == [[1], store.terms("Pillars"), store.idf(["law"])]
    assert imported == []


@pytest.mark.parametrize("args", [["--help"], ["ask", "--help"], ["search", "--help"]])
def test_help_imports_nothing_heavy(args, tmp_path):
    # An empty cache: help must not even look at the model.
    result, heavy = run_esqa(args, tmp_path / "empty-cache")
    assert result.returncode == 0, result.stderr
    assert "Usage: esqa" in result.stdout
    assert heavy == []


def ask_lightly(index: Path, cache: Path) -> None:
    """`esqa ask` on `index` answers the seeds' question and imports nothing heavy."""
    where = ["--index", str(index), "--corpus", str(SEEDS)]
    result, heavy = run_esqa(["ask", "what is ESPA's fourth pillar", *where], cache)
    assert result.returncode == 0, result.stderr
    assert "secret patent" in result.stdout
    assert heavy == []


@pytest.mark.real
def test_ask_and_search_import_nothing_heavy_once_the_export_is_cached(onnx_cache, real_seed_index):
    ask_lightly(real_seed_index, onnx_cache)
    where = ["--index", str(real_seed_index), "--corpus", str(SEEDS)]
    result, heavy = run_esqa(["search", "ESPA fourth pillar", "--json", *where], onnx_cache)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["source"] == "003_116bf12851cd3169.txt"
    assert heavy == []
    assert "ONNX" not in result.stderr  # no export, no fallback note


@pytest.mark.real
def test_asking_an_index_as_built_now_imports_nothing_heavy(onnx_cache, tmp_path):
    from esqa.embed.onnx_runtime import OnnxEmbedder
    from esqa.index.build import build_index

    build_index(SEEDS, tmp_path / "idx", OnnxEmbedder(cache=onnx_cache, precision="int8"))
    ask_lightly(tmp_path / "idx", onnx_cache)


@pytest.mark.real
def test_an_empty_cache_is_filled_once_with_a_note(tmp_path, real_seed_index):
    where = ["--index", str(real_seed_index), "--corpus", str(SEEDS)]
    cache = tmp_path / "cache"
    result, heavy = run_esqa(["search", "ESPA fourth pillar", *where], cache)
    assert result.returncode == 0, result.stderr
    assert "esqa: preparing the ONNX query encoder once (about" in result.stderr
    assert "torch" in heavy  # the export needs it, this once
    assert list(cache.glob("onnx/*/v*-onnxruntime*/fp32.onnx"))
    result, heavy = run_esqa(["search", "ESPA fourth pillar", *where], cache)
    assert "preparing" not in result.stderr
    assert heavy == []
