"""Train, validate and test one configuration: the thin function every command and sweep job runs."""

from __future__ import annotations

import gc
import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass

import hydra
import lightning as L
import torch
from hydra.errors import InstantiationException
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from imdb_lightning.config.overrides import command_line_overrides
from imdb_lightning.config.runtime import parallel_jobs, torch_threads
from imdb_lightning.config.validate import settings_refused, validate
from imdb_lightning.network.summary import count_parameters, keras_summary
from imdb_lightning.running.folder import RunFolder, Status
from imdb_lightning.running.hparams import hparams_session, selected_settings
from imdb_lightning.running.loggers import tensorboard_loggers
from imdb_lightning.running.preflight import check_resumable, check_setup
from imdb_lightning.running.printout import KerasProgressBar, quiet_libraries
from imdb_lightning.utils.errors import Terminated, sigterm_interrupts, stopped_by

log = logging.getLogger(__name__)

_HEAP_FROZEN = False


def freeze_library_heap() -> None:
    """Keep Python's garbage collector off the objects that exist when the first run starts: the imported
    libraries, which never become garbage but make every full collection slow (inside a fit, and after every
    sweep job, see :func:`release_memory`). Frozen once, collections walk only what the runs create
    (docs/benchmarks.md)."""
    global _HEAP_FROZEN
    if not _HEAP_FROZEN:
        # No full collection first: after the imports it finds next to nothing unreachable, at a cost paid by
        # every run's start (docs/benchmarks.md).
        gc.freeze()
        _HEAP_FROZEN = True


def instantiate_all(cfg: DictConfig, group: str) -> list:
    """Every ``_target_`` child of a group (callbacks, loggers), in order; settings they refuse are a
    :class:`ConfigError`."""
    made = []
    for child in (cfg.get(group) or {}).values():
        if isinstance(child, DictConfig) and "_target_" in child:
            try:
                made.append(hydra.utils.instantiate(child))
            except InstantiationException as err:
                raise settings_refused(group, err) from None
    return made


@dataclass
class Trained:
    """What a run returns: what ``metrics.json`` holds, and the trained model (final weights, in eval mode, on
    the CPU, detached from its trainer so that it keeps no data alive)."""

    metrics: dict[str, float | int | str | None]
    model: L.LightningModule


def train(cfg: DictConfig) -> dict[str, float | int | str | None]:
    """Fit, test and leave the run folder complete; return what ``metrics.json`` holds (see
    :func:`train_model`)."""
    return train_model(cfg).metrics


def train_model(cfg: DictConfig) -> Trained:
    """Fit, test and leave the run folder complete (:class:`~imdb_lightning.running.folder.RunFolder`).

    The run first claims its folder (``metrics.json`` says ``running``; a folder holding another run is
    refused), then ``metrics.json`` ends as: the final logged metrics with status ``completed`` or
    ``diverged``, ``epochs``, ``fit_seconds`` and ``params``; status ``failed`` and the error's first line
    for a run that fails (a config refused before any data loads too: a sweep's report lists it); status
    ``interrupted`` on Ctrl-C or SIGTERM, after the history, plots and ``interrupted.ckpt`` are kept, which
    then raise ``KeyboardInterrupt`` (:class:`~imdb_lightning.utils.errors.Terminated` for SIGTERM)."""
    folder = RunFolder(cfg.paths.output_dir)
    previous = folder.claim(resume_from=cfg.get("ckpt_path")) if is_rank_zero() else None
    sigint = signal.getsignal(signal.SIGINT)
    # The whole run, its recording of a stop included (a second SIGTERM meanwhile is ignored).
    with sigterm_interrupts():
        try:
            return _checked_run(cfg, folder)
        except BaseException as err:
            stop = stopped_by(err)
            if stop is not None:
                if is_rank_zero():
                    record_interruption(folder, stop)
                raise stop from None
            if isinstance(err, Exception) and is_rank_zero():
                # The run folder says what happened (a sweep report and a reader of the folder see it), then
                # the error goes on to the caller as before.
                folder.record_error(err, previous)
            raise
        finally:
            # Lightning ignores Ctrl-C after the first one and leaves it so: a notebook's next run needs it.
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, sigint)
            # The run's trainer, data and model sit in reference cycles that only a collection of the oldest
            # generation reaches; without one, each job of a sweep kept its data alive.
            release_memory()


