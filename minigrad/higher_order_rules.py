"""More rules of ``create_graph=True`` (see :mod:`minigrad.higher_order`): statistics (var, std, prod), running
sums and products, atan2/fmod/remainder, the index and rearranging ops (diagonal, triu/tril, flip, roll, gather,
scatter), nn's embedding and constant pad, and PyTorch-style custom Functions.

Each rule is the op's backward written with minigrad's own differentiable ops, PyTorch's formula where PyTorch has
one; a linear op's rule is its adjoint op (flip flips back, diagonal writes the diagonal back), whose own rule is
the op again, so it can be differentiated any number of times.
"""

from __future__ import annotations

import math
from typing import Any

from . import backend
from .autograd.custom import ONCE_DIFFERENTIABLE, DelayedError, _CustomNode
from .autograd.engine import Function
from .higher_order import (
    BINARY,
    LATE_RULES,
    IndexBackward,
    _input,
    _output,
    _shape,
    _unreduce,
    _zero,
    _zeros,
    rule,
    sum_to,
)
from .ops.arrange import DiagEmbed, Diagonal
from .ops.elementwise import Add, Div, Mul, Neg, Sub, Where
from .ops.index import Flip, Roll, Scatter, Triangle
from .ops.join import Concat, Stack, Unbind
from .ops.math import Flat
from .ops.reduce import Mean, Std, Sum, Var, _count
from .ops.scan import CumProd, CumSum, Prod
from .ops.select import Gather
from .ops.shape import GetItem, Reshape, Transpose
from .tensor import Tensor

__all__: list[str] = []


# --- statistics -------------------------------------------------------------------------------------------------

def _var_grad(node: Function, g_x: Tensor) -> Tensor:
    """PyTorch's var_backward, ``(2 / dof) * g * (x - mean(x))``, with ``g_x`` already of x's shape."""
    (centred,) = node.saved
    # x's slot holding the centred array: centring it again gives the same values, and the gradient through
    # the centring is the centring projection, as d(x - mean(x))/dx
    x_t = _input(node, 0, centred)
    c_t = Sub()(x_t, Mean(node.axis, True)(x_t))
    dof = _count(centred.shape, node.axis) - node.ddof
    scale = 2.0 / dof if dof > 0 else math.inf   # as the engine's: no degrees of freedom gives NaN
    return Mul()(Mul()(c_t, scale), g_x)


@rule(Var)
def _var(node: Function, g: Tensor) -> Tensor:
    return _var_grad(node, _unreduce(g, node.saved[0].shape, node.axis, node.keepdims))


@rule(Std)
def _std(node: Function, g: Tensor) -> Tensor:
    y = node.deviation
    zero = y == 0   # a zero deviation: gradient 0, as PyTorch's (g / (2 * 0) masked)
    y_t = Where()(zero, 1, _output(node, y))
    g_var = Where()(zero, _zero(g), Div()(g, Mul()(2, y_t)))
    return _var_grad(node, _unreduce(g_var, node.saved[0].shape, node.axis, node.keepdims))


def _along_last(x: Tensor, axes: tuple) -> tuple:
    """``x`` with ``axes`` moved to the end and merged into one, and the function that undoes it."""
    ndim = x.ndim
    rest = [a for a in range(ndim) if a not in axes]
    order = tuple(rest) + tuple(axes)
    moved = Transpose(order)(x) if order != tuple(range(ndim)) else x
    moved_shape = tuple(moved.shape)
    flat = Reshape(moved_shape[:len(rest)] + (math.prod(moved_shape[len(rest):]),))(moved)
    inverse = tuple(order.index(a) for a in range(ndim))

    def undo(y: Tensor) -> Tensor:
        y = Reshape(moved_shape)(y)
        return Transpose(inverse)(y) if inverse != tuple(range(ndim)) else y
    return flat, undo


def _exclusive_cumprod(x: Tensor, ones: Tensor) -> Tensor:
    """Along the last axis: out[..., i] = x[..., 0] · … · x[..., i-1] (1 for i = 0), exact with zeros."""
    return CumProd(x.ndim - 1)(Concat(-1)(ones, GetItem((Ellipsis, slice(None, -1)))(x)))


