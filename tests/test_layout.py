"""The package's shape: stages import only lower stages, settings are read in one place.

The folder tells the story of a question (README, "How it works"); these
tests keep the arrows pointing one way as the code changes.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from click.testing import CliRunner

import esqa
from esqa import settings
from esqa.api import QA
from esqa.cli import cli

PACKAGE = Path(esqa.__file__).resolve().parent

# Lowest first. A module may import its own stage and the stages before it.
STAGES = [
    {"esqa", "esqa.errors", "esqa.settings", "esqa.fileio", "esqa.types"},
    {"esqa.ingest"},
    {"esqa.embed"},
    {"esqa.stores"},
    {"esqa.index"},
    {"esqa.answer"},
    {"esqa.evaluate", "esqa.api", "esqa.render", "esqa.articles", "esqa.question_file"},
    {"esqa.cli", "esqa.web"},
]


def _stage(module: str) -> int:
    for level, names in enumerate(STAGES):
        if any(module == n or module.startswith(n + ".") for n in names - {"esqa"}):
            return level
    assert module == "esqa", f"{module} belongs to no stage: add it to STAGES"
    return 0


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every esqa module the file imports, at run time or for type checking."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("esqa")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("esqa"):
            found.add(node.module)
    return found


def test_every_import_points_to_the_same_or_a_lower_stage():
    wrong = []
    for name, path in _modules().items():
        if name == "esqa":  # the package's lazy exports name every stage, by design
            continue
        for target in _imports(path):
            if target != "esqa" and _stage(target) > _stage(name):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_module_imports_itself_back_through_another():
    graph = {name: _imports(path) - {"esqa"} for name, path in _modules().items() if name != "esqa"}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [name for name in graph if reaches(name, name, {name})] == []


def test_only_the_settings_module_reads_the_environment():
    readers = [
        name
        for name, path in _modules().items()
        if re.search(r"os\.environ\.get|os\.getenv|environ\[|envvar=", path.read_text("utf-8"))
        and name != "esqa.settings"
    ]
    assert readers == []


def test_the_cli_and_the_library_have_the_same_defaults():
    runner = CliRunner()
    ask_help = runner.invoke(cli, ["ask", "--help"]).output
    search_help = runner.invoke(cli, ["search", "--help"]).output
    assert inspect.signature(QA.ask).parameters["k"].default == settings.ANSWER_PASSAGES
    assert inspect.signature(QA.search).parameters["k"].default == settings.SEARCH_HITS
    assert re.search(rf"\[default: {settings.ANSWER_PASSAGES}[;\]]", ask_help)
    assert re.search(rf"\[default: {settings.SEARCH_HITS}[;\]]", search_help)
    assert str(settings.DEFAULT_INDEX) in " ".join(ask_help.split())


def test_the_environment_gives_the_settings():
    environ = {"ESQA_INDEX": "/data/idx", "ESQA_CORPUS": "news", "ESQA_PRECISION": "FP32"}
    got = settings.current(environ)
    assert (got.index, got.corpus, got.precision) == (Path("/data/idx"), Path("news"), "fp32")
    assert settings.current({}) == settings.Settings()


def test_every_result_type_a_user_receives_is_exported():
    returned = {"Answer", "Citation", "Hit", "Chunk", "IndexInfo", "BuildReport", "AddResult"}
    assert returned <= set(esqa.__all__)
    for name in esqa.__all__:
        assert getattr(esqa, name) is not None
