"""``DataLoader``: batches of Tensors from a dataset, in order or shuffled (seeded), as PyTorch's.

Everything runs in the calling process: ``num_workers`` and ``pin_memory`` are
accepted for PyTorch's sake and change nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import numpy

from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader"]


def _batches(samples: Iterable[Any], batch_size: int, drop_last: bool) -> Iterator[list]:
    """Lists of ``batch_size`` consecutive items (the last shorter unless ``drop_last``)."""
    return iter(BatchSampler(samples, batch_size, drop_last))


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for batch in DataLoader(dataset, batch_size=32, shuffle=True)``.

    ``batch_size=None`` turns batching off (each sample is converted alone).
    ``shuffle=True`` draws a new order every epoch (from ``generator`` when
    given, else from the engine's generator seeded by ``mg.manual_seed``).
    ``drop_last`` drops a last, smaller batch. ``sampler`` (an iterable of
    indices, e.g. a ``RandomSampler``) or ``batch_sampler`` (an iterable of
    index lists) replace the built-in order. ``collate_fn`` turns a list of
    samples into a batch (default: :func:`default_collate`).
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable | None = None, batch_sampler: Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer))
                                       or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
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
        self.dataset, self.drop_last, self.generator = dataset, bool(drop_last), generator
        self._iterable = iterable
        if not iterable and sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is None and batch_size is not None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.batch_size = None if batch_sampler is not None and not isinstance(batch_sampler, BatchSampler) \
            else batch_size
        batched = batch_size is not None or batch_sampler is not None
        self.collate_fn = collate_fn if collate_fn is not None else (default_collate if batched else default_convert)
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            if self.batch_size is None:
                return (self.collate_fn(sample) for sample in self.dataset)
            return (self.collate_fn(batch) for batch in _batches(self.dataset, self.batch_size, self.drop_last))
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[index]) for index in self.sampler)
        return (self.collate_fn([self.dataset[i] for i in indices]) for indices in self.batch_sampler)

    def __len__(self) -> int:
        """Number of batches: ⌈N / batch_size⌉, or ⌊N / batch_size⌋ with ``drop_last``."""
        source = self.dataset if self._iterable else self.batch_sampler if self.batch_sampler is not None \
            else self.sampler
        if not hasattr(source, "__len__"):
            raise TypeError(f"DataLoader: the {'dataset' if self._iterable else 'sampler'} of type "
                            f"{type(source).__name__} has no len()")
        if self._iterable and self.batch_size is not None:
            return len(BatchSampler(range(len(source)), self.batch_size, self.drop_last))
        if self.batch_sampler is not None and not hasattr(self.batch_sampler, "__len__"):
            raise TypeError("DataLoader: the batch_sampler has no len()")
        return len(source)
