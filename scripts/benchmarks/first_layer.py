"""Time the first layer's forward + backward on real training batches, every way of computing ``x @ kernel``.

One process, the same 30 batches of 512 reviews for every method, in interleaved rounds, the fastest, in ms
per batch: the lecture's multi-hot rows times the kernel; a sparse CSR matrix of the bags times the kernel
(PyTorch's backward transposes the batch); ``embedding_bag(mode="sum")`` with PyTorch's own backward (it
sorts the ids); and the package's :class:`~imdb_lightning.network.layers.BagSum` (``embedding_bag`` forward,
the compiled scatter backward). The kernel is stored ``[in, out]`` as the package's ``Dense`` stores it. All
give the same values and gradients; the script checks that too.
"""

from __future__ import annotations

import time
import warnings

import torch
import torch.nn.functional as F

from benchmarks.fit import threads_as_a_run
from benchmarks.harness import Table, fastest, rounds
from imdb_lightning.data import IMDBDataModule, multi_hot
from imdb_lightning.network.layers import BagSum


def csr_rows(ids: torch.Tensor, offsets: torch.Tensor, width: int) -> torch.Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(offsets, ids, torch.ones(len(ids)), size=(len(offsets) - 1, width))


def first_layer(repeat: int) -> tuple[dict, dict[str, Table]]:
    """Each method's ms a batch (forward and backward), after checking that it gives the reference's values
    and kernel gradient."""
    dm = IMDBDataModule(batch_format="bag")
    dm.prepare_data()
    dm.setup()
    batches = [(b.ids.long(), b.offsets) for b, _ in dm.loader("train", shuffle=True)]
    width = dm.num_words
    torch.manual_seed(0)
    threads_as_a_run()
    kernel = torch.randn(width, 16, requires_grad=True)
    methods = {
        "multi-hot rows @ kernel": lambda ids, offsets: multi_hot(ids, offsets, width) @ kernel,
        "sparse CSR @ kernel": lambda ids, offsets: csr_rows(ids, offsets, width) @ kernel,
        "embedding_bag (PyTorch backward)": lambda ids, offsets: F.embedding_bag(
            ids, kernel, offsets, mode="sum", include_last_offset=True
        ),
        "BagSum (ours: compiled backward)": lambda ids, offsets: BagSum.apply(ids, offsets, kernel),
    }
    upstream = torch.randn(len(batches[0][1]) - 1, 16)
    reference = methods["multi-hot rows @ kernel"](*batches[0])
    kernel.grad = None
    reference.backward(upstream)
    reference_grad = kernel.grad.clone()
    for name, fn in methods.items():
        kernel.grad = None
        out = fn(*batches[0])
        out.backward(upstream)
        assert torch.allclose(out, reference, atol=1e-4), f"{name}: values differ"
        assert torch.allclose(kernel.grad, reference_grad, atol=1e-3), f"{name}: gradient differs"

    def timed(fn) -> float:
        started = time.perf_counter()
        for ids, offsets in batches:
            fn(ids, offsets).sum().backward()
        return 1000 * (time.perf_counter() - started) / len(batches)

    tries = rounds({name: (lambda fn=fn: timed(fn)) for name, fn in methods.items()}, repeat)
    table = Table(["first layer, forward + backward", f"ms a batch of {dm.hparams.batch_size}"])
    for name, t in tries.items():
        table.add(name, f"{fastest(t):.2f}")
    return {"first_layer_ms": {name: fastest(t) for name, t in tries.items()}}, {"first-layer": table}
