"""Every lecture experiment, composed and built: the values it sets reach the model and the optimizer.

The expected values are the lecture's, written out here, so that an experiment file whose learning rate,
regularizer or initializer drifts, or an optimizer config whose target breaks, fails a test.
"""

from __future__ import annotations

import math

import hydra
import pytest
import torch
from runs import composed, sweep_with_more_configs

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.config.validate import validate

WIDTH = 10000  # the lecture's rows, so that initializer scales read as the lecture's
# experiment -> the model settings it must produce (the rest stay the baseline's)
MODEL = {
    "baseline": {},
    "dropout": {"dropout": 0.5},
    "batchnorm": {"batchnorm": True},
    "l2": {"l2": 0.001},
    "l1": {"l1": 0.001},
    "l1l2": {"l1": 0.001, "l2": 0.001},
    **{
        f"init_{name}": {"init": name}
        for name in (
            "zeros",
            "random_normal",
            "too_small",
            "too_large",
            "he_normal",
            "lecun_normal",
            "glorot_normal",
            "glorot_uniform",
        )
    },
}
BASELINE_MODEL = {
    "hidden_sizes": [16, 16],
    "activation": "relu",
    "dropout": 0.0,
    "batchnorm": False,
    "l1": 0.0,
    "l2": 0.0,
    "init": "glorot_uniform",
}
# experiment -> (optimizer class, its settings): Keras's defaults
OPTIMIZER = {
    "opt_sgd": ("SGD", {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
    "opt_momentum": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": False}),
    "opt_nesterov": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    "opt_adagrad": ("KerasAdagrad", {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7}),
    "opt_rmsprop": ("KerasRMSprop", {"lr": 0.001, "rho": 0.9, "eps": 1e-7}),
    "opt_adam": ("KerasAdam", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.0}),
    "opt_adamw": ("KerasAdamW", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004}),
    "opt_nadam": ("KerasNadam", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
    "opt_adadelta": ("Adadelta", {"lr": 0.001, "rho": 0.95, "eps": 1e-7}),
    "opt_adamax": ("KerasAdamax", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
}
# hidden_1's kernel standard deviation each initializer must give at fan_in 10,000, fan_out 16
KERNEL_STD = {
    "zeros": 0.0,
    "random_normal": 0.05,
    "too_small": 1e-4,
    "too_large": 1.0,
    "he_normal": math.sqrt(2 / WIDTH),
    "lecun_normal": math.sqrt(1 / WIDTH),
    "glorot_normal": math.sqrt(2 / (WIDTH + 16)),
    "glorot_uniform": math.sqrt(6 / (WIDTH + 16)) / math.sqrt(3),
}
EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def build(experiment: str):
    cfg = composed(f"+experiment={experiment}")
    validate(cfg)
    optimizer = hydra.utils.instantiate(cfg.optimizer, _convert_="all")
    model = hydra.utils.instantiate(cfg.model, input_dim=WIDTH, optimizer=optimizer, scheduler=None)
    return cfg, model, model.configure_optimizers()


def test_every_experiment_file_is_specified_here():
    assert sorted([*MODEL, *OPTIMIZER]) == EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_each_experiment_builds_the_model_and_optimizer_it_names(experiment):
    torch.manual_seed(0)
    cfg, model, optimizer = build(experiment)
    assert cfg.lecture.name == experiment
    for key, value in {**BASELINE_MODEL, **MODEL.get(experiment, {})}.items():
        assert model.hparams[key] == value, key
    names = [name for name, _ in model.net.named_children()]
    assert ("dropout_1" in names) == (model.hparams.dropout > 0)
    assert ("batch_normalization_1" in names) == model.hparams.batchnorm
    cls, settings = OPTIMIZER.get(experiment, OPTIMIZER["opt_rmsprop"])
    assert type(optimizer).__name__ == cls
    group = optimizer.param_groups[0]
    for key, value in settings.items():
        assert (tuple(group[key]) if key == "betas" else group[key]) == pytest.approx(value), key
    kernel = model.net.hidden_1.kernel.detach()
    assert float(kernel.std()) == pytest.approx(KERNEL_STD[model.hparams.init], rel=0.03, abs=1e-12)
    assert torch.count_nonzero(model.net.hidden_1.bias) == 0  # biases start at zero, as Keras's


def test_initializer_experiments_turn_the_diagnostics_on():
    for experiment in (e for e in EXPERIMENTS if e.startswith("init_")):
        cfg, _, _ = build(experiment)
        assert "layer_diagnostics" in cfg.callbacks, experiment


def test_the_readmes_extending_recipe_adds_an_optimizer_and_its_lecture_variant(
    data_dir, tmp_path, monkeypatch
):
    """README, "Layout and extending": two config files, no code."""
    import imdb_lightning as il

    files = {
        "optimizer/radam.yaml": "_target_: torch.optim.RAdam\n_partial_: true\nlr: 0.001\n",
        "experiment/opt_radam.yaml": "# @package _global_\ndefaults: [{override /optimizer: radam}]\n"
        "lecture: {name: opt_radam, section: optimizers, order: 25}\n",
    }
    grid = sweep_with_more_configs(tmp_path, data_dir, files, "+experiment=opt_radam", "trainer.max_epochs=1")
    (result,) = grid
    assert result.status == "completed" and result.config.optimizer._target_ == "torch.optim.RAdam"
    assert il.load_sweep(grid.folder)["configuration"][0].startswith("opt_radam")
    from imdb_lightning.results.report import write_report

    write_report(grid.folder)
    assert (grid.folder / "curves_optimizers.png").is_file()
