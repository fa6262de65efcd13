"""Composing the real training config for tests, the way ``python -m imdb_lightning OVERRIDES`` would."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.running.naming import register_resolvers

# Small synthetic data: 30 training, 10 validation and 40 test reviews with a 30-word index.
SMALL = ["data.val_size=10", "data.num_words=30", "data.batch_size=8", "trainer.enable_progress_bar=false"]


def composed(*overrides: str, hydra: bool = False) -> DictConfig:
    """The config ``python -m imdb_lightning OVERRIDES`` runs with; Hydra's own node too with ``hydra``."""
    register_resolvers()  # as the app does before it composes
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=hydra)


def bare_trainer(max_epochs: int, **settings) -> L.Trainer:
    """A ``Trainer`` on the CPU that writes nothing and shows nothing (no logger, checkpoints, progress bar,
    model summary or sanity check): a model's and a data module's own behaviour."""
    defaults = dict(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    return L.Trainer(max_epochs=max_epochs, **{**defaults, **settings})


def compose_run(out: Path, overrides: list[str]) -> DictConfig:
    """The composed config writing into ``out`` (the paths Hydra's runtime would fill in are set here)."""
    cfg = composed(*overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.paths.tensorboard_dir = str(out / "tensorboard")
        cfg.paths.run_name = ""
    return cfg


def train_small_run(root: Path, *overrides: str) -> tuple[Path, dict]:
    """A run on its own synthetic data and cache under ``root`` (for module-scoped fixtures, which cannot use
    the function-scoped ``data_dir`` and cache); returns its folder and metrics."""
    from synthetic import make_data_dir

    from imdb_lightning.running.train import train

    with pytest.MonkeyPatch.context() as mp:  # undone even when the run fails
        mp.setenv("IMDB_LIGHTNING_CACHE", str(root / "cache"))
        data_dir = make_data_dir(root / "data")
        metrics = train(compose_run(root / "run", [f"data.data_dir={data_dir}", *SMALL, *overrides]))
    return root / "run", metrics


class InterruptAt(L.Callback):
    """Ctrl-C, as a notebook's "interrupt the kernel" delivers it, when epoch ``epoch`` (from 1) ends; or,
    with ``batch``, after that training batch (from 1) of the epoch: in the middle of it. ``signal="SIGTERM"``
    sends this process a real SIGTERM instead (what SLURM, ``kill`` and ``docker stop`` send)."""

    def __init__(self, epoch: int, batch: int | None = None, signal: str = "SIGINT") -> None:
        self.epoch, self.batch, self.signal = epoch, batch, signal

    def _stop(self) -> None:
        if self.signal == "SIGTERM":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises at the next instruction; never gets here
        raise KeyboardInterrupt

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.current_epoch + 1 == self.epoch and self.batch == batch_idx + 1:
            self._stop()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 == self.epoch and self.batch is None:
            self._stop()


def sweep_with_more_configs(tmp_path: Path, data_dir: Path, files: dict[str, str], *overrides: str):
    """A small sweep through the notebook API with extra config files (``{"experiment/x.yaml": text}``)
    added to Hydra's search path, as a user adds their own; run folders under ``tmp_path/logs``."""
    import imdb_lightning as il

    more = tmp_path / "more_conf"
    for name, text in files.items():
        (more / name).parent.mkdir(parents=True, exist_ok=True)
        (more / name).write_text(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMDB_LIGHTNING_LOGS", str(tmp_path / "logs"))
        small = ["data.val_size=10", "data.num_words=30", "data.batch_size=8", f"data.data_dir={data_dir}"]
        return il.sweep(f"hydra.searchpath=[file://{more}]", *overrides, *small, quiet=True)


class FailAt(L.Callback):
    """A run that breaks (an error of no known kind) when epoch ``epoch`` (from 1) ends."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 == self.epoch:
            raise RuntimeError("the disk went away")


@contextmanager
def reaped(procs: list[subprocess.Popen]) -> Iterator[list[subprocess.Popen]]:
    """The child processes, killed and waited for when the block ends however it ends (a timeout, a failed
    assertion): a test never leaves a training process running behind it."""
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
