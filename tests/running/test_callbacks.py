"""TensorBoard shows why a run behaves as it does: HParams, per-layer histograms and gradient norms, curves.

Checked by reading the event files back with TensorBoard's own reader.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import SMALL, compose_run
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import plugin_data_pb2

from imdb_lightning.running.history import KerasHistory
from imdb_lightning.running.train import train


def events_of(run: Path) -> EventAccumulator:
    return EventAccumulator(
        str(run / "tensorboard"), size_guidance={"histograms": 0, "scalars": 0, "images": 0}
    ).Reload()


def run(data_dir: Path, out: Path, *overrides: str) -> EventAccumulator:
    train(compose_run(out, [f"data.data_dir={data_dir}", *SMALL, "trainer.max_epochs=2", *overrides]))
    return events_of(out)


def test_hparams_tab_holds_the_runs_settings_and_no_experiment_summary(data_dir, tmp_path):
    events = run(data_dir, tmp_path / "run", "model.dropout=0.25")
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["model/dropout"].number_value == pytest.approx(0.25)
    assert start.hparams["optimizer"].string_value == "KerasRMSprop" and start.hparams[
        "optimizer/lr"
    ].number_value == pytest.approx(1e-3)
    assert (
        "callbacks/model_checkpoint/dirpath" not in start.hparams and len(start.hparams) <= 16
    )  # no plumbing
    # No experiment summary: TensorBoard then infers the sweep from every run (running/test_tensorboard.py).
    assert "_hparams_/experiment" not in content
    assert {"plots/loss", "plots/accuracy"} <= set(events.Tags()["images"])


def grad_norms(events: EventAccumulator, layer: str) -> list[float]:
    return [e.value for e in events.Scalars(f"grad_norm/{layer}")]


def test_initializer_experiments_show_why_they_fail(data_dir, tmp_path):
    zeros = run(data_dir, tmp_path / "zeros", "+experiment=init_zeros")
    glorot = run(data_dir, tmp_path / "glorot", "+experiment=init_glorot_uniform")
    small = run(data_dir, tmp_path / "small", "+experiment=init_too_small")
    large = run(data_dir, tmp_path / "large", "+experiment=init_too_large")
    for events in (zeros, glorot, small, large):
        tags = events.Tags()
        assert {"weights/hidden_1", "weights/hidden_2", "weights/output", "gradients/hidden_1"} <= set(
            tags["histograms"]
        )
    # zero init: the hidden layers never get a gradient, their weights stay a spike at 0
    assert all(n == 0.0 for n in grad_norms(zeros, "hidden_1") + grad_norms(zeros, "hidden_2"))
    last = zeros.Histograms("weights/hidden_1")[-1].histogram_value
    assert last.min == 0.0 and last.max == 0.0
    # the gradients shown are the epoch's last step's: none for zero init, a spread for Glorot's, every epoch
    assert all(
        h.histogram_value.max == h.histogram_value.min == 0 for h in zeros.Histograms("gradients/hidden_1")
    )
    gradients = glorot.Histograms("gradients/hidden_1")
    assert [h.step for h in gradients] == [1, 2]
    assert all(h.histogram_value.min < 0 < h.histogram_value.max for h in gradients)
    assert gradients[-1].histogram_value.num == 30 * 16  # the whole kernel (run(): 30 words)
    # too small: vanishing gradients (100x below Glorot's); too large: exploding ones (10x above, here)
    glorot_norm = max(grad_norms(glorot, "hidden_1"))
    assert max(grad_norms(small, "hidden_1")) < glorot_norm / 100
    assert max(grad_norms(large, "hidden_1")) > glorot_norm * 10


@pytest.mark.parametrize("batches_a_step", [1, 3])
def test_gradient_histograms_copy_the_epochs_last_optimizer_step_only(batches_a_step):
    """With ``model.steps_per_execution`` one Lightning step runs several optimizer steps: the gradients are
    still copied once an epoch, at its last optimizer step (a copy at each of the last execution's steps
    costs as much as copying at every step)."""
    from types import SimpleNamespace

    import torch

    from imdb_lightning.network.batches import Execution
    from imdb_lightning.network.layers import Dense
    from imdb_lightning.running.diagnostics import LayerDiagnostics

    module = torch.nn.Sequential(Dense(4, 2))
    trainer = SimpleNamespace(num_training_batches=2, global_step=1)  # grad norms not due (every 1000)
    diagnostics = LayerDiagnostics(every_n_steps=1000)
    batch = Execution(range(batches_a_step)) if batches_a_step > 1 else "a batch"
    for lightning_step in range(2):
        diagnostics.on_train_batch_start(trainer, module, batch, lightning_step)
        for step in range(batches_a_step):
            module[0].kernel.grad = torch.full((4, 2), float(10 * lightning_step + step))
            diagnostics.on_before_optimizer_step(trainer, module, None)
            last = lightning_step == 1 and step == batches_a_step - 1
            assert bool(diagnostics._last_grads) == last
    assert torch.equal(diagnostics._last_grads["0"], torch.full((4, 2), 10.0 + batches_a_step - 1))


def test_diagnostics_are_off_by_default(data_dir, tmp_path):
    events = run(data_dir, tmp_path / "run")
    assert not events.Tags()["histograms"]
    assert not [t for t in events.Tags()["scalars"] if t.startswith("grad_norm/")]


def test_histograms_hold_every_value_with_its_range_and_moments(tmp_path):
    import numpy as np
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from imdb_lightning.running.diagnostics import add_histogram

    values = torch.randn(1000, 16, generator=torch.Generator().manual_seed(0))
    writer = SummaryWriter(str(tmp_path / "tensorboard"))
    add_histogram(writer, "w", values, 3)
    add_histogram(writer, "zeros", torch.zeros(10, 4), 3)
    writer.close()
    events = events_of(tmp_path)
    h = events.Histograms("w")[0]
    assert h.step == 3
    h = h.histogram_value
    assert h.num == 16000 and sum(h.bucket) == 16000 and len(h.bucket) == len(h.bucket_limit) == 64
    assert (h.min, h.max) == pytest.approx((values.min().item(), values.max().item()))
    assert h.sum == pytest.approx(values.double().sum().item()) and h.sum_squares == pytest.approx(
        values.double().square().sum().item()
    )
    expected, edges = np.histogram(values.double().numpy(), bins=64, range=(h.min, h.max))
    assert list(h.bucket) == expected.tolist() and list(h.bucket_limit) == edges[1:].tolist()
    z = events.Histograms("zeros")[0].histogram_value
    assert (z.min, z.max, z.num, list(z.bucket)) == (0.0, 0.0, 40, [40.0])


def session_status(events: EventAccumulator) -> str:
    from tensorboard.plugins.hparams import api_pb2

    content = events.PluginTagToContent("hparams")
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"]).session_end_info
    return api_pb2.Status.Name(end.status)


def test_hparams_session_ends_with_the_runs_status_and_no_placeholder_metrics(data_dir, tmp_path):
    completed = run(data_dir, tmp_path / "ok")
    assert session_status(completed) == "STATUS_SUCCESS"
    assert not [t for t in completed.Tags()["scalars"] if t.startswith("hp")]  # no placeholder metrics
    diverged = run(data_dir, tmp_path / "bad", "optimizer.lr=1e6")
    assert session_status(diverged) == "STATUS_FAILURE"
    with pytest.raises(RuntimeError, match="the disk went away"):  # a run that fails inside fit
        run(data_dir, tmp_path / "failed", "+callbacks.boom._target_=runs.FailAt", "+callbacks.boom.epoch=1")
    assert session_status(events_of(tmp_path / "failed")) == "STATUS_FAILURE"


def test_hparams_show_the_lectures_settings_and_whatever_the_command_line_set(tmp_path):
    from imdb_lightning.running.hparams import ALWAYS_SHOWN, selected_settings

    cfg = compose_run(tmp_path, ["+experiment=l2", "trainer.max_epochs=3", "data.eval_batch_size=1024"])
    settings = selected_settings(
        cfg, ["+experiment=l2", "trainer.max_epochs=3", "data.eval_batch_size=1024", "hydra.job.chdir=false"]
    )
    assert (
        settings["lecture/name"] == "l2"
        and settings["model/l2"] == 0.001
        and settings["optimizer"] == "KerasRMSprop"
    )
    assert settings["trainer/max_epochs"] == 3 and settings["data/eval_batch_size"] == 1024
    assert set(settings) == {
        "optimizer",
        *(k.replace(".", "/") for k in ALWAYS_SHOWN),
        "trainer/max_epochs",
        "data/eval_batch_size",
    }


def test_scalars_are_drawn_against_the_epoch_counted_from_one(data_dir, tmp_path):
    events = run(data_dir, tmp_path / "run", "trainer.max_epochs=3")
    board = EventMultiplexer().AddRunsFromDirectory(str(tmp_path / "run" / "tensorboard")).Reload()
    for sub_run in ("train", "validation"):
        for tag in ("epoch_loss", "epoch_accuracy"):
            assert [e.step for e in board.Scalars(sub_run, tag)] == [1, 2, 3], (sub_run, tag)
    assert [e.step for e in events.Scalars("summary/best_val_accuracy")] == [1, 2, 3]
    for tag in ("summary/test_loss", "summary/test_accuracy"):
        assert [e.step for e in events.Scalars(tag)] == [3], tag  # after fit: at the last epoch
    assert "epoch" not in events.Tags()["scalars"]  # it became the axis
    (image,) = events.Images("plots/loss")
    assert image.step == 3 and image.encoded_image_string == (tmp_path / "run" / "loss.png").read_bytes()
    assert (image.width, image.height) == (640, 420)  # the run folder's own figure


@pytest.mark.parametrize(("epoch_loss", "stops"), [(99.0, False), (101.0, True)])
def test_divergence_by_default_is_an_epoch_loss_over_100_times_the_first_batchs(epoch_loss, stops, tmp_path):
    """The README's rule, with the class's own default factor: 100 times the initial weights' loss."""
    import json
    from types import SimpleNamespace

    import torch

    from imdb_lightning.running.divergence import StopOnDivergence

    guard = StopOnDivergence(folder=tmp_path)
    trainer = SimpleNamespace(current_epoch=0, should_stop=False, is_global_zero=True, callback_metrics={})
    guard.on_train_batch_end(trainer, None, torch.tensor(1.0), None, 0)
    trainer.callback_metrics = {"train/loss": torch.tensor(epoch_loss)}
    guard.on_train_epoch_end(trainer, None)
    assert trainer.should_stop is stops and (guard.diverged_at is not None) is stops
    marked = tmp_path / "metrics.json"
    assert marked.is_file() is stops
    if stops:
        assert json.loads(marked.read_text())["status"] == "diverged" and "101" in guard.reason


