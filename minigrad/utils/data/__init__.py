"""Datasets, samplers and a DataLoader, as ``torch.utils.data``: batches of Tensors from indexable samples.

    dataset = TensorDataset(inputs, targets)           # inputs: (N, …), targets: (N, …)
    loader = DataLoader(dataset, batch_size=32, shuffle=True, drop_last=True)
    for x, y in loader:                                # x: (32, …), y: (32, …)
        ...

Shuffling draws a fresh order each epoch from the engine's generator (so
``mg.manual_seed`` makes it repeatable), or from the ``generator`` given (a
``numpy.random.Generator``).
"""

from __future__ import annotations

from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = [
    "BatchSampler", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler",
    "Subset", "TensorDataset", "default_collate", "default_convert", "random_split",
]
