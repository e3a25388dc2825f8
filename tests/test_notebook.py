"""notebooks/quickstart.ipynb: stored clean, and runs top to bottom for a new user.

The run happens in a scratch copy of the repository layout (seeds/ and the
notebook in tmp_path), so `esqa.load()` builds tmp_path/indexes/default and the
repository's own indexes/ is never written.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"


def read() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_valid_and_stored_without_outputs() -> None:
    nb = read()
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


def test_notebook_covers_the_walkthrough() -> None:
    code = "\n".join(c.source for c in read().cells if c.cell_type == "code")
    markdown = "\n".join(c.source for c in read().cells if c.cell_type == "markdown")
    for needed in (
        "import esqa",
        "esqa.load()",
        'qa.ask("what is ESPA\'s fourth pillar")',
        "answer.citations",
        "answer.to_dict()",
        'qa.search("rare earths", k=3)',
        ".answered",
    ):
        assert needed in code, needed
    assert "minute" in markdown  # warns that the first load builds the index
    assert "line" in markdown.lower()


def outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.extend(str(v) for v in out.data.values())
    return "\n".join(parts)


@pytest.mark.real
def test_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    work = tmp_path / "repo"
    shutil.copytree(REPO / "seeds", work / "seeds")
    (work / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, work / "notebooks" / NOTEBOOK.name)
    repo_indexes = sorted(p.name for p in (REPO / "indexes").iterdir())
    manifest_times = {p: p.stat().st_mtime_ns for p in (REPO / "indexes").rglob("*") if p.is_file()}

    nb = read()
    # Check, without storing it in the notebook, that the kernel is this interpreter.
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    client = NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(work)}}
    )
    client.execute()  # raises CellExecutionError if any cell fails

    assert outputs_text(nb.cells[-1]).strip() == sys.executable
    assert (work / "indexes" / "default").exists(), "the index is built in the working dir"
    assert sorted(p.name for p in (REPO / "indexes").iterdir()) == repo_indexes
    for path, mtime in manifest_times.items():
        assert path.stat().st_mtime_ns == mtime

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    html = [
        out
        for c in code_cells
        for out in c.outputs
        if out.output_type in ("execute_result", "display_data") and "text/html" in out.data
    ]
    assert html, "an Answer renders as HTML"
    assert any("esqa-answer" in out.data["text/html"] for out in html)
    assert "<script" not in "".join(out.data["text/html"] for out in html)

    everything = "\n".join(outputs_text(c) for c in code_cells)
    assert "answered: False" in everything  # the question the articles do not answer
    checks = [line for line in everything.splitlines() if "quote found in the cited lines" in line]
    assert checks and all(line.endswith("True") for line in checks)
