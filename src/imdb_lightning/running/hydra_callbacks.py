"""Hydra callbacks: checks that must run before Hydra itself acts on the config (it makes the run folder
before our code runs, and would report a failure there as a traceback)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from imdb_lightning.running.folder import RunFolder
from imdb_lightning.running.study import storage_problem
from imdb_lightning.utils.atomic import unwritable
from imdb_lightning.utils.errors import EXIT_REFUSED, ConfigError


def _exit_unless_writable(folder: str, key: str) -> None:
    problem = unwritable(Path(folder))
    if problem:
        # SystemExit passes through Hydra's error reporting: one line and status 2, as for a bad config value.
        print(
            f"error: cannot write the run folder {folder} ({problem}); choose another with {key}=PATH, "
            "or IMDB_LIGHTNING_LOGS=PATH for the folder all runs go under",
            file=sys.stderr,
        )
        sys.exit(2)


def rank() -> int:
    """This process's rank as a launcher set it (Lightning's DDP processes after the first, SLURM tasks), as
    Lightning reads it; 0 for a lone process."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return 0


class CheckOutputFolder(Callback):
    """One line instead of a traceback when the run or sweep folder cannot be written (a read-only logs
    folder, ``hydra.run.dir`` naming a file); and a run claims its folder here, before Hydra writes its
    ``.hydra/`` and log into it, so that a folder holding another run is refused untouched (a DDP run's
    other processes share the folder its first one claimed)."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _exit_unless_writable(config.hydra.run.dir, "hydra.run.dir")
        folder, ckpt = RunFolder(config.hydra.run.dir), config.get("ckpt_path")
        # A run continuing its own folder is claimed by train(), which puts the folder back if refused.
        if rank() == 0 and not folder.continues(ckpt):
            try:
                folder.claim(resume_from=ckpt)
            except ConfigError as err:
                print(f"error: {err}", file=sys.stderr)
                sys.exit(EXIT_REFUSED)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        storage = config.hydra.sweeper.get("storage")
        problem = storage_problem(str(storage), log_dir=config.paths.log_dir) if storage else None
        if problem:  # Optuna's answer comes as two tracebacks, before any trial runs
            print(f"error: hydra.sweeper.storage={storage} cannot hold the study: {problem}", file=sys.stderr)
            sys.exit(EXIT_REFUSED)
        # Last: it makes the sweep folder, which a sweep refused above would leave behind empty.
        _exit_unless_writable(config.hydra.sweep.dir, "hydra.sweep.dir")
