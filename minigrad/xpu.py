"""``mg.xpu``: PyTorch's Intel GPU module, answering as a PyTorch build without XPU support does (minigrad runs on
the CPU and on NVIDIA GPUs through CuPy), so device pickers (``elif torch.xpu.is_available():``) run unchanged."""

from __future__ import annotations

from typing import Any

NOT_BUILT = "minigrad has no XPU (Intel GPU) support: its devices are 'cpu' and 'cuda' (through CuPy)"


def is_available() -> bool:
    """False: no XPU here."""
    return False


def device_count() -> int:
    """0: no XPU here."""
    return 0


def is_initialized() -> bool:
    """False: there is nothing to set up."""
    return False


def manual_seed(seed: int) -> None:
    """Silently nothing, as PyTorch's without an XPU."""


manual_seed_all = manual_seed


def seed() -> None:
    """Silently nothing, as PyTorch's without an XPU."""


seed_all = seed


def empty_cache() -> None:
    """Nothing to free, as PyTorch's without an XPU."""


def synchronize(device: Any = None) -> None:
    """AssertionError, as PyTorch's without XPU support."""
    raise AssertionError(f"xpu.synchronize: {NOT_BUILT}")


def current_device() -> int:
    """AssertionError, as PyTorch's without XPU support."""
    raise AssertionError(f"xpu.current_device: {NOT_BUILT}")
