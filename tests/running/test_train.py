"""The training app: every experiment composes and runs; runs leave a complete folder; sweeps work."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
import runs
import torch

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.running.loggers import TENSORBOARD_TAGS
from imdb_lightning.running.train import train

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
SMALL = runs.SMALL


def compose_run(data_dir: Path, out: Path, overrides: list[str]):
    """A run on the synthetic data in ``data_dir``."""
    return runs.compose_run(out, [f"data.data_dir={data_dir}", *SMALL, *overrides])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_runs_one_fast_dev_batch(experiment, data_dir, tmp_path):
    cfg = compose_run(data_dir, tmp_path / "run", [f"+experiment={experiment}", "+trainer.fast_dev_run=true"])
    assert cfg.lecture.name == experiment
    metrics = train(cfg)
    assert "test/acc" in metrics and 0.0 <= metrics["test/acc"] <= 1.0
    assert (tmp_path / "run" / "config.yaml").is_file() and (tmp_path / "run" / "summary.txt").is_file()


def test_run_folder_holds_history_plots_checkpoints_and_tensorboard(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    metrics = train(compose_run(data_dir, out, ["trainer.max_epochs=3"]))
    history = json.loads((out / "history.json").read_text())
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in history.values())
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["val_accuracy"]) == pytest.approx(history["val_accuracy"][-1])
    for name in ("loss.png", "accuracy.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "checkpoints" / "best.ckpt").is_file() and (out / "checkpoints" / "last.ckpt").is_file()
    import torch

    last = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 3  # written when fit ends, three epochs done
    assert metrics["val/acc_best"] == pytest.approx(max(history["val_accuracy"]))
    assert json.loads((out / "metrics.json").read_text())["test/acc"] == pytest.approx(metrics["test/acc"])

    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    board = EventMultiplexer().AddRunsFromDirectory(str(out / "tensorboard")).Reload()
    # Every metric of the run is in TensorBoard, under the name running/loggers.py gives it.
    for key, (sub_run, tag) in TENSORBOARD_TAGS.items():
        assert tag in board.Runs()[sub_run or "."]["scalars"], key
    epochs = board.Scalars("validation", "epoch_accuracy")
    assert [e.value for e in epochs] == pytest.approx(history["val_accuracy"])

    printed = capsys.readouterr().out
    assert "test [loss, accuracy]: [" in printed
    assert f"run folder: {out}" in printed and "tensorboard --logdir" in printed


def test_a_run_leaves_no_tensorboard_writer_open(data_dir, tmp_path):
    """Every run of a sweep's worker or a notebook runs in one process: a writer left open keeps its thread
    and its event file until the process ends, one more each run."""

    def writers() -> set[int]:
        return {t.ident for t in threading.enumerate() if type(t).__module__.startswith("tensorboard.")}

    before = writers()
    for number in range(2):
        train(compose_run(data_dir, tmp_path / f"run{number}", ["trainer.max_epochs=2"]))
    assert writers() - before == set()
    if Path("/proc/self/fd").is_dir():  # Linux: the files this process holds open
        held = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
        assert not [path for path in held if path.startswith(str(tmp_path))]


def test_the_synthetic_task_is_learned(data_dir, tmp_path):
    metrics = train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=15", "optimizer.lr=0.01"]))
    assert metrics["val/acc_best"] >= 0.8


def test_same_seed_gives_the_same_history_on_cpu(data_dir, tmp_path):
    histories = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        train(
            compose_run(
                data_dir,
                out,
                ["trainer.max_epochs=3", "model.dropout=0.3", "seed=7", "trainer.accelerator=cpu"],
            )
        )
        histories.append((out / "history.json").read_text())
    assert histories[0] == histories[1]
    train(
        compose_run(
            data_dir,
            tmp_path / "other",
            ["trainer.max_epochs=3", "model.dropout=0.3", "seed=8", "trainer.accelerator=cpu"],
        )
    )
    assert (tmp_path / "other" / "history.json").read_text() != histories[0]


def run_cli(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "imdb_lightning", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_multirun_sweep_names_jobs_by_overrides_with_one_tensorboard_root(data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        "optimizer=sgd,adam",
        *SMALL,
        "trainer.max_epochs=2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env_extra={"IMDB_LIGHTNING_DATA": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name != "tensorboard")
    assert (
        len(jobs) == 2
        and jobs[0].startswith("0-")
        and "optimizer=sgd" in jobs[0]
        and "optimizer=adam" in jobs[1]
    )
    assert sorted(p.name for p in (sweep / "tensorboard").iterdir()) == jobs
    for job in jobs:
        assert len(json.loads((sweep / job / "history.json").read_text())["val_loss"]) == 2
        assert "optimizer" in (sweep / job / "config.yaml").read_text()

    from imdb_lightning.results.report import write_report

    rows = [line for line in write_report(sweep).read_text().splitlines() if line.startswith("| `")]
    assert len(rows) == 2 and "optimizer=sgd" in rows[0] and "optimizer=adam" in rows[1]
    assert all("| 1/1 |" in row for row in rows)


@pytest.mark.slow
def test_installed_app_runs_from_any_folder_with_an_experiment(data_dir, tmp_path):
    result = run_cli(
        "+experiment=batchnorm",
        *SMALL,
        "trainer.max_epochs=1",
        f"data.data_dir={data_dir}",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Non-trainable params: 64" in result.stdout + result.stderr
    assert (tmp_path / "run" / "history.json").is_file()


def test_a_diverging_run_stops_cleanly_keeps_its_files_and_says_so(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    cfg = compose_run(
        data_dir,
        out,
        [
            "trainer.max_epochs=5",
            "optimizer=sgd",
            "optimizer.lr=1e12",
            "model.init=too_large",
            "model.init_scale=100",
        ],
    )
    metrics = train(cfg)
    assert metrics["status"] == "diverged"
    assert metrics["epochs"] < 5
    assert json.loads((out / "metrics.json").read_text())["status"] == "diverged"
    history = json.loads((out / "history.json").read_text())  # strict JSON: NaN is written as null
    assert None in history["loss"] or None in history["val_loss"]
    assert (out / "loss.png").is_file() and (out / "tensorboard").is_dir()
    assert "the run diverged" in capsys.readouterr().out


def test_metrics_record_status_epochs_time_and_parameters(data_dir, tmp_path):
    metrics = train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=2"]))
    assert metrics["status"] == "completed" and metrics["epochs"] == 2
    assert metrics["params"] == 30 * 16 + 16 + 272 + 17 and metrics["fit_seconds"] > 0


def test_checkpoints_load_with_weights_only_whatever_the_optimizer_and_scheduler(data_dir, tmp_path):
    import torch

    train(
        compose_run(
            data_dir,
            tmp_path / "run",
            [
                "trainer.max_epochs=1",
                "test=false",
                "optimizer=nadam",
                "scheduler=step",
                "model.batchnorm=true",
            ],
        )
    )
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = torch.load(tmp_path / "run" / "checkpoints" / name, map_location="cpu", weights_only=True)
        betas = ckpt["optimizer_states"][0]["param_groups"][0]["betas"]
        assert type(betas) in (list, tuple) and list(betas) == [0.9, 0.999]  # plain Python, not OmegaConf's


def test_last_checkpoint_is_written_when_fit_ends_or_every_n_epochs_when_asked(
    data_dir, tmp_path, monkeypatch
):
    import lightning as L

    saved: list[tuple[str, int]] = []
    save = L.Trainer.save_checkpoint
    monkeypatch.setattr(
        L.Trainer,
        "save_checkpoint",
        lambda self, path, *a, **k: (
            # written under a temporary name, then renamed: never half a checkpoint over a whole one
            saved.append((Path(path).name.lstrip(".").removesuffix(".part"), self.current_epoch)),
            save(self, path, *a, **k),
        ),
    )
    train(compose_run(data_dir, tmp_path / "default", ["trainer.max_epochs=3", "test=false"]))
    assert [s for s in saved if s[0] == "last.ckpt"] == [("last.ckpt", 3)]
    saved.clear()
    train(
        compose_run(
            data_dir,
            tmp_path / "every2",
            ["trainer.max_epochs=5", "test=false", "callbacks.last_checkpoint.every_n_epochs=2"],
        )
    )
    assert [s for s in saved if s[0] == "last.ckpt"] == [("last.ckpt", 1), ("last.ckpt", 3), ("last.ckpt", 5)]


def test_resuming_from_a_checkpoint_gives_the_same_final_metrics(data_dir, tmp_path):
    # The resuming command gives another seed: only a checkpoint that really restores the run's weights,
    # optimizer, epoch, dropout generator and data order can end where the uninterrupted run ends.
    common = [
        "model.dropout=0.3",
        "trainer.accelerator=cpu",
    ]  # bit-for-bit determinism is promised on the CPU
    whole = train(compose_run(data_dir, tmp_path / "whole", ["trainer.max_epochs=4", "seed=3", *common]))
    train(compose_run(data_dir, tmp_path / "part", ["trainer.max_epochs=2", "seed=3", *common]))
    ckpt = tmp_path / "part" / "checkpoints" / "last.ckpt"
    fresh = train(compose_run(data_dir, tmp_path / "fresh", ["trainer.max_epochs=4", "seed=99", *common]))
    assert fresh["val/loss"] != pytest.approx(whole["val/loss"], abs=1e-6)  # the seed alone changes the run
    resumed = train(
        compose_run(
            data_dir, tmp_path / "resumed", ["trainer.max_epochs=4", f"ckpt_path={ckpt}", "seed=99", *common]
        )
    )
    for key in ("val/loss", "val/acc", "val/acc_best", "test/loss", "test/acc"):
        assert resumed[key] == pytest.approx(whole[key], abs=1e-6), key
    whole_history = json.loads((tmp_path / "whole" / "history.json").read_text())
    assert json.loads((tmp_path / "resumed" / "history.json").read_text()) == whole_history


def test_without_a_logger_the_run_points_to_no_tensorboard(data_dir, tmp_path, capsys):
    train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=1", "~logger"]))
    out = capsys.readouterr().out
    assert f"run folder: {tmp_path / 'run'}" in out and "TensorBoard:" not in out
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_without_the_checkpoint_callback_lightning_saves_none_of_its_own(data_dir, tmp_path):
    train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=2", "~callbacks.model_checkpoint"]))
    assert sorted(p.name for p in (tmp_path / "run").rglob("*.ckpt")) == ["last.ckpt"]


def best_checkpoint_state(folder: Path, score: float) -> dict:
    """What a ModelCheckpoint saved in ``folder`` remembers of its best epoch."""
    best = str(folder / "best.ckpt")
    return {
        "monitor": "val/acc",
        "best_model_score": torch.tensor(score),
        "best_model_path": best,
        "current_score": torch.tensor(score - 0.1),
        "dirpath": str(folder),
        "best_k_models": {best: torch.tensor(score)},
        "kth_best_model_path": best,
        "kth_value": torch.tensor(score),
        "last_model_path": "",
    }


def test_a_run_resumed_into_a_new_folder_goes_on_from_the_earlier_best_checkpoint(tmp_path, caplog):
    """Lightning would forget the best score (the first resumed epoch would become best.ckpt): the earlier
    best checkpoint is copied into the new run folder and its score kept, without Lightning's warning."""
    from imdb_lightning.running.checkpoints import BestCheckpoint

    old, new = tmp_path / "part" / "checkpoints", tmp_path / "resumed" / "checkpoints"
    old.mkdir(parents=True)
    (old / "best.ckpt").write_bytes(b"the weights of epoch 2")
    callback = BestCheckpoint(dirpath=new, filename="best", monitor="val/acc", mode="max", save_top_k=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        callback.load_state_dict(best_checkpoint_state(old, 0.88))
    assert (new / "best.ckpt").read_bytes() == b"the weights of epoch 2"
    assert (old / "best.ckpt").is_file()  # the earlier run's folder is left as it was
    assert callback.best_model_path == str(new / "best.ckpt")
    assert float(callback.best_model_score) == pytest.approx(0.88)
    assert list(callback.best_k_models) == [str(new / "best.ckpt")]

    # The earlier best file is gone: a fresh count, said in a line.
    (old / "best.ckpt").unlink()
    fresh = BestCheckpoint(dirpath=tmp_path / "other", filename="best", monitor="val/acc", mode="max")
    fresh.load_state_dict(best_checkpoint_state(old, 0.88))
    assert fresh.best_model_score is None and fresh.best_model_path == "" and not fresh.best_k_models
    assert "is gone" in caplog.text


@pytest.mark.slow
def test_in_a_sweep_a_diverging_job_does_not_stop_the_others(data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        "optimizer=sgd",
        "optimizer.lr=1e12,0.01",
        *SMALL,
        "trainer.max_epochs=2",
        f"data.data_dir={data_dir}",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = {
        p.name.split("-", 1)[0]: json.loads((p / "metrics.json").read_text())["status"]
        for p in sweep.iterdir()
        if p.name[0].isdigit()
    }
    assert statuses == {"0": "diverged", "1": "completed"}  # job 0: lr 1e12, job 1: lr 0.01


def test_in_a_sweep_a_failing_job_does_not_stop_the_others(data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        "+callbacks.boom._target_=runs.FailAt",
        "+callbacks.boom.epoch=1,99",  # job 0 breaks in its first epoch, job 1 never
        *SMALL,
        "trainer.max_epochs=2",
        f"data.data_dir={data_dir}",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env_extra={
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.name[0].isdigit())
    metrics = [json.loads((job / "metrics.json").read_text()) for job in jobs]
    assert [m["status"] for m in metrics] == ["failed", "completed"]
    assert metrics[0]["error"] == "RuntimeError: the disk went away"
    assert "Traceback" in (jobs[0] / "imdb_lightning.log").read_text()  # the details, in the job's log
    assert (
        "error: this sweep job failed; the sweep goes on: RuntimeError: the disk went away (traceback: "
        f"{jobs[0] / 'imdb_lightning.log'})" in result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "momenta, statuses, code",
    [("0.5,-1,0.9", ["completed", "failed", "completed"], 0), ("-1,0.5", ["failed"], 2)],
    ids=["refused-later-job", "refused-first-job"],
)
def test_in_a_sweep_a_job_refused_for_its_own_values_is_recorded_unless_it_is_the_first(
    momenta, statuses, code, data_dir, tmp_path
):
    """What every job shares is refused at the first job, which stops the sweep (every job would fail); a
    later job's refusal is of its own values (a grid's one bad combination): recorded, the sweep goes on."""
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        "optimizer=momentum",
        f"optimizer.momentum={momenta}",
        *SMALL,
        "trainer.max_epochs=1",
        f"data.data_dir={data_dir}",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == code, result.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.name[0].isdigit())
    assert [json.loads((job / "metrics.json").read_text())["status"] for job in jobs] == statuses
    refusal = "optimizer=momentum, optimizer.momentum=-1 cannot work: Invalid momentum value: -1"
    prefix = "error: this sweep job was refused; the sweep goes on: " if code == 0 else "error: "
    assert f"{prefix}{refusal}" in result.stdout.splitlines()


def test_a_run_that_fails_while_training_says_so_in_one_line_and_keeps_the_traceback_in_its_log(
    data_dir, tmp_path
):
    run = tmp_path / "run"
    overrides = ["+callbacks.boom._target_=runs.FailAt", "+callbacks.boom.epoch=1", *SMALL]
    common = [*overrides, f"data.data_dir={data_dir}", f"hydra.run.dir={run}"]
    env = {"PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    result = run_cli(*common, cwd=tmp_path, env_extra=env)
    assert result.returncode == 1
    log = run / "imdb_lightning.log"
    last = result.stdout.strip().splitlines()[-1]  # Hydra's console logging writes to standard output
    assert last == f"error: the run failed: RuntimeError: the disk went away (traceback: {log})"
    assert "Traceback" not in result.stdout + result.stderr and "Traceback" in log.read_text()
    # HYDRA_FULL_ERROR=1 shows the whole traceback, as for any Hydra app (a new folder: one run a folder)
    common[-1] = f"hydra.run.dir={tmp_path / 'again'}"
    result = run_cli(*common, cwd=tmp_path, env_extra={**env, "HYDRA_FULL_ERROR": "1"})
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_a_run_that_fails_after_its_folder_exists_says_so_in_metrics_json(data_dir, tmp_path):
    import shutil

    from imdb_lightning.utils.errors import DataError

    shutil.rmtree(data_dir / "aclImdb" / "test" / "neg")
    with pytest.raises(DataError):
        train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=1"]))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (
        metrics["status"] == "failed"
        and metrics["error"].startswith("DataError: ")
        and "test/neg" in metrics["error"]
    )


@pytest.mark.parametrize(("test_ckpt", "tested"), [("final", None), ("best", "best")])
def test_test_ckpt_chooses_the_weights_the_test_evaluates(test_ckpt, tested, data_dir, tmp_path, monkeypatch):
    import lightning as L

    asked = []
    test = L.Trainer.test
    monkeypatch.setattr(
        L.Trainer, "test", lambda self, *a, **k: (asked.append(k.get("ckpt_path")), test(self, *a, **k))[1]
    )
    train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=2", f"test_ckpt={test_ckpt}"]))
    assert asked == [tested]


def test_the_seed_chooses_the_initial_weights_and_data_seed_the_split(data_dir, tmp_path):
    """Two seeds: other weights after an epoch on the same batches (the shuffle's seed pinned, which follows
    ``seed`` otherwise) and the same validation reviews (``data.seed``): only the seed's own effect on the
    initial weights can tell them apart."""
    saved = {}
    for seed in (1, 2):
        out = tmp_path / f"s{seed}"
        overrides = ["trainer.max_epochs=1", "test=false", f"seed={seed}", "data.shuffle_seed=7"]
        train(compose_run(data_dir, out, overrides))
        saved[seed] = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    kernels = [saved[seed]["state_dict"]["net.hidden_1.kernel"] for seed in (1, 2)]
    assert not torch.equal(*kernels)
    assert saved[1]["datamodule_hyper_parameters"]["seed"] == saved[2]["datamodule_hyper_parameters"]["seed"]
