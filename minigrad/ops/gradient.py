"""``torch.gradient``: a function's derivative estimated from its samples by finite differences, along one or
more dims (second-order central differences inside, first- or second-order one-sided ones at the edges, as
``numpy.gradient``). The samples may be evenly spaced (a scalar spacing per dim) or at given coordinates (one 1-D
tensor per dim).

A composition of differentiable ops (slices, products, sums), so it is differentiable in the input and in the
coordinates.
"""

from __future__ import annotations

import numbers
from typing import Any

from ..dtypes import get_default_dtype
from ..tensor import Tensor
from ._util import NOT_GIVEN, ArgumentTypeError, int_arg, tensor_arg
from .join import cat
from .shape import getitem, reshape

__all__ = ["gradient"]


def _dims(dim: Any, ndim: int, name: str) -> list:
    """``dim`` (None: every dim; an int; a sequence) as non-negative dims, each once."""
    if dim is None:
        return list(range(ndim))
    items = list(dim) if isinstance(dim, (list, tuple)) else [dim]
    out = []
    for d in items:
        d = int_arg(d, name, "dim")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{name}: Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
                             f"{max(ndim, 1) - 1}], but got {d})")
        d %= max(ndim, 1)
        if d in out:
            raise RuntimeError(f"{name}: dim {d} appears multiple times in the list of dims")
        out.append(d)
    return out


def _spacings(spacing: Any, dims: list, dim_given: bool, ndim: int, name: str) -> list:
    """One spacing per dim: a number, or a 1-D coordinate Tensor."""
    if isinstance(spacing, Tensor):
        raise TypeError(f"{name}: spacing must be a number or a list of numbers or of 1-D tensors, not a Tensor "
                        "(as torch.gradient; wrap it in a list)")
    if isinstance(spacing, numbers.Number) and not isinstance(spacing, bool):
        if isinstance(spacing, numbers.Complex) and not isinstance(spacing, numbers.Real):
            raise NotImplementedError(f"{name}: a complex spacing is not supported (minigrad has no complex dtype)")
        return [spacing] * len(dims)
    if not isinstance(spacing, (list, tuple)):
        raise TypeError(f"{name}: spacing must be a number or a list of numbers or of 1-D tensors, got "
                        f"{type(spacing).__name__}")
    if len(spacing) != len(dims):
        if dim_given:
            raise RuntimeError(f"{name}: expected spacing to be unspecified, a scalar or it's spacing and dim "
                               f"arguments to have the same length, but got a spacing argument of length "
                               f"{len(spacing)} and a dim argument of length {len(dims)}.")
        raise RuntimeError(f"{name}: expected spacing to be unspecified, a scalar, or a list of length equal to "
                           f"'self.dim() = {ndim}', since dim argument was not given, but got a list of length "
                           f"{len(spacing)}")
    kinds = {isinstance(s, Tensor) for s in spacing}
    if len(kinds) > 1:
        raise TypeError(f"{name}: spacing must be all numbers or all 1-D tensors, got {spacing!r:.80}")
    for s in spacing:
        if isinstance(s, Tensor):
            if s.ndim != 1:
                raise RuntimeError(f"{name}: expected each element of spacing to have one dimension, but got an "
                                   f"element with {s.ndim} dimensions!")
        elif isinstance(s, bool) or not isinstance(s, numbers.Real):
            raise TypeError(f"{name}: each spacing must be a real number or a 1-D tensor, got {s!r:.60}")
    return list(spacing)


def _along(x: Tensor, axis: int, part: Any) -> Tensor:
    return getitem(x, (slice(None),) * axis + (part,))


def _uniform(f: Tensor, axis: int, h: float, edge_order: int) -> Tensor:
    """Differences of samples ``h`` apart along ``axis``."""
    inner = (_along(f, axis, slice(2, None)) - _along(f, axis, slice(None, -2))) / (2 * h)
    f0, f1, f2 = (_along(f, axis, slice(i, i + 1)) for i in range(3)) if edge_order == 2 else \
        (_along(f, axis, slice(0, 1)), _along(f, axis, slice(1, 2)), None)
    l0, l1 = _along(f, axis, slice(-1, None)), _along(f, axis, slice(-2, -1))
    if edge_order == 1:
        first, last = (f1 - f0) / h, (l0 - l1) / h
    else:
        l2 = _along(f, axis, slice(-3, -2))
        first = (f0 * -1.5 + f1 * 2.0 - f2 * 0.5) / h
        last = (l2 * 0.5 - l1 * 2.0 + l0 * 1.5) / h
    return cat([first, inner, last], axis)


