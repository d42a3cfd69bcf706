"""``mg.cuda``'s memory statistics, PyTorch's ``torch.cuda.max_memory_allocated`` and its family, read from CuPy's
memory pool (``cupy.get_default_memory_pool()``), one per GPU.

    mg.cuda.reset_peak_memory_stats()
    train_one_epoch()
    print(mg.cuda.max_memory_allocated() / 2**20, "MiB at most")

*Allocated* bytes are the pool's bytes held by arrays (``memory_allocated``: CuPy's ``used_bytes``), *reserved*
bytes those the pool holds from the driver, in use or cached (``memory_reserved``: ``total_bytes``). CuPy keeps no
peaks, so the first call of a statistic here (``reset_peak_memory_stats``, ``max_memory_allocated``,
``memory_stats`` …) wraps CuPy's allocator: from then on every allocation updates the peaks (a Python call more per
allocation, which programs that never ask do not pay). The peak of allocated bytes counts from that first call (call
``reset_peak_memory_stats()`` before the work to measure, as usual); the reserved bytes' peak is exact in any case,
as the pool only grows between ``empty_cache`` calls, which record it first.

Without CuPy (or a GPU) the statistics are 0 and ``memory_stats`` is empty, as PyTorch's CPU-only build answers;
``reset_peak_memory_stats`` does nothing (PyTorch's CPU build raises AttributeError from its C extension).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

from . import backend
from .cuda_devices import cupy_or_error, gpu_index

_lock = threading.RLock()   # (re-entered when an allocation's __del__ runs inside an update)
_stats: dict[int, list[int]] = {}   # GPU index -> [allocated, allocated peak, reserved peak, ooms]
_ALLOCATED, _PEAK, _RESERVED_PEAK, _OOMS = range(4)
_tracking: list[Any] = [None]   # the allocator our wrapper calls, once installed


def _device_stats(index: int) -> list[int]:
    stats = _stats.get(index)
    if stats is None:
        stats = _stats[index] = [0, 0, 0, 0]
    return stats


class _Allocation:
    """The owner of one tracked allocation: keeps CuPy's pointer (so the pool's block stays in use) and takes its
    bytes off the GPU's count when the last array using it is freed."""

    __slots__ = ("pointer", "index", "nbytes")

    def __init__(self, pointer: Any, index: int, nbytes: int) -> None:
        self.pointer, self.index, self.nbytes = pointer, index, nbytes

    def __del__(self) -> None:
        try:
            with _lock:
                _device_stats(self.index)[_ALLOCATED] -= self.nbytes
        except Exception:  # noqa: BLE001, S110 - at interpreter exit this module's globals may be gone already
            pass


def _track(cp: Any) -> None:
    """Wrap CuPy's allocator (once) so that each allocation updates its GPU's allocated bytes and both peaks."""
    if _tracking[0] is not None:
        return
    inner = _tracking[0] = cp.cuda.get_allocator()
    pool = cp.get_default_memory_pool()
    out_of_memory = cp.cuda.memory.OutOfMemoryError
    unowned, pointer_type = cp.cuda.UnownedMemory, cp.cuda.MemoryPointer

    def malloc(size: int) -> Any:
        try:
            pointer = inner(size)
        except out_of_memory:
            with _lock:
                _device_stats(int(cp.cuda.Device().id))[_OOMS] += 1
            raise
        nbytes = int(pointer.mem.size)
        if not nbytes:
            return pointer
        index = int(pointer.device_id)
        with _lock:
            stats = _device_stats(index)
            stats[_ALLOCATED] += nbytes
            stats[_PEAK] = max(stats[_PEAK], stats[_ALLOCATED])
            stats[_RESERVED_PEAK] = max(stats[_RESERVED_PEAK], int(pool.total_bytes()))
        owner = _Allocation(pointer, index, nbytes)
        return pointer_type(unowned(pointer.ptr, nbytes, owner, index), 0)

    for index in range(cp.cuda.runtime.getDeviceCount()):   # what is in use now: the counts' start
        with cp.cuda.Device(index):
            _resync(cp, index, peaks=True)
    cp.cuda.set_allocator(malloc)


def _resync(cp: Any, index: int, peaks: bool) -> list[int]:
    """GPU ``index``'s statistics with the allocated bytes read from the pool (exact: blocks allocated before the
    tracking began and freed since are not seen as they are freed); ``peaks``: the peaks restart from now. Call it
    with GPU ``index`` current."""
    pool = cp.get_default_memory_pool()
    used, reserved = int(pool.used_bytes()), int(pool.total_bytes())
    with _lock:
        stats = _device_stats(index)
        stats[_ALLOCATED] = used
        stats[_PEAK] = used if peaks else max(stats[_PEAK], used)
        stats[_RESERVED_PEAK] = reserved if peaks else max(stats[_RESERVED_PEAK], reserved)
        return list(stats)


def _read(device: Any, what: str, reset: bool = False) -> tuple[list[int], int] | None:
    """GPU ``device``'s statistics and reserved bytes (tracking started first), None without CuPy."""
    cp = backend.cupy_module(required=False)
    if cp is None:
        return None
    index = gpu_index(device, what)
    _track(cp)
    with cp.cuda.Device(index):
        stats = _resync(cp, index, peaks=reset)
        return stats, int(cp.get_default_memory_pool().total_bytes())


