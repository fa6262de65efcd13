"""The lecture from Python, one cell a run, as it is taught in a notebook::

    import imdb_lightning as il

    baseline = il.run("+experiment=baseline")
    dropout = il.run("+experiment=dropout", "trainer.max_epochs=10")
    baseline.history["val_accuracy"]            # Keras's History.history
    baseline.plot()                             # the lecture's two figures
    il.plot_histories([baseline, dropout])      # side by side
    grid = il.sweep("+experiment=baseline,dropout", "seed=0,1")
    il.load_sweep(grid.folder)                  # one row per run (a pandas DataFrame when pandas is there)

The same code path as ``python -m imdb_lightning``: Hydra composes the same config from the same overrides,
the same checks raise the same one-line errors (:class:`~imdb_lightning.utils.errors.ConfigError`,
:class:`~imdb_lightning.utils.errors.DataError`), and each run leaves the same folder. Nothing reads
``sys.argv`` or calls ``sys.exit``; epoch lines go to the cell, one an epoch, and to
``<run>/imdb_lightning.log``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.config.hints import override_hint, sweep_only
from imdb_lightning.config.overrides import (
    configuration_label,
    configuration_labels,
    run_title,
    split_override,
    sweep_jobs,
)
from imdb_lightning.running.folder import RunFolder, SweepFolder
from imdb_lightning.running.naming import job_name, register_resolvers
from imdb_lightning.running.plots import compare_figure, history_figure
from imdb_lightning.utils import safe_yaml
from imdb_lightning.utils.errors import ConfigError, sweep_goes_on
from imdb_lightning.utils.private import hydra_runtime

if TYPE_CHECKING:
    import lightning as L
    from matplotlib.figure import Figure


@dataclass
class Result:
    """One finished run: what ``model.fit`` and ``model.evaluate`` give in the lecture, and where it lies."""

    run_dir: Path
    overrides: list[str]
    config: DictConfig
    metrics: dict[str, Any]
    history: dict[str, list[float | None]]
    model: L.LightningModule | None = field(repr=False, default=None)

    @property
    def label(self) -> str:
        """What tells this run's configuration apart (its overrides less the seed): ``dropout``,
        ``baseline,optimizer.lr=0.01``."""
        return configuration_label(self.overrides)

    @property
    def status(self) -> str:
        return RunFolder.status_of(self.metrics).value

    def plot(self, metrics: Sequence[str] = ("loss", "accuracy")) -> Figure | None:
        """Training and validation curves, one panel per metric, as the lecture draws them."""
        return history_figure(self.history, metrics, title=run_title(self.overrides, self.config.get("seed")))

    def __repr__(self) -> str:
        parts = [self.label, self.status]
        val = [v for v in self.history.get("val_accuracy", []) if v is not None]
        if val:
            best = max(range(len(val)), key=val.__getitem__)
            parts.append(f"best val acc {val[best]:.4f} at epoch {best + 1}")
        if isinstance(self.metrics.get("test/acc"), float):
            parts.append(f"test acc {self.metrics['test/acc']:.4f}")
        return f"Result({', '.join(parts)}; {self.run_dir})"


class Sweep(list):
    """The results of :func:`sweep`, in job order; ``folder`` is the sweep folder (job folders inside)."""

    def __init__(self, results: Iterable[Result], folder: Path) -> None:
        super().__init__(results)
        self.folder = folder

    def table(self):
        return load_sweep(self.folder)


def run(*overrides: str, quiet: bool = False) -> Result:
    """Train, validate and test one configuration given as command-line overrides
    (``"+experiment=dropout"``, ``"trainer.max_epochs=10"``); return its :class:`Result`.

    Epoch lines are printed (``quiet=True``: only the log file gets them); Lightning's progress bar is off
    unless an override turns it on. Ctrl-C (interrupting the kernel) stops the run with its history, plots
    and checkpoint kept, and raises ``KeyboardInterrupt``.
    """
    cfg = compose_config(overrides)
    return _run(cfg, run_dir=None, quiet=quiet)


def sweep(*overrides: str, quiet: bool = False) -> Sweep:
    """Run every job of a sweep written as for ``python -m imdb_lightning -m`` (``"seed=0,1,2"``,
    ``"+experiment=baseline,dropout"``, ``"+experiment=glob(init_*)"``), one after another in this process,
    into one sweep folder that :func:`load_sweep` and ``python -m imdb_lightning.report`` read. A job that
    fails, or a job after the first refused for its own values, is recorded (``status: failed``) and the
    others go on; a refused first job stops the sweep (what the jobs share would stop every one). It ends with
    the sweep's summary (jobs by status, the best configuration, the report command), ``quiet`` or not."""
    jobs = sweep_jobs(checked_overrides(overrides))
    base = compose_config(jobs[0] if jobs else [])
    with hydra_runtime(base):
        folder = Path(str(base.hydra.sweep.dir)).absolute()
    from imdb_lightning.running.in_process import check_writable

    check_writable(folder, "hydra.sweep.dir")
    # The sweep as Hydra records it: the report expands it again to list jobs that left no folder.
    OmegaConf.save(
        OmegaConf.create({"hydra": {"overrides": {"task": list(overrides)}}}), folder / SweepFolder.PLAN
    )
    results = []
    for number, job in enumerate(jobs):
        cfg = compose_config(job)
        # Named as a -m sweep names its job folders (Hydra leaves out the incidental keys, such as data_dir).
        name = job_name(number, str(cfg.hydra.job.override_dirname))
        with read_write(cfg.paths), open_dict(cfg.paths):
            cfg.paths.tensorboard_dir = str(folder / SweepFolder.TENSORBOARD)  # one root, as a -m sweep
            cfg.paths.run_name = name
        if not quiet:
            print(f"[sweep job {number + 1}/{len(jobs)}] {' '.join(job)}")
        try:
            results.append(_run(cfg, run_dir=folder / name, quiet=quiet))
        except Exception as err:
            # As on the command line; train() has recorded it in the job's metrics.json.
            if sweep_goes_on(err, number):
                how = "refused" if isinstance(err, ConfigError) else "failed"
                logging.getLogger("imdb_lightning").error("sweep job %d was %s: %s", number, how, err)
                continue
            if not results:
                raise
            done = f"the {len(results)} job(s) before it are in {folder}, for load_sweep"
            raise type(err)(f"{err} (sweep job {number + 1} of {len(jobs)}; {done})") from None
    from imdb_lightning.results.summary import sweep_summary

    print(sweep_summary(folder))  # the sweep's outcome, not its progress: shown when quiet too
    return Sweep(results, folder)


