"""What a run checks before any data loads, once its trainer exists: settings that this trainer and its
callbacks cannot carry out, and a checkpoint to resume that does not fit this config."""

from __future__ import annotations

import hydra
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from imdb_lightning.config.validate import stand_in_optimizer
from imdb_lightning.data.settings import MIN_NUM_WORDS
from imdb_lightning.running.checkpoints import (
    data_mismatch,
    model_mismatches,
    optimizer_mismatch,
    read_checkpoint,
    shape_mismatch,
)
from imdb_lightning.running.folder import RunFolder
from imdb_lightning.utils.errors import ConfigError


def check_setup(cfg: DictConfig, trainer: L.Trainer) -> None:
    """Before the data loads: what this trainer and its callbacks cannot do for this config."""
    keeps_best = any(isinstance(c, ModelCheckpoint) and c.monitor for c in trainer.callbacks)
    if cfg.test and cfg.test_ckpt == "best" and not keeps_best:
        raise ConfigError(
            "test_ckpt=best needs a checkpoint of the best epoch: keep callbacks.model_checkpoint (best.ckpt)"
        )
    unvalidated = why_never_validated(trainer)
    if cfg.test and cfg.test_ckpt == "best" and unvalidated:
        raise ConfigError(f"test_ckpt=best needs validation to choose the best epoch: {unvalidated}")
    if cfg.test and trainer.limit_test_batches == 0:
        raise ConfigError(
            "trainer.limit_test_batches=0 leaves the test no batch: add test=false to skip the test"
        )
    steps = cfg.model.get("steps_per_execution", 1)
    clashing = [f"trainer.gradient_clip_val={trainer.gradient_clip_val}"] if trainer.gradient_clip_val else []
    if trainer.accumulate_grad_batches != 1:
        clashing.append(f"trainer.accumulate_grad_batches={trainer.accumulate_grad_batches}")
    if steps > 1 and clashing:
        raise ConfigError(
            f"model.steps_per_execution={steps} steps the optimizer inside the model, where Lightning cannot "
            f"apply {' or '.join(clashing)}: leave one of them out"
        )
    if (
        cfg.trainer.get("sync_batchnorm")
        and cfg.model.get("batchnorm")
        and trainer.strategy.root_device.type == "cpu"
    ):
        raise ConfigError(
            "trainer.sync_batchnorm=true needs GPUs (PyTorch's SyncBatchNorm); on CPUs add "
            "trainer.sync_batchnorm=false: each process then normalizes with its own batches' statistics"
        )


def why_never_validated(trainer: L.Trainer) -> str | None:
    """Why this trainer's fit would never validate (no best epoch to keep), or None."""
    if trainer.limit_val_batches == 0:
        return "trainer.limit_val_batches=0 turns it off"
    every, epochs = trainer.check_val_every_n_epoch, trainer.max_epochs
    if every is not None and epochs is not None and every > epochs:
        return f"trainer.check_val_every_n_epoch={every} is more than trainer.max_epochs={epochs}"
    return None


def check_resumable(cfg: DictConfig) -> None:
    """Before any data loads: ``ckpt_path`` is a readable checkpoint of a model of this config's shape, with
    no more epochs run than ``trainer.max_epochs`` (the run's total, not the epochs to add), trained with
    this config's data split and optimizer settings (resuming keeps those of the run it continues)."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    if not checkpoint.get("optimizer_states"):
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path} holds the weights only (no optimizer state) and cannot be resumed: "
            f"give a run's {RunFolder.CHECKPOINTS}/{RunFolder.LAST}"
        )
    problems = model_mismatches(checkpoint, cfg.model)
    problems += [
        data_mismatch(checkpoint, cfg.data),
        optimizer_mismatch(checkpoint, stand_in_optimizer(cfg.optimizer)),
    ]
    problems = [p for p in problems if p]
    if problems:
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path} was trained with {', '.join(problems)}: a resumed run keeps the "
            "model, the data split and the optimizer settings of the run it continues (give the same, or "
            "start a new run)"
        )
    done, total = checkpoint.get("epoch"), cfg.trainer.get("max_epochs")
    if isinstance(done, int) and isinstance(total, int) and total >= 0 and done > total:
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path} has run {done} epochs already: trainer.max_epochs={total} is the "
            f"run's total (at least {done}), not the epochs to add"
        )
    saved = checkpoint["state_dict"].get("net.hidden_1.kernel")
    # num_words=null: the data decides the width; trust the checkpoint's.
    width = cfg.data.num_words or (saved.shape[0] if saved is not None else MIN_NUM_WORDS)
    model = hydra.utils.instantiate(cfg.model, input_dim=width, optimizer=None, scheduler=None)
    problem = shape_mismatch(checkpoint, model)
    if problem:
        raise ConfigError(f"ckpt_path={cfg.ckpt_path} was saved by a model of another shape: {problem}")
