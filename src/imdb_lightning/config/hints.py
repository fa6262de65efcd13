"""One line for the overrides Hydra answers with a traceback or a page of options."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable

from imdb_lightning.config.files import CONFIG_DIR, config_groups, group_options, unchosen_groups
from imdb_lightning.config.overrides import split_override
from imdb_lightning.utils import safe_yaml


def override_hint(overrides: list[str]) -> str | None:
    """The one line the first override Hydra would answer badly calls for (a group set to null, an option or
    key misspelt, a key of an unchosen group), or None: the command line's and the notebook's answer."""
    return (
        null_group_hint(overrides)
        or unknown_option_hint(overrides)
        or unchosen_group_hint(overrides)
        or unknown_key_hint(overrides)
    )


def null_group_hint(overrides: list[str]) -> str | None:
    """What to write instead of ``logger=null`` (Hydra drops a config group with ``~logger``, and answers
    ``=null`` with a traceback from deep inside it), or None."""
    groups = config_groups()
    for override in overrides:
        group, value = split_override(override)
        if value.lower() == "null" and group in groups:
            return f"{override}: a config group is dropped with ~{group} (Hydra has no =null for it)"
    return None


def unchosen_group_hint(overrides: list[str]) -> str | None:
    """What to add when an override sets a key of a group the config leaves unchosen
    (``scheduler.step_size=2`` without ``scheduler=step``: Hydra refuses it and suggests ``+``, which makes a
    bare dict that failed inside fit), or None. An experiment may choose the group: then Hydra answers."""
    if any(split_override(o)[0] == "experiment" for o in overrides):
        return None
    unchosen = unchosen_groups()
    chosen = {split_override(o)[0] for o in overrides}
    for override in overrides:
        key = split_override(override)[0]
        group = key.split(".", 1)[0]
        if "." in key and group in unchosen and group not in chosen:
            return (
                f"{override} sets a {group} key, but no {group} is chosen: add {group}={group_options(group)}"
            )
    return None


#: Config groups that only a ``-m`` sweep reads: without one, Hydra leaves them unused and runs one job.
SWEEP_ONLY_GROUPS = ("hparams_search", "hydra/sweeper", "hydra/launcher")


def sweep_only(overrides: list[str]) -> str | None:
    """The first override that chooses a group only a ``-m`` sweep reads (an Optuna search, a launcher), or
    None."""
    for override in overrides:
        group, value = split_override(override)
        if group in SWEEP_ONLY_GROUPS and value.lower() not in ("", "null"):
            return override
    return None


#: Groups whose options are flat settings: a key a command sets in one of them can be checked for a typo.
_SETTINGS_GROUPS = ("data", "model", "optimizer", "scheduler", "trainer")
# A plain value or a sweep's list of them (``dropout,l2``); Hydra's sweep functions (``glob(*)``) are not
# checked.
_PLAIN_VALUES = re.compile(r"[\w.\-]+(,[\w.\-]+)*")


def _close(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely misspells (case aside), or None."""
    by_lower = {choice.lower(): choice for choice in choices}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def unknown_option_hint(overrides: list[str]) -> str | None:
    """One line for an option a group does not have (``+experiment=dropuot``, ``optimizer=Adam``), with the
    close one, instead of Hydra's page of options; and for ``experiment=NAME`` without its ``+``. None when
    Hydra's search path is extended (a user's own options are not known here)."""
    if any(split_override(o)[0] == "hydra.searchpath" for o in overrides):
        return None
    groups = config_groups() - {"hydra"}
    for override in overrides:
        group, value = split_override(override)
        if group not in groups or not _PLAIN_VALUES.fullmatch(value) or value.lower() == "null":
            continue
        options = group_options(group).split("|")
        for option in value.split(","):
            if option in options:
                continue
            close = _close(option, options)
            guess = f"did you mean {close}?" if close else f"its options: {', '.join(options)}"
            return f"{override}: {group} has no option {option}; {guess}"
        if group == "experiment" and not override.startswith("+"):
            return f"{override}: an experiment is added to the defaults, with a +: +{override}"
    return None


def unknown_key_hint(overrides: list[str]) -> str | None:
    """One line for a misspelt key (``model.droput=0.5``, ``sed=1``) naming the close one, instead of
    Hydra's error and its advice to add it with ``+`` (which would then be refused). Keys set with ``+`` are
    new on purpose, and a key with no close one is left to Hydra."""
    if any(split_override(o)[0] == "hydra.searchpath" for o in overrides):
        return None
    known = _known_keys()
    for override in overrides:
        key = split_override(override)[0]
        if override.startswith(("+", "~", "-")) or "=" not in override or "/" in key:
            continue
        parts = key.split(".")
        if parts[0] == "hydra" or (parts[0] in config_groups() and parts[0] not in _SETTINGS_GROUPS):
            continue
        node = known
        for depth, part in enumerate(parts):
            if not isinstance(node, dict):
                break
            if part not in node:
                close = _close(part, node)
                if close is None:
                    return None
                where = ".".join(parts[:depth])
                return (
                    f"{override}: {part} is not a key of {where or 'the config'}; did you mean "
                    f"{'.'.join([*parts[:depth], close])}?"
                )
            node = node[part]
    return None


@functools.cache
def _known_keys() -> dict:
    """Every key a command may set without ``+``, as nested dicts: ``train.yaml``'s own, each settings group's
    (over all its options), the group names, and what any experiment sets."""
    known: dict = {}

    def merge(into: dict, more: dict) -> None:
        for key, value in more.items():
            if key == "defaults":
                continue
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into.setdefault(key, value if isinstance(value, dict) else None)

    merge(known, safe_yaml.parse((CONFIG_DIR / "train.yaml").read_text()))
    for group in config_groups():
        known.setdefault(group, {} if group in _SETTINGS_GROUPS else None)
    for group in (*_SETTINGS_GROUPS, "experiment"):
        for path in sorted((CONFIG_DIR / group).glob("*.yaml")):
            settings = safe_yaml.parse(path.read_text()) or {}
            merge(known if group == "experiment" else known[group], settings)
    return known
