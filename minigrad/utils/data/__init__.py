"""Datasets, samplers and a DataLoader, as ``torch.utils.data``: batches of Tensors from indexable samples.

    dataset = TensorDataset(inputs, targets)           # inputs: (N, …), targets: (N, …)
    loader = DataLoader(dataset, batch_size=32, shuffle=True, drop_last=True)
    for x, y in loader:                                # x: (32, …), y: (32, …)
        ...

Shuffling draws a fresh order each epoch from the engine's generator (so
``mg.manual_seed`` makes it repeatable), or from the ``generator`` given (an
``mg.Generator`` or a ``numpy.random.Generator``). ``num_workers > 0`` is
emulated in the calling process, batch for batch as PyTorch's workers deliver
them (see :mod:`minigrad.utils.data.worker`).
"""

from __future__ import annotations

from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .distributed import DistributedSampler
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "IterableDataset",
    "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler", "WorkerInfo", "default_collate", "default_convert", "get_worker_info", "random_split",
]
