"""Layouts PyTorch's kernels give where minigrad's composed ops would give others.

A gradient: C-contiguous where PyTorch's kernel writes a fresh one.

nn builds some ops from minigrad's views (``movedim``, ``transpose``) where PyTorch has one kernel: the cross-entropy
of an (N, C, H, W) input moves the classes last, an adaptive average pool moves each pooled dim. Their backward
permutes the gradient back, which leaves the input's gradient a permuted view (on which ``grad.view(n, -1)``, as in
a gradient penalty, raises) where PyTorch's kernels give a C-contiguous one. :func:`contiguous_gradient` marks the
start of such an op, so its gradient is C-contiguous.

A result: channels-last where PyTorch's convolution, pooling, upsampling and padding kernels allocate it so
(``suggest_memory_format`` of a channels-last input), which NumPy's steps (an im2col, a gather) do not keep:
:func:`channels_last_as` lays such a result out so (``y.is_contiguous(memory_format=mg.channels_last)`` as in
PyTorch).
"""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor, memory_formats


class ContiguousGradient(mg.Function):
    """The identity forward (a view of ``x``); backward, the gradient C-contiguous (a copy only where it is not)."""

    complex_grad = True   # linear: the same backward; see autograd.engine._complex_gate

    name = "alias"

    def forward(self, x: Any) -> Any:
        return x.view()

    def backward(self, gy: Any) -> Any:
        return self.xp.ascontiguousarray(gy)


class FormatGradient(mg.Function):
    """The identity forward (a view of ``x``); backward, the gradient laid out in the memory format ``fmt`` (a copy
    only where it is not)."""

    complex_grad = True   # linear: the same backward; see autograd.engine._complex_gate

    name = "alias"

    def __init__(self, fmt: Any) -> None:
        self.fmt = fmt

    def forward(self, x: Any) -> Any:
        return x.view()

    def backward(self, gy: Any) -> Any:
        return memory_formats.in_format(gy, self.fmt, "gradient")


def gradient_in_suggested_format(x: Tensor) -> Tensor:
    """``x`` (the same values), its gradient laid out channels-last where ``x`` suggests that format, as PyTorch's
    kernels allocate their grad_input (group_norm's); ``x`` itself otherwise (C order: the composed ops' own)."""
    fmt = channels_last_format(x.ndim, x) if x.requires_grad else None
    return x if fmt is None else FormatGradient(fmt)(x)


def contiguous_gradient(x: Tensor) -> Tensor:
    """``x`` (the same values, any shape), its gradient laid out C-contiguous; ``x`` itself when it takes none."""
    return ContiguousGradient()(x) if x.requires_grad else x


def channels_last_format(ndim: int, *sources: Tensor) -> Any:
    """The channels-last memory format PyTorch's kernels allocate an (N, C, *S) result of ``ndim`` dims in, when one
    of ``sources`` (the input; a convolution's weight too) of that rank suggests it; else None (C order)."""
    if ndim not in (4, 5) or all(memory_formats.suggests_c_order(x.data) for x in sources):   # (the usual case)
        return None
    fmt = memory_formats.channels_last if ndim == 4 else memory_formats.channels_last_3d
    if any(x.ndim == ndim and memory_formats.suggest(tuple(x.shape), x.stride()) is fmt for x in sources):
        return fmt
    return None


def channels_last_as(y: Tensor, *sources: Tensor) -> Tensor:
    """``y``, a new (N, C, *S) result, in channels-last layout when one of ``sources`` (the input; a convolution's
    weight too) of its rank has that suggested memory format, as PyTorch's kernels allocate it; else ``y`` in C
    order (itself when it is: NumPy's steps keep a permuted input's order, ``pad`` and ``interpolate`` of one)."""
    fmt = channels_last_format(y.ndim, *sources)
    return y.contiguous() if fmt is None else y.contiguous(memory_format=fmt)


def input_gradient_order(x: Any) -> tuple | None:
    """The order of dims (outermost first) in which PyTorch's pooling kernels allocate the gradient of their input,
    an array ``x`` (N, C, *S): its suggested memory format (a 1-d pool's (N, C, L) as its 2-d kernel reads it,
    unsqueezed at -2), so a channels-last input gets a channels-last gradient; None for C order."""
    if memory_formats.suggests_c_order(x):   # (the usual case: one flags check)
        return None
    shape, strides = x.shape, tuple(s // x.itemsize for s in x.strides)
    if x.ndim == 3:
        shape, strides = (shape[0], shape[1], 1, shape[2]), (strides[0], strides[1], strides[2] * shape[2], strides[2])
    fmt = memory_formats.suggest(shape, strides)
    if fmt is memory_formats.channels_last:
        return (0, 2, 1) if x.ndim == 3 else (0, 2, 3, 1)
    return (0, 2, 3, 4, 1) if fmt is memory_formats.channels_last_3d else None


def in_order(g: Any, order: tuple | None) -> Any:
    """``g`` (an array) laid out densely with its dims in ``order`` (outermost first; None: ``g`` itself)."""
    if order is None:
        return g
    out = memory_formats.new_in_order(mg.array_module(g), g.shape, g.dtype, order)
    out[...] = g
    return out
