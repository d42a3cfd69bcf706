"""Rules of ``create_graph=True`` (see :mod:`minigrad.higher_order`) for writes at indices and into views
(index_add/index_copy/index_put, masked_scatter, scatter_reduce, the ``*_scatter`` ops, fill), the strided
reads (diag, Tensor.unfold, as_strided), einsum, and the linear algebra commonly differentiated twice (inv,
solve and solve_triangular, det, slogdet/logdet, pinv, cholesky, cholesky_solve/cholesky_inverse, matrix_exp,
eigh/eigvalsh, qr, svd, the LU family).

A write is linear in the written tensor and in what it writes: its rule reads the gradient back through the
same places (a gather) and zeroes them in the gradient of the tensor written into (the write again, of zeros),
so each rule's own rule exists and the gradient can be differentiated any number of times. The linear algebra
rules are PyTorch's formulas written with the ops themselves (``inv``'s gradient uses ``inv``'s output), with
conjugate transposes (ᴴ), so that they hold for complex inputs too (the holomorphic ones, inv/solve/det/matrix_exp
and einsum, run as ``conj(rule(conj(g)))``: see higher_order_rules).
"""

from __future__ import annotations

import math
from typing import Any

from . import backend
from .autograd.engine import Function
from .higher_order import (
    IndexBackward,
    _input,
    _output,
    _select,
    _swap_last,
    _zero,
    _zeros,
    rule,
    sum_to,
)
from .ops.arrange import DiagEmbed, Diagonal
from .ops.arrange import Unfold as WindowsAlong
from .ops.cholesky_solve import CholeskyInverse, CholeskySolve, cholesky_inverse_grad, cholesky_solve_grads
from .ops.complex_ops import Complex, Conj, Imag, Real
from .ops.contract import Einsum
from .ops.decompositions import (
    QR,
    SVD,
    Cholesky,
    EigenValues,
    Eigh,
    PseudoInverse,
    SingularValues,
    _svd_phase_term,
)
from .ops.elementwise import Add, Div, Mul, Neg, Sub, Where
from .ops.index import Diag, Triangle
from .ops.index_write import IndexPutAdd, IndexWrite, MaskedScatter, ScatterReduce
from .ops.inplace import SetItem
from .ops.join import Concat
from .ops.linalg import MatMul
from .ops.lu import LUFactor, LUSolve
from .ops.matrix_functions import MatrixExp
from .ops.order_stats import Quantile
from .ops.reduce import Sum
from .ops.scatters import _Embed, _EmbedAt, _EmbedDiagonal, _EmbedStrided
from .ops.shape import AsType, BroadcastTo, GetItem, Reshape
from .ops.solvers import Det, Inverse, SignLogDet, Solve, TriangularSolve
from .ops.strided import AsStrided, _may_overlap, _places, _span
from .ops.torch_functions import Fill
from .tensor import Tensor

__all__ = ["ViewRead"]


def _constant(array: Any) -> Tensor:
    return Tensor._make(array, False, None, 0)


def _first(node: Function, grads: Any) -> Any:
    """The gradient of output 0 (a node with an ``info`` output, ``inv_ex`` …, gets a list; its info has none)."""
    return grads[0] if node.multiple else grads


# --- writes at indices ------------------------------------------------------------------------------------------------

def _zeroed_at(g: Tensor, index: Any) -> Tensor:
    """``g`` with the places ``index`` names set to 0: a write of zeros (linear in ``g``; its rule zeroes again)."""
    return SetItem(index)(g, _zero(g))


@rule(SetItem)
def _setitem(node: Function, g: Tensor) -> tuple:
    gx = _zeroed_at(g, node.index) if node.edges[0] is not None else None
    gv = None
    if node.edges[1] is not None:
        gv = sum_to(GetItem(node.index)(g), node.value_shape)
        if node.value_dtype is not None and gv.dtype != node.value_dtype:
            gv = AsType(node.value_dtype)(gv)
    return gx, gv


@rule(IndexPutAdd)
def _index_put_add(node: Function, g: Tensor) -> tuple:
    return (g if node.edges[0] is not None else None,
            sum_to(GetItem(node.index)(g), node.values_shape) if node.edges[1] is not None else None)


@rule(IndexWrite)
def _index_write(node: Function, g: Tensor) -> tuple:   # index_add, index_copy
    where = (slice(None),) * node.axis + (node.saved[0],)
    gx = None
    if node.edges[0] is not None:
        gx = g if node.add else _zeroed_at(g, where)
    return gx, (GetItem(where)(g) if node.edges[1] is not None else None)


@rule(MaskedScatter)
def _masked_scatter(node: Function, g: Tensor) -> tuple:
    (mask,) = node.saved
    gx = Where()(mask, _zero(g), g) if node.edges[0] is not None else None
    gsource = None
    if node.edges[2] is not None:   # the first `count` elements of source were written, in row-major order
        picked = GetItem(mask)(g)
        size = math.prod(node.source_shape)
        flat = IndexBackward((size,), slice(0, picked.shape[0]))(picked) if picked.shape[0] != size else picked
        gsource = Reshape(tuple(node.source_shape))(flat)
    return gx, None, gsource


