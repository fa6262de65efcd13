"""The names Hydra's config gives runs through our resolvers: run and sweep folders, job folders, TensorBoard
roots and run names."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from imdb_lightning.config.overrides import command_line_overrides, run_title, short_numbers
from imdb_lightning.config.runtime import in_sweep
from imdb_lightning.running.folder import RunFolder
from imdb_lightning.running.study import study_seed


def tensorboard_root() -> str:
    """One TensorBoard root per sweep (all jobs side by side), or the run folder for a single run."""
    hydra = HydraConfig.get()
    return str(Path(hydra.sweep.dir if in_sweep() else hydra.runtime.output_dir) / RunFolder.TENSORBOARD)


def run_name() -> str:
    """A sweep job's TensorBoard run is named by its number and overrides; a single run needs no name."""
    if not in_sweep():
        return ""
    job = HydraConfig.get().job
    return job_name(job.num, job.override_dirname)


def title(seed: object) -> str:
    """The title of a run's figures: :func:`~imdb_lightning.config.overrides.run_title` of its command."""
    return run_title(command_line_overrides(), seed)


def job_name(number: int, overrides: str) -> str:
    """A sweep job's name: its number and its overrides (Hydra's ``override_dirname``) as a folder name."""
    return f"{number}-{folder_name(overrides)}" if overrides else str(number)


def folder_name(overrides: str, limit: int = 120) -> str:
    """A sweep job's overrides as one folder name: numbers to four significant digits (an Optuna trial's
    ``optimizer.lr=0.0012345678901`` as ``optimizer.lr=0.001235``; the job's number keeps names distinct), no
    ``/`` (a path value would nest folders), at most ``limit`` characters (a long one ends in a hash of the
    whole, so that names stay distinct)."""
    name = short_numbers(overrides)
    name = name.replace("/", "_").replace("\\", "_")
    if len(name) > limit:
        name = f"{name[: limit - 9]}-{hashlib.sha256(overrides.encode()).hexdigest()[:8]}"
    return name


def unique_folder(path: str) -> str:
    """``path``, or ``path-2``, ``path-3``, ...: the first that does not exist yet, made now. ``mkdir`` is
    atomic, so two runs started in the same second never share a folder."""
    base, n = Path(path), 1
    while True:
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir(parents=True)
            return str(candidate)
        except FileExistsError:
            n += 1
        except OSError:
            return str(candidate)  # unwritable: the output-folder check says so in one line


def register_resolvers() -> None:
    """The resolvers the app's config names (``${imdb_unique_folder:...}`` and the rest)."""
    for name, fn in (
        ("imdb_tensorboard_root", tensorboard_root),
        ("imdb_run_name", run_name),
        ("imdb_run_title", title),
        ("imdb_study_seed", study_seed),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    # Cached: Hydra reads its run folder more than once, and each read must give the same folder.
    for name, fn in (("imdb_unique_folder", unique_folder), ("imdb_folder_name", folder_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=True)
