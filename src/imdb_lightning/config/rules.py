"""The settings a config alone can judge: the run's own keys (here), the model's
(:mod:`imdb_lightning.network.settings`) and the data's (:mod:`imdb_lightning.data.settings`).

The command line checks them before it imports PyTorch or Lightning (a refused value is answered in about a
second instead of eight); the model's and the data module's constructors check their settings with the same
rules, and :func:`imdb_lightning.config.validate.validate` checks the rest (unknown keys, names a library
must resolve) by making those objects."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from imdb_lightning.data.settings import DATA_RULES
from imdb_lightning.network.settings import MODEL_RULES
from imdb_lightning.utils.checks import (
    BOOLEAN,
    NON_NEGATIVE_NUMBER,
    POSITIVE_INTEGER,
    POSITIVE_NUMBER,
    SEED,
    Rule,
    at_least,
    one_of,
    require,
)

#: Keys no constructor takes (train() reads them), every optimizer's learning rate (PyTorch's optimizers are
#: not ours, and some accept lr=0) and the schedulers' settings.
RUN_RULES: dict[str, Rule] = {
    "seed": SEED,
    "test": BOOLEAN,
    "test_ckpt": one_of(("final", "best")),
    "torch_threads": POSITIVE_INTEGER.or_null(),
    "trainer.max_epochs": POSITIVE_INTEGER,
    # Lightning takes these when the Trainer is made and fails only inside fit (a 0 divides by zero there), or
    # ignores them (a negative gradient_clip_val clips nothing, and deterministic=maybe counts as true).
    "trainer.check_val_every_n_epoch": POSITIVE_INTEGER.or_null(),
    "trainer.val_check_interval": POSITIVE_NUMBER.or_null(),
    "trainer.accumulate_grad_batches": POSITIVE_INTEGER,
    "trainer.num_sanity_val_steps": at_least(-1),
    "trainer.gradient_clip_val": NON_NEGATIVE_NUMBER.or_null(),
    "trainer.deterministic": Rule(lambda v: isinstance(v, bool) or v == "warn", "true, false or warn"),
    "optimizer.lr": POSITIVE_NUMBER,
    # PyTorch's schedulers take these and fail only at the first epoch's end (a step_size of 0 divides by 0).
    "scheduler.step_size": POSITIVE_INTEGER,
    "scheduler.T_max": POSITIVE_INTEGER,
    "scheduler.gamma": POSITIVE_NUMBER,
}

#: The class each group's rules belong to: another ``_target_`` has settings of its own.
_OWNERS = {
    "model": ("imdb_lightning.network.model.IMDBClassifier", MODEL_RULES),
    "data": ("imdb_lightning.data.IMDBDataModule", DATA_RULES),
}

_ABSENT = object()


def check_values(cfg: DictConfig) -> None:
    """Raise :class:`~imdb_lightning.utils.errors.ConfigError` for the first value of :data:`RUN_RULES`,
    :data:`MODEL_RULES` or :data:`DATA_RULES` that cannot work, naming its key, what it must be and what
    it is."""
    for key, rule in RUN_RULES.items():
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is not _ABSENT:  # e.g. an optimizer without an lr setting
            require(key, value, rule)
    for group, (owner, rules) in _OWNERS.items():
        node = cfg.get(group)
        if not isinstance(node, DictConfig) or owner_of(node) != owner:
            continue
        for key, rule in rules.items():
            if key in node:
                require(f"{group}.{key}", node[key], rule)


def owner_of(node: DictConfig) -> str:
    """A node's ``_target_``, with the data module's public path for its module's (both name one class)."""
    target = str(node.get("_target_", ""))
    return "imdb_lightning.data.IMDBDataModule" if target.endswith("datamodule.IMDBDataModule") else target
