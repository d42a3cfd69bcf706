"""``mg.accelerator``: PyTorch's device-neutral spelling of ``mg.cuda``, as today's tutorials pick a device.

    device = mg.accelerator.current_accelerator().type if mg.accelerator.is_available() else "cpu"

minigrad's one accelerator is a CUDA GPU through CuPy. Without one, ``current_accelerator()``
is None and the calls that need a device raise ``RuntimeError``, as PyTorch's do.
"""

from __future__ import annotations

from typing import Any

from . import cpu, cuda
from .backend import Device

NONE_AVAILABLE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    """True when a GPU is usable (CuPy imports and sees one)."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """``mg.device("cuda")`` when a GPU is usable, else None (``check_available`` as PyTorch's: the same here)."""
    return Device("cuda") if is_available() else None


def device_count() -> int:
    """Number of visible GPUs (0 without one)."""
    return cuda.device_count() if is_available() else 0


def _require() -> None:
    if not is_available():
        raise RuntimeError(NONE_AVAILABLE)


def current_device_index() -> int:
    """Index of the current GPU; raises ``RuntimeError`` without one."""
    _require()
    return cuda.current_device()


def set_device_index(device: Any) -> None:
    """Make GPU ``device`` (an index, ``"cuda:1"`` or an ``mg.device``) the current one."""
    _require()
    cuda.set_device(device)


def synchronize(device: Any = None) -> None:
    """Wait for the GPU's queued work; raises ``RuntimeError`` without a GPU."""
    _require()
    cuda.synchronize(device)


def empty_cache() -> None:
    """Hand cached, unused GPU memory back to the driver; raises ``RuntimeError`` without a GPU."""
    _require()
    cuda.empty_cache()


def memory_allocated(device: Any = None) -> int:
    """Bytes of GPU memory held by tensors; raises ``RuntimeError`` without a GPU."""
    _require()
    return cuda.memory_allocated(device)


def memory_reserved(device: Any = None) -> int:
    """Bytes of GPU memory held in use or cached; raises ``RuntimeError`` without a GPU."""
    _require()
    return cuda.memory_reserved(device)


def get_device_module(device: Any = None) -> Any:
    """``mg.cuda`` or ``mg.cpu``: the module of ``device``'s type (an ``mg.device`` or a string; None: the current
    accelerator, the CPU without one), as ``torch.get_device_module``."""
    if device is None:
        kind = "cuda" if is_available() else "cpu"
    elif isinstance(device, (str, Device)):
        kind = Device(device).type
    else:
        raise RuntimeError(f"get_device_module: Invalid value of device '{device}', expect mg.device, str, or None")
    return {"cuda": cuda, "cpu": cpu}[kind]


current_device_idx = current_device_index   # PyTorch's older names
set_device_idx = set_device_index
