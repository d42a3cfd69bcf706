"""``DataLoader``: batches of Tensors from a dataset, in order or shuffled (seeded), as PyTorch's.

Everything runs in the calling process. ``num_workers > 0`` is emulated there (see
:mod:`minigrad.utils.data.worker`): the batches come in the order PyTorch's worker processes deliver
them (for a map-style dataset, the same batches as ``num_workers=0``; for an IterableDataset, each
worker's stream, interleaved batch by batch, so a stream that does not shard itself by
``get_worker_info()`` is repeated once per worker, as in PyTorch), with ``worker_init_fn``, per-worker
dataset copies and per-worker random streams. ``pin_memory``, ``prefetch_factor``, ``timeout``,
``multiprocessing_context`` and ``in_order`` are checked as PyTorch checks them and change nothing else.
"""

from __future__ import annotations

import itertools
import multiprocessing
from typing import Any, Callable, Generic, Iterable, Iterator, NamedTuple

import numpy

import minigrad as mg

from .collate import default_collate, default_convert
from .dataset import IterableDataset, T_co
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _AssertValueError, _check_generator
from .worker import Worker

__all__ = ["DataLoader"]

_FIXED = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


def _start_method(context: Any, num_workers: int) -> Any:
    """PyTorch's check of ``multiprocessing_context`` (at each assignment): None, or with workers a start method's
    name (made the context, as PyTorch stores it) or a context object; anything else raises PyTorch's ValueError
    or TypeError."""
    if context is None:
        return None
    if not num_workers:
        raise ValueError(f"DataLoader: the multiprocessing_context option can only be used with worker loading "
                         f"(num_workers > 0), but got num_workers={num_workers} and "
                         f"multiprocessing_context={context!r}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context option should specify a valid start method in "
                             f"{methods!r}, but got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"DataLoader: multiprocessing_context option should be a valid context object or a string "
                        f"specifying the start method, but got multiprocessing_context={context!r}")
    return context


def _check_num_workers(num_workers: Any) -> None:
    """PyTorch's ``num_workers < 0`` check: a non-integer is a TypeError (its comparison's or ``range``'s), a negative
    one its ValueError."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, numpy.integer)):
        raise TypeError(f"DataLoader: num_workers should be a non-negative int, got {type(num_workers).__name__} "
                        f"{num_workers!r:.40}")
    if num_workers < 0:
        raise _AssertValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers!r}; "
                                "use num_workers=0 to load in this process")


class _InfiniteConstantSampler(Sampler):
    """The sampler of a loader over an IterableDataset, as PyTorch's: None forever (``itertools.repeat(None)``)."""

    def __iter__(self) -> Iterator[None]:
        return itertools.repeat(None)


class _Raised(NamedTuple):
    """What a pass yields for a batch whose fetching raised ``error`` (a dataset's ``__getitem__``, a
    ``collate_fn``): ``next()`` raises it and the pass goes on with the next batch, as PyTorch's iterator."""

    error: BaseException


def _fetched(fetch: Callable[..., Any], *args: Any) -> Any:
    """``fetch(*args)``, or :class:`_Raised` with what it raised (so the generator of the pass lives on)."""
    try:
        return fetch(*args)
    except BaseException as error:  # noqa: BLE001 - handed to the caller of next(), unchanged
        return _Raised(error)


