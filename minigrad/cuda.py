"""``mg.cuda``: is a GPU usable, how many, which one (``device``), what it is (``get_device_properties``,
``get_device_capability``, ``mem_get_info``), wait for it, seed it and save its random state (``get_rng_state``),
free its cache, its memory statistics (``max_memory_allocated`` …: :mod:`minigrad.cuda_memory`); no bfloat16;
the legacy GPU tensor types (``mg.cuda.FloatTensor``); streams and events (CuPy's, as ``torch.cuda.Stream`` /
``torch.cuda.Event``: timing a block with two events is the usual use)."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy

from . import backend, generators
from . import cuda_nvtx as nvtx  # noqa: F401 - torch.cuda.nvtx
from . import tensor as _tensor  # (not Tensor: dir(mg.cuda) lists only the legacy *Tensor types)
from .amp import cuda_amp as amp  # noqa: F401 - PyTorch's older spelling: torch.cuda.amp.GradScaler / autocast
from .backend import cuda_device_count, cuda_is_available, cuda_synchronize
from .cuda_devices import cupy_or_error as _cupy
from .cuda_devices import current_device
from .cuda_devices import device_index as _device_index
from .cuda_devices import gpu_index as _gpu_index
from .cuda_memory import (  # noqa: F401 - PyTorch's torch.cuda.memory names
    get_per_process_memory_fraction,
    max_memory_allocated,
    max_memory_reserved,
    memory_stats,
    memory_summary,
    record_reserved_peak,
    reset_accumulated_memory_stats,
    reset_max_memory_allocated,
    reset_peak_memory_stats,
    set_per_process_memory_fraction,
)
from .legacy import CUDA_BY_NAME
from .recording import note_seed

# PyTorch's legacy GPU tensor types: mg.cuda.FloatTensor([1, 2]) is a float32 tensor on the GPU;
# x.type(mg.cuda.FloatTensor) moves and casts; isinstance(x, mg.cuda.FloatTensor) tests dtype and device
FloatTensor, DoubleTensor, HalfTensor = CUDA_BY_NAME["FloatTensor"], CUDA_BY_NAME["DoubleTensor"], \
    CUDA_BY_NAME["HalfTensor"]
LongTensor, IntTensor, ShortTensor = CUDA_BY_NAME["LongTensor"], CUDA_BY_NAME["IntTensor"], CUDA_BY_NAME["ShortTensor"]
CharTensor, ByteTensor, BoolTensor = CUDA_BY_NAME["CharTensor"], CUDA_BY_NAME["ByteTensor"], CUDA_BY_NAME["BoolTensor"]


def is_available() -> bool:
    """True when CuPy imports and at least one GPU is visible."""
    return cuda_is_available()


def device_count() -> int:
    """Number of visible GPUs (0 without CuPy)."""
    return cuda_device_count()


def synchronize(device: Any = None) -> None:
    """Wait for all queued GPU work (no-op without CuPy)."""
    cuda_synchronize()


def set_device(device: Any) -> None:
    """Make GPU ``device`` (an index, ``"cuda:1"`` or an ``mg.device``) the current one."""
    index = device if isinstance(device, int) else backend.resolve_device(device).index or 0
    backend.cupy_module().cuda.Device(index).use()


def get_device_name(device: Any = None) -> str:
    """The GPU's name, e.g. ``"NVIDIA H100 80GB HBM3"``."""
    cp = backend.cupy_module()
    index = current_device() if device is None else (device if isinstance(device, int)
                                                     else backend.resolve_device(device).index or 0)
    name = cp.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: minigrad has no bfloat16 (NumPy and CuPy have no such dtype), so a script's
    ``'bfloat16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'float16'`` picks float16."""
    return False


def manual_seed(seed: int) -> None:
    """Seed the GPUs' generators (without CuPy: nothing to seed, as PyTorch's call is silent without CUDA)."""
    generators.seed_cuda(seed)


manual_seed_all = manual_seed   # minigrad seeds every GPU at once


