"""Tables made from a sweep's runs: one row per configuration, its curves and every epoch.

``python -m imdb_lightning.report SWEEP_DIR [--lecture]`` reads every job folder of a Hydra multirun and
writes into the sweep folder:

* ``report.md``: one row per configuration (seeds grouped), mean ± std of the lecture's measures;
* ``curves_<section>.png``: validation loss and accuracy per epoch, mean with a ±1 std band over seeds, one
  figure per lecture section (regularization, initialization, optimizers) or one for other sweeps;
* ``epochs.csv``: every epoch of every run.

Jobs that never produced results are listed as missing or crashed, and diverged runs as diverged; none is
dropped silently.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from imdb_lightning.config.overrides import departs_from_lecture, names_the_run, split_override, sweep_jobs
from imdb_lightning.running.folder import RunFolder, Status, SweepFolder
from imdb_lightning.running.plots import HISTORY_KEYS, as_floats, compare_figure, save_figure
from imdb_lightning.utils.errors import ConfigError

# ------------------------------------------------------------------------------------------ a sweep's runs


#: Every status a job can have, in the order the report counts them (see :class:`Status`).
STATUSES = tuple(Status)


@dataclass
class Run:
    """One job folder of a sweep, and what it left behind."""

    folder: Path
    job: int | None
    label: str
    seed: int | None
    status: Status
    history: dict[str, list[float | None]] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    # The run's `lecture` config node: the report figure (section) it joins, its row order, the lecture's
    # published figures. An experiment file sets it, so adding one needs no change here.
    lecture: dict = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # files of the folder that could not be parsed
    departures: list[str] = field(default_factory=list)  # overrides that change the lecture's experiment

    def series(self, key: str) -> np.ndarray:
        return as_floats(self.history.get(key, []))


def departures(overrides: list[str]) -> list[str]:
    """The overrides that make a run another than the lecture's experiment (the epochs, a learning rate, the
    data: :func:`~imdb_lightning.config.overrides.departs_from_lecture`)."""
    return [o for o in overrides if departs_from_lecture(split_override(o)[0])]


def configuration_label(overrides: list[str]) -> str:
    """What names a configuration: the overrides that name its runs, less the seed (runs are grouped over
    it); ``+experiment=`` shows as the bare experiment name."""
    parts = []
    for override in overrides:
        key, value = split_override(override)
        if key != "seed" and names_the_run(key):
            parts.append(value if key == "experiment" else f"{key}={value}")
    return ",".join(parts) or "default"


def configuration_labels(override_lists: list[list[str]]) -> list[str]:
    """The label of each of several runs, less the overrides all of them share: ``trainer.max_epochs=5``
    given to a whole sweep names none of its configurations (the experiment is always kept)."""
    if len(override_lists) < 2:
        return [configuration_label(overrides) for overrides in override_lists]
    shared = set.intersection(*(set(overrides) for overrides in override_lists))
    shared = {o for o in shared if split_override(o)[0] != "experiment"}
    return [configuration_label([o for o in overrides if o not in shared]) for overrides in override_lists]


def _seed(overrides: list[str], config: dict) -> int | str | None:
    """The run's seed: an integer, or as given when it is none (a job refused for ``seed=1.5``)."""
    for override in overrides:
        key, value = split_override(override)
        if key == "seed":
            return int(value) if value.strip().lstrip("-").isdigit() else value
    return config.get("seed")


def expected_jobs(sweep: Path) -> list[list[str]] | None:
    """The override lists of every job the sweep launched, in Hydra's job order; None when unknowable."""
    multirun = sweep / SweepFolder.PLAN
    if not multirun.is_file():
        return None
    try:
        return sweep_jobs(yaml.safe_load(multirun.read_text())["hydra"]["overrides"]["task"])
    except Exception:  # noqa: BLE001 -- a sweep we cannot expand still reports the jobs it has
        return None


