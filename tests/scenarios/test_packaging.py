"""The configs live in the repository's top-level ``conf/`` and are found by every kind of install, and so is
the package's Hydra sweeper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Composes the app's config as a user's command would, and says where the package and its configs came from.
COMPOSE = textwrap.dedent(
    """
    import json, sys
    from hydra import compose, initialize_config_dir
    from hydra.core.plugins import Plugins
    from hydra.plugins.sweeper import Sweeper
    import imdb_lightning
    from imdb_lightning.config.files import CONFIG_DIR
    from imdb_lightning.utils.private import expose_hydra_plugins
    expose_hydra_plugins()  # as the command line does before Hydra starts
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["+experiment=batchnorm"])
    print(json.dumps({
        "package": imdb_lightning.__file__,
        "config_dir": str(CONFIG_DIR),
        "experiments": sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml")),
        "batchnorm": cfg.model.batchnorm,
        "sweepers": sorted(c.__module__ for c in Plugins.instance().discover(Sweeper)),
    }))
    """
)

SWEEPER = "hydra_plugins.imdb_lightning_sweeper.each_value"  # conf/hydra/sweeper/each_value.yaml
EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def run_python(code: str, cwd: Path, env: dict | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"pip {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def test_the_repository_keeps_its_configs_at_the_top_level():
    assert (REPO / "conf" / "train.yaml").is_file()
    assert not (REPO / "src" / "imdb_lightning" / "conf").exists()
    assert "baseline" in EXPERIMENTS


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_carries_its_configs(tmp_path):
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(REPO))
    (wheel,) = (tmp_path / "dist").glob("imdb_lightning-*.whl")
    site = tmp_path / "site"
    pip("install", "--no-deps", "--target", str(site), str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The target folder first on the path: it shadows whatever copy this environment has installed.
    found = run_python(COMPOSE, elsewhere, {"PYTHONPATH": str(site)})
    assert Path(found["package"]).is_relative_to(site)
    assert Path(found["config_dir"]) == site / "imdb_lightning" / "conf"
    assert found["experiments"] == EXPERIMENTS and found["batchnorm"] is True
    assert SWEEPER in found["sweepers"]


@pytest.mark.slow
def test_an_editable_install_reads_the_checkouts_configs(tmp_path):
    prefix = tmp_path / "prefix"
    # --prefix and --ignore-installed: into a folder of its own, leaving this environment's install in place.
    pip(
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--ignore-installed",
        "--prefix",
        str(prefix),
        "-e",
        str(REPO),
    )
    (site_packages,) = prefix.glob("lib/python*/site-packages")
    # The editable install's import hook goes first, as if it were the only install of the package.
    code = (
        "import site, sys\n"
        "before = list(sys.meta_path)\n"
        f"site.addsitedir({str(site_packages)!r})\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if f not in before] + before\n" + COMPOSE
    )
    found = run_python(code, tmp_path)
    assert Path(found["package"]) == REPO / "src" / "imdb_lightning" / "__init__.py"
    assert Path(found["config_dir"]) == REPO / "conf"
    assert found["experiments"] == EXPERIMENTS and found["batchnorm"] is True
    assert SWEEPER in found["sweepers"]  # Hydra's scan cannot list what an editable install's hook serves


def test_every_entry_point_has_a_console_script_that_resolves_to_its_main():
    import importlib

    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {
        "imdb-lightning",
        "imdb-lightning-prepare",
        "imdb-lightning-report",
        "imdb-lightning-predict",
    }
    for target in scripts.values():
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), target


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="not a git checkout")
def test_what_runs_write_is_ignored_by_git_wherever_they_run():
    # The README's Optuna storage, and the runs of the notebook opened in docs/ (its kernel runs there).
    written = ["logs/runs/x/metrics.json", "logs/optuna.db", "docs/logs/runs/x/metrics.json"]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *written], cwd=REPO, capture_output=True, text=True
    )
    assert done.stdout.split() == written
