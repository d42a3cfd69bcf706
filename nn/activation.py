"""Activations as modules, for ``Sequential`` and for PyTorch programs that build them as layers.

None has parameters; each accepts the factory keywords ``device``/``dtype``
for uniformity with the other modules. Any shape in, the same shape out.
"""

from __future__ import annotations

import warnings
from typing import Any

from minigrad import Tensor

from . import functional as F
from .module import Module

__all__ = ["GELU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class _Elementwise(Module):
    """An activation as a module: no parameters; ``device``/``dtype`` are accepted for uniformity."""

    def __init__(self, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()


class Tanh(_Elementwise):
    """tanh elementwise, as a module for ``Sequential``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(_Elementwise):
    """max(x, 0) elementwise, as a module for ``Sequential``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(_Elementwise):
    """1 / (1 + e^{-x}) elementwise, as a module for ``Sequential``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class GELU(_Elementwise):
    """x · Φ(x) elementwise (``approximate="tanh"``: the tanh approximation), as ``torch.nn.GELU``."""

    def __init__(self, approximate: str = "none", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def _implicit_dim(name: str, ndim: int) -> int:
    """PyTorch's choice when no ``dim`` is given (deprecated there too): 0 for 0-, 1- and 3-D inputs, else 1."""
    warnings.warn(f"{name}: implicit dim is deprecated (as in PyTorch); pass dim= explicitly", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class _AlongDim(_Elementwise):
    """A normalisation along one ``dim`` (PyTorch's implicit choice, with a warning, when it is None)."""

    function = staticmethod(F.softmax)

    def __init__(self, dim: int | None = None, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_dim(type(self).__name__, x.ndim)
        return self.function(x, dim=dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """exp(x) / Σ exp(x) along ``dim``: every slice along ``dim`` sums to 1."""

    function = staticmethod(F.softmax)


class LogSoftmax(_AlongDim):
    """x - logsumexp(x) along ``dim`` (log-probabilities; pair with ``NLLLoss``)."""

    function = staticmethod(F.log_softmax)