def experiments(section: str | None = None) -> list[str]:
    """The lecture's experiments (``+experiment=NAME``), in the lecture's order; those of one ``section``
    (``regularization``, ``initialization``, ``optimizers``) when given. Read from the experiment files."""
    found, sections = [], set()
    for path in (CONFIG_DIR / "experiment").glob("*.yaml"):
        lecture = (safe_yaml.parse(path.read_text()) or {}).get("lecture") or {}
        sections.add(lecture.get("section"))
        if section is None or lecture.get("section") == section:
            found.append((lecture.get("order") or math.inf, path.stem))
    if section is not None and section not in sections:
        known = ", ".join(sorted(s for s in sections if s))
        raise ConfigError(f"the lecture has no section {section!r}: it has {known}")
    return [name for _, name in sorted(found)]


def load_sweep(path: str | Path):
    """One row per job of a sweep folder (a ``-m`` run's or :func:`sweep`'s): its configuration, seed,
    status and the lecture's measures. A pandas ``DataFrame`` when pandas is installed, else a list of
    dicts."""
    from imdb_lightning.results.report import run_measures
    from imdb_lightning.results.runs import collect_runs

    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a sweep folder")
    runs = collect_runs(folder)
    if not runs:
        raise ConfigError(
            f"{folder} holds no sweep jobs (folders with .hydra/overrides.yaml): not a sweep folder"
        )
    rows = []
    for r in runs:
        measures = run_measures(r)
        best = measures.pop("best_epoch")
        rows.append(
            {
                "job": r.job,
                "configuration": r.label,
                "seed": r.seed,
                "status": r.status.value,
                **measures,
                "best_epoch": None if math.isnan(best) else int(best),
                "folder": str(r.folder),
            }
        )
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)


