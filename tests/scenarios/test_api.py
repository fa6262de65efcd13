"""The notebook API: the command line's runs, from Python, without argv, sys.exit or Hydra's docs."""

from __future__ import annotations

import gc
import json
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

import imdb_lightning as il
from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.data import IMDBDataModule
from imdb_lightning.network.model import IMDBClassifier
from imdb_lightning.utils.errors import ConfigError, DataError

SMALL = ["data.val_size=10", "data.num_words=30", "data.batch_size=8", "trainer.max_epochs=3"]


@pytest.fixture
def small(data_dir, tmp_path, monkeypatch):
    """Overrides for a small run on the synthetic data, with run folders under ``tmp_path/logs``."""
    monkeypatch.setenv("IMDB_LIGHTNING_LOGS", str(tmp_path / "logs"))
    return [*SMALL, f"data.data_dir={data_dir}"]


def test_a_run_returns_the_keras_history_metrics_model_and_folder(small, capsys):
    result = il.run("+experiment=dropout", *small)
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in result.history.values())
    assert result.metrics["status"] == "completed" and result.metrics["epochs"] == 3
    assert result.label.startswith("dropout,") and result.config.model.dropout == 0.5
    # the run folder a command-line run leaves, read back: the same history and metrics
    assert json.loads((result.run_dir / "history.json").read_text()) == result.history
    assert json.loads((result.run_dir / "metrics.json").read_text()) == result.metrics
    assert (result.run_dir / "loss.png").is_file() and (
        result.run_dir / "checkpoints" / "last.ckpt"
    ).is_file()
    assert (result.run_dir / ".hydra" / "overrides.yaml").read_text().count("experiment=dropout") == 1
    # the trained model, ready to use: final weights, eval mode, no trainer (or data) held
    assert isinstance(result.model, IMDBClassifier) and not result.model.training
    assert result.model._trainer is None
    assert result.model.predict_proba(torch.zeros(2, 30)).shape == (2,)
    # the cell shows one line an epoch, and the same lines go to the run's log file
    shown = capsys.readouterr().out
    assert [line.split(" - ")[0] for line in shown.splitlines() if line.startswith("Epoch ")] == [
        "Epoch 1/3",
        "Epoch 2/3",
        "Epoch 3/3",
    ]
    assert "\r" not in shown
    assert "Epoch 3/3" in (result.run_dir / "imdb_lightning.log").read_text()
    assert "best val acc" in repr(result) and str(result.run_dir) in repr(result)


def test_a_run_plots_the_lectures_two_figures_titled_by_its_configuration(small):
    result = il.run("+experiment=dropout", "model.dropout=0.2", "seed=3", *small, quiet=True)
    fig = result.plot()
    assert [ax.get_title().splitlines()[0] for ax in fig.axes] == [
        "Training and validation loss",
        "Training and validation accuracy",
    ]
    (subtitle,) = {ax.get_title().splitlines()[1] for ax in fig.axes}
    assert subtitle.startswith("dropout,model.dropout=0.2,") and subtitle.endswith(" (seed 3)")
    # The run folder's figures carry the same title, given by the run's config.
    assert result.config.callbacks.keras_history.title == subtitle
    assert [len(line.get_xdata()) for line in fig.axes[0].lines] == [3, 3]


def test_bad_config_raises_the_command_lines_one_line_errors(small):
    with pytest.raises(ConfigError, match=r"data.batch_size must be a positive integer, got -1"):
        il.run(*small, "data.batch_size=-1")
    with pytest.raises(ConfigError, match=r"Could not override 'model.nosuch'"):
        il.run("model.nosuch=1")
    with pytest.raises(ConfigError, match=r"experiment has no option nosuch; its options: baseline, "):
        il.run("+experiment=nosuch")


def test_what_belongs_to_the_command_line_or_a_sweep_is_refused_with_the_way_to_say_it():
    with pytest.raises(
        ConfigError, match=r"(?s)Ambiguous value .* \(imdb_lightning.sweep runs one job per value\)"
    ):
        il.run("seed=1,2")
    for flag in ("-m", "--help"):
        with pytest.raises(ConfigError, match=rf"^{flag} is a command-line flag: here, give overrides only"):
            il.run(flag)
    with pytest.raises(ConfigError, match=r"^-m is a command-line flag"):
        il.sweep("-m", "seed=1,2")
    with pytest.raises(ConfigError, match=r"overrides are strings such as 'seed=1', got 3"):
        il.run("seed=1", 3)


def test_repeated_runs_get_their_own_folders_and_leave_no_trainer_or_data_alive(small):
    def alive() -> set[int]:
        gc.collect()
        return {id(o) for o in gc.get_objects() if isinstance(o, (L.Trainer, IMDBDataModule))}

    before = alive()  # what earlier tests in this process may have left (-n: any file may come first)
    results = [il.run(*small, quiet=True) for _ in range(3)]
    assert len({r.run_dir for r in results}) == 3
    assert alive() <= before


def test_ctrl_c_keeps_what_was_logged_and_the_next_run_can_be_interrupted_again(small, tmp_path):
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        il.run(
            *small,
            "trainer.max_epochs=10",
            "+callbacks.stop._target_=runs.InterruptAt",
            "+callbacks.stop.epoch=2",
        )
    (run_dir,) = (tmp_path / "logs" / "runs").iterdir()
    assert len(json.loads((run_dir / "history.json").read_text())["loss"]) == 2
    ckpt = run_dir / "checkpoints" / "interrupted.ckpt"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == {"status": "interrupted", "signal": "SIGINT", "resume_from": str(ckpt)}
    assert ckpt.is_file() and (run_dir / "loss.png").is_file()
    # Lightning ignores Ctrl-C once it has seen one; the kernel's next interrupt must work again
    assert signal.getsignal(signal.SIGINT) == before


