"""The lecture's results, measured on the real data (CI runs these against ../shared/data)."""

from __future__ import annotations

import json

import pytest
from runs import compose_run

from imdb_lightning.train import train

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def histories(tmp_path_factory, real_cache):
    """baseline, dropout, l2 and zero-init runs, 20 epochs each, same seed (about 10 s each here)."""
    import os

    from conftest import REAL_DATA

    if not REAL_DATA or not os.path.isdir(REAL_DATA):
        pytest.skip("real IMDB data not available: set IMDB_LIGHTNING_DATA")
    mp = pytest.MonkeyPatch()
    mp.setenv("IMDB_LIGHTNING_CACHE", str(real_cache))
    out = {}
    for experiment in ("baseline", "dropout", "l2", "init_zeros"):
        folder = tmp_path_factory.mktemp(experiment)
        cfg = compose_run(folder, [f"+experiment={experiment}", f"data.data_dir={os.path.abspath(REAL_DATA)}", "trainer.enable_progress_bar=false", "seed=42"])
        metrics = train(cfg)
        out[experiment] = (json.loads((folder / "history.json").read_text()), metrics)
        print(experiment, {k: round(v[-1], 4) for k, v in out[experiment][0].items()}, "test", round(metrics["test/acc"], 4))
    mp.undo()
    return out


def test_baseline_peaks_early_then_overfits_and_tests_above_0_85(histories):
    history, metrics = histories["baseline"]
    val_acc = history["val_accuracy"]
    assert len(val_acc) == 20
    assert max(val_acc[:6]) >= 0.88
    assert history["val_loss"][-1] > min(history["val_loss"]) + 0.1  # it overfits, as in the lecture
    assert metrics["test/acc"] >= 0.85


@pytest.mark.parametrize("regularized", ["dropout", "l2"])
def test_regularization_ends_with_lower_validation_loss_than_baseline(histories, regularized):
    assert histories[regularized][0]["val_loss"][-1] < histories["baseline"][0]["val_loss"][-1]


def test_zero_initialization_cannot_learn(histories):
    history, metrics = histories["init_zeros"]
    assert all(abs(a - 0.5) < 0.02 for a in history["val_accuracy"])
    assert abs(metrics["test/acc"] - 0.5) < 0.02
