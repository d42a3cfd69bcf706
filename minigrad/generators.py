"""The engine's random generators: one NumPy Generator for the host, CuPy's per-GPU generators.

``mg.manual_seed(n)`` seeds all of them; CuPy's are seeded when CuPy is loaded later, too.
"""

from __future__ import annotations

from typing import Any

import numpy

from . import backend
from .backend import Device, resolve_device

_host_generator = numpy.random.default_rng()
_seed: int | None = None
_cuda_seeded = False   # whether CuPy's generators got the current _seed


def _seed_cuda(cp: Any, seed: int) -> None:
    """Seed CuPy's generator on every GPU (each device has its own)."""
    for index in range(cp.cuda.runtime.getDeviceCount()):
        with cp.cuda.Device(index):
            cp.random.seed(seed)


def manual_seed(seed: int) -> None:
    """Seed the generator of every device (CuPy's too, when it is loaded)."""
    global _host_generator, _seed, _cuda_seeded
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise TypeError(f"manual_seed: the seed must be a non-negative int, got {seed!r}")
    _seed = int(seed)
    _host_generator = numpy.random.default_rng(_seed)
    cp = backend.cupy_module(required=False) if backend._cupy is not None else None
    _cuda_seeded = cp is not None
    if cp is not None:
        _seed_cuda(cp, _seed)


def random_generator(device: Device | str | None = None) -> Any:
    """The engine's random generator for ``device`` (default: the default device).

    A ``numpy.random.Generator`` on the CPU, CuPy's ``random`` module on a GPU;
    both are seeded by :func:`manual_seed`. Part of the public array interop
    (``mg.random_generator``) for libraries such as ``nn`` that draw raw arrays.
    """
    return generator(resolve_device(device))


def generator(device: Device) -> Any:
    """The random generator for ``device``: a NumPy Generator or CuPy's random module."""
    global _cuda_seeded
    if device.type == "cpu":
        return _host_generator
    cp = backend._check_cuda(device)
    if _seed is not None and not _cuda_seeded:   # seeded before CuPy was loaded
        _seed_cuda(cp, _seed)
        _cuda_seeded = True
    return cp.random
