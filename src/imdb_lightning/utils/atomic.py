"""Atomic file output: readers see the old file or the complete new one, never a half-written one."""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# ``.<name>.<host>.<pid>.<random>.part``: who writes it, so that a later start can tell a dead writer's file.
_PART = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[^.]+\.part$")
_FOREIGN_AGE_S = 24 * 3600  # another machine's (shared disk) or an old-style temporary: only once this old


def _host() -> str:
    return socket.gethostname().replace(".", "-") or "host"


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, durable: bool = True, **kwargs) -> Iterator[IO]:
    """Write into a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    An exception inside the block (a failed checksum, a full disk, Ctrl-C) deletes the temporary file
    and leaves ``path`` as it was. ``durable`` also waits for the data to reach the disk (``fsync``), so an
    operating-system crash cannot leave an empty file behind the rename; files rewritten every epoch skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".part", dir=path.parent
    )
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clear_stale_parts(folder: str | Path) -> list[Path]:
    """Delete the temporary files that a killed writer left in ``folder``; return them.

    A temporary of this machine is stale when the process that wrote it is gone; one of another machine (a
    shared disk) or without a writer in its name only when it is a day old. A file being written is kept.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.glob(".*.part"):
        match = _PART.match(path.name)
        try:
            if match and match["host"] == _host():
                stale = not _alive(int(match["pid"]))
            else:
                stale = time.time() - path.stat().st_mtime > _FOREIGN_AGE_S
            if stale:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone already, or not ours to delete
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted write in %s", len(removed), folder)
    return removed


def unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot hold a run's files, or None: it is made (as Hydra would) and a file is
    written."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A name of its own: every DDP process checks the shared run folder at the same moment, and with one
        # name for all a process could delete another's probe before that one did.
        handle, probe = tempfile.mkstemp(prefix=".imdb_lightning_write_check", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        return err.strerror or type(err).__name__
    return None
