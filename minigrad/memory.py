"""Memory helpers for code that records large graphs."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator

__all__ = ["gc_paused"]

_PAUSE = threading.Lock()
_open: dict = {}            # thread id -> gc_paused blocks open in that thread (none: the collector runs as before)
_was_enabled = [False]      # whether the collector ran before the first open block


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector inside the block (nestable; restores its state).

    Why: recording an unrolled graph allocates tens of thousands of objects (tensors, nodes,
    tuples), none of them in a reference cycle (reference counting frees them all), so the
    collector has nothing to find. Left running, every 700 allocations start a collection and
    every hundredth a full one, which walks every object the program holds, the growing graph
    included. The recurrent layers record their loop over time inside this block. Measured by
    ``python -m bench.gc_pause`` (bench/RESULTS.md): no difference on short sequences, 4–8 %
    of a training step at T = 1000, and 1.2–1.7× there when a large library (``import torch``)
    has filled the heap.

    Threads share the collector: the first block to open (in any thread) pauses it and the last to close
    restores it, under a lock (reading its state and pausing it apart let another thread's exit fall in
    between and leave it paused for good). A process forked meanwhile keeps only its forking thread's
    blocks (:func:`_after_fork`): the other threads, which would close theirs, are not copied into it.
    """
    thread = threading.get_ident()
    with _PAUSE:
        if not _open:
            _was_enabled[0] = gc.isenabled()
            gc.disable()
        _open[thread] = _open.get(thread, 0) + 1
    try:
        yield
    finally:
        with _PAUSE:
            _close(thread)


def _close(thread: int) -> None:
    """One block of ``thread`` closed (under ``_PAUSE``): the last one open anywhere restores the collector."""
    if _open[thread] > 1:
        _open[thread] -= 1
    else:
        del _open[thread]
        if not _open and _was_enabled[0]:
            gc.enable()


def _after_fork() -> None:
    """In a forked child: only the forking thread runs on, so only its blocks stay open (the collector runs again
    if it has none); the lock is new, as another thread may have held it at the fork."""
    global _PAUSE
    _PAUSE = threading.Lock()
    mine = _open.get(threading.get_ident())
    _open.clear()
    if mine:
        _open[threading.get_ident()] = mine
    elif _was_enabled[0]:
        gc.enable()


if hasattr(os, "register_at_fork"):   # (not on Windows, which does not fork)
    os.register_at_fork(after_in_child=_after_fork)
