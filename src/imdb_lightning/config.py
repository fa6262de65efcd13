"""Config checks and resolvers: a bad value gets one clear line naming its key before any training starts."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import logging
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from imdb_lightning.errors import ConfigError
from imdb_lightning.initializers import INITIALIZERS
from imdb_lightning.model import ACTIVATIONS

log = logging.getLogger(__name__)


def _config_dir() -> Path:
    """``imdb_lightning/conf`` in an installed wheel (the build maps the repository's ``conf/`` there), else
    the checkout's own ``conf/`` (an editable install, or ``src`` on ``PYTHONPATH``)."""
    packaged = Path(__file__).parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "conf"


#: Every Hydra config of the app, as an absolute path: it works the same from any working folder.
CONFIG_DIR = _config_dir()


def _multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def tensorboard_root() -> str:
    """One TensorBoard root per sweep (all jobs side by side), or the run folder for a single run."""
    hydra = HydraConfig.get()
    return str(Path(hydra.sweep.dir if _multirun() else hydra.runtime.output_dir) / "tensorboard")


def run_name() -> str:
    """A sweep job's TensorBoard run is named by its number and overrides; a single run needs no name."""
    if not _multirun():
        return ""
    job = HydraConfig.get().job
    return f"{job.num}-{folder_name(job.override_dirname)}" if job.override_dirname else str(job.num)


def folder_name(overrides: str, limit: int = 120) -> str:
    """A sweep job's overrides as one folder name: no ``/`` (a path value would nest folders), at most
    ``limit`` characters (a long one ends in a hash of the whole, so that names stay distinct)."""
    name = overrides.replace("/", "_").replace("\\", "_")
    if len(name) > limit:
        name = f"{name[: limit - 9]}-{hashlib.sha256(overrides.encode()).hexdigest()[:8]}"
    return name


def unique_folder(path: str) -> str:
    """``path``, or ``path-2``, ``path-3``, ...: the first that does not exist yet, made now. ``mkdir`` is
    atomic, so two runs started in the same second never share a folder."""
    base, n = Path(path), 1
    while True:
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir(parents=True)
            return str(candidate)
        except FileExistsError:
            n += 1
        except OSError:
            return str(candidate)  # unwritable: the output-folder check says so in one line


def register_resolvers() -> None:
    for name, fn in (("imdb_tensorboard_root", tensorboard_root), ("imdb_run_name", run_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    # Cached: Hydra reads its run folder more than once, and each read must give the same folder.
    for name, fn in (("imdb_unique_folder", unique_folder), ("imdb_folder_name", folder_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=True)


def torch_threads(configured: int | None, parallel_jobs: int | None, cores: int) -> int:
    """Threads for one run: as configured, else the cores shared out among jobs running side by side."""
    if configured:
        return int(configured)
    if not parallel_jobs or parallel_jobs < 0:  # joblib's -1: one job per core
        parallel_jobs = cores if parallel_jobs and parallel_jobs < 0 else 1
    return max(1, cores // parallel_jobs)


def command_line_overrides() -> list[str]:
    """The overrides this run's command gave (a sweep job's own values included), less those Hydra is told do
    not name a run (``hydra.job.config.override_dirname.exclude_keys``: the data folder, ...); none outside
    Hydra."""
    if not HydraConfig.initialized():
        return []
    hydra_config = HydraConfig.get()
    incidental = set(hydra_config.job.config.override_dirname.exclude_keys)
    return [o for o in hydra_config.overrides.task if o.split("=", 1)[0].lstrip("+~") not in incidental]


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The override list of every job of a sweep given as on the command line (``seed=0,1``,
    ``+experiment=glob(*)``), in the order Hydra's basic sweeper launches them."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra._internal.utils import create_config_search_path
    from hydra.core.override_parser.overrides_parser import OverridesParser

    # Hydra keeps this expansion internal; it needs the config folder to expand glob() over a group.
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONFIG_DIR)))
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(list(overrides))
    return list(itertools.chain.from_iterable(BasicSweeper.split_arguments(parsed, None)))


def parallel_jobs() -> int | None:
    """How many sweep jobs run at once on this machine (the joblib launcher's n_jobs), if known."""
    if not _multirun():
        return None
    launcher = HydraConfig.get().launcher
    return launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")) else None


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # a YAML true is no batch size


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rule(
    check: Callable[[object], bool], expected: str, *, optional: bool = False
) -> tuple[Callable[[object], bool], str]:
    if optional:
        return (lambda v: v is None or check(v)), f"{expected} (or null)"
    return check, expected


def _choice(options) -> tuple[Callable[[object], bool], str]:
    return (lambda v: v in options), f"one of {', '.join(options)}"


#: Every key a user types, with what it must be: checked before any data is read.
RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "seed": _rule(_integer, "an integer"),
    "data.num_words": _rule(lambda v: _integer(v) and v >= 4, "an integer >= 4", optional=True),
    "data.skip_top": _rule(lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    "data.maxlen": _rule(lambda v: _integer(v) and v > 0, "a positive integer", optional=True),
    "data.start_char": _rule(lambda v: _integer(v) and v >= 0, "an integer >= 0", optional=True),
    "data.oov_char": _rule(lambda v: _integer(v) and v >= 0, "an integer >= 0", optional=True),
    "data.index_from": _rule(lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    "data.val_size": _rule(lambda v: _integer(v) and v > 0, "a positive integer"),
    "data.batch_size": _rule(lambda v: _integer(v) and v > 0, "a positive integer"),
    "data.eval_batch_size": _rule(lambda v: _integer(v) and v > 0, "a positive integer", optional=True),
    "data.seed": _rule(_integer, "an integer"),
    "data.shuffle_seed": _rule(_integer, "an integer", optional=True),
    "data.word_index": _choice(("keras", "corpus")),
    "data.batch_format": _choice(("auto", "dense", "bag")),
    "data.download": _rule(lambda v: isinstance(v, bool), "true or false"),
    "model.hidden_sizes": _rule(
        lambda v: OmegaConf.is_list(v) and len(v) > 0 and all(_integer(s) and s > 0 for s in v),
        "a non-empty list of positive integers",
    ),
    "model.activation": _choice(tuple(ACTIVATIONS)),
    "model.dropout": _rule(lambda v: _number(v) and 0 <= v < 1, "in [0, 1)"),
    "model.batchnorm": _rule(lambda v: isinstance(v, bool), "true or false"),
    "model.l1": _rule(lambda v: _number(v) and v >= 0, "a number >= 0"),
    "model.l2": _rule(lambda v: _number(v) and v >= 0, "a number >= 0"),
    "model.init": _choice(tuple(INITIALIZERS)),
    "model.init_scale": _rule(lambda v: _number(v) and v > 0, "a positive number", optional=True),
    "optimizer.lr": _rule(lambda v: _number(v) and v > 0, "a positive number"),
    "trainer.max_epochs": _rule(lambda v: _integer(v) and v > 0, "a positive integer"),
    "test": _rule(lambda v: isinstance(v, bool), "true or false"),
    "test_ckpt": _choice(("final", "best")),
    "torch_threads": _rule(lambda v: _integer(v) and v > 0, "a positive integer", optional=True),
}


_ABSENT = object()


def _shown(value: object) -> object:
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value that cannot work, naming its key, what it must be and
    what it is; and for a key that the object it configures does not take (``+model.dropuot=0.5``)."""
    for key, (check, expected) in RULES.items():
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is _ABSENT:
            continue  # e.g. an optimizer without an lr setting
        if not check(value):
            raise ConfigError(f"{key} must be {expected}, got {_shown(value)!r}")
    for group in ("data", "model", "optimizer", "scheduler", "trainer"):
        node = cfg.get(group)
        if isinstance(node, DictConfig) and "_target_" in node:
            unknown, accepted = unknown_keys(node)
            if unknown:
                raise ConfigError(
                    f"{group}.{unknown[0]} is not a setting of {node._target_.rsplit('.', 1)[-1]}; it takes "
                    f"{', '.join(accepted)}"
                )


# Keys Hydra reads itself, and what train() passes to the model instead of taking them from the config.
_HYDRA_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}
_PASSED_BY_TRAIN = {"input_dim", "optimizer", "scheduler", "params", "callbacks", "logger"}


def unknown_keys(node: DictConfig) -> tuple[list[str], list[str]]:
    """The keys of a ``_target_`` node that its class or function does not accept, and those it does."""
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
    accepted = [name for name in parameters if name not in _PASSED_BY_TRAIN and name != "self"]
    unknown = sorted(key for key in node if key not in _HYDRA_KEYS and key not in parameters)
    return unknown, accepted
