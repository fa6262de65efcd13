"""Where a sweep job's time goes besides its fit: one-epoch jobs run in one process through the notebook API
(``imdb_lightning.sweep``, the command line's code path), with the main steps timed. A first job loads the
data and the libraries; the timed jobs follow it.

Also: whole ``python -m imdb_lightning -m`` processes of 3 and 12 one-epoch jobs (the difference, per job, is
what a command-line sweep job costs with Hydra's launcher), and Hydra composing a one-key app beside ours (the
part of a job's composition any Hydra app pays).
"""

from __future__ import annotations

import collections
import functools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Table, fastest, rounds


def timed(totals: dict, owner, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its wall time to ``totals[label]``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def sweep_job(jobs: int, overrides: list[str], repeat: int) -> tuple[dict, dict[str, Table]]:
    """A job's steps, seconds a job; then the command line's cost a job and Hydra's floor."""
    import os

    import lightning as L

    import imdb_lightning as il
    from imdb_lightning import api
    from imdb_lightning.running import history, train

    os.environ.setdefault("IMDB_LIGHTNING_LOGS", tempfile.mkdtemp(prefix="bench_sweep_job_"))
    totals: dict[str, float] = collections.defaultdict(float)
    for owner, name, label in (
        (api, "compose_config", "Hydra composing the job's config"),
        (train, "train_model", "train_model (everything below, and the rest)"),
        (history.KerasHistory, "plot", "the two figures: drawn, encoded, written, sent to TensorBoard"),
        (L.Trainer, "fit", "`Trainer.fit` (the fit, Lightning's setup around it, the figures when it ends)"),
        (L.Trainer, "test", "`Trainer.test`"),
        (train, "validate", "config checks"),
        (train, "release_memory", "garbage collection"),
    ):
        timed(totals, owner, name, label)
    il.sweep("seed=0", "trainer.max_epochs=1", *overrides, quiet=True)  # data, libraries, kernels
    totals.clear()
    started = time.perf_counter()
    done = il.sweep(f"seed=range(1,{jobs + 1})", "trainer.max_epochs=1", *overrides, quiet=True)
    wall = time.perf_counter() - started
    n = len(done)
    fit = sum(job.metrics["fit_seconds"] for job in done) / n
    table = Table(["step, seconds a job", ""], note=f"{n} one-epoch jobs")
    table.add("the whole job", f"{wall / n:.3f}")
    table.add("its fit (`fit_seconds`)", f"{fit:.3f}")
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        table.add(label, f"{seconds / n:.3f}")
    cli = cli_slope(*overrides, rounds_=repeat)
    floor = hydra_floor(rounds_=repeat)
    table.add("a command-line sweep job (`-m`, 12 jobs against 3, whole processes)", f"{cli:.3f}")
    for name, seconds in floor.items():
        table.add(f"Hydra composing {name}'s config", f"{seconds:.3f}")
    figures = {
        "job_seconds": wall / n,
        "fit_seconds": fit,
        "steps": dict(totals),
        "cli_job": cli,
        "hydra": floor,
    }
    return {"sweep_job": figures}, {"sweep-job": table}


def hydra_floor(rounds_: int, composes: int = 10) -> dict[str, float]:
    """Hydra's composition of a one-key app and of ours (Hydra's own config included in both), seconds a
    composition, fastest round of each."""
    from hydra import compose, initialize_config_dir

    from imdb_lightning.config.files import CONFIG_DIR

    def composing(folder: str, overrides: list[str]) -> float:
        with initialize_config_dir(config_dir=folder, version_base="1.3"):
            compose("train", return_hydra_config=True)
            started = time.perf_counter()
            for _ in range(composes):
                compose("train", overrides=overrides, return_hydra_config=True)
            return (time.perf_counter() - started) / composes

    with tempfile.TemporaryDirectory() as minimal:
        (Path(minimal) / "train.yaml").write_text("a: 1\n")
        apps = {"a one-key app": (minimal, []), "imdb_lightning": (str(CONFIG_DIR), ["seed=1"])}
        tries = rounds({name: (lambda f=f, o=o: composing(f, o)) for name, (f, o) in apps.items()}, rounds_)
    return {name: fastest(t) for name, t in tries.items()}


def cli_slope(*overrides: str, rounds_: int, small: int = 3, large: int = 12) -> float:
    """Seconds a job of a command-line sweep: whole-process ``-m`` sweeps of ``small`` and ``large``
    one-epoch jobs, interleaved, the fastest of each."""

    def sweep(jobs: int) -> float:
        command = [
            sys.executable,
            "-m",
            "imdb_lightning",
            "-m",
            f"seed=range(0,{jobs})",
            "trainer.max_epochs=1",
        ]
        started = time.perf_counter()
        subprocess.run([*command, *overrides], check=True, capture_output=True)
        return time.perf_counter() - started

    tries = rounds({small: lambda: sweep(small), large: lambda: sweep(large)}, rounds_)
    return (fastest(tries[large]) - fastest(tries[small])) / (large - small)
