"""``minigrad.multiprocessing``: PyTorch's ``torch.multiprocessing``, Python's ``multiprocessing`` with tensors
that travel through shared memory.

Everything of ``multiprocessing`` is here under its own name (``Process``, ``Queue``, ``SimpleQueue``, ``Pool``,
``Manager``, ``Event``, ``Lock``, ``Value``, ``Array``, ``get_context``, ``set_start_method``, ``cpu_count``,
``current_process`` …), plus ``spawn``/``start_processes`` and the sharing-strategy functions.

How tensors are shared (see ``reductions``):

* ``tensor.share_memory_()`` / ``module.share_memory()`` move host arrays into shared memory; a process forked
  after that (the "fork" start method: Hogwild's and A3C's workers) updates the same numbers as the parent.
* A tensor that ``multiprocessing`` pickles (a ``Queue``/``Pipe``/``Pool`` message, a ``Process``'s arguments
  under "spawn"/"forkserver") crosses as a handle to its shared memory, moved there first if it was not: the
  receiver's tensor and the sender's share their numbers, as PyTorch's. Exceptions: a view of another tensor
  crosses as a shared copy (the sender's view keeps aliasing its base), a GPU tensor and a non-leaf tensor that
  requires grad raise. The gradient does not cross (PyTorch's rule). The sender must be alive when the receiver
  takes the tensor (its descriptor is passed on demand).
* Sharing strategies: minigrad has one mechanism, a memory file per shared array passed by file descriptor
  (``os.memfd_create`` on Linux, an unlinked file elsewhere; it holds two descriptors per shared array, so a
  process sharing thousands of tensors may need a higher ``ulimit -n``). PyTorch's names
  ``"file_descriptor"`` and ``"file_system"`` are both accepted and both give that mechanism.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403 - torch.multiprocessing is the whole of multiprocessing

from ..tensor import Tensor
from .reductions import register
from .spawn import (
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    SpawnContext,
    spawn,
    start_processes,
)

_ALL_SHARING_STRATEGIES = {"file_descriptor", "file_system"}
_sharing_strategy = "file_descriptor"


def set_sharing_strategy(new_strategy: str) -> None:
    """Record PyTorch's sharing strategy ``new_strategy`` ("file_descriptor" or "file_system"); both give
    minigrad's one mechanism (a memory file passed by descriptor: see the module docstring)."""
    global _sharing_strategy
    if new_strategy not in _ALL_SHARING_STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, expected one of {_ALL_SHARING_STRATEGIES}")
    _sharing_strategy = new_strategy


def get_sharing_strategy() -> str:
    """The sharing strategy last set (default "file_descriptor", what minigrad does whatever the setting)."""
    return _sharing_strategy


def get_all_sharing_strategies() -> set[str]:
    """The strategy names accepted: {"file_descriptor", "file_system"} (one mechanism behind both)."""
    return set(_ALL_SHARING_STRATEGIES)


register(Tensor)   # and the subclasses defined so far; share_memory_ registers those defined later

__all__ = [*multiprocessing.__all__, "ProcessContext", "ProcessException", "ProcessExitedException",
           "ProcessRaisedException", "SpawnContext", "spawn", "start_processes", "set_sharing_strategy",
           "get_sharing_strategy", "get_all_sharing_strategies"]
