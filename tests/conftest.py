"""Every test runs with its own empty cache and without the user's data folder, unless it asks for real data."""

from __future__ import annotations

import os
import sys
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
    """A synthetic data folder: an extracted aclImdb tree (20 reviews per split and label) and a word index."""
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
