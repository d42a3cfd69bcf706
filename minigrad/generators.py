"""The engine's random generators: one NumPy Generator for the host, CuPy's per-GPU generators.

``mg.manual_seed(n)`` seeds all of them; CuPy's are seeded when CuPy is loaded later, too.
``mg.get_rng_state()`` is a uint8 Tensor (as PyTorch's ByteTensor) that ``mg.set_rng_state`` takes
back; ``fork_rng`` (``mg.random.fork_rng``) restores every stream when its block ends.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import threading
from typing import Any, Callable, Iterable, Iterator

import numpy

from . import backend
from .arguments import ArgumentTypeError
from .backend import Device, resolve_device
from .recording import note_generator_draw, note_seed

# the host's seed, drawn from the OS at import (as PyTorch's default generator), so that
# mg.manual_seed(mg.initial_seed()) replays the whole run from its start
_seed: int = int(numpy.random.SeedSequence().entropy % (1 << 63))
_host_generator = numpy.random.default_rng(_seed)
_local = threading.local()        # .host/.seed: a DataLoader worker's own host stream, in this thread only
# while an mg.compile capture runs (_counting[0] > 0), one ticket per use of the shared host stream by any thread
# (next() is atomic in CPython), and _local.uses counts this thread's: a capture tells its function's draws and
# seeds from another thread's (see host_uses_since); otherwise a draw pays one test
_tickets = itertools.count()
_counting = [0]
_counting_lock = threading.Lock()
_cuda_seed: int | None = None     # the GPUs' seed, applied when CuPy is loaded
_cuda_seeded = False              # whether CuPy's generators got _cuda_seed


def _seed_cuda(cp: Any, seed: int) -> None:
    """Seed CuPy's generator on every GPU (each device has its own)."""
    for index in range(cp.cuda.runtime.getDeviceCount()):
        with cp.cuda.Device(index):
            cp.random.seed(seed)


def _checked_seed(seed: Any, name: str, strict: bool = False) -> int:
    """A seed as an int in [0, 2**64): what ``int(seed)`` gives, as PyTorch's ``torch.manual_seed`` and
    ``torch.cuda.manual_seed`` read it (a bool, a float, a numeric string, a one-element tensor: ``int``'s
    TypeError, ValueError or OverflowError for others); ``strict``: a Python int only, as PyTorch's
    ``Generator.manual_seed`` (its TypeError for a NumPy int, RuntimeError for anything else: here an
    ArgumentTypeError, both).

    PyTorch takes [-2**63, 2**64) and wraps a negative seed modulo 2**64 (-1 is 2**64 - 1), so a program that
    seeds with ``hash(key)`` runs: the same here."""
    if strict and (isinstance(seed, bool) or not isinstance(seed, int)):
        if isinstance(seed, numpy.integer):
            raise TypeError(f"{name}: an integer is required, got {seed!r} (a NumPy int: pass int(seed))")
        raise ArgumentTypeError(f"{name}: the seed must be an int (manual_seed expected a long, but got "
                                f"{type(seed).__name__})")
    try:
        value = int(seed)
    except (TypeError, ValueError, OverflowError) as error:
        raise type(error)(f"{name}: the seed must be an int (or what int() reads), got {seed!r}: {error}") from None
    if not -(1 << 63) <= value < 1 << 64:
        raise ValueError(f"{name}: the seed must be below 2**64 and at least -2**63 (as PyTorch's), got {value}")
    return value % (1 << 64)


def _host() -> numpy.random.Generator:
    """The host stream this thread draws from: a DataLoader worker's own while one runs here, else the engine's."""
    host = getattr(_local, "host", None)
    if host is not None:
        return host
    if _counting[0]:
        _local.uses = getattr(_local, "uses", 0) + 1
        next(_tickets)
    return _host_generator


def count_host_uses(change: int) -> None:
    """``+1`` when a capture starts counting the uses of the shared host stream, ``-1`` when it stops."""
    with _counting_lock:
        _counting[0] += change