def _coordinates(f: Tensor, axis: int, x: Tensor, edge_order: int) -> Tensor:
    """Differences of samples at coordinates ``x`` (n,) along ``axis``."""
    n = f.shape[axis]
    dx = reshape(x[1:] - x[:-1], (n - 1,) + (1,) * (f.ndim - axis - 1))   # broadcasts along axis
    dx1, dx2 = dx[:-1], dx[1:]
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    inner = a * _along(f, axis, slice(None, -2)) + b * _along(f, axis, slice(1, -1)) \
        + c * _along(f, axis, slice(2, None))
    f0, f1 = _along(f, axis, slice(0, 1)), _along(f, axis, slice(1, 2))
    l0, l1 = _along(f, axis, slice(-1, None)), _along(f, axis, slice(-2, -1))

    def edge(coefficient: Tensor) -> Tensor:   # PyTorch's edge coefficients are 0-d: they take f's dtype
        return coefficient if coefficient.dtype == f.dtype else coefficient.to(dtype=f.dtype)

    if edge_order == 1:
        first, last = (f1 - f0) / edge(dx[:1]), (l0 - l1) / edge(dx[-1:])
    else:
        f2, l2 = _along(f, axis, slice(2, 3)), _along(f, axis, slice(-3, -2))
        h1, h2 = dx[:1], dx[1:2]
        first = edge(-(2 * h1 + h2) / (h1 * (h1 + h2))) * f0 + edge((h1 + h2) / (h1 * h2)) * f1 \
            + edge(-h1 / (h2 * (h1 + h2))) * f2
        h1, h2 = dx[-2:-1], dx[-1:]
        last = edge(h2 / (h1 * (h1 + h2))) * l2 + edge(-(h2 + h1) / (h1 * h2)) * l1 \
            + edge((2 * h2 + h1) / (h2 * (h1 + h2))) * l0
    return cat([first, inner, last], axis)


def gradient(input: Tensor, *, spacing: Any = 1, dim: Any = None, edge_order: int = 1,  # noqa: A002
             axis: Any = NOT_GIVEN) -> Any:
    """The derivative of the function sampled by ``input`` along each of ``dim`` (None: every dim), as
    torch.gradient: a tuple of tensors of input's shape, one per dim. ``spacing``: one number for every dim, a
    list of numbers (one per dim), or a list of 1-D coordinate tensors (one per dim, as long as that dim).
    Inside, central differences (second order, also for uneven coordinates); at the edges, one-sided
    differences of order ``edge_order`` (1 or 2; each dim needs ``edge_order + 1`` samples). An integer input
    gives the default float dtype.

    NumPy's ``axis=`` gives ``np.gradient``'s result (the same values): one tensor, not a tuple, when it names
    one dim (or the input is 1-D), and float64 for an integer input.
    """
    name = "gradient"
    if axis is not NOT_GIVEN:
        if dim is not None:
            raise TypeError(f"{name}: give dim= (PyTorch) or axis= (NumPy), not both")
        x = tensor_arg(input, name)
        parts = gradient(x.double() if x.dtype.kind in "iu" else x, spacing=spacing, dim=axis, edge_order=edge_order)
        return parts[0] if len(parts) == 1 else parts
    f = tensor_arg(input, name)
    if f.dtype.kind == "b":
        raise ArgumentTypeError(f"{name}: a bool input is not supported (PyTorch's subtraction of two bool tensors)")
    if f.dtype.kind == "u":   # PyTorch refuses uint8 (its differences would wrap)
        raise ArgumentTypeError(f"{name}: torch.gradient does not support {f.dtype} input (shape {f.shape})")
    edge_order = int_arg(edge_order, name, "edge_order")
    if edge_order not in (1, 2):
        raise RuntimeError(f"{name}: torch.gradient only supports edge_order=1 and edge_order=2.")
    if spacing is None:
        spacing = 1
    dims = _dims(dim, f.ndim, name)
    if f.ndim == 0:
        return ()
    steps = _spacings(spacing, dims, dim is not None, f.ndim, name)
    for d in dims:
        if f.shape[d] < edge_order + 1:
            raise RuntimeError(f"{name}: expected each dimension size to be at least edge_order+1, got size "
                               f"{f.shape[d]} for dim {d} (shape {f.shape}, edge_order {edge_order})")
    for d, step in zip(dims, steps):
        if isinstance(step, Tensor) and step.shape[0] != f.shape[d]:
            raise RuntimeError(f"{name}: the coordinates for dim {d} have {step.shape[0]} values, but that dim of "
                               f"the input (shape {f.shape}) has {f.shape[d]} samples")
    if f.dtype.kind in "iu":
        f = f.to(dtype=get_default_dtype())
    out = []
    for d, step in zip(dims, steps):
        if isinstance(step, Tensor):   # coefficients in the coordinates' dtype (integers: the default float)
            x = step if step.dtype.kind == "f" else step.to(dtype=get_default_dtype())
            out.append(_coordinates(f, d, x, edge_order))
        else:
            out.append(_uniform(f, d, step, edge_order))
    return tuple(out)
