"""Number arguments that may be given as a 0-d tensor, as PyTorch's ``Scalar`` and ``double`` arguments take one."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from ._arguments import _number


def _number_or_0d(value: Any, name: str, what: str, kinds: str = "biuf") -> float:
    """``value`` as a Python float, as ``_number``; a 0-d tensor of a dtype kind in ``kinds`` that does not require
    grad counts as its value (``F.celu(x, alpha=torch.tensor(0.5))``), as in PyTorch. A one-element 1-d tensor, one
    that requires grad, or a complex one stays a TypeError (PyTorch's for the first two)."""
    if isinstance(value, Tensor) and value.ndim == 0 and not value.requires_grad and value.dtype.kind in kinds:
        value = float(value.item())
    return _number(value, name, what)
