"""The network, its Keras-style summary and its weight penalties."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from runs import bare_trainer

from imdb_lightning.network.layers import Dense
from imdb_lightning.network.model import DenseStack, IMDBClassifier, weight_penalty
from imdb_lightning.network.summary import count_parameters, keras_summary


def test_baseline_has_the_lectures_layers_and_160305_parameters():
    net = DenseStack(10000)
    assert [name for name, _ in net.named_children()] == [
        "hidden_1",
        "relu_1",
        "hidden_2",
        "relu_2",
        "output",
    ]
    assert count_parameters(net) == (160_305, 0)
    summary = keras_summary(net)
    for row in (
        "hidden_1 (Dense)",
        "160,016",
        "hidden_2 (Dense)",
        "272",
        "output (Dense)",
        "17",
        "Total params: 160,305",
    ):
        assert row in summary


def test_batchnorm_adds_128_parameters_of_which_64_non_trainable_as_keras():
    net = DenseStack(10000, batchnorm=True)
    trainable, frozen = count_parameters(net)
    assert (trainable + frozen, trainable, frozen) == (160_433, 160_369, 64)
    summary = keras_summary(net)
    assert "batch_normalization_1 (BatchNormalization)" in summary and "Non-trainable params: 64" in summary
    # columns stay apart for the longest layer name: name, shape and count each in their own column
    row = next(line for line in summary.splitlines() if line.startswith("batch_normalization_1"))
    assert row.split() == ["batch_normalization_1", "(BatchNormalization)", "(None,", "16)", "64"]
    header = next(line for line in summary.splitlines() if line.startswith("Layer (type)"))
    assert row.index("(None, 16)") == header.index("Output Shape") and len(row) == len(header)
    bn = net.batch_normalization_1
    assert bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1e-3)


def test_dropout_layers_follow_each_hidden_layer_and_add_no_parameters():
    net = DenseStack(10000, dropout=0.5)
    assert [n for n, _ in net.named_children()] == [
        "hidden_1",
        "relu_1",
        "dropout_1",
        "hidden_2",
        "relu_2",
        "dropout_2",
        "output",
    ]
    assert count_parameters(net) == (160_305, 0)
    assert "dropout_1 (Dropout)" in keras_summary(net)


def test_widths_and_depth_are_configurable():
    net = DenseStack(100, [32, 8, 4], activation="tanh")
    assert [m.out_features for m in net if isinstance(m, Dense)] == [32, 8, 4, 1]
    assert len(net.hidden_kernels()) == 3
    with pytest.raises(ValueError, match="relu"):
        DenseStack(100, activation="swishy")


def test_penalty_is_keras_l1_and_l2_on_hidden_kernels_only():
    model = IMDBClassifier(input_dim=50, l1=0.01, l2=0.001)
    kernels = [model.net.hidden_1.kernel, model.net.hidden_2.kernel]
    expected = sum(0.01 * w.abs().sum() + 0.001 * w.square().sum() for w in kernels)
    assert model.penalty().item() == pytest.approx(expected.item(), rel=1e-6)
    assert weight_penalty(kernels).item() == 0.0
    with torch.no_grad():
        model.net.output.kernel.fill_(100.0)  # the output kernel is not regularized
        model.net.hidden_1.bias.fill_(100.0)  # nor are biases
    assert model.penalty().item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("l1, l2", [(0.0, 0.01), (0.003, 0.0), (0.003, 0.01)])
def test_training_loss_is_cross_entropy_plus_penalty_as_keras_reports_it(l1, l2):
    torch.manual_seed(0)
    model = IMDBClassifier(input_dim=50, l1=l1, l2=l2)
    x = (torch.rand(8, 50) < 0.2).float()
    y = torch.tensor([0, 1] * 4, dtype=torch.float32)
    model.log = lambda *a, **k: None
    loss = model.model_step((x, y), 0, "train")
    expected = F.binary_cross_entropy(torch.sigmoid(model(x)), y) + model.penalty()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert (
        model.predict_proba(x).shape == (8,)
        and ((model.predict_proba(x) > 0) & (model.predict_proba(x) < 1)).all()
    )


@pytest.mark.parametrize("batchnorm", [False, True])
def test_bag_input_gives_the_same_logits_and_gradients_as_multi_hot_rows(batchnorm):
    from imdb_lightning.data import CompactBatch, multi_hot

    torch.manual_seed(0)
    model = IMDBClassifier(input_dim=1000, batchnorm=batchnorm, dropout=0.0).eval()
    lengths = torch.randint(1, 60, (32,))
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    ids = torch.cat([torch.randperm(1000)[:n] for n in lengths.tolist()]).int()
    bag = CompactBatch(ids, offsets, torch.zeros(32))
    dense = multi_hot(ids, offsets, 1000)
    assert torch.allclose(model(bag), model(dense), atol=1e-5)
    model(bag).sum().backward()
    grad_bag = model.net.hidden_1.kernel.grad.clone()
    model.zero_grad()
    model(dense).sum().backward()
    assert torch.allclose(grad_bag, model.net.hidden_1.kernel.grad, atol=1e-5)


def test_weighted_mean_weights_batches_by_size_and_keeps_nan():
    from imdb_lightning.network.model import WeightedMean

    mean = WeightedMean()
    mean.update(torch.tensor(1.0), 3)
    mean.update(torch.tensor(0.0), 1)
    assert mean.compute().item() == pytest.approx(0.75)
    mean.update(torch.tensor(float("nan")), 2)
    assert torch.isnan(mean.compute())
    # Updated in place: an epoch's reset starts from zero again, its NaN gone.
    mean.reset()
    mean.update(torch.tensor(0.25), 2)
    assert mean.compute().item() == 0.25


def test_logged_validation_loss_and_accuracy_are_exact_over_the_whole_set(data_dir, tmp_path):

    from imdb_lightning.data import IMDBDataModule

    dm = IMDBDataModule(
        data_dir, num_words=30, val_size=13, batch_size=8
    )  # 13 = a full batch and a partial one
    model = IMDBClassifier(input_dim=30, l2=0.01)
    trainer = bare_trainer(max_epochs=2)
    trainer.fit(model, datamodule=dm)
    model.eval()
    loader = dm.loader("val")
    x, y = loader.inputs(loader.gather(torch.arange(13)))
    with torch.no_grad():
        logits = model(x)
        expected_loss = F.binary_cross_entropy_with_logits(logits, y) + model.penalty()
    assert trainer.callback_metrics["val/loss"].item() == pytest.approx(expected_loss.item(), rel=1e-5)
    assert trainer.callback_metrics["val/acc"].item() == pytest.approx(
        ((logits > 0).float() == y).float().mean().item()
    )
    # What a checkpoint may monitor (checked before a run's data loads) is what a fit logs.
    assert sorted(trainer.callback_metrics) == sorted(model.monitorable)
    assert "val/penalty" not in IMDBClassifier(input_dim=30).monitorable


def test_several_batches_a_step_train_exactly_as_one_batch_a_step(data_dir):
    """Keras's steps_per_execution: the same batches in the same order, the same arithmetic, so the same
    epochs and weights; dropout's draws, a penalty and an epoch scheduler included. 30 training reviews in
    batches of 8 are executions of 3 and 1 batches; the scheduler still steps once an epoch."""
    from functools import partial

    import lightning as L

    from imdb_lightning.data import IMDBDataModule

    class Epochs(L.Callback):
        def __init__(self) -> None:
            self.seen: list[dict[str, float]] = []
            self.hooks = {"on_before_backward": 0, "on_after_backward": 0, "on_before_optimizer_step": 0}

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self.seen.append({k: v.item() for k, v in trainer.callback_metrics.items()})

        def on_before_backward(self, trainer, pl_module, loss) -> None:
            self.hooks["on_before_backward"] += 1

        def on_after_backward(self, trainer, pl_module) -> None:
            self.hooks["on_after_backward"] += 1

        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            self.hooks["on_before_optimizer_step"] += 1

    class EpochsOnly(Epochs):  # no callback listens to the optimizer's step: Lightning's is skipped too
        on_before_optimizer_step = L.Callback.on_before_optimizer_step

    runs, hooks = {}, {}
    for steps, listener in ((1, Epochs), (3, Epochs), ("3, unheard", EpochsOnly)):
        L.seed_everything(7)
        model = IMDBClassifier(
            input_dim=30,
            dropout=0.2,
            l2=0.01,
            scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5),
            steps_per_execution=3 if steps != 1 else 1,
        )
        epochs = listener()
        trainer = bare_trainer(max_epochs=3, callbacks=[epochs])
        dm = IMDBDataModule(data_dir, num_words=30, val_size=10, batch_size=8, batch_format="bag")
        trainer.fit(model, datamodule=dm)
        tested = trainer.test(model, datamodule=dm, verbose=False)[0]
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        runs[steps] = (epochs.seen, model.state_dict(), trainer.global_step, lr, tested)
        hooks[steps] = epochs.hooks
    (seen_1, weights_1, steps_1, lr_1, test_1) = runs[1]
    # The backward hooks run once an execution (two an epoch), the optimizer's for every batch's step.
    assert hooks[1] == {"on_before_backward": 12, "on_after_backward": 12, "on_before_optimizer_step": 12}
    assert hooks[3] == {"on_before_backward": 6, "on_after_backward": 6, "on_before_optimizer_step": 12}
    unheard = {"on_before_backward": 6, "on_after_backward": 6, "on_before_optimizer_step": 0}
    assert hooks["3, unheard"] == unheard
    for seen_3, weights_3, steps_3, lr_3, test_3 in (runs[3], runs["3, unheard"]):
        assert seen_3 == seen_1 and len(seen_1) == 3 and "train/penalty" in seen_1[0]
        assert all(torch.equal(weights_3[k], weights_1[k]) for k in weights_1)
        assert steps_3 == steps_1 == 12  # optimizer steps: 4 batches an epoch
        assert lr_3 == lr_1 == pytest.approx(1e-3 * 0.5**3)
        assert test_3 == test_1


def test_an_execution_skips_lightnings_backward_only_where_it_is_the_hooks_around_autograd():
    import lightning as L

    from imdb_lightning.network.model import _backward_is_hooks_only

    cpu = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert _backward_is_hooks_only(L.Trainer(devices=1, **cpu))
    assert not _backward_is_hooks_only(L.Trainer(devices=1, precision="bf16-mixed", **cpu))  # autocast
    assert not _backward_is_hooks_only(L.Trainer(devices=2, strategy="ddp", **cpu))  # gradients synced


def test_an_execution_skips_lightnings_optimizer_step_only_where_no_hook_listens_to_it():
    import lightning as L

    from imdb_lightning.network.model import _optimizer_step_is_counting_only
    from imdb_lightning.running.diagnostics import LayerDiagnostics

    class Listening(IMDBClassifier):
        def on_before_optimizer_step(self, optimizer) -> None:
            pass

    cpu = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    model = IMDBClassifier(input_dim=30, steps_per_execution=3)
    assert _optimizer_step_is_counting_only(L.Trainer(devices=1, **cpu), model)
    assert not _optimizer_step_is_counting_only(L.Trainer(devices=1, **cpu), Listening(input_dim=30))
    diagnostics = L.Trainer(devices=1, callbacks=[LayerDiagnostics()], **cpu)  # gradient norms: the hook
    assert not _optimizer_step_is_counting_only(diagnostics, model)
    assert not _optimizer_step_is_counting_only(L.Trainer(devices=1, gradient_clip_val=1.0, **cpu), model)
    assert not _optimizer_step_is_counting_only(L.Trainer(devices=1, precision="bf16-mixed", **cpu), model)


def test_accuracy_metric_agrees_with_torchmetrics():
    from torchmetrics.classification import BinaryAccuracy

    from imdb_lightning.network.model import Accuracy

    torch.manual_seed(1)
    ours, reference = Accuracy(), BinaryAccuracy()
    for n in (7, 512, 3):
        logits, target = torch.randn(n), (torch.rand(n) > 0.5).float()
        ours.update(logits, target)
        reference.update(torch.sigmoid(logits), target.long())
    assert ours.compute().item() == pytest.approx(reference.compute().item())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dropout": 1.5}, r"model.dropout must be in \[0, 1\), got 1.5"),
        ({"l2": -0.1}, "model.l2 must be a number >= 0, got -0.1"),
        ({"hidden_sizes": [16, 0]}, "model.hidden_sizes must be a non-empty list of positive integers"),
        ({"activation": "swish"}, "model.activation must be one of relu, tanh"),
        ({"init": "orthogonal"}, "model.init must be one of zeros"),
        ({"init_scale": 0}, r"model.init_scale must be a positive number \(or null\), got 0"),
        (  # a scale the initializer would ignore: two runs the same, named apart
            {"init": "he_normal", "init_scale": 0.5},
            "model.init_scale sets the stddev of random_normal, too_small, too_large only; model.init=he_",
        ),
        ({"batchnorm": "yes"}, "model.batchnorm must be true or false"),
    ],
)
def test_the_model_checks_its_own_settings_naming_the_config_key(kwargs, message):
    """The one home of each rule: the config check runs this constructor before any data loads."""
    with pytest.raises(ValueError, match=message):
        IMDBClassifier(input_dim=10, **kwargs)


def test_dropout_drops_the_rate_it_is_given_and_scales_the_rest_up():
    """0.2, not 0.5: a rate used as the keep probability (1 - rate) would pass a test at 0.5."""
    torch.manual_seed(0)
    net = DenseStack(10000, dropout=0.2).train()
    dropout = next(module for name, module in net.named_modules() if name.endswith("dropout_1"))
    out = dropout(torch.ones(200_000))
    assert float((out == 0).float().mean()) == pytest.approx(0.2, abs=0.005)
    assert float(out.max()) == pytest.approx(1 / 0.8)


def test_the_best_validation_accuracy_so_far_is_kept_in_the_models_state():
    """A resumed run remembers its best epoch: ``val/acc_best`` is part of the checkpoint's state dict."""
    trained = IMDBClassifier(input_dim=8)
    trained.val_acc_best.update(torch.tensor(0.75))
    resumed = IMDBClassifier(input_dim=8)
    resumed.load_state_dict(trained.state_dict())
    resumed.val_acc_best.update(torch.tensor(0.5))
    assert float(resumed.val_acc_best.compute()) == 0.75
