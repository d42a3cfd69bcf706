"""``mg.mps``: PyTorch's Apple GPU module, answering as PyTorch does on a machine without MPS (minigrad runs on the
CPU and on NVIDIA GPUs through CuPy); ``mg.backends.mps.is_available()`` is False too."""

from __future__ import annotations

NOT_BUILT = "minigrad has no MPS (Apple GPU) backend: its devices are 'cpu' and 'cuda' (through CuPy)"


def is_available() -> bool:
    """False: no MPS here."""
    return False


def device_count() -> int:
    """0: no MPS here."""
    return 0


def manual_seed(seed: int) -> None:
    """Silently nothing, as PyTorch's without MPS."""


def seed() -> None:
    """RuntimeError, as PyTorch's without MPS."""
    raise RuntimeError(f"mps.seed: {NOT_BUILT}")


def empty_cache() -> None:
    """RuntimeError, as PyTorch's without MPS."""
    raise RuntimeError(f"mps.empty_cache: {NOT_BUILT}")


def synchronize() -> None:
    """RuntimeError, as PyTorch's without MPS."""
    raise RuntimeError(f"mps.synchronize: {NOT_BUILT}")