@rule(ScatterReduce)
def _scatter_reduce(node: Function, g: Tensor) -> tuple:
    xp = node.xp
    x, src, out = node.saved
    where, reduce = node._where(xp), node.reduce
    if reduce == "sum":
        gx, gpart = g, GetItem(where)(g)
    elif reduce == "mean":
        counts = node._counts(xp, where, tuple(g.shape), g.dtype)
        gx, gpart = Div()(g, counts), Div()(GetItem(where)(g), counts[where])
    elif reduce == "prod":
        gx, gpart = _scatter_prod_grads(node, g, where)
    elif reduce in ("amax", "amin"):   # shared equally among the values equal to the result (masks: constants)
        x_is, part_is = x == out, node._part(src) == out[where]
        ties = x_is.astype(g.dtype)
        backend.scatter_add(xp, ties, where, part_is.astype(g.dtype))
        shared = Div()(g, ties)
        gx, gpart = _select(x_is, shared), _select(part_is, GetItem(where)(shared))
    else:
        raise NotImplementedError(f"create_graph=True: no higher-order gradient for {node.name} with reduce="
                                  f"{reduce!r} yet; its first-order backward "
                                  "works: leave create_graph=False")
    if not node.include_self:
        gx = _zeroed_at(gx, where)
    gsrc = None
    if node.edges[1] is not None:
        gsrc = gpart if src.shape == node.index.shape else \
            IndexBackward(src.shape, tuple(slice(0, n) for n in node.index.shape))(gpart)
    return (gx if node.edges[0] is not None else None), gsrc


def _scatter_prod_grads(node: Function, g: Tensor, where: tuple) -> tuple:
    """The engine's (PyTorch's) prod gradients with the op itself: x gets g · (the product with x read as 1 where
    it is 0) / x; a src value gets g · out / itself, or where it is the only zero at its place, g · the product of
    the others. Two or more src zeros at one place: refused, as PyTorch (the formula has no derivative there)."""
    xp = node.xp
    x, src, out = node.saved
    part = node._part(src)
    zeros_at = xp.zeros(x.shape, dtype=g.dtype)
    backend.scatter_add(xp, zeros_at, where, (part == 0).astype(g.dtype))
    if node.edges[1] is not None and bool((zeros_at > 1).any()):
        raise NotImplementedError(f"create_graph=True: no higher-order gradient for {node.name} with reduce='prod' "
                                  "where two or more zeros of src go to one place (as PyTorch); its first-order "
                                  "backward works: leave create_graph=False")
    x_t, src_t = _input(node, 0, x), _input(node, 1, src)
    if not isinstance(src_t, Tensor):
        part_t = part
    else:   # the leading part of src that the index reads
        part_t = src_t if part.shape == src.shape else GetItem(tuple(slice(0, n) for n in node.index.shape))(src_t)

    def product(into: Any, values: Any) -> Tensor:
        return ScatterReduce(node.axis, node.index, "prod", node.include_self)(into, values)

    x_ones = Where()(x == 0, 1, x_t)
    gx = Div()(Mul()(g, product(x_ones, part_t)), x_ones)
    part_zero = part == 0
    single_zero = part_zero & (zeros_at[where] == 1)
    without = product(x_t, Where()(single_zero, 1, part_t))
    gpart = Where()(single_zero, GetItem(where)(Mul()(g, without)),
                    Div()(GetItem(where)(Mul()(g, _output(node, out))), Where()(part_zero, 1, part_t)))
    return gx, gpart


# --- writes into a view: select/slice/diagonal/as_strided_scatter -------------------------------------------------

def _fresh(embed: Function) -> Function:
    """A new op of ``embed``'s kind writing into the same view (never the recorded node itself)."""
    if isinstance(embed, _EmbedAt):
        return _EmbedAt(embed.name, embed.key)
    if isinstance(embed, _EmbedDiagonal):
        return _EmbedDiagonal(embed.cols - embed.rows, embed.axis1, embed.axis2, embed.n)
    return _EmbedStrided(embed.x_strides, embed.storage, embed.size, embed.stride, embed.offset)


class ViewRead(Function):
    """``g`` read through the view of a ``*_scatter`` op (its ``src``'s gradient) as an op: (in_shape) → the view's
    shape. Linear; its backward writes the view's gradient into zeros, and its rule is the scatter op of zeros."""

    name = "scatter_view_read"
    complex_grad = True   # linear, real coefficients: the same backward for complex values (engine's gate)

    def __init__(self, embed: Function) -> None:
        self.embed = embed

    def forward(self, g: Any) -> Any:
        self.in_shape, self.embed.xp = g.shape, self.xp
        return self.xp.asarray(self.embed.read(g))

    def backward(self, gg: Any) -> Any:
        self.embed.xp = self.xp
        out = self.xp.zeros(self.in_shape, dtype=gg.dtype)
        self.embed.write(out, gg)
        return out


@rule(_Embed)
def _embed(node: Function, g: Tensor) -> tuple:
    gx = _fresh(node)(g, _constant(node.xp.zeros((), dtype=g.dtype))) if node.edges[0] is not None else None
    gsrc = None
    if node.edges[1] is not None:
        gsrc = ViewRead(_fresh(node))(g)
        gsrc = AsType(node.src_dtype)(gsrc) if gsrc.dtype != node.src_dtype else gsrc
    return gx, gsrc


@rule(_EmbedAt, _EmbedDiagonal, _EmbedStrided)
def _embed_kinds(node: Function, g: Tensor) -> tuple:
    return _embed(node, g)


@rule(ViewRead)
def _view_read(node: Function, g: Tensor) -> Tensor:
    return _fresh(node.embed)(_zeros(node.in_shape, g), g)


@rule(Fill)
def _fill(node: Function, g: Tensor) -> tuple:   # the input: zeros, as PyTorch's zeros_like; the value: the sum
    gx = _zeros(tuple(g.shape), g) if node.edges[0] is not None else None
    if len(node.edges) < 2:
        return (gx,)
    gvalue = None
    if node.edges[1] is not None:
        gvalue = Sum(None, False)(g)
        gvalue = AsType(node.value_dtype)(gvalue) if gvalue.dtype != node.value_dtype else gvalue
    return gx, gvalue


# --- strided reads ------------------------------------------------------------------------------------------------

@rule(Diag)
def _diag(node: Function, g: Tensor) -> Tensor:
    if len(node.in_shape) == 1:   # a vector put on diagonal k: read diagonal k back
        return Diag(node.k)(g)
    return DiagEmbed(node.k, 0, 1, tuple(node.in_shape))(g)   # a matrix's diagonal k: written back


