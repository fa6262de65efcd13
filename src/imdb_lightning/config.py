"""Config checks and resolvers: a bad value gets one clear line naming its key before any training starts."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from imdb_lightning.errors import ConfigError
from imdb_lightning.initializers import INITIALIZERS
from imdb_lightning.model import ACTIVATIONS

CONFIG_DIR = Path(__file__).parent / "conf"


def _multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def tensorboard_root() -> str:
    """One TensorBoard root per sweep (all jobs side by side), or the run folder for a single run."""
    hydra = HydraConfig.get()
    return str(Path(hydra.sweep.dir if _multirun() else hydra.runtime.output_dir) / "tensorboard")


def run_name() -> str:
    """A sweep job's TensorBoard run is named by its number and overrides; a single run needs no name."""
    if not _multirun():
        return ""
    job = HydraConfig.get().job
    return f"{job.num}-{job.override_dirname}" if job.override_dirname else str(job.num)


def register_resolvers() -> None:
    for name, fn in (("imdb_tensorboard_root", tensorboard_root), ("imdb_run_name", run_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def torch_threads(configured: int | None, parallel_jobs: int | None, cores: int) -> int:
    """Threads for one run: as configured, else the cores shared out among jobs running side by side."""
    if configured:
        return int(configured)
    if not parallel_jobs or parallel_jobs < 0:  # joblib's -1: one job per core
        parallel_jobs = cores if parallel_jobs and parallel_jobs < 0 else 1
    return max(1, cores // parallel_jobs)


def parallel_jobs() -> int | None:
    """How many sweep jobs run at once on this machine (the joblib launcher's n_jobs), if known."""
    if not _multirun():
        return None
    launcher = HydraConfig.get().launcher
    return launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")) else None


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value that cannot work, naming its key."""
    data, model = cfg.data, cfg.model

    def require(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    num_words = data.get("num_words")
    require(num_words is None or (isinstance(num_words, int) and num_words >= 4), f"data.num_words must be an integer >= 4 (or null for the whole vocabulary), got {num_words!r}")
    require(isinstance(data.batch_size, int) and data.batch_size > 0, f"data.batch_size must be a positive integer, got {data.batch_size!r}")
    require(isinstance(data.val_size, int) and data.val_size > 0, f"data.val_size must be a positive integer, got {data.val_size!r}")
    require(data.word_index in ("keras", "corpus"), f"data.word_index must be 'keras' or 'corpus', got {data.word_index!r}")
    sizes = model.hidden_sizes
    require(
        OmegaConf.is_list(sizes) and len(sizes) > 0 and all(isinstance(s, int) and s > 0 for s in sizes),
        f"model.hidden_sizes must be a non-empty list of positive integers, got {OmegaConf.to_container(sizes) if OmegaConf.is_list(sizes) else sizes!r}",
    )
    require(0.0 <= float(model.dropout) < 1.0, f"model.dropout must be in [0, 1), got {model.dropout}")
    require(float(model.l1) >= 0 and float(model.l2) >= 0, f"model.l1 and model.l2 must be >= 0, got {model.l1} and {model.l2}")
    require(model.init in INITIALIZERS, f"model.init={model.init!r} is not an initializer; choose one of {', '.join(INITIALIZERS)}")
    require(model.activation in ACTIVATIONS, f"model.activation={model.activation!r} is unknown; choose one of {', '.join(ACTIVATIONS)}")
    require(model.get("init_scale") is None or float(model.init_scale) > 0, f"model.init_scale must be positive, got {model.get('init_scale')}")
    lr = cfg.optimizer.get("lr")
    require(lr is not None and float(lr) > 0, f"optimizer.lr must be positive, got {lr}")
    require(int(cfg.trainer.max_epochs) > 0, f"trainer.max_epochs must be positive, got {cfg.trainer.max_epochs}")
    require(cfg.test_ckpt in ("final", "best"), f"test_ckpt must be 'final' or 'best', got {cfg.test_ckpt!r}")
