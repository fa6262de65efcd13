"""A stored Optuna study: the sampler's seed that makes a rerun go on, and the storage checked first."""

import pytest

from imdb_lightning.running.study import storage_problem, study_seed

optuna = pytest.importorskip("optuna")


def _study_with_trials(url: str, name: str, n: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=url)
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=n)


def test_a_new_study_takes_the_configured_seed(tmp_path):
    assert study_seed(1234, None, "imdb") == 1234
    assert study_seed(1234, "None", "imdb") == 1234  # how a null storage reaches a resolver
    assert study_seed(1234, f"sqlite:///{tmp_path / 'empty.db'}", "imdb") == 1234


def test_a_stored_study_moves_the_seed_on_by_the_trials_it_holds(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    _study_with_trials(url, "imdb", 3)
    _study_with_trials(url, "other", 2)
    assert study_seed(1234, url, "imdb") == 1237
    assert study_seed(1234, url, "other") == 1236
    assert study_seed(7, url, "new") == 7


def test_a_storage_in_the_log_folder_gets_the_folder_made_and_nowhere_else(tmp_path):
    logs = tmp_path / "logs"
    assert storage_problem(f"sqlite:///{logs / 'optuna.db'}", log_dir=logs) is None
    assert logs.is_dir()
    elsewhere = tmp_path / "elsewhere"
    assert storage_problem(f"sqlite:///{elsewhere / 'optuna.db'}", log_dir=logs) == (
        f"the folder {elsewhere} does not exist"
    )
    assert not elsewhere.exists()
