"""Where one run's time goes, process start to exit: the run ``bench.py fit`` times end to end
(``python -m imdb_lightning +experiment=baseline test=false``), in a fresh process a try, with its steps timed
from inside (the app itself, its steps wrapped) and the process's whole wall time from outside. With
``--readme-python``, the same beside it in an install made as the README's first command makes it.
"""

from __future__ import annotations

import collections
import json
import os
import runpy
import statistics
import sys
import time
from pathlib import Path

from benchmarks.fit import ACCELERATORS, device
from benchmarks.harness import REPO, Table, measured, rounds
from benchmarks.sweep_job import timed

#: The steps, in the order a run takes them: what each row says.
STEPS = {
    "imports": "Python and the imports (torch, Lightning, ours)",
    "hydra": "Hydra: imported, the config composed (twice, as Hydra's `main` does), the job's folder",
    "data": "the data: the encoded cache read, Keras's id conventions, each review's distinct ids",
    "epochs": "the 20 epochs (Lightning's fit loop)",
    "figures": "the history and its two figures, when the fit ends",
    "rest": "the rest of the run: checks, model, trainer, TensorBoard, checkpoints, metrics",
    "exit": "the interpreter's start and exit",
}


def worker_startup() -> dict:
    """Run the app in this process (its arguments in ``IMDB_BENCH_ARGS``) with its steps timed: seconds from
    this function's start."""
    started = time.perf_counter()
    import lightning as L
    from lightning.pytorch.loops.fit_loop import _FitLoop

    from imdb_lightning.data.datamodule import IMDBDataModule
    from imdb_lightning.running import history, train

    imported = time.perf_counter() - started
    totals: dict[str, float] = collections.defaultdict(float)
    for owner, name, label in (
        (train, "train", "run"),
        (IMDBDataModule, "prepare_data", "data"),
        (IMDBDataModule, "setup", "data"),
        (_FitLoop, "run", "epochs"),
        (history.KerasHistory, "on_fit_end", "figures"),
        (L.Trainer, "test", "test"),
    ):
        timed(totals, owner, name, label)
    sys.argv = ["imdb_lightning", *json.loads(os.environ["IMDB_BENCH_ARGS"])]
    try:
        runpy.run_module("imdb_lightning", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if stop.code:
            raise
    return {"imports": imported, "total": time.perf_counter() - started, **totals}


def run_startup(python: str, folder: Path) -> dict:
    """One run in a fresh process of ``python``: its steps' seconds, the rest of its wall time as ``exit``."""
    args = ["+experiment=baseline", "test=false", "trainer.enable_progress_bar=false"]
    args += [f"trainer.accelerator={ACCELERATORS[device()]}", f"hydra.run.dir={folder}"]
    env = {**os.environ, "IMDB_BENCH_ARGS": json.dumps(args)}
    code, output, _, wall = measured([python, str(REPO / "scripts" / "bench.py"), "worker", "startup"], env)
    if code != 0:
        raise SystemExit(f"the timed run failed:\n{output[-3000:]}")
    steps = json.loads(output.strip().splitlines()[-1])
    inside = steps["run"] - steps["data"] - steps["epochs"] - steps["figures"] - steps.get("test", 0.0)
    return {
        "wall": wall,
        "imports": steps["imports"],
        "hydra": steps["total"] - steps["imports"] - steps["run"],
        "data": steps["data"],
        "epochs": steps["epochs"],
        "figures": steps["figures"],
        "rest": inside,
        "exit": wall - steps["total"],
    }


def startup(tmp: Path, repeat: int, readme_python: str | None) -> tuple[dict, dict[str, Table]]:
    """Each install's run ``repeat`` times, interleaved: the median of each step."""
    installs = {"development venv (`.[test]`)": sys.executable}
    if readme_python:
        installs["the README's install (`pip install .`)"] = readme_python
    measures = {
        name: (lambda python=python: run_startup(python, tmp / f"run-{time.monotonic_ns()}"))
        for name, python in installs.items()
    }
    tries = rounds(measures, repeat)
    medians = {name: {k: statistics.median(t[k] for t in ts) for k in ts[0]} for name, ts in tries.items()}
    table = Table(["step", *(f"{name}, s" for name in installs)], note=f"medians of {repeat} runs each")
    table.add("**one run, process start to exit**", *(f"**{m['wall']:.2f}**" for m in medians.values()))
    for key, label in STEPS.items():
        table.add(label, *(f"{m[key]:.2f}" for m in medians.values()))
    return {"startup": {"medians": medians, "tries": tries}}, {"startup": table}
