"""Every use of a library's private API, in one place; ``tests/utils/test_private.py`` pins the behaviour each
relies on, so that an upgrade that changes it fails there, by name, and not deep inside a run.

- Hydra: expanding a sweep's overrides into its jobs as the basic sweeper does (``hydra._internal``),
  setting the ``HydraConfig`` singleton for a run the notebook API starts without Hydra's app, and showing
  Hydra's plugin scan this package's sweeper in an editable install (the namespace package's path). The
  sweeper itself (``hydra_plugins/imdb_lightning_sweeper``, where Hydra requires it) extends the basic
  sweeper's class, which Hydra keeps in ``hydra._internal``, overriding its ``validate_batch_is_legal``
  (pinned by ``tests/config/test_config.py``: a sweep whose second job cannot be composed runs no job).
- Lightning: the checkpoint ``trainer.save_checkpoint`` would write, as a dict (``_checkpoint_connector``),
  the layout of its fit-loop progress counters, and the count a ``LightningOptimizer`` keeps of manual
  optimizer steps (its ``_on_before_step``/``_on_after_step``, which the manual optimization loop sets).
- TensorBoard: writing a prepared ``Summary`` (an encoded image, the HParams session records) through a
  ``SummaryWriter``'s file writer, which its public methods would build again.
- Hydra's joblib launcher and joblib: the ``Parallel`` arguments the launcher builds from its config
  (``_core.process_joblib_cfg``), so that workers started before it launches are the ones it reuses (joblib
  keeps one executor for calls with the same arguments), and that closing a ``Parallel`` generator early kills
  its workers.

Left where they are: ``torch._foreach_*`` (the multi-tensor ops of torch's own optimizers, in
:mod:`imdb_lightning.network.optimizers`; the optimizer tests step them against Keras's formulas).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def hydra_sweep_expansion(overrides: list[str], config_dir: Path) -> list[list[list[str]]]:
    """Hydra's basic sweeper's split of a sweep's overrides into batches of jobs (each a list of overrides);
    the config folder expands ``glob()`` over a group."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra._internal.utils import create_config_search_path
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir)))
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(list(overrides))
    return BasicSweeper.split_arguments(parsed, None)


def expose_hydra_plugins() -> None:
    """Let Hydra's plugin scan find this package's sweeper (``hydra_plugins/imdb_lightning_sweeper``) in an
    editable install too: setuptools' editable import hook serves its modules but cannot list them to
    ``pkgutil``, which Hydra 1.3 scans ``hydra_plugins`` with; the folder beside this package is added to the
    namespace's path. An ordinary install has it there already."""
    try:
        import hydra_plugins
    except ImportError:
        return
    folder = str(Path(__file__).resolve().parents[2] / "hydra_plugins")
    if Path(folder).is_dir() and folder not in list(hydra_plugins.__path__):
        hydra_plugins.__path__.append(folder)


@contextmanager
def hydra_runtime(cfg: Any) -> Iterator[None]:
    """Hydra's view of a run (``${hydra:...}`` values, ``HydraConfig.get()``) set to ``cfg``'s ``hydra``
    node, as a command-line run has it; the previous view back afterwards."""
    from hydra.core.hydra_config import HydraConfig

    instance = HydraConfig.instance()
    previous = instance.cfg
    instance.set_config(cfg)
    try:
        yield
    finally:
        instance.cfg = previous


def lightning_checkpoint(trainer: Any) -> dict:
    """What ``trainer.save_checkpoint`` would write now, as a dict (Lightning's own assembly of it)."""
    return trainer._checkpoint_connector.dump_checkpoint(weights_only=False)


def counted_step(optimizer: Any) -> None:
    """Step a ``LightningOptimizer``'s torch optimizer and count the step as Lightning's ``step`` counts it
    (``trainer.global_step``), without the precision plugin's hooks and clipping around it."""
    optimizer._on_before_step()
    optimizer.optimizer.step()
    optimizer._on_after_step()


def as_epoch_end(checkpoint: dict) -> None:
    """Make a checkpoint taken at an epoch's start read as the end of the epoch before: Lightning has counted
    the new epoch "ready" by then, which a restore would read as a restart inside it."""
    for counts in checkpoint["loops"]["fit_loop"]["epoch_progress"].values():
        counts["ready"] = counts["completed"]


def write_summary(writer: Any, summary: Any, step: int | None = None) -> None:
    """Write a prepared ``Summary`` protobuf through a ``SummaryWriter``."""
    writer._get_file_writer().add_summary(summary, step)


def start_joblib_workers(
    launcher: Any, task: Callable[[], object], jobs: int
) -> Callable[[bool], list] | None:
    """Start the worker processes of Hydra's joblib ``launcher`` now, each running ``task`` once (as many as
    it runs at once, at most ``jobs``), and return ``finish``: ``finish(True)`` waits for the tasks, returns
    what they returned and leaves the workers to the launcher, whose ``Parallel`` call reuses them;
    ``finish(False)`` kills them. None where ``launcher`` is not joblib's or runs its jobs one at a time."""
    try:
        from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
        from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
        from joblib import Parallel, delayed, effective_n_jobs
    except ImportError:
        return None
    if not isinstance(launcher, JoblibLauncher):
        return None
    arguments = {**launcher.joblib, "backend": "loky"}  # as the launcher's launch() builds them
    process_joblib_cfg(arguments)
    workers = min(effective_n_jobs(arguments.get("n_jobs")), jobs)
    if workers < 2:
        return None
    started = Parallel(**arguments, return_as="generator_unordered")(delayed(task)() for _ in range(workers))

    def finish(keep: bool) -> list:
        if keep:
            try:
                return list(started)
            except Exception:  # noqa: BLE001 -- a worker that fails here fails the jobs, which report it
                return []
        with warnings.catch_warnings():  # joblib warns that the started tasks were cancelled: as asked
            warnings.simplefilter("ignore")
            started.close()  # joblib kills the workers of a generator closed before its end
        return []

    return finish