def host_uses() -> tuple[int, int]:
    """A mark for :func:`host_uses_since` (taken while counting, see :func:`count_host_uses`): a ticket now and
    how many times this thread has used the shared host stream (drawn from it, seeded it, read or set its state)."""
    return next(_tickets), getattr(_local, "uses", 0)


def host_uses_since(since: tuple[int, int]) -> tuple[int, int]:
    """How many times other threads and this one used the shared host stream since ``since`` (a
    :func:`host_uses` mark), while this thread draws from it: a change of its state in that time is not all this
    thread's doing when others did (``mg.compile`` counts its own thread's draws and seeds). Another thread's
    ``host_uses`` counts as a use: an unneeded doubt only. In a DataLoader worker's stream: ``(0, 0)``."""
    ticket, mine = host_uses()
    if getattr(_local, "host", None) is not None:
        return 0, 0
    mine -= since[1]
    return ticket - since[0] - 1 - mine, mine


def _in_worker() -> bool:
    return getattr(_local, "host", None) is not None


class RNGStateTypeError(ValueError, TypeError):
    """A generator state that is not a uint8 tensor: a TypeError as PyTorch's (a ValueError, minigrad's class
    before)."""


class RNGStateError(ValueError, RuntimeError):
    """A uint8 generator state of the wrong size or contents: a RuntimeError as PyTorch's (a ValueError,
    minigrad's class before)."""


def _state_bytes(state: dict, name: str) -> Any:
    """A PCG64 state as a uint8 Tensor of 56 bytes (tag, state, inc, has_uint32, uinteger; little-endian)."""
    from .tensor import Tensor  # the tensor module imports this one

    if state.get("bit_generator") != "PCG64":
        raise NotImplementedError(f"{name}: only a PCG64 stream's state can be read, got {state.get('bit_generator')}")
    words = [state["state"]["state"], state["state"]["inc"]]
    raw = _STATE_TAG + b"".join(w.to_bytes(16, "little") for w in words) \
        + int(state["has_uint32"]).to_bytes(8, "little") + int(state["uinteger"]).to_bytes(8, "little")
    return Tensor._make(numpy.frombuffer(raw, dtype=numpy.uint8).copy(), False, None, 0)


def _state_dict(state: Any, name: str, source: str) -> dict:
    """The PCG64 state dict behind a state :func:`_state_bytes` made (a uint8 Tensor or array, or the dict)."""
    if isinstance(state, dict):
        if state.get("bit_generator") != "PCG64":
            raise RNGStateTypeError(f"{name}: expected a state from {source}, got a dict that is not one")
        return copy.deepcopy(state)
    raw = state_bytes(state, name, source, _STATE_TAG, _STATE_SIZE)[len(_STATE_TAG):]
    number = [int.from_bytes(raw[i:i + 16], "little") for i in (0, 16)]
    return {"bit_generator": "PCG64", "state": {"state": number[0], "inc": number[1]},
            "has_uint32": int.from_bytes(raw[32:40], "little"), "uinteger": int.from_bytes(raw[40:48], "little")}


_STATE_TAG = b"PCG64\x00\x00\x00"
_STATE_SIZE = len(_STATE_TAG) + 48


def state_bytes(state: Any, name: str, source: str, tag: bytes, size: int) -> bytes:
    """The bytes of a generator state that ``source`` returned: a uint8 tensor (or array) of ``size`` bytes starting
    with ``tag``; PyTorch's TypeError for another type or dtype, its RuntimeError for another size or contents."""
    from .tensor import Tensor

    data = state.data if isinstance(state, Tensor) else state
    raw = backend.to_numpy(data) if backend.is_array(data) else None
    if raw is None or raw.dtype != numpy.uint8 or raw.ndim != 1 or raw.size != size \
            or raw[:len(tag)].tobytes() != tag:
        what = f"{type(state).__name__}" + (f" of dtype {raw.dtype} and shape {raw.shape}" if raw is not None else "")
        error = RNGStateTypeError if raw is None or raw.dtype != numpy.uint8 else RNGStateError   # torch's classes
        raise error(f"{name}: expected the uint8 tensor of {size} bytes that {source} returns, got a {what}")
    return raw.tobytes()


