"""``mg.cpu``: PyTorch's ``torch.cpu`` namespace, for code written against any device module
(``getattr(torch, device_type).synchronize()``): the CPU is always there, one device, nothing to wait for;
``mg.cpu.amp`` is PyTorch's deprecated ``torch.cpu.amp`` (``autocast``, ``GradScaler``; they warn, as torch's)."""

from __future__ import annotations

from typing import Any

from .amp import cpu_amp as amp  # noqa: F401 - PyTorch's deprecated spelling: torch.cpu.amp.autocast / GradScaler


def is_available() -> bool:
    """True: the CPU is always available."""
    return True


def is_initialized() -> bool:
    """True: the CPU needs no initialisation."""
    return True


def device_count() -> int:
    """1: minigrad (like PyTorch) counts the CPU as one device."""
    return 1


def current_device() -> str:
    """``"cpu"``, as ``torch.cpu.current_device()``."""
    return "cpu"


def set_device(device: Any) -> None:
    """Accepted and ignored, as PyTorch's (there is one CPU device)."""
    return None


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: CPU ops finish before they return."""
    return None
