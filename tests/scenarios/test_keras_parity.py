"""Against Keras itself: two variants, two epochs, same weights and batches (skipped without TensorFlow).

Runs when TensorFlow is importable here or ``IMDB_LIGHTNING_KERAS_PYTHON`` names an interpreter that has it
(TensorFlow stays out of the package's dependencies and CI). The full table: ``scripts/keras_parity.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from synthetic import make_data_dir

pytestmark = [pytest.mark.keras, pytest.mark.slow]
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def keras_python() -> str | None:
    named = os.environ.get("IMDB_LIGHTNING_KERAS_PYTHON")
    if named:
        return named
    return sys.executable if importlib.util.find_spec("tensorflow") else None


@pytest.fixture
def keras():
    python = keras_python()
    if python is None:
        pytest.skip("no TensorFlow: set IMDB_LIGHTNING_KERAS_PYTHON to an interpreter that has it")
    return python


def parity(python: str, variants: list[str], epochs: int, overrides: list[str]) -> tuple[list[dict], dict]:
    """``scripts/keras_parity.py`` as a user runs it: its rows and versions (the last line it prints)."""
    command = [sys.executable, str(SCRIPTS / "keras_parity.py"), "--keras-python", python]
    command += ["--variants", ",".join(variants), "--epochs", str(epochs), *overrides]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["rows"], figures["versions"]


def test_baseline_and_batchnorm_follow_keras_epoch_by_epoch(keras, tmp_path):
    data_dir = make_data_dir(tmp_path / "data", n_per_label=100)
    overrides = [f"data.data_dir={data_dir}", "data.val_size=50", "data.num_words=30", "data.batch_size=32"]
    rows, versions = parity(keras, ["baseline", "batchnorm"], 2, overrides)
    assert "keras" in versions
    for row in rows:
        assert row["epoch1_loss"] <= 1e-4 and row["epoch1_val_loss"] <= 1e-4, row
        assert row["epoch2_val_accuracy"] <= 0.005 and row["weights_epoch2"] <= 1e-4, row
