"""Matrix product with NumPy's ``matmul`` semantics (1-D operands, batch broadcasting)."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Function, ProductSum
from ..tensor import Tensor
from ._util import sum_to


class MatMul(Function):
    def forward(self, a: Any, b: Any) -> Any:
        if getattr(a, "ndim", 0) == 0 or getattr(b, "ndim", 0) == 0:
            raise ValueError("matmul: both operands need at least one dimension (use * for scalars)")
        inner_a, inner_b = a.shape[-1], b.shape[-2 if b.ndim > 1 else 0]
        if inner_a != inner_b:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                             f"({inner_a} columns against {inner_b} rows)")
        self.saved = (a, b)
        return a @ b

    def backward(self, gy: Any) -> tuple:
        a, b = self.saved
        if a.ndim == 2 and b.ndim == 2:   # the usual case: plain matrices
            ga = gy @ b.T if self.needs_grad[0] else None
            # aᵀ gy, summed by the engine with b's other uses in one GEMM (see ProductSum)
            return ga, ProductSum(a, gy) if self.needs_grad[1] else None
        xp = self.xp
        # Promote 1-D operands to matrices, as matmul does, and give gy the
        # axes they lost: b first (gy's last axis), then a (its second-to-last).
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = gy[..., None] if b.ndim == 1 else gy
        g2 = g2[..., None, :] if a.ndim == 1 else g2
        ga = gb = None
        if self.needs_grad[0]:
            ga = sum_to(g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # weights shared over a batch of matrices: one GEMM over all rows (counted, not -1:
                # NumPy cannot infer -1 when k or m is 0)
                (k, m), rows = b2.shape, math.prod(a2.shape[:-1])
                gb = a2.reshape(rows, k).T @ g2.reshape(rows, m)
            else:
                gb = sum_to(xp.swapaxes(a2, -1, -2) @ g2, b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b`` as ``numpy.matmul``: (…, n, k) @ (…, k, m) → (…, n, m)."""
    return MatMul()(a, b)
