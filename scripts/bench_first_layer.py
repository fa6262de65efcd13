#!/usr/bin/env python
"""Time the first layer's forward + backward on real training batches, every way of computing ``x @ W``.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench_first_layer.py [--repeat 5]

One process, the same 30 batches of 512 reviews for every method, fastest of ``--repeat`` passes, in ms per
batch: the multi-hot rows times the kernel (the lecture's way), ``embedding_bag(mode="sum")`` over each
review's distinct ids, and the sparse CSR product the package uses on a CPU (with the kernel as
``nn.Linear`` stores it, transposed, and contiguous). All give the same values; the script checks that too.
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
    }
    reference = [methods["multi-hot rows @ W.T"](b).detach() for b in batches[:3]]
    results = {}
    for name, fn in methods.items():
        assert all(torch.allclose(fn(b).detach(), r, atol=1e-4) for b, r in zip(batches[:3], reference, strict=True)), name
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
