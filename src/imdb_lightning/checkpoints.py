"""Reading a checkpoint a user names, and saying in one line why it cannot be used (before any data loads)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from imdb_lightning.errors import ConfigError

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
