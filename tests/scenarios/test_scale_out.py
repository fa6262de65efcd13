"""Hyperparameter search and scale-out: Optuna (with SQLite storage and resume), joblib, submitit, DDP
config."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import runs
from runs import SMALL, composed

from imdb_lightning.__main__ import missing_plugin, objective, search_without_sweep
from imdb_lightning.config.runtime import torch_threads
from imdb_lightning.utils.errors import ConfigError

pytestmark = pytest.mark.slow


def cli(*args: str, cwd: Path, data_dir: Path) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "imdb_lightning",
        "-m",
        *SMALL,
        "trainer.max_epochs=2",
        f"data.data_dir={data_dir}",
        *args,
    ]
    result = subprocess.run(cmd, cwd=cwd, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def jobs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.name[0].isdigit())


def test_optuna_study_runs_trials_stores_them_in_sqlite_and_resumes(data_dir, tmp_path):
    optuna = pytest.importorskip("optuna")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = ["hparams_search=optuna", f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=t"]
    result = cli(
        *common,
        "hydra.sweeper.n_trials=3",
        f"hydra.sweep.dir={tmp_path / 'a'}",
        cwd=tmp_path,
        data_dir=data_dir,
    )
    assert "Best value" in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # no colour codes where no terminal shows them
    assert len(jobs(tmp_path / "a")) == 3 and (tmp_path / "a" / "optimization_results.yaml").is_file()
    # The same command again goes on with the study: new proposals, not the first run's again.
    cli(
        *common,
        "hydra.sweeper.n_trials=2",
        f"hydra.sweep.dir={tmp_path / 'b'}",
        cwd=tmp_path,
        data_dir=data_dir,
    )
    study = optuna.load_study(study_name="t", storage=storage)
    assert len(study.trials) == 5 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert all(0.0 <= t.value <= 1.0 for t in study.trials)
    first, resumed = study.trials[:3], study.trials[3:]
    assert not [t.number for t in resumed if any(t.params == f.params for f in first)]


def test_joblib_runs_jobs_in_parallel_with_the_cores_shared_out(data_dir, tmp_path):
    result = cli(
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "torch_threads=null",  # the cores shared out among the jobs (the default is one thread a run)
        "optimizer=sgd,adam",
        f"hydra.sweep.dir={tmp_path / 's'}",
        cwd=tmp_path,
        data_dir=data_dir,
    )
    done = jobs(tmp_path / "s")
    assert len(done) == 2 and all((job / "history.json").is_file() for job in done)
    expected = torch_threads(None, 2, os.cpu_count() or 1)
    assert all(f"torch threads: {expected}" in (job / "imdb_lightning.log").read_text() for job in done)
    # The sweep ends with its summary (conf/hydra/default.yaml's callback), printed once by the launcher.
    summary = result.stdout.strip().splitlines()[-3:]
    assert summary[0] == f"sweep of 2 jobs: 2 completed ({tmp_path / 's'})"
    assert summary[1].startswith("best by validation accuracy: ") and ", optimizer=" in summary[1]
    assert result.stdout.count("sweep of 2 jobs") == 1


def test_submitit_local_executor_runs_the_sweep_as_jobs(data_dir, tmp_path):
    cli(
        "hydra/launcher=submitit_local",
        "optimizer=sgd,adam",
        f"hydra.sweep.dir={tmp_path / 's'}",
        cwd=tmp_path,
        data_dir=data_dir,
    )
    done = jobs(tmp_path / "s")
    assert len(done) == 2 and all((job / "metrics.json").is_file() for job in done)
    assert (tmp_path / "s" / ".submitit").is_dir()


def test_launcher_and_trainer_configs_compose():
    slurm = composed("hydra/launcher=slurm", hydra=True)
    ddp = composed("trainer=ddp", "trainer.devices=4")
    assert slurm.hydra.launcher._target_.endswith("SlurmLauncher") and slurm.hydra.launcher.cpus_per_task == 2
    assert (ddp.trainer.strategy, ddp.trainer.devices, ddp.trainer.sync_batchnorm) == ("ddp", 4, True)


def test_a_run_trains_on_one_thread_unless_told_otherwise(data_dir, tmp_path):
    """A second thread gains the lecture's model nothing and collapses its fit beside any busy process."""
    import torch
    from runs import SMALL, compose_run

    from imdb_lightning.running.train import train

    for overrides, expected in (([], 1), (["torch_threads=2"], 2)):
        torch.set_num_threads(3)
        out = tmp_path / f"run{expected}"
        train(compose_run(out, [f"data.data_dir={data_dir}", *SMALL, "trainer.max_epochs=1", *overrides]))
        assert torch.get_num_threads() == expected