def empty_cache() -> None:
    """Hand CuPy's cached, unused GPU memory back to the driver (no-op without CuPy)."""
    cp = backend.cupy_module(required=False)
    if cp is not None:
        record_reserved_peak(cp)   # (the pool only shrinks here: max_memory_reserved stays exact)
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()


class _CudaDeviceProperties:
    """``torch.cuda.get_device_properties``'s answer: the GPU's name, compute capability (``major``, ``minor``),
    ``total_memory`` (bytes), ``multi_processor_count`` and the rest of CUDA's ``cudaDeviceProp`` that
    PyTorch names, read from CuPy's ``runtime.getDeviceProperties``."""

    _FIELDS = {"name": "name", "major": "major", "minor": "minor", "total_memory": "totalGlobalMem",
               "multi_processor_count": "multiProcessorCount", "is_integrated": "integrated",
               "is_multi_gpu_board": "isMultiGpuBoard",
               "max_threads_per_multi_processor": "maxThreadsPerMultiProcessor",
               "warp_size": "warpSize", "L2_cache_size": "l2CacheSize", "clock_rate": "clockRate",
               "memory_clock_rate": "memoryClockRate", "memory_bus_width": "memoryBusWidth",
               "regs_per_multiprocessor": "regsPerMultiprocessor", "shared_memory_per_block": "sharedMemPerBlock",
               "shared_memory_per_block_optin": "sharedMemPerBlockOptin",
               "shared_memory_per_multiprocessor": "sharedMemPerMultiprocessor", "pci_bus_id": "pciBusID",
               "pci_device_id": "pciDeviceID", "pci_domain_id": "pciDomainID", "uuid": "uuid"}

    def __init__(self, properties: dict) -> None:
        for field, key in self._FIELDS.items():
            value = properties.get(key)
            if isinstance(value, bytes):
                value = value.decode(errors="replace") if field == "name" else value.hex()
            setattr(self, field, bool(value) if field.startswith("is_") and value is not None else value)

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={(self.total_memory or 0) // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count}, L2_cache_size="
                f"{(self.L2_cache_size or 0) // (1024 * 1024)}MB)")


def get_device_properties(device: Any = None) -> _CudaDeviceProperties:
    """GPU ``device``'s properties (None: the current GPU), as ``torch.cuda.get_device_properties``:
    ``.name``, ``.major``/``.minor``, ``.total_memory`` (bytes), ``.multi_processor_count`` …"""
    index = _gpu_index(device, "get_device_properties")
    return _CudaDeviceProperties(_cupy("get_device_properties").cuda.runtime.getDeviceProperties(index))


def get_device_capability(device: Any = None) -> tuple[int, int]:
    """GPU ``device``'s compute capability ``(major, minor)`` (``(8, 0)`` for an A100), as PyTorch's."""
    properties = get_device_properties(device)
    return int(properties.major), int(properties.minor)


def mem_get_info(device: Any = None) -> tuple[int, int]:
    """``(free, total)`` bytes of GPU ``device``'s memory, as the driver reports them (CUDA's
    ``cudaMemGetInfo``), as ``torch.cuda.mem_get_info``."""
    index = _gpu_index(device, "mem_get_info")
    cp = _cupy("mem_get_info")
    with cp.cuda.Device(index):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)


class device:  # noqa: N801 - PyTorch's name
    """``with mg.cuda.device(1):`` makes GPU 1 the current one inside the block, as ``torch.cuda.device``
    (an index, ``"cuda:1"`` or an ``mg.device``; None or a negative index: a block that changes nothing)."""

    def __init__(self, device: Any) -> None:
        self.idx = -1 if device is None or (isinstance(device, int) and device < 0) else \
            _device_index(device, "device")
        self._gpu: Any = None

    def __enter__(self) -> device:
        if self.idx >= 0:
            self._gpu = _cupy("device").cuda.Device(self.idx)
            self._gpu.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._gpu is not None:
            gpu, self._gpu = self._gpu, None
            gpu.__exit__(*exc)


