"""Every test runs with its own empty cache and without the user's data folder, unless it asks for real
data."""

from __future__ import annotations

import builtins
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import make_data_dir  # noqa: E402

# Read before any test changes the environment: CI points this at ../shared/data.
REAL_DATA = os.environ.get("IMDB_LIGHTNING_DATA")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("IMDB_LIGHTNING_DATA", raising=False)
    monkeypatch.setenv("IMDB_LIGHTNING_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A synthetic data folder: an extracted aclImdb tree (20 reviews per split and label) and a word
    index."""
    return make_data_dir(tmp_path / "data")


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-cache")


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch, real_cache: Path) -> Path:
    """The real data folder from $IMDB_LIGHTNING_DATA (CI: ../shared/data), with one cache for the session."""
    if not REAL_DATA or not Path(REAL_DATA).is_dir():
        pytest.skip("real IMDB data not available: set IMDB_LIGHTNING_DATA")
    folder = Path(REAL_DATA).resolve()
    monkeypatch.setenv("IMDB_LIGHTNING_DATA", str(folder))
    monkeypatch.setenv("IMDB_LIGHTNING_CACHE", str(real_cache))
    return folder


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Every attempt to create or write a file or folder under ``folder`` fails as on a read-only mount.

    ``chmod`` blocks nothing for root, which CI runs as; this blocks the calls themselves (``open`` for
    writing, ``os.open`` with a write flag, ``mkdir``), so a test of read-only behaviour can fail."""
    folder = Path(folder).resolve()

    def inside(path) -> bool:
        try:
            return Path(os.fspath(path)).resolve().is_relative_to(folder)
        except (TypeError, ValueError):
            return False

    def refuse(path) -> PermissionError:
        return PermissionError(13, "Read-only file system", str(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+") and inside(file):
            raise refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            raise refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if inside(path):
            raise refuse(path)
        return real_mkdir(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "open", guarded_open)
        mp.setattr(io, "open", guarded_open)
        mp.setattr(os, "open", guarded_os_open)
        mp.setattr(os, "mkdir", guarded_mkdir)
        yield
