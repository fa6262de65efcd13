"""The app's Hydra config files: where they are, and what their groups offer."""

from __future__ import annotations

from pathlib import Path

from imdb_lightning.utils import safe_yaml


def _config_dir() -> Path:
    """``imdb_lightning/conf`` in an installed wheel (the build maps the repository's ``conf/`` there), else
    the checkout's own ``conf/`` (an editable install, or ``src`` on ``PYTHONPATH``)."""
    package = Path(__file__).parents[1]
    packaged = package / "conf"
    return packaged if packaged.is_dir() else package.resolve().parents[1] / "conf"


#: Every Hydra config of the app, as an absolute path: it works the same from any working folder.
CONFIG_DIR = _config_dir()


def group_options(group: str) -> str:
    """A config group's choices, as a command names them: ``cosine|exponential|step``."""
    return "|".join(sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml")))


def config_groups() -> set[str]:
    """The app's config groups (``optimizer``, ``logger``, ...)."""
    return {path.name for path in CONFIG_DIR.iterdir() if path.is_dir()}


def unchosen_groups() -> set[str]:
    """The groups ``train.yaml`` leaves unchosen (``scheduler: null``): a command may choose one."""
    defaults = safe_yaml.parse((CONFIG_DIR / "train.yaml").read_text())["defaults"]
    return {g for entry in defaults if isinstance(entry, dict) for g, v in entry.items() if v is None}