def test_a_sweep_runs_every_job_into_one_folder_that_loads_back_as_a_table(small):
    grid = il.sweep("+experiment=baseline,l2", "seed=0,1", *small, quiet=True)
    assert [r.overrides[:2] for r in grid] == [
        ["+experiment=baseline", "seed=0"],
        ["+experiment=baseline", "seed=1"],
        ["+experiment=l2", "seed=0"],
        ["+experiment=l2", "seed=1"],
    ]
    assert all(r.run_dir.parent == grid.folder for r in grid)
    assert (grid.folder / "tensorboard").is_dir()  # one TensorBoard root, as a -m sweep has
    rows = il.load_sweep(grid.folder)
    rows = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    assert [(r["configuration"], r["seed"], r["status"]) for r in rows] == [
        ("baseline", 0, "completed"),
        ("baseline", 1, "completed"),
        ("l2", 0, "completed"),
        ("l2", 1, "completed"),
    ]
    assert all(isinstance(r["best_epoch"], int) and 1 <= r["best_epoch"] <= 3 for r in rows)
    assert rows[0]["test_acc"] == pytest.approx(grid[0].metrics["test/acc"])
    # the seeds of one configuration are one curve with a band, as in the sweep report
    fig = il.plot_histories(grid)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["baseline (n=2)", "l2 (n=2)"]


def test_plot_histories_takes_labelled_results_or_history_dicts(small):
    result = il.run(*small, quiet=True)
    fig = il.plot_histories({"ours": result, "by hand": {"val_loss": [0.5, 0.4], "val_accuracy": [0.8, 0.9]}})
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ours", "by hand"]
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="nothing to plot: no run given has a val_loss history"):
        il.plot_histories({"empty": {}})
    # A run folder is not a result (an AttributeError from inside the labelling used to say so)
    for folder in (["logs/runs/x"], "logs/runs/x", {"by path": "logs/runs/x"}):
        with pytest.raises(
            TypeError, match=r"plot_histories takes results of run\(\) or sweep\(\).*; got str"
        ):
            il.plot_histories(folder)


def test_load_sweep_names_a_folder_that_is_not_there_or_not_a_sweep(tmp_path):
    with pytest.raises(ConfigError, match="is not a sweep folder"):
        il.load_sweep(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="holds no sweep jobs"):
        il.load_sweep(tmp_path)


def test_a_search_can_skip_each_jobs_figures_and_keep_its_history(small):
    """For large searches: the figures are most of a short job's overhead; the sweep report draws curves."""
    result = il.run(*small, "callbacks.keras_history.plots=false", quiet=True)
    assert not (result.run_dir / "loss.png").exists() and len(result.history["val_loss"]) == 3
    assert (result.run_dir / "history.csv").is_file() and result.status == "completed"


def test_a_job_refused_for_its_own_values_is_recorded_and_the_sweep_goes_on(small, capsys):
    done = il.sweep("optimizer=momentum", "optimizer.momentum=0.5,-1,0.9", *small, quiet=True)
    assert len(done) == 2
    # It ends as a command-line sweep does: its jobs by status, the best one, the report command.
    assert capsys.readouterr().out.strip().splitlines()[-3] == (
        f"sweep of 3 jobs: 2 completed, 1 failed ({done.folder})"
    )
    rows = il.load_sweep(done.folder)
    assert rows["status"].tolist() == ["completed", "failed", "completed"]  # the refused job says so
    assert json.loads((Path(rows["folder"][1]) / "metrics.json").read_text())["error"].startswith(
        "ConfigError: optimizer=momentum, optimizer.momentum=-1 cannot work"
    )
    # Refused at the first job, what the jobs share would refuse them all: the sweep stops there.
    with pytest.raises(ConfigError, match="optimizer=momentum, optimizer.momentum=-1 cannot work"):
        il.sweep("optimizer=momentum", "optimizer.momentum=-1,0.5", *small, quiet=True)


def test_a_sweep_stopped_by_its_data_says_where_the_finished_jobs_are(small, data_dir, tmp_path):
    gone = tmp_path / "gone"
    with pytest.raises(DataError) as info:
        il.sweep(*SMALL, f"data.data_dir={data_dir},{gone}", quiet=True)  # small's own data_dir left out
    message = str(info.value)
    assert "(sweep job 2 of 2; the 1 job(s) before it are in " in message
    folder = message.rsplit(" are in ", 1)[1].removesuffix(", for load_sweep)")
    assert il.load_sweep(folder)["status"].tolist()[0] == "completed"


def test_a_sweep_job_that_breaks_is_recorded_and_the_others_run(small):
    grid = il.sweep("+callbacks.boom._target_=runs.FailAt", "+callbacks.boom.epoch=1,99", *small, quiet=True)
    assert len(grid) == 1 and grid[0].status == "completed"  # the job that did not break
    rows = il.load_sweep(grid.folder)
    assert rows["status"].tolist() == ["failed", "completed"]


def test_the_lectures_experiments_by_section_in_its_order():
    assert il.experiments("regularization") == ["baseline", "dropout", "batchnorm", "l1", "l2", "l1l2"]
    assert il.experiments("initialization")[0] == "init_zeros" and len(il.experiments("initialization")) == 8
    assert il.experiments("optimizers")[:3] == ["opt_sgd", "opt_momentum", "opt_nesterov"]
    assert sorted(il.experiments()) == sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
    with pytest.raises(
        ConfigError, match="no section 'nosuch': it has initialization, optimizers, regularization"
    ):
        il.experiments("nosuch")
