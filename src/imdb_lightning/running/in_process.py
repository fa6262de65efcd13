"""A run started from Python (the notebook API) as ``python -m imdb_lightning`` runs it: Hydra's view of the
run, its folder claimed and recorded as Hydra records a job, and its log lines where Hydra's job logging puts
them."""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from imdb_lightning.running.folder import RunFolder
from imdb_lightning.running.train import Trained, train_model
from imdb_lightning.utils.atomic import unwritable
from imdb_lightning.utils.errors import ConfigError
from imdb_lightning.utils.private import hydra_runtime


def run_in_process(
    cfg: DictConfig, run_dir: Path | None, quiet: bool
) -> tuple[RunFolder, DictConfig, Trained]:
    """Run a config composed with Hydra's own node (``return_hydra_config=True``) as ``python -m
    imdb_lightning`` runs it: in ``run_dir`` (else the config's ``hydra.run.dir``), claimed first, with
    Hydra's record of the job in ``.hydra/``, the package's log lines in the run's log file (and on standard
    output unless ``quiet``). Returns the folder, the run's config (without Hydra's node) and what it trained.
    """
    with hydra_runtime(cfg), read_write(cfg.hydra), open_dict(cfg.hydra):  # the run folder's name reads it
        if run_dir is not None:
            cfg.hydra.run.dir = str(run_dir)
        output = Path(str(cfg.hydra.run.dir)).absolute()
        check_writable(output, "hydra.run.dir")
        cfg.hydra.runtime.output_dir = str(output)
    with hydra_runtime(cfg):
        folder = RunFolder(output)
        # Claimed before anything is written into it, as on the command line.
        folder.claim(resume_from=cfg.get("ckpt_path"))
        task = copy.deepcopy(cfg)
        with read_write(task), open_dict(task):
            del task["hydra"]
        # What Hydra leaves in a run folder: the report reads a job's overrides from it.
        saved = output / RunFolder.HYDRA
        saved.mkdir(parents=True, exist_ok=True)
        for name, node in (("config", task), ("hydra", cfg.hydra), ("overrides", cfg.hydra.overrides.task)):
            (saved / f"{name}.yaml").write_text(OmegaConf.to_yaml(node))
        with logs_to(output / RunFolder.LOG, _file_format(cfg), quiet):
            trained = train_model(task)
        # Resolved while Hydra's view is this run's: read later, ${hydra:...} and our resolvers read none.
        OmegaConf.resolve(task)
    return folder, task, trained


def check_writable(folder: Path, key: str) -> None:
    problem = unwritable(folder)
    if problem:
        raise ConfigError(f"cannot write the run folder {folder} ({problem}); choose another with {key}=PATH")


@contextmanager
def logs_to(log_file: Path, file_format: str, quiet: bool) -> Iterator[None]:
    """For one run: the package's log lines to standard output (a notebook's cell) and to the run's log file.
    ``quiet``: to the file only, with what the run prints (its test line, its folder) and Lightning's notes
    below warnings."""
    logger = logging.getLogger("imdb_lightning")
    to_file = logging.FileHandler(log_file)
    to_file.setFormatter(logging.Formatter(file_format))
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
            with open(log_file, "a") as log:
                log.write(printed.getvalue())


def _file_format(cfg: DictConfig) -> str:
    """The format of the run's log file, as Hydra's job logging (``hydra.job_logging``) gives it."""
    logging_config = cfg.hydra.job_logging
    return str(logging_config.formatters[logging_config.handlers.file.formatter].format)
