"""The few lines a sweep ends with: its jobs by status, its best configuration by validation accuracy, its
folder and the command that reports it. Printed at the end of ``python -m imdb_lightning -m ...`` (a Hydra
callback: ``hydra/default.yaml`` names it) and of the notebook API's ``sweep``."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def sweep_summary(sweep: Path) -> str:
    """What a sweep folder holds, in three lines (two when no run completed)."""
    # Here, not above: Hydra makes the callback for every run, and a single run never needs the report's.
    from imdb_lightning.config.overrides import short_numbers
    from imdb_lightning.results.report import summarize
    from imdb_lightning.results.runs import STATUSES, collect_runs
    from imdb_lightning.running.folder import Status

    runs = collect_runs(sweep)
    counts = {status: sum(run.status is status for run in runs) for status in STATUSES}
    by_status = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    lines = [f"sweep of {len(runs)} job{'s' * (len(runs) != 1)}: {by_status or 'none ran'} ({sweep})"]
    table = summarize(runs)
    scored = {label: row for label, row in table.items() if math.isfinite(row["mean"]["best_val_acc"])}
    if scored:
        label, row = max(scored.items(), key=lambda item: item[1]["mean"]["best_val_acc"])
        completed = row["counts"][Status.COMPLETED]
        spread = row["std"]["best_val_acc"]
        value = f"{row['mean']['best_val_acc']:.4f}" + (f" ± {spread:.4f}" if math.isfinite(spread) else "")
        over = f"mean of {completed} runs" if completed > 1 else "one run"
        lines.append(f"best by validation accuracy: {value} ({over}), {short_numbers(label)}")
    lines.append(f"report: python -m imdb_lightning.report {shlex.quote(str(sweep))}")
    return "\n".join(lines)


class SummarizeSweep(Callback):
    """Prints :func:`sweep_summary` when a ``-m`` sweep ends, after its last job, in the launching process."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        folder = Path(str(config.hydra.sweep.dir))
        if folder.is_dir():
            print(sweep_summary(folder), flush=True)
