"""The two kinds of error a user can fix, each reported as one clear line instead of a traceback; and
Ctrl-C."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class ConfigError(ValueError):
    """A config value is out of range or unknown; the message names the key and what is allowed."""


class DataError(RuntimeError):
    """The data is missing, corrupt or unusable; the message says what to do."""


def first_line(err: BaseException) -> str:
    """The first line of an error's message ("" when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


def in_one_line(err: BaseException) -> str:
    """``Type: the message's first line``: how a run's ``metrics.json`` and the console name a failure."""
    line = first_line(err)
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


@contextmanager
def exit_on_interrupt() -> Iterator[None]:
    """Ctrl-C anywhere in an entry point (reading data, say) ends it with one line and status 130, as shells
    expect; training itself catches Ctrl-C first and keeps what it measured. Also a decorator."""
    try:
        yield
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
