"""``nn.LayerNorm`` and ``nn.RMSNorm``: normalisation over the last dims, with a learned scale (and shift)."""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from .module import Module, Parameter

__all__ = ["LayerNorm", "RMSNorm"]


class LayerNorm(Module):
    """y = (x - E[x]) / √(Var[x] + eps) · weight + bias over the last ``len(normalized_shape)`` dims.

    x: (*, *normalized_shape) → same shape. ``weight`` (ones) and ``bias``
    (zeros) have shape ``normalized_shape``; ``elementwise_affine=False``
    drops both, ``bias=False`` only the shift (as PyTorch).
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = F._normalized_shape(normalized_shape, "LayerNorm")
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps < 0:
            raise ValueError(f"LayerNorm: eps must be a non-negative number, got {eps!r}")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = mg.float32 if dtype is None else dtype
        if self.elementwise_affine:
            self.weight = Parameter(mg.ones(self.normalized_shape, dtype=dt, device=device))
            if bias:
                self.bias = Parameter(mg.zeros(self.normalized_shape, dtype=dt, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class RMSNorm(Module):
    """y = x / √(mean(x²) + eps) · weight over the last ``len(normalized_shape)`` dims, as ``torch.nn.RMSNorm``.

    x: (*, *normalized_shape) → same shape. ``weight`` (ones) has shape ``normalized_shape``;
    ``elementwise_affine=False`` drops it. ``eps=None``: the input dtype's machine epsilon.
    """

    def __init__(self, normalized_shape: Any, eps: float | None = None, elementwise_affine: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = F._normalized_shape(normalized_shape, "RMSNorm")
        if eps is not None and (not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps < 0):
            raise ValueError(f"RMSNorm: eps must be a non-negative number or None, got {eps!r}")
        self.eps = None if eps is None else float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(mg.ones(self.normalized_shape, dtype=mg.float32 if dtype is None else dtype,
                                            device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.data[...] = 1

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