def plot_histories(
    runs: Iterable[Result] | Mapping[str, Result | Iterable[Result] | Mapping],
    keys: Sequence[str] = ("val_loss", "val_accuracy"),
    title: str = "",
) -> Figure:
    """Several runs in one figure, one panel per history key: results of one configuration (seeds) are drawn
    as their mean with a ±1 std band. ``runs``: results (grouped and named by what tells them apart), or
    ``{label: result(s) or history dict}``."""
    groups: dict[str, list[Mapping]] = {}
    if isinstance(runs, Mapping):
        for label, value in runs.items():
            members = [value] if isinstance(value, (Result, Mapping)) else list(_iterable(value))
            groups[label] = [m.history if isinstance(m, Result) else _history(m) for m in members]
    else:
        runs = [r if isinstance(r, Result) else _not_plottable(r) for r in _iterable(runs)]
        for label, result in zip(configuration_labels([r.overrides for r in runs]), runs, strict=True):
            groups.setdefault(label, []).append(result.history)
    if not any(history.get(keys[0]) for members in groups.values() for history in members):
        raise ValueError(f"nothing to plot: no run given has a {keys[0]} history")
    return compare_figure(groups, keys, title)


# --------------------------------------------------------------------------------------------- internals


_PLOTTABLE = "results of run() or sweep(), or {label: result(s) or history dict}"


def _not_plottable(value: object):
    shown = f"{type(value).__name__} {value!r}"[:80]
    raise TypeError(f"plot_histories takes {_PLOTTABLE}; got {shown}")


def _iterable(value: object) -> Iterable:
    return value if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Path)) else [value]


def _history(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else _not_plottable(value)


def compose_config(overrides: Iterable[str]) -> DictConfig:
    """The config ``python -m imdb_lightning OVERRIDES`` runs with, Hydra's own part included."""
    overrides = checked_overrides(overrides)
    register_resolvers()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="imdb_lightning"):
            cfg = compose("train", overrides=overrides, return_hydra_config=True)
    except HydraException as err:
        hint = " (imdb_lightning.sweep runs one job per value)" if "Ambiguous value" in str(err) else ""
        raise ConfigError(f"{str(err).strip()}{hint}") from None
    if not any(split_override(o)[0] == "trainer.enable_progress_bar" for o in overrides):
        with read_write(cfg.trainer):
            cfg.trainer.enable_progress_bar = False  # a cell shows the epoch lines instead
    return cfg


def checked_overrides(overrides: Iterable[object]) -> list[str]:
    """The overrides as given to the command line, each a ``key=value`` string; the command line's flags
    (``-m``, ``--help``) have no meaning here."""
    overrides = list(overrides)
    for override in overrides:
        if not isinstance(override, str):
            raise ConfigError(f"overrides are strings such as 'seed=1', got {override!r}")
        if override.startswith("-"):
            raise ConfigError(
                f"{override} is a command-line flag: here, give overrides only (imdb_lightning.sweep runs a "
                "sweep, help(imdb_lightning) says the rest)"
            )
    hint = override_hint(overrides)
    if hint:
        raise ConfigError(hint)
    chosen = sweep_only(overrides)
    if chosen:  # imdb_lightning.sweep runs its jobs one after another here, with no sweeper or launcher
        raise ConfigError(f"{chosen} runs from the command line: python -m imdb_lightning -m {chosen} ...")
    return overrides


def _run(cfg: DictConfig, run_dir: Path | None, quiet: bool) -> Result:
    from imdb_lightning.running.in_process import run_in_process

    folder, task, trained = run_in_process(cfg, run_dir, quiet)
    history_file = folder.file(RunFolder.HISTORY)
    history = json.loads(history_file.read_text()) if history_file.is_file() else {}
    return Result(folder.path, list(cfg.hydra.overrides.task), task, trained.metrics, history, trained.model)
