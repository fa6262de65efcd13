"""What a resumed run must share with the checkpoint it continues."""

from __future__ import annotations

import torch

from imdb_lightning.network.optimizers import KerasAdam, KerasRMSprop
from imdb_lightning.running.checkpoints import data_mismatch, optimizer_mismatch


def saved(optimizer: torch.optim.Optimizer, **data) -> dict:
    return {"optimizer_states": [optimizer.state_dict()], "datamodule_hyper_parameters": data}


def param() -> list[torch.Tensor]:
    return [torch.zeros(3, requires_grad=True)]


def test_the_same_optimizer_settings_agree_though_a_scheduler_moved_the_learning_rate():
    trained = KerasRMSprop(param(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(trained, step_size=1, gamma=0.5)
    trained.step()
    scheduler.step()
    assert trained.param_groups[0]["lr"] == 5e-4  # the checkpoint holds the scheduled lr
    assert optimizer_mismatch(saved(trained), KerasRMSprop(param(), lr=1e-3)) is None


def test_another_learning_rate_or_optimizer_is_named():
    checkpoint = saved(KerasRMSprop(param(), lr=1e-3))
    assert (
        optimizer_mismatch(checkpoint, KerasRMSprop(param(), lr=1e-2))
        == "optimizer.lr=0.001 (this config has 0.01)"
    )
    assert optimizer_mismatch(checkpoint, KerasAdam(param())).startswith(
        "another optimizer than this config's KerasAdam (one with the settings eps, lr, rho)"
    )


def test_settings_agree_whatever_container_or_number_type_holds_them():
    checkpoint = saved(torch.optim.Adam(param(), betas=(0.9, 0.999), weight_decay=0))
    assert (
        optimizer_mismatch(checkpoint, torch.optim.Adam(param(), betas=[0.9, 0.999], weight_decay=0.0))
        is None
    )
    assert optimizer_mismatch(checkpoint, torch.optim.Adam(param(), betas=[0.8, 0.999])) == (
        "optimizer.betas=[0.9, 0.999] (this config has [0.8, 0.999])"
    )


def test_a_weights_only_checkpoint_has_no_optimizer_to_compare():
    assert optimizer_mismatch({}, KerasRMSprop(param())) is None


def test_the_data_split_and_encoding_must_agree_and_loader_settings_may_change():
    checkpoint = saved(KerasRMSprop(param()), val_size=10000, seed=113, maxlen=None, batch_size=512)
    assert (
        data_mismatch(checkpoint, {"val_size": 10000, "seed": 113, "maxlen": None, "batch_size": 64}) is None
    )
    assert data_mismatch(checkpoint, {"val_size": 10000, "seed": 113, "maxlen": 200}) == (
        "data.maxlen=null (this config has 200)"
    )
    assert data_mismatch({}, {"val_size": 5}) is None  # a checkpoint saved without a data module
