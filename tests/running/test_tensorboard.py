"""TensorBoard as a user sees it: a sweep's logs served by TensorBoard itself, read through its HTTP API."""

from __future__ import annotations

import json
import math
import re
import urllib.request

import pytest

import imdb_lightning as il

STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
#: The HParams columns the test reads, ``(sub-run, tag)``, and the metric each shows.
COLUMNS = {
    ("", "summary/best_val_accuracy"): "val/acc_best",
    ("validation", "epoch_loss"): "val/loss",
    ("", "summary/test_accuracy"): "test/acc",
}


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

    post.url = url
    return grid, post


def dashboard_groups(tags: list[str]) -> list[str]:
    """The card groups of TensorBoard's Time Series dashboard (its first, the default), in its order: cards
    sorted by tag, grouped by the tag's part before the first slash; the first two groups open."""
    natural = [[int(p) if p.isdigit() else p for p in re.split(r"(\d+)", tag)] for tag in tags]
    ordered = [tag for _, tag in sorted(zip(natural, tags, strict=True))]
    return list(dict.fromkeys(tag.split("/", 1)[0] for tag in ordered))


def test_tensorboard_opens_on_the_training_and_validation_curves_drawn_together(served_sweep):
    grid, post = served_sweep
    with urllib.request.urlopen(f"{post.url}data/plugin/timeseries/tags", timeout=60) as response:
        served = json.loads(response.read())
    runs_of: dict[str, set[str]] = {}
    for plugin in ("scalars", "histograms"):
        for run, tags in served.get(plugin, {}).get("runTagInfo", {}).items():
            for tag in tags:
                runs_of.setdefault(tag, set()).add(run)
    for tag, runs in served["images"]["tagRunSampledInfo"].items():
        runs_of.setdefault(tag, set()).update(runs)
    groups = dashboard_groups(list(runs_of))
    assert groups[:2] == ["epoch_accuracy", "epoch_loss"], groups  # the two open by default
    assert groups.index("plots") > groups.index("epoch_loss")  # the figures after the curves they repeat
    # Each chart holds a job's training and validation curves, as Keras's TensorBoard callback draws them.
    first = grid[0].run_dir.name
    assert {f"{first}/train", f"{first}/validation"} <= runs_of["epoch_loss"]


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
    # The runs' scalars, each named by its sub-run (running/loggers.py's TENSORBOARD_TAGS) and tag.
    metrics = {(m["name"].get("group", ""), m["name"]["tag"]) for m in experiment["metricInfos"]}
    assert set(COLUMNS) <= metrics and not [m for m in metrics if m[1] == "epoch"]

    columns = [{"hparam": "model/dropout"}, {"hparam": "optimizer/lr"}]
    columns += [{"metric": {"group": group, "tag": tag}} for group, tag in COLUMNS]
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
        named = {(v["name"].get("group", ""), v["name"]["tag"]): v for v in session["metricValues"]}
        values = {COLUMNS[key]: value for key, value in named.items() if key in COLUMNS}
        # every value a real one, logged at an epoch (no 0.0 placeholder at step 0)
        assert all(v["trainingStep"] >= 1 for v in named.values())
        if not diverged:
            assert values["val/acc_best"]["value"] == pytest.approx(result.metrics["val/acc_best"])
            assert values["test/acc"]["value"] == pytest.approx(result.metrics["test/acc"])
            assert values["val/loss"]["trainingStep"] == 3
        else:
            assert "test/acc" in values and not math.isnan(values["val/acc_best"]["value"])


def test_every_tensorboard_writer_of_a_run_wakes_within_seconds(tmp_path):
    """A Ctrl-C landing inside a writer thread's queue bookkeeping leaves it asleep until it next wakes, and
    the stopped run waits for it when it closes the writer: SummaryWriter's default wakes every 120 s (a run
    stopped in a loop of Ctrl-Cs once hung that long)."""
    from imdb_lightning.running.loggers import EpochTensorBoardLogger

    logger = EpochTensorBoardLogger(save_dir=str(tmp_path), name="", version="")
    writers = [logger.experiment, logger._writer("train"), logger._writer("validation")]
    assert [w.file_writer.event_writer._async_writer._worker._flush_secs for w in writers] == [2, 2, 2]
    logger.finalize("success")
