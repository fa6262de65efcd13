#!/usr/bin/env python
"""The benchmarks behind docs/benchmarks.md, one subcommand each (``python scripts/bench.py SUBCOMMAND -h``).

    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench.py fit --keras-python /path/to/tf-venv/bin/python
    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench.py threads --write-docs

fit          the 20-epoch baseline fit: ours, a bare Trainer, hand-written loops, Keras; quiet and beside a
             busy process (``--device cuda`` on a GPU: ours in both batch formats, with each run's GPU memory)
threads      our fit under each thread setting, alone and beside one and two busy processes
scaling      our fit at 10k-all words and 5k-20k training reviews
grid         the lecture's grid (every experiment, one seed) with the basic and the joblib launcher
sweep-memory the peak memory of a one-epoch sweep of ``--jobs`` jobs
lightning    where our fit's time goes beyond a hand-written loop (one process)
first-layer  the first layer's forward + backward, every way of computing it (one process)
optimizer-step  an RMSprop step over the model's parameters, every way of computing it (one process)
predict      predict's memory and time on many reviews
sweep-job    where a sweep job's time goes besides its fit
startup      where one run's time goes, process start to exit (imports, Hydra, data, epochs, figures, exit)
diagnostics  what the initializer experiments' TensorBoard histograms and gradient norms cost (one process)
lecture      scripts/reproduce_lecture.sh (72 jobs, report), quiet (also one batch a Lightning step) and
             beside a busy process: where time goes

Every measure runs once a round in ``--repeat`` interleaved rounds (the machine is shared and noisy: read
the ratios within a table). ``--write-docs`` puts the tables into docs/benchmarks.md between their markers,
with the day, the machine and the command; ``--json PATH`` writes the figures. The last line printed is one
JSON object of the figures. Keras's own parity with ours is ``scripts/keras_parity.py``, apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import command_line, machine, write_docs

SUBCOMMANDS = (
    "fit",
    "threads",
    "scaling",
    "grid",
    "sweep-memory",
    "lightning",
    "first-layer",
    "optimizer-step",
    "predict",
    "sweep-job",
    "diagnostics",
    "lecture",
    "startup",
)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = main.add_subparsers(dest="subcommand", required=True)
    worker = sub.add_parser("worker", help=argparse.SUPPRESS)
    worker.add_argument("name")
    for name in SUBCOMMANDS:
        command = sub.add_parser(name)
        command.add_argument("--repeat", type=int, default=2, help="interleaved rounds (default 2)")
        command.add_argument(
            "--write-docs", action="store_true", help="put the tables into docs/benchmarks.md"
        )
        command.add_argument("--json", type=Path, help="also write the figures to this file")
        command.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
        if name in ("fit", "startup"):
            command.add_argument(
                "--readme-python",
                help="an interpreter with this package installed as the README's first command does "
                "(`pip install .`, no extras), for a row of ours as a newcomer has it: the test extras bring "
                "SciPy (through Optuna), which torchmetrics imports at every start",
            )
        if name == "fit":
            command.add_argument(
                "--keras-python",
                default=sys.executable,
                help="an interpreter with TensorFlow and this package, for the Keras peer (kept out of ours: "
                "TensorBoard would import it and slow our start and fit)",
            )
        if name == "sweep-memory":
            command.add_argument("--jobs", type=int, default=48)
        if name == "predict":
            command.add_argument("--reviews", type=int, nargs="+", default=[50_000, 500_000])
        if name == "lecture":
            command.add_argument("--seeds", default="0,1,2", help="the script's seeds (default 0,1,2)")
        if name == "sweep-job":
            command.add_argument("--jobs", type=int, default=6, help="timed jobs: seeds 1..N of the baseline")
            command.add_argument("--overrides", nargs="*", default=[], help="for every job")
    return main


def run(args: argparse.Namespace, tmp: Path) -> tuple[dict, dict]:
    """The subcommand's figures and tables; each benchmark imports what it needs (the driver of the
    process-per-run benchmarks must not import torch: a child's peak memory starts from its parent's)."""
    if args.subcommand in ("fit", "threads", "scaling", "grid", "sweep-memory"):
        from benchmarks import fit

        if args.subcommand == "fit":
            return fit.fit(tmp, args.repeat, args.keras_python, args.readme_python)
        if args.subcommand == "sweep-memory":
            return fit.sweep_memory(tmp, args.jobs)
        return getattr(fit, args.subcommand)(tmp, args.repeat)
    if args.subcommand == "lightning":
        from benchmarks.lightning import lightning

        return lightning(tmp, args.repeat)
    if args.subcommand == "first-layer":
        from benchmarks.first_layer import first_layer

        return first_layer(args.repeat)
    if args.subcommand == "optimizer-step":
        from benchmarks.optimizer_step import optimizer_step

        return optimizer_step(args.repeat)
    if args.subcommand == "lecture":
        from benchmarks.lecture import lecture

        return lecture(tmp, args.repeat, args.seeds)
    if args.subcommand == "startup":
        from benchmarks.startup import startup

        return startup(tmp, args.repeat, args.readme_python)
    if args.subcommand == "diagnostics":
        from benchmarks.diagnostics import diagnostics

        return diagnostics(tmp, args.repeat)
    if args.subcommand == "predict":
        from benchmarks.predict import predict

        return predict(tmp, args.reviews)
    from benchmarks.sweep_job import sweep_job

    return sweep_job(args.jobs, args.overrides, args.repeat)


def main() -> int:
    args = parser().parse_args()
    os.environ["IMDB_BENCH_DEVICE"] = (
        args.device if args.subcommand != "worker" else os.environ.get("IMDB_BENCH_DEVICE", "cpu")
    )
    if args.subcommand == "worker":
        if args.name == "startup":  # the app itself, timed from inside
            from benchmarks.startup import worker_startup as work
        else:
            from benchmarks.fit import WORKERS

            work = WORKERS[args.name]
        print(json.dumps(work()))
        return 0
    if not os.environ.get("IMDB_LIGHTNING_DATA"):
        print("note: IMDB_LIGHTNING_DATA is not set; the data comes from the download cache", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="imdb-bench-") as tmp:
        figures, tables = run(args, Path(tmp))
    for name, table in tables.items():
        table.command = command_line()
        print(f"\n{name}:\n\n{table.markdown()}")
    figures = {"machine": machine(), "device": args.device, **figures}
    if args.write_docs:
        write_docs(tables)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
