"""An Optuna study kept in a database: whether the storage can hold it, and the sampler's seed that makes a
rerun go on with the study instead of repeating its first trials."""

from __future__ import annotations

from pathlib import Path

from imdb_lightning.utils.errors import first_line


def study_seed(seed: int, storage: str | None, study_name: str) -> int:
    """The sampler's seed for a search: ``seed`` for a new study, ``seed`` plus the trials the storage holds
    for one that goes on. A fixed seed would propose a rerun's first trials again (TPE's first trials are
    random draws from that seed), so the same command twice ran the same configurations twice."""
    if not storage or str(storage) == "None":
        return int(seed)
    import optuna  # the sweep extra's; only a search with a storage gets here

    try:
        summaries = optuna.get_all_study_summaries(str(storage))
    except Exception:  # noqa: BLE001 -- a storage that cannot be read is refused by name before any trial
        return int(seed)
    return int(seed) + sum(s.n_trials for s in summaries if s.study_name == study_name)


#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


def storage_problem(url: str, log_dir: str | Path | None = None) -> str | None:
    """Why an Optuna storage URL cannot hold a study, or None: it is no database URL, or an SQLite file
    whose folder is missing or which is another kind of file. A file directly in ``log_dir`` (the folder
    every run goes under, where the README puts the study) gets that folder made."""
    from sqlalchemy.engine import make_url  # the sweep extra's; only sweeps with a storage get here

    try:
        parsed = make_url(url)
    except Exception as err:  # noqa: BLE001 -- SQLAlchemy's ArgumentError, ValueError, ...
        return f"it is not a database URL ({first_line(err)}); e.g. sqlite:///logs/optuna.db"
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).absolute()
    if log_dir is not None and path.parent == Path(log_dir).absolute():
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    if path.is_dir():
        return f"{path} is a folder"
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            if f.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                return f"{path} is not an SQLite database"
    return None
