"""Hydra's basic sweeper, which checks a sweep's every swept value before the first job starts, composing a
config for each value rather than for each job.

The basic sweeper composes every job's config in the main process before launching any (a typo fails at
once, not an hour in), one after another while the launcher's workers wait (docs/benchmarks.md: most of the
lecture's start). Composing one job for each value of each swept setting catches the same typos and refused
groups; a failure that only a combination of values causes stops the sweep at that job's turn instead.
Jobs are launched exactly as by the basic sweeper, whose private class this extends (``utils/private.py``).

With the joblib launcher, its workers start while the values are checked: each imports what a run needs
(PyTorch, Lightning: seconds) on the cores the checks leave, and a sweep refused at its values kills them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.errors import ConfigCompositionException


def _import_a_run() -> None:
    """A joblib worker's first task: the imports every job's run needs."""
    import imdb_lightning.running.train  # noqa: F401


class EachValueSweeper(BasicSweeper):
    _workers_started = False

    def sweep(self, arguments: list[str]) -> Any:
        # Hydra's own check is an assert (a bare traceback). Raised here, outside instantiate's wrapping,
        # this exception is printed as its line alone, before any job folder is made.
        size = self.max_batch_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            raise ConfigCompositionException(
                f"error: hydra.sweeper.max_batch_size must be a positive integer or null, got {size!r}"
            )
        # Hydra's joblib launcher keeps its settings in ``joblib``; joblib answers 0 with a traceback.
        if getattr(self.launcher, "joblib", {}).get("n_jobs", -1) == 0:
            raise ConfigCompositionException(
                "error: hydra.launcher.n_jobs must not be 0 (N: N jobs at once; -1: one a core), got 0"
            )
        return super().sweep(arguments)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        from imdb_lightning.config.overrides import covering_jobs
        from imdb_lightning.utils.private import start_joblib_workers

        workers = None
        if not self._workers_started:  # the first batch's; later batches find them running
            self._workers_started = True
            workers = start_joblib_workers(self.launcher, _import_a_run, len(batch))
        try:
            super().validate_batch_is_legal(covering_jobs([list(job) for job in batch]))
        except BaseException:
            if workers:
                workers(False)
            raise
        if workers:
            workers(True)
