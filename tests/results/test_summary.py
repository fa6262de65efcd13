"""The lines a sweep ends with: its jobs by status, its best configuration, its folder, the report command."""

from __future__ import annotations

import shlex

from omegaconf import OmegaConf
from sweeps import fake_job, lecture_sweep

from imdb_lightning.results.summary import SummarizeSweep, sweep_summary


def test_a_sweep_is_summed_up_by_status_best_configuration_and_report_command(tmp_path):
    sweep = lecture_sweep(tmp_path)
    assert sweep_summary(sweep).splitlines() == [
        f"sweep of 6 jobs: 3 completed, 1 diverged, 1 crashed, 1 missing ({sweep})",
        # Mean over the completed seeds of each configuration's best epoch (0.88 and 0.90); dropout's crashed
        # seed and l2's diverged one take no part.
        "best by validation accuracy: 0.8900 ± 0.0100 (mean of 2 runs), baseline",
        f"report: python -m imdb_lightning.report {shlex.quote(str(sweep))}",
    ]


def test_a_sweep_with_no_completed_run_names_no_best(tmp_path):
    sweep = tmp_path / "my sweep"
    fake_job(sweep, 0, ["+experiment=l2", "seed=1"], [0.6, 0.5], status="failed")
    assert sweep_summary(sweep).splitlines() == [
        f"sweep of 1 job: 1 failed ({sweep})",
        f"report: python -m imdb_lightning.report '{sweep}'",
    ]


def test_the_hydra_callback_prints_the_summary_when_the_sweep_ends(tmp_path, capsys):
    sweep = lecture_sweep(tmp_path)
    SummarizeSweep().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    assert capsys.readouterr().out == sweep_summary(sweep) + "\n"