def state_tensor(raw: Any) -> Any:
    """A generator state's bytes ``raw`` (a uint8 array) as a uint8 CPU Tensor of its own (PyTorch's ByteTensor)."""
    from .tensor import Tensor  # the tensor module imports this one

    return Tensor._make(numpy.array(raw, dtype=numpy.uint8), False, None, 0)


# A GPU stream's state: CuPy cannot export cuRAND's, so it is a seed (8 bytes after this tag) that the stream restarts
# from when the state is read (mg.cuda.get_rng_state, a GPU Generator's get_state) and when it is set
GPU_STATE_TAG = b"CUPYSEED"


def restart_gpu_stream(cp: Any, stream: Any, restart: Callable[[int], None]) -> Any:
    """Draw a seed from the GPU stream ``stream`` (CuPy's ``random`` module or a ``RandomState``), ``restart`` the
    stream from it and return it as a state tensor (:data:`GPU_STATE_TAG` and the seed, 16 bytes)."""
    high, low = (int(v) for v in cp.asnumpy(stream.randint(0, 1 << 31, size=2, dtype=numpy.int64)))
    seed = high << 31 | low
    restart(seed)
    return state_tensor(numpy.frombuffer(GPU_STATE_TAG + seed.to_bytes(8, "little"), dtype=numpy.uint8))


def gpu_state_seed(state: Any, name: str, source: str) -> int:
    """The seed in a GPU state tensor :func:`restart_gpu_stream` made (PyTorch's error classes otherwise)."""
    raw = state_bytes(state, name, source, GPU_STATE_TAG, len(GPU_STATE_TAG) + 8)
    return int.from_bytes(raw[len(GPU_STATE_TAG):], "little")


def cuda_seed() -> int | None:
    """The GPUs' last seed (None: never seeded here, CuPy seeded them itself)."""
    return _cuda_seed


def seed_cuda(seed: int) -> None:
    """Seed the GPUs' generators only (``mg.cuda.manual_seed``), now or when CuPy is loaded."""
    global _cuda_seed, _cuda_seeded
    note_seed("mg.cuda.manual_seed")   # inside mg.compile: this signature runs eagerly (a replay would not seed)
    _cuda_seed = _checked_seed(seed, "cuda.manual_seed")
    cp = backend.cupy_module(required=False) if backend._cupy is not None else None
    _cuda_seeded = cp is not None
    if cp is not None:
        _seed_cuda(cp, _cuda_seed)


def manual_seed(seed: int) -> Generator:
    """Seed the generator of every device (CuPy's too, when it is loaded); returns ``mg.default_generator``,
    as PyTorch's returns its default generator.

    The host stream is reseeded in place, so an array generator taken earlier (``mg.random_generator()``)
    follows the seed too. Inside an emulated DataLoader worker this seeds that worker's host stream only
    (a worker process in PyTorch seeds its own streams, not the main process's).
    """
    global _seed
    note_seed("mg.manual_seed")
    value = _checked_seed(seed, "manual_seed")
    _host().bit_generator.state = numpy.random.PCG64(value).state
    if _in_worker():   # a DataLoader worker's stream, or this thread's own (own_host_stream): not the process's
        _local.seed = value
        if getattr(_local, "gpus", False):
            seed_cuda(value)
        return default_generator
    _seed = value
    seed_cuda(_seed)
    return default_generator


def seed() -> int:
    """Seed every device from a fresh nondeterministic number, and return it (``torch.seed``)."""
    fresh = int(numpy.random.SeedSequence().entropy % (1 << 63))
    manual_seed(fresh)
    return fresh


def initial_seed() -> int:
    """The host generator's last seed (drawn from the OS at import if none was set since); in an emulated
    DataLoader worker, that worker's seed (as PyTorch's ``torch.initial_seed()`` in a worker)."""
    if _in_worker():
        return _local.seed
    return _seed


def get_rng_state() -> Any:
    """The host generator's state as a uint8 Tensor of shape (56,) (PyTorch's is a ByteTensor too, of
    another size), for :func:`set_rng_state`; a copy, so later draws do not change it."""
    return _state_bytes(_host().bit_generator.state, "get_rng_state")


