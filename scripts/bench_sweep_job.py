"""Where a sweep job's time goes besides its fit: one-epoch jobs run in one process through the notebook API
(``imdb_lightning.sweep``, the command line's code path), with the main steps timed.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench_sweep_job.py --jobs 6
    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench_sweep_job.py --sweep '+experiment=glob(*)'
    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench_sweep_job.py \
        --overrides callbacks.keras_history.plots=false

A first job loads the data and the libraries; the timed jobs follow it. Prints seconds per job.
``--cli`` also times whole ``python -m imdb_lightning -m`` processes of 3 and 12 one-epoch jobs (two rounds):
the difference, per job, is what a command-line sweep job costs with Hydra's launcher. ``--hydra-floor`` times
Hydra composing a one-key app beside ours: the part of a job's composition any Hydra app pays.
"""

from __future__ import annotations

import argparse
import collections
import functools
import tempfile
import time
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=6, help="timed jobs: seeds 1..N of the baseline")
    parser.add_argument(
        "--sweep", help="time these jobs instead, e.g. '+experiment=glob(*)' (the lecture grid)"
    )
    parser.add_argument("--cli", action="store_true", help="also time whole -m sweeps of 3 and 12 jobs")
    parser.add_argument(
        "--hydra-floor",
        action="store_true",
        help="also time Hydra composing a one-key app beside ours (what any Hydra sweep job pays)",
    )
    parser.add_argument(
        "--overrides", nargs="*", default=[], help="for every job, e.g. callbacks.keras_history.plots=false"
    )
    args = parser.parse_args()

    import os

    import lightning as L

    import imdb_lightning as il
    from imdb_lightning import api
    from imdb_lightning.running import history, train

    os.environ.setdefault("IMDB_LIGHTNING_LOGS", tempfile.mkdtemp(prefix="bench_sweep_job_"))
    totals: dict[str, float] = collections.defaultdict(float)
    for owner, name, label in (
        (api, "compose_config", "Hydra composes the job's config"),
        (train, "train_model", "train_model (everything below, and the rest)"),
        (history.KerasHistory, "plot", "the two figures (draw, encode, write, TensorBoard)"),
        (L.Trainer, "fit", "Trainer.fit (the timed fit and Lightning's setup around it)"),
        (L.Trainer, "test", "Trainer.test"),
        (train, "validate", "config checks"),
        (train, "release_memory", "garbage collection"),
    ):
        timed(totals, owner, name, label)
    il.sweep("seed=0", "trainer.max_epochs=1", *args.overrides, quiet=True)  # data, libraries, kernels
    totals.clear()
    started = time.perf_counter()
    swept = args.sweep or f"seed=range(1,{args.jobs + 1})"
    jobs = il.sweep(swept, "trainer.max_epochs=1", *args.overrides, quiet=True)
    wall = time.perf_counter() - started
    fit = sum(job.metrics["fit_seconds"] for job in jobs)
    n = len(jobs)
    besides = (wall - fit) / n
    print(f"{n} jobs: {wall / n:.3f} s a job; fit {fit / n:.3f} s, besides fit {besides:.3f} s")
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {label:64s} {seconds / n:.3f}")
    if args.cli:
        cli_slope(*args.overrides)
    if args.hydra_floor:
        hydra_floor()


def hydra_floor(rounds: int = 3, composes: int = 10) -> None:
    """Hydra's composition of a one-key app and of ours (Hydra's own config included in both), interleaved;
    the fastest round of each."""
    from hydra import compose, initialize_config_dir

    from imdb_lightning.config.files import CONFIG_DIR

    with tempfile.TemporaryDirectory() as minimal:
        (Path(minimal) / "train.yaml").write_text("a: 1\n")
        best = {}
        for _ in range(rounds):
            for name, folder in (("a one-key app", minimal), ("imdb_lightning", str(CONFIG_DIR))):
                with initialize_config_dir(config_dir=folder, version_base="1.3"):
                    compose("train", return_hydra_config=True)
                    started = time.perf_counter()
                    for seed in range(composes):
                        overrides = [f"seed={seed}"] if name == "imdb_lightning" else []
                        compose("train", overrides=overrides, return_hydra_config=True)
                    seconds = (time.perf_counter() - started) / composes
                best[name] = min(best.get(name, float("inf")), seconds)
    for name, seconds in best.items():
        print(f"Hydra composes {name}: {seconds:.3f} s")


def cli_slope(*overrides: str, small: int = 3, large: int = 12, rounds: int = 2) -> None:
    """Whole-process ``-m`` sweeps of ``small`` and ``large`` one-epoch jobs, interleaved; fastest of each."""
    import subprocess
    import sys

    best: dict[int, float] = {}
    for _ in range(rounds):
        for jobs in (small, large):
            started = time.perf_counter()
            command = [
                sys.executable,
                "-m",
                "imdb_lightning",
                "-m",
                f"seed=range(0,{jobs})",
                "trainer.max_epochs=1",
            ]
            subprocess.run([*command, *overrides], check=True, capture_output=True)
            best[jobs] = min(best.get(jobs, float("inf")), time.perf_counter() - started)
    slope = (best[large] - best[small]) / (large - small)
    print(f"-m sweeps, whole processes: {small} jobs {best[small]:.1f} s, {large} jobs {best[large]:.1f} s")
    print(f"  a command-line sweep job (one-epoch fit and test included): {slope:.3f} s")


if __name__ == "__main__":
    main()
