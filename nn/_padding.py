"""Constant padding as one op, shared by ``F.pad`` (``nn.functional``) and the pooling of ``nn._pool_more``."""

from __future__ import annotations

from typing import Any

import minigrad as mg

__all__ = ["ConstantPad"]


class ConstantPad(mg.Function):
    """Surround the array with ``value``: ``widths`` is NumPy's ((before, after), …) per axis, all ≥ 0."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    name = "pad"

    def __init__(self, widths: tuple, value: float) -> None:
        self.widths, self.value = widths, value

    def forward(self, x: Any) -> Any:
        self.inner = tuple(slice(before, before + n) for (before, _), n in zip(self.widths, x.shape))
        return self.xp.pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy: Any) -> Any:
        return gy[self.inner]
