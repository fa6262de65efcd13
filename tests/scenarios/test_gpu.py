"""The GPU path, on a GPU: the same batches, logits, optimizer steps and runs as on the CPU.

Marked ``gpu`` and skipped where CUDA is absent (CI). ``IMDB_LIGHTNING_TEST_DEVICE=cpu`` runs the tests'
own logic against the CPU instead, to check them on a machine without a GPU (then the CUDA-only checks,
synchronization and a CPU-only reload, are skipped). ``scripts/gpu_check.sh`` runs these on a GPU machine.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from network.test_optimizers import GRADS, W0, configured  # tests/ is on the path (conftest.py)
from runs import SMALL, compose_run

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.data import BatchLoader, CompactBatch, IMDBDataModule, multi_hot
from imdb_lightning.network.model import IMDBClassifier
from imdb_lightning.network.optimizers import KerasRMSprop
from imdb_lightning.running.train import train

pytestmark = pytest.mark.gpu
OPTIMIZERS = sorted(p.stem for p in (CONFIG_DIR / "optimizer").glob("*.yaml"))


@pytest.fixture(scope="module")
def device() -> torch.device:
    named = os.environ.get("IMDB_LIGHTNING_TEST_DEVICE")
    if named:
        return torch.device(named)
    if not torch.cuda.is_available():
        pytest.skip("CUDA is absent (IMDB_LIGHTNING_TEST_DEVICE=cpu checks these tests' logic on the CPU)")
    return torch.device("cuda")


def cuda_only(device: torch.device) -> None:
    if device.type != "cuda":
        pytest.skip("needs CUDA itself")


def trainer_overrides(device: torch.device) -> list[str]:
    return ["trainer=gpu"] if device.type == "cuda" else [f"trainer.accelerator={device.type}"]


def ready(data_dir: Path) -> IMDBDataModule:
    dm = IMDBDataModule(data_dir, val_size=10, batch_size=8, num_words=30)
    dm.prepare_data()
    dm.setup()
    return dm


def test_batches_built_on_the_device_equal_the_cpus(data_dir, device):
    dm = ready(data_dir)
    for shuffle in (False, True):
        loaders = {
            (batch_format, where): BatchLoader(
                dm.bags["train"],
                8,
                shuffle=shuffle,
                seed=3,
                device=where,
                batch_format=batch_format,
                width=30,
            )
            for batch_format in ("dense", "bag")
            for where in ("cpu", device)
        }
        for loader in loaders.values():
            loader.sampler.set_epoch(2)
        pairs = list(zip(loaders["dense", "cpu"], loaders["dense", device], strict=True))
        assert pairs
        for (a, _), (b, y) in pairs:  # multi-hot rows built on the device
            assert b.device.type == device.type and y.device.type == device.type
            np.testing.assert_array_equal(a.numpy(), b.cpu().numpy())
        for (a, _), (b, _) in zip(loaders["bag", "cpu"], loaders["bag", device], strict=True):  # the bag
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x.numpy(), y.cpu().numpy())


@pytest.mark.parametrize("batch_format", ["dense", "bag"])
def test_same_weights_give_the_same_logits_and_gradients_on_cpu_and_device(data_dir, device, batch_format):
    dm = ready(data_dir)
    torch.manual_seed(0)
    cpu_model = IMDBClassifier(input_dim=30, batchnorm=True)
    dev_model = IMDBClassifier(input_dim=30, batchnorm=True)
    dev_model.load_state_dict(cpu_model.state_dict())
    dev_model.to(device)
    batch, _ = next(iter(BatchLoader(dm.bags["train"], 16, batch_format="bag")))
    moved = CompactBatch(*(t.to(device) for t in batch))
    inputs = (
        (batch, moved) if batch_format == "bag" else (multi_hot(*batch[:2], 30), multi_hot(*moved[:2], 30))
    )
    outs = []
    for model, x, y in ((cpu_model, inputs[0], batch.labels), (dev_model, inputs[1], moved.labels)):
        logits = model(x)
        torch.nn.functional.binary_cross_entropy_with_logits(logits, y).backward()
        outs.append((logits.detach().cpu(), model.net.hidden_1.kernel.grad.cpu()))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outs[1][1], outs[0][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_steps_on_the_device_as_on_the_cpu(device, name):
    def on(dev: torch.device) -> list[float]:
        w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64, device=dev))
        opt = configured(name)([w])
        for g in GRADS:
            w.grad = g.to(dev, torch.float64)
            opt.step()
        return w.detach().cpu().tolist()

    assert on(device) == pytest.approx(on(torch.device("cpu")), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize(
    "overrides",
    [
        "+experiment=baseline",
        "+experiment=batchnorm",
        "+experiment=dropout",
        "+experiment=l2",
        "+experiment=l2 model.steps_per_execution=3",  # batches served, and the optimizer stepped, in threes
    ],
)
def test_two_epoch_runs_on_the_device_leave_a_complete_run_folder(data_dir, device, tmp_path, overrides):
    out = tmp_path / "run"
    metrics = train(
        compose_run(
            out,
            [
                *overrides.split(),
                f"data.data_dir={data_dir}",
                *SMALL,
                "trainer.max_epochs=2",
                *trainer_overrides(device),
            ],
        )
    )
    assert metrics["status"] == "completed" and metrics["epochs"] == 2
    for name in (
        "history.json",
        "metrics.json",
        "summary.txt",
        "loss.png",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
    ):
        assert (out / name).is_file(), name
    assert len(json.loads((out / "history.json").read_text())["val_accuracy"]) == 2


def test_diagnostics_on_the_device_write_gradient_norms(data_dir, device, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "diag"
    train(
        compose_run(
            out,
            [
                f"data.data_dir={data_dir}",
                *SMALL,
                "trainer.max_epochs=2",
                "callbacks=diagnostics",
                *trainer_overrides(device),
            ],
        )
    )
    tags = set()
    for events in (out / "tensorboard").rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent), size_guidance={"scalars": 0, "histograms": 0})
        acc.Reload()
        tags |= set(acc.Tags()["scalars"]) | set(acc.Tags()["histograms"])
    assert {"grad_norm/hidden_1", "weights/hidden_1", "gradients/hidden_1"} <= tags


def test_a_checkpoint_saved_on_the_device_predicts_and_resumes_without_cuda(data_dir, device, tmp_path):
    out = tmp_path / "run"
    train(
        compose_run(
            out, [f"data.data_dir={data_dir}", *SMALL, "trainer.max_epochs=2", *trainer_overrides(device)]
        )
    )
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["state_dict"]["net.hidden_1.kernel"].device.type == "cpu"
    script = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from runs import SMALL, compose_run\n"
        "from imdb_lightning.results.predict import main\n"
        "from imdb_lightning.running.train import train\n"
        f"assert main([{str(out)!r}, 'great brilliant film']) == 0\n"
        f"m = train(compose_run(__import__('pathlib').Path({str(tmp_path / 'resumed')!r}), "
        f"['data.data_dir={data_dir}', *SMALL, "
        f"'trainer.max_epochs=3', 'trainer.accelerator=cpu', "
        f"'ckpt_path={out / 'checkpoints' / 'last.ckpt'}']))\n"
        "assert m['epochs'] == 3, m\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # a machine without a GPU, as far as torch can tell
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "positive" in done.stdout or "negative" in done.stdout


def test_ddp_with_one_device_runs(data_dir, device, tmp_path):
    cuda_only(device)
    out = tmp_path / "ddp"
    metrics = train(
        compose_run(
            out,
            [f"data.data_dir={data_dir}", *SMALL, "trainer=ddp", "trainer.devices=1", "trainer.max_epochs=2"],
        )
    )
    assert metrics["status"] == "completed" and (out / "metrics.json").is_file()


@pytest.mark.parametrize("batch_format", ["dense", "bag"])
def test_no_step_waits_for_the_host(data_dir, device, batch_format):
    """A training step (batch, forward, loss, backward, optimizer step) never copies to or syncs with the
    host."""
    cuda_only(device)
    dm = ready(data_dir)
    model = IMDBClassifier(input_dim=30).to(device)
    opt = KerasRMSprop(model.parameters())
    loader = BatchLoader(
        dm.bags["train"], 8, shuffle=True, seed=1, device=device, batch_format=batch_format, width=30
    )
    batches = iter(loader)
    first = next(batches)  # the epoch's gather and its one copy of the batch boundaries happen here
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for x, y in itertools.chain([first], batches):  # each later batch is built inside the check
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y) + model.penalty()
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.metrics["train_loss"].update(loss.detach(), weight=len(y))
            model.metrics["train_acc"].update(model(x).detach(), y)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(model.metrics["train_loss"].compute())


def test_hydra_instantiates_the_gpu_trainer_config(device, tmp_path):
    cfg = compose_run(tmp_path, trainer_overrides(device))
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.strategy.root_device.type == device.type
