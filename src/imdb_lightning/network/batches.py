"""What a batch of reviews is: ids back to back (compact), or the lecture's multi-hot rows made from them.

Shared by the data side (which serves batches) and the model side (whose first layer reads either form).
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class CompactBatch(NamedTuple):
    """A batch of reviews as ids back to back (``offsets`` has ``len(labels) + 1`` entries) and labels."""

    ids: torch.Tensor
    offsets: torch.Tensor
    labels: torch.Tensor


class Execution(list):
    """The batches one Lightning step runs, in order (Keras's ``steps_per_execution``): a type of its own,
    so that a step never mistakes a batch served as a list (``[x, y]``, as a DataLoader collates) for it."""


def multi_hot(ids: torch.Tensor, offsets: torch.Tensor, num_words: int) -> torch.Tensor:
    """``[batch, num_words]`` float32 rows with a 1 at each id a review contains, as the lecture's
    ``vectorize_sequences``: presence only, no counts. Built on ``ids``'s device."""
    lengths = offsets[1:] - offsets[:-1]
    # output_size: without it repeat_interleave reads the total back from the device, a sync every batch.
    rows = torch.repeat_interleave(
        torch.arange(len(lengths), device=ids.device), lengths, output_size=len(ids)
    )
    out = torch.zeros(len(lengths), num_words, dtype=torch.float32, device=ids.device)
    out[rows, ids.long()] = 1.0
    return out
