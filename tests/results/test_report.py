"""The sweep report: rows, values and figures computed from the runs' histories; nothing dropped silently."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from runs import sweep_with_more_configs
from sweeps import fake_job, lecture_sweep

from imdb_lightning.api import compose_config
from imdb_lightning.config.overrides import configuration_label, incidental_keys
from imdb_lightning.results.report import main, summarize, write_report
from imdb_lightning.results.runs import collect_runs
from imdb_lightning.utils.errors import ConfigError


@pytest.fixture
def sweep(tmp_path) -> Path:
    return lecture_sweep(tmp_path)


def test_runs_are_grouped_over_seeds_with_every_status_kept(sweep):
    runs = collect_runs(sweep)
    assert [(r.label, r.seed, r.status) for r in runs] == [
        ("baseline", 1, "completed"),
        ("baseline", 2, "completed"),
        ("dropout", 1, "completed"),
        ("dropout", 2, "crashed"),
        ("l2", 1, "diverged"),
        ("l2", 2, "missing"),
    ]


def test_a_configuration_is_named_by_what_the_run_folders_are_named_by():
    """The report leaves out the seed (runs are grouped over it) and the keys Hydra leaves out of job folder
    names: one list, the app's ``exclude_keys``."""
    overrides = ["+experiment=l2", "seed=3", "data.data_dir=/d", "data.download=false", "model.l2=0.01"]
    assert configuration_label(overrides) == "l2,model.l2=0.01"
    assert configuration_label(["hparams_search=optuna", "optimizer.lr=0.01"]) == "optimizer.lr=0.01"
    composed = compose_config([]).hydra.job.config.override_dirname.exclude_keys
    assert incidental_keys() == set(composed)


def test_means_and_stds_are_computed_from_the_histories(sweep):
    table = summarize(collect_runs(sweep))
    base = table["baseline"]
    assert base["mean"]["best_val_acc"] == pytest.approx((0.88 + 0.90) / 2)
    assert base["std"]["best_val_acc"] == pytest.approx(0.01)
    assert base["mean"]["best_epoch"] == pytest.approx(2.5)
    assert base["mean"]["final_val_loss"] == pytest.approx(1 - (0.86 + 0.90) / 2)
    assert base["mean"]["test_acc"] == pytest.approx(0.86)
    assert base["mean"]["s_per_epoch"] == pytest.approx(2.0)
    # Only completed runs count: dropout's crashed run and l2's diverged one left histories, not results.
    assert table["dropout"]["mean"]["best_val_acc"] == pytest.approx(0.80)
    assert math.isnan(table["dropout"]["std"]["best_val_acc"]) and math.isnan(
        table["l2"]["mean"]["best_val_acc"]
    )
    assert table["dropout"]["counts"] == {
        "completed": 1,
        "diverged": 0,
        "failed": 0,
        "interrupted": 0,
        "running": 0,
        "crashed": 1,
        "missing": 0,
    }
    assert table["l2"]["counts"] == {
        "completed": 0,
        "diverged": 1,
        "failed": 0,
        "interrupted": 0,
        "running": 0,
        "crashed": 0,
        "missing": 1,
    }


def test_report_writes_table_csv_and_figures(sweep, capsys):
    assert main([str(sweep), "--lecture"]) == 0
    report = (sweep / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == ["`baseline`", "`dropout`", "`l2`"]
    assert "0.8900 ± 0.0100" in rows[0]  # best val acc, mean ± std over the two seeds
    assert "| 2–3 |" in rows[0] and "| 3 |" in rows[1]  # best epochs: whole epochs, a range over seeds
    assert "1/2 (1 crashed)" in rows[1] and "0/2 (1 diverged, 1 missing)" in rows[2]
    assert "0.8876 (5)" in rows[0]  # the lecture's figure, beside ours
    assert "best val acc +0.0024" in rows[0]
    assert "## Runs without a result" in report and "l2, seed 2): missing" in report
    assert (sweep / "curves_regularization.png").read_bytes()[:4] == b"\x89PNG"
    with open(sweep / "epochs.csv") as f:
        epochs = list(csv.DictReader(f))
    assert len(epochs) == 5 * 3  # every epoch of every run that left a history
    assert {e["status"] for e in epochs} == {"completed", "crashed", "diverged"}
    assert "report:" in capsys.readouterr().out


def test_report_of_a_folder_without_jobs_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="no job folders"):
        write_report(tmp_path, out=tmp_path / "report")
    assert not (tmp_path / "report").exists()  # nothing made for nothing to report
    assert main([str(tmp_path / "nope")]) == 2
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: no job folders")


