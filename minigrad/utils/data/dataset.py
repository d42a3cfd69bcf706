"""Datasets: indexable collections of samples (``Dataset``), streams (``IterableDataset``), tensors row by
row (``TensorDataset``), and index views (``Subset``, ``random_split``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Iterator

import numpy

import minigrad as mg

from .sampler import _check_generator

__all__ = ["Dataset", "IterableDataset", "Subset", "TensorDataset", "random_split"]


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample ``i``; ``len(dataset)`` the number of samples."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__()")


class IterableDataset(Dataset):
    """A stream of samples: ``iter(dataset)`` yields them (no indexing, so no shuffling)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} has no __iter__()")


class TensorDataset(Dataset):
    """Samples are the i-th rows of each tensor: ``dataset[i] == (t0[i], t1[i], …)``.

    Every tensor (or array) must have the same first dim N.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        tensors = tuple(t if isinstance(t, mg.Tensor) else mg.tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError(f"TensorDataset: every tensor needs the same first dim (size mismatch between "
                             f"tensors of shapes {shapes})")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(d, [4, 0])[1] is d[0]``."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given ``lengths``, as PyTorch.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to
    1 (floors, then the remainder handed out one by one from the first). The
    order comes from ``generator`` (an ``mg.Generator`` or a NumPy ``Generator``) or the engine's
    generator, so ``mg.manual_seed`` makes it repeatable.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) and 0 <= x <= 1 for x in lengths) and math.isclose(sum(lengths), 1):
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(isinstance(x, bool) or not isinstance(x, (int, numpy.integer)) or x < 0 for x in lengths) \
            or sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {lengths} does not equal the length of the input "
                         f"dataset ({n}); give counts summing to it or fractions summing to 1")
    rng = _check_generator(generator, "random_split") or mg.random_generator("cpu")
    order = [int(i) for i in rng.permutation(n)]
    offsets = numpy.cumsum([0, *lengths]).tolist()
    return [Subset(dataset, order[start:stop]) for start, stop in zip(offsets[:-1], offsets[1:])]
