"""Sweep folders as a finished sweep leaves them, written directly: job folders with their overrides,
saved config, history and metrics (or none, as a crashed job leaves), without training anything."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from imdb_lightning.config.files import CONFIG_DIR


def fake_job(
    sweep: Path,
    job: int,
    overrides: list[str],
    val_acc: list[float],
    *,
    status: str | None = "completed",
    test_acc: float = 0.8,
) -> Path:
    folder = sweep / f"{job}-{','.join(overrides)}"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    # The run's saved config, with the `lecture` node its experiment file gave it.
    experiment = next((o.split("=", 1)[1] for o in overrides if o.startswith("+experiment=")), None)
    lecture = yaml.safe_load((CONFIG_DIR / "experiment" / f"{experiment}.yaml").read_text())["lecture"]
    (folder / "config.yaml").write_text(yaml.safe_dump({"lecture": lecture}))
    n = len(val_acc)
    history = {
        "loss": [0.5] * n,
        "accuracy": [0.8] * n,
        "val_loss": [1.0 - a for a in val_acc],
        "val_accuracy": val_acc,
    }
    if status == "diverged":
        history["val_loss"][-1] = None
    (folder / "history.json").write_text(json.dumps(history))
    if status is not None:
        metrics = {
            "status": status,
            "test/acc": test_acc,
            "test/loss": 0.4,
            "params": 160305,
            "epochs": n,
            "fit_seconds": 2.0 * n,
        }
        (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def lecture_sweep(tmp_path: Path) -> Path:
    """Three experiments over seeds 1 and 2: baseline completed twice, dropout completed once and crashed
    once, l2 diverged once and never ran once (missing)."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    task = ["+experiment=baseline,dropout,l2", "seed=1,2"]
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))
    fake_job(sweep, 0, ["+experiment=baseline", "seed=1"], [0.80, 0.88, 0.86], test_acc=0.85)
    fake_job(sweep, 1, ["+experiment=baseline", "seed=2"], [0.82, 0.86, 0.90], test_acc=0.87)
    fake_job(sweep, 2, ["+experiment=dropout", "seed=1"], [0.70, 0.75, 0.80])
    fake_job(
        sweep, 3, ["+experiment=dropout", "seed=2"], [0.70, 0.74, 0.79], status=None
    )  # crashed: no metrics
    fake_job(sweep, 4, ["+experiment=l2", "seed=1"], [0.6, 0.5, 0.5], status="diverged")
    # job 5 (l2, seed 2) never ran: missing
    return sweep
