"""What Hydra's runtime says about this run (a sweep job? how many side by side?) and the threads it gets."""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode


def in_sweep() -> bool:
    """Whether this run is a job of a ``-m`` sweep."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_job_number() -> int:
    """This sweep job's number (Hydra's ``hydra.job.num``, from 0); 0 outside a sweep."""
    return int(HydraConfig.get().job.num or 0) if in_sweep() else 0


def parallel_jobs() -> int | None:
    """How many sweep jobs run at once on this machine (the joblib launcher's n_jobs), if known."""
    if not in_sweep():
        return None
    launcher = HydraConfig.get().launcher
    return launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")) else None


def torch_threads(configured: int | None, parallel_jobs: int | None, cores: int) -> int:
    """Threads for one run: as configured, else the cores shared out among jobs running side by side."""
    if configured:
        return int(configured)
    if not parallel_jobs or parallel_jobs < 0:  # joblib's -1: one job per core
        parallel_jobs = cores if parallel_jobs and parallel_jobs < 0 else 1
    return max(1, cores // parallel_jobs)
