"""The whole lecture, as a user reproduces it: ``scripts/reproduce_lecture.sh SEEDS`` (every experiment times
the seeds, with their test pass and figures, then the report), on a quiet machine and beside one CPU-bound
process, and quiet with one batch a Lightning step (``STEPS_PER_EXECUTION=1``; the script runs 32), and where
its time went, read from what the run leaves:

- before the jobs: the command's start until Hydra made the sweep folder (``multirun.yaml``), checking the
  swept values until the launcher starts (Hydra logs it; joblib's workers start and import meanwhile), and
  from there to the first job's first log line;
- the jobs, from the first job's first log line to the last one's last, and the fits in them (their
  ``fit_seconds``, summed over both workers);
- the end: the sweep's summary and the report, until the script exits.

One process a run (the script itself); rounds interleaved, in the table's order.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from benchmarks.harness import REPO, Table, competing, measured, rounds
from imdb_lightning.running.folder import RunFolder, SweepFolder

SCRIPT = REPO / "scripts" / "reproduce_lecture.sh"


def _time(line: str) -> datetime.datetime:
    return datetime.datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")


def phases(sweep: Path, output: str, seconds: float) -> dict:
    """Where a reproduction's ``seconds`` went, from its sweep folder and its output (Hydra's lines)."""
    jobs = []
    for job in SweepFolder(sweep).jobs():
        lines = [line for line in job.file(RunFolder.LOG).read_text().splitlines() if line.startswith("[20")]
        jobs.append((_time(lines[0]), _time(lines[-1]), job.read_metrics()["fit_seconds"]))
    # "Launching 72 jobs locally" (basic launcher), "Launching jobs, sweep output dir ..." (joblib)
    launched = _time(next(line for line in output.splitlines() if "[HYDRA] Launching " in line))
    made = datetime.datetime.fromtimestamp(os.path.getmtime(sweep / SweepFolder.PLAN))
    first, last = min(j[0] for j in jobs), max(j[1] for j in jobs)
    ended = datetime.datetime.fromtimestamp(os.path.getmtime(sweep / "report.md"))
    started = ended - datetime.timedelta(seconds=seconds)
    span = lambda a, b: (b - a).total_seconds()  # noqa: E731
    return {
        "total": seconds,
        "to the sweep folder": span(started, made),
        "checking the values (the workers starting alongside)": span(made, launched),
        "to the first job": span(launched, first),
        "jobs": span(first, last),
        "fits (CPU seconds)": sum(j[2] for j in jobs),
        "jobs run": len(jobs),
        "summary and report": span(last, ended),
    }


def lecture(tmp: Path, repeat: int, seeds: str = "0,1,2") -> tuple[dict, dict[str, Table]]:
    def reproduce(name: str, busy: int, steps: int | None = None) -> dict:
        sweep = tmp / f"{name}_{len(list(tmp.glob(name + '_*')))}"
        env = {**os.environ, "STEPS_PER_EXECUTION": str(steps)} if steps else None
        with competing(busy):
            code, output, _, seconds = measured(["bash", str(SCRIPT), seeds, str(sweep)], env=env)
        if code != 0:
            raise SystemExit(f"reproduce_lecture.sh failed ({code}):\n{output[-3000:]}")
        return phases(sweep, output, seconds)

    measures = {
        "quiet": lambda: reproduce("quiet", 0),
        "quiet, one batch a Lightning step": lambda: reproduce("batches", 0, steps=1),
        "beside a busy process": lambda: reproduce("busy", 1),
    }
    tries = rounds(measures, repeat)
    best = {name: min(runs, key=lambda run: run["total"]) for name, runs in tries.items()}
    quiet = best["quiet"]
    table = Table(["seconds", *best])
    for key in quiet:
        if key != "jobs run":
            table.add(key, *(f"{run[key]:.1f}" for run in best.values()))
    table.note = f"{quiet['jobs run']} jobs (seeds {seeds}), the fastest of {repeat} round(s)"
    figures = dict(best)
    figures["all"] = {name: [run["total"] for run in runs] for name, runs in tries.items()}
    return figures, {"lecture": table}
