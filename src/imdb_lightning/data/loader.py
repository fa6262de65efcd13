"""Serving a split's batches straight from its compact encoding: an epoch's order (shuffled, sharded under
DDP), and each batch made from a slice when it is served (multi-hot rows, or the bag of ids)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from imdb_lightning.data.corpus import EncodedSplit
from imdb_lightning.network.batches import CompactBatch, Execution, multi_hot
from imdb_lightning.network.kernels import gather_segments
from imdb_lightning.utils.errors import ConfigError


class EpochPermutation:
    """The order of one epoch, a pure function of (seed, epoch): reruns and resumed runs see the same batches.

    Lightning calls ``set_epoch`` before every training epoch (it looks for ``loader.sampler.set_epoch``).
    """

    def __init__(self, size: int, *, shuffle: bool, seed: int, shard: tuple[int, int] = (0, 1)) -> None:
        self.size, self.shuffle, self.seed, self.epoch = size, shuffle, seed, 0
        self.rank, self.world = shard

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def natural(self) -> bool:
        """Every review, in the split's own order."""
        return not self.shuffle and self.world == 1

    def order(self) -> torch.Tensor:
        """This epoch's order; under DDP, this process's share of it (every ``world``-th review)."""
        if not self.shuffle:
            order = torch.arange(self.size)
        else:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator)
        return order[self.rank :: self.world]


class BatchLoader:
    """Yields ``(x, y)`` batches of a preloaded split: ``x`` multi-hot float32 rows ``[batch, width]``
    (``batch_format="dense"``) or the :class:`CompactBatch` of the batch (``"bag"``), ``y`` float32 labels.
    No Dataset, no per-review Python work.

    Any iterable with ``__len__`` serves as a Lightning loader; plain loops can iterate it directly.
    ``sampler`` is the epoch order, where Lightning looks for ``set_epoch``. With ``steps_per_execution``
    above 1 it yields the batches that many at a time, each group an :class:`Execution` (the model's
    ``steps_per_execution``: one Lightning step runs them).
    """

    batch_sampler = None  # Lightning inspects loaders that have a ``sampler`` for this DataLoader attribute

    def __init__(
        self,
        split: EncodedSplit,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        device: torch.device | str = "cpu",
        shard: tuple[int, int] = (0, 1),
        batch_format: str = "dense",
        width: int | None = None,
        steps_per_execution: int = 1,
    ) -> None:
        if batch_size <= 0:
            raise ConfigError(f"batch size must be positive, got {batch_size}")
        if steps_per_execution <= 0:
            raise ConfigError(f"steps_per_execution must be positive, got {steps_per_execution}")
        if batch_format not in ("dense", "bag"):
            raise ConfigError(f"a loader's batch_format is dense or bag, got {batch_format!r}")
        self.batch_format = batch_format
        self.width = width if width is not None else int(split.ids.max(initial=0)) + 1
        self.device = torch.device(device)
        self.ids = torch.from_numpy(split.ids).to(self.device)
        self.offsets = torch.from_numpy(split.offsets).to(self.device)
        self.labels = torch.from_numpy(split.labels).to(self.device)
        self.batch_size = batch_size
        self.steps_per_execution = steps_per_execution
        self.sampler = EpochPermutation(len(split), shuffle=shuffle, seed=seed, shard=shard)

    @property
    def num_batches(self) -> int:
        """The batches of an epoch (of this process's share under DDP)."""
        rank, world = self.sampler.rank, self.sampler.world
        return -(-len(range(rank, len(self.labels), world)) // self.batch_size)

    def __len__(self) -> int:
        """The items of an epoch: its batches, or its executions of ``steps_per_execution`` batches."""
        return -(-self.num_batches // self.steps_per_execution)

    def __iter__(self) -> Iterator:
        if self.steps_per_execution == 1:
            yield from self.batches()
            return
        execution = Execution()
        for batch in self.batches():
            execution.append(batch)
            if len(execution) == self.steps_per_execution:
                yield execution
                execution = Execution()
        if execution:
            yield execution

    def batches(self) -> Iterator[tuple[torch.Tensor | CompactBatch, torch.Tensor]]:
        """The epoch's batches. Gathers the epoch's reviews in order once (nothing to gather in the split's
        own order); every batch is then a slice of it: a few tensor views a step, however large the batch."""
        if self.sampler.natural:
            epoch = CompactBatch(self.ids, self.offsets, self.labels)
        else:
            epoch = self.gather(self.sampler.order().to(self.device))
        rows = [*range(0, len(epoch.labels), self.batch_size), len(epoch.labels)]
        cuts = epoch.offsets[rows].tolist()  # one copy to the host an epoch, none a step
        for a, b, start, end in zip(rows, rows[1:], cuts, cuts[1:], strict=False):
            yield self.inputs(
                CompactBatch(epoch.ids[start:end], epoch.offsets[a : b + 1] - start, epoch.labels[a:b])
            )

    def inputs(self, batch: CompactBatch) -> tuple[torch.Tensor | CompactBatch, torch.Tensor]:
        """``(x, y)`` of a compact batch in this loader's format (multi-hot rows built on its device)."""
        if self.batch_format == "bag":
            return batch, batch.labels
        return multi_hot(batch.ids, batch.offsets, self.width), batch.labels

    def gather(self, index: torch.Tensor, *, compiled: bool | None = None) -> CompactBatch:
        """Reviews ``index``, in that order: by the compiled copy loop on a CPU, by tensor indexing
        elsewhere."""
        if compiled is None:
            compiled = self.device.type == "cpu"
        if compiled:
            ids, offsets = gather_segments(self.ids.numpy(), self.offsets.numpy(), index.numpy())
            return CompactBatch(torch.from_numpy(ids), torch.from_numpy(offsets), self.labels[index])
        lengths = self.offsets.diff()[index]
        offsets = torch.zeros(len(index) + 1, dtype=torch.int64, device=self.device)
        torch.cumsum(lengths, 0, out=offsets[1:])
        shift = torch.repeat_interleave(self.offsets[index] - offsets[:-1], lengths)
        ids = self.ids[torch.arange(int(offsets[-1]), device=self.device) + shift]
        return CompactBatch(ids, offsets, self.labels[index])
