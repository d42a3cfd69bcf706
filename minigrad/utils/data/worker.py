"""DataLoader workers, emulated in the calling process: ``get_worker_info()`` and each worker's own state.

PyTorch runs ``num_workers`` processes; minigrad runs their work one batch at a time in the calling
thread, in the order PyTorch's loader yields it, and keeps for each worker what a process would own:
a copy of the dataset (``get_worker_info().dataset``, a shallow copy: arrays are shared), its own
host random stream (``mg.rand``, ``mg.manual_seed`` and ``mg.initial_seed()`` inside the worker use
a generator seeded ``base_seed + id``; the caller's stream never moves, as with worker processes),
and one call of ``worker_init_fn(id)`` before its first batch. An exception in a worker's code is re-raised as
PyTorch re-raises it in the main process: the same class, "Caught KeyError in DataLoader worker process 1."
followed by the original traceback.

Unlike processes, Python's ``random`` and NumPy's global ``numpy.random`` are the caller's, shared by
every worker (so seeding them in ``worker_init_fn`` seeds the caller's); per-worker copies of their
state would cost a tenth of a millisecond per batch. Draw from ``mg``'s functions, or from a
``numpy.random.default_rng(get_worker_info().seed)`` made in ``worker_init_fn``, for per-worker streams.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy

from minigrad import generators

__all__ = ["WorkerInfo", "get_worker_info"]

_local = threading.local()


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its ``id`` (0 … num_workers - 1), ``num_workers``,
    its ``seed`` (base seed + id) and ``dataset``, the worker's own (shallow) copy of the dataset; ``rng`` (None)
    and ``worker_method`` ("multiprocessing": the workers stand for processes) as PyTorch's fields."""

    id: int
    num_workers: int
    seed: int
    dataset: Any
    rng: Any = None
    worker_method: str | None = "multiprocessing"


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the DataLoader worker running now, or None outside a worker (as PyTorch's,
    so an IterableDataset can shard its stream by ``info.id`` / ``info.num_workers``)."""
    return getattr(_local, "info", None)


def _own_copy(dataset: Any) -> Any:
    """A shallow copy (what a worker process would hold; arrays shared), or the dataset itself if it cannot be
    copied."""
    try:
        return copy.copy(dataset)
    except (TypeError, copy.Error):
        return dataset


class Worker:
    """One emulated worker: its WorkerInfo, dataset copy and random streams; ``with worker.running():`` runs
    code as that worker would."""

    def __init__(self, dataset: Any, worker_id: int, num_workers: int, base_seed: int,
                 init_fn: Callable[[int], Any] | None) -> None:
        seed = base_seed + worker_id
        self.info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=_own_copy(dataset))
        self.stream, self.seed = numpy.random.default_rng(seed % (1 << 64)), seed % (1 << 64)
        self._init_fn, self._started = init_fn, False

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """This worker's host stream and WorkerInfo inside the block; the caller's back afterwards."""
        outer_info = get_worker_info()
        _local.info = self.info
        try:
            with generators.worker_stream(self):
                try:
                    if not self._started:   # PyTorch calls worker_init_fn(id) first thing in the worker
                        self._started = True
                        if self._init_fn is not None:
                            self._init_fn(self.info.id)
                    yield
                except Exception as error:   # noqa: BLE001 - re-raised as PyTorch's main process does
                    raise _caught_in_worker(error, self.info.id) from error
        finally:
            _local.info = outer_info


class _KeyErrorMessage(str):
    """A KeyError's message shown as written (a KeyError's str is otherwise its repr), as PyTorch's."""

    def __repr__(self) -> str:
        return self


def _caught_in_worker(error: Exception, worker_id: int) -> Exception:
    """``error`` as PyTorch's main process re-raises a worker's: the same class, its message naming the worker
    and holding the original traceback (a RuntimeError where the class cannot be made from a message)."""
    message = (f"Caught {type(error).__name__} in DataLoader worker process {worker_id}.\nOriginal "
               f"{''.join(traceback.format_exception(error))}")
    if isinstance(error, KeyError):
        message = _KeyErrorMessage(message)
    try:
        return type(error)(message)
    except Exception:   # noqa: BLE001 - a class that needs other arguments
        return RuntimeError(message)
