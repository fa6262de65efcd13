"""A run folder, owned in one place: the names of the files a run leaves, its status, and which run it
belongs to. Training, the callbacks, the notebook API, the report, predict and the HParams tab all go through
:class:`RunFolder`; no other module spells a file name or a status.

A run claims its folder before it writes anything (:meth:`RunFolder.claim`): ``metrics.json`` then says
``running``, with the process and host, and at the end what happened (:class:`Status`). A folder that holds
another run is refused, unless the run continues its own checkpoint there (``ckpt_path`` inside the folder)
and its process is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

from imdb_lightning.utils.atomic import atomic_open
from imdb_lightning.utils.errors import ConfigError, in_one_line


class Status(str, Enum):
    """What became of a run. A run writes the first five; a reader infers the last two."""

    RUNNING = "running"  # written when the run starts; read as crashed once its process is gone
    COMPLETED = "completed"
    DIVERGED = "diverged"  # stopped by StopOnDivergence's rule
    FAILED = "failed"  # an error, named in metrics.json
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM: resumable from checkpoints/interrupted.ckpt
    CRASHED = "crashed"  # read only: the process died without a word (killed, out of memory, node lost)
    MISSING = "missing"  # read only: a job of a sweep that left no folder

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        """Whether the run's process is done with its folder (anything but running)."""
        return self is not Status.RUNNING


def _host() -> str:
    return socket.gethostname() or "localhost"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; a pid from elsewhere
        return True
    return True


