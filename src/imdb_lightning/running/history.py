"""Keras's ``History`` for a run: one value per epoch of each key, kept as JSON and CSV after every epoch, an
epoch line as Keras prints it, and the loss and accuracy figures."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import lightning as L

from imdb_lightning.running.folder import RunFolder
from imdb_lightning.running.loggers import add_png, tensorboards
from imdb_lightning.running.plots import HISTORY_KEYS, figure_pixels, history_figure, png_bytes
from imdb_lightning.utils.atomic import atomic_open
from imdb_lightning.utils.checks import BOOLEAN, require

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

    def __init__(self, folder: str | Path, plots: bool = True, title: str = "") -> None:
        require("callbacks.keras_history.plots", plots, BOOLEAN)
        self.folder = Path(folder)
        self.plots = plots
        self.title = str(title)
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
            fig = history_figure(self.history, [metric], title=self.title)
            if fig is None:
                continue
            pixels = figure_pixels(fig, dpi=100)
            png = png_bytes(pixels)  # drawn and encoded once, for the file and the Images tab
            RunFolder(self.folder).plot(metric).write_bytes(png)
            for writer in writers:
                add_png(writer, f"plots/{metric}", png, pixels.shape, trainer.current_epoch)

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = state_dict["history"]
