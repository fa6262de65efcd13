"""TensorBoard as a user sees it: a sweep's logs served by TensorBoard itself, read through its HTTP API."""

from __future__ import annotations

import json
import math
import urllib.request

import pytest

import imdb_lightning as il

STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


@pytest.fixture
def served_sweep(data_dir, tmp_path, monkeypatch):
    """A 2 × 2 sweep (dropout × learning rate, the 1e6 runs diverge) and a TensorBoard serving its logs."""
    from tensorboard import program

    monkeypatch.setenv("IMDB_LIGHTNING_LOGS", str(tmp_path / "logs"))
    small = ["data.val_size=10", "data.num_words=30", "data.batch_size=8", "trainer.max_epochs=3"]
    grid = il.sweep(
        "model.dropout=0,0.5", "optimizer.lr=0.001,1e6", *small, f"data.data_dir={data_dir}", quiet=True
    )
    board = program.TensorBoard()
    board.configure(
        argv=[None, "--logdir", str(grid.folder / "tensorboard"), "--port", "0", "--load_fast=false"]
    )
    url = board.launch()

    def post(route: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{url}data/plugin/hparams/{route}",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    return grid, post


def test_the_hparams_tab_marks_the_swept_keys_and_shows_each_runs_status_and_metrics(served_sweep):
    grid, post = served_sweep
    experiment = post("experiment", {"experimentName": ""})
    hparams = [(h["name"], h["differs"]) for h in experiment["hparamInfos"]]
    # the swept keys differ and come first; the lecture's settings follow; no callback or path plumbing
    assert {name for name, differs in hparams if differs} == {"model/dropout", "optimizer/lr"}
    assert [differs for _, differs in hparams[:2]] == [True, True]
    names = {name for name, _ in hparams}
    assert {"lecture/name", "seed", "model/l2", "optimizer", "data/num_words"} <= names
    assert not [n for n in names if n.startswith(("callbacks", "paths", "hydra")) or "data_dir" in n]
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert {"val/acc_best", "val/loss", "test/acc"} <= metrics and "epoch" not in metrics

    columns = [{"hparam": "model/dropout"}, {"hparam": "optimizer/lr"}]
    columns += [{"metric": {"tag": tag, "group": ""}} for tag in ("val/acc_best", "val/loss", "test/acc")]
    body = {
        "experimentName": "",
        "allowedStatuses": STATUSES,
        "colParams": columns,
        "startIndex": 0,
        "sliceSize": 100,
    }
    groups = post("session_groups", body)["sessionGroups"]
    assert len(groups) == 4
    by_folder = {r.run_dir.name: r for r in grid}
    for group in groups:
        (session,) = group["sessions"]
        result = by_folder[session["name"]]
        diverged = result.config.optimizer.lr == 1e6
        assert result.status == ("diverged" if diverged else "completed")
        assert session["status"] == ("STATUS_FAILURE" if diverged else "STATUS_SUCCESS")
        values = {v["name"]["tag"]: v for v in session["metricValues"]}
        # every value a real one, logged at an epoch (no 0.0 placeholder at step 0)
        assert all(v["trainingStep"] >= 1 for v in values.values())
        if not diverged:
            assert values["val/acc_best"]["value"] == pytest.approx(result.metrics["val/acc_best"])
            assert values["test/acc"]["value"] == pytest.approx(result.metrics["test/acc"])
            assert values["val/loss"]["trainingStep"] == 3
        else:
            assert "test/acc" in values and not math.isnan(values["val/acc_best"]["value"])