def test_threads_are_shared_out_among_parallel_jobs():
    assert torch_threads(None, None, 8) == 8
    assert torch_threads(None, 2, 8) == 4
    assert torch_threads(None, 16, 8) == 1
    assert torch_threads(None, -1, 8) == 1
    assert torch_threads(3, 2, 8) == 3


def test_a_diverged_or_nan_trial_scores_the_finite_worst_value():
    assert objective({"val/acc_best": 0.9, "status": "completed"}, "val/acc_best", 0.0) == 0.9
    assert objective({"val/acc_best": 0.9, "status": "diverged"}, "val/acc_best", 0.0) == 0.0
    assert objective({"val/acc_best": None}, "val/acc_best", 0.0) == 0.0
    assert objective({"val/acc_best": math.nan}, "val/acc_best", -1.0) == -1.0


def test_a_search_or_launcher_without_multirun_says_to_add_it():
    """Without -m Hydra reads no sweeper or launcher config: it would run one default job instead."""
    import imdb_lightning as il

    assert search_without_sweep(["hparams_search=optuna", "seed=1"]) == (
        "hparams_search=optuna acts on a sweep only: add -m "
        "(python -m imdb_lightning -m hparams_search=optuna ...)"
    )
    assert search_without_sweep(["-m", "hparams_search=optuna"]) is None
    assert search_without_sweep(["hparams_search=optuna", "--cfg", "job"]) is None  # shows the config only
    assert search_without_sweep(["+experiment=baseline"]) is None
    with pytest.raises(ConfigError, match="hydra/launcher=joblib runs from the command line: python -m"):
        il.sweep("hydra/launcher=joblib", "seed=1,2")


def test_a_missing_plugin_names_the_extra_to_install(monkeypatch):
    monkeypatch.setattr("imdb_lightning.__main__._importable", lambda module: False)
    assert "pip install 'imdb-lightning[sweep]'" in missing_plugin(["-m", "hydra/launcher=joblib"])
    assert missing_plugin(["+experiment=baseline"]) is None


RUN_FOLDER = ("config.yaml", "summary.txt", "history.json", "history.csv", "loss.png", "accuracy.png")


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"],
        ["trainer.accelerator=cpu", "trainer.devices=3"],  # Lightning's default strategy for 3 devices
    ],
    ids=["ddp-2", "3-devices-default-strategy"],
)
def test_several_processes_leave_one_complete_run_folder_written_by_rank_zero(args, data_dir, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "imdb_lightning", *args, *SMALL, "trainer.max_epochs=2"]
    done = subprocess.run(
        [*command, f"hydra.run.dir={run}"],
        cwd=tmp_path,
        env={**os.environ, "IMDB_LIGHTNING_DATA": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert all((run / name).is_file() for name in RUN_FOLDER), sorted(p.name for p in run.iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs"] == 2
    assert len(json.loads((run / "history.json").read_text())["val_accuracy"]) == 2
    assert done.stdout.count("test [loss, accuracy]") == 1  # one process reports


def test_two_sweep_processes_share_one_optuna_study_and_lose_no_trial(data_dir, tmp_path):
    optuna = pytest.importorskip("optuna")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    # As the README says for many workers: create the study once, then start them (two processes creating the
    # storage's tables at the same moment collide), each with its own sampler seed.
    optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    common = ["hparams_search=optuna", f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=shared"]
    args = [*SMALL, "trainer.max_epochs=2", f"data.data_dir={data_dir}", *common, "hydra.sweeper.n_trials=3"]
    workers = [
        subprocess.Popen(
            [
                *[sys.executable, "-m", "imdb_lightning", "-m", *args],
                f"hydra.sweeper.sampler.seed={i}",
                f"hydra.sweep.dir={tmp_path / f'worker{i}'}",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    with runs.reaped(workers):
        outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [out[-2000:] for out in outputs]
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 6 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert sorted(t.number for t in study.trials) == list(range(6))  # each counted once, none lost