class _LoaderIterator:
    """What ``iter(loader)`` returns: the batches of one pass, with ``len()`` as the loader's."""

    def __init__(self, loader: DataLoader, batches: Iterator[Any]) -> None:
        self._loader, self._batches = loader, batches

    def __iter__(self) -> _LoaderIterator:
        return self

    def __next__(self) -> Any:
        batch = next(self._batches)
        if type(batch) is _Raised:
            raise batch.error
        return batch

    def __len__(self) -> int:
        return len(self._loader)

    def __getstate__(self) -> None:   # as PyTorch's loader iterators (a persistent loader holds its iterator)
        raise NotImplementedError(f"DataLoader: its iterator ({type(self).__name__}) cannot be pickled or copied")


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches: ``for batch in DataLoader(dataset, batch_size=32, shuffle=True)``.

    ``batch_size=None`` turns batching off (each sample is converted alone).
    ``shuffle=True`` draws a new order every epoch (from ``generator`` when
    given, else from the engine's generator seeded by ``mg.manual_seed``).
    ``drop_last`` drops a last, smaller batch. ``sampler`` (an iterable of
    indices, e.g. a ``RandomSampler``) or ``batch_sampler`` (an iterable of
    index lists) replace the built-in order. ``collate_fn`` turns a list of
    samples into a batch (default: :func:`default_collate`). A dataset with
    ``__getitems__(indices)`` gets each batch's indices in one call.
    ``num_workers > 0`` is emulated in this process (see the module's note).
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable | None = None, batch_sampler: Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if batch_sampler is None and batch_size is not None and (
                isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer)) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        _check_num_workers(num_workers)
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0:
            if prefetch_factor is not None:
                raise ValueError(f"DataLoader: the prefetch_factor option can only be used with worker loading "
                                 f"(num_workers > 0), but got num_workers=0 and prefetch_factor={prefetch_factor!r}")
            _start_method(multiprocessing_context, 0)
            if persistent_workers:
                raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        elif prefetch_factor is None:
            prefetch_factor = 2
        elif isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, (int, numpy.integer)) \
                or prefetch_factor <= 0:   # PyTorch: ValueError below 0, AssertionError at iter() for 0
            raise _AssertValueError(f"DataLoader: prefetch_factor option should be a positive int, got "
                                    f"{prefetch_factor!r}")
        iterable = isinstance(dataset, IterableDataset) or (not hasattr(dataset, "__getitem__")
                                                           and hasattr(dataset, "__iter__"))
        if iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with an IterableDataset: expected unspecified shuffle, sampler and "
                             "batch_sampler options (the stream decides its order)")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")
        if generator is not None:
            _check_generator(generator, "DataLoader")
        if iterable:   # PyTorch's placeholders: the stream decides the order, the batches are read from it
            sampler = _InfiniteConstantSampler()
        elif sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        batched = batch_size is not None or batch_sampler is not None
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, bool(drop_last)
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self._iterable, self._batched = iterable, batched
        self.collate_fn = collate_fn if collate_fn is not None else (default_collate if batched else default_convert)
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), pin_memory, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, bool(persistent_workers)
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self._workers: list[Worker] | None = None
        self._iterator: _LoaderIterator | None = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIXED and self.__dict__.get("_initialized"):
            raise ValueError(f"DataLoader: the {name} attribute should not be set after the DataLoader is "
                             "initialized (make a new DataLoader)")
        if name == "num_workers":
            _check_num_workers(value)
        elif name == "multiprocessing_context":   # checked at each assignment, as PyTorch's property
            value = _start_method(value, self.num_workers)
        super().__setattr__(name, value)

    # --- one pass ---------------------------------------------------------------------------------

    def __iter__(self) -> _LoaderIterator:
        if self.timeout and not self.num_workers:   # as PyTorch's single-process iterator
            raise _AssertValueError(f"DataLoader: timeout={self.timeout!r} needs num_workers > 0 (PyTorch's "
                                    "single-process loading requires timeout == 0)")
        workers = self._start_workers()
        if self.persistent_workers and self.num_workers:   # as PyTorch: one iterator, reset at each pass
            if self._iterator is None:
                self._iterator = _LoaderIterator(self, self._pass(workers))
            self._iterator._batches = self._pass(workers)
            return self._iterator
        return _LoaderIterator(self, self._pass(workers))

    def _fetch(self, dataset: Any, index: Any) -> Any:
        """The batch (or, unbatched, the sample) of ``dataset`` at ``index`` (a list of indices when batched)."""
        if not self._batched:
            return self.collate_fn(dataset[index])
        getitems = getattr(dataset, "__getitems__", None)
        samples = getitems(list(index)) if callable(getitems) else [dataset[i] for i in index]
        return self.collate_fn(samples)

    def _pass(self, workers: list[Worker]) -> Iterator[Any]:
        if self.num_workers:
            yield from (self._pass_stream(workers) if self._iterable else self._pass_map(workers))
            return
        if self._iterable:
            stream = iter(self.dataset)
            while True:
                batch = _fetched(self._next_of_stream, stream)
                if batch is None:
                    return
                yield batch if type(batch) is _Raised else batch[0]
        indices = self.batch_sampler if self.batch_sampler is not None else self.sampler
        for index in indices:
            yield _fetched(self._fetch, self.dataset, index)

    def _next_of_stream(self, stream: Iterator[Any]) -> Any:
        """The next batch (or sample) of an IterableDataset's ``stream``, or None at its end (a last short
        batch is None too under ``drop_last``), as PyTorch's fetcher."""
        if self.batch_size is None:
            try:
                return (self.collate_fn(next(stream)),)
            except StopIteration:
                return None
        samples = []
        for sample in stream:
            samples.append(sample)
            if len(samples) == self.batch_size:
                break
        if not samples or (self.drop_last and len(samples) < self.batch_size):
            return None
        return (self.collate_fn(samples),)

    def _start_workers(self) -> list[Worker]:
        """This pass's workers (none without ``num_workers``). As PyTorch, each pass draws a base seed for new
        workers from ``generator`` or the engine's stream, also when it has no workers, so a seeded shuffle gives
        the same order for any ``num_workers``; ``persistent_workers`` keep theirs (no draw after the first pass)."""
        if self.persistent_workers and self._workers is not None:
            return self._workers
        rng = _check_generator(self.generator, "DataLoader") or mg.random_generator("cpu")
        base_seed = int(rng.integers(0, 1 << 63))
        workers = [Worker(self.dataset, w, self.num_workers, base_seed, self.worker_init_fn)
                   for w in range(self.num_workers)]
        if self.persistent_workers:
            self._workers = workers
        return workers

    def _pass_map(self, workers: list[Worker]) -> Iterator[Any]:
        """Batch i is fetched by worker i mod num_workers (PyTorch's in-order round robin)."""
        for worker in workers:   # every worker starts (and runs worker_init_fn) before the first batch
            with worker.running():
                pass
        indices = self.batch_sampler if self.batch_sampler is not None else self.sampler
        for i, index in enumerate(indices):
            yield _fetched(self._fetch_in, workers[i % len(workers)], index)

    def _pass_stream(self, workers: list[Worker]) -> Iterator[Any]:
        """Each worker iterates its own copy of the stream; batches come round robin over the workers not
        yet exhausted, as PyTorch's."""
        streams = []
        for worker in workers:
            with worker.running():
                streams.append(iter(worker.info.dataset))
        active = list(range(len(workers)))
        while active:
            for w in list(active):
                batch = _fetched(self._next_in, workers[w], streams[w])
                if batch is None:
                    active.remove(w)
                    continue
                yield batch if type(batch) is _Raised else batch[0]

    def _fetch_in(self, worker: Worker, index: Any) -> Any:
        """:meth:`_fetch` of the batch at ``index`` by ``worker``."""
        with worker.running():
            return self._fetch(worker.info.dataset, index)

    def _next_in(self, worker: Worker, stream: Iterator[Any]) -> Any:
        """:meth:`_next_of_stream` of ``worker``'s ``stream``."""
        with worker.running():
            return self._next_of_stream(stream)

    def __len__(self) -> int:
        """Number of batches: ⌈N / batch_size⌉, or ⌊N / batch_size⌋ with ``drop_last``."""
        source = self.dataset if self._iterable else self.batch_sampler if self.batch_sampler is not None \
            else self.sampler
        if not hasattr(source, "__len__"):
            raise TypeError(f"DataLoader: the {'dataset' if self._iterable else 'sampler'} of type "
                            f"{type(source).__name__} has no len()")
        if self._iterable and self.batch_size is not None:
            return len(BatchSampler(range(len(source)), self.batch_size, self.drop_last))
        return len(source)