def test_a_non_finite_loss_inside_a_step_of_several_batches_is_placed_at_its_batch(tmp_path):
    """Under steps_per_execution=4 the callback sees a step's four losses: the third step's second batch is
    the epoch's tenth."""
    from types import SimpleNamespace

    import torch

    from imdb_lightning.running.divergence import StopOnDivergence

    guard = StopOnDivergence(folder=tmp_path)
    trainer = SimpleNamespace(current_epoch=0, should_stop=False, is_global_zero=True, callback_metrics={})
    model = SimpleNamespace(steps_per_execution=4)
    guard.on_train_batch_end(trainer, model, {"loss": torch.tensor([0.7, 0.6, 0.5, 0.4])}, None, 0)
    assert not trainer.should_stop and guard.first_loss == pytest.approx(0.7)
    guard.on_train_batch_end(
        trainer, model, {"loss": torch.tensor([0.3, float("nan"), 0.2, float("inf")])}, None, 2
    )
    assert trainer.should_stop and guard.diverged_at == (1, 10)
    assert guard.reason == "the loss is not finite at epoch 1, batch 10"


def test_a_runs_figures_are_titled_by_its_configuration(tmp_path, monkeypatch):
    import imdb_lightning.running.history as history_module

    drawn = []
    real = history_module.history_figure
    monkeypatch.setattr(
        history_module, "history_figure", lambda *a, **k: drawn.append(k.get("title")) or real(*a, **k)
    )
    callback = KerasHistory(tmp_path, title="dropout,model.dropout=0.2 (seed 3)")
    callback.history = {
        "loss": [0.6, 0.5],
        "accuracy": [0.7, 0.8],
        "val_loss": [0.6, 0.55],
        "val_accuracy": [0.7, 0.75],
    }
    callback.plot()
    assert drawn == ["dropout,model.dropout=0.2 (seed 3)"] * 2 and (tmp_path / "loss.png").is_file()
