"""The library behaviour each private use relies on (imdb_lightning.utils.private): an upgrade that changes
it fails here, by name."""

from __future__ import annotations

import functools
import os
import time

import hydra
import lightning as L
import torch
from runs import bare_trainer, composed
from tasks import pid_after
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.utils.private import (
    as_epoch_end,
    counted_step,
    expose_hydra_plugins,
    hydra_runtime,
    hydra_sweep_expansion,
    lightning_checkpoint,
    start_joblib_workers,
    write_summary,
)


def test_hydras_sweep_expansion_is_the_basic_sweepers_order_with_globs_over_a_group():
    batches = hydra_sweep_expansion(["seed=0,1", "+experiment=dropout,l2"], CONFIG_DIR)
    jobs = [job for batch in batches for job in batch]
    assert jobs == [
        ["seed=0", "+experiment=dropout"],
        ["seed=0", "+experiment=l2"],
        ["seed=1", "+experiment=dropout"],
        ["seed=1", "+experiment=l2"],
    ]
    globbed = [
        job for batch in hydra_sweep_expansion(["+experiment=glob(init_*)"], CONFIG_DIR) for job in batch
    ]
    assert ["+experiment=init_zeros"] in globbed and all(
        j[0].startswith("+experiment=init_") for j in globbed
    )


def test_hydras_plugin_scan_lists_the_packages_sweeper_however_it_is_installed():
    import pkgutil

    import hydra_plugins

    expose_hydra_plugins()  # an editable install's import hook serves the module but pkgutil cannot list it
    assert "imdb_lightning_sweeper" in {m.name for m in pkgutil.iter_modules(hydra_plugins.__path__)}


def test_the_hydra_runtime_is_set_for_a_run_and_put_back_after():
    from hydra.core.hydra_config import HydraConfig

    before = HydraConfig.initialized()
    cfg = composed("seed=3", hydra=True)
    with hydra_runtime(cfg):
        assert HydraConfig.initialized() and HydraConfig.get().job.name == cfg.hydra.job.name
        assert list(HydraConfig.get().overrides.task) == ["seed=3"]
    assert HydraConfig.initialized() is before


class _Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _TakeAtSecondEpoch(L.Callback):
    def __init__(self) -> None:
        self.state: dict | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            self.state = lightning_checkpoint(trainer)


def test_lightnings_checkpoint_at_an_epoch_start_counts_that_epoch_ready_and_reads_as_the_end_before(
    tmp_path,
):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 2)), batch_size=2)
    taken = _TakeAtSecondEpoch()
    trainer = bare_trainer(max_epochs=2, callbacks=[taken], default_root_dir=tmp_path)
    trainer.fit(_Tiny(), data)
    state = taken.state
    assert state is not None and "layer.weight" in state["state_dict"] and state["optimizer_states"]
    progress = state["loops"]["fit_loop"]["epoch_progress"]
    assert progress["total"]["ready"] == 2 and progress["total"]["completed"] == 1
    as_epoch_end(state)
    assert all(counts["ready"] == counts["completed"] for counts in progress.values())


class _ManualTiny(_Tiny):
    """Steps its optimizer itself, as many times a batch as it is told: through Lightning, or counted."""

    def __init__(self, counted: bool) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.counted = counted

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        for _ in range(3):
            optimizer.zero_grad()
            self.layer(batch[0]).sum().backward()
            counted_step(optimizer) if self.counted else optimizer.step()


def test_a_counted_step_steps_the_optimizer_and_counts_as_lightnings_step():
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 2)), batch_size=2)
    runs = {}
    for counted in (False, True):
        torch.manual_seed(0)
        model, trainer = _ManualTiny(counted), bare_trainer(max_epochs=2)
        trainer.fit(model, data)
        runs[counted] = (trainer.global_step, model.layer.weight.detach().clone())
    assert runs[True][0] == runs[False][0] == 12  # 2 epochs x 2 batches x 3 steps
    assert torch.equal(runs[True][1], runs[False][1])


def test_a_prepared_summary_is_written_through_a_summary_writers_file_writer(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    write_summary(writer, Summary(value=[Summary.Value(tag="check/value", simple_value=0.25)]), 3)
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    (scalar,) = events.Scalars("check/value")
    assert (scalar.step, scalar.value) == (3, 0.25)


def _gone(pids: set[int], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        alive = set()
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.add(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_joblib_workers_started_early_are_the_launchers_and_are_killed_when_told():
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from joblib import Parallel, delayed

    launcher = hydra.utils.instantiate(composed("hydra/launcher=joblib", hydra=True).hydra.launcher, n_jobs=2)
    finish = start_joblib_workers(launcher, functools.partial(pid_after, 1.0), jobs=5)
    workers = set(finish(True))
    assert len(workers) == 2 and os.getpid() not in workers
    # The launcher's own call (its config made into Parallel's arguments, as its launch() makes them) runs on
    # the same workers: joblib reuses an executor asked for with the same arguments.
    arguments = {**launcher.joblib, "backend": "loky"}
    process_joblib_cfg(arguments)
    assert set(Parallel(**arguments)(delayed(os.getpid)() for _ in range(6))) <= workers
    # A refused sweep: the workers go at once, their tasks unfinished.
    finish = start_joblib_workers(launcher, functools.partial(time.sleep, 60), jobs=2)
    time.sleep(0.3)
    assert finish(False) == []
    assert _gone(workers, within_s=10)


def test_no_workers_are_started_for_another_launcher_or_a_single_job_at_a_time():
    launcher = hydra.utils.instantiate(composed("hydra/launcher=joblib", hydra=True).hydra.launcher, n_jobs=1)
    assert start_joblib_workers(launcher, os.getpid, jobs=5) is None
    assert start_joblib_workers(object(), os.getpid, jobs=5) is None


def test_a_failing_early_task_is_left_to_the_jobs_to_report():
    launcher = hydra.utils.instantiate(composed("hydra/launcher=joblib", hydra=True).hydra.launcher, n_jobs=2)
    finish = start_joblib_workers(launcher, functools.partial(int, "not a number"), jobs=2)
    assert finish(True) == []  # no exception out of the sweeper's checks
