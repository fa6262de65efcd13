"""A sweep's runs as the report reads them: one per job folder, with its configuration, seed, status, history
and metrics; a planned job that never ran a folder is one too (missing). Nothing unreadable is dropped
silently: it is named in the run's ``unreadable``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from imdb_lightning.config.overrides import (
    configuration_labels,
    departs_from_lecture,
    split_override,
    sweep_jobs,
)
from imdb_lightning.running.folder import RunFolder, Status, SweepFolder
from imdb_lightning.running.plots import as_floats
from imdb_lightning.utils import safe_yaml

#: Every status a job can have, in the order the report counts them (see :class:`Status`).
STATUSES = tuple(Status)


@dataclass
class Run:
    """One job folder of a sweep, and what it left behind."""

    folder: Path
    job: int | None
    label: str
    seed: int | None
    status: Status
    history: dict[str, list[float | None]] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    # The run's `lecture` config node: the report figure (section) it joins, its row order, the lecture's
    # published figures. An experiment file sets it, so adding one needs no change here.
    lecture: dict = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # files of the folder that could not be parsed
    departures: list[str] = field(default_factory=list)  # overrides that change the lecture's experiment

    def series(self, key: str) -> np.ndarray:
        return as_floats(self.history.get(key, []))


def departures_from_lecture(overrides: list[str]) -> list[str]:
    """The overrides that make a run another than the lecture's experiment (the epochs, a learning rate, the
    data: :func:`~imdb_lightning.config.overrides.departs_from_lecture`)."""
    return [o for o in overrides if departs_from_lecture(split_override(o)[0])]


def _seed(overrides: list[str], config: dict) -> int | str | None:
    """The run's seed: an integer, or as given when it is none (a job refused for ``seed=1.5``)."""
    for override in overrides:
        key, value = split_override(override)
        if key == "seed":
            return int(value) if value.strip().lstrip("-").isdigit() else value
    return config.get("seed")


def expected_jobs(sweep: Path) -> list[list[str]] | None:
    """The override lists of every job the sweep launched, in Hydra's job order; None when unknowable."""
    multirun = sweep / SweepFolder.PLAN
    if not multirun.is_file():
        return None
    try:
        return sweep_jobs(safe_yaml.parse(multirun.read_text())["hydra"]["overrides"]["task"])
    except Exception:  # noqa: BLE001 -- a sweep we cannot expand still reports the jobs it has
        return None


def _read(path: Path, parse: Callable[[str], object], kind: type, unreadable: list[str]):
    """A job file's content (an empty ``kind`` when the file is absent); a file that is there but cannot be
    parsed (a disk filled up, a hand edit) is named in ``unreadable`` and read as empty, so that one folder
    never stops a report."""
    if not path.is_file():
        return kind()
    try:
        content = parse(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        content = None
    if content is None and path.stat().st_size == 0:
        return kind()
    if not isinstance(content, kind):
        unreadable.append(path.name)
        return kind()
    return content


def _history_of(content: dict, name: str, unreadable: list[str]) -> dict[str, list[float | None]]:
    """A history as the report reads it: each key a list of numbers (None for a diverged epoch's). Valid
    JSON of another shape is named in ``unreadable`` and read as empty, as an unparsable file is."""
    number = (int, float)
    if all(
        isinstance(values, list)
        and all(v is None or (isinstance(v, number) and not isinstance(v, bool)) for v in values)
        for values in content.values()
    ):
        return content
    unreadable.append(name)
    return {}


def collect_runs(sweep: Path) -> list[Run]:
    """Every job of the sweep: each folder it left (a job is its folder: two sweeps into one folder number
    their jobs alike), and each job of the last sweep's plan that left none (``missing``)."""
    found: list[tuple[Run, list[str]]] = []
    for folder in SweepFolder(sweep).jobs():
        path = folder.path
        unreadable: list[str] = []
        overrides = [str(o) for o in _read(folder.overrides_file, safe_yaml.parse, list, unreadable)]
        config = _read(folder.file(RunFolder.CONFIG), safe_yaml.parse, dict, unreadable)
        head = path.name.split("-", 1)[0]
        job = int(head) if head.isdigit() else None
        history = _history_of(
            _read(folder.file(RunFolder.HISTORY), json.loads, dict, unreadable), RunFolder.HISTORY, unreadable
        )
        metrics = _read(folder.file(RunFolder.METRICS), json.loads, dict, unreadable)
        status = RunFolder.status_of(metrics or None)
        lecture = config.get("lecture") if isinstance(config.get("lecture"), dict) else {}
        run = Run(path, job, "", _seed(overrides, config), status, history, metrics, lecture, unreadable)
        run.departures = departures_from_lecture(overrides)
        found.append((run, overrides))
    seen = {frozenset(overrides) for _, overrides in found}
    for job, overrides in enumerate(expected_jobs(sweep) or []):
        if frozenset(overrides) not in seen:
            missing = Run(sweep / f"{job}-?", job, "", _seed(overrides, {}), Status.MISSING)
            found.append((missing, overrides))
    ordered = sorted(
        found,
        key=lambda r: (r[0].job is None, r[0].job if r[0].job is not None else 0, str(r[0].folder)),
    )
    for (run, _), label in zip(ordered, configuration_labels([o for _, o in ordered]), strict=True):
        run.label = label
    return [run for run, _ in ordered]
