"""Command-line overrides: how one is read, the one rule of which of them tell runs apart, and how a sweep's
expand into its jobs."""

from __future__ import annotations

import functools
import itertools
import re

from hydra.core.hydra_config import HydraConfig

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.utils import safe_yaml


def split_override(override: str) -> tuple[str, str]:
    """An override's key, without Hydra's ``+``, ``++`` or ``~``, and its value: ``("seed", "1")``."""
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


@functools.cache
def incidental_keys() -> frozenset[str]:
    """Keys whose overrides do not name a run (the data folder, the progress bar, ...): the app's
    ``hydra.job.config.override_dirname.exclude_keys``, which also keeps them out of job folder names."""
    hydra_config = safe_yaml.parse((CONFIG_DIR / "hydra" / "default.yaml").read_text())
    return frozenset(hydra_config["job"]["config"]["override_dirname"]["exclude_keys"])


#: Keys that change where a run goes, how fast, or what it records, and not what it learns: a run that sets
#: them is still its lecture experiment (the report compares it with the lecture's figures). ``callbacks`` is
#: the group's choice: the diagnostics add histograms and change nothing trained.
HOW_IT_RUNS = frozenset(
    {
        "torch_threads",
        "trainer.accelerator",
        "data.batch_format",
        "data.eval_batch_size",
        "data.cache",
        "callbacks",
        "callbacks.keras_history.plots",
    }
)


def hydras_own(key: str) -> bool:
    """Whether ``key`` is one of Hydra's settings (``hydra.run.dir``, ``hydra/launcher``)."""
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def names_the_run(key: str) -> bool:
    """Whether an override of ``key`` tells runs apart (their TensorBoard names, the HParams tab, the report's
    configurations): any but Hydra's own settings and the incidental keys."""
    return not hydras_own(key) and key not in incidental_keys()


def departs_from_lecture(key: str) -> bool:
    """Whether an override of ``key`` makes a run another than its lecture experiment: one that names the run,
    other than the experiment, the seed, a logger's setting or one of :data:`HOW_IT_RUNS`."""
    same = key in ("experiment", "seed") or key in HOW_IT_RUNS or key.split(".", 1)[0] == "logger"
    return names_the_run(key) and not same


def configuration_label(overrides: list[str]) -> str:
    """What names a configuration: the overrides that name its runs, less the seed (runs are grouped over
    it); ``+experiment=`` shows as the bare experiment name."""
    parts = []
    for override in overrides:
        key, value = split_override(override)
        if key != "seed" and names_the_run(key):
            parts.append(value if key == "experiment" else f"{key}={value}")
    return ",".join(parts) or "default"


def run_title(overrides: list[str], seed: object) -> str:
    """What one run's figures are titled by: its configuration and its seed (``dropout (seed 1)``)."""
    return f"{configuration_label(overrides)} (seed {seed})"


def configuration_labels(override_lists: list[list[str]]) -> list[str]:
    """The label of each of several runs, less the overrides all of them share: ``trainer.max_epochs=5``
    given to a whole sweep names none of its configurations (the experiment is always kept)."""
    if len(override_lists) < 2:
        return [configuration_label(overrides) for overrides in override_lists]
    shared = set.intersection(*(set(overrides) for overrides in override_lists))
    shared = {o for o in shared if split_override(o)[0] != "experiment"}
    return [configuration_label([o for o in overrides if o not in shared]) for overrides in override_lists]


#: A number with more than four significant digits after its point, as Optuna proposes them.
_LONG_NUMBER = re.compile(r"(?<==)(-?\d+\.\d*[1-9]\d{4,}(?:e-?\d+)?)(?=,|$)")


def short_numbers(overrides: str) -> str:
    """Comma-joined overrides with each long number to four significant digits, for a name or a line
    (``optimizer.lr=0.0012345678901`` as ``optimizer.lr=0.001235``)."""
    return _LONG_NUMBER.sub(lambda m: f"{float(m.group(1)):.4g}", overrides)


def command_line_overrides() -> list[str]:
    """The overrides this run's command gave that name it (a sweep job's own values included); none outside
    Hydra."""
    if not HydraConfig.initialized():
        return []
    return [o for o in HydraConfig.get().overrides.task if names_the_run(split_override(o)[0])]


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The override list of every job of a sweep given as on the command line (``seed=0,1``,
    ``+experiment=glob(*)``), in the order Hydra's basic sweeper launches them."""
    from imdb_lightning.utils.private import hydra_sweep_expansion

    return list(itertools.chain.from_iterable(hydra_sweep_expansion(overrides, CONFIG_DIR)))


def covering_jobs(jobs: list[list[str]]) -> list[list[str]]:
    """A few of ``jobs`` (a greedy cover: each next one holds the most overrides not yet held) whose override
    lists hold every override of ``jobs``: a sweep's every swept value composed at least once, instead of once
    a job (``seed=0,1,2`` times 24 experiments: 24 jobs of 72)."""
    missing = {override for job in jobs for override in job}
    chosen = []
    while missing:
        job = max(jobs, key=lambda job: len(missing.intersection(job)))  # the first of the best, in order
        chosen.append(job)
        missing.difference_update(job)
    return chosen
