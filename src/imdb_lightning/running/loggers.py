"""TensorBoard: the logger, with the lecture's x axis (the epoch), and what callbacks write to its writers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from imdb_lightning.utils.private import write_summary

#: Where each metric of a run shows in TensorBoard: ``(sub-run, tag)``. As Keras's TensorBoard callback shows
#: them, a measure's training and validation curves share one chart (sub-runs ``train`` and ``validation``,
#: tags ``epoch_loss`` and ``epoch_accuracy``): the dashboards sort groups by the tag's first part, so the
#: curves come first, then the diagnostics, the figures (``plots/``) and the run's final numbers
#: (``summary/``). Other metrics keep their names, in the run itself.
TENSORBOARD_TAGS: dict[str, tuple[str, str]] = {
    "train/loss": ("train", "epoch_loss"),
    "train/acc": ("train", "epoch_accuracy"),
    "val/loss": ("validation", "epoch_loss"),
    "val/acc": ("validation", "epoch_accuracy"),
    "val/acc_best": ("", "summary/best_val_accuracy"),
    "test/loss": ("", "summary/test_loss"),
    "test/acc": ("", "summary/test_accuracy"),
}


class EpochTensorBoardLogger(TensorBoardLogger):
    """Epoch metrics drawn against the epoch, counted from 1 as the epoch lines count it, under the names
    of :data:`TENSORBOARD_TAGS` (Keras's TensorBoard callback also draws its epoch scalars against the epoch).

    Lightning logs epoch metrics against the optimizer step and adds an ``epoch`` scalar (0-based, the epoch
    running); that scalar becomes the step here. Test metrics come after fit, when it already counts the
    epochs done: they sit at the last epoch.
    """

    #: How often TensorBoard's writer threads wake (SummaryWriter's default: 120 s). A Ctrl-C or SIGTERM
    #: that lands inside their queue's bookkeeping can leave a writer asleep until it wakes, and closing it
    #: waits for that: a stopped run hung for up to two minutes (1 in 19 Ctrl-Cs in a loop).
    FLUSH_SECS = 2

    def __init__(self, *args, flush_secs: int = FLUSH_SECS, **kwargs) -> None:
        super().__init__(*args, flush_secs=flush_secs, **kwargs)
        self._flush_secs = flush_secs
        self._sub_runs: dict[str, object] = {}

    def _writer(self, sub_run: str):
        if not sub_run:
            return self.experiment
        if sub_run not in self._sub_runs:
            from torch.utils.tensorboard import SummaryWriter

            self._sub_runs[sub_run] = SummaryWriter(
                log_dir=os.path.join(self.log_dir, sub_run), flush_secs=self._flush_secs
            )
        return self._sub_runs[sub_run]

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        if epoch is not None:
            after_fit = all(key.startswith("test/") for key in metrics)
            step = int(epoch) if after_fit else int(epoch) + 1
        for key, value in metrics.items():
            sub_run, tag = TENSORBOARD_TAGS.get(key, ("", key))
            number = value.item() if isinstance(value, Tensor) else value
            self._writer(sub_run).add_scalar(tag, number, step)

    @rank_zero_only
    def save(self) -> None:
        super().save()
        for writer in self._sub_runs.values():
            writer.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        for writer in self._sub_runs.values():
            writer.close()
        self._sub_runs.clear()


def add_png(writer, tag: str, png: bytes, shape: tuple[int, ...], step: int) -> None:
    """``writer.add_image`` of an already encoded PNG (``add_image`` would encode the pixels again)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    height, width, channels = shape
    image = Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=png)
    write_summary(writer, Summary(value=[Summary.Value(tag=tag, image=image)]), step)


def tensorboard_loggers(loggers: Iterable) -> list[TensorBoardLogger]:
    """The TensorBoard loggers among a run's loggers."""
    return [logger for logger in loggers if isinstance(logger, TensorBoardLogger)]


def tensorboards(trainer: L.Trainer) -> list:
    """The TensorBoard ``SummaryWriter`` of each TensorBoard logger the run has."""
    return [logger.experiment for logger in tensorboard_loggers(trainer.loggers)]
