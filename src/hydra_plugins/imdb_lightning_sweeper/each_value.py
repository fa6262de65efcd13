"""Hydra's basic sweeper, which checks a sweep's every swept value before the first job starts, composing a
config for each value rather than for each job.

The basic sweeper composes every job's config in the main process before launching any (a typo fails at
once, not an hour in), one after another while the launcher's workers wait (docs/benchmarks.md: most of the
lecture's start). Composing one job for each value of each swept setting catches the same typos and refused
groups; a failure that only a combination of values causes stops the sweep at that job's turn instead.
Jobs are launched exactly as by the basic sweeper, whose private class this extends (``utils/private.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class EachValueSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        from imdb_lightning.config.overrides import covering_jobs

        super().validate_batch_is_legal(covering_jobs([list(job) for job in batch]))
