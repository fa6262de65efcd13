"""Stopping a run that diverges, by the rule the README states, and marking its folder so."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch

from imdb_lightning.running.folder import RunFolder, Status

log = logging.getLogger(__name__)


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
        losses = loss.reshape(-1)  # a step of several batches (steps_per_execution): each batch's loss
        if self.first_loss is None:
            self.first_loss = float(losses[0])
        first = batch_idx * getattr(pl_module, "steps_per_execution", 1)  # the step's first batch's index
        finite = torch.isfinite(losses)
        if loss.device.type == "cpu":
            if not finite.all():
                self._stop(trainer, first + int((~finite).int().argmax()) + 1, "the loss is not finite")
            return
        # Reading the flag on an accelerator would wait for every step: keep it there, read it once an epoch.
        bad = torch.where(finite.all(), -1, first + (~finite).int().argmax())
        if self._first_bad is None:
            self._first_bad = torch.full((), -1, device=loss.device)
        self._first_bad = torch.where(self._first_bad < 0, bad, self._first_bad)

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
