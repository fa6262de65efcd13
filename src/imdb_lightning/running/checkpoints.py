"""Reading a checkpoint a user names, and saying in one line why it cannot be used (before any data loads)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from imdb_lightning.utils.errors import ConfigError

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


#: Data settings that choose the validation reviews or how a review is encoded: a resumed run that changed
#: them would validate on reviews it trained on, or read others than it learned.
SPLIT_SETTINGS = (
    "num_words",
    "skip_top",
    "maxlen",
    "start_char",
    "oov_char",
    "index_from",
    "word_index",
    "val_size",
    "seed",
)


def _shown(value: object) -> str:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    return "null" if value is None else str(list(value) if isinstance(value, tuple) else value)


def data_mismatch(checkpoint: dict, data: Mapping) -> str | None:
    """The first data setting (of :data:`SPLIT_SETTINGS`) that ``data`` gives otherwise than the checkpointed
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
