"""Checkpoints: the callbacks that write ``best.ckpt``, ``last.ckpt`` and ``interrupted.ckpt``, and reading
one a user names, saying in one line why it cannot be used (before any data loads)."""

from __future__ import annotations

import copy
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import OmegaConf
from torch import nn

from imdb_lightning.data.datamodule import SPLIT_SETTINGS
from imdb_lightning.running.folder import RunFolder
from imdb_lightning.utils.atomic import atomic_open
from imdb_lightning.utils.errors import ConfigError
from imdb_lightning.utils.private import as_epoch_end, lightning_checkpoint

log = logging.getLogger(__name__)


def read_checkpoint(path: str | Path, setting: str = "ckpt_path") -> dict:
    """The checkpoint at ``path``, read with ``weights_only=True``; a :class:`ConfigError` naming ``setting``
    (the config key, or "" for a command's argument) when the file is missing, empty, truncated, not a
    checkpoint or holds no model weights."""
    path = Path(path)
    named = f"{setting}={path}" if setting else f"the checkpoint {path}"
    if not path.exists():
        raise ConfigError(f"{named} does not exist")
    if not path.is_file():
        raise ConfigError(f"{named} is not a file (give a .ckpt file)")
    if path.stat().st_size == 0:
        raise ConfigError(f"{named} is empty (an interrupted copy or save?)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- torch's unpickler raises whatever the file's bytes lead to
        # (IndexError, KeyError, ...); its message speaks of weights_only and pickling, not of what is wrong.
        log.debug("torch.load(%s) failed: %r", path, err)
        raise ConfigError(
            f"{named} is not a readable checkpoint: truncated, or another kind of file"
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ConfigError(f"{named} holds no model weights (no state_dict): not a checkpoint of this package")
    return checkpoint


def shape_mismatch(checkpoint: dict, model: nn.Module) -> str | None:
    """What differs between the checkpoint's weights and ``model``'s, in one phrase; None when they fit."""
    saved, expected = checkpoint["state_dict"], model.state_dict()
    for name, tensor in expected.items():
        if name not in saved:
            return f"it lacks {name} (saved by another model or an older version)"
        if tuple(saved[name].shape) != tuple(tensor.shape):
            return f"{name} is {tuple(saved[name].shape)} there and {tuple(tensor.shape)} here"
    extra = [name for name in saved if name not in expected]
    return f"it holds {extra[0]}, which this model has not" if extra else None


def _shown(value: object) -> str:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    return "null" if value is None else str(list(value) if isinstance(value, tuple) else value)


def data_mismatch(checkpoint: dict, data: Mapping) -> str | None:
    """The first of the data module's ``SPLIT_SETTINGS`` that ``data`` gives otherwise than the checkpointed
    run had it, in one phrase; None when they agree (or the checkpoint does not say)."""
    saved = checkpoint.get("datamodule_hyper_parameters") or {}
    for key in SPLIT_SETTINGS:
        if key in saved and key in data and saved[key] != data[key]:
            return f"data.{key}={_shown(saved[key])} (this config has {_shown(data[key])})"
    return None


def model_mismatches(checkpoint: dict, model: Mapping) -> list[str]:
    """Every model setting (``model.<key>``) that ``model`` gives otherwise than the checkpointed run had it,
    each in one phrase; the input width is the data's, compared by :func:`data_mismatch`."""
    saved = checkpoint.get("hyper_parameters") or {}
    return [
        f"model.{key}={_shown(saved[key])} (this config has {_shown(model[key])})"
        for key in saved
        if key != "input_dim"
        and key in model
        and _shown(saved[key]) != _shown(model[key])
        and not _same_number(saved[key], model[key])
    ]


def optimizer_mismatch(checkpoint: dict, optimizer: torch.optim.Optimizer) -> str | None:
    """What differs between the optimizer the checkpoint's run trained with and ``optimizer`` (made from this
    config), in one phrase; None when they agree. Resuming restores the checkpoint's optimizer settings over
    the config's (PyTorch's ``load_state_dict``), and another optimizer's state fails inside fit."""
    states = checkpoint.get("optimizer_states")
    if not states:  # saved with the weights only: nothing to compare
        return None
    saved, here = states[0]["param_groups"][0], optimizer.param_groups[0]
    internal = {"params", "initial_lr"}  # initial_lr: added by a scheduler, which also moves lr
    if set(saved) - internal != set(here) - internal:
        return (
            f"another optimizer than this config's {type(optimizer).__name__} (one with the settings "
            f"{', '.join(sorted(set(saved) - internal))})"
        )
    for key in sorted(set(here) - internal):
        before = saved.get("initial_lr", saved[key]) if key == "lr" else saved[key]
        if _shown(before) != _shown(here[key]) and not _same_number(before, here[key]):
            return f"optimizer.{key}={_shown(before)} (this config has {_shown(here[key])})"
    return None


def _same_number(a: object, b: object) -> bool:
    numbers = (int, float)
    return isinstance(a, numbers) and isinstance(b, numbers) and float(a) == float(b)


class BestCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` (here ``best.ckpt``: the epoch of highest validation accuracy), which
    goes on from the earlier run's best when a run resumes into a new folder, as every resumed command does.

    Lightning forgets the best score when the folder changes: the first epoch after the resume then became
    ``best.ckpt`` even when an earlier epoch was better, and ``test_ckpt=best`` tested the wrong weights. Here
    the earlier run's best checkpoints are copied into the new folder, and their scores kept.
    """

    def load_state_dict(self, state_dict: dict) -> None:
        saved_dir = state_dict.get("dirpath")
        if not saved_dir or not self.dirpath or saved_dir == self.dirpath:
            super().load_state_dict(state_dict)
            return
        best = {Path(path): score for path, score in state_dict.get("best_k_models", {}).items()}
        missing = [path for path in best if not path.is_file()]
        if missing:
            log.warning("%s is gone: the best epoch is counted from the resumed epochs on", missing[0])
            super().load_state_dict({**self.state_dict(), "best_model_path": ""})  # a fresh start, here
            return
        moved = {str(path): str(Path(self.dirpath) / path.name) for path in best}
        Path(self.dirpath).mkdir(parents=True, exist_ok=True)
        for old, new in moved.items():
            shutil.copy2(old, new)
        super().load_state_dict(
            {
                **state_dict,
                "dirpath": self.dirpath,
                "best_k_models": {moved[str(path)]: score for path, score in best.items()},
                "best_model_path": moved.get(state_dict.get("best_model_path", ""), ""),
                "kth_best_model_path": moved.get(state_dict.get("kth_best_model_path", ""), ""),
                "last_model_path": "",
            }
        )


class LastCheckpoint(L.Callback):
    """``last.ckpt`` when fit ends (to resume with more epochs, or to predict), also every ``every_n_epochs``
    epochs when set (a long run's guard against a hard kill), and ``interrupted.ckpt`` on Ctrl-C, SIGTERM or a
    crash: the state at the end of the last completed epoch, so that resuming repeats the cut epoch and ends
    where the uninterrupted run ends. A state in the middle of an epoch does not resume exactly (Lightning
    restarts the epoch's metrics, not its batches); none is saved before the first epoch completes.

    The epoch-end state is kept in memory (a CPU copy, taken when the next epoch starts: every callback's
    epoch end and the epoch's scheduler step are done by then); both files are written atomically, so a full
    disk or a kill during the write leaves the earlier file whole.
    """

    def __init__(self, dirpath: str | Path, every_n_epochs: int | None = None) -> None:
        if every_n_epochs is not None and every_n_epochs <= 0:
            raise ConfigError(
                f"callbacks.last_checkpoint.every_n_epochs must be positive or null, got {every_n_epochs}"
            )
        self.dirpath = Path(dirpath)
        self.every_n_epochs = every_n_epochs
        self._epoch_end_state: dict | None = None
        self._epochs_done = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 0:
            return  # nothing completed yet (a resumed run starts at the epoch after its checkpoint's)
        state = cpu_copy(lightning_checkpoint(trainer))
        as_epoch_end(state)  # the state of the epoch that ended, as last.ckpt holds it when fit ends
        self._epoch_end_state = state
        self._epochs_done = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            save_checkpoint(trainer, self.dirpath / RunFolder.LAST)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        save_checkpoint(trainer, self.dirpath / RunFolder.LAST)
        if trainer.is_global_zero:  # a run that stopped here and went on to its end: last.ckpt is newer
            (self.dirpath / RunFolder.INTERRUPTED).unlink(missing_ok=True)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if trainer.state.fn != "fit" or not trainer.is_global_zero:
            return
        path = self.dirpath / RunFolder.INTERRUPTED
        if self._epoch_end_state is None:
            log.warning(
                "%s in epoch 1: no epoch completed, no checkpoint to resume from", type(exception).__name__
            )
            return
        try:
            with atomic_open(path) as f:
                torch.save(self._epoch_end_state, f)
            log.warning(
                "%s: saved %s (the end of epoch %d; resuming repeats epoch %d)",
                type(exception).__name__,
                path,
                self._epochs_done,
                self._epochs_done + 1,
            )
        except Exception as err:  # noqa: BLE001 -- never hide the original exception behind this one
            log.warning("could not save %s: %s", path, err)


def cpu_copy(state: object) -> object:
    """A copy of a checkpoint dict that shares nothing with the live run: tensors copied to the CPU,
    containers rebuilt (the history's lists go on growing in the callback)."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return type(state)((key, cpu_copy(value)) for key, value in state.items())
    if isinstance(state, (list, tuple)) and not hasattr(state, "_fields"):
        return type(state)(cpu_copy(value) for value in state)
    return copy.deepcopy(state)


def save_checkpoint(trainer: L.Trainer, path: Path) -> None:
    """``trainer.save_checkpoint`` into a temporary file renamed over ``path`` by global rank 0 once every
    process has saved: never a half-written checkpoint over a whole one."""
    part = path.with_name(f".{path.name}.part")
    trainer.save_checkpoint(part, weights_only=False)  # every process calls it; rank 0 writes, all wait
    if trainer.is_global_zero:
        os.replace(part, path)
