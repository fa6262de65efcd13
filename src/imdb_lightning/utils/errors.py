"""The two kinds of error a user can fix, each reported as one clear line instead of a traceback; and the
signals that stop a run (Ctrl-C, and SIGTERM as schedulers send it)."""

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ConfigError(ValueError):
    """A config value is out of range or unknown; the message names the key and what is allowed."""


class DataError(RuntimeError):
    """The data is missing, corrupt or unusable; the message says what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (SLURM's time limit or preemption, ``scancel``, ``docker stop``, ``kill``), raised as Ctrl-C is
    so that a run stops the same way (history, plots and ``interrupted.ckpt`` kept), and exits with 143."""


#: Exit statuses, as shells and schedulers read them: 128 + the signal's number for a stopped run.
EXIT_REFUSED, EXIT_FAILED, EXIT_SIGINT, EXIT_SIGTERM = 2, 1, 130, 143


def sweep_goes_on(err: BaseException, job_number: int) -> bool:
    """Whether a sweep goes on after its job ``job_number`` (from 0) ended in ``err``, on the command line and
    in the notebook alike. A refused first job stops it (it was refused for what every job shares), a later
    one was refused for its own values (``optimizer=sgd`` with ``nesterov=true`` in a grid); a data error
    stops it (every job reads the data); any other failure is recorded in the job's folder and the sweep goes
    on."""
    if isinstance(err, ConfigError):
        return job_number > 0
    return not isinstance(err, DataError)


def first_line(err: BaseException) -> str:
    """The first line of an error's message ("" when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


def in_one_line(err: BaseException) -> str:
    """``Type: the message's first line``: how a run's ``metrics.json`` and the console name a failure.
    Hydra's ``InstantiationException`` ("Error in call to target ...:", the cause on later lines) is named
    by its cause: a model too large for memory says so."""
    if type(err).__name__ == "InstantiationException" and err.__cause__ is not None:
        err = err.__cause__
    line = first_line(err)
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` (Python's default would end the process at
    once, leaving a run marked ``running`` and nothing to resume from); a second SIGTERM while the first is
    handled (the checkpoint being written) is ignored. Lightning's own SIGTERM handler, set during fit, calls
    this one after its own. Only the main thread can set a handler: elsewhere, a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def terminated(signum: int, frame: object) -> None:
        if not received:
            received.append(signum)
            raise Terminated(f"terminated by {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped_by(err: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM behind ``err``: Lightning answers either during fit with ``sys.exit(1)`` raised
    while handling it, and a SIGTERM it notices itself with its ``SIGTERMException``; None for any other."""
    if isinstance(err, KeyboardInterrupt):
        return err
    if type(err).__name__ == "SIGTERMException":  # lightning.pytorch.utilities.exceptions, a SystemExit
        return Terminated("terminated by SIGTERM")
    if isinstance(err, SystemExit) and err.code == 1 and isinstance(err.__context__, KeyboardInterrupt):
        return err.__context__
    return None


@contextmanager
def exit_on_interrupt() -> Iterator[None]:
    """Ctrl-C anywhere in an entry point (reading data, say) ends it with one line and status 130, SIGTERM
    with 143, as shells and schedulers expect; training itself catches either first and keeps what it
    measured. Also a decorator."""
    try:
        with sigterm_interrupts():
            yield
    except Terminated as err:
        print(f"{err or 'terminated by SIGTERM'}: stopped", file=sys.stderr)
        sys.exit(EXIT_SIGTERM)
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(EXIT_SIGINT)
