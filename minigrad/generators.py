"""The engine's random generators: one NumPy Generator for the host, CuPy's per-GPU generators.

``mg.manual_seed(n)`` seeds all of them; CuPy's are seeded when CuPy is loaded later, too.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy

from . import backend
from .backend import Device, resolve_device

_host_generator = numpy.random.default_rng()
_seed: int | None = None          # the host's seed (None: drawn from the OS)
_cuda_seed: int | None = None     # the GPUs' seed, applied when CuPy is loaded
_cuda_seeded = False              # whether CuPy's generators got _cuda_seed


def _seed_cuda(cp: Any, seed: int) -> None:
    """Seed CuPy's generator on every GPU (each device has its own)."""
    for index in range(cp.cuda.runtime.getDeviceCount()):
        with cp.cuda.Device(index):
            cp.random.seed(seed)


def _checked_seed(seed: Any, name: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise TypeError(f"{name}: the seed must be a non-negative int, got {seed!r}")
    return int(seed)


def seed_cuda(seed: int) -> None:
    """Seed the GPUs' generators only (``mg.cuda.manual_seed``), now or when CuPy is loaded."""
    global _cuda_seed, _cuda_seeded
    _cuda_seed = _checked_seed(seed, "cuda.manual_seed")
    cp = backend.cupy_module(required=False) if backend._cupy is not None else None
    _cuda_seeded = cp is not None
    if cp is not None:
        _seed_cuda(cp, _cuda_seed)


def manual_seed(seed: int) -> Generator:
    """Seed the generator of every device (CuPy's too, when it is loaded); returns ``mg.default_generator``,
    as PyTorch's returns its default generator."""
    global _host_generator, _seed
    _seed = _checked_seed(seed, "manual_seed")
    _host_generator = numpy.random.default_rng(_seed)
    seed_cuda(_seed)
    return default_generator


def seed() -> int:
    """Seed every device from a fresh nondeterministic number, and return it (``torch.seed``)."""
    fresh = int(numpy.random.SeedSequence().entropy % (1 << 63))
    manual_seed(fresh)
    return fresh


def initial_seed() -> int:
    """The host generator's last seed (one drawn from the OS and kept, if none was set)."""
    global _seed, _host_generator
    if _seed is None:
        _seed = int(numpy.random.SeedSequence().entropy % (1 << 63))
        _host_generator = numpy.random.default_rng(_seed)
    return _seed


def get_rng_state() -> dict:
    """A copy of the host generator's state (a dict here; PyTorch gives a byte tensor), for :func:`set_rng_state`."""
    return copy.deepcopy(_host_generator.bit_generator.state)


def set_rng_state(state: dict) -> None:
    """Continue the host generator from a state :func:`get_rng_state` returned."""
    if not isinstance(state, dict) or state.get("bit_generator") != type(_host_generator.bit_generator).__name__:
        raise ValueError("set_rng_state: expected a state from mg.get_rng_state()")
    _host_generator.bit_generator.state = copy.deepcopy(state)


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
        return _host_generator
    cp = backend._check_cuda(device)
    if _cuda_seed is not None and not _cuda_seeded:   # seeded before CuPy was loaded
        _seed_cuda(cp, _cuda_seed)
        _cuda_seeded = True
    return cp.random


class Generator:
    """PyTorch's ``torch.Generator``: a random stream of its own, passed as ``generator=`` to the random
    constructors and ops (``mg.randn(..., generator=g)``), ``nn.init`` and the data utilities.

    ``Generator(device="cpu")`` wraps a NumPy ``Generator`` (a CuPy ``RandomState`` on a GPU). Its numbers
    are not PyTorch's: the same seed gives the same stream here, not torch's stream.
    """

    def __init__(self, device: Device | str = "cpu") -> None:
        self.device = resolve_device(device)
        self._initial_seed = int(numpy.random.SeedSequence().entropy % (1 << 63))
        self._reseed(self._initial_seed)

    def _reseed(self, seed: int) -> None:
        if self.device.type == "cpu":
            self._draw: Any = numpy.random.default_rng(seed)
        else:
            cp = backend._check_cuda(self.device)
            with cp.cuda.Device(self.device.index or 0):
                self._draw = cp.random.RandomState(seed % (1 << 32))

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (a non-negative int); returns the generator, as PyTorch's."""
        if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
            raise TypeError(f"Generator.manual_seed: the seed must be a non-negative int, got {seed!r}")
        self._initial_seed = int(seed)
        self._reseed(self._initial_seed)
        return self

    def seed(self) -> int:
        """Restart from a fresh nondeterministic seed, and return it."""
        self._initial_seed = int(numpy.random.SeedSequence().entropy % (1 << 63))
        self._reseed(self._initial_seed)
        return self._initial_seed

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._initial_seed

    def get_state(self) -> dict:
        """A copy of the stream's state (a dict here; PyTorch gives a byte tensor), for :meth:`set_state`."""
        if self.device.type != "cpu":
            raise NotImplementedError("Generator.get_state: only a CPU generator's state can be read")
        return copy.deepcopy(self._draw.bit_generator.state)

    def set_state(self, state: dict) -> Generator:
        """Continue from a state :meth:`get_state` returned."""
        if self.device.type != "cpu":
            raise NotImplementedError("Generator.set_state: only a CPU generator's state can be set")
        if not isinstance(state, dict) or state.get("bit_generator") != type(self._draw.bit_generator).__name__:
            raise ValueError("Generator.set_state: expected a state from Generator.get_state()")
        self._draw.bit_generator.state = copy.deepcopy(state)
        return self

    def __repr__(self) -> str:
        return f"<minigrad.Generator on {self.device}>"


def drawing_from(generator_: Generator | None, device: Device, name: str) -> Any:
    """The array generator an op on ``device`` draws from: ``generator_``'s when one is given (it must be
    an ``mg.Generator`` on that device; a NumPy ``Generator`` is taken on the CPU), else the device's own."""
    if generator_ is None:
        return generator(device)
    if isinstance(generator_, Generator):
        if generator_.device != device:
            raise ValueError(f"{name}: the generator is on {generator_.device}, the result on {device}")
        return generator_._draw
    if isinstance(generator_, numpy.random.Generator) and device.type == "cpu":
        return generator_
    raise TypeError(f"{name}: generator must be an mg.Generator, got {type(generator_).__name__}")


class _DefaultGenerator(Generator):
    """``mg.default_generator``: the engine's own host stream (what ``mg.manual_seed`` seeds) as a Generator."""

    def __init__(self) -> None:
        self.device = resolve_device("cpu")

    @property
    def _draw(self) -> Any:   # type: ignore[override]
        return _host_generator

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
