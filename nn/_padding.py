"""Constant padding as one op, shared by ``F.pad`` (``nn.functional``) and the pooling of ``nn._pool_more``; and the
input check of the reflect / replicate / circular padding modules."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ._errors import InputShapeError

__all__ = ["ConstantPad", "check_pad_input"]


class _PadDimsError(ValueError, NotImplementedError):
    """An input with enough dims for the amounts but not of a rank the padding module takes: ValueError here,
    PyTorch's NotImplementedError ("Padding size 2 is not supported for 4D input tensor")."""


def check_pad_input(name: str, mode: str, input: Any, dims: int) -> None:  # noqa: A002 - PyTorch's name
    """A ``dims``-D padding module's input must be (C, *S) or (N, C, *S) with len(S) = ``dims``. Otherwise PyTorch's
    error: for reflect and replicate, RuntimeError where the input has fewer dims than are padded and
    NotImplementedError else; for circular, ValueError."""
    ndim = getattr(input, "ndim", None)
    if ndim in (dims + 1, dims + 2) and isinstance(input, mg.Tensor):
        return
    shape = getattr(input, "shape", type(input).__name__)
    spatial = ("L", "H, W", "D, H, W")[dims - 1]
    message = f"{name}: expected a {dims + 1}-D (C, {spatial}) or {dims + 2}-D (N, C, {spatial}) input, got {shape}"
    if mode == "circular" or ndim is None:
        raise ValueError(message)
    raise (InputShapeError if ndim < dims else _PadDimsError)(message)


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
