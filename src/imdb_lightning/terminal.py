"""Progress lines that suit where they go: redrawn in place on a terminal, whole lines in a log file, CI or a
SLURM job's output (where a carriage return leaves a smear of half-lines)."""

from __future__ import annotations

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
