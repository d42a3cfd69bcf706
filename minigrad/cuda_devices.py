"""Which GPU a ``device`` argument of ``mg.cuda``'s functions names, and CuPy or PyTorch's error without a GPU
(shared by :mod:`minigrad.cuda` and :mod:`minigrad.cuda_memory`)."""

from __future__ import annotations

from typing import Any

from . import backend
from .backend import cuda_device_count


def current_device() -> int:
    """The index of the current GPU (raises, as PyTorch's, when there is none)."""
    cp = backend.cupy_module()
    return int(cp.cuda.Device().id)


def cupy_or_error(what: str) -> Any:
    """CuPy, or PyTorch's RuntimeError without a GPU (naming the class, and how to install CuPy)."""
    try:
        return backend.cupy_module()
    except RuntimeError as error:
        raise RuntimeError(f"mg.cuda.{what} needs a GPU: {error}") from None


def device_index(device: Any, what: str) -> int:
    """The index of the GPU ``device`` names (an index, ``"cuda:N"``, an ``mg.device``; ``"cuda"`` or a negative
    index: the current one, as PyTorch's); ValueError for another device, as PyTorch's."""
    if isinstance(device, int) and not isinstance(device, bool) and device < 0:
        return current_device()
    dev = backend.Device(device)
    if dev.type != "cuda":
        raise ValueError(f"mg.cuda.{what}: expected a cuda device, but got: {dev}")
    if dev.index is None:
        return current_device()
    count = cuda_device_count()
    if dev.index >= count:
        raise RuntimeError(f"mg.cuda.{what}: device {dev} requested but only {count} CUDA device(s) exist")
    return dev.index


def gpu_index(device: Any, what: str) -> int:
    """The GPU index ``device`` names (None: the current GPU; an index, ``"cuda:N"``, an ``mg.device``), with CuPy
    loaded first (PyTorch's RuntimeError without a GPU)."""
    cupy_or_error(what)
    return current_device() if device is None else device_index(device, what)