def max_memory_allocated(device: Any = None) -> int:
    """The most bytes of GPU ``device``'s memory held by tensors at once since the first memory statistic was asked
    for or the last :func:`reset_peak_memory_stats` (None: the current GPU), as ``torch.cuda.max_memory_allocated``;
    0 without CuPy."""
    read = _read(device, "max_memory_allocated")
    return 0 if read is None else read[0][_PEAK]


def max_memory_reserved(device: Any = None) -> int:
    """The most bytes CuPy's pool held from GPU ``device`` at once since the last :func:`reset_peak_memory_stats`
    (or the start), as ``torch.cuda.max_memory_reserved``; 0 without CuPy."""
    read = _read(device, "max_memory_reserved")
    return 0 if read is None else read[0][_RESERVED_PEAK]


def reset_peak_memory_stats(device: Any = None) -> None:
    """Restart GPU ``device``'s peaks (allocated and reserved) from what is held now, as
    ``torch.cuda.reset_peak_memory_stats``; nothing to do without CuPy."""
    _read(device, "reset_peak_memory_stats", reset=True)


def reset_max_memory_allocated(device: Any = None) -> None:
    """PyTorch's older name: it resets every peak, as :func:`reset_peak_memory_stats` (PyTorch warns so)."""
    reset_peak_memory_stats(device)


def reset_accumulated_memory_stats(device: Any = None) -> None:
    """Zero GPU ``device``'s counts that only grow (``num_ooms``), as ``torch.cuda.reset_accumulated_memory_stats``."""
    if _read(device, "reset_accumulated_memory_stats") is not None:
        with _lock:
            _device_stats(gpu_index(device, "reset_accumulated_memory_stats"))[_OOMS] = 0


def memory_stats(device: Any = None) -> dict[str, int]:
    """GPU ``device``'s statistics under PyTorch's keys (sorted, in an OrderedDict, as
    ``torch.cuda.memory_stats``): ``allocated_bytes.all.current``/``.peak``, ``reserved_bytes.all.current``/
    ``.peak`` and ``num_ooms`` (out-of-memory errors CuPy's allocator raised since tracking began). PyTorch's other
    keys (per-pool splits, allocation counts, retries) have no CuPy counterpart and are left out. Empty without
    CuPy, as PyTorch's CPU build."""
    read = _read(device, "memory_stats")
    if read is None:
        return collections.OrderedDict()
    stats, reserved = read
    return collections.OrderedDict(sorted({
        "allocated_bytes.all.current": stats[_ALLOCATED], "allocated_bytes.all.peak": stats[_PEAK],
        "reserved_bytes.all.current": reserved, "reserved_bytes.all.peak": stats[_RESERVED_PEAK],
        "num_ooms": stats[_OOMS]}.items()))


def memory_summary(device: Any = None, abbreviated: bool = False) -> str:
    """A printable table of :func:`memory_stats` (current and peak, in MiB), as ``torch.cuda.memory_summary``'s
    role (its layout is PyTorch's allocator's; this one has CuPy's pool's rows)."""
    stats = memory_stats(device)
    if not stats:
        return "minigrad CUDA memory summary: no GPU (CuPy is not available)\n"
    rows = [f"minigrad CUDA memory summary, device {device if device is not None else 'current'} (CuPy's pool)",
            f"{'':<20}{'current':>14}{'peak':>14}"]
    for label, key in (("Allocated memory", "allocated_bytes"), ("Reserved memory", "reserved_bytes")):
        rows.append(f"{label:<20}{stats[key + '.all.current'] / 2**20:>11.2f} MiB"
                    f"{stats[key + '.all.peak'] / 2**20:>11.2f} MiB")
    rows.append(f"{'Out-of-memory errors':<20}{stats['num_ooms']:>14}")
    return "\n".join(rows) + "\n"


def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
    """Cap CuPy's pool on GPU ``device`` at ``fraction`` (0 to 1) of its memory, as
    ``torch.cuda.set_per_process_memory_fraction``: an allocation beyond it raises ``mg.cuda.OutOfMemoryError``.
    Without a GPU: RuntimeError, as PyTorch's."""
    index = gpu_index(device, "set_per_process_memory_fraction")
    if not isinstance(fraction, float):
        raise TypeError("set_per_process_memory_fraction: invalid type for fraction argument, must be `float`, got "
                        f"{type(fraction).__name__}")
    if not 0 <= fraction <= 1:
        raise ValueError(f"set_per_process_memory_fraction: invalid fraction value: {fraction}. Allowed range: 0~1")
    cp = cupy_or_error("set_per_process_memory_fraction")
    with cp.cuda.Device(index):
        cp.get_default_memory_pool().set_limit(fraction=fraction)


def get_per_process_memory_fraction(device: Any = None) -> float:
    """The fraction of GPU ``device``'s memory CuPy's pool may hold (1.0 without a cap), as
    ``torch.cuda.get_per_process_memory_fraction``. Without a GPU: RuntimeError, as PyTorch's."""
    index = gpu_index(device, "get_per_process_memory_fraction")
    cp = cupy_or_error("get_per_process_memory_fraction")
    with cp.cuda.Device(index):
        limit = int(cp.get_default_memory_pool().get_limit())
        total = int(cp.cuda.runtime.memGetInfo()[1])
    return 1.0 if limit == 0 or limit >= total else limit / total


def record_reserved_peak(cp: Any) -> None:
    """Before ``empty_cache`` hands cached blocks back: the current GPU's reserved bytes now, kept as a peak."""
    with _lock:
        stats = _device_stats(int(cp.cuda.Device().id))
        stats[_RESERVED_PEAK] = max(stats[_RESERVED_PEAK], int(cp.get_default_memory_pool().total_bytes()))
