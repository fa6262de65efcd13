"""Hydra callbacks: checks that must run before Hydra itself acts on the config (it makes the run folder
before our code runs, and would report a failure there as a traceback)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from imdb_lightning.running.folder import RunFolder
from imdb_lightning.utils.atomic import unwritable
from imdb_lightning.utils.errors import EXIT_REFUSED, ConfigError, first_line


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


def _rank() -> int:
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
        if _rank() == 0 and not folder.continues(ckpt):
            try:
                folder.claim(resume_from=ckpt)
            except ConfigError as err:
                print(f"error: {err}", file=sys.stderr)
                sys.exit(EXIT_REFUSED)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        _exit_unless_writable(config.hydra.sweep.dir, "hydra.sweep.dir")
        storage = config.hydra.sweeper.get("storage")
        problem = storage_problem(str(storage)) if storage else None
        if problem:  # Optuna's answer comes as two tracebacks, before any trial runs
            print(f"error: hydra.sweeper.storage={storage} cannot hold the study: {problem}", file=sys.stderr)
            sys.exit(EXIT_REFUSED)


#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


def storage_problem(url: str) -> str | None:
    """Why an Optuna storage URL cannot hold a study, or None: it is no database URL, or an SQLite file
    whose folder is missing or which is another kind of file."""
    from sqlalchemy.engine import make_url  # the sweep extra's; only sweeps with a storage get here

    try:
        parsed = make_url(url)
    except Exception as err:  # noqa: BLE001 -- SQLAlchemy's ArgumentError, ValueError, ...
        return f"it is not a database URL ({first_line(err)}); e.g. sqlite:///optuna.db"
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).absolute()
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    if path.is_dir():
        return f"{path} is a folder"
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            if f.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                return f"{path} is not an SQLite database"
    return None
