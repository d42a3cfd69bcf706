"""The input of an op whose PyTorch kernel's backward takes the input (adaptive pools, reflect/replicate padding).

minigrad builds those ops from indexing and sums, whose gradient never reads the input: under
``create_graph=True`` the first gradient then does not require grad, and a gradient penalty through the op
alone raised where PyTorch's (its backward node has the input among its inputs) requires grad and gives zeros.
"""

from __future__ import annotations

import minigrad as mg
from minigrad import Tensor

__all__ = ["in_gradient"]


def in_gradient(x: Tensor) -> Tensor:
    """``x``'s values (the same shape and dtype), made so that its gradient depends on ``x``, with an exact-zero
    derivative: one element of ``x`` (made finite and bounded, so no inf or NaN reaches the gradient) joins
    through a ``where`` that never picks it. ``x`` itself where nothing is recorded, and for complex ``x`` (left as
    it was: a first gradient that does not require grad)."""
    if not (x.requires_grad and mg.is_grad_enabled()) or x.numel() == 0 or not x.is_floating_point():
        return x
    never = mg.zeros((), dtype=mg.bool, device=x.device)
    return mg.where(never, x.reshape(-1)[0].nan_to_num().tanh(), x)