@rule(WindowsAlong)
def _windows_along(node: Function, g: Tensor) -> Tensor:
    """Tensor.unfold's windows added back: element j of every window is one strided slice of x."""
    windows = g.shape[node.axis]
    total = None
    for j in range(node.size):
        where = (slice(None),) * node.axis + (slice(j, j + node.step * (windows - 1) + 1, node.step),)
        part = IndexBackward(tuple(node.in_shape), where)(GetItem((Ellipsis, j))(g))
        total = part if total is None else Add()(total, part)
    return total if total is not None else _zeros(tuple(node.in_shape), g)


@rule(AsStrided)
def _as_strided(node: Function, g: Tensor) -> Tensor:
    """PyTorch's as_strided_backward as ops: the gradient added up per storage place (a scatter-add), then read at
    x's places (a gather), shared among the elements of x at one place."""
    xp = node.xp
    in_shape, x_strides, x_offset, offset = node.geometry
    if g.data.size == 0 or math.prod(in_shape) == 0:
        return _zeros(in_shape, g)
    out_low, out_high = _span(node.size, node.stride, offset)
    in_low, in_high = _span(in_shape, x_strides, x_offset)
    low, high = min(out_low, in_low), max(out_high, in_high)
    summed = IndexBackward((high - low,), _places(xp, node.size, node.stride, offset - low))(g)
    x_places = _places(xp, in_shape, x_strides, x_offset - low)
    gx = GetItem(x_places)(summed)
    if _may_overlap(in_shape, x_strides):
        counts = xp.zeros(high - low, dtype=g.dtype)
        backend.scatter_add(xp, counts, x_places, xp.ones(in_shape, dtype=g.dtype))
        gx = Div()(gx, counts[x_places])
    return gx


# --- einsum -----------------------------------------------------------------------------------------------------------

@rule(Einsum)
def _einsum(node: Function, g: Tensor) -> tuple:
    """Each operand's gradient is an einsum of g with the other operands, as the engine's backward."""
    arrays = node.saved   # (None where no gradient reads it: see Einsum.forward)
    tensors = [None if a is None else _input(node, k, a) for k, a in enumerate(arrays)]
    grads = []
    for k, (sub, (array_shape, array_dtype)) in enumerate(zip(node.inputs, node.metas)):
        if node.edges[k] is None:
            grads.append(None)
            continue
        others = [(s, t) for j, (s, t) in enumerate(zip(node.inputs, tensors)) if j != k]
        available = set(node.output).union(*(set(s) for s, _ in others))
        diagonal = node.diagonals[k]
        once = sub if diagonal is None else diagonal[0]   # a repeated index once: the diagonal's gradient
        full = tuple(array_shape[sub.index(letter)] for letter in once)
        kept = "".join(letter for letter in once if letter in available)
        others_t = [t if isinstance(t, Tensor) else _constant(t) for _, t in others]
        part = Einsum([node.output] + [s for s, _ in others], kept)(g, *others_t)
        squeezed = tuple(i for i, letter in enumerate(kept) if full[once.index(letter)] == 1 != part.shape[i])
        if squeezed:
            part = Sum(squeezed, True)(part)
        shape = tuple(n if letter in available else 1 for n, letter in zip(full, once))
        part = Reshape(shape)(part) if tuple(part.shape) != shape else part
        part = BroadcastTo(full)(part) if shape != full else part
        if diagonal is not None:   # back onto the diagonal the forward read, zeros elsewhere
            _, pairs, renamed = diagonal
            eyes = [_constant(node.xp.eye(array_shape[sub.index(pair[0])], dtype=part.dtype)) for pair in pairs]
            part = Einsum([once, *pairs], renamed)(part, *eyes)
        grads.append(AsType(array_dtype)(part) if part.dtype != array_dtype else part)
    return tuple(grads)


@rule(Quantile)
def _quantile(node: Function, g: Tensor) -> tuple:
    """The engine's backward as Tensor ops: g (times 1 - w and w when interpolating) added at the sorted
    places the quantile read (constant indices). With a ``q`` that wants a gradient (linear interpolation) the
    weight w = rank - below depends on q (d w / d q: the slope d rank / d q), and q's gradient,
    g · (above value - below value) · slope, on x; otherwise the rule is linear in g, as the op is in x."""
    below, above, weight = node.saved
    count, n = below.shape[0], node.in_shape[-1]
    lines = math.prod(node.in_shape[:-1])
    xp = node.xp
    line = xp.broadcast_to(xp.arange(lines).reshape(1, lines), (count, lines))
    g_last = Reshape(tuple(g.shape) + (1,))(g)
    with_q = node.q_slope is not None and node.q_grad and node.edges[1] is not None
    if with_q:   # w as q · slope + (w - q · slope): the saved value, with q's derivative
        x, q = node.x_q
        q_col = Reshape((-1,) + (1,) * len(node.in_shape))(_input(node, 1, q))
        q_slope = q.reshape(q_col.shape) * node.slope
        weight = Add()(Sub()(Mul()(q_col, node.slope), q_slope), weight)
    parts = [(below, g_last)]
    if node.interpolation in ("linear", "midpoint"):
        parts = [(below, Mul()(g_last, Sub()(1, weight) if with_q else 1 - weight)), (above, Mul()(g_last, weight))]
    gx = _zeros((lines, n), g)
    for index, part in parts:
        gx = IndexPutAdd((line, index.reshape(count, lines)))(gx, Reshape((count, lines))(part))
    gq = None
    if with_q:   # the engine's gq: g · (high - low) · slope, 0 where the rank is fixed, summed per q
        x_lines = Reshape((lines, n))(_input(node, 0, x))
        low, high = (Reshape(below.shape)(GetItem((line, i.reshape(count, lines)))(x_lines)) for i in (below, above))
        part = Where()(node.fixed, _zero(g), Mul()(Sub()(high, low), node.slope))
        gq = Reshape(node.q_shape)(Sum((1,), False)(Reshape((count, -1))(Mul()(g_last, part))))
    return Reshape(tuple(node.in_shape))(gx), gq