def device_of(obj: Any) -> device:
    """``with mg.cuda.device_of(x):``: the GPU of tensor ``x`` is the current one inside (a CPU tensor: no change),
    as ``torch.cuda.device_of``."""
    placed = obj.device
    return device((placed.index or 0) if placed.type == "cuda" else -1)


def is_initialized() -> bool:
    """Whether the GPU side was set up (CuPy loaded and a GPU seen), as ``torch.cuda.is_initialized``."""
    return bool(backend._cupy)


def init() -> None:
    """Set up the GPU side now (load CuPy); raises RuntimeError without a GPU, as PyTorch's."""
    _cupy("init")


def seed() -> None:
    """Seed the GPUs' generators from a fresh nondeterministic number, as ``torch.cuda.seed`` (minigrad seeds every
    GPU at once, so this is also ``seed_all``)."""
    generators.seed_cuda(int(numpy.random.SeedSequence().entropy % (1 << 63)))


seed_all = seed


# --- the GPUs' random state (torch.cuda.get_rng_state & co.) ---
# CuPy cannot export a generator's state (cuRAND keeps it on the GPU), so a state is a seed: get_rng_state draws a
# new seed from the GPU's stream, restarts the stream from it and returns it; set_rng_state restarts from it. The
# draws after set_rng_state(state) repeat those after the get_rng_state() that made state, and a seeded run gives the
# same states; unlike PyTorch's, reading the state moves the stream on (to the restarted one).

def get_rng_state(device: Any = "cuda") -> Any:
    """GPU ``device``'s random state (``"cuda"``: the current GPU) as a uint8 tensor on the CPU, for
    :func:`set_rng_state`, as ``torch.cuda.get_rng_state`` (see above: the state is a seed the stream restarts
    from). Without a GPU: RuntimeError, as PyTorch's."""
    index = _gpu_index(device, "get_rng_state")
    cp = _cupy("get_rng_state")
    note_seed("mg.cuda.get_rng_state")   # inside mg.compile: runs eagerly (it restarts the stream)
    with cp.cuda.Device(index):
        stream = generators.generator(backend.Device(f"cuda:{index}"))   # (applies a seed set before CuPy loaded)
        return generators.restart_gpu_stream(cp, stream, stream.seed)


def set_rng_state(new_state: Any, device: Any = "cuda") -> None:
    """Restart GPU ``device``'s random stream from ``new_state`` (what :func:`get_rng_state` returned), as
    ``torch.cuda.set_rng_state``. Without a GPU a tensor is taken and nothing happens, as PyTorch's (which queues
    the call for a CUDA that never starts); another object raises TypeError."""
    if backend.cupy_module(required=False) is None:
        if not isinstance(new_state, _tensor.Tensor):
            raise TypeError(f"cuda.set_rng_state: new_state must be a Tensor, got {type(new_state).__name__}")
        return
    seed_ = generators.gpu_state_seed(new_state, "cuda.set_rng_state", "mg.cuda.get_rng_state()")
    index = _gpu_index(device, "set_rng_state")
    cp = _cupy("set_rng_state")
    note_seed("mg.cuda.set_rng_state")
    with cp.cuda.Device(index):
        generators.generator(backend.Device(f"cuda:{index}")).seed(seed_)


def get_rng_state_all() -> list:
    """Every GPU's random state (:func:`get_rng_state`), a list by GPU index; ``[]`` without a GPU, as PyTorch's."""
    return [get_rng_state(index) for index in range(device_count())]


def set_rng_state_all(new_states: Any) -> None:
    """Restart GPU ``i``'s random stream from ``new_states[i]`` (:func:`get_rng_state_all`'s list)."""
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


def initial_seed() -> int:
    """The seed the GPUs' streams last started from (``manual_seed``, ``mg.manual_seed``, ``seed``), as
    ``torch.cuda.initial_seed``; streams CuPy seeded itself are seeded now from a fresh number, returned. Without a
    GPU: RuntimeError, as PyTorch's."""
    _cupy("initial_seed")
    if generators.cuda_seed() is None:
        seed()
    return generators.cuda_seed()


