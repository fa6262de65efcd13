"""Progress lines that suit where they go: redrawn in place on a terminal, whole lines in a log file, CI or a
SLURM job's output (where a carriage return leaves a smear of half-lines)."""

from __future__ import annotations

import logging
import re
import sys


def interactive() -> bool:
    """Whether a line can be redrawn in place: standard error is a terminal."""
    return sys.stderr.isatty()


def progress(text: str, *, done: bool = False) -> None:
    """Show ``text`` on standard error: over the previous progress line on a terminal, else as a line."""
    if interactive():
        print(f"\r{text}", end="\n" if done else "", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def plain(docstring: str) -> str:
    """A docstring as a command's ``--help`` shows it: reST's ````literal```` and ``:func:`name``` roles as
    the bare text."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", docstring)
    return text.replace("``", "")


class ConsoleHandler(logging.StreamHandler):
    """Hydra's console handler, which on a terminal lifts the progress bars off their line while it writes
    one: a bar ends its line only when it closes, so a log line written mid-bar would end the bar's."""

    def emit(self, record: logging.LogRecord) -> None:
        if not _is_terminal(self.stream):
            super().emit(record)
            return
        from tqdm import tqdm  # Lightning's bars are tqdm's

        with tqdm.external_write_mode(file=self.stream):
            super().emit(record)


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class ConsoleFormatter(logging.Formatter):
    """Log records for a person at a terminal: the message alone, as Keras prints its epoch lines, with
    ``warning:`` or ``error:`` in front of those that are one. A record whose traceback goes to a file
    (``extra={"traceback_in": path}``) shows where instead of the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        where = getattr(record, "traceback_in", None)
        if where and record.exc_info:
            # A copy: the same record goes on to the file's handler, traceback and all.
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
            record.msg = f"{record.getMessage()} (traceback: {where})"
            record.args = None
        message = super().format(record)
        if record.levelno >= logging.ERROR and not message.startswith("error"):
            return f"error: {message}"
        if record.levelno == logging.WARNING:
            return f"warning: {message}"
        return message
