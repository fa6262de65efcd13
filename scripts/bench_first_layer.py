#!/usr/bin/env python
"""Time the first layer's forward + backward on real training batches, every way of computing ``x @ W``.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench_first_layer.py [--repeat 5]

One process, the same 30 batches of 512 reviews for every method, fastest of ``--repeat`` passes, in ms per
batch: the multi-hot rows times the kernel (the lecture's way), ``embedding_bag(mode="sum")`` over each
review's distinct ids, and the sparse CSR product the package uses on a CPU (with the kernel as
``nn.Linear`` stores it, transposed, and contiguous), and a candidate whose backward builds the transposed
CSR itself. All give the same values and gradients; the script checks that too.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import torch
import torch.nn.functional as F

from imdb_lightning.data import IMDBDataModule, multi_hot
from imdb_lightning.model import sparse_rows


class TransposedBackward(torch.autograd.Function):
    """A candidate, not used by the package yet: the CSR product whose backward builds the batch's transposed
    CSR itself (a stable argsort of the ids) and multiplies it by the output gradient."""

    @staticmethod
    def forward(ctx, ids: torch.Tensor, offsets: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(ids, offsets)
        ctx.width = weight.shape[1]
        rows = torch.sparse_csr_tensor(offsets, ids, torch.ones(len(ids)), size=(len(offsets) - 1, weight.shape[1]))
        return rows @ weight.t()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        ids, offsets = ctx.saved_tensors
        n = len(offsets) - 1
        review = torch.repeat_interleave(torch.arange(n), offsets[1:] - offsets[:-1])
        order = torch.argsort(ids, stable=True)
        crow = torch.zeros(ctx.width + 1, dtype=torch.long)
        crow[1:] = torch.bincount(ids, minlength=ctx.width).cumsum(0)
        transposed = torch.sparse_csr_tensor(crow, review[order], torch.ones(len(ids)), size=(ctx.width, n))
        return None, None, (transposed @ grad).t()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    dm = IMDBDataModule(batch_format="bag")
    dm.prepare_data()
    dm.setup()
    batches = list(dm.loader("train", shuffle=True))
    torch.manual_seed(0)
    weight = torch.randn(16, dm.num_words, requires_grad=True)  # nn.Linear's [out, in]
    kernel = weight.detach().t().contiguous().requires_grad_()  # Keras's [in, out]
    methods = {
        "multi-hot rows @ W.T": lambda b: multi_hot(b.ids, b.offsets, dm.num_words) @ weight.t(),
        "embedding_bag(W.T)": lambda b: F.embedding_bag(b.ids.long(), weight.t(), b.offsets, mode="sum", include_last_offset=True),
        "sparse CSR @ W.T (ours)": lambda b: sparse_rows(b, dm.num_words) @ weight.t(),
        "sparse CSR @ contiguous kernel": lambda b: sparse_rows(b, dm.num_words) @ kernel,
        "sparse CSR, transposed backward": lambda b: TransposedBackward.apply(b.ids.long(), b.offsets, weight),
    }
    reference = [methods["multi-hot rows @ W.T"](b).detach() for b in batches[:3]]
    weight.grad = None
    methods["multi-hot rows @ W.T"](batches[0]).square().sum().backward()
    reference_grad = weight.grad.clone()
    results = {}
    for name, fn in methods.items():
        assert all(torch.allclose(fn(b).detach(), r, atol=1e-4) for b, r in zip(batches[:3], reference, strict=True)), name
        if name != "sparse CSR @ contiguous kernel":  # that one trains its own copy of the kernel
            weight.grad = None
            fn(batches[0]).square().sum().backward()
            assert torch.allclose(weight.grad, reference_grad, rtol=1e-4, atol=1e-2), f"{name}: gradient differs"
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            for batch in batches:
                fn(batch).sum().backward()
            best = min(best, time.perf_counter() - start)
        results[name] = 1000 * best / len(batches)
    print(f"first layer forward + backward, ms per batch of {dm.hparams.batch_size} (fastest of {args.repeat}):")
    for name, ms in results.items():
        print(f"  {name:32s} {ms:6.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
