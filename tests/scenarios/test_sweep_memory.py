"""A sweep's memory stays flat: each job's data, trainer and model are freed when the job ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.real_data, pytest.mark.slow]

SWEEP = textwrap.dedent(
    """
    import atexit, sys
    # VmHWM: this process's own peak since it started (ru_maxrss would include the forking pytest's)
    atexit.register(lambda: print("VmHWM", open("/proc/self/status").read().split("VmHWM:")[1].split()[0]))
    from imdb_lightning.__main__ import main
    sys.argv = ["imdb_lightning", *sys.argv[1:]]
    main()
    """
)


def sweep_peak_mb(jobs: int, folder, data: str) -> float:
    args = [f"seed=range(0,{jobs})", "trainer.max_epochs=1", "test=false"]
    args.append("trainer.enable_progress_bar=false")
    done = subprocess.run(
        [sys.executable, "-c", SWEEP, "-m", *args, f"hydra.sweep.dir={folder}"],
        env={**os.environ, "IMDB_LIGHTNING_DATA": data},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len([p for p in folder.iterdir() if (p / "metrics.json").is_file()]) == jobs
    return int(done.stdout.split("VmHWM")[-1].split()[0]) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_peak_of_a_15_job_sweep_stays_within_10_percent_of_a_3_job_sweeps(real_data, tmp_path):
    """A job that kept its data alive (75 MB a job before the fix, docs/benchmarks.md) shows 12 times."""
    small = sweep_peak_mb(3, tmp_path / "three", str(real_data))
    large = sweep_peak_mb(15, tmp_path / "fifteen", str(real_data))
    print(f"peak resident memory: 3 jobs {small:.0f} MB, 15 jobs {large:.0f} MB")
    assert large <= 1.10 * small
