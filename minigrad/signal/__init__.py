"""``mg.signal``: PyTorch's ``torch.signal`` namespace (only ``windows``)."""

from . import windows

__all__ = ["windows"]
