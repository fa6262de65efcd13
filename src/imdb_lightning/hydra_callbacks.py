"""Hydra callbacks: checks that must run before Hydra itself acts on the config (it makes the run folder
before our code runs, and would report a failure there as a traceback)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot hold a run's files, or None: it is made (as Hydra would) and a file is
    written."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A name of its own: every DDP process checks the shared run folder at the same moment, and with one
        # name for all a process could delete another's probe before that one did.
        handle, probe = tempfile.mkstemp(prefix=".imdb_lightning_write_check", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        return err.strerror or type(err).__name__
    return None


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


class CheckOutputFolder(Callback):
    """One line instead of a traceback when the run or sweep folder cannot be written (a read-only logs
    folder, ``hydra.run.dir`` naming a file)."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _exit_unless_writable(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        _exit_unless_writable(config.hydra.sweep.dir, "hydra.sweep.dir")
