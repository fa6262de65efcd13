"""Keras's Dense layer, and the sum of its kernel's rows that stands for it over a bag of ids.

A multi-hot row times the kernel, ``x @ kernel``, is the sum of the kernel's rows for the review's distinct
ids. For the first layer that sum is all the work there is (about 130 rows of 16 numbers a review instead of a
10,000-wide row), provided that its gradient is computed as cheaply: each review's output gradient added onto
the rows of its ids. PyTorch has no CPU kernel that does that scatter directly (``embedding_bag`` sorts the
ids first, a CSR product's backward transposes the batch), so on a CPU a loop compiled by numba does it
(:func:`~imdb_lightning.network.kernels.scatter_rows`), and ``index_add_`` on other devices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from imdb_lightning.network.batches import CompactBatch
from imdb_lightning.network.initializers import initialize
from imdb_lightning.network.kernels import scatter_rows, takes


class BagSum(torch.autograd.Function):
    """For each review, the sum of ``kernel``'s rows at its ids: ``multi_hot(ids) @ kernel`` without the
    rows."""

    @staticmethod
    def forward(ctx, ids: torch.Tensor, offsets: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(ids, offsets)
        ctx.kernel_shape = kernel.shape
        # Detached: embedding_bag skips the bookkeeping for its own backward, which this function replaces.
        return F.embedding_bag(ids, kernel.detach(), offsets, mode="sum", include_last_offset=True)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        ids, offsets = ctx.saved_tensors
        return None, None, kernel_gradient(ids, offsets, grad, ctx.kernel_shape, compiled=takes(grad))


def kernel_gradient(
    ids: torch.Tensor, offsets: torch.Tensor, grad: torch.Tensor, shape: torch.Size, *, compiled: bool
) -> torch.Tensor:
    """Each review's output gradient added onto its ids' kernel rows: by the compiled loop (CPU), or by
    ``index_add_`` (any device; also what the tests compare the loop with)."""
    grad = grad.contiguous()
    out = grad.new_zeros(shape)
    if compiled:
        scatter_rows(ids.contiguous().numpy(), offsets.contiguous().numpy(), grad.numpy(), out.numpy())
    else:
        out.index_add_(0, ids, grad.repeat_interleave(offsets.diff(), dim=0, output_size=len(ids)))  # no sync
    return out


class Dense(nn.Module):
    """Keras's ``Dense`` (without its activation): ``x @ kernel + bias``, the kernel stored ``[in, out]``.

    ``nn.Linear`` stores the transpose; in Keras's layout a review's ids select whole contiguous rows, which
    is what makes the bag input fast, and fans read as Keras reads them. ``x`` is either rows ``[batch, in]``
    or a :class:`CompactBatch` whose ids (distinct within each review) stand for multi-hot rows.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "glorot_uniform",
        init_scale: float | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.kernel = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        initialize(self, init, scale=init_scale)

    def forward(self, x: torch.Tensor | CompactBatch) -> torch.Tensor:
        if isinstance(x, CompactBatch):
            return BagSum.apply(x.ids.long(), x.offsets.long(), self.kernel) + self.bias
        return torch.addmm(self.bias, x, self.kernel) if x.dim() == 2 else x @ self.kernel + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class BatchNormalization(nn.BatchNorm1d):
    """Keras's ``BatchNormalization`` for ``[batch, features]``: momentum 0.99 in Keras's terms, eps 1e-3, and
    the moving variance updated with the *biased* batch variance, as Keras's (``BatchNorm1d`` uses the
    unbiased one: 0.2% more at batch 512, more on a short last batch). Parameter and buffer names stay
    ``BatchNorm1d``'s, so checkpoints and ``eval()`` behave as before."""

    def __init__(self, num_features: int, *, momentum: float = 0.99, eps: float = 1e-3) -> None:
        super().__init__(num_features, eps=eps, momentum=1.0 - momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        with torch.no_grad():
            var, mean = torch.var_mean(x, dim=0, correction=0)
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var, self.momentum)
            self.num_batches_tracked += 1
        # No running statistics given: normalizes by the batch's mean and biased variance, as Keras does.
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
