"""Datasets: indexable collections of samples (``Dataset``), streams (``IterableDataset``), tensors row by
row (``TensorDataset``), index views (``Subset``, ``random_split``), and combinations (``ConcatDataset``,
``ChainDataset``, ``StackDataset``), as ``torch.utils.data``'s."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any, Generic, Iterable, Iterator, TypeVar

import numpy

import minigrad as mg

from .sampler import _AssertTypeError, _AssertValueError, _check_generator

__all__ = ["ChainDataset", "ConcatDataset", "Dataset", "IterableDataset", "StackDataset", "Subset", "TensorDataset",
           "random_split"]


T_co = TypeVar("T_co", covariant=True)


class _TypeValueError(TypeError, ValueError):
    """A TypeError as PyTorch raises, a ValueError as minigrad raised before."""


class _IndexValueError(IndexError, ValueError):
    """An IndexError as PyTorch raises (``tensors[0]``, ``size(0)`` of a 0-d tensor), a ValueError as minigrad
    raised before."""


class Dataset(Generic[T_co]):
    """A map-style dataset: ``dataset[i]`` is sample ``i``; ``len(dataset)`` the number of samples.
    ``a + b`` is ``ConcatDataset([a, b])``. Generic as PyTorch's (``class Pairs(Dataset[tuple[Tensor, int]])``)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__()")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A stream of samples: ``iter(dataset)`` yields them (no indexing, so no shuffling).
    ``a + b`` is ``ChainDataset([a, b])``. Abstract as PyTorch's: a subclass without ``__iter__`` cannot be made
    (TypeError)."""

    def __add__(self, other: Dataset) -> ChainDataset:   # type: ignore[override]
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the i-th rows of each tensor: ``dataset[i] == (t0[i], t1[i], …)``.

    Every tensor (or array) must have the same first dim N.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise _IndexValueError("TensorDataset: give at least one tensor")
        tensors = tuple(t if isinstance(t, mg.Tensor) else mg.tensor(t) for t in tensors)
        if any(t.ndim == 0 for t in tensors):
            raise _IndexValueError(f"TensorDataset: a 0-d tensor has no first dim to index samples by (shapes "
                                   f"{', '.join(str(t.shape) for t in tensors)})")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise _AssertValueError(f"TensorDataset: every tensor needs the same first dim (size mismatch between "
                             f"tensors of shapes {shapes})")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(d, [4, 0])[1] is d[0]``.
    ``indices`` is kept as given (a range, array or Tensor stays one), as PyTorch's."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list[int]) -> list:
        """The samples at ``indices`` (the DataLoader's batched fetch), through the dataset's own
        ``__getitems__`` when it has one."""
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """The samples of several map-style datasets one after the other: ``ConcatDataset([a, b])[len(a)] is b[0]``.

    ``cumulative_sizes`` are the running totals of the lengths; negative indices count from the end.
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise _AssertValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise _AssertTypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise ValueError("ConcatDataset: absolute value of index should not exceed dataset length")
            index = len(self) + index
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} is out of range for {len(self)} samples")
        return self.datasets[which][index - (self.cumulative_sizes[which - 1] if which else 0)]

    @property
    def cummulative_sizes(self) -> list[int]:
        """PyTorch's old (misspelt) name of :attr:`cumulative_sizes`."""
        return self.cumulative_sizes


class ChainDataset(IterableDataset[T_co]):
    """The streams of several IterableDatasets one after the other (chained lazily at each pass)."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise _AssertTypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise _AssertTypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            total += len(d)   # type: ignore[arg-type]
        return total


class StackDataset(Dataset[T_co]):
    """Samples of several datasets of one length side by side: ``StackDataset(a, b)[i] == (a[i], b[i])``,
    ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: supported either tuple-like (via args) or dict-like (via kwargs) "
                             "input/output, but both types are given")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self.datasets: Any = args or kwargs   # PyTorch's attribute: the tuple, or the dict of names
        sizes = [len(d) for d in (args or kwargs.values())]
        if len(set(sizes)) != 1:
            raise ValueError(f"StackDataset: size mismatch between datasets (lengths {sizes})")
        self._length = sizes[0]

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices: list[int]) -> list:
        """The samples at ``indices`` (the DataLoader's batched fetch), each dataset read through its own
        ``__getitems__`` when it has one, as PyTorch's."""
        named = isinstance(self.datasets, dict)
        columns = {}
        for key, d in (self.datasets.items() if named else enumerate(self.datasets)):
            getitems = getattr(d, "__getitems__", None)
            column = getitems(list(indices)) if callable(getitems) else [d[i] for i in indices]
            if len(column) != len(indices):
                raise ValueError(f"StackDataset: nested dataset's output size mismatch. Expected {len(indices)}, "
                                 f"got {len(column)}")
            columns[key] = column
        if named:
            return [{key: column[j] for key, column in columns.items()} for j in range(len(indices))]
        return [tuple(column[j] for column in columns.values()) for j in range(len(indices))]

    def __len__(self) -> int:
        return self._length


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given ``lengths``, as PyTorch.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to
    1 (floors, then the remainder handed out one by one from the first). The
    order comes from ``generator`` (an ``mg.Generator`` or a NumPy ``Generator``) or the engine's
    generator, so ``mg.manual_seed`` makes it repeatable.
    """
    n = len(dataset)
    # a 0-d Tensor as a NumPy scalar of its dtype: PyTorch's sums and n * fraction run in the tensor's dtype
    # (10 * float32(0.7) is 7.0 there, 6.99999988 in float64)
    lengths = [x.numpy()[()] if isinstance(x, mg.Tensor) and x.ndim == 0 else x for x in lengths]
    if lengths and all(isinstance(x, (int, float, numpy.number)) and not isinstance(x, bool) for x in lengths) \
            and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:   # fractions, as PyTorch reads them
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {fraction}")
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if not count:   # PyTorch's warning
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              UserWarning, stacklevel=2)
        lengths = counts
    if any(isinstance(x, (float, numpy.floating)) for x in lengths):   # PyTorch's randperm(float) TypeError
        raise _TypeValueError(f"random_split: lengths {lengths} are neither counts (ints) nor fractions summing "
                              f"to 1")
    if any(isinstance(x, bool) or not isinstance(x, (int, numpy.integer)) or x < 0 for x in lengths) \
            or sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {lengths} does not equal the length of the input "
                         f"dataset ({n}); give counts summing to it or fractions summing to 1")
    rng = _check_generator(generator, "random_split") or mg.random_generator("cpu")
    order = [int(i) for i in rng.permutation(n)]
    offsets = numpy.cumsum([0, *lengths]).tolist()
    return [Subset(dataset, order[start:stop]) for start, stop in zip(offsets[:-1], offsets[1:])]
