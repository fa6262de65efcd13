"""Where a sweep job's time goes besides its fit: one-epoch jobs run in one process through the notebook API
(``imdb_lightning.sweep``, the command line's code path), with the main steps timed.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench_sweep_job.py --jobs 6
    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench_sweep_job.py \
        --overrides callbacks.keras_history.plots=false

A first job loads the data and the libraries; the timed jobs follow it. Prints seconds per job.
"""

from __future__ import annotations

import argparse
import collections
import functools
import tempfile
import time


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
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument(
        "--overrides", nargs="*", default=[], help="for every job, e.g. callbacks.keras_history.plots=false"
    )
    args = parser.parse_args()

    import os

    import lightning as L

    import imdb_lightning as il
    from imdb_lightning import api, callbacks, train

    os.environ.setdefault("IMDB_LIGHTNING_LOGS", tempfile.mkdtemp(prefix="bench_sweep_job_"))
    totals: dict[str, float] = collections.defaultdict(float)
    for owner, name, label in (
        (api, "compose_config", "Hydra composes the job's config"),
        (train, "train_model", "train_model (everything below, and the rest)"),
        (callbacks.KerasHistory, "plot", "the two figures (draw, encode, write, TensorBoard)"),
        (L.Trainer, "fit", "Trainer.fit (the timed fit and Lightning's setup around it)"),
        (L.Trainer, "test", "Trainer.test"),
        (train, "validate", "config checks"),
        (train, "release_memory", "garbage collection"),
    ):
        timed(totals, owner, name, label)
    il.sweep("seed=0", "trainer.max_epochs=1", *args.overrides, quiet=True)  # data, libraries, kernels
    totals.clear()
    started = time.perf_counter()
    jobs = il.sweep(f"seed=range(1,{args.jobs + 1})", "trainer.max_epochs=1", *args.overrides, quiet=True)
    wall = time.perf_counter() - started
    fit = sum(job.metrics["fit_seconds"] for job in jobs)
    n = len(jobs)
    besides = (wall - fit) / n
    print(f"{n} one-epoch jobs: {wall / n:.3f} s a job; fit {fit / n:.3f} s, besides fit {besides:.3f} s")
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {label:64s} {seconds / n:.3f}")


if __name__ == "__main__":
    main()
