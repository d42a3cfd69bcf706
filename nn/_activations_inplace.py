"""PyTorch's in-place activations ``F.relu_``, ``F.elu_``, ``F.leaky_relu_``, ``F.hardtanh_``, ``F.selu_``,
``F.celu_`` and ``F.threshold_`` (re-exported by ``nn.functional``).

Each writes the activation of ``input`` into ``input``'s own array and returns ``input`` itself, as PyTorch's.
While gradients are recorded the activation reads a clone, so the ops it records keep the old values
and the overwrite cannot invalidate them; ``input`` then continues the graph through ``copy_``. As in
PyTorch, a leaf that requires grad refuses (its value would no longer be the one its gradient is for).
"""

from __future__ import annotations

from typing import Any, Callable

import minigrad as mg
from minigrad import Tensor

from ._activations import celu, elu, hardtanh, leaky_relu, selu
from ._activations import threshold as _threshold
from ._arguments import _tensor

__all__ = ["celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "selu_", "threshold_"]


def _in_place(name: str, input: Any, activation: Callable[[Tensor], Tensor]) -> Tensor:  # noqa: A002
    x = _tensor(input, name)
    if mg.is_grad_enabled() and x.requires_grad:
        if x.is_leaf:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place operation. "
                               f"Use F.{name[:-1]} (out of place), or call it under `with mg.no_grad():`.")
        return x.copy_(activation(x.clone()))
    return x.copy_(activation(x))


def relu_(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """max(x, 0) written into ``input``, which is returned. Any shape."""
    return _in_place("relu_", input, mg.relu)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """``F.elu`` written into ``input``, which is returned. Any shape."""
    return _in_place("elu_", input, lambda x: elu(x, alpha))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    """``F.leaky_relu`` written into ``input``, which is returned. Any shape."""
    return _in_place("leaky_relu_", input, lambda x: leaky_relu(x, negative_slope))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    """``F.hardtanh`` (clamp to [min_val, max_val]) written into ``input``, which is returned. Any shape."""
    return _in_place("hardtanh_", input, lambda x: hardtanh(x, min_val, max_val))


def selu_(input: Tensor) -> Tensor:  # noqa: A002
    """``F.selu`` written into ``input``, which is returned. Any shape."""
    return _in_place("selu_", input, selu)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """``F.celu`` written into ``input``, which is returned. Any shape."""
    return _in_place("celu_", input, lambda x: celu(x, alpha))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """``F.threshold`` (x where x > threshold, else value) written into ``input``, which is returned. Any shape."""
    return _in_place("threshold_", input, lambda x: _threshold(x, threshold, value))