def __getattr__(name: str) -> Any:
    if name == "OutOfMemoryError":   # CuPy's, which its allocator raises: `except mg.cuda.OutOfMemoryError` works
        cp = backend.cupy_module(required=False)
        return _NoGpuOutOfMemoryError if cp is None else cp.cuda.memory.OutOfMemoryError
    if name in ("AcceleratorError", "CudaError"):   # a failed CUDA call: CuPy's CUDARuntimeError (a RuntimeError)
        cp = backend.cupy_module(required=False)
        return _NoGpuAcceleratorError if cp is None else cp.cuda.runtime.CUDARuntimeError
    raise AttributeError(f"module 'minigrad.cuda' has no attribute {name!r}")


class _NoGpuAcceleratorError(RuntimeError):
    """``mg.AcceleratorError`` (``mg.cuda.AcceleratorError``, ``mg.cuda.CudaError``) without a GPU: a RuntimeError
    class nothing raises, so that ``except mg.AcceleratorError:`` runs. With CuPy it is the class CuPy raises for a
    failed CUDA call, ``cupy.cuda.runtime.CUDARuntimeError`` (PyTorch's are RuntimeErrors too)."""


class _NoGpuOutOfMemoryError(RuntimeError):
    """``mg.cuda.OutOfMemoryError`` without a GPU (nothing raises it, as PyTorch's CPU build): a class, so that
    ``except mg.cuda.OutOfMemoryError:`` runs. With CuPy it is CuPy's ``cupy.cuda.memory.OutOfMemoryError``."""


def _pool_bytes(device: Any, what: str, total: bool) -> int:
    """CuPy's memory pool's bytes in use (or held, with ``total``) on GPU ``device`` (None: the current one; the
    pool answers for the current GPU only); 0 without CuPy."""
    cp = backend.cupy_module(required=False)
    if cp is None:
        return 0
    with cp.cuda.Device(_gpu_index(device, what)):
        pool = cp.get_default_memory_pool()
        return int(pool.total_bytes() if total else pool.used_bytes())


def memory_allocated(device: Any = None) -> int:
    """Bytes of GPU ``device``'s memory held by tensors (CuPy's memory pool in use); 0 without CuPy."""
    return _pool_bytes(device, "memory_allocated", total=False)


def memory_reserved(device: Any = None) -> int:
    """Bytes of GPU ``device``'s memory CuPy's pool holds, in use or cached; 0 without CuPy."""
    return _pool_bytes(device, "memory_reserved", total=True)


# --- streams and events (CuPy's underneath; without a GPU they raise RuntimeError, as PyTorch's without CUDA) ---

