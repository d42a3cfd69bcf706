"""PyTorch's in-place activations ``F.relu_``, ``F.elu_``, ``F.leaky_relu_``, ``F.hardtanh_``, ``F.selu_``,
``F.celu_`` and ``F.threshold_`` (re-exported by ``nn.functional``).

Each writes the activation of ``input`` into ``input``'s own array and returns ``input`` itself, as PyTorch's,
by the rule of nn/_in_place.py (which ``inplace=True`` of the out-of-place functions follows too): gradients stay
exact, and a leaf that requires grad refuses while recording, as in PyTorch.
"""

from __future__ import annotations

import minigrad as mg
from minigrad import Tensor

from ._activations import celu, elu, hardtanh, leaky_relu, selu
from ._activations import threshold as _threshold
from ._in_place import written_in_place

__all__ = ["celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "selu_", "threshold_"]




def relu_(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """max(x, 0) written into ``input``, which is returned. Any shape. (``Tensor.relu_``: one clone of the old
    value while recording, where the general rule takes two.)"""
    return written_in_place("relu_", input, mg.relu, Tensor.relu_)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """``F.elu`` written into ``input``, which is returned. Any shape."""
    return written_in_place("elu_", input, lambda x: elu(x, alpha))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    """``F.leaky_relu`` written into ``input``, which is returned. Any shape."""
    return written_in_place("leaky_relu_", input, lambda x: leaky_relu(x, negative_slope))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    """``F.hardtanh`` (clamp to [min_val, max_val]) written into ``input``, which is returned. Any shape."""
    return written_in_place("hardtanh_", input, lambda x: hardtanh(x, min_val, max_val))


def selu_(input: Tensor) -> Tensor:  # noqa: A002
    """``F.selu`` written into ``input``, which is returned. Any shape."""
    return written_in_place("selu_", input, selu)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """``F.celu`` written into ``input``, which is returned. Any shape."""
    return written_in_place("celu_", input, lambda x: celu(x, alpha))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """``F.threshold`` (x where x > threshold, else value) written into ``input``, which is returned. Any shape."""
    return written_in_place("threshold_", input, lambda x: _threshold(x, threshold, value))