def set_rng_state(new_state: Any) -> None:
    """Continue the host generator from a state :func:`get_rng_state` returned: the draws that followed it
    repeat exactly. (A state dict from an older minigrad is taken too.)"""
    note_seed("mg.set_rng_state")
    _host().bit_generator.state = _state_dict(new_state, "set_rng_state", "mg.get_rng_state()")


def _cuda_indices(devices: Iterable | None) -> list[int]:
    """The GPU indices ``fork_rng`` forks: those given (ints, "cuda:N" or Devices), or every GPU CuPy
    sees when CuPy is loaded (none otherwise: nothing has drawn on a GPU yet)."""
    cp = backend.cupy_module(required=False) if backend._cupy else None
    if devices is None:
        return list(range(cp.cuda.runtime.getDeviceCount())) if cp is not None else []
    indices = []
    for device in list(devices):
        if isinstance(device, (int, numpy.integer)) and not isinstance(device, bool):
            indices.append(int(device))
            continue
        dev = resolve_device(device)
        if dev.type != "cuda":
            raise ValueError(f"fork_rng: devices lists GPUs (ints or 'cuda:N'), got {device!r}")
        indices.append(dev.index or 0)
    return indices


@contextlib.contextmanager
def fork_rng(devices: Iterable | None = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda") -> Iterator[None]:
    """``with mg.random.fork_rng(): ...`` — draws inside the block do not change the streams outside it:
    on exit, the host generator (and each GPU's in ``devices``, default every GPU when CuPy is loaded) is
    back where it was, as ``torch.random.fork_rng``. ``enabled=False`` makes it a no-op.

    Inside the block the host stream continues from its state (the same numbers it would have drawn);
    a GPU's stream inside the block is a new one seeded from the host stream (CuPy's state cannot be
    copied), and the GPU's own stream is put back untouched on exit. The block's host stream is this thread's
    own copy: another thread's draws meanwhile are neither drawn inside the block nor undone on exit (PyTorch
    forks its one global generator, so a checkpoint's recomputation there can meet another thread's draws).
    """
    if device_type not in ("cuda", "gpu"):
        raise ValueError(f"fork_rng: device_type must be 'cuda', got {device_type!r}")
    if not enabled:
        yield
        return
    indices = _cuda_indices(devices)
    saved, cp = [], None
    if indices:
        host = _host().bit_generator.state
        cp = backend.cupy_module()
        for index in indices:
            with cp.cuda.Device(index):
                saved.append(cp.random.get_random_state())
                fork = int(_host().integers(0, 1 << 32))
                cp.random.set_random_state(cp.random.RandomState(fork))
        _host().bit_generator.state = host   # the draws for the forks leave no trace
    try:
        with own_host_stream(keep=False):   # this thread's copy: other threads' draws are neither seen nor undone
            yield
    finally:
        for index, state in zip(indices, saved):
            with cp.cuda.Device(index):
                cp.random.set_random_state(state)


@contextlib.contextmanager
def worker_stream(worker: Any) -> Iterator[None]:
    """Inside the block this thread's host draws (``mg.rand``, ``mg.manual_seed``, ``mg.initial_seed`` …) use
    ``worker.stream`` (a NumPy Generator) and ``worker.seed`` instead of the engine's: a DataLoader worker's
    own stream, emulated in the calling process (a reseed inside is kept in ``worker.seed``). Other threads,
    and the GPUs' streams, stay the engine's."""
    before = getattr(_local, "host", None), getattr(_local, "seed", None), getattr(_local, "gpus", False)
    _local.host, _local.seed, _local.gpus = worker.stream, worker.seed, getattr(worker, "gpus", False)
    try:
        yield
    finally:
        worker.seed = _local.seed
        _local.host, _local.seed, _local.gpus = before


class _OwnStream:
    """:func:`own_host_stream`'s copy of the host stream, in :func:`worker_stream`'s form (its seeds reach the
    GPUs' streams, as outside it)."""

    gpus = True

    def __init__(self, stream: numpy.random.Generator, seed_: int) -> None:
        self.stream, self.seed = stream, seed_


@contextlib.contextmanager
def own_host_stream(keep: bool) -> Iterator[numpy.random.Generator]:
    """Inside the block this thread's host draws and seeds use a copy (yielded) of the host stream it draws from
    now, which other threads' draws and seeds neither move nor see rewound: ``fork_rng``'s block, and the calls
    whose draws ``mg.func.vmap`` checks or repeats. On exit, with ``keep``, the stream drawn from before goes on
    from where the copy ended (when the block drew); without, the block leaves no trace."""
    parent = _host()
    own = _OwnStream(copy.deepcopy(parent), initial_seed())
    start = own.stream.bit_generator.state
    try:
        with worker_stream(own):
            yield own.stream
    finally:
        if keep and own.stream.bit_generator.state != start:
            parent.bit_generator.state = own.stream.bit_generator.state


def random_generator(device: Device | str | None = None, generator_: Any = None) -> Any:
    """The engine's random generator for ``device`` (default: the default device), or the array
    generator behind ``generator_`` (an :class:`Generator` on that device) when one is given.

    A ``numpy.random.Generator`` on the CPU, CuPy's ``random`` module on a GPU;
    both are seeded by :func:`manual_seed`. Part of the public array interop
    (``mg.random_generator``) for libraries such as ``nn`` that draw raw arrays.
    """
    return drawing_from(generator_, resolve_device(device), "random_generator")


def generator(device: Device) -> Any:
    """The random generator for ``device``: a NumPy Generator or CuPy's random module."""
    global _cuda_seeded
    if device.type == "cpu":
        return _host()
    cp = backend._check_cuda(device)
    if _cuda_seed is not None and not _cuda_seeded:   # seeded before CuPy was loaded
        _seed_cuda(cp, _cuda_seed)
        _cuda_seeded = True
    return cp.random


# the seed a new Generator starts from, PyTorch's (c10::default_rng_seed_val): a fresh Generator's stream is the
# same in every run, so random_split(..., generator=mg.Generator()) repeats its split, as PyTorch's does
DEFAULT_GENERATOR_SEED = 67280421310721


class Generator:
    """PyTorch's ``torch.Generator``: a random stream of its own, passed as ``generator=`` to the random
    constructors and ops (``mg.randn(..., generator=g)``), ``nn.init`` and the data utilities.

    ``Generator(device="cpu")`` wraps a NumPy ``Generator`` (a CuPy ``RandomState`` on a GPU). Its numbers
    are not PyTorch's: the same seed gives the same stream here, not torch's stream. A new one starts from
    PyTorch's fixed seed 67280421310721 (``initial_seed()``), not from the OS: unseeded, it repeats every run.
    """

    def __init__(self, device: Device | str = "cpu") -> None:
        self.device = resolve_device(device)
        self._initial_seed = DEFAULT_GENERATOR_SEED
        self._reseed(self._initial_seed)

    def _reseed(self, seed: int) -> None:
        self._seeded_in = threading.get_ident()   # mg.compile: a capture's own reseed, or another thread's
        if self.device.type == "cpu":
            self._draw: Any = numpy.random.default_rng(seed)
        else:
            cp = backend._check_cuda(self.device)
            with cp.cuda.Device(self.device.index or 0):
                self._draw = cp.random.RandomState(seed % (1 << 32))

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (an int in [-2**63, 2**64), a negative one taken modulo 2**64);
        returns the generator, as PyTorch's."""
        note_seed("Generator.manual_seed")
        self._initial_seed = _checked_seed(seed, "Generator.manual_seed", strict=True)
        self._reseed(self._initial_seed)
        return self

    def seed(self) -> int:
        """Restart from a fresh nondeterministic seed, and return it."""
        note_seed("Generator.seed")
        self._initial_seed = int(numpy.random.SeedSequence().entropy % (1 << 63))
        self._reseed(self._initial_seed)
        return self._initial_seed

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._initial_seed

    def get_state(self) -> Any:
        """The stream's state as a uint8 Tensor (a copy), for :meth:`set_state`, as PyTorch's ByteTensor state: 56
        bytes on the CPU; on a GPU 16, a seed the stream restarts from now (CuPy cannot export cuRAND's state: see
        ``mg.cuda.get_rng_state``)."""
        if self.device.type != "cpu":
            note_seed("Generator.get_state")
            with self._gpu() as cp:
                return restart_gpu_stream(cp, self._draw, self._restart)
        return _state_bytes(self._draw.bit_generator.state, "Generator.get_state")

    def set_state(self, new_state: Any) -> Generator:
        """Continue from a state :meth:`get_state` (or ``mg.get_rng_state()``; on a GPU ``mg.cuda.get_rng_state()``)
        returned; returns the generator."""
        note_seed("Generator.set_state")
        if self.device.type != "cpu":
            seed_ = gpu_state_seed(new_state, "Generator.set_state", "a GPU Generator's get_state()")
            with self._gpu():
                self._restart(seed_)
            return self
        self._draw.bit_generator.state = _state_dict(new_state, "Generator.set_state", "Generator.get_state()")
        return self

    def clone_state(self) -> Generator:
        """A new Generator on the same device in the same state (its draws repeat this one's next draws)."""
        twin = Generator(self.device)
        twin._initial_seed = self.initial_seed()
        if self.device.type != "cpu":
            return twin.set_state(self.get_state())
        twin._draw.bit_generator.state = self._draw.bit_generator.state
        return twin

    @contextlib.contextmanager
    def _gpu(self) -> Iterator[Any]:
        """CuPy, with this generator's GPU current inside the block."""
        cp = backend._check_cuda(self.device)
        with cp.cuda.Device(self.device.index or 0):
            yield cp

    def _restart(self, seed_: int) -> None:
        """Restart this GPU generator's stream from ``seed_`` (its initial seed stays)."""
        self._draw = backend.cupy_module().random.RandomState(seed_)

    def __repr__(self) -> str:
        return f"<minigrad.Generator on {self.device}>"


def seeded_in_another_thread(generator_: Any) -> bool:
    """Whether an ``mg.Generator`` was last seeded by another thread than the calling one (``mg.compile`` does
    not take another thread's reseed during a capture for the captured function's)."""
    seeded = getattr(generator_, "_seeded_in", None)
    return seeded is not None and seeded != threading.get_ident()


def drawing_from(generator_: Generator | None, device: Device, name: str) -> Any:
    """The array generator an op on ``device`` draws from: ``generator_``'s when one is given (it must be
    an ``mg.Generator`` on that device; a NumPy ``Generator`` is taken on the CPU), else the device's own.
    Inside ``mg.func.vmap`` a stream other than the host's is shown to it first (the host's, vmap watches)."""
    if generator_ is None:
        drawn = generator(device)
        if device.type == "cpu":   # the host stream: vmap compares its state before and after each call
            return drawn
    elif isinstance(generator_, Generator):
        if generator_.device != device:
            raise ValueError(f"{name}: the generator is on {generator_.device}, the result on {device}")
        drawn = generator_._draw
        if generator_ is default_generator:   # the host stream
            return drawn
    elif isinstance(generator_, numpy.random.Generator) and device.type == "cpu":
        drawn = generator_
    else:
        raise TypeError(f"{name}: generator must be an mg.Generator, got {type(generator_).__name__}")
    note_generator_draw(drawn)   # inside vmap: randomness="error" raises, "same" repeats the draws
    return drawn


class _DefaultGenerator(Generator):
    """``mg.default_generator``: the engine's own host stream (what ``mg.manual_seed`` seeds) as a Generator."""

    def __init__(self) -> None:
        self.device = resolve_device("cpu")

    @property
    def _draw(self) -> Any:   # type: ignore[override]
        return _host()

    def _reseed(self, seed: int) -> None:
        manual_seed(seed)

    def manual_seed(self, seed: int) -> Generator:
        manual_seed(seed)
        return self

    def seed(self) -> int:
        return seed()

    def initial_seed(self) -> int:
        return initial_seed()


default_generator = _DefaultGenerator()
