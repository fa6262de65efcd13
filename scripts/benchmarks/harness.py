"""What every benchmark shares: a measured child process, CPU-bound competitors, interleaved rounds, tables,
and writing a table into docs/benchmarks.md between its markers (so that the page shows what the code
measured, with the command and the day).

The machine is shared and noisy: every measure runs once a round, in interleaved rounds, so that a burst of
load slows one try of each rather than every try of one; read the ratios within one table.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmarks.md"


def measured(cmd: list[str], env: dict | None = None) -> tuple[int, str, float, float]:
    """Run ``cmd``: its exit code, its output, its own peak resident memory (MB) and its wall seconds. The
    caller must not import torch: a forked child's ``ru_maxrss`` starts from its parent's."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env or os.environ.copy(), text=True
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        return os.waitstatus_to_exitcode(status), out.read(), usage.ru_maxrss / 1024, seconds


@contextlib.contextmanager
def competing(processes: int) -> Iterator[None]:
    """``processes`` CPU-bound competitors (a busy loop each, as a second job or another program would be)
    for the block's duration, then stopped."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(0.5 if busy else 0)  # scheduled before the measure starts
        yield
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


def rounds(measures: dict[str, Callable[[], object]], repeat: int, warm_up: bool = False) -> dict[str, list]:
    """Every measure once a round, ``repeat`` rounds (after one unrecorded round with ``warm_up``): each
    measure's tries. A measure that answers ``{"skipped": why}`` is not tried again."""
    if warm_up:
        for measure in measures.values():
            measure()
    tries: dict[str, list] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, measure in measures.items():
            if not (tries[name] and isinstance(tries[name][0], dict) and "skipped" in tries[name][0]):
                tries[name].append(measure())
    return tries


def fastest(tries: list, key: str | None = None):
    """The fastest try (by ``key`` of a dict try), with every try's seconds beside it."""
    if isinstance(tries[0], dict):
        if "skipped" in tries[0]:
            return tries[0]
        best = min(tries, key=lambda t: t[key])
        return {**best, "tries": [round(t[key], 3) for t in tries]}
    return min(tries)


def median(tries: list[float]) -> float:
    return statistics.median(tries)


def machine() -> str:
    """This machine, as the tables say it: processor, cores, torch; and the day."""
    torch_version = importlib.metadata.version("torch")
    cpu = platform.processor() or platform.machine()
    return f"{datetime.date.today()}, {cpu}, {os.cpu_count()} cores, torch {torch_version}"


@dataclass
class Table:
    """A markdown table, and where it comes from: the command that measured it and the machine's state."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    command: str = ""
    note: str = ""

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        source = f"Measured {machine()}" + (f"; {self.note}" if self.note else "") + f": `{self.command}`."
        return "\n".join([*lines, "", source])


def write_docs(tables: dict[str, Table], page: Path = DOC) -> None:
    """Put each table into ``page`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``."""
    text = page.read_text()
    for name, table in tables.items():
        marker = re.escape(name)
        pattern = re.compile(rf"(<!-- bench:{marker} -->\n)(?:.*?\n)?(<!-- /bench:{marker} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{page} has no <!-- bench:{name} --> ... <!-- /bench:{name} --> markers")
        text = pattern.sub(lambda m, t=table: f"{m.group(1)}{t.markdown()}\n{m.group(2)}", text)
    page.write_text(text)
    print(f"wrote {', '.join(tables)} into {page}", file=sys.stderr)


def command_line() -> str:
    """How this benchmark was started, as a reader would type it."""
    data = "IMDB_LIGHTNING_DATA=../shared/data " if os.environ.get("IMDB_LIGHTNING_DATA") else ""
    args = [a for a in sys.argv[1:] if a != "--write-docs"]
    return f"{data}python scripts/bench.py {' '.join(args)}".strip()
