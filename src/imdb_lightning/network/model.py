"""The lecture's network and its training step, with Keras semantics wherever PyTorch's differ."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MaxMetric, Metric

from imdb_lightning.network.batches import CompactBatch, Execution
from imdb_lightning.network.layers import BatchNormalization, Dense
from imdb_lightning.network.optimizers import KerasRMSprop
from imdb_lightning.network.settings import MODEL_RULES
from imdb_lightning.utils.checks import (
    one_of,
    require,
)
from imdb_lightning.utils.private import counted_step

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "linear": nn.Identity,
}


class DenseStack(nn.Sequential):
    """``hidden_1 … hidden_n`` (Dense + activation, then optional batch norm and dropout) → ``output`` (1
    logit).

    Layer names follow the lecture's Keras model, so summaries and TensorBoard read the same. The sigmoid is
    left to the loss (``BCEWithLogits``, numerically safer) and to :meth:`IMDBClassifier.predict_proba`.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: Sequence[int] = (16, 16),
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batchnorm: bool = False,
        init: str = "glorot_uniform",
        init_scale: float | None = None,
    ) -> None:
        require("model.hidden_sizes", hidden_sizes, MODEL_RULES["hidden_sizes"])
        require("model.activation", activation, one_of(ACTIVATIONS))
        require("model.dropout", dropout, MODEL_RULES["dropout"])
        require("model.batchnorm", batchnorm, MODEL_RULES["batchnorm"])
        layers: dict[str, nn.Module] = {}
        width = input_dim
        for i, size in enumerate(hidden_sizes, start=1):
            layers[f"hidden_{i}"] = Dense(width, size, init=init, init_scale=init_scale)
            layers[f"{activation}_{i}"] = ACTIVATIONS[activation]()
            if batchnorm:
                layers[f"batch_normalization_{i}"] = BatchNormalization(size)
            if dropout > 0:
                layers[f"dropout_{i}"] = nn.Dropout(dropout)
            width = size
        layers["output"] = Dense(width, 1, init=init, init_scale=init_scale)
        super().__init__(*[])
        for name, layer in layers.items():
            self.add_module(name, layer)

    def forward(self, x: torch.Tensor | CompactBatch) -> torch.Tensor:
        """Multi-hot rows ``[batch, num_words]``, or a :class:`CompactBatch` of each review's distinct ids,
        which ``hidden_1`` takes as the same rows without building them (see
        :class:`~imdb_lightning.network.layers.Dense`)."""
        for layer in self:
            x = layer(x)
        return x

    def hidden_kernels(self) -> list[torch.Tensor]:
        """The kernels the lecture's regularizers act on: every Dense layer but the output."""
        return [m.kernel for name, m in self.named_children() if name.startswith("hidden_")]


def weight_penalty(kernels: Sequence[torch.Tensor], l1: float = 0.0, l2: float = 0.0) -> torch.Tensor:
    """Keras's ``kernel_regularizer`` term: ``l1·Σ|w| + l2·Σw²`` summed over the kernels (never the
    biases)."""
    total = kernels[0].new_zeros(())
    for w in kernels:
        if l1:
            total = total + l1 * w.abs().sum()
        if l2:
            total = total + l2 * w.square().sum()
    return total


