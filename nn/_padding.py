"""Constant padding as one op, shared by ``F.pad`` (``nn.functional``) and the pooling of ``nn._pool_more``; and the
input check of the reflect / replicate / circular padding modules."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ._conv import _ints, _python_tuple
from ._errors import ArgumentFormError, InputShapeError

__all__ = ["ConstantPad", "check_pad_input", "pad_amounts"]


class _PadDimsError(ValueError, NotImplementedError):
    """An input with enough dims for the amounts but not of a rank the padding module takes: ValueError here,
    PyTorch's NotImplementedError ("Padding size 2 is not supported for 4D input tensor")."""


def pad_amounts(padding: Any, dims: int, name: str) -> tuple:
    """A padding module's ``padding``: an int for both sides of each of its ``dims`` dims, or F.pad's amounts
    (left, right[, top, bottom[, front, back]]) from the last dim. As PyTorch's modules, a sequence for fewer or
    more dims than the module's is taken as given (``ZeroPad2d((1, 2))`` pads the last dim only)."""
    if isinstance(padding, (tuple, list)) and len(padding) in (2, 4, 6):
        return _ints(padding, len(padding), name, "padding", None)
    if isinstance(padding, (tuple, list)) and len(padding) % 2:   # not spread, as PyTorch's F.pad refuses it
        raise ArgumentFormError(f"{name}: padding length must be divisible by 2 (a (before, after) pair per dim, "
                                f"from the last), got {padding!r}")
    padding = _python_tuple(padding, name, "padding")   # PyTorch's _ntuple: a 0-d tensor or array is its TypeError,
    if not isinstance(padding, (tuple, list)):          # anything else not iterable repeated (an __index__ object)
        padding = (padding,) * (2 * dims)
    return _ints(padding, 2 * dims, name, "padding", None)


def check_pad_input(name: str, mode: str, input: Any, dims: int, padded: int) -> None:  # noqa: A002
    """The input of a ``dims``-D reflect / replicate / circular padding module whose amounts pad ``padded`` dims
    (``dims`` unless given another number of amounts) must be (C, *S) or (N, C, *S) with len(S) = ``padded``.
    Otherwise PyTorch's errors: a circular pad first checks its input against ``dims`` (a ValueError); then a
    RuntimeError where the input has fewer dims than are padded, else a NotImplementedError."""
    ndim = getattr(input, "ndim", None)
    for rank, circular in ((dims, True), (padded, False)):
        if (circular and mode != "circular") or (ndim in (rank + 1, rank + 2) and isinstance(input, mg.Tensor)):
            continue
        spatial = ("L", "H, W", "D, H, W")[rank - 1]
        message = (f"{name}: expected a {rank + 1}-D (C, {spatial}) or {rank + 2}-D (N, C, {spatial}) input, got "
                   f"{getattr(input, 'shape', type(input).__name__)}")
        if circular or ndim is None:
            raise ValueError(message)
        raise (InputShapeError if ndim < rank else _PadDimsError)(message)


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
