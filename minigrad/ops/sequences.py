"""Tensors PyTorch builds from a sequence: ``combinations`` (the r-element subsets of a vector's elements),
``vander`` (its powers), ``cumulative_trapezoid`` (its running integral) and the deprecated ``chain_matmul``
(the product of a sequence of matrices).

Each is a composition of differentiable ops (indexing, ``cumprod``, ``cumsum``, ``multi_dot``), so its gradient
is those ops'. The indices of ``combinations`` depend on the vector's length and ``r`` only, never on values.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy

from .. import backend
from ..dtypes import get_default_dtype
from ..outputs import user_stacklevel
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    ShapeMismatchError,
    axis_alias,
    count_arg,
    flag,
    int_arg,
    number,
    one_axis,
    tensor_arg,
)
from .elementwise import add, mul
from .index import flip
from .join import cat
from .matrix_products import multi_dot
from .scan import cumprod, cumsum
from .shape import broadcast_to, getitem, reshape, unsqueeze

__all__ = ["chain_matmul", "combinations", "cumulative_trapezoid", "vander"]


def combinations(input: Any, r: int = 2, with_replacement: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """The r-element combinations of the elements of the 1-D x (n,), in lexicographic order of their positions
    (as Python's ``itertools.combinations``; ``with_replacement``: ``combinations_with_replacement``), as
    torch.combinations: (C, r), C the number of combinations; r = 0 gives an empty (0,) tensor."""
    name = "combinations"
    x = tensor_arg(input, name)
    if x.ndim != 1:
        raise ShapeMismatchError(f"{name}: expects a 1-D vector, got shape {x.shape}")
    r = int_arg(r, name, "r")
    if r < 0:
        raise ShapeMismatchError(f"{name}: r must be a non-negative number, got {r}")
    with_replacement = flag(with_replacement, name, "with_replacement")
    if r == 0:   # a new empty tensor, not a view of x (no gradient, as PyTorch's)
        return x.new_zeros((0,))
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    picks = numpy.fromiter(itertools.chain.from_iterable(choose(range(x.shape[0]), r)), dtype=numpy.int64)
    return getitem(x, backend.make_array(picks.reshape(-1, r), numpy.int64, x.device))


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803 - PyTorch's names
    """The Vandermonde matrix of the 1-D x (n,), as torch.vander: (n, N) with columns ``x^(N-1), …, x, 1``
    (``increasing``: ``1, x, …, x^(N-1)``), N = n by default. Integer and bool x give int64 (as PyTorch's);
    a running product of x, so the gradient is PyTorch's."""
    name = "vander"
    x = tensor_arg(x, name)
    if x.ndim != 1:
        raise ShapeMismatchError(f"{name}: x must be a one-dimensional tensor, got shape {x.shape}")
    count = x.shape[0] if N is None else count_arg(N, name, "N")
    increasing = flag(increasing, name, "increasing")
    if x.dtype.kind in "biu":
        x = x.to(dtype=numpy.int64)
    if count == 0:
        return x.new_zeros((x.shape[0], 0))
    with backend.on_device(x.device):
        ones = Tensor._make(backend.array_module(x.data).ones((x.shape[0], 1), dtype=x.dtype), False, None, 0)
    columns = ones if count == 1 else cat([ones, cumprod(broadcast_to(unsqueeze(x, -1), (x.shape[0], count - 1)),
                                                         -1)], -1)
    return columns if increasing else flip(columns, 1)


def cumulative_trapezoid(y: Any, x: Any = None, *, dx: Any = None, dim: int = -1, axis: Any = NOT_GIVEN) -> Tensor:
    """The running trapezoidal rule along ``dim`` (torch.cumulative_trapezoid): out[i] = Σ_(j ≤ i) (y[j] + y[j+1])
    / 2 · Δx_j, with sample points ``x`` (a 1-D tensor of y.shape[dim] points, or one that broadcasts with y) or a
    spacing ``dx`` (1 by default). y (…, n, …) → (…, n - 1, …); an integer y gives the default float dtype (or
    x's float dtype).

    An integer y is integrated as PyTorch's: its pair sums y[i] + y[i+1], and their products with integer
    spacings, are in the integers' dtype (wrapping as PyTorch's), integer running sums in int64, then floats.
    ``axis=`` is PyTorch's alias of ``dim=``."""
    name = "cumulative_trapezoid"
    dim = axis_alias(name, dim, axis, -1)
    y = tensor_arg(y, name)
    if y.dtype.kind == "b":
        raise ArgumentTypeError(f"{name}: received a bool input for `y`, but bool is not supported (as in PyTorch)")
    integer = y.dtype.kind in "iu"
    if y.ndim == 0:
        raise IndexError(f"{name}: dim {dim} is out of range for a 0-d tensor (PyTorch's IndexError)")
    axis = one_axis(dim, y.ndim, name)
    before = (slice(None),) * axis
    pairs = add(getitem(y, before + (slice(1, None),)), getitem(y, before + (slice(None, -1),)))   # in y's dtype
    if x is None or not isinstance(x, Tensor):
        if x is not None and dx is not None:
            raise TypeError(f"{name}: give x or dx, not both")
        step = 1.0 if dx is None and x is None else float(number(x if dx is None else dx, name, "dx"))
        return cumsum(mul(pairs.to(dtype=get_default_dtype()) if integer else pairs, step / 2), axis)
    if dx is not None:
        raise TypeError(f"{name}: give x or dx, not both")
    if x.dtype.kind == "b":
        raise ArgumentTypeError(f"{name}: received a bool input for `x`, but bool is not supported (as in PyTorch)")
    if x.ndim == 1:
        if x.shape[0] != y.shape[axis]:
            raise ShapeMismatchError(f"{name}: there must be one `x` value for each sample point: x has "
                                     f"{x.shape[0]}, y {y.shape[axis]} along dim {dim} (shape {y.shape})")
        spacing = reshape(x[1:] - x[:-1], (max(y.shape[axis] - 1, 0),) + (1,) * (y.ndim - axis - 1))
    else:
        x_axis = axis - y.ndim + x.ndim
        if x_axis < 0:
            raise ShapeMismatchError(f"{name}: x of shape {x.shape} has no dim {dim} of y's (shape {y.shape})")
        x_before = (slice(None),) * x_axis
        spacing = getitem(x, x_before + (slice(1, None),)) - getitem(x, x_before + (slice(None, -1),))
    # integer sample points: their differences in x's dtype (wrapping as PyTorch's do), then y's dtype (an
    # integer y: PyTorch's promotion of the two, an integer or x's float dtype)
    if integer and spacing.dtype.kind not in "iu":
        pairs = pairs.to(dtype=spacing.dtype)
    elif not integer and spacing.dtype.kind in "iu":
        spacing = spacing.to(dtype=y.dtype)
    try:
        numpy.broadcast_shapes(tuple(spacing.shape), tuple(pairs.shape))
    except ValueError:
        raise ShapeMismatchError(f"{name}: x of shape {x.shape} does not broadcast with y of shape {y.shape}") \
            from None
    if integer and spacing.dtype.kind in "iu":   # PyTorch: ((left + right) * dx).cumsum(dim) / 2, in int64
        return mul(cumsum(mul(pairs, spacing), axis).to(dtype=get_default_dtype()), 0.5)
    return cumsum(mul(mul(pairs, spacing), 0.5), axis)


_CHAIN_MATMUL_DEPRECATED = ("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                            "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                            "multiple parameters.")


def chain_matmul(*matrices: Any) -> Tensor:
    """The product of the 2-D ``matrices`` in the cheapest order, as the deprecated torch.chain_matmul (with its
    warning): ``linalg.multi_dot(matrices)``; one matrix gives a copy of it."""
    warnings.warn(_CHAIN_MATMUL_DEPRECATED, UserWarning, stacklevel=user_stacklevel(2))
    name = "chain_matmul"
    if not matrices:
        raise ShapeMismatchError(f"{name}: expected one or more matrices")
    items = [tensor_arg(m, name) for m in matrices]
    for i, m in enumerate(items):
        if m.ndim != 2:
            raise ShapeMismatchError(f"{name}: every tensor must be 2-D, got tensor {i} of shape {m.shape}")
    if len(items) == 1:
        return items[0].clone()
    return multi_dot(items)