# --- linear algebra ---------------------------------------------------------------------------------------------------

def _value_of_shape(full: Any, shape: tuple) -> Any:
    """The input of ``shape`` that was broadcast to ``full`` (its first copy along every broadcast dim)."""
    lead = full.ndim - len(shape)
    part = full[(0,) * lead]
    return part[tuple(slice(0, 1) if n == 1 else slice(None) for n in shape)]


def _adjoint_t(x: Tensor) -> Tensor:
    """xᴴ over the last two dims (xᵀ for real x), differentiable."""
    t = _swap_last(x)
    return Conj()(t) if t.dtype.kind == "c" else t


def _inverse_t(a: Tensor) -> Tensor:
    """A⁻ᵀ, differentiable (through inv's own rule)."""
    return _swap_last(Inverse()(a))


def _last_two(g: Tensor) -> Tensor:
    """(…) → (…, 1, 1), to scale a batch of matrices."""
    return Reshape(tuple(g.shape) + (1, 1))(g)


@rule(Inverse)
def _inverse(node: Function, grads: Any) -> Tensor:
    g = _first(node, grads)
    (y,) = node.saved
    y_t = _swap_last(_output(node, y))
    return Neg()(_matmul3(y_t, g, y_t))


def _matmul3(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    return MatMul()(MatMul()(a, b), c)


@rule(Solve)
def _solve(node: Function, grads: Any) -> tuple:
    """gB = solve(Aᵀ, gX), gA = -gB Xᵀ (X the op's own output), summed back to the inputs' shapes."""
    g = _first(node, grads)
    a_full, x, a_shape, b_shape = node.saved
    a_t = _input(node, 0, _value_of_shape(a_full, a_shape))
    g_matrix = Reshape(tuple(g.shape) + (1,))(g) if node.vector else g
    gb = Solve(False)(_swap_last(a_t), g_matrix)
    ga = None
    if node.edges[0] is not None:
        x_t = _output(node, x[..., 0] if node.vector else x)
        x_matrix = Reshape(tuple(x_t.shape) + (1,))(x_t) if node.vector else x_t
        ga = sum_to(Neg()(MatMul()(gb, _swap_last(x_matrix))), a_shape)
    if node.edges[1] is None:
        return ga, None
    gb = Reshape(tuple(gb.shape[:-1]))(gb) if node.vector else gb
    return ga, sum_to(gb, b_shape)


@rule(TriangularSolve)
def _triangular_solve(node: Function, grads: Any) -> tuple:
    """As :func:`_solve` with A triangular: gB by the op on Aᵀ (the other triangle), gA = -gB Xᵀ (right: -Xᵀ gB)."""
    g = _first(node, grads)
    a_full, x, a_shape, b_shape = node.saved
    a_t = _input(node, 0, _value_of_shape(a_full, a_shape))
    gb = TriangularSolve(not node.upper, node.left)(_swap_last(a_t), g)
    ga = None
    if node.edges[0] is not None:
        x_t = _swap_last(_output(node, x))
        ga = sum_to(Neg()(MatMul()(gb, x_t) if node.left else MatMul()(x_t, gb)), a_shape)
    return ga, (sum_to(gb, b_shape) if node.edges[1] is not None else None)


@rule(Det)
def _det(node: Function, g: Tensor) -> Tensor:
    """g · det(A) · A⁻ᵀ (PyTorch's for an invertible A). A batch holding a singular A (any |det| < 100 eps) takes
    :func:`_det_cofactors` instead, which needs no A⁻¹."""
    a, d = node.saved
    if a.size == 0:
        return _zeros(a.shape, g)
    xp = node.xp
    if bool((xp.abs(d) < 100 * xp.finfo(a.dtype).eps).any()):
        return _det_cofactors(node, g)
    scale = _last_two(Mul()(g, _output(node, d)))
    return Mul()(scale, _inverse_t(_input(node, 0, a)))


def _det_cofactors(node: Function, g: Tensor) -> Tensor:
    """g · C with the cofactors C_ij = (-1)^(i+j) det(A without row i and column j): a polynomial in A built
    from differentiable ops (getitem, Det, whose rule handles singular minors the same way), so it can be
    differentiated again, as PyTorch's second derivative at a singular A (rank n-1 or less). Costs n²
    determinants of (n-1)×(n-1) minors, paid only at singular matrices."""
    a, _ = node.saved
    xp = node.xp
    n = a.shape[-1]
    a_t = _input(node, 0, a)
    if not isinstance(a_t, Tensor):
        a_t = Tensor._make(a_t, False, None, 0)
    g_t = Reshape(tuple(g.shape) + (1, 1))(g)
    if n == 1:   # the cofactor of a 1×1 matrix is 1 (a constant, as PyTorch's)
        return Mul()(g_t, xp.ones(a.shape, dtype=a.dtype))
    keep = xp.asarray([[k for k in range(n) if k != i] for i in range(n)])   # (n, n-1): the rows/columns kept
    minors = a_t[..., keep[:, None, :, None], keep[None, :, None, :]]        # (…, n, n, n-1, n-1)
    signs = xp.asarray((-1.0) ** xp.add.outer(xp.arange(n), xp.arange(n)), dtype=a.dtype)
    return Mul()(g_t, Mul()(Det()(minors), signs))


@rule(SignLogDet)
def _slogdet(node: Function, grads: list) -> Tensor:
    """g_log · A⁻ᵀ (a real sign is flat). Complex A (PyTorch's): log det = logabsdet + iθ with sign = e^{iθ}, so
    g = g_log + i Im(g_sign · conj(sign)), with the sign the op's output, and gA = g · A⁻ᴴ."""
    (a,) = node.saved
    g_sign, g_log = grads
    if a.dtype.kind != "c":
        if g_log is None:   # sign is flat
            return _zeros(a.shape, g_sign)
        return Mul()(_last_two(g_log), _inverse_t(_input(node, 0, a)))
    if g_sign is not None:
        phase = Imag()(Mul()(g_sign, Conj()(_output(node, node.sign, 0))))
        g = Complex(tuple(phase.shape))(g_log if g_log is not None else node.xp.zeros_like(phase.data), phase)
    else:
        g = Complex(tuple(g_log.shape))(g_log, node.xp.zeros_like(g_log.data))
    return Mul()(_last_two(g), Conj()(_inverse_t(_input(node, 0, a))))


@rule(PseudoInverse)
def _pinv(node: Function, g: Tensor) -> Tensor:
    """The engine's derivative at constant rank, with A and the op's output A⁺ (so A⁺'s own rule runs again):
    -A⁺ᴴ G A⁺ᴴ + (I - A A⁺) Gᴴ A⁺ A⁺ᴴ + A⁺ᴴ A⁺ Gᴴ (I - A⁺ A)
    (ᴴ is ᵀ for real A)."""
    a, p = node.saved
    a_t, p_t = _input(node, 0, a), _output(node, p)
    p_transposed, g_transposed = _adjoint_t(p_t), _adjoint_t(g)
    left = Sub()(g_transposed, MatMul()(a_t, MatMul()(p_t, g_transposed)))
    right = Sub()(g_transposed, MatMul()(MatMul()(g_transposed, p_t), a_t))
    return Add()(Add()(Neg()(_matmul3(p_transposed, g, p_transposed)), MatMul()(left, MatMul()(p_t, p_transposed))),
                 MatMul()(MatMul()(p_transposed, p_t), right))


@rule(Cholesky)
def _cholesky(node: Function, grads: Any) -> Tensor:
    """The engine's (PyTorch's) formula: L⁻ᴴ Φ(Lᴴ gL) L⁻¹ with Φ the lower triangle, its diagonal halved and
    mirrored, L the op's output."""
    g = _first(node, grads)
    (lower,) = node.saved
    factor = _output(node, _adjoint_array(node.xp, lower) if node.upper else lower)
    lower_t = _adjoint_t(factor) if node.upper else factor
    g_lower = _adjoint_t(g) if node.upper else g
    phi = Triangle(0, False)(MatMul()(_adjoint_t(lower_t), g_lower))
    phi = Mul()(0.5, Add()(phi, _adjoint_t(Triangle(-1, False)(phi))))
    inverse = Inverse()(lower_t)
    return _matmul3(_adjoint_t(inverse), phi, inverse)


def _adjoint_array(xp: Any, a: Any) -> Any:
    t = xp.swapaxes(a, -1, -2)
    return t.conj() if t.dtype.kind == "c" else t


def _input_or_constant(node: Function, i: int, value: Any) -> Tensor:
    """Input ``i`` of ``node`` as a Tensor, a constant one where it needs no gradient."""
    return _input(node, i, value) if node.edges[i] is not None else _constant(value)


@rule(CholeskySolve)
def _cholesky_solve(node: Function, g: Tensor) -> tuple:
    """The op's own formula (:func:`cholesky_solve_grads`) on Tensors: gB through the op again, X its output."""
    factor, x, b_shape = node.saved
    factor_t = _input_or_constant(node, 1, factor)
    gb, gl = cholesky_solve_grads(g, factor_t, _output(node, x), node.upper,
                                  lambda gx: CholeskySolve(node.upper)(gx, factor_t), _adjoint_t,
                                  node.edges[1] is not None)
    return (sum_to(gb, b_shape) if node.edges[0] is not None else None,
            sum_to(gl, factor.shape) if gl is not None else None)


@rule(CholeskyInverse)
def _cholesky_inverse(node: Function, g: Tensor) -> Tensor:
    """The op's own formula (:func:`cholesky_inverse_grad`) on Tensors, with Y the op's output."""
    factor, y = node.saved
    return cholesky_inverse_grad(g, _input(node, 0, factor), _output(node, y), node.upper, _adjoint_t)


@rule(MatrixExp)
def _matrix_exp(node: Function, g: Tensor) -> Tensor:
    """The top-right block of exp([[Aᵀ, g], [0, Aᵀ]]), as the engine's: matrix_exp's rule is matrix_exp again."""
    (a,) = node.saved
    n = a.shape[-1]
    a_t = _swap_last(_input(node, 0, a))
    zeros = _constant(node.xp.zeros(a.shape, dtype=g.dtype))
    block = Concat(-2)(Concat(-1)(a_t, g), Concat(-1)(zeros, a_t))
    return GetItem((Ellipsis, slice(0, n), slice(n, 2 * n)))(MatrixExp()(block))


@rule(QR)
def _qr(node: Function, grads: list) -> Tensor:
    """The engine's (PyTorch's) formula with Q and R the op's outputs: for m ≥ n, (Q sym(M) + gQ) R⁻ᵀ with
    M = gR Rᵀ - Qᵀ gQ and sym(M) its upper triangle mirrored; for m < n, the square part's through R's first m
    columns, plus Q gR."""
    if node.mode == "r":   # the first-order backward's error, as PyTorch's
        return node.backward(None, None)
    q, r = node.saved
    m, n = q.shape[-2], r.shape[-1]
    if node.mode == "complete" and m > n:
        return node.backward(None, None)
    like = grads[0] if grads[0] is not None else grads[1]
    q_t, r_t = _output(node, q, 0), _output(node, r, 1)
    gq = _zeros(q.shape, like) if grads[0] is None else grads[0]
    gr = _zeros(r.shape, like) if grads[1] is None else grads[1]
    inner = Sub()(MatMul()(gr, _adjoint_t(r_t)), MatMul()(_adjoint_t(q_t), gq))
    halved = node.xp.where(node.xp.eye(inner.shape[-1], dtype=bool), 0.5, 1.0)   # the diagonal halved
    if m >= n:   # the Hermitian part of triu(inner), Re of its diagonal (PyTorch's syminvadj)
        upper = Triangle(0, True)(inner)
        hermitian = Mul()(Add()(upper, _adjoint_t(upper)), halved)
        return _solve_right(Add()(MatMul()(q_t, hermitian), gq), r_t)
    square = GetItem((Ellipsis, slice(None), slice(0, m)))(r_t)
    skew = Mul()(Triangle(0, False)(Sub()(_adjoint_t(inner), inner)), halved)   # its imaginary diagonal halved
    ga = _solve_right(MatMul()(q_t, skew), square)
    ga = Concat(-1)(ga, _zeros(tuple(ga.shape[:-1]) + (n - m,), ga))
    return Add()(ga, MatMul()(q_t, gr))


def _solve_right(g: Tensor, r: Tensor) -> Tensor:
    """``g R⁻ᴴ`` (real: ``g R⁻ᵀ``) for a square R (…, k, k), differentiable (through solve's own rule)."""
    return _adjoint_t(Solve(False)(r, _adjoint_t(g)))


@rule(SVD)
def _svd(node: Function, grads: list) -> Tensor:
    """The engine's ``svd_backward`` with U, S and Vh the op's outputs (the first k columns of U and rows of Vh
    with ``full_matrices``, whose other gradients are ignored, as PyTorch's)."""
    gu, gs, gvh = grads
    u, s, vh = node.saved
    k = s.shape[-1]
    u_t, s_t, vh_t = _output(node, u, 0), _output(node, s, 1), _output(node, vh, 2)
    if node.full_matrices:
        columns, rows = (Ellipsis, slice(None), slice(0, k)), (Ellipsis, slice(0, k), slice(None))
        u_t, vh_t = GetItem(columns)(u_t), GetItem(rows)(vh_t)
        gu = None if gu is None else GetItem(columns)(gu)
        gvh = None if gvh is None else GetItem(rows)(gvh)
    with backend.errstate(node.xp, divide="ignore", invalid="ignore"):
        return _svd_grad(node.xp, gu, gs, gvh, u_t, s_t, vh_t)


@rule(SingularValues)
def _svdvals(node: Function, gs: Tensor) -> Tensor:
    """U diag(gS) Vh, with U and Vh from a new SVD of the input rebuilt from the saved factors (so that they
    depend on A in the next derivative, as eigvalsh's rule does)."""
    u, s, vh = node.saved
    u_t, _, vh_t = SVD(False)(_input(node, 0, (u * s[..., None, :]) @ vh))
    return MatMul()(Mul()(u_t, _row(gs)), vh_t)


def _row(x: Tensor) -> Tensor:
    """(…, k) → (…, 1, k)."""
    return Reshape(tuple(x.shape[:-1]) + (1, x.shape[-1]))(x)


def _column(x: Tensor) -> Tensor:
    """(…, k) → (…, k, 1)."""
    return Reshape(tuple(x.shape) + (1,))(x)


def _svd_grad(xp: Any, gu: Tensor | None, gs: Tensor | None, gvh: Tensor | None, u: Tensor, s: Tensor,
              vh: Tensor) -> Tensor:
    """``svd_backward`` (minigrad.ops.decompositions) term by term on Tensors: U (…, m, k), S (…, k), Vh (…, k, n);
    complex: ᴴ for ᵀ and the phase term on the diagonal, as the engine's (a loss depending on the phases raises)."""
    m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
    if gu is None and gvh is None:
        return MatMul()(Mul()(u, _row(gs)), vh)
    squares = Mul()(s, s)
    eye = xp.eye(k, dtype=bool)
    gaps = Where()(eye, 1, Sub()(_row(squares), _column(squares)))
    parts = []
    u_skew = v_skew = None
    if gu is not None:
        product = MatMul()(_adjoint_t(u), gu)
        u_skew = Sub()(product, _adjoint_t(product))
        parts.append(Mul()(Div()(u_skew, gaps), _row(s)))
    if gvh is not None:
        product = MatMul()(vh, _adjoint_t(gvh))
        v_skew = Sub()(product, _adjoint_t(product))
        parts.append(Mul()(_column(s), Div()(v_skew, gaps)))
    if gs is not None:
        parts.append(Mul()(eye, _row(gs)))   # diag(gS)
    if u.dtype.kind == "c":   # the engine's check that the loss ignores the phases, then i Im(diag(skew(Uᴴ gU))) / 2S
        _svd_phase_term(xp, None if u_skew is None else u_skew.data, None if v_skew is None else v_skew.data, s.data)
        if u_skew is not None:   # a skew-Hermitian diagonal is i Im already
            parts.append(Div()(_select(eye, u_skew), Mul()(2, _row(s))))
    inner = parts[0]
    for part in parts[1:]:
        inner = Add()(inner, part)
    if m > n and gu is not None:
        scaled = Div()(gu, _row(s))
        left = Sub()(Add()(MatMul()(u, inner), scaled), MatMul()(u, MatMul()(_adjoint_t(u), scaled)))
        return MatMul()(left, vh)
    if m < n and gvh is not None:
        scaled = Div()(gvh, _column(s))
        right = Sub()(Add()(MatMul()(inner, vh), scaled), MatMul()(MatMul()(scaled, _adjoint_t(vh)), vh))
        return MatMul()(u, right)
    return _matmul3(u, inner, vh)


@rule(Eigh)
def _eigh(node: Function, grads: Any) -> Tensor:
    """V (diag(gλ) + (Vᴴ gV)_skew / (λⱼ - λᵢ)) Vᴴ, the engine's formula, with λ and V the op's outputs; eigvalsh
    (one output) gets them from a new eigh of its input, so that V depends on A in the next derivative too."""
    values, vectors = node.saved
    xp = node.xp
    if node.values_only:
        g_values, g_vectors = grads, None
        rebuilt = (vectors * values[..., None, :]) @ _adjoint_array(xp, vectors)
        values_t, vectors_t = Eigh(node.uplo)(_input(node, 0, rebuilt))
    else:
        g_values, g_vectors = grads
        values_t, vectors_t = _output(node, values, 0), _output(node, vectors, 1)
    v_transposed = _adjoint_t(vectors_t)
    if g_vectors is None:
        scaled = Mul()(vectors_t, Reshape(tuple(g_values.shape[:-1]) + (1, g_values.shape[-1]))(g_values))
        return MatMul()(scaled, v_transposed)
    projected = MatMul()(v_transposed, g_vectors)
    projected = Mul()(0.5, Sub()(projected, _adjoint_t(projected)))
    n = values.shape[-1]
    eye = xp.eye(n, dtype=bool)
    row = Reshape(tuple(values_t.shape[:-1]) + (1, n))(values_t)
    column = Reshape(tuple(values_t.shape[:-1]) + (n, 1))(values_t)
    gaps = Where()(eye, 1, Sub()(row, column))
    inner = Div()(projected, gaps)
    diagonal = _zero(g_vectors) if g_values is None else \
        Reshape(tuple(g_values.shape[:-1]) + (1, n))(g_values)
    inner = Where()(eye, diagonal, inner)
    return _matmul3(vectors_t, inner, v_transposed)


# --- the LU family: linalg.lu_factor (and linalg.lu, lu_unpack, torch.lu through it), lu_solve ----------------------
#
# The engine's formulas (``ops.lu``: PyTorch's ``linalg_lu_backward`` and ``linalg_lu_solve_LU``, with ᴴ) written with
# Tensors: the permutation is a constant matrix, the triangular solves are ``Solve`` on the triangular factors (its
# rule exists), and L, U come from the op's packed output, so the next derivative runs through this node again.

def _permutation(xp: Any, perm: Any, dtype: Any) -> Tensor:
    """The constant P (…, m, m) of ``(Pᵀ A)[i] = A[perm[i]]``: ``P[r, i] = (perm[i] == r)``."""
    m = perm.shape[-1]
    return _constant((perm[..., None, :] == xp.arange(m)[:, None]).astype(dtype))


def _lu_factors(xp: Any, packed: Tensor) -> tuple:
    """L (…, m, k), unit lower triangular, and U (…, k, n) of the packed factors (…, m, n), as Tensors."""
    m, n = packed.shape[-2:]
    k = min(m, n)
    lower = Triangle(-1, False)(GetItem((Ellipsis, slice(None), slice(0, k)))(packed))
    lower = Add()(lower, xp.eye(m, k, dtype=packed.dtype))
    return lower, Triangle(0, True)(GetItem((Ellipsis, slice(0, k), slice(None)))(packed))


def _left_solve(t: Tensor, b: Tensor) -> Tensor:
    """T⁻¹ B for a square triangular T (…, k, k)."""
    return Solve(False)(t, b)


@rule(LUFactor)
def _lu_factor(node: Function, grads: list) -> Tensor:
    """gA = P L⁻ᴴ (tril(Lᴴ gL, -1) + triu(gU Uᴴ)) U⁻ᴴ with the wide and tall terms (``ops.lu.factors_gradient``)."""
    g_lu = grads[0]
    lu, perm = node.saved
    xp = node.xp
    if g_lu is None:   # pivots and info are integers: no gradient reaches them
        return _constant(xp.zeros(lu.shape, dtype=lu.dtype))
    m, n = lu.shape[-2:]
    k = min(m, n)
    lower, upper = _lu_factors(xp, _output(node, lu, 0))
    g_lower = Triangle(-1, False)(GetItem((Ellipsis, slice(None), slice(0, k)))(g_lu))
    g_upper = Triangle(0, True)(GetItem((Ellipsis, slice(0, k), slice(None)))(g_lu))
    l1 = lower if m <= n else GetItem((Ellipsis, slice(0, k), slice(None)))(lower)
    l1_h = _adjoint_t(l1)   # L₁ᴴ (…, k, k), unit upper triangular
    if m == n:
        phi = Add()(Triangle(-1, False)(MatMul()(l1_h, g_lower)),
                    Triangle(0, True)(MatMul()(g_upper, _adjoint_t(upper))))
        g = _solve_right(_left_solve(l1_h, phi), upper)
    elif m < n:   # U = [U₁ U₂], U₂ = L⁻¹ Pᵀ A₂
        first, rest = (Ellipsis, slice(None), slice(0, m)), (Ellipsis, slice(None), slice(m, None))
        u1, u2 = GetItem(first)(upper), GetItem(rest)(upper)
        g_u1, g_u2 = GetItem(first)(g_upper), GetItem(rest)(g_upper)
        phi = Add()(Triangle(-1, False)(Sub()(MatMul()(l1_h, g_lower), MatMul()(g_u2, _adjoint_t(u2)))),
                    Triangle(0, True)(MatMul()(g_u1, _adjoint_t(u1))))
        g = _left_solve(l1_h, Concat(-1)(_solve_right(phi, u1), g_u2))
    else:   # L = [L₁; L₂], L₂ = A₂ U⁻¹
        top, rest = (Ellipsis, slice(0, n), slice(None)), (Ellipsis, slice(n, None), slice(None))
        g_l1, l2, g_l2 = GetItem(top)(g_lower), GetItem(rest)(lower), GetItem(rest)(g_lower)
        phi = Add()(Triangle(-1, False)(MatMul()(l1_h, g_l1)),
                    Triangle(0, True)(Sub()(MatMul()(g_upper, _adjoint_t(upper)), MatMul()(_adjoint_t(l2), g_l2))))
        g = _solve_right(Concat(-2)(_left_solve(l1_h, phi), g_l2), upper)
    return MatMul()(_permutation(xp, perm, g.dtype), g)


@rule(LUSolve)
def _lu_solve(node: Function, g: Tensor) -> tuple:
    """The engine's: gB from the adjoint system, gA = -gB Xᴴ (-X gBᴴ, -Xᴴ gB, -gBᴴ X) reaching the packed factors
    as tril(Pᵀ gA Uᴴ, -1) + triu(Lᴴ Pᵀ gA). A = P L U is rebuilt from the factors (a Tensor of the LU input) and
    X is the op's output, so the next derivative reaches LU and B through both."""
    lu, perm, x, b_shape = node.saved
    xp = node.xp
    lu_t = _input_or_constant(node, 0, lu)
    lower, upper = _lu_factors(xp, lu_t)
    p = _permutation(xp, perm, lu.dtype)
    a = MatMul()(p, MatMul()(lower, upper))
    system = a if node.adjoint else _adjoint_t(a)   # gB solves the adjoint of the op's system
    if node.left:
        gb = _left_solve(system, g)
    else:
        gb = _adjoint_t(_left_solve(_adjoint_t(system), _adjoint_t(g)))
    g_lu = None
    if node.edges[0] is not None:
        x_t = _output(node, x)
        if node.left:
            ga = Neg()(MatMul()(x_t, _adjoint_t(gb)) if node.adjoint else MatMul()(gb, _adjoint_t(x_t)))
        else:
            ga = Neg()(MatMul()(_adjoint_t(gb), x_t) if node.adjoint else MatMul()(_adjoint_t(x_t), gb))
        taken = MatMul()(_swap_last(p), ga)   # Pᵀ gA
        g_lu = Add()(Triangle(-1, False)(MatMul()(taken, _adjoint_t(upper))),
                     Triangle(0, True)(MatMul()(_adjoint_t(lower), taken)))
        g_lu = sum_to(g_lu, lu.shape)
    return g_lu, None, sum_to(gb, b_shape) if node.edges[2] is not None else None


# --- eig and eigvals (general matrices; complex values, the real part for a real A) ---------------------------------

@rule(EigenValues)
def _eig(node: Function, grads: Any) -> Any:
    """The engine's ``eig_backward`` on Tensors: gA = V⁻ᴴ (diag(gλ) + (Vᴴ gV - Vᴴ V Re(diag(Vᴴ gV))) / E*) Vᴴ with
    E_ij = λ_j - λ_i, λ and V the op's outputs; eigvals (one output) gets them from a new eig of its input rebuilt
    from the factors (so that V depends on A in the next derivative too), refused should that eig order its
    eigenvalues otherwise. A loss depending on the eigenvectors' phases raises, as the engine's (PyTorch's)."""
    values, vectors = node.saved
    xp = node.xp
    real_input = bool(getattr(node, "real_inputs", ())) and node.real_inputs[0]
    if node.with_vectors:
        g_values, g_vectors = grads
        values_t, vectors_t = _output(node, values, 0), _output(node, vectors, 1)
    else:
        g_values, g_vectors = grads, None
        rebuilt = (vectors * values[..., None, :]) @ xp.linalg.inv(vectors)
        values_t, vectors_t = EigenValues(with_vectors=True)(_input(node, 0, rebuilt.real if real_input else rebuilt))
        # the same eigenvalues to the precision of the dtype (float32's eig differs from one call to the next)
        close = float(xp.finfo(values.dtype).eps) ** 0.5
        scale = 1 + float(xp.abs(values).max())
        if not bool(xp.allclose(values_t.data, values, rtol=close, atol=close * 1e-4 * scale)):
            raise NotImplementedError(f"create_graph=True: no higher-order gradient for {node.name} here: a new eig of "
                                      "the input ordered its eigenvalues otherwise; use linalg.eig")
    vectors_h = _adjoint_t(vectors_t)
    n = values.shape[-1]
    if g_vectors is None:
        ga = Solve(False)(vectors_h, Mul()(Reshape(tuple(g_values.shape) + (1,))(g_values), vectors_h))
    else:
        projected = MatMul()(vectors_h, g_vectors)
        diagonal = xp.diagonal(projected.data, axis1=-2, axis2=-1)
        if not bool((xp.abs(diagonal.imag) <= 1e-2).all()):
            raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                               "multiplication by e^{i phi}. The specified loss function depends on this quantity, so "
                               "it is ill-defined.")
        real_diagonal = Real()(Diagonal(0, -2, -1)(projected))
        scaled = Mul()(vectors_t, Reshape(tuple(real_diagonal.shape[:-1]) + (1, n))(real_diagonal))
        projected = Sub()(projected, MatMul()(vectors_h, scaled))
        conjugate = Conj()(values_t)
        eye = xp.eye(n, dtype=bool)
        row = Reshape(tuple(conjugate.shape[:-1]) + (1, n))(conjugate)
        column = Reshape(tuple(conjugate.shape[:-1]) + (n, 1))(conjugate)
        inner = Div()(projected, Where()(eye, 1, Sub()(row, column)))
        if g_values is not None:
            inner = Where()(eye, Reshape(tuple(g_values.shape[:-1]) + (1, n))(g_values), inner)
        ga = Solve(False)(vectors_h, MatMul()(inner, vectors_h))
    return Real()(ga) if real_input else ga
