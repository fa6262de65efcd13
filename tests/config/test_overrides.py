"""Which overrides tell runs apart: one rule (config.overrides), read by the job folders, the report, the
HParams tab and the lecture comparison alike."""

from __future__ import annotations

import pytest
from runs import composed

from imdb_lightning.config.overrides import (
    configuration_label,
    covering_jobs,
    departs_from_lecture,
    incidental_keys,
    names_the_run,
    split_override,
)
from imdb_lightning.results.runs import departures_from_lecture
from imdb_lightning.running.hparams import selected_settings


def test_an_override_is_read_without_hydras_prefixes():
    assert split_override("++model.l2=0.01") == ("model.l2", "0.01")
    assert split_override("~callbacks.layer_diagnostics") == ("callbacks.layer_diagnostics", "")
    assert split_override("data.data_dir=a=b") == ("data.data_dir", "a=b")


def test_the_incidental_keys_are_those_hydra_leaves_out_of_job_folder_names():
    exclude = composed(hydra=True).hydra.job.config.override_dirname.exclude_keys
    assert incidental_keys() == set(exclude) and "data.data_dir" in incidental_keys()


@pytest.mark.parametrize(
    ("key", "names", "departs"),
    [
        ("model.dropout", True, True),
        ("trainer.max_epochs", True, True),
        ("optimizer", True, True),
        ("seed", True, False),
        ("experiment", True, False),
        ("torch_threads", True, False),
        ("callbacks", True, False),
        ("logger.tensorboard.name", True, False),
        ("data.data_dir", False, False),
        ("trainer.enable_progress_bar", False, False),
        ("hydra.run.dir", False, False),
        ("hydra/launcher", False, False),
    ],
)
def test_one_rule_says_which_keys_name_a_run_and_which_make_it_another_experiment(key, names, departs):
    assert names_the_run(key) is names
    assert departs_from_lecture(key) is departs


def test_the_report_and_the_hparams_tab_read_the_same_rule():
    """Every incidental key and Hydra's own settings are left out by both; the rest shows in both."""
    left_out = [f"{key}=x" for key in sorted(incidental_keys())] + ["hydra/launcher=joblib"]
    shown = ["model.l2=0.02", "trainer.max_epochs=3"]
    overrides = ["+experiment=l2", *left_out, *shown]
    assert configuration_label(overrides) == "l2,model.l2=0.02,trainer.max_epochs=3"
    assert departures_from_lecture(overrides) == shown
    settings = selected_settings(composed("+experiment=l2", "model.l2=0.02"), overrides)
    assert {"model/l2", "trainer/max_epochs"} <= set(settings)
    assert not any(key.replace(".", "/") in settings for key in incidental_keys())
    assert not any(key.startswith("hydra") for key in settings)


def test_a_sweep_is_checked_by_a_few_jobs_that_hold_every_swept_value():
    experiments = [f"+experiment={name}" for name in ("baseline", "dropout", "l2", "opt_adam")]
    jobs = [[experiment, f"seed={seed}"] for experiment in experiments for seed in (0, 1, 2)]
    checked = covering_jobs(jobs)
    assert {o for job in checked for o in job} == {o for job in jobs for o in job}
    assert len(checked) == len(experiments)  # each experiment once, the three seeds among them
    assert checked[0] == jobs[0] and all(job in jobs for job in checked)


def test_a_value_that_only_one_job_holds_is_checked():
    jobs = [["a=1", "b=1"], ["a=1", "b=2"], ["a=2", "b=1"], ["a=1", "b=3"]]
    checked = covering_jobs(jobs)
    assert ["a=1", "b=3"] in checked and {"a=2", "b=2"} <= {o for job in checked for o in job}
    assert covering_jobs([]) == [] and covering_jobs([["a=1"]] * 3) == [["a=1"]]
