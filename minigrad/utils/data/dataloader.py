"""Datasets and a DataLoader, as ``torch.utils.data``: batches of Tensors from indexable samples.

    dataset = TensorDataset(inputs, targets)           # inputs: (N, …), targets: (N, …)
    loader = DataLoader(dataset, batch_size=32, shuffle=True, drop_last=True)
    for x, y in loader:                                # x: (32, …), y: (32, …)
        ...

Shuffling draws a fresh order each epoch from the engine's generator (so
``mg.manual_seed`` makes it repeatable), or from the ``generator`` given (a
``numpy.random.Generator``). Everything runs in the calling process:
``num_workers`` and ``pin_memory`` are accepted for PyTorch's sake and change
nothing.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, Iterator

import numpy

import minigrad as mg

__all__ = ["DataLoader", "Dataset", "IterableDataset", "Subset", "TensorDataset", "default_collate", "random_split"]


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
    order comes from ``generator`` (a ``numpy.random.Generator``) or the engine's
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
    rng = generator if generator is not None else mg.random_generator("cpu")
    order = [int(i) for i in rng.permutation(n)]
    offsets = numpy.cumsum([0, *lengths]).tolist()
    return [Subset(dataset, order[start:stop]) for start, stop in zip(offsets[:-1], offsets[1:])]


# --- collate ------------------------------------------------------------------------

def _stack_arrays(arrays: list, what: str) -> mg.Tensor:
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: stack expects each {what} to be equal size, got shapes {sorted(shapes)}")
    xp = mg.array_module(arrays[0])
    return mg.as_tensor(xp.stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Combine a list of samples into a batch, as PyTorch's ``default_collate``.

    Tensors and arrays are stacked along a new first dim (Tensors that
    require grad through ``mg.stack``, so the batch stays in the graph);
    Python floats give a float64 Tensor, ints int64, bools bool (PyTorch's
    choice); strings stay a list; dicts, tuples and lists are collated field
    by field (a tuple of fields comes back as a list, a named tuple as itself).
    """
    if not len(batch):
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, mg.Tensor):
        if not all(isinstance(b, mg.Tensor) for b in batch):
            raise TypeError("default_collate: a batch mixes Tensors and other types")
        if any(b.requires_grad for b in batch):
            return mg.stack(list(batch))
        devices = {b.device for b in batch}
        if len(devices) > 1:
            raise ValueError(f"default_collate: samples on different devices {sorted(devices)}")
        return _stack_arrays([b.data for b in batch], "tensor")
    if mg.is_array(elem) or isinstance(elem, numpy.generic) and not isinstance(elem, (numpy.str_, numpy.bytes_)):
        arrays = [numpy.asarray(b) if isinstance(b, numpy.generic) else b for b in batch]
        if arrays[0].dtype.kind not in "biufc":
            raise TypeError(f"default_collate: batch must contain numeric arrays; found dtype {arrays[0].dtype}")
        return _stack_arrays([mg.to_device(a, mg.get_default_device()) for a in arrays], "array")
    if isinstance(elem, bool):
        return mg.tensor(list(batch), dtype=mg.bool_)
    if isinstance(elem, numbers.Integral):
        return mg.tensor(list(batch), dtype=mg.int64)
    if isinstance(elem, numbers.Real):
        return mg.tensor(list(batch), dtype=mg.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(fields)   # an OrderedDict or another mapping keeps its type when it can
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # a named tuple keeps its type
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, Sequence):
        if len({len(b) for b in batch}) != 1:
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain Tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


# --- the loader ---------------------------------------------------------------------

def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"DataLoader: {what} should be a positive integer value, but got {what}={value!r}")
    return int(value)


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for batch in DataLoader(dataset, batch_size=32, shuffle=True)``.

    ``batch_size=None`` turns batching off (each sample is converted alone).
    ``shuffle=True`` draws a new order every epoch (from ``generator`` when
    given, else from the engine's generator seeded by ``mg.manual_seed``).
    ``drop_last`` drops a last, smaller batch. ``sampler`` (an iterable of
    indices) or ``batch_sampler`` (an iterable of index lists) replace the
    built-in order. ``collate_fn`` turns a list of samples into a batch
    (default: :func:`default_collate`).
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable | None = None, batch_sampler: Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 generator: Any = None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if batch_size is not None:
            batch_size = _positive_int(batch_size, "batch_size")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers!r}")
        iterable = isinstance(dataset, IterableDataset) or (not hasattr(dataset, "__getitem__")
                                                           and hasattr(dataset, "__iter__"))
        if iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with an IterableDataset: expected unspecified shuffle, sampler and "
                             "batch_sampler options (the stream decides its order)")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        if generator is not None and not hasattr(generator, "permutation"):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else batch_size
        self.shuffle = bool(shuffle)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn if collate_fn is not None else \
            (default_collate if self.batch_size is not None or batch_sampler is not None else _convert)
        self.generator = generator
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self._iterable = iterable

    def _order(self) -> Iterable[int]:
        if self.sampler is not None:
            return self.sampler
        n = len(self.dataset)
        if not self.shuffle:
            return range(n)
        rng = self.generator if self.generator is not None else mg.random_generator("cpu")
        return (int(i) for i in rng.permutation(n))

    def _index_batches(self) -> Iterator[list]:
        if self.batch_sampler is not None:
            yield from (list(b) for b in self.batch_sampler)
            return
        batch: list = []
        for index in self._order():
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            yield from self._stream()
            return
        if self.batch_size is None and self.batch_sampler is None:
            for index in self._order():
                yield self.collate_fn(self.dataset[index])
            return
        for indices in self._index_batches():
            yield self.collate_fn([self.dataset[i] for i in indices])

    def _stream(self) -> Iterator[Any]:
        if self.batch_size is None:
            yield from (self.collate_fn(sample) for sample in self.dataset)
            return
        batch: list = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        """Number of batches: ⌈N / batch_size⌉, or ⌊N / batch_size⌋ with ``drop_last``."""
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        source = self.dataset if self.sampler is None else self.sampler
        if not hasattr(source, "__len__"):
            raise TypeError(f"DataLoader: the {'dataset' if self.sampler is None else 'sampler'} of type "
                            f"{type(source).__name__} has no len()")
        n = len(source)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _convert(sample: Any) -> Any:
    """Without batching: arrays and numbers in the sample become Tensors (PyTorch's default_convert)."""
    if isinstance(sample, mg.Tensor):
        return sample
    if mg.is_array(sample) and sample.dtype.kind in "biufc":
        return mg.as_tensor(sample)
    if isinstance(sample, numpy.generic) and not isinstance(sample, (numpy.str_, numpy.bytes_)):
        return mg.tensor(sample)
    if isinstance(sample, Mapping):
        return {key: _convert(value) for key, value in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(_convert(v) for v in sample))
    if isinstance(sample, (list, tuple)):
        return [_convert(v) for v in sample]
    return sample