class RunFolder:
    """One run's folder: its files by name, and its status read and written."""

    CONFIG = "config.yaml"  # the run's resolved config
    SUMMARY = "summary.txt"  # the Keras-style model summary
    HISTORY = "history.json"  # Keras's History.history, rewritten after every epoch
    HISTORY_CSV = "history.csv"
    METRICS = "metrics.json"  # the status while running; final metrics, status, epochs, fit seconds after
    LOG = "imdb_lightning.log"  # Hydra's job log (hydra.job.name), tracebacks included
    PLOTS = ("loss", "accuracy")  # <metric>.png
    CHECKPOINTS = "checkpoints"
    LAST = "last.ckpt"  # when fit ends: resume with more epochs, or predict
    BEST = "best.ckpt"  # the best epoch by validation accuracy (Lightning's ModelCheckpoint, filename: best)
    INTERRUPTED = "interrupted.ckpt"  # on Ctrl-C, SIGTERM or a crash: the last completed epoch
    TENSORBOARD = "tensorboard"
    HYDRA = ".hydra"  # Hydra's record of the job: overrides.yaml, config.yaml, hydra.yaml
    #: The checkpoint behind a run's printed test line, by its ``test_ckpt`` setting.
    TESTED_CHECKPOINT = {"final": LAST, "best": BEST}

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # ---------------------------------------------------------------------------------------- the files

    def file(self, name: str) -> Path:
        return self.path / name

    def checkpoint(self, name: str) -> Path:
        return self.path / self.CHECKPOINTS / name

    def plot(self, metric: str) -> Path:
        return self.path / f"{metric}.png"

    @property
    def overrides_file(self) -> Path:
        return self.path / self.HYDRA / "overrides.yaml"

    def trained(self) -> bool:
        """Whether a run got as far as training here: its history or a checkpoint is there."""
        return self.file(self.HISTORY).exists() or any(self.path.glob(f"{self.CHECKPOINTS}/*.ckpt"))

    def holds_run(self) -> bool:
        """Whether a run has written here: this version marks ``metrics.json`` first; an older one killed
        early left its history or checkpoints. (Not ``config.yaml``: a project folder may have one.) A run
        refused for its config before it trained is none: the corrected command may take its folder."""
        if self.trained():
            return True
        try:
            metrics = self.read_metrics()
        except ValueError:
            return True
        return metrics is not None and not metrics.get("refused")

    # ----------------------------------------------------------------------------------------- the status

    def read_metrics(self) -> dict | None:
        """``metrics.json`` as a dict; None when it is absent. A file that is there but is no JSON object (a
        disk that filled up, a hand edit) raises ``ValueError``."""
        try:
            text = self.file(self.METRICS).read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"{self.METRICS} cannot be read: {err}") from None
        content = json.loads(text)
        if not isinstance(content, dict):
            raise ValueError(f"{self.METRICS} holds {type(content).__name__}, not an object")
        return content

    @staticmethod
    def status_of(metrics: dict | None) -> Status:
        """The status that ``metrics.json``'s content says, a running run whose process is gone read as
        crashed; no ``metrics.json`` at all is a run that never got to write one (crashed)."""
        if metrics is None:
            return Status.CRASHED
        try:
            status = Status(metrics.get("status", Status.COMPLETED.value))
        except ValueError:
            return Status.CRASHED
        if status is Status.RUNNING and not RunFolder._owner_alive(metrics):
            return Status.CRASHED
        return status

    def status(self) -> Status:
        try:
            return self.status_of(self.read_metrics())
        except ValueError:
            return Status.CRASHED

    @staticmethod
    def _owner_alive(metrics: dict) -> bool:
        """Whether the process a ``running`` mark names still lives (a mark of another host: assumed so)."""
        pid = metrics.get("pid")
        if not isinstance(pid, int) or metrics.get("host") != _host():
            return True
        return _alive(pid)

    def write_metrics(self, metrics: dict) -> None:
        with atomic_open(self.file(self.METRICS), "w") as f:
            json.dump(metrics, f, indent=1, default=str)

    def running_mark(self) -> dict:
        return {
            "status": Status.RUNNING.value,
            "pid": os.getpid(),
            "host": _host(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def record(self, status: Status, **details) -> None:
        """Write the run's final status (and what goes with it: the metrics, the error)."""
        self.write_metrics({**details, "status": status.value})

    def record_failure(self, err: BaseException, *, refused: bool = False) -> None:
        """Status ``failed`` and the error's first line; ``refused``: the config was refused before training
        (the folder holds no run then)."""
        self.record(Status.FAILED, error=in_one_line(err), **({"refused": True} if refused else {}))

    def record_error(self, err: Exception, previous: dict | None) -> None:
        """What the folder says of a run stopped by ``err``: ``failed`` with its first line (``refused`` for a
        config refused before training); a refused continuation of the folder's run puts that run's own record
        back (``previous``, what :meth:`claim` returned)."""
        if isinstance(err, ConfigError) and previous is not None:
            self.write_metrics(previous)
        else:
            self.record_failure(err, refused=isinstance(err, ConfigError) and not self.trained())

    # ---------------------------------------------------------------------------------------- the claim

    def owned_here(self) -> bool:
        """Whether this process's run holds the folder (claimed it earlier: on the command line, Hydra's
        callback claims it before Hydra writes into it)."""
        try:
            metrics = self.read_metrics()
        except ValueError:
            return False
        return bool(
            metrics
            and metrics.get("status") == Status.RUNNING.value
            and metrics.get("pid") == os.getpid()
            and metrics.get("host") == _host()
        )

    def continues(self, resume_from: str | Path | None) -> bool:
        """Whether a run resuming from ``resume_from`` continues the run of this folder (its checkpoint)."""
        return resume_from is not None and self._inside(Path(resume_from))

    def claim(self, resume_from: str | Path | None = None) -> dict | None:
        """Make the folder this run's, or raise :class:`ConfigError` saying whose it is and what to do.

        Free: a folder that does not exist, or holds no run (Hydra's own ``.hydra/`` and log may be there).
        Also free to the run that continues its own checkpoint here (``resume_from`` inside the folder) once
        that run's process is gone: then the ``metrics.json`` it replaces is returned, for a refused
        continuation to put back. Processes claiming at once take turns (a lock on the folder), and the
        first takes it (an exclusive create, also between hosts that share the folder)."""
        if self.owned_here():
            return None
        self.path.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):  # what the folder holds, then the write: one claim at a time
            return self._claim(resume_from)

    def _claim(self, resume_from: str | Path | None) -> dict | None:
        mark = json.dumps(self.running_mark(), indent=1)
        if not self.holds_run():
            if self.file(self.METRICS).exists():  # a refused run's record: replaced
                self.write_metrics(json.loads(mark))
                return None
            try:
                fd = os.open(self.file(self.METRICS), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pass  # another process claimed it first: say whose below
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(mark)
                return None
        status = self.status()
        if status is Status.RUNNING:
            raise ConfigError(
                f"the run folder {self.path} is in use by a run that is still running ({self._owner()}): "
                "choose another (hydra.run.dir=PATH, or hydra.sweep.dir=PATH for a sweep)"
            )
        if self.continues(resume_from):  # the same run, continued in its own folder
            try:
                previous = self.read_metrics()
            except ValueError:
                previous = None
            self.write_metrics(json.loads(mark))
            return previous
        hint = self._continue_hint()
        raise ConfigError(
            f"the run folder {self.path} holds another run ({status}): choose a new folder "
            f"(hydra.run.dir=PATH, or hydra.sweep.dir=PATH for a sweep){hint}, or move that run away"
        )

    def _inside(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self.path.resolve())
        except OSError:
            return False

    def _owner(self) -> str:
        try:
            metrics = self.read_metrics() or {}
        except ValueError:
            metrics = {}
        return f"process {metrics.get('pid')} on {metrics.get('host')}, started {metrics.get('started')}"

    def _continue_hint(self) -> str:
        for name in (self.INTERRUPTED, self.LAST):
            if self.checkpoint(name).is_file():
                return f", or continue it there with ckpt_path={self.checkpoint(name)}"
        return ""


class SweepFolder:
    """A sweep's folder (``hydra.sweep.dir``): one job folder (:class:`RunFolder`) per job, the plan Hydra
    records, and one TensorBoard root for all jobs."""

    PLAN = "multirun.yaml"  # the sweep's overrides, as Hydra records them (the last sweep's, if several)
    TENSORBOARD = RunFolder.TENSORBOARD

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def jobs(self) -> list[RunFolder]:
        """Every job folder (one with Hydra's record of its overrides), by name."""
        return [RunFolder(p) for p in sorted(self.path.iterdir()) if RunFolder(p).overrides_file.is_file()]


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """This process alone inside the block among those that lock ``folder`` (an exclusive ``flock`` of the
    folder itself: no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
