"""TensorBoard: the logger, with the lecture's x axis (the epoch), and what callbacks write to its writers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from imdb_lightning.utils.private import write_summary


class EpochTensorBoardLogger(TensorBoardLogger):
    """Epoch metrics drawn against the epoch, counted from 1 as the epoch lines count it (Keras's TensorBoard
    callback also draws its epoch scalars against the epoch).

    Lightning logs epoch metrics against the optimizer step and adds an ``epoch`` scalar (0-based, the epoch
    running); that scalar becomes the step here. Test metrics come after fit, when it already counts the
    epochs done: they sit at the last epoch.
    """

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        if epoch is not None:
            after_fit = all(key.startswith("test/") for key in metrics)
            step = int(epoch) if after_fit else int(epoch) + 1
        if metrics:
            super().log_metrics(metrics, step)


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