@rule(Prod)
def _prod(node: Function, g: Tensor) -> Tensor:
    (x,) = node.saved
    xp = node.xp
    if x.size == 0:
        return _zeros(x.shape, g)
    if x.ndim == 0:
        return g
    x_t = _input(node, 0, x)
    g_x = _unreduce(g, x.shape, node.axes, node.keepdims)
    if not (x == 0).any():   # PyTorch's: g * prod / x
        y = xp.asarray(x.prod(axis=node.axes, keepdims=True))
        out = y if node.keepdims else y.reshape(()) if node.axes is None else y.squeeze(axis=node.axes)
        y_t = _output(node, out)
        y_t = Reshape(y.shape)(y_t) if out.shape != y.shape else y_t
        return Mul()(g_x, Div()(y_t, x_t))
    # with zeros, PyTorch's prod_safe_zeros_backward: the product of the other factors, from running products
    # from the left and from the right (never a division)
    axes = tuple(range(x.ndim)) if node.axes is None else tuple(node.axes)
    flat, undo = _along_last(x_t, axes)
    ones = Tensor._make(xp.ones(tuple(flat.shape[:-1]) + (1,), dtype=x.dtype), False, None, 0)
    last = (flat.ndim - 1,)
    left = _exclusive_cumprod(flat, ones)
    right = Flip(last)(_exclusive_cumprod(Flip(last)(flat), ones))
    return Mul()(g_x, undo(Mul()(left, right)))


# --- running sums and products ---------------------------------------------------------------------------------------

def _reversed_cumsum(g: Tensor, axis: int) -> Tensor:
    """out[i] = g[i] + g[i+1] + … along ``axis`` (a cumsum from the right)."""
    return Flip((axis,))(CumSum(axis)(Flip((axis,))(g)))


@rule(CumSum)
def _cumsum(node: Function, g: Tensor) -> Tensor:
    return _reversed_cumsum(g, node.axis)


@rule(CumProd)
def _cumprod(node: Function, g: Tensor) -> Tensor:
    (x,) = node.saved
    xp, axis = node.xp, node.axis
    if x.size == 0:
        return _zeros(x.shape, g)
    x_t = _input(node, 0, x)
    if not (x == 0).any():   # PyTorch's: reversed_cumsum(g * y) / x
        y_t = _output(node, xp.cumprod(x, axis=axis))
        return Div()(_reversed_cumsum(Mul()(g, y_t), axis), x_t)
    # with zeros: grad[i] = L[i] · S[i], L the product before i and S[i] = g[i] + x[i+1] · S[i+1], as the
    # engine's CumProd.backward, one slice at a time (exact, no division)
    n = x.shape[axis]
    xs, gs = Unbind(axis, n)(x_t), Unbind(axis, n)(g)
    suffix = [gs[n - 1]]
    for i in range(n - 2, -1, -1):
        suffix.append(Add()(gs[i], Mul()(xs[i + 1], suffix[-1])))
    suffix.reverse()
    grads, left = [suffix[0]], xs[0]
    for i in range(1, n):
        grads.append(Mul()(left, suffix[i]))
        if i < n - 1:
            left = Mul()(left, xs[i])
    return Stack(axis)(*grads)


# --- binary math (math.Binary, by name) ------------------------------------------------------------------------------

def _square(xp: Any, v: Any) -> Any:
    """v * v: a Tensor on the graph, or an array on the device of the rest for a constant (a Python number)."""
    return Mul()(v, v) if isinstance(v, Tensor) else xp.asarray(v) * v


def _atan2(node: Function, g: Tensor) -> tuple:
    a, b, _ = node.saved
    xp = node.xp
    a_t, b_t = _input(node, 0, a), _input(node, 1, b)
    with backend.errstate(xp, divide="ignore", over="ignore"):
        origin = xp.isinf(1 / (xp.asarray(a) * a + xp.asarray(b) * b))   # as the engine's: 0 at the origin
    radius2 = Where()(origin, 1, Add()(_square(xp, a_t), _square(xp, b_t)))
    recip = Where()(origin, _zero(g), Div()(1, radius2))
    return (sum_to(Mul()(Mul()(g, b_t), recip), _shape(a)) if node.edges[0] is not None else None,
            sum_to(Mul()(Mul()(Neg()(g), a_t), recip), _shape(b)) if node.edges[1] is not None else None)


def _rounded_quotient(node: Function, g: Tensor, quotient: Any) -> tuple:
    """fmod/remainder: ``a - q(a / b) * b`` with q piecewise constant (trunc, floor): ``g`` for a, ``-g * q`` for b."""
    a, b, _ = node.saved
    return (sum_to(g, _shape(a)) if node.edges[0] is not None else None,
            sum_to(Mul()(g, -quotient), _shape(b)) if node.edges[1] is not None else None)


