"""Tasks for the worker processes a test starts: a worker imports this module to run one, so it imports
nothing heavy (a test module would bring PyTorch and Lightning into every worker)."""

from __future__ import annotations

import os
import time


def pid_after(seconds: float) -> int:
    """A task that lasts: each idle worker takes one, as each takes one of the sweeper's imports."""
    time.sleep(seconds)
    return os.getpid()
