"""Atomic file output: readers see the old file or the complete new one, never a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, durable: bool = True, **kwargs) -> Iterator[IO]:
    """Write into a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    An exception inside the block (a failed checksum, a full disk, Ctrl-C) deletes the temporary file
    and leaves ``path`` as it was. ``durable`` also waits for the data to reach the disk (``fsync``), so an
    operating-system crash cannot leave an empty file behind the rename; files rewritten every epoch skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