class Stream:
    """A queue of GPU work, as ``torch.cuda.Stream(device=None, priority=0)`` (CuPy's ``cupy.cuda.Stream``): ops
    run inside ``with mg.cuda.stream(s):`` are queued on it. ``device``: its GPU (an index, ``"cuda:1"``, an
    ``mg.device``; None: the current one), current inside such a block, as PyTorch's; ``priority``: lower is more
    urgent (CUDA clamps it to the GPU's range). Without a GPU: RuntimeError, as PyTorch's."""

    def __init__(self, device: Any = None, priority: int = 0, **kwargs: Any) -> None:
        cp = _cupy("Stream")
        options = {"priority": priority} if priority else {}
        self._index = None if device is None else _device_index(device, "Stream")   # None: CuPy's device_id
        if self._index is None:   # made on the current GPU, as PyTorch's (without switching GPUs)
            self._stream = cp.cuda.Stream(non_blocking=False, **options)
        else:
            with cp.cuda.Device(self._index):   # a stream belongs to the GPU current when CUDA makes it
                self._stream = cp.cuda.Stream(non_blocking=False, **options)
        self.priority = priority

    @classmethod
    def _of(cls, cupy_stream: Any, index: int | None = None) -> Stream:
        """CuPy's stream ``cupy_stream`` as a Stream (of GPU ``index``; None: the one CuPy's stream names)."""
        stream = object.__new__(cls)
        stream._stream, stream.priority, stream._index = cupy_stream, 0, index
        return stream

    @property
    def device(self) -> Any:
        """The GPU this stream belongs to (``cuda:N``; the current GPU for the default stream)."""
        index = self._stream.device_id if self._index is None else self._index
        return backend.Device(f"cuda:{current_device() if index < 0 else index}")

    def query(self) -> bool:
        """Whether all the work queued on this stream has finished."""
        return bool(self._stream.done)

    def synchronize(self) -> None:
        """Wait for all the work queued on this stream."""
        self._stream.synchronize()

    def wait_event(self, event: Event) -> None:
        """Make later work on this stream wait for ``event`` (recorded on another stream)."""
        self._stream.wait_event(event._event)

    def wait_stream(self, stream: Stream) -> None:
        """Make later work on this stream wait for the work queued on ``stream`` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event: Event | None = None) -> Event:
        """Record ``event`` (a new one if None) on this stream; returns it."""
        event = Event() if event is None else event
        event.record(self)
        return event

    def __enter__(self) -> Stream:
        # a stream made with device= makes its GPU the current one inside, as PyTorch's (CuPy refuses another)
        gpu = contextlib.nullcontext() if self._index is None else _cupy("Stream").cuda.Device(self._index)
        gpu.__enter__()
        self.__dict__.setdefault("_gpus", []).append(gpu)
        try:
            self._stream.__enter__()
        except BaseException:
            self._gpus.pop().__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._stream.__exit__(*exc)
        finally:
            self._gpus.pop().__exit__(*exc)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and other._stream.ptr == self._stream.ptr

    def __hash__(self) -> int:
        return hash(self._stream.ptr)

    def __repr__(self) -> str:
        return f"<minigrad.cuda.Stream device={self.device} cuda_stream={self._stream.ptr:#x}>"


class Event:
    """A marker in a stream's work, as ``torch.cuda.Event(enable_timing=False, blocking=False, interprocess=False)``
    (CuPy's ``cupy.cuda.Event``): ``start.record(); ...; end.record(); end.synchronize();
    start.elapsed_time(end)`` gives the milliseconds between the two. Without a GPU: RuntimeError, as PyTorch's."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False,
                 external: bool = False) -> None:
        cp = _cupy("Event")
        self.enable_timing = enable_timing
        self._event = cp.cuda.Event(block=blocking, disable_timing=not enable_timing, interprocess=interprocess)

    def record(self, stream: Stream | None = None) -> None:
        """Record the event on ``stream`` (the current stream if None)."""
        self._event.record(None if stream is None else stream._stream)

    def wait(self, stream: Stream | None = None) -> None:
        """Make later work on ``stream`` (the current stream if None) wait for this event."""
        (current_stream() if stream is None else stream).wait_event(self)

    def query(self) -> bool:
        """Whether the work before the event's record has finished."""
        return bool(self._event.done)

    def synchronize(self) -> None:
        """Wait until the work before the event's record has finished."""
        self._event.synchronize()

    def elapsed_time(self, end_event: Event) -> float:
        """The milliseconds from this event's record to ``end_event``'s (both made with ``enable_timing=True``)."""
        if not (self.enable_timing and end_event.enable_timing):   # CUDA's own error, as PyTorch reports it
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        return float(_cupy("Event").cuda.get_elapsed_time(self._event, end_event._event))

    def __repr__(self) -> str:
        return f"<minigrad.cuda.Event {'(timing)' if self.enable_timing else ''}>"


def current_stream(device: Any = None) -> Stream:
    """The stream GPU work is queued on now (CuPy's current stream) on ``device`` (None: the current GPU), as
    ``torch.cuda.current_stream``."""
    cp = _cupy("current_stream")
    if device is None:
        return Stream._of(cp.cuda.get_current_stream())
    index = _device_index(device, "current_stream")
    return Stream._of(cp.cuda.get_current_stream(index), index)


