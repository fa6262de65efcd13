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
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from imdb_lightning.results.runs import STATUSES, Run, collect_runs
from imdb_lightning.running.folder import Status
from imdb_lightning.running.plots import HISTORY_KEYS, compare_figure, save_figure
from imdb_lightning.utils.errors import ConfigError

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


#: The report's measure columns, in order: each of :func:`run_measures`'s measures, its header, and how a
#: configuration's row shows it (from the row's means and stds over its completed runs).
COLUMNS: dict[str, tuple[str, Callable[[dict, str], str]]] = {
    "best_val_acc": ("best val acc", lambda row, m: _fmt(row["mean"][m], row["std"][m])),
    "best_epoch": ("best epoch", lambda row, m: _epochs_cell(row["best_epochs"])),
    "final_val_loss": ("final val loss", lambda row, m: _fmt(row["mean"][m], row["std"][m])),
    "final_val_acc": ("final val acc", lambda row, m: _fmt(row["mean"][m], row["std"][m])),
    "test_loss": ("test loss", lambda row, m: _fmt(row["mean"][m], row["std"][m])),
    "test_acc": ("test acc", lambda row, m: _fmt(row["mean"][m], row["std"][m])),
    "params": ("params", lambda row, m: f"{row['mean'][m]:,.0f}" if math.isfinite(row["mean"][m]) else "—"),
    "s_per_epoch": ("s / epoch", lambda row, m: _fmt(row["mean"][m], math.nan, 3)),
}
MEASURES = tuple(COLUMNS)


def markdown_table(table: dict[str, dict], *, lecture: bool = False) -> str:
    header = ["configuration", "runs", *(name for name, _ in COLUMNS.values())]
    if lecture:
        header += [
            "lecture (Keras, 1 run): best val acc (epoch), final val loss, final val acc, test",
            "ours − lecture",
        ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, row in table.items():
        cells = [f"`{label}`", _runs_cell(row["counts"])]
        cells += [cell(row, measure) for measure, (_, cell) in COLUMNS.items()]
        if lecture:
            cells += _lecture_cells(row["lecture"].get("published") or {}, row["mean"], row["departures"])
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
    """One figure per section: validation loss and accuracy per epoch, mean ± std band over seeds, with the
    training curves beside them (dashed), as the lecture draws them."""
    by_section: dict[str, list[str]] = defaultdict(list)
    for label, row in table.items():
        by_section[section_of(row)].append(label)
    written = []
    for section, labels in by_section.items():
        histories = {
            label: [r.history for r in table[label]["runs"] if r.status is Status.COMPLETED and r.history]
            for label in labels
        }
        fig = compare_figure(histories, title=section, training=True)
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
