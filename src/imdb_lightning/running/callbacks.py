"""Callbacks that leave a run folder a student can read: the Keras History as JSON/CSV, plots, epoch lines."""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import os
import shutil
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from imdb_lightning.network.layers import Dense
from imdb_lightning.running.folder import RunFolder, Status
from imdb_lightning.running.plots import HISTORY_KEYS, figure_pixels, history_figure, png_bytes
from imdb_lightning.utils.atomic import atomic_open
from imdb_lightning.utils.checks import BOOLEAN, require
from imdb_lightning.utils.errors import ConfigError
from imdb_lightning.utils.private import as_epoch_end, lightning_checkpoint, write_summary

log = logging.getLogger(__name__)

# Keras History key ← our logged metric.
LOGGED_AS = {"loss": "train/loss", "accuracy": "train/acc", "val_loss": "val/loss", "val_accuracy": "val/acc"}


def save_history(history: dict[str, list[float]], folder: Path) -> None:
    """``history.json`` (the Keras ``History.history`` dict) and ``history.csv`` (one row per epoch).

    Rewritten after every epoch: atomically (never half-written), without waiting for the disk each time."""
    with atomic_open(folder / RunFolder.HISTORY, "w", durable=False) as f:
        # A diverged epoch's NaN/inf is written as null: strict JSON has no NaN.
        json.dump(
            {k: [v if math.isfinite(v) else None for v in vals] for k, vals in history.items()}, f, indent=1
        )
    epochs = max((len(v) for v in history.values()), default=0)
    with atomic_open(folder / RunFolder.HISTORY_CSV, "w", durable=False, newline="") as f:
        csv.writer(f).writerows(
            [["epoch", *history]]
            + [[e + 1, *(v[e] if e < len(v) else "" for v in history.values())] for e in range(epochs)]
        )


class KerasHistory(L.Callback):
    """Collect one value per epoch of each Keras History key, write them after every epoch (a crash or
    Ctrl-C loses nothing already measured) and print a Keras-style epoch line; :meth:`plot` draws them."""

    def __init__(self, folder: str | Path, plots: bool = True) -> None:
        require("callbacks.keras_history.plots", plots, BOOLEAN)
        self.folder = Path(folder)
        self.plots = plots
        self.history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        for key, logged in LOGGED_AS.items():
            if logged in metrics:
                self.history[key].append(float(metrics[logged]))
        if not trainer.is_global_zero:  # under DDP every process keeps the history; one writes it
            return
        save_history(self.history, self.folder)
        parts = [f"{key}: {values[-1]:.4f}" for key, values in self.history.items() if values]
        log.info("Epoch %d/%d - %s", trainer.current_epoch + 1, trainer.max_epochs, " - ".join(parts))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.plot(trainer)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self.plot(trainer)

    def plot(self, trainer: L.Trainer | None = None) -> None:
        """Draw ``loss.png`` and ``accuracy.png`` (when fit ends, after its training, or when a run is cut
        short), and show them in TensorBoard's Images tab too."""
        if not (self.plots and any(self.history.values())) or (
            trainer is not None and not trainer.is_global_zero
        ):
            return
        writers = tensorboards(trainer) if trainer is not None else []
        for metric in RunFolder.PLOTS:
            fig = history_figure(self.history, [metric])
            if fig is None:
                continue
            pixels = figure_pixels(fig, dpi=100)
            png = png_bytes(pixels)  # drawn and encoded once, for the file and the Images tab
            RunFolder(self.folder).plot(metric).write_bytes(png)
            for writer in writers:
                add_png(writer, f"curves/{metric}", png, pixels.shape, trainer.current_epoch)

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = state_dict["history"]


