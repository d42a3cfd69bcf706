"""``DistributedSampler``: each of ``num_replicas`` processes reads its own share of a dataset, as PyTorch's.

minigrad has no process group, so ``num_replicas`` and ``rank`` are given (as PyTorch allows without one):

    sampler = DistributedSampler(dataset, num_replicas=4, rank=1, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)   # a new shuffle per epoch, the same one in every replica
        for batch in loader: ...
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import minigrad as mg

from .sampler import Sampler, T_co

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[T_co]):
    """The indices of replica ``rank`` out of ``num_replicas``: every ``num_replicas``-th index of the
    (shuffled, when ``shuffle``) order, starting at ``rank``.

    The order is padded by repeating its first indices until it divides evenly (``drop_last=False``) or its
    tail is cut (``drop_last=True``), so every replica gets ``num_samples`` indices. The shuffle draws a
    permutation from an ``mg.Generator`` seeded ``seed + epoch`` (``set_epoch``): the same in every replica
    (minigrad's numbers, not PyTorch's permutation).
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            raise ValueError("DistributedSampler: Default process group has not been initialized (minigrad has no "
                             "torch.distributed process group); pass num_replicas and rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"DistributedSampler: Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank, self.epoch = dataset, num_replicas, rank, 0
        self.drop_last, self.shuffle, self.seed = drop_last, shuffle, seed
        if drop_last and len(dataset) % num_replicas != 0:
            self.num_samples = math.ceil((len(dataset) - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(len(dataset) / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            generator = mg.Generator().manual_seed(self.seed + self.epoch)
            indices = mg.randperm(n, generator=generator, device="cpu").tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            indices += (indices * math.ceil(padding / len(indices)))[:padding] if padding > 0 else []
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Shuffle with ``seed + epoch`` from the next pass on (call it before each epoch's iteration)."""
        self.epoch = epoch
