"""*Why* an initialization fails, in TensorBoard: each layer's weight and gradient histograms and norms."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

from imdb_lightning.network.batches import Execution
from imdb_lightning.network.kernels import bucket_counts
from imdb_lightning.network.layers import Dense
from imdb_lightning.running.loggers import tensorboards


def add_histogram(writer, tag: str, values: torch.Tensor, step: int, bins: int = 64) -> None:
    """``writer.add_histogram`` computed here, in ``bins`` equal buckets.

    TensorBoard's own ``add_histogram`` computes the sum of squares with numpy's ``dot``, which wakes
    OpenBLAS's thread pool; its threads then spin beside torch's on the same cores and slow the fit.
    """
    values = values.detach().flatten().double().cpu()
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        limits, counts = [hi], [float(len(values))]
    else:
        edges = np.linspace(lo, hi, bins + 1)
        buckets = np.zeros(bins)
        bucket_counts(values.contiguous().numpy(), edges, buckets)  # torch.histc is slow on a CPU
        limits, counts = edges[1:].tolist(), buckets.tolist()
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
        self._steps_to_epoch_end: int | None = None  # optimizer steps left in the epoch's last Lightning step

    @staticmethod
    def _dense_layers(pl_module: L.LightningModule) -> list[tuple[str, Dense]]:
        """Each Dense layer by its own name (``hidden_1``, ..., ``output``)."""
        return [(name.rsplit(".", 1)[-1], m) for name, m in pl_module.named_modules() if isinstance(m, Dense)]

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        # An execution (model.steps_per_execution) steps the optimizer once for each batch it holds.
        last = batch_idx + 1 == trainer.num_training_batches
        self._steps_to_epoch_end = (len(batch) if isinstance(batch, Execution) else 1) if last else None

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        if self._steps_to_epoch_end is not None:
            self._steps_to_epoch_end -= 1
        epochs_last_step = self._steps_to_epoch_end == 0
        norms = trainer.global_step % self.every_n_steps == 0
        if not (norms or epochs_last_step):
            return
        layers = self._dense_layers(pl_module)
        # The epoch's last step's gradients (before any clipping), kept for its histograms: validation clears
        # them before the epoch ends (Lightning's on_validation_model_zero_grad). Copied once an epoch.
        if epochs_last_step:
            self._last_grads = {
                name: m.kernel.grad.detach().clone() for name, m in layers if m.kernel.grad is not None
            }
        if not norms:
            return
        for writer in tensorboards(trainer):
            for name, m in layers:
                if m.kernel.grad is not None:
                    writer.add_scalar(f"grad_norm/{name}", m.kernel.grad.norm().item(), trainer.global_step)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for writer in tensorboards(trainer):
            for name, m in self._dense_layers(pl_module):
                add_histogram(writer, f"weights/{name}", m.kernel, trainer.current_epoch + 1)
                if name in self._last_grads:
                    add_histogram(
                        writer, f"gradients/{name}", self._last_grads[name], trainer.current_epoch + 1
                    )
