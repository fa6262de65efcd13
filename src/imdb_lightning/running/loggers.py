"""TensorBoard, with the lecture's x axis: the epoch."""

from __future__ import annotations

from collections.abc import Mapping

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only


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
