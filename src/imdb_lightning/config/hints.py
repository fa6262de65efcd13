"""One line for the overrides Hydra answers with a traceback or a page of options."""

from __future__ import annotations

from imdb_lightning.config.files import config_groups, group_options, unchosen_groups
from imdb_lightning.config.overrides import split_override


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