class WeightedMean(Metric):
    """The sample-weighted mean Keras reports for an epoch, NaN included.

    torchmetrics' ``MeanMetric`` either drops NaN values (hiding a diverged epoch) or, with
    ``nan_strategy="disable"``, drops the weights too (torchmetrics 1.9); this one does neither.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("weight", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: int) -> None:
        # In place (``+=`` is the same add): assigning a metric's state goes through torchmetrics' and
        # nn.Module's ``__setattr__``, twice an update, several updates a batch.
        self.total.add_(value * weight)
        self.weight.add_(weight)

    def compute(self) -> torch.Tensor:
        return self.total / self.weight


class Accuracy(WeightedMean):
    """Fraction of reviews whose predicted label (logit > 0, i.e. sigmoid > 0.5) is right, over the epoch.

    Keras's ``accuracy`` for a sigmoid output; a few tensor ops a step instead of torchmetrics'
    general-purpose ``BinaryAccuracy``, which costs more than this model's step and reads a batch of logits
    that all fall in [0, 1] as probabilities (it agrees with this one on ordinary logits, tested).
    """

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        self.total.add_(((logits > 0) == (target > 0.5)).sum())
        self.weight.add_(len(target))


def _backward_is_hooks_only(trainer: L.Trainer) -> bool:
    """Whether Lightning's ``manual_backward`` does nothing but call the backward hooks around the module's
    ``backward``: on one device at 32-bit precision (mixed precision scales the loss, DDP syncs gradients)."""
    from lightning.pytorch.plugins.precision import Precision
    from lightning.pytorch.strategies import SingleDeviceStrategy

    return type(trainer.precision_plugin) is Precision and type(trainer.strategy) is SingleDeviceStrategy


def _optimizer_step_is_counting_only(trainer: L.Trainer, module: L.LightningModule) -> bool:
    """Whether Lightning's optimizer ``step`` does nothing but count the step around the optimizer's own:
    where its backward is hooks only, no callback and not the module overrides ``on_before_optimizer_step``,
    and no gradient clipping is set (which then follows the hook)."""
    from lightning.pytorch.utilities.model_helpers import is_overridden

    hook = "on_before_optimizer_step"
    listening = is_overridden(hook, module) or any(
        is_overridden(hook, callback, parent=L.Callback) for callback in trainer.callbacks
    )
    return _backward_is_hooks_only(trainer) and not listening and not trainer.gradient_clip_val


class IMDBClassifier(L.LightningModule):
    """Binary sentiment classifier over multi-hot reviews, trained and measured as the lecture's Keras model.

    ``input_dim`` is the width of a multi-hot row (the data's ``num_words``, Keras's ``input_shape``).

    ``optimizer`` is a partial optimizer (Hydra ``_partial_: true``) completed with the parameters here;
    ``scheduler`` likewise, or None. The logged ``loss`` includes the weight penalty, as Keras's does;
    the penalty is also logged on its own.

    ``steps_per_execution`` is Keras's ``compile`` argument: how many batches one Lightning step runs (the
    data module serves them grouped, see :attr:`steps_per_execution`). Above 1 the model steps its optimizer
    itself (Lightning's manual optimization), batch after batch in the same order with the same arithmetic, so
    the history is the same; what runs once a step, a batch-level callback or the progress bar, runs once an
    execution, as in Keras. So do the backward hooks (``on_before_backward``, ``on_after_backward``: for the
    execution's last batch) where Lightning's backward is nothing but them around ``loss.backward()`` (one
    device, 32-bit precision), and so does Lightning's optimizer step (its hooks and clipping) where no
    callback and not the module overrides ``on_before_optimizer_step``: a hook that is overridden runs for
    every batch. Lightning counts every batch's optimizer step (``trainer.global_step``).
    """

    #: Reads a :class:`CompactBatch` as the multi-hot rows it stands for: the data module serves bags to it
    #: when ``batch_format`` is ``auto`` on a CPU.
    accepts_bags = True

    def __init__(
        self,
        input_dim: int = 10000,
        hidden_sizes: Sequence[int] = (16, 16),
        activation: str = "relu",
        dropout: float = 0.0,
        batchnorm: bool = False,
        l1: float = 0.0,
        l2: float = 0.0,
        init: str = "glorot_uniform",
        init_scale: float | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., object] | None = None,
        steps_per_execution: int = 1,
    ) -> None:
        super().__init__()
        require("model.l1", l1, MODEL_RULES["l1"])
        require("model.l2", l2, MODEL_RULES["l2"])
        require("model.steps_per_execution", steps_per_execution, MODEL_RULES["steps_per_execution"])
        #: Batches a Lightning step runs: the data module serves lists of this many (the last one shorter).
        self.steps_per_execution = steps_per_execution
        # Lightning's per-batch machinery (hooks, closure, each callback's hooks) costs about as much as this
        # model's step: several batches a step save most of it.
        self.automatic_optimization = steps_per_execution == 1
        self.net = DenseStack(  # checks the network's own settings
            input_dim,
            hidden_sizes,
            activation=activation,
            dropout=dropout,
            batchnorm=batchnorm,
            init=init,
            init_scale=init_scale,
        )
        hidden_sizes = [int(size) for size in hidden_sizes]  # plain list: checkpoints load with weights_only
        # logger=False: train() logs the whole config once.
        self.save_hyperparameters(ignore=["optimizer", "scheduler"], logger=False)
        self.optimizer_factory = optimizer or KerasRMSprop
        self.scheduler_factory = scheduler
        # One metric object per stage (keys avoid nn.Module attribute names such as ``train``). Inputs are
        # ours, so torchmetrics' per-step checks are skipped.
        self.metrics = nn.ModuleDict()
        for stage in ("train", "val", "test"):
            self.metrics[f"{stage}_acc"] = Accuracy()
            self.metrics[f"{stage}_loss"] = WeightedMean()
            self.metrics[f"{stage}_penalty"] = WeightedMean()
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # a resumed run remembers its best epoch so far

    @property
    def monitorable(self) -> list[str]:
        """The metrics :meth:`model_step` logs every epoch of a fit, which a checkpoint or early stopping can
        monitor (the penalty only for a regularized model)."""
        penalty = ["train/penalty", "val/penalty"] if self.hparams.l1 or self.hparams.l2 else []
        return ["train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best", *penalty]

    def forward(self, x: torch.Tensor | CompactBatch) -> torch.Tensor:
        """Logits, shape ``[batch]``, from multi-hot rows or a bag of ids (see :meth:`DenseStack.forward`)."""
        return self.net(x).squeeze(-1)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Probability that each review is positive (the lecture's sigmoid output)."""
        return torch.sigmoid(self(x))

    def penalty(self) -> torch.Tensor:
        return weight_penalty(self.net.hidden_kernels(), self.hparams.l1, self.hparams.l2)

    def model_step(self, batch, batch_idx: int, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        regularized = bool(self.hparams.l1 or self.hparams.l2)
        if regularized:  # else the penalty is 0: adding it changes no bit but costs an op and its backward
            penalty = self.penalty()
            loss = loss + penalty
        # Keras reports the epoch's loss as the mean over samples: weight each batch by its size.
        weight = len(y)
        self.metrics[f"{stage}_loss"].update(loss.detach(), weight=weight)
        self.metrics[f"{stage}_acc"].update(logits.detach(), y)
        if regularized:
            self.metrics[f"{stage}_penalty"].update(penalty.detach(), weight=weight)
        if batch_idx == 0:
            # A logged metric object is computed over all its updates when the epoch ends, so one log call
            # an epoch is enough (a call every step costs about as much as the step's arithmetic).
            self.log(
                f"{stage}/loss",
                self.metrics[f"{stage}_loss"],
                on_step=False,
                on_epoch=True,
                prog_bar=stage != "test",
            )
            self.log(
                f"{stage}/acc", self.metrics[f"{stage}_acc"], on_step=False, on_epoch=True, prog_bar=True
            )
            if regularized:
                self.log(f"{stage}/penalty", self.metrics[f"{stage}_penalty"], on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        if self.automatic_optimization:
            return self.model_step(batch, batch_idx, "train")
        optimizer = self.optimizers()
        batches = self.execution(batch, batch_idx)
        # Dispatching the hooks costs measurably beside this small model's arithmetic: where they are all that
        # Lightning's backward adds, the execution's other batches go straight to the module's backward.
        hooks_only = _backward_is_hooks_only(self.trainer)
        counting_only = _optimizer_step_is_counting_only(self.trainer, self)
        losses = []
        for number, (index, one) in enumerate(batches, start=1):
            loss = self.model_step(one, index, "train")
            optimizer.zero_grad()  # where Lightning's automatic optimization clears them: after the forward
            inner = number < len(batches)
            if hooks_only and inner:
                self.backward(loss)  # what Lightning's backward calls between the hooks
            else:
                self.manual_backward(loss)
            if counting_only and inner:
                counted_step(optimizer)  # what Lightning's step does where no hook listens
            else:
                optimizer.step()
            losses.append(loss.detach())
        if batch_idx + 1 == self.trainer.num_training_batches:
            # Lightning steps an epoch's schedulers after its last batch, under automatic optimization only.
            for config in self.trainer.lr_scheduler_configs:
                config.scheduler.step()
        return torch.stack(losses)  # each batch's loss, for batch-level callbacks (StopOnDivergence)

    def execution(self, batch, batch_idx: int) -> list[tuple[int, tuple]]:
        """The batches of one Lightning step with their indices in the epoch: an :class:`Execution` of
        ``steps_per_execution`` batches (the epoch's last one may be shorter), or one batch."""
        if not isinstance(batch, Execution):
            return [(batch_idx, batch)]
        return list(enumerate(batch, start=batch_idx * self.steps_per_execution))

    def validation_step(self, batch, batch_idx: int) -> None:
        for index, one in self.execution(batch, batch_idx):
            self.model_step(one, index, "val")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_acc_best.update(self.metrics["val_acc"].compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def test_step(self, batch, batch_idx: int) -> None:
        for index, one in self.execution(batch, batch_idx):
            self.model_step(one, index, "test")

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) and not isinstance(batch, CompactBatch) else batch
        return self.predict_proba(x)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Dropout draws from the global generator: keep its state so a resumed run continues identically.
        checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "epoch"},
        }
