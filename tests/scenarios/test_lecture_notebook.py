"""docs/lecture.ipynb: the lecture's notebook with this package, made from docs/lecture.py by
``scripts/build_lecture_notebook.py`` and run in a real Jupyter kernel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "scripts" / "build_lecture_notebook.py"
NOTEBOOK = REPO / "docs" / "lecture.ipynb"


def build(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD), *args], capture_output=True, text=True, **kwargs)


def code_cells(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def test_the_committed_notebook_is_its_source_run_in_full():
    checked = build("--check", str(NOTEBOOK), timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    code = code_cells(json.loads(NOTEBOOK.read_text()))
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))  # run top to bottom, once
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    shown = "".join("".join(o["text"]) for c in code for o in c["outputs"] if o["output_type"] == "stream")
    assert "Epoch 20/20" in shown  # the full lecture, not a short test run
    pictures = [o for c in code for o in c["outputs"] if "image/png" in o.get("data", {})]
    assert len(pictures) >= 5  # the baseline's curves and a figure per section


def test_a_notebook_that_is_not_its_source_is_named(tmp_path):
    stale = json.loads(NOTEBOOK.read_text())
    stale["cells"][0]["source"] = "# Another title"
    (tmp_path / "stale.ipynb").write_text(json.dumps(stale))
    checked = build("--check", str(tmp_path / "stale.ipynb"), timeout=120)
    assert checked.returncode == 1 and "cell 1" in checked.stdout


@pytest.mark.real_data
@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom_as_a_user_runs_it(tmp_path, real_data):
    """As a user: the ``notebook`` extra's Jupyter runs the notebook where it lies (its kernel in ``docs/``),
    with the data folder exported relative to the project folder the shell is in."""
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    shutil.copy(NOTEBOOK, project / "docs" / "lecture.ipynb")
    env = {
        **os.environ,
        "PWD": str(project),
        "IMDB_LIGHTNING_DATA": os.path.relpath(real_data, project),
        "IMDB_LIGHTNING_LECTURE_EPOCHS": "1",
    }
    env.pop("IMDB_LIGHTNING_LOGS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--output",
            "ran.ipynb",
        ]
        + ["--ExecutePreprocessor.timeout=1800", "docs/lecture.ipynb"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    code = code_cells(json.loads((project / "docs" / "ran.ipynb").read_text()))
    outputs = [o for c in code for o in c["outputs"]]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5  # figures show as pictures
    assert "text/html" in code[-1]["outputs"][-1]["data"]  # load_sweep's table, a DataFrame
    logs = project / "docs" / "logs"  # where the kernel runs: git ignores logs/ at any depth
    runs = list((logs / "runs").iterdir())
    assert len(runs) == 1 + 5 + 8 + 10  # baseline, regularizers, initializers, optimizers
    sweep = next((logs / "multirun").iterdir())
    assert len([p for p in sweep.iterdir() if p.is_dir() and p.name[0].isdigit()]) == 9
