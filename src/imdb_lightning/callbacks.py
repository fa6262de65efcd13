"""Callbacks that leave a run folder a student can read: the Keras History as JSON/CSV, plots, epoch lines."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import lightning as L
import torch

from imdb_lightning.atomic import atomic_open
from imdb_lightning.report import HISTORY_KEYS, plot_history

log = logging.getLogger(__name__)

# Keras History key ← our logged metric.
LOGGED_AS = {"loss": "train/loss", "accuracy": "train/acc", "val_loss": "val/loss", "val_accuracy": "val/acc"}


def save_history(history: dict[str, list[float]], folder: Path) -> None:
    """``history.json`` (the Keras ``History.history`` dict) and ``history.csv`` (one row per epoch)."""
    with atomic_open(folder / "history.json", "w") as f:
        # A diverged epoch's NaN/inf is written as null: strict JSON has no NaN.
        json.dump({k: [v if math.isfinite(v) else None for v in vals] for k, vals in history.items()}, f, indent=1)
    epochs = max((len(v) for v in history.values()), default=0)
    with atomic_open(folder / "history.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [["epoch", *history]] + [[e + 1, *(v[e] if e < len(v) else "" for v in history.values())] for e in range(epochs)]
        )


class KerasHistory(L.Callback):
    """Collect one value per epoch of each Keras History key, write them after every epoch (a crash or
    Ctrl-C loses nothing already measured) and print a Keras-style epoch line; :meth:`plot` draws them."""

    def __init__(self, folder: str | Path, plots: bool = True) -> None:
        self.folder = Path(folder)
        self.plots = plots
        self.history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        for key, logged in LOGGED_AS.items():
            if logged in metrics:
                self.history[key].append(float(metrics[logged]))
        save_history(self.history, self.folder)
        parts = [f"{key}: {values[-1]:.4f}" for key, values in self.history.items() if values]
        log.info("Epoch %d/%d - %s", trainer.current_epoch + 1, trainer.max_epochs, " - ".join(parts))

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.plot()

    def plot(self) -> None:
        """Draw ``loss.png`` and ``accuracy.png`` (after fit, outside its timing, or when a run is cut short)."""
        if self.plots and any(self.history.values()):
            plot_history(self.history, self.folder)

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = state_dict["history"]


class StopOnDivergence(L.Callback):
    """Stop cleanly when the training loss becomes NaN or infinite (a too-large init, a huge learning rate).

    The run keeps its history, plots and event files and is marked ``diverged`` in ``metrics.json``;
    in a sweep, the other jobs go on.
    """

    def __init__(self) -> None:
        self.diverged_at: tuple[int, int] | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if self.diverged_at is None and loss is not None and not torch.isfinite(loss).all():
            self.diverged_at = (trainer.current_epoch + 1, batch_idx + 1)
            log.warning("training diverged: the loss is %s at epoch %d, batch %d; stopping", float(loss), *self.diverged_at)
            trainer.should_stop = True


class CheckpointOnInterrupt(L.Callback):
    """On Ctrl-C or a crash, save ``interrupted.ckpt`` beside the others, so no trained epoch is lost."""

    def __init__(self, dirpath: str | Path) -> None:
        self.dirpath = Path(dirpath)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        path = self.dirpath / "interrupted.ckpt"
        try:
            trainer.save_checkpoint(path)
            log.warning("%s: saved %s (epoch %d)", type(exception).__name__, path, trainer.current_epoch + 1)
        except Exception as err:  # noqa: BLE001 -- never hide the original exception behind this one
            log.warning("could not save %s: %s", path, err)