def _read(path: Path, parse: Callable[[str], object], kind: type, unreadable: list[str]):
    """A job file's content (an empty ``kind`` when the file is absent); a file that is there but cannot be
    parsed (a disk filled up, a hand edit) is named in ``unreadable`` and read as empty, so that one folder
    never stops a report."""
    if not path.is_file():
        return kind()
    try:
        content = parse(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        content = None
    if content is None and path.stat().st_size == 0:
        return kind()
    if not isinstance(content, kind):
        unreadable.append(path.name)
        return kind()
    return content


def _history_of(content: dict, name: str, unreadable: list[str]) -> dict[str, list[float | None]]:
    """A history as the report reads it: each key a list of numbers (None for a diverged epoch's). Valid
    JSON of another shape is named in ``unreadable`` and read as empty, as an unparsable file is."""
    number = (int, float)
    if all(
        isinstance(values, list)
        and all(v is None or (isinstance(v, number) and not isinstance(v, bool)) for v in values)
        for values in content.values()
    ):
        return content
    unreadable.append(name)
    return {}


def collect_runs(sweep: Path) -> list[Run]:
    """Every job of the sweep: each folder it left (a job is its folder: two sweeps into one folder number
    their jobs alike), and each job of the last sweep's plan that left none (``missing``)."""
    found: list[tuple[Run, list[str]]] = []
    for folder in SweepFolder(sweep).jobs():
        path = folder.path
        unreadable: list[str] = []
        overrides = [str(o) for o in _read(folder.overrides_file, yaml.safe_load, list, unreadable)]
        config = _read(folder.file(RunFolder.CONFIG), yaml.safe_load, dict, unreadable)
        head = path.name.split("-", 1)[0]
        job = int(head) if head.isdigit() else None
        history = _history_of(
            _read(folder.file(RunFolder.HISTORY), json.loads, dict, unreadable), RunFolder.HISTORY, unreadable
        )
        metrics = _read(folder.file(RunFolder.METRICS), json.loads, dict, unreadable)
        status = RunFolder.status_of(metrics or None)
        lecture = config.get("lecture") if isinstance(config.get("lecture"), dict) else {}
        run = Run(path, job, "", _seed(overrides, config), status, history, metrics, lecture, unreadable)
        run.departures = departures(overrides)
        found.append((run, overrides))
    seen = {frozenset(overrides) for _, overrides in found}
    for job, overrides in enumerate(expected_jobs(sweep) or []):
        if frozenset(overrides) not in seen:
            missing = Run(sweep / f"{job}-?", job, "", _seed(overrides, {}), Status.MISSING)
            found.append((missing, overrides))
    ordered = sorted(
        found,
        key=lambda r: (r[0].job is None, r[0].job if r[0].job is not None else 0, str(r[0].folder)),
    )
    for (run, _), label in zip(ordered, configuration_labels([o for _, o in ordered]), strict=True):
        run.label = label
    return [run for run, _ in ordered]


# ------------------------------------------------------------------------------------------ summarizing


def run_measures(run: Run) -> dict[str, float]:
    """The lecture's measures of one finished run (NaN where a value is missing or not finite)."""
    val_acc, val_loss = run.series("val_accuracy"), run.series("val_loss")
    finite = np.isfinite(val_acc)
    best = int(np.nanargmax(val_acc)) if finite.any() else -1
    metric = run.metrics.get

    def number(value) -> float:
        return float(value) if isinstance(value, (int, float)) else math.nan

    epochs = number(metric("epochs"))
    return {
        "best_val_acc": float(val_acc[best]) if best >= 0 else math.nan,
        "best_epoch": float(best + 1) if best >= 0 else math.nan,
        "final_val_loss": float(val_loss[-1]) if len(val_loss) else math.nan,
        "final_val_acc": float(val_acc[-1]) if len(val_acc) else math.nan,
        "test_loss": number(metric("test/loss")),
        "test_acc": number(metric("test/acc")),
        "params": number(metric("params")),
        "s_per_epoch": number(metric("fit_seconds")) / epochs if epochs and epochs > 0 else math.nan,
    }


MEASURES = (
    "best_val_acc",
    "best_epoch",
    "final_val_loss",
    "final_val_acc",
    "test_loss",
    "test_acc",
    "params",
    "s_per_epoch",
)


def summarize(runs: list[Run]) -> dict[str, dict]:
    """Per configuration (in first-seen order): runs by status and mean/std of each measure over completed
    runs."""
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[run.label].append(run)
    table = {}
    for label, members in groups.items():
        done = [r for r in members if r.status is Status.COMPLETED]
        values = {m: np.array([run_measures(r)[m] for r in done], dtype=float) for m in MEASURES}
        table[label] = {
            "runs": members,
            "lecture": next((r.lecture for r in members if r.lecture), {}),
            "departures": sorted({o for r in members for o in r.departures}),
            "best_epochs": sorted(int(e) for e in values["best_epoch"] if math.isfinite(e)),
            "counts": {s: sum(r.status == s for r in members) for s in STATUSES},
            "mean": {
                m: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for m, v in values.items()
            },
            "std": {
                m: float(np.nanstd(v)) if np.isfinite(v).sum() > 1 else math.nan for m, v in values.items()
            },
        }
    # The lecture's order where runs have one (their experiment files say), then the others as they came.
    ranked = sorted(table, key=lambda label: table[label]["lecture"].get("order") or math.inf)
    return {label: table[label] for label in ranked}


def _fmt(mean: float, std: float, digits: int = 4) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if math.isfinite(std) else f"{mean:.{digits}f}"


def _epochs_cell(epochs: list[int]) -> str:
    """Best epochs are whole epochs: one, or the range over the seeds."""
    if not epochs:
        return "—"
    return str(epochs[0]) if epochs[0] == epochs[-1] else f"{epochs[0]}–{epochs[-1]}"


def _runs_cell(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    extra = [f"{n} {status}" for status, n in counts.items() if status is not Status.COMPLETED and n]
    return f"{counts[Status.COMPLETED]}/{total}" + (f" ({', '.join(extra)})" if extra else "")


def markdown_table(table: dict[str, dict], *, lecture: bool = False) -> str:
    header = [
        "configuration",
        "runs",
        "best val acc",
        "best epoch",
        "final val loss",
        "final val acc",
        "test loss",
        "test acc",
        "params",
        "s / epoch",
    ]
    if lecture:
        header += [
            "lecture (Keras, 1 run): best val acc (epoch), final val loss, final val acc, test",
            "ours − lecture",
        ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, row in table.items():
        mean, std = row["mean"], row["std"]
        cells = [
            f"`{label}`",
            _runs_cell(row["counts"]),
            _fmt(mean["best_val_acc"], std["best_val_acc"]),
            _epochs_cell(row["best_epochs"]),
            _fmt(mean["final_val_loss"], std["final_val_loss"]),
            _fmt(mean["final_val_acc"], std["final_val_acc"]),
            _fmt(mean["test_loss"], std["test_loss"]),
            _fmt(mean["test_acc"], std["test_acc"]),
            f"{mean['params']:,.0f}" if math.isfinite(mean["params"]) else "—",
            _fmt(mean["s_per_epoch"], math.nan, 3),
        ]
        if lecture:
            cells += _lecture_cells(row["lecture"].get("published") or {}, mean, row["departures"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _lecture_cells(ref: dict[str, float], mean: dict[str, float], departures: list[str]) -> list[str]:
    """The lecture's published figures, and ours less them: only for runs of the lecture's own settings."""
    if not ref:
        return ["", ""]

    def get(key: str, digits: int = 4) -> str:
        return f"{ref[key]:.{digits}f}" if key in ref else "—"

    test = f"[{get('test_loss')}, {get('test_acc')}]" if "test_acc" in ref else "—"
    best = get("best_val_acc") + (f" ({ref['best_epoch']})" if "best_epoch" in ref else "")
    shown = f"{best}, {get('final_val_loss')}, {get('final_val_acc')}, {test}"
    if departures:
        return [shown, f"not like for like ({', '.join(departures)})"]
    diffs = [
        f"{name} {mean[key] - ref[key]:+.4f}"
        for key, name in (
            ("best_val_acc", "best val acc"),
            ("final_val_loss", "val loss"),
            ("final_val_acc", "val acc"),
            ("test_acc", "test acc"),
        )
        if key in ref and math.isfinite(mean[key])
    ]
    return [shown, ", ".join(diffs)]


# ------------------------------------------------------------------------------------------ figures and files


def section_of(row: dict) -> str:
    """The figure a configuration's curves go in: its lecture section, or ``sweep`` for any other."""
    return row["lecture"].get("section") or "sweep"


def plot_curves(table: dict[str, dict], folder: Path) -> list[Path]:
    """One figure per section: validation loss and accuracy per epoch, mean ± std band over seeds."""
    by_section: dict[str, list[str]] = defaultdict(list)
    for label, row in table.items():
        by_section[section_of(row)].append(label)
    written = []
    for section, labels in by_section.items():
        histories = {
            label: [r.history for r in table[label]["runs"] if r.status is Status.COMPLETED and r.history]
            for label in labels
        }
        fig = compare_figure(histories, title=section)
        written.append(save_figure(fig, folder / f"curves_{section}.png", dpi=90))
    return written


def write_epochs_csv(runs: list[Run], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["configuration", "seed", "job", "status", "epoch", *HISTORY_KEYS])
        for run in runs:
            epochs = max((len(v) for v in run.history.values()), default=0)
            for e in range(epochs):
                values = [
                    run.history.get(k, [])[e] if e < len(run.history.get(k, [])) else "" for k in HISTORY_KEYS
                ]
                writer.writerow(
                    [
                        run.label,
                        run.seed,
                        run.folder.name,
                        run.status,
                        e + 1,
                        *("" if v is None else v for v in values),
                    ]
                )


def write_report(sweep: Path, *, lecture: bool = False, out: Path | None = None) -> Path:
    """Write ``report.md``, ``epochs.csv`` and the curve figures for ``sweep`` into ``out`` (default: the
    sweep)."""
    out = out or sweep
    runs = collect_runs(sweep)
    if not runs:
        raise ConfigError(f"no job folders (with .hydra/overrides.yaml) under {sweep}: not a sweep folder")
    out.mkdir(parents=True, exist_ok=True)
    table = summarize(runs)
    figures = plot_curves(table, out)
    write_epochs_csv(runs, out / "epochs.csv")
    problems = [r for r in runs if r.status is not Status.COMPLETED or r.unreadable]
    lines = [
        f"# Sweep report: {sweep.name}",
        "",
        f"{len(runs)} jobs, {len(table)} configurations; mean ± std over the completed runs of each (seeds "
        f"grouped).",
        "Best val acc is the highest validation accuracy of a run, best epoch where it happened; final "
        "values are",
        "after the last epoch; test is evaluated after fit. s / epoch is fit time (training + validation) "
        "per epoch.",
        "",
        markdown_table(table, lecture=lecture),
        "",
    ]
    if lecture:
        lines += [
            "The lecture's column holds its published Keras figures (one run each) for comparison; every "
            "other number was measured in this sweep. A configuration that changes the lecture's settings "
            "(epochs, learning rate, data, ...) is not compared: its difference cell names the changes.",
            "",
        ]
    if problems:
        lines += (
            ["## Runs without a result", ""]
            + [
                f"- `{r.folder.name}` ({r.label}{'' if r.seed is None else f', seed {r.seed}'}): {r.status}"
                + (f" ({r.metrics['error']})" if r.metrics.get("error") else "")
                + (f"; unreadable: {', '.join(r.unreadable)}" if r.unreadable else "")
                for r in problems
            ]
            + [""]
        )
    lines += (
        ["## Learning curves", ""]
        + [f"![{p.stem}]({p.name})" for p in figures]
        + ["", "Every epoch of every run: [epochs.csv](epochs.csv)", ""]
    )
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imdb_lightning.report", description="Summarize a multirun sweep folder."
    )
    parser.add_argument(
        "sweep", type=Path, help="the sweep folder (hydra.sweep.dir), e.g. logs/multirun/2026-11-25_18-00-00"
    )
    parser.add_argument(
        "--lecture", action="store_true", help="add the lecture's published Keras figures beside ours"
    )
    parser.add_argument("--out", type=Path, help="write the report here instead of into the sweep folder")
    args = parser.parse_args(argv)
    if not args.sweep.is_dir():
        print(f"error: {args.sweep} is not a folder", file=sys.stderr)
        return 2
    try:
        report = write_report(args.sweep, lecture=args.lecture, out=args.out)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(
            f"error: cannot write the report into {args.out or args.sweep}: {err.strerror}", file=sys.stderr
        )
        return 2
    print(report.read_text())
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
