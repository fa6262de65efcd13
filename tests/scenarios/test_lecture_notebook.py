"""docs/lecture.ipynb: the lecture's notebook with this package, made from docs/lecture.py and run in a real
Jupyter kernel."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "docs" / "lecture.py"
NOTEBOOK = REPO / "docs" / "lecture.ipynb"


def builder():
    spec = importlib.util.spec_from_file_location(
        "build_lecture_notebook", REPO / "scripts" / "build_lecture_notebook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_the_committed_notebook_is_its_source_run_in_full():
    committed = json.loads(NOTEBOOK.read_text())
    cells = builder().cells_of(SOURCE.read_text())
    assert [(c["cell_type"], text(c)) for c in committed["cells"]] == cells
    code = [c for c in committed["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))  # run top to bottom, once
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    shown = "".join("".join(o["text"]) for c in code for o in c["outputs"] if o["output_type"] == "stream")
    assert "Epoch 20/20" in shown  # the full lecture, not a short test run
    pictures = [o for c in code for o in c["outputs"] if "image/png" in o.get("data", {})]
    assert len(pictures) >= 5  # the baseline's curves and a figure per section


def test_markdown_and_code_cells_are_split_at_their_markers():
    cells = builder().cells_of("# %% [markdown]\n# # Title\n#\n# Prose.\n\n# %%\nx = 1\n\n# %%\nx\n")
    assert cells == [("markdown", "# Title\n\nProse."), ("code", "x = 1"), ("code", "x")]


@pytest.mark.real_data
@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom_in_a_kernel(tmp_path, monkeypatch, real_data):
    monkeypatch.setenv("IMDB_LIGHTNING_LOGS", str(tmp_path / "logs"))
    build = builder()
    notebook = build.execute(
        build.notebook_of(SOURCE.read_text()), epochs=1, cwd=tmp_path
    )  # raises on errors
    code = [c for c in notebook.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5  # figures show as pictures
    assert "text/html" in code[-1].outputs[-1]["data"]  # load_sweep's table, a DataFrame
    runs = list((tmp_path / "logs" / "runs").iterdir())
    assert len(runs) == 1 + 5 + 8 + 10  # baseline, regularizers, initializers, optimizers
    assert (
        len(
            [
                p
                for p in next((tmp_path / "logs" / "multirun").iterdir()).iterdir()
                if p.is_dir() and p.name[0].isdigit()
            ]
        )
        == 9
    )
