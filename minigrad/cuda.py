"""``mg.cuda``: is a GPU usable, how many, wait for it."""

from __future__ import annotations

from . import amp  # noqa: F401 - PyTorch's older spelling: torch.cuda.amp.GradScaler / autocast
from .backend import cuda_device_count, cuda_is_available, cuda_synchronize


def is_available() -> bool:
    """True when CuPy imports and at least one GPU is visible."""
    return cuda_is_available()


def device_count() -> int:
    """Number of visible GPUs (0 without CuPy)."""
    return cuda_device_count()


def synchronize() -> None:
    """Wait for all queued GPU work (no-op without CuPy)."""
    cuda_synchronize()