def _checked_run(cfg: DictConfig, folder: RunFolder) -> Trained:
    """The config checked (before any data loads), the process set up, then fit and test."""
    validate(cfg)
    if cfg.get("ckpt_path"):
        check_resumable(cfg)
    quiet_libraries()
    freeze_library_heap()
    threads = torch_threads(cfg.get("torch_threads"), parallel_jobs(), os.cpu_count() or 1)
    torch.set_num_threads(threads)
    log.info("torch threads: %d", threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if is_rank_zero():
        folder.file(RunFolder.CONFIG).write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return _fit_and_test(cfg, folder)


def record_interruption(folder: RunFolder, stop: KeyboardInterrupt) -> None:
    """Status ``interrupted``, the signal, and the checkpoint to resume from; said on the console too."""
    how = "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"
    ckpt = folder.checkpoint(RunFolder.INTERRUPTED)
    resume = str(ckpt) if ckpt.is_file() else None
    folder.record(Status.INTERRUPTED, signal=how, resume_from=resume)
    if resume:
        log.warning(
            "interrupted (%s): to go on, run the same command with ckpt_path=%s (and hydra.run.dir=%s to go "
            "on in this folder)",
            how,
            resume,
            folder.path,
        )


#: The trainer settings Lightning checks against the machine when a ``Trainer`` is made.
_HARDWARE_KEYS = ("accelerator", "devices", "strategy", "num_nodes", "precision", "plugins")


def make_trainer(settings: DictConfig, callbacks: list, loggers: list) -> L.Trainer:
    """The run's ``Trainer``; settings Lightning refuses (an accelerator this machine lacks, ``devices=0``)
    are a :class:`ConfigError` naming the hardware keys the command set.

    Without a ``ModelCheckpoint`` in the callbacks config (``~callbacks.model_checkpoint``), Lightning would
    add one of its own, saving every epoch under the TensorBoard folder: not unless the trainer config asks.
    """
    passed = {}
    if "enable_checkpointing" not in settings:
        passed["enable_checkpointing"] = any(isinstance(c, ModelCheckpoint) for c in callbacks)
    try:
        return hydra.utils.instantiate(settings, callbacks=callbacks, logger=loggers or False, **passed)
    except InstantiationException as err:
        raise settings_refused("trainer", err, _HARDWARE_KEYS) from None


def is_rank_zero() -> bool:
    """Whether this process writes the run folder: under DDP only global rank 0 does (before the trainer
    exists, Lightning knows the rank from the environment its launcher set)."""
    return rank_zero_only.rank == 0


def release_memory() -> None:
    """Free what the finished run left in reference cycles (its trainer, data module and model)."""
    started = time.perf_counter()
    gc.collect()
    log.debug("garbage collection after the run: %.3f s", time.perf_counter() - started)


class FitClock(L.Callback):
    """The seconds from the fit's start to its training's end: ``fit_seconds``, without what callbacks do
    when the fit ends (the history's figures)."""

    def __init__(self) -> None:
        self.started = self.seconds = 0.0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seconds = time.perf_counter() - self.started


def _fit_and_test(cfg: DictConfig, folder: RunFolder) -> Trained:
    """Instantiate, fit, test, record."""
    trainer, loggers, clock = _make_trainer(cfg)
    datamodule, model = _make_data_and_model(cfg, folder)
    # The HParams tab: the run's settings now, its status at the end.
    with hparams_session(loggers, selected_settings(cfg, command_line_overrides())) as outcome:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
        metrics: dict[str, float | int | str | None] = {
            k: float(v) for k, v in trainer.callback_metrics.items()
        }
        if cfg.test:
            metrics.update(_test(cfg, trainer, model, datamodule))
        # A callback that stopped the run for divergence marked its folder so (rank 0's, read by all).
        recorded = folder.read_metrics() or {}
        status = Status.DIVERGED if recorded.get("status") == Status.DIVERGED.value else Status.COMPLETED
        metrics = _final_metrics(metrics, status, trainer, model, clock.seconds)
        outcome["status"] = status
    model.trainer = None
    trained = Trained(metrics, model.eval().cpu())  # off the accelerator: a notebook's next run needs it free
    if not trainer.is_global_zero:  # under DDP the other processes return the same metrics and write nothing
        return trained
    folder.write_metrics(metrics)
    if status is Status.DIVERGED:
        print(f"the run diverged ({recorded.get('reason')}); its history is kept")
    print(f"run folder: {folder.path}")
    if tensorboard_loggers(loggers):
        print(f"TensorBoard: tensorboard --logdir {cfg.paths.tensorboard_dir}")
    return trained


def _make_trainer(cfg: DictConfig) -> tuple[L.Trainer, list, FitClock]:
    """The trainer with the config's loggers and callbacks (and the Keras-style bar, and the fit's clock),
    made before the data loads: Lightning checks the accelerator, devices and strategy here."""
    loggers = instantiate_all(cfg, "logger")
    callbacks = instantiate_all(cfg, "callbacks")
    own_bar = any(isinstance(c, ProgressBar) for c in callbacks)  # a user's, from the callbacks config
    if cfg.trainer.get("enable_progress_bar", True) and not own_bar:
        callbacks.append(KerasProgressBar())  # the same bar whichever extras are installed
    clock = FitClock()
    trainer = make_trainer(cfg.trainer, [*callbacks, clock], loggers)
    check_setup(cfg, trainer)
    return trainer, loggers, clock


def _make_data_and_model(
    cfg: DictConfig, folder: RunFolder
) -> tuple[L.LightningDataModule, L.LightningModule]:
    """The data module, set up for fit, and the model at its input width; the model's summary printed and
    kept in the run folder."""
    datamodule: L.LightningDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    # Plain lists and dicts, not OmegaConf's: the optimizer's settings (betas) are saved in every checkpoint,
    # which then loads with ``weights_only=True``.
    optimizer = hydra.utils.instantiate(cfg.optimizer, _convert_="all")
    scheduler = hydra.utils.instantiate(cfg.scheduler, _convert_="all") if cfg.get("scheduler") else None
    model: L.LightningModule = hydra.utils.instantiate(
        cfg.model, input_dim=datamodule.num_words, optimizer=optimizer, scheduler=scheduler
    )
    summary = keras_summary(model.net)
    log.info("\n%s", summary)
    if is_rank_zero():
        folder.file(RunFolder.SUMMARY).write_text(summary + "\n")
    return datamodule, model


def _test(cfg: DictConfig, trainer: L.Trainer, model: L.LightningModule, datamodule) -> dict[str, float]:
    """The test pass with the weights ``test_ckpt`` chooses, printed as the lecture prints
    ``model.evaluate(x_test, y_test)``: [loss, accuracy]."""
    ckpt = "best" if cfg.test_ckpt == "best" else None
    tested = trainer.test(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False, weights_only=True)[0]
    if trainer.is_global_zero:
        print(f"test [loss, accuracy]: [{tested['test/loss']:.4f}, {tested['test/acc']:.4f}]")
    return tested


def _final_metrics(
    metrics: dict, status: Status, trainer: L.Trainer, model: L.LightningModule, fit_seconds: float
) -> dict[str, float | int | str | None]:
    """What ``metrics.json`` holds at the end: the logged metrics (non-finite ones as null), the status, the
    epochs run, the fit's seconds, the parameters, and the GPU's peak memory on one."""
    final = {k: (v if math.isfinite(v) else None) for k, v in sorted(metrics.items())}
    trainable, frozen = count_parameters(model.net)
    if trainer.strategy.root_device.type == "cuda":
        final["gpu_peak_mb"] = round(torch.cuda.max_memory_allocated(trainer.strategy.root_device) / 2**20, 1)
    final.update(
        status=status.value,
        epochs=trainer.current_epoch,  # epochs run (the last one partly, if the run diverged)
        fit_seconds=round(fit_seconds, 3),
        params=trainable + frozen,
    )
    return final
