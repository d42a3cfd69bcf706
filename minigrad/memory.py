"""Memory helpers for code that records large graphs."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["gc_paused"]

_PAUSE = threading.Lock()
_paused = [0, False]   # [blocks open in any thread, whether the collector ran before the first of them]


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
    between and leave it paused for good).
    """
    with _PAUSE:
        if _paused[0] == 0:
            _paused[1] = gc.isenabled()
            gc.disable()
        _paused[0] += 1
    try:
        yield
    finally:
        with _PAUSE:
            _paused[0] -= 1
            if _paused[0] == 0 and _paused[1]:
                gc.enable()