class StopOnDivergence(L.Callback):
    """Stop cleanly when training diverges, by a rule the README states:

    * the loss of a training batch is NaN or infinite (a too-large init, a huge learning rate), or
    * an epoch's training loss is more than ``factor`` (100) times the first batch's loss, the loss of the
      initial weights: a finite blow-up (``optimizer.lr=1e6`` with RMSprop reaches ~1e20 and chance accuracy).

    The run keeps its history, plots and event files; ``folder`` (the run folder) is marked ``diverged``, with
    the reason, when it stops, and the run's end keeps that status. In a sweep, the other jobs go on.
    """

    def __init__(self, factor: float = 100.0, folder: str | Path | None = None) -> None:
        self.factor = factor
        self.folder = RunFolder(folder) if folder is not None else None
        self.diverged_at: tuple[int, int | None] | None = None  # (epoch, batch or None for the epoch's mean)
        self.reason = ""
        self.first_loss: float | None = None  # the first batch's: once, a single read from the device
        # On an accelerator: the epoch's first non-finite batch, or -1.
        self._first_bad: torch.Tensor | None = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if self.diverged_at is not None or loss is None:
            return
        if self.first_loss is None:
            self.first_loss = float(loss)
        finite = torch.isfinite(loss).all()
        if loss.device.type == "cpu":
            if not finite:
                self._stop(trainer, batch_idx + 1, "the loss is not finite")
            return
        # Reading the flag on an accelerator would wait for every step: keep it there, read it once an epoch.
        if self._first_bad is None:
            self._first_bad = torch.full((), -1, device=loss.device)
        self._first_bad = torch.where(~finite & (self._first_bad < 0), batch_idx, self._first_bad)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.diverged_at is not None:
            return
        if self._first_bad is not None and int(self._first_bad) >= 0:
            self._stop(trainer, int(self._first_bad) + 1, "the loss is not finite")
            return
        epoch_loss = trainer.callback_metrics.get("train/loss")
        if (
            epoch_loss is not None
            and self.first_loss
            and float(epoch_loss) > self.factor * abs(self.first_loss)
        ):
            self._stop(
                trainer,
                None,
                f"the epoch's training loss {float(epoch_loss):.3g} is over {self.factor:g} times the first "
                f"batch's {self.first_loss:.3g}",
            )

    def _stop(self, trainer: L.Trainer, batch: int | None, reason: str) -> None:
        self.diverged_at = (trainer.current_epoch + 1, batch)
        where = f"epoch {self.diverged_at[0]}" + (f", batch {batch}" if batch is not None else "")
        self.reason = f"{reason} at {where}"
        log.warning("training diverged: %s; stopping", self.reason)
        trainer.should_stop = True
        if self.folder is not None and trainer.is_global_zero:
            self.folder.record(Status.DIVERGED, reason=self.reason)

    def state_dict(self) -> dict:
        return {"first_loss": self.first_loss}

    def load_state_dict(self, state_dict: dict) -> None:
        self.first_loss = state_dict.get("first_loss")


class BestCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` (here ``best.ckpt``: the epoch of highest validation accuracy), which
    goes on from the earlier run's best when a run resumes into a new folder, as every resumed command does.

    Lightning forgets the best score when the folder changes: the first epoch after the resume then became
    ``best.ckpt`` even when an earlier epoch was better, and ``test_ckpt=best`` tested the wrong weights. Here
    the earlier run's best checkpoints are copied into the new folder, and their scores kept.
    """

    def load_state_dict(self, state_dict: dict) -> None:
        saved_dir = state_dict.get("dirpath")
        if not saved_dir or not self.dirpath or saved_dir == self.dirpath:
            super().load_state_dict(state_dict)
            return
        best = {Path(path): score for path, score in state_dict.get("best_k_models", {}).items()}
        missing = [path for path in best if not path.is_file()]
        if missing:
            log.warning("%s is gone: the best epoch is counted from the resumed epochs on", missing[0])
            super().load_state_dict({**self.state_dict(), "best_model_path": ""})  # a fresh start, here
            return
        moved = {str(path): str(Path(self.dirpath) / path.name) for path in best}
        Path(self.dirpath).mkdir(parents=True, exist_ok=True)
        for old, new in moved.items():
            shutil.copy2(old, new)
        super().load_state_dict(
            {
                **state_dict,
                "dirpath": self.dirpath,
                "best_k_models": {moved[str(path)]: score for path, score in best.items()},
                "best_model_path": moved.get(state_dict.get("best_model_path", ""), ""),
                "kth_best_model_path": moved.get(state_dict.get("kth_best_model_path", ""), ""),
                "last_model_path": "",
            }
        )


class LastCheckpoint(L.Callback):
    """``last.ckpt`` when fit ends (to resume with more epochs, or to predict), also every ``every_n_epochs``
    epochs when set (a long run's guard against a hard kill), and ``interrupted.ckpt`` on Ctrl-C, SIGTERM or a
    crash: the state at the end of the last completed epoch, so that resuming repeats the cut epoch and ends
    where the uninterrupted run ends. A state in the middle of an epoch does not resume exactly (Lightning
    restarts the epoch's metrics, not its batches); none is saved before the first epoch completes.

    The epoch-end state is kept in memory (a CPU copy, taken when the next epoch starts: every callback's
    epoch end and the epoch's scheduler step are done by then); both files are written atomically, so a full
    disk or a kill during the write leaves the earlier file whole.
    """

    def __init__(self, dirpath: str | Path, every_n_epochs: int | None = None) -> None:
        if every_n_epochs is not None and every_n_epochs <= 0:
            raise ConfigError(
                f"callbacks.last_checkpoint.every_n_epochs must be positive or null, got {every_n_epochs}"
            )
        self.dirpath = Path(dirpath)
        self.every_n_epochs = every_n_epochs
        self._epoch_end_state: dict | None = None
        self._epochs_done = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 0:
            return  # nothing completed yet (a resumed run starts at the epoch after its checkpoint's)
        state = cpu_copy(lightning_checkpoint(trainer))
        as_epoch_end(state)  # the state of the epoch that ended, as last.ckpt holds it when fit ends
        self._epoch_end_state = state
        self._epochs_done = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            save_checkpoint(trainer, self.dirpath / RunFolder.LAST)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        save_checkpoint(trainer, self.dirpath / RunFolder.LAST)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if trainer.state.fn != "fit" or not trainer.is_global_zero:
            return
        path = self.dirpath / RunFolder.INTERRUPTED
        if self._epoch_end_state is None:
            log.warning(
                "%s in epoch 1: no epoch completed, no checkpoint to resume from", type(exception).__name__
            )
            return
        try:
            with atomic_open(path) as f:
                torch.save(self._epoch_end_state, f)
            log.warning(
                "%s: saved %s (the end of epoch %d; resuming repeats epoch %d)",
                type(exception).__name__,
                path,
                self._epochs_done,
                self._epochs_done + 1,
            )
        except Exception as err:  # noqa: BLE001 -- never hide the original exception behind this one
            log.warning("could not save %s: %s", path, err)


def cpu_copy(state: object) -> object:
    """A copy of a checkpoint dict that shares nothing with the live run: tensors copied to the CPU,
    containers rebuilt (the history's lists go on growing in the callback)."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return type(state)((key, cpu_copy(value)) for key, value in state.items())
    if isinstance(state, (list, tuple)) and not hasattr(state, "_fields"):
        return type(state)(cpu_copy(value) for value in state)
    return copy.deepcopy(state)


def save_checkpoint(trainer: L.Trainer, path: Path) -> None:
    """``trainer.save_checkpoint`` into a temporary file renamed over ``path`` by global rank 0 once every
    process has saved: never a half-written checkpoint over a whole one."""
    part = path.with_name(f".{path.name}.part")
    trainer.save_checkpoint(part, weights_only=False)  # every process calls it; rank 0 writes, all wait
    if trainer.is_global_zero:
        os.replace(part, path)


def add_histogram(writer, tag: str, values: torch.Tensor, step: int, bins: int = 64) -> None:
    """``writer.add_histogram`` computed by torch, in ``bins`` equal buckets.

    TensorBoard's own ``add_histogram`` computes the sum of squares with numpy's ``dot``, which wakes
    OpenBLAS's thread pool; its threads then spin beside torch's on the same cores and slow the fit.
    """
    values = values.detach().flatten().double().cpu()
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        limits, counts = [hi], [float(len(values))]
    else:
        counts = torch.histc(values, bins=bins, min=lo, max=hi).tolist()
        limits = torch.linspace(lo, hi, bins + 1)[1:].tolist()
    writer.add_histogram_raw(
        tag,
        lo,
        hi,
        len(values),
        float(values.sum()),
        float(values.square().sum()),
        limits,
        counts,
        global_step=step,
    )


def add_png(writer, tag: str, png: bytes, shape: tuple[int, ...], step: int) -> None:
    """``writer.add_image`` of an already encoded PNG (``add_image`` would encode the pixels again)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    height, width, channels = shape
    image = Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=png)
    write_summary(writer, Summary(value=[Summary.Value(tag=tag, image=image)]), step)


def tensorboards(trainer: L.Trainer) -> list:
    """The TensorBoard ``SummaryWriter`` of each TensorBoard logger the run has."""
    from lightning.pytorch.loggers import TensorBoardLogger

    return [logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]


class LayerDiagnostics(L.Callback):
    """Show *why* an initialization fails: per-layer weight and gradient histograms every epoch, and the
    gradient norm of every Dense layer every ``every_n_steps`` steps (``grad_norm/<layer>``, the one
    series drawn against the optimizer step rather than the epoch).

    Zero init: every hidden histogram is a spike at 0 and the hidden gradient norms stay exactly 0 (the
    symmetry is never broken). Too-small: hidden norms orders of magnitude below Glorot's (vanishing).
    Too-large: norms an order of magnitude or more above (exploding). Off by default (histograms cost time);
    on in the initializer experiments.
    """

    def __init__(self, every_n_steps: int = 5) -> None:
        self.every_n_steps = every_n_steps
        self._last_grads: dict[str, torch.Tensor] = {}

    @staticmethod
    def _dense_layers(pl_module: L.LightningModule) -> list[tuple[str, Dense]]:
        return [(name, m) for name, m in pl_module.named_modules() if isinstance(m, Dense)]

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        layers = [
            (name.rsplit(".", 1)[-1], m)
            for name, m in self._dense_layers(pl_module)
            if m.kernel.grad is not None
        ]
        self._last_grads = {name: m.kernel.grad.detach().clone() for name, m in layers}
        if trainer.global_step % self.every_n_steps == 0:
            for writer in tensorboards(trainer):
                for name, grad in self._last_grads.items():
                    writer.add_scalar(f"grad_norm/{name}", grad.norm().item(), trainer.global_step)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for writer in tensorboards(trainer):
            for name, m in self._dense_layers(pl_module):
                short = name.rsplit(".", 1)[-1]
                add_histogram(writer, f"weights/{short}", m.kernel, trainer.current_epoch + 1)
                if short in self._last_grads:
                    add_histogram(
                        writer, f"gradients/{short}", self._last_grads[short], trainer.current_epoch + 1
                    )