def _fmod(node: Function, g: Tensor) -> tuple:
    a, b, _ = node.saved
    with backend.errstate(node.xp, divide="ignore", invalid="ignore"):
        return _rounded_quotient(node, g, node.xp.trunc(a / b))


def _remainder(node: Function, g: Tensor) -> tuple:
    a, b, _ = node.saved
    with backend.errstate(node.xp, divide="ignore", invalid="ignore"):
        return _rounded_quotient(node, g, node.xp.floor_divide(a, b))


BINARY.update(atan2=_atan2, fmod=_fmod, remainder=_remainder)


# --- rearranging and indexing: each rule is the op's adjoint ---------------------------------------------------------

@rule(Flip)
def _flip(node: Function, g: Tensor) -> Tensor:
    return Flip(node.axes)(g)


@rule(Roll)
def _roll(node: Function, g: Tensor) -> Tensor:
    return Roll(tuple(-s for s in node.shifts), node.axes)(g)


@rule(Triangle)
def _triangle(node: Function, g: Tensor) -> Tensor:
    return Triangle(node.k, node.upper)(g)


@rule(Diagonal)
def _diagonal(node: Function, g: Tensor) -> Tensor:
    return DiagEmbed(node.offset, node.axis1, node.axis2, node.in_shape)(g)


@rule(DiagEmbed)
def _diag_embed(node: Function, g: Tensor) -> Tensor:
    return Diagonal(node.offset, node.axis1, node.axis2)(g)


@rule(Gather)
def _gather(node: Function, g: Tensor) -> Tensor:
    if node.squeeze:
        g = Reshape(tuple(node.index.shape))(g)
    return Scatter(node.axis, node.index, True)(_zeros(node.in_shape, g), g)   # scatter_add into zeros


@rule(Scatter)
def _scatter(node: Function, g: Tensor) -> tuple:
    gx = gsrc = None
    if node.edges[0] is not None:   # all of g for scatter_add; with the written places zeroed for scatter
        gx = g if node.add else Scatter(node.axis, node.index, False)(g, 0.0)
    if node.edges[1] is not None:   # g gathered at index, into the leading part of src
        picked = Gather(node.axis, node.index)(g)
        if node.src_shape == ():
            gsrc = Sum(None, False)(picked)
        elif tuple(node.src_shape) != tuple(node.index.shape):
            gsrc = IndexBackward(node.src_shape, tuple(slice(0, n) for n in node.index.shape))(picked)
        else:
            gsrc = picked
    return gx, gsrc


# --- ops defined in nn (by name: minigrad never imports nn) ----------------------------------------------------------

def _constant_pad(node: Function, g: Tensor) -> Tensor:
    return GetItem(node.inner)(g)


def _embedding(node: Function, g: Tensor) -> Tensor:
    """The rows of ``g`` added into the table's rows (repeated indices accumulate), as EmbeddingLookup.backward:
    none into ``padding_idx``; each over its index's count with ``scale_grad_by_freq``."""
    xp, indices = node.xp, node.indices
    factor = None
    if node.padding_idx is not None:
        factor = (indices != node.padding_idx).astype(g.dtype)
    if node.scale_grad_by_freq:
        counts = xp.bincount(indices.reshape(-1), minlength=node.weight_shape[0])
        share = (1 / counts[indices]).astype(g.dtype)
        factor = share if factor is None else factor * share
    if factor is not None:
        g = Mul()(g, factor[..., None])
    return IndexBackward(node.weight_shape, indices)(g)


LATE_RULES["nn._padding.ConstantPad"] = _constant_pad
LATE_RULES["nn._embedding.EmbeddingLookup"] = _embedding


# --- PyTorch-style custom Functions: their own backward, recorded -------------------------------------------------

@rule(_CustomNode)
def _custom(node: Function, g: Any) -> tuple:
    return node.recorded_backward(g if node.multiple else [g])


@rule(DelayedError)
def _delayed_error(node: Function, g: Tensor) -> Tensor:
    raise RuntimeError(ONCE_DIFFERENTIABLE)


@rule(Flat)
def _flat(node: Function, g: Tensor) -> Tensor:   # floor, sign …: PyTorch's zeros_like(grad), a constant
    return _zeros(tuple(g.shape), g)
