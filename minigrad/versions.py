"""Version counters for in-place ops: backward refuses a saved array that changed after it was saved."""

from __future__ import annotations

import threading
import weakref
from typing import Any


def memory_owner(array: Any) -> Any:
    """The array that owns ``array``'s memory: its ``.base`` for a view (NumPy and CuPy keep the owner there), or
    the owner of the array behind the holder object of a ``numpy.lib.stride_tricks.as_strided`` view (also for a
    view of such a view, whose ``.base`` is the as_strided array: ``x.unfold(1, 2, 2).diagonal()``), at any depth
    (a loop)."""
    while True:
        base = getattr(array, "base", None)
        if base is None:
            return array
        if hasattr(base, "shape"):   # a view of an array: that array, unless it is a view itself
            nested = getattr(base, "base", None)
            if nested is None or nested is base:   # (a GPU array may be its own)
                return base
            array = base
        else:   # NumPy's as_strided (unfold's windows) holds its array through an object
            held = getattr(base, "base", None)
            if not hasattr(held, "shape"):
                return array
            array = held


class InplaceLog:
    """Which arrays in-place ops changed, and when: the version counters behind backward's check.

    Kept per memory owner (a view's ``.base``), not per Tensor, so a view, a
    ``detach()``-ed copy and the tensor itself share one counter, as in
    PyTorch. A recorded op notes the current ``epoch`` (one store); backward
    looks further only when an in-place op ran since (``epoch`` moved on), so
    graphs built without in-place ops pay nothing more. Entries die with
    their array (weak references, swept as the log grows).
    """

    __slots__ = ("epoch", "entries", "_sweep_at", "_lock", "_thread", "detached", "_detached_sweep_at")

    def __init__(self) -> None:
        self.epoch = 0
        self.entries: dict = {}   # id(owner) -> [weakref to owner, version, epochs of the last changes]
        self._sweep_at = 1024
        # in-place ops are rare next to recorded ones, so a lock costs nothing that matters; without it two
        # threads could lose an entry while one rebuilds the dict in a sweep, and a later check would miss it
        self._lock = threading.Lock()
        self._thread = threading.local()   # .changes: the in-place changes this thread made (see thread_changes)
        self.detached: dict = {}   # id(array) -> (weakref to it, epoch): arrays of non-leaves detach_()-ed
        self._detached_sweep_at = 1024

    def _entry(self, array: Any) -> list | None:
        owner = memory_owner(array)
        entry = self.entries.get(id(owner))
        return entry if entry is not None and entry[0]() is owner else None

    def _new_entry(self, array: Any, version: int, epochs: list) -> list:
        """A new entry for ``array``'s memory owner (call with the lock held): the dead entries are swept first
        once the log has doubled since the last sweep (at least 1,024), so a sweep costs O(1) per entry made."""
        if len(self.entries) >= self._sweep_at:
            self.entries = {k: e for k, e in self.entries.items() if e[0]() is not None}
            self._sweep_at = max(1024, 2 * len(self.entries))
        owner = memory_owner(array)
        entry = self.entries[id(owner)] = [weakref.ref(owner), version, epochs]
        return entry

    def bump(self, array: Any) -> None:
        with self._lock:
            self.epoch += 1
            entry = self._entry(array)
            if entry is None:
                entry = self._new_entry(array, 0, [])
            entry[1] += 1
            entry[2] = [*entry[2][-15:], self.epoch]
        mine = self._thread
        mine.changes = getattr(mine, "changes", 0) + 1

    def detach(self, array: Any, producer: Any = None) -> None:
        """``x.detach_()`` on a non-leaf: a backward through an op that saved this very array as an input (not a
        view of it, which is another tensor in PyTorch) raises, as PyTorch's does for a saved tensor detached in
        place. The op that made it (``producer``, a node) may have saved it as its output, which PyTorch still
        reads (``e = x.exp(); f = (e * 3).sum(); e.detach_(); f.backward()`` works): that node keeps a new view
        object of the same memory instead (in ``saved``, or an attribute such as prod's ``result``), so the check,
        which goes by object, passes it while a later in-place write is still caught (same memory owner)."""
        for name, value in list(vars(producer).items()) if producer is not None else ():
            if value is array:
                setattr(producer, name, array.view())
            elif type(value) is tuple and any(item is array for item in value):
                setattr(producer, name, tuple(array.view() if item is array else item for item in value))
        with self._lock:
            self.epoch += 1   # recorded nodes look again (the walks skip the check while the epoch stays)
            if len(self.detached) >= self._detached_sweep_at:   # doubling, as the entries' sweep
                self.detached = {k: e for k, e in self.detached.items() if e[0]() is not None}
                self._detached_sweep_at = max(1024, 2 * len(self.detached))
            self.detached[id(array)] = (weakref.ref(array), self.epoch)

    def thread_changes(self) -> int:
        """How many in-place changes the calling thread has made: ``mg.compile`` compares it around a capture,
        so another thread's in-place ops (an optimizer step) do not make the captured function run eagerly."""
        return getattr(self._thread, "changes", 0)

    def version(self, array: Any) -> int:
        entry = self._entry(array)
        return 0 if entry is None else entry[1]

    def set_version(self, array: Any, version: int) -> None:
        """Make ``array``'s counter read ``version`` without an in-place change: no epoch moves, so no saved
        array counts as changed (``mg.compile``: a replayed output that eager wrote in place while recording,
        which the replay computed into a new array instead)."""
        with self._lock:
            entry = self._entry(array)
            if entry is not None:
                entry[1] = version
            else:
                self._new_entry(array, version, [0])   # epoch 0: before every node's

    def changed_since(self, array: Any, epoch: int) -> tuple[int, int] | None:
        """``(version now, version at epoch)`` if an in-place op changed ``array`` after ``epoch``, else None."""
        entry = self._entry(array)
        if entry is None or entry[2][-1] <= epoch:
            return None
        later = sum(1 for e in entry[2] if e > epoch)   # the last 16 changes are kept: exact for the usual cases
        return entry[1], entry[1] - later

    def refuse_changed(self, saved: Any, epoch: int, where: str) -> None:
        """Raise if an in-place op changed one of the ``saved`` arrays after ``epoch``.

        ``saved`` is a node's saved arrays; nested tuples, lists and dicts are
        searched too (a replayed ``mg.compile`` node keeps one entry per op).
        """
        stack = [saved]
        while stack:
            item = stack.pop()
            if type(item) in (tuple, list, dict):
                stack.extend(item.values() if type(item) is dict else item)
                continue
            if not (hasattr(item, "dtype") and hasattr(item, "base")):
                continue
            changed = self.changed_since(item, epoch)
            detached = self.detached.get(id(item)) if self.detached else None
            if detached is not None and detached[0]() is item and detached[1] > epoch:
                raise RuntimeError(
                    f"backward: trying to use a saved tensor that has been detached in-place, i.e. with "
                    f".detach_(): the {item.dtype}{tuple(item.shape)} array saved by op {where}. This is not "
                    "supported; use the out-of-place .detach() instead.")
            if changed is not None:
                raise RuntimeError(
                    f"backward: one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: the {item.dtype}{tuple(item.shape)} array saved by op {where} is at "
                    f"version {changed[0]}; expected version {changed[1]} instead. Change it out of place "
                    "(e.g. x = x + 1 instead of x += 1), or .clone() it before the in-place op."
                )


INPLACE = InplaceLog()
