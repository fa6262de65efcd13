"""Config checks and resolvers: a bad value gets one clear line naming its key before any training starts."""

from __future__ import annotations

import functools
import hashlib
import inspect
import itertools
import logging
import re
from collections.abc import Collection
from pathlib import Path

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from imdb_lightning.checks import (
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
from imdb_lightning.errors import ConfigError, first_line
from imdb_lightning.run_folder import RunFolder

log = logging.getLogger(__name__)


def _config_dir() -> Path:
    """``imdb_lightning/conf`` in an installed wheel (the build maps the repository's ``conf/`` there), else
    the checkout's own ``conf/`` (an editable install, or ``src`` on ``PYTHONPATH``)."""
    packaged = Path(__file__).parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "conf"


#: Every Hydra config of the app, as an absolute path: it works the same from any working folder.
CONFIG_DIR = _config_dir()


def in_sweep() -> bool:
    """Whether this run is a job of a ``-m`` sweep."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_job_number() -> int:
    """This sweep job's number (Hydra's ``hydra.job.num``, from 0); 0 outside a sweep."""
    return int(HydraConfig.get().job.num or 0) if in_sweep() else 0


def tensorboard_root() -> str:
    """One TensorBoard root per sweep (all jobs side by side), or the run folder for a single run."""
    hydra = HydraConfig.get()
    return str(Path(hydra.sweep.dir if in_sweep() else hydra.runtime.output_dir) / RunFolder.TENSORBOARD)


def run_name() -> str:
    """A sweep job's TensorBoard run is named by its number and overrides; a single run needs no name."""
    if not in_sweep():
        return ""
    job = HydraConfig.get().job
    return job_name(job.num, job.override_dirname)


def split_override(override: str) -> tuple[str, str]:
    """An override's key, without Hydra's ``+``, ``++`` or ``~``, and its value: ``("seed", "1")``."""
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def job_name(number: int, overrides: str) -> str:
    """A sweep job's name: its number and its overrides (Hydra's ``override_dirname``) as a folder name."""
    return f"{number}-{folder_name(overrides)}" if overrides else str(number)


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


@functools.cache
def incidental_keys() -> frozenset[str]:
    """Keys whose overrides do not name a run (the data folder, the progress bar, ...): the app's
    ``hydra.job.config.override_dirname.exclude_keys``, read from its config for readers of finished runs
    (the report); a live run reads Hydra's own copy (:func:`command_line_overrides`)."""
    hydra_config = yaml.safe_load((CONFIG_DIR / "hydra" / "default.yaml").read_text())
    return frozenset(hydra_config["job"]["config"]["override_dirname"]["exclude_keys"])


def null_group_hint(overrides: list[str]) -> str | None:
    """What to write instead of ``logger=null`` (Hydra drops a config group with ``~logger``, and answers
    ``=null`` with a traceback from deep inside it), or None."""
    groups = {path.name for path in CONFIG_DIR.iterdir() if path.is_dir()}
    for override in overrides:
        group, value = split_override(override)
        if value.lower() == "null" and group in groups:
            return f"{override}: a config group is dropped with ~{group} (Hydra has no =null for it)"
    return None


def group_options(group: str) -> str:
    """A config group's choices, as a command names them: ``cosine|exponential|step``."""
    return "|".join(sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml")))


def unchosen_group_hint(overrides: list[str]) -> str | None:
    """What to add when an override sets a key of a group the config leaves unchosen
    (``scheduler.step_size=2`` without ``scheduler=step``: Hydra refuses it and suggests ``+``, which makes a
    bare dict that failed inside fit), or None. An experiment may choose the group: then Hydra answers."""
    if any(split_override(o)[0] == "experiment" for o in overrides):
        return None
    defaults = yaml.safe_load((CONFIG_DIR / "train.yaml").read_text())["defaults"]
    unchosen = {g for entry in defaults if isinstance(entry, dict) for g, v in entry.items() if v is None}
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


def command_line_overrides() -> list[str]:
    """The overrides this run's command gave (a sweep job's own values included), less those Hydra is told do
    not name a run (``hydra.job.config.override_dirname.exclude_keys``: the data folder, ...); none outside
    Hydra."""
    if not HydraConfig.initialized():
        return []
    hydra_config = HydraConfig.get()
    incidental = set(hydra_config.job.config.override_dirname.exclude_keys)
    return [o for o in hydra_config.overrides.task if split_override(o)[0] not in incidental]


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
    if not in_sweep():
        return None
    launcher = HydraConfig.get().launcher
    return launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")) else None


#: Keys no constructor takes (train() reads them), every optimizer's learning rate (PyTorch's optimizers are
#: not ours, and some accept lr=0) and the schedulers' settings. The data module's and the model's settings
#: are checked by their own constructors, which :func:`validate` runs before any data is read.
RULES: dict[str, Rule] = {
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

_ABSENT = object()


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value that cannot work, naming its key, what it must be and
    what it is; and for a key that the object it configures does not take (``+model.dropuot=0.5``). Runs
    before any data is read."""
    for key, rule in RULES.items():
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is not _ABSENT:  # e.g. an optimizer without an lr setting
            require(key, value, rule)
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
    for group, passed in (("data", {}), ("model", {"input_dim": 4, "optimizer": None, "scheduler": None})):
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
            raise refused("optimizer", err) from None


def stand_in_optimizer(node: DictConfig):  # -> torch.optim.Optimizer (torch is imported when needed)
    """The optimizer ``node`` configures (a partial ``_target_``), made over one stand-in parameter."""
    import torch

    return hydra.utils.instantiate(node, _convert_="all")([torch.zeros(1, requires_grad=True)])


def refused(group: str, err: BaseException, keys: Collection[str] = ()) -> ConfigError:
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
    named = [override for key, value, override in settings if _names(message, key, value)]
    fallback = [override for key, _, override in settings if not keys or key in keys]
    given = choices + (named or fallback)
    return ConfigError(f"{', '.join(given) or f'the {group} settings'} cannot work: {message}")


def _names(message: str, key: str, value: str) -> bool:
    """Whether a library's message names this setting: its key's last part as a word, or its value when
    that is a word of its own (``abc``, not ``1`` or ``true``, which messages hold for other reasons)."""
    if re.search(rf"\b{re.escape(key.rsplit('.', 1)[-1])}\b", message, re.IGNORECASE):
        return True
    wordy = len(value) >= 2 and not re.fullmatch(r"[-+.\d_e]+|true|false|null", value, re.IGNORECASE)
    return wordy and value in message


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
