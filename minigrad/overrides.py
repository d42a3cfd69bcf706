"""``torch.overrides`` as far as minigrad has one: :func:`is_tensor_like` (also ``mg.autograd.is_tensor_like``, as
torch's). minigrad has no ``__torch_function__`` dispatch: its ops take minigrad Tensors, whatever this says."""

from __future__ import annotations

from typing import Any

from .tensor import Tensor

__all__ = ["is_tensor_like"]


def is_tensor_like(inp: Any) -> bool:
    """True for a Tensor (a subclass or a Parameter too) and for an object with a ``__torch_function__`` attribute,
    as torch.overrides.is_tensor_like; False for numbers, None, arrays and other objects."""
    return isinstance(inp, Tensor) or hasattr(inp, "__torch_function__")
