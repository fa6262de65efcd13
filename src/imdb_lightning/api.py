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

import contextlib
import copy
import io
import json
import logging
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.config.hints import null_group_hint, sweep_only, unchosen_group_hint
from imdb_lightning.config.overrides import split_override, sweep_jobs
from imdb_lightning.running.folder import RunFolder, SweepFolder
from imdb_lightning.running.naming import job_name, register_resolvers
from imdb_lightning.running.plots import compare_figure, history_figure
from imdb_lightning.utils.atomic import unwritable
from imdb_lightning.utils.errors import ConfigError, DataError
from imdb_lightning.utils.private import hydra_runtime

if TYPE_CHECKING:
    import lightning as L
    from matplotlib.figure import Figure

#: The format of the run's log file, as Hydra writes it for a command-line run.
FILE_LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


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
        from imdb_lightning.results.report import configuration_label

        return configuration_label(self.overrides)

    @property
    def status(self) -> str:
        return RunFolder.status_of(self.metrics).value

    def plot(self, metrics: Sequence[str] = ("loss", "accuracy")) -> Figure | None:
        """Training and validation curves, one panel per metric, as the lecture draws them."""
        return history_figure(self.history, metrics)

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
    return _run_composed(cfg, run_dir=None, quiet=quiet)


def sweep(*overrides: str, quiet: bool = False) -> Sweep:
    """Run every job of a sweep written as for ``python -m imdb_lightning -m`` (``"seed=0,1,2"``,
    ``"+experiment=baseline,dropout"``, ``"+experiment=glob(init_*)"``), one after another in this process,
    into one sweep folder that :func:`load_sweep` and ``python -m imdb_lightning.report`` read. A job that
    fails, or a job after the first refused for its own values, is recorded (``status: failed``) and the
    others go on; a refused first job stops the sweep (what the jobs share would stop every one)."""
    jobs = sweep_jobs(checked_overrides(overrides))
    base = compose_config(jobs[0] if jobs else [])
    with hydra_runtime(base):
        folder = Path(str(base.hydra.sweep.dir)).absolute()
    _check_writable(folder, "hydra.sweep.dir")
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
            results.append(_run_composed(cfg, run_dir=folder / name, quiet=quiet))
        except (ConfigError, DataError) as err:  # as the command line
            if isinstance(err, ConfigError) and number > 0:
                logging.getLogger("imdb_lightning").error("sweep job %d was refused: %s", number, err)
                continue
            if not results:
                raise
            done = f"the {len(results)} job(s) before it are in {folder}, for load_sweep"
            raise type(err)(f"{err} (sweep job {number + 1} of {len(jobs)}; {done})") from None
        except Exception as err:  # noqa: BLE001 -- recorded in the job's metrics.json by train(); go on
            logging.getLogger("imdb_lightning").error("sweep job %d failed: %s", number, err)
    return Sweep(results, folder)


def experiments(section: str | None = None) -> list[str]:
    """The lecture's experiments (``+experiment=NAME``), in the lecture's order; those of one ``section``
    (``regularization``, ``initialization``, ``optimizers``) when given. Read from the experiment files."""
    import yaml

    found, sections = [], set()
    for path in (CONFIG_DIR / "experiment").glob("*.yaml"):
        lecture = (yaml.safe_load(path.read_text()) or {}).get("lecture") or {}
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
    from imdb_lightning.results.report import collect_runs, run_measures

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
        from imdb_lightning.results.report import configuration_labels

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
    hint = null_group_hint(overrides) or unchosen_group_hint(overrides)
    if hint:
        raise ConfigError(hint)
    chosen = sweep_only(overrides)
    if chosen:  # imdb_lightning.sweep runs its jobs one after another here, with no sweeper or launcher
        raise ConfigError(f"{chosen} runs from the command line: python -m imdb_lightning -m {chosen} ...")
    return overrides


def _run_composed(cfg: DictConfig, run_dir: Path | None, quiet: bool) -> Result:
    from imdb_lightning.running.train import train_model

    with hydra_runtime(cfg), read_write(cfg.hydra), open_dict(cfg.hydra):  # the run folder's name reads it
        if run_dir is not None:
            cfg.hydra.run.dir = str(run_dir)
        output = Path(str(cfg.hydra.run.dir)).absolute()
        _check_writable(output, "hydra.run.dir")
        cfg.hydra.runtime.output_dir = str(output)
    with hydra_runtime(cfg):
        folder = RunFolder(output)
        # Claimed before anything is written into it, as on the command line.
        folder.claim(resume_from=cfg.get("ckpt_path"))
        task = copy.deepcopy(cfg)
        with read_write(task), open_dict(task):
            del task["hydra"]
        overrides = list(cfg.hydra.overrides.task)
        # What Hydra leaves in a run folder: the report reads a job's overrides from it.
        saved = output / RunFolder.HYDRA
        saved.mkdir(parents=True, exist_ok=True)
        for name, node in (("config", task), ("hydra", cfg.hydra), ("overrides", cfg.hydra.overrides.task)):
            (saved / f"{name}.yaml").write_text(OmegaConf.to_yaml(node))
        with _logs_to(output, quiet):
            trained = train_model(task)
    history_file = folder.file(RunFolder.HISTORY)
    history = json.loads(history_file.read_text()) if history_file.is_file() else {}
    return Result(output, overrides, task, trained.metrics, history, trained.model)


def _check_writable(folder: Path, key: str) -> None:
    problem = unwritable(folder)
    if problem:
        raise ConfigError(f"cannot write the run folder {folder} ({problem}); choose another with {key}=PATH")


@contextmanager
def _logs_to(run_dir: Path, quiet: bool) -> Iterator[None]:
    """For one run: the package's log lines to the cell and to the run's log file. ``quiet``: to the file
    only, with what the run prints (its test line, its folder) and Lightning's notes below warnings."""
    logger = logging.getLogger("imdb_lightning")
    to_file = logging.FileHandler(run_dir / RunFolder.LOG)
    to_file.setFormatter(logging.Formatter(FILE_LOG_FORMAT))
    handlers: list[logging.Handler] = [to_file]
    if not quiet:
        to_cell = logging.StreamHandler(sys.stdout)
        to_cell.setFormatter(logging.Formatter("%(message)s"))
        handlers.append(to_cell)
    lightning = logging.getLogger("lightning.pytorch")
    saved = logger.level, logger.propagate, lightning.level
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a notebook that configured logging itself would show every line twice
    if quiet:
        lightning.setLevel(logging.WARNING)
    for handler in handlers:
        logger.addHandler(handler)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed) if quiet else contextlib.nullcontext():
            yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        lightning.setLevel(saved[2])
        if printed.getvalue():
            with open(run_dir / RunFolder.LOG, "a") as log_file:
                log_file.write(printed.getvalue())