def test_a_report_that_cannot_be_written_is_one_line(sweep, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    assert main([str(sweep), "--out", str(tmp_path / "a_file" / "report")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the report into ") and len(err.strip().splitlines()) == 1


def test_a_job_folder_with_unreadable_files_is_listed_and_the_report_goes_on(sweep):
    job = next(sweep.glob("0-*"))
    (job / "history.json").write_text('{"loss": [0.5,')  # cut off: a full disk, a killed copy
    (job / "config.yaml").write_text("lecture: [unclosed")
    report = write_report(sweep).read_text()
    assert f"- `{job.name}` (baseline, seed 1): completed; unreadable: config.yaml, history.json" in report
    assert [r.status for r in collect_runs(sweep)].count("completed") == 3


def test_a_failed_job_is_listed_with_its_error(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    fake_job(sweep, 0, ["+experiment=baseline", "seed=1"], [0.80, 0.88], test_acc=0.85)
    folder = fake_job(sweep, 1, ["+experiment=baseline", "seed=2"], [0.7], status=None)
    (folder / "metrics.json").write_text(
        json.dumps({"status": "failed", "error": "DataError: the disk is full"})
    )
    runs = collect_runs(sweep)
    assert [r.status for r in runs] == ["completed", "failed"]
    assert summarize(runs)["baseline"]["counts"]["failed"] == 1
    write_report(sweep, out=tmp_path / "out")
    assert "failed (DataError: the disk is full)" in (tmp_path / "out" / "report.md").read_text()


def test_runs_that_change_the_lectures_settings_are_shown_beside_its_figures_but_not_compared(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    # Where a run goes and what it prints keep the comparison; its epochs and learning rate do not.
    same = ["+experiment=baseline", "seed=1", "trainer.accelerator=cpu", "callbacks=diagnostics"]
    fake_job(sweep, 0, same, [0.80, 0.88, 0.86])
    fake_job(
        sweep, 1, ["+experiment=l2", "seed=1", "trainer.max_epochs=3", "optimizer.lr=0.01"], [0.8, 0.9, 0.9]
    )
    rows = [
        line for line in write_report(sweep, lecture=True).read_text().splitlines() if line.startswith("| `")
    ]
    assert "0.8876 (5)" in rows[0] and "best val acc -0.0076" in rows[0]
    assert "0.4465, 0.8746" in rows[1]  # the lecture's figures are still shown
    assert rows[1].endswith("| not like for like (optimizer.lr=0.01, trainer.max_epochs=3) |")


def test_a_new_experiment_file_joins_the_report_without_code_changes(data_dir, tmp_path):
    """An experiment's `lecture` node says where its row and curves go; the report reads it from the run."""
    wider = (
        "# @package _global_\n"
        "lecture:\n  name: wider\n  section: capacity\n  order: 0.5\n  published: {best_val_acc: 0.9123}\n"
        "model:\n  hidden_sizes: [32, 32]\n"
    )
    grid = sweep_with_more_configs(
        tmp_path,
        data_dir,
        {"experiment/wider.yaml": wider},
        "+experiment=baseline,wider",
        "trainer.max_epochs=2",
    )
    assert grid[1].config.model.hidden_sizes == [32, 32]
    report = write_report(grid.folder, lecture=True).read_text()
    rows = [line.split(" | ")[0] for line in report.splitlines() if line.startswith("| `")]
    assert rows == ["| `wider`", "| `baseline`"]  # in the lecture's order: 0.5 before the baseline's 1
    assert "0.9123, —, —, — | not like for like (data.batch_size=8," in report  # its published figure
    assert (grid.folder / "curves_capacity.png").is_file() and (
        grid.folder / "curves_regularization.png"
    ).is_file()


def test_every_measure_of_a_run_has_its_column(sweep):
    from imdb_lightning.results.report import COLUMNS, MEASURES, markdown_table, run_measures

    run = collect_runs(sweep)[0]
    assert tuple(run_measures(run)) == MEASURES
    header = markdown_table(summarize([run])).splitlines()[0]
    assert header.count("|") == len(COLUMNS) + 3  # configuration and runs, then a column a measure
