"""``python -m imdb_lightning [overrides]``: one lecture experiment (``+experiment=NAME``) or a sweep
(``-m``)."""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import sys

import hydra
from omegaconf import DictConfig

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.config.hints import override_hint, sweep_only
from imdb_lightning.config.rules import check_values
from imdb_lightning.config.runtime import in_sweep, sweep_job_number
from imdb_lightning.running.folder import RunFolder, Status
from imdb_lightning.running.hydra_callbacks import rank
from imdb_lightning.running.naming import register_resolvers
from imdb_lightning.utils.errors import ConfigError, DataError, exit_on_interrupt, in_one_line, sweep_goes_on
from imdb_lightning.utils.private import expose_hydra_plugins
from imdb_lightning.utils.terminal import interactive

log = logging.getLogger("imdb_lightning")


# An absolute config path: works the same from a source checkout, an installed wheel and any folder.
@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def _app(cfg: DictConfig) -> float:
    # What the config alone can judge is answered before PyTorch and Lightning load (seconds), and recorded
    # in the run folder as train() records a refusal.
    try:
        check_values(cfg)
    except ConfigError as err:
        if rank() == 0:
            folder = RunFolder(cfg.paths.output_dir)
            folder.record_error(err, folder.claim(resume_from=cfg.get("ckpt_path")))
        return _refused(cfg, err)
    # Imported here: --help, --cfg and what Hydra refuses need none of PyTorch or Lightning (seconds).
    from imdb_lightning.running.train import train

    try:
        metrics = train(cfg)
    except (ConfigError, DataError) as err:
        return _refused(cfg, err)
    except Exception as err:
        log_file = _log_file()
        if log_file is None or (os.environ.get("HYDRA_FULL_ERROR") == "1" and not in_sweep()):
            raise  # Hydra prints the traceback, as any Hydra app's
        # The console gets one line, the run's log file the traceback (terminal.ConsoleFormatter reads
        # `traceback_in`); the job's metrics.json says it failed. In a sweep the other jobs go on (Hydra's
        # launcher would stop the sweep here).
        where = {"exc_info": True, "extra": {"traceback_in": log_file}}
        if in_sweep() and sweep_goes_on(err, sweep_job_number()):
            log.error("this sweep job failed; the sweep goes on: %s", in_one_line(err), **where)
            return cfg.optimized_worst
        log.error("the run failed: %s", in_one_line(err), **where)
        sys.exit(1)
    return objective(metrics, cfg.optimized_metric, cfg.optimized_worst)


def _refused(cfg: DictConfig, err: ConfigError | DataError) -> float:
    """A run refused for its config or data: one line and exit status 2, or in a sweep whose other jobs go
    on, the sweeper's worst score (the job's folder says it failed)."""
    if in_sweep() and sweep_goes_on(err, sweep_job_number()):
        log.error("this sweep job was refused; the sweep goes on: %s", err)
        return cfg.optimized_worst
    log.error("error: %s", err)
    sys.exit(2)


def _log_file() -> str | None:
    """The file Hydra's job logging writes this run's log to, if any."""
    handlers = logging.getLogger().handlers
    return next((h.baseFilename for h in handlers if isinstance(h, logging.FileHandler)), None)


def objective(metrics: dict, name: str, worst: float) -> float:
    """What a sweeper optimizes: the metric, or a finite worst score for a diverged or metric-less run
    (an Optuna study stops at the first NaN it is given)."""
    value = metrics.get(name)
    diverged = RunFolder.status_of(metrics) is Status.DIVERGED
    if diverged or not isinstance(value, (int, float)) or not math.isfinite(value):
        return worst
    return float(value)


#: Sweep plugins users name on the command line, the module providing each, and the extra installing it.
PLUGINS = {
    "hydra/launcher=joblib": "hydra_plugins.hydra_joblib_launcher",
    "hydra/launcher=submitit": "hydra_plugins.hydra_submitit_launcher",
    "hydra/launcher=slurm": "hydra_plugins.hydra_submitit_launcher",
    "hparams_search=optuna": "hydra_plugins.hydra_optuna_sweeper",
}


def missing_plugin(argv: list[str]) -> str | None:
    """The install hint for a sweep plugin the command line asks for but this environment lacks."""
    for arg in argv:
        for prefix, module in PLUGINS.items():
            if arg.lstrip("+").startswith(prefix) and not _importable(module):
                return (
                    f"`{arg}` needs a Hydra plugin that is not installed: pip install 'imdb-lightning[sweep]'"
                )
    return None


#: Hydra's modes, of which a command gives one (Hydra answers two with a traceback).
MODES = (
    ("-r", "--run"),
    ("-m", "--multirun"),
    ("-c", "--cfg"),
    ("-i", "--info"),
    ("-sc", "--shell-completion"),
)


def _flags(argv: list[str]) -> set[str]:
    """The command's flags, ``--cfg=job`` read as ``--cfg``."""
    return {arg.split("=", 1)[0] for arg in argv if arg.startswith("-")}


def modes_hint(argv: list[str]) -> str | None:
    """What to drop when the command gives two of Hydra's modes (``-m --cfg job``), or None."""
    flags = _flags(argv)
    given = [next(flag for flag in mode if flag in flags) for mode in MODES if set(mode) & flags]
    if len(given) < 2:
        return None
    return f"{' and '.join(given)} are two of Hydra's modes, which runs one at a time: keep one of them"


def search_without_sweep(argv: list[str]) -> str | None:
    """What to add when the command chooses an Optuna search or a launcher without ``-m`` (Hydra would run
    one default job and ignore the choice), or None."""
    # A sweep, or a command that only shows the config or help, runs no job.
    shows = {"-m", "--multirun", "-c", "--cfg", "-i", "--info", "-h", "--help", "--hydra-help"}
    override = None if shows & _flags(argv) else sweep_only(argv)
    return (
        f"{override} acts on a sweep only: add -m (python -m imdb_lightning -m {override} ...)"
        if override
        else None
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@exit_on_interrupt()
def main() -> None:
    argv = sys.argv[1:]
    hint = modes_hint(argv) or missing_plugin(argv) or override_hint(argv) or search_without_sweep(argv)
    if hint:
        print(f"error: {hint}", file=sys.stderr)
        sys.exit(2)
    if not interactive():  # Optuna's colorlog lines would carry escape codes into logs and files
        os.environ.setdefault("NO_COLOR", "1")
    register_resolvers()
    expose_hydra_plugins()
    _app()


if __name__ == "__main__":
    main()