def default_stream(device: Any = None) -> Stream:
    """The default (null) stream of ``device`` (None: the current GPU), as ``torch.cuda.default_stream``."""
    cp = _cupy("default_stream")
    return Stream._of(cp.cuda.Stream.null, None if device is None else _device_index(device, "default_stream"))


class StreamContext:
    """``with mg.cuda.StreamContext(s):`` queues the GPU work inside the block on stream ``s`` (None: a block that
    changes nothing, also without a GPU), as ``torch.cuda.StreamContext``; :func:`stream` makes one. The block's
    value is the stream."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream

    def __enter__(self) -> Stream | None:
        if self.stream is not None:
            self.stream.__enter__()
        return self.stream

    def __exit__(self, *exc: Any) -> None:
        if self.stream is not None:
            self.stream.__exit__(*exc)


def stream(stream: Stream | None) -> StreamContext:
    """Queue the GPU work inside the block on ``stream``, as ``torch.cuda.stream``; None: a block that changes
    nothing (also without a GPU, as PyTorch's)."""
    return StreamContext(stream)


def set_stream(stream: Stream | None) -> None:
    """Make ``stream`` the current stream (for its GPU) until changed, as ``torch.cuda.set_stream`` (None: no
    change)."""
    if stream is not None:
        stream._stream.use()


class ExternalStream(Stream):
    """A stream made elsewhere (another library's ``cudaStream_t``, given as the int ``stream_ptr``) as a
    :class:`Stream`, as ``torch.cuda.ExternalStream`` (CuPy's ``cupy.cuda.ExternalStream``); minigrad neither
    owns nor destroys it. Without a GPU: RuntimeError."""

    def __init__(self, stream_ptr: int, device: Any = None, **kwargs: Any) -> None:
        cp = _cupy("ExternalStream")
        self._index = None if device is None else _device_index(device, "ExternalStream")
        gpu = contextlib.nullcontext() if self._index is None else cp.cuda.Device(self._index)
        with gpu:
            self._stream = cp.cuda.ExternalStream(int(stream_ptr))
        self.priority = 0


def can_device_access_peer(device: Any, peer_device: Any) -> bool:
    """Whether GPU ``device`` can read GPU ``peer_device``'s memory directly (CUDA's peer access), as
    ``torch.cuda.can_device_access_peer`` (a GPU and itself: False, as CUDA answers). Without a GPU: RuntimeError."""
    cp = _cupy("can_device_access_peer")
    index, peer = _device_index(device, "can_device_access_peer"), _device_index(peer_device, "can_device_access_peer")
    return index != peer and bool(cp.cuda.runtime.deviceCanAccessPeer(index, peer))


def is_tf32_supported() -> bool:
    """Whether the current GPU has TF32 tensor cores (compute capability 8.0 or more), as
    ``torch.cuda.is_tf32_supported``; False without a GPU. (minigrad asks for no TF32 itself: CuPy uses it only
    where its ``CUPY_TF32`` environment variable says so.)"""
    return is_available() and get_device_capability() >= (8, 0)


def get_arch_list() -> list[str]:
    """The GPU architectures kernels are built for, as ``torch.cuda.get_arch_list`` (``["sm_80", …]``): CuPy
    compiles its kernels when first used, for the visible GPUs, so these are theirs; ``[]`` without a GPU."""
    if not is_available():
        return []
    return sorted({"sm_{}{}".format(*get_device_capability(index)) for index in range(device_count())})


def get_gencode_flags() -> str:
    """:func:`get_arch_list` as NVCC's ``-gencode`` flags, as ``torch.cuda.get_gencode_flags`` (``""`` without a
    GPU)."""
    return " ".join(f"-gencode compute=compute_{arch[3:]},code={arch}" for arch in get_arch_list())
