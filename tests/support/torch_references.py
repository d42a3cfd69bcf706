"""PyTorch's ops with one documented rule written out: the references of tests/test_fuzz_torch.py.

Each is PyTorch's op where PyTorch is right (a test there checks that), and differs only where
PyTorch departs from IEEE 754 or multiplies a gradient by a mask; ``Resync`` hands minigrad's
numbers on to the PyTorch graph so that both frameworks go on from the same values.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np
from helpers import assert_ieee_close

import minigrad as mg


class References(NamedTuple):
    selecting_amax: Any   # torch.amax/amin whose gradient selects (and, for max/min over dims, NaNs share)
    nan_keeping_logcumsumexp: Any   # torch.logcumsumexp whose gradient keeps a NaN from above
    resync: Any           # the identity that hands minigrad's numbers on, both ways


@functools.cache
def reference_ops(torch: Any) -> References:
    """torch.autograd.Functions that are PyTorch's op except for one documented rule."""

    class SelectingAmax(torch.autograd.Function):
        """torch.amax/amin over ``dims`` whose gradient selects: ties share g, the rest get 0 (PyTorch
        multiplies g by the mask, so an infinite g gives NaN there). On a line whose result is NaN, the NaNs
        share g (``nan_spreads=False``, minigrad's max/min over dims, as torch.max()) or the whole line gets
        NaN (``nan_spreads=True``: amax/amin/aminmax, as PyTorch's)."""

        @staticmethod
        def forward(ctx: Any, x: Any, dims: tuple, keepdim: bool, smallest: bool, nan_spreads: bool = False) -> Any:
            y = (torch.amin if smallest else torch.amax)(x, dim=dims, keepdim=True)
            ctx.save_for_backward(x, y)
            ctx.dims, ctx.keepdim, ctx.nan_spreads = dims, keepdim, nan_spreads
            return y if keepdim else y.squeeze(dims) if dims else y

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple:
            x, y = ctx.saved_tensors
            if not ctx.keepdim:
                for d in sorted(ctx.dims):
                    g = g.unsqueeze(d)
            ties = (x == y) if ctx.nan_spreads else (x == y) | (x.isnan() & y.isnan())
            count = ties.sum(dim=ctx.dims, keepdim=True)
            out = torch.where(ties, g / count, torch.zeros_like(x))
            if ctx.nan_spreads:
                out = torch.where(count == 0, torch.full_like(out, float("nan")), out)
            return out, None, None, None, None

    class NanKeepingLogcumsumexp(torch.autograd.Function):
        """torch.logcumsumexp along ``dim``, whose gradient is NaN at every x[k] that feeds an output with a
        NaN gradient from above (PyTorch's backward splits g by ``where(g > 0, …)`` and ``where(g < 0, …)``,
        so a NaN in g counts as 0)."""

        @staticmethod
        def forward(ctx: Any, x: Any, dim: int) -> Any:
            ctx.save_for_backward(x)
            ctx.dim = dim
            return torch.logcumsumexp(x, dim)

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple:
            (x,) = ctx.saved_tensors
            with torch.enable_grad():
                leaf = x.detach().requires_grad_()
                (gx,) = torch.autograd.grad(torch.logcumsumexp(leaf, ctx.dim), leaf, g)
            nan = g.isnan()
            if x.ndim:   # x[k] feeds the outputs k, k + 1, …: a NaN there or later along dim
                nan = nan.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim) > 0
            return torch.where(nan, torch.full_like(gx, float("nan")), gx), None

    class Resync(torch.autograd.Function):
        """Identity, except that both ways it hands on minigrad's numbers (checked equal up to rounding).

        Forward: minigrad's value of this op. Backward: minigrad's gradient of it, after comparing it
        with the gradient PyTorch computed; a mismatch is recorded in ``mismatches``.
        """

        @staticmethod
        def forward(ctx: Any, t: Any, value: Any, ours: mg.Tensor, mismatches: list, what: str) -> Any:
            ctx.ours, ctx.mismatches, ctx.what = ours, mismatches, what
            return value

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple:
            if g._is_zerotensor():   # torch.sgn's gradient: a lazy zero tensor, which has no NumPy view
                g = torch.zeros(g.shape, dtype=g.dtype)
            if ctx.ours.grad is None and not g.any():   # no gradient on either side (torch's None arrives as zeros):
                return None, None, None, None, None      # send none on, as minigrad does (0 · inf below is no NaN)
            ours = ctx.ours.grad.numpy() if ctx.ours.grad is not None else np.zeros(ctx.ours.shape)
            try:
                assert_ieee_close(ours, g, ctx.what)
            except AssertionError as failure:
                ctx.mismatches.append(str(failure))
                return g, None, None, None, None
            return torch.from_numpy(ours.copy()), None, None, None, None

    return References(SelectingAmax, NanKeepingLogcumsumexp, Resync)
