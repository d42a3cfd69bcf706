"""The layout of a gradient: C-contiguous where PyTorch's kernel writes a fresh one.

nn builds some ops from minigrad's views (``movedim``, ``transpose``) where PyTorch has one kernel: the cross-entropy
of an (N, C, H, W) input moves the classes last, an adaptive average pool moves each pooled dim. Their backward
permutes the gradient back, so the input's gradient was a permuted view (``grad.view(n, -1)``, as in a gradient
penalty, raised) where PyTorch's kernels give a C-contiguous one. :func:`contiguous_gradient` marks the start of
such an op.
"""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor


class ContiguousGradient(mg.Function):
    """The identity forward (a view of ``x``); backward, the gradient C-contiguous (a copy only where it is not)."""

    complex_grad = True   # linear: the same backward; see autograd.engine._complex_gate

    name = "alias"

    def forward(self, x: Any) -> Any:
        return x.view()

    def backward(self, gy: Any) -> Any:
        return self.xp.ascontiguousarray(gy)


def contiguous_gradient(x: Tensor) -> Tensor:
    """``x`` (the same values, any shape), its gradient laid out C-contiguous; ``x`` itself when it takes none."""
    return ContiguousGradient()(x) if x.requires_grad else x
