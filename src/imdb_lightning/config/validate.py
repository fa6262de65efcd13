"""Config checks: a bad value gets one line naming its key before any data is read or training starts."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Collection

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from imdb_lightning.config.files import group_options
from imdb_lightning.config.overrides import command_line_overrides, split_override
from imdb_lightning.config.rules import check_values
from imdb_lightning.data.settings import MIN_NUM_WORDS
from imdb_lightning.utils.checks import (
    one_of,
    require,
)
from imdb_lightning.utils.errors import ConfigError, first_line

log = logging.getLogger(__name__)


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value that cannot work, naming its key, what it must be and
    what it is; and for a key that the object it configures does not take (``+model.dropuot=0.5``). Runs
    before any data is read."""
    check_values(cfg)
    for group in ("data", "model", "optimizer", "scheduler", "trainer"):
        node = cfg.get(group)
        if not isinstance(node, DictConfig):
            continue
        if "_target_" not in node:  # keys given with + to an unchosen group
            keys = ", ".join(f"{group}.{key}" for key in node)
            raise ConfigError(f"{keys} given, but no {group} is chosen: add {group}={group_options(group)}")
        unknown, accepted = unknown_keys(node)
        if unknown:
            raise ConfigError(
                f"{group}.{unknown[0]} is not a setting of {node._target_.rsplit('.', 1)[-1]}; it takes "
                f"{', '.join(accepted)}"
            )
    # The data module and the model check their own settings when made; both are cheap to make before the
    # data loads (the model at a small input width).
    made = {}
    stand_ins = {"data": {}, "model": {"input_dim": MIN_NUM_WORDS, "optimizer": None, "scheduler": None}}
    for group, passed in stand_ins.items():
        node = cfg.get(group)
        if isinstance(node, DictConfig) and "_target_" in node:
            try:
                made[group] = hydra.utils.instantiate(node, **passed)
            except InstantiationException as err:
                if isinstance(err.__cause__, ConfigError):
                    raise err.__cause__ from None
                raise
    # A monitored metric the model never logs fails only at the first validation's end, inside fit.
    monitorable = getattr(made.get("model"), "monitorable", None)
    if monitorable:
        for name, node in (cfg.get("callbacks") or {}).items():
            if isinstance(node, DictConfig) and node.get("monitor") is not None:
                require(f"callbacks.{name}.monitor", node.monitor, one_of(monitorable))
    # The optimizer too: PyTorch's own check their settings (momentum, betas, nesterov) only when made, which
    # would otherwise be inside fit.
    node = cfg.get("optimizer")
    if isinstance(node, DictConfig) and "_target_" in node:
        try:
            stand_in_optimizer(node)
        except Exception as err:  # noqa: BLE001 -- whatever the constructor raises (torch's Adam: an
            # IndexError for one beta) is its refusal of these settings
            raise settings_refused("optimizer", err) from None


def stand_in_optimizer(node: DictConfig):  # -> torch.optim.Optimizer (torch is imported when needed)
    """The optimizer ``node`` configures (a partial ``_target_``), made over one stand-in parameter."""
    import torch

    return hydra.utils.instantiate(node, _convert_="all")([torch.zeros(1, requires_grad=True)])


def settings_refused(group: str, err: BaseException, keys: Collection[str] = ()) -> ConfigError:
    """Settings of ``group`` that a library refused, in one line: the overrides of that group the command gave
    (its choice, ``trainer=gpu``, and those of its keys that the library's message names, else those in
    ``keys``, else all), or "the <group> settings", and the first line of the library's message. ``err`` may
    be Hydra's wrapper of it; a :class:`ConfigError` of our own constructors' checks, which already names its
    key, is returned as it is."""
    if isinstance(err, InstantiationException) and err.__cause__ is not None:
        err = err.__cause__
    if isinstance(err, ConfigError):
        return err
    message = first_line(err) or type(err).__name__
    choices, settings = [], []
    for override in command_line_overrides():
        key, value = split_override(override)
        if key == group:
            choices.append(override)
        elif key.startswith(f"{group}."):
            settings.append((key.split(".", 1)[1], value, override))
    named = [override for key, value, override in settings if _message_names(message, key, value)]
    fallback = [override for key, _, override in settings if not keys or key in keys]
    given = choices + (named or fallback)
    return ConfigError(f"{', '.join(given) or f'the {group} settings'} cannot work: {message}")


def _message_names(message: str, key: str, value: str) -> bool:
    """Whether a library's message names this setting: its key's last part as a word, or its value when
    that is a word of its own (``abc``, not ``1`` or ``true``, which messages hold for other reasons)."""
    if re.search(rf"\b{re.escape(key.rsplit('.', 1)[-1])}\b", message, re.IGNORECASE):
        return True
    wordy = len(value) >= 2 and not re.fullmatch(r"[-+.\d_e]+|true|false|null", value, re.IGNORECASE)
    return wordy and value in message


#: Keys Hydra reads itself.
HYDRA_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}
#: What train() gives each group's constructor besides its config: the model its input width (the data's)
#: and its optimizer and scheduler, the optimizer its parameters (the model's), the trainer the callbacks and
#: loggers (a test runs train() and checks that it gives no other).
GIVEN_BY_TRAIN = {
    "model": ("input_dim", "optimizer", "scheduler"),
    "optimizer": ("params",),
    "trainer": ("callbacks", "logger"),
}


def unknown_keys(node: DictConfig) -> tuple[list[str], list[str]]:
    """The keys of a ``_target_`` node that its class or function does not accept (or that train() gives
    it: ``model.input_dim`` is the data's width), and those it does."""
    try:
        target = hydra.utils.get_object(node._target_)
    except Exception as err:  # noqa: BLE001 -- an unknown target is reported by instantiate, with Hydra's message
        log.debug("cannot inspect %s: %s", node._target_, err)
        return [], []
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return [], []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return [], []
    given = {key for keys in GIVEN_BY_TRAIN.values() for key in keys}  # set by the run: never the config's
    accepted = [name for name in parameters if name not in given and name != "self"]
    unknown = sorted(key for key in node if key not in HYDRA_KEYS and (key not in parameters or key in given))
    return unknown, accepted
