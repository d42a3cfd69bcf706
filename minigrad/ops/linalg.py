"""Matrix product with NumPy's ``matmul`` semantics (1-D operands, batch broadcasting)."""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import backend
from ..autograd import Function, LazyGradient
from ..outputs import write_out
from ..tensor import Tensor
from ._util import OUT_DTYPE, DtypeNotImplementedError, fresh_memory, read_by_the_others, sum_to, unsupported

_BOOL = numpy.dtype(bool)


class MatMulShapeError(ValueError, RuntimeError):
    """Operands ``@`` (or ``step_matmul``/``step_addmm``) cannot take: a 0-d one, or sizes that differ (PyTorch's
    RuntimeError)."""


class MatMulScalarError(MatMulShapeError, TypeError):
    """A 0-d operand of ``@``: PyTorch's RuntimeError for a 0-d tensor, its TypeError for a Python number."""


class MatMul(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    def forward(self, a: Any, b: Any) -> Any:
        try:   # the usual case first: two matrices that fit (a recurrent step runs it at every step)
            plain = a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]
        except AttributeError:   # a Python number: refused below
            plain = False
        if plain and a.dtype is not _BOOL:
            self.keep(a, b)
            return _by_matrix(a, b)
        if getattr(a, "dtype", None) == _BOOL and getattr(b, "dtype", None) == _BOOL and not _empty_product(a, b):
            # NumPy's product of bools is an OR of ANDs; PyTorch has no bool kernel for it
            raise DtypeNotImplementedError(f"{self.name}: not implemented for 'Bool' (two bool operands, shapes "
                                           f"{tuple(a.shape)} and {tuple(b.shape)}), as in PyTorch")
        if plain:
            self.keep(a, b)
            return _by_matrix(a, b)
        if getattr(a, "ndim", 0) == 0 or getattr(b, "ndim", 0) == 0:
            raise MatMulScalarError("matmul: both operands need at least one dimension, got shapes "
                                   f"{tuple(getattr(a, 'shape', ()))} and {tuple(getattr(b, 'shape', ()))} "
                                   "(use * for scalars)")
        inner_a, inner_b = a.shape[-1], b.shape[-2 if b.ndim > 1 else 0]
        if inner_a != inner_b:
            raise MatMulShapeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                                   f"({inner_a} columns against {inner_b} rows)")
        self.keep(a, b)
        if b.ndim == 2 and a.ndim > 2:
            # a stack of matrices times one matrix: one GEMM over all rows. matmul would run
            # one GEMM per matrix of the stack (2.6x slower at (35, 20, 200) @ (200, 10000)).
            rows = math.prod(a.shape[:-1])
            return _by_matrix(a.reshape(rows, inner_a), b).reshape(*a.shape[:-1], b.shape[1])
        if a.ndim == 2 and b.ndim == 2:
            return _by_matrix(a, b)
        y = a @ b   # NumPy's keeps permuted batch dims' order of strides; PyTorch's result is C order
        return y if y.flags.c_contiguous else backend.array_module(y).ascontiguousarray(y)

    meta: tuple | None = None   # (a's shape, b's shape, b column-major, a column-major) where keep kept one or none

    def keep(self, a: Any, b: Any) -> None:
        """Keep for backward only what it reads, as PyTorch's MmBackward0: ``a`` for b's gradient, ``b`` for a's
        (``x @ W_frozen`` keeps nothing of x, ``x_const @ W`` nothing of W); with one kept (or none), the shapes
        and whether b is column-major (``W.T``: ProductSum's layout) in ``meta``. ``needs_grad`` is set by
        Function.__call__ before forward (empty where not known: both kept)."""
        needs = self.needs_grad
        if not needs or needs[0] and needs[1]:   # each gradient reads the other operand (a recurrent step's)
            self.saved = (a, b)
        else:
            self.saved = (a if needs[1] else None, b if needs[0] else None)
            self.meta = (a.shape, b.shape, needs[1] and _column_major(b), needs[0] and a.ndim > 1 and _column_major(a))

    def backward(self, gy: Any) -> tuple:
        a, b = self.saved   # (None where no gradient reads it: see keep)
        needs_grad = self.needs_grad
        if self.meta is None and needs_grad[0] and needs_grad[1] and a.ndim == 2 and b.ndim == 2:
            # the usual case (h @ W_hh of a recurrent step); a column-major (x.T @ W): its gradient (b gyᵀ)ᵀ in its
            # layout, as PyTorch's mm_mat1_backward (x's gradient then is row-major: g.view(-1) works)
            # (_column_major inline, twice: this runs at every step of a recurrent net)
            ga = gy @ b.T if a.flags.c_contiguous or not a.flags.f_contiguous else (b @ gy.T).T
            flags = b.flags
            return ga, ProductSum(a, gy, flags.f_contiguous and not flags.c_contiguous)
        meta = self.meta
        if meta is None:
            shape_a, shape_b = a.shape, b.shape
            column_major = needs_grad[1] and _column_major(b)
            a_column_major = needs_grad[0] and a.ndim > 1 and _column_major(a)
        else:
            shape_a, shape_b, column_major, a_column_major = meta
        if len(shape_a) == 2 and len(shape_b) == 2:   # the usual case: plain matrices
            ga = ((b @ gy.T).T if a_column_major else gy @ b.T) if needs_grad[0] else None
            # aᵀ gy, summed by the engine with b's other uses in one GEMM (see ProductSum)
            return ga, ProductSum(a, gy, column_major) if needs_grad[1] else None
        if len(shape_b) == 2 and len(shape_a) > 2:
            # weights shared over a stack: one GEMM over all rows each (rows counted, not -1:
            # NumPy cannot infer -1 when k or m is 0)
            (k, m), rows = shape_b, math.prod(shape_a[:-1])
            g_rows = gy.reshape(rows, m)
            if needs_grad[0] and a_column_major:   # a batch of one column-major matrix: a view PyTorch folds, and
                ga = (b @ g_rows.T).T.reshape(shape_a)   # mm_mat1_backward keeps its layout
            else:
                ga = (g_rows @ b.T).reshape(shape_a) if needs_grad[0] else None
            return ga, ProductSum(a.reshape(rows, k), g_rows, column_major) if needs_grad[1] else None
        xp = self.xp
        # Promote 1-D operands to matrices, as matmul does, and give gy the
        # axes they lost: b first (gy's last axis), then a (its second-to-last).
        g2 = gy[..., None] if len(shape_b) == 1 else gy
        g2 = g2[..., None, :] if len(shape_a) == 1 else g2
        ga = gb = None
        if needs_grad[0]:
            b2 = b[:, None] if b.ndim == 1 else b
            if a_column_major and _folds_a(shape_a, shape_b):   # a matrix times a stack: (Σ b gyᵀ)ᵀ, in a's layout
                ga = xp.swapaxes(sum_to(b2 @ xp.swapaxes(g2, -1, -2), (*shape_a[:-2], shape_a[-1], shape_a[-2])),
                                 -1, -2)
            else:
                ga = sum_to(g2 @ xp.swapaxes(b2, -1, -2), (1, *shape_a) if len(shape_a) == 1 else shape_a)
                ga = ga.reshape(shape_a)
        if needs_grad[1]:
            a2 = a[None, :] if a.ndim == 1 else a
            if _transposed_gradient(shape_a, shape_b, column_major):
                gb = xp.swapaxes(sum_to(xp.swapaxes(g2, -1, -2) @ a2, (*shape_b[:-2], *shape_b[:-3:-1])), -1, -2)
            else:
                gb = sum_to(xp.swapaxes(a2, -1, -2) @ g2, (*shape_b, 1) if len(shape_b) == 1 else shape_b)
                gb = gb.reshape(shape_b)
        return ga, gb

    kept_for_backward = read_by_the_others   # x @ W_frozen: nothing of x (it may change in place, as in PyTorch)


def _transposed_gradient(shape_a: tuple, shape_b: tuple, column_major: bool) -> bool:
    """Whether PyTorch's gradient of ``b`` (a matrix or a stack of them) is column-major per matrix, ``(gᵀ a)ᵀ``:
    PyTorch 2.13's matmul folds a stack's batch into the rows of a single mm against a vector or a matrix, so a
    1-D ``a``, a 2-D one (or a (1, n, k) one against a (B, k, m) stack, B > 1) gives the stack a transposed
    gradient, and ``b`` used as one matrix (2-D, a batch of one against a 2-D ``a``, or (1, k, m) against a
    (B, n, k) ``a``) gets one in its layout (mm_mat2_backward's). Other stacks go through bmm: C order."""
    if len(shape_b) < 2:
        return False
    if len(shape_b) == 2:
        return bool(column_major)
    if len(shape_a) == 1 or _folds_a(shape_a, shape_b) and math.prod(shape_b[:-2]) > 1:
        return True
    if len(shape_a) == 2 or len(shape_a) == 3 == len(shape_b) and shape_b[0] == 1 and shape_a[0] > 1:
        return bool(column_major)
    return False


def _folds_a(shape_a: tuple, shape_b: tuple) -> bool:
    """Whether PyTorch 2.13's matmul multiplies ``a`` as one matrix by the stack ``b`` folded into rows: a 2-D
    ``a``, or a 3-D one with a batch of 1 against a 3-D stack of more ((1, n, k) @ (B, k, m); not (1, 1, n, k))."""
    return len(shape_b) > 2 and (len(shape_a) == 2 or len(shape_a) == 3 == len(shape_b) and shape_a[0] == 1
                                 and shape_b[0] > 1)


def _empty_product(a: Any, b: Any) -> bool:
    """Whether ``a @ b`` has an empty operand (an empty result, or all False from an empty sum) that is not a dot
    product of two vectors: PyTorch returns those for bools before it looks for a bool kernel."""
    return (a.size == 0 or b.size == 0) and not (a.ndim == 1 and b.ndim == 1)


FEW_ROWS = 48   # up to this many rows, x @ W.T runs faster as (W @ x.T).T (see _by_matrix)
SMALL_PRODUCT = 2048   # ... unless the product is smaller than this: then the copy costs more than it saves


def _by_matrix(a: Any, b: Any) -> Any:
    """``a @ b`` for matrices, row-major like NumPy's.

    A few rows times a transposed weight (``h @ W.T`` of a recurrent step, batch ≤ 48) runs as
    ``(W @ h.T).T`` copied to row-major: OpenBLAS's kernel for a transposed right operand is
    slow when the left one has few rows (135 against 95 µs at (20, 200) @ (200, 800), and
    1.3x at (32, 128) @ (128, 3000)); each entry is the same dot product (equal results here).
    A product of fewer than ``SMALL_PRODUCT`` entries (an RNN's (16, 64) @ (64, 64): 3.4 against
    2.6 µs) runs as it is.
    """
    if (a.shape[0] * b.shape[1] >= SMALL_PRODUCT and a.shape[0] <= FEW_ROWS and type(a) is numpy.ndarray
            and type(b) is numpy.ndarray and _column_major(b) and a.flags.c_contiguous):
        return numpy.ascontiguousarray((b.T @ a.T).T)
    return a @ b


def _column_major(b: Any) -> bool:
    """Whether matrix ``b`` is laid out column-major only, as ``W.T`` of a row-major weight ``W`` is."""
    flags = b.flags
    return bool(flags.f_contiguous and not flags.c_contiguous)


class ProductSum(LazyGradient):
    """A gradient Σᵢ aᵢᵀ gᵢ kept as its factors until its value is needed.

    ``matmul`` returns one for its right operand (typically a weight). A weight
    used at every step of an unrolled RNN then gets its gradient from one GEMM
    over all T·B rows, ``concat(a)ᵀ @ concat(g)``, when the backward pass
    reaches it, instead of T small GEMMs and T sums of full weight-sized arrays.
    The engine only adds it (``+``) and asks for its ``value()``.

    ``column_major``: the operand was column-major (``x @ W.T``); the value is
    then computed as ``(Σᵢ gᵢᵀ aᵢ)ᵀ``, the same GEMM with its operands swapped,
    so that it too is column-major and ``W``'s gradient comes out row-major,
    like ``W``. A mixed layout would send every later elementwise pass over the
    gradient (optimizer steps, clipping, accumulation) to NumPy's slow strided
    loops (4x slower for a (10000, 200) float32 update).
    """

    __slots__ = ("lefts", "rights", "column_major", "dtype")

    def __init__(self, left: Any, right: Any, column_major: bool = False) -> None:
        self.lefts, self.rights, self.column_major = [left], [right], column_major
        self.dtype = left.dtype   # read by the engine at each sum (an attribute: no call), the first factor's

    def value(self) -> Any:
        if len(self.lefts) == 1:
            left, right = self.lefts[0], self.rights[0]
        else:
            xp = backend.array_module(self.lefts[0])
            left, right = xp.concatenate(self.lefts), xp.concatenate(self.rights)
        return (right.T @ left).T if self.column_major else left.T @ right

    def __add__(self, other: Any) -> Any:
        if type(other) is ProductSum:   # two sums of products merge without any arithmetic
            self.lefts += other.lefts
            self.rights += other.rights
            return self
        return self.value() + other

    def __radd__(self, other: Any) -> Any:
        return other + self.value()


class StepMatMul(MatMul):
    """``h @ Wᵀ`` of a loop that multiplies by the same weight at every step (a recurrent cell's).

    Inputs: ``a`` (n, k); ``b`` = Wᵀ (k, m), the transposed parameter, column-major; ``b_rows``:
    the same values copied row-major, once per loop, cut from the graph. The forward multiplies by
    the copy: OpenBLAS runs a product with a row-major right operand faster (float32, one thread:
    187 against 214 µs at (128, 128) @ (128, 512), 5.6 against 14.0 µs at (16, 64) @ (64, 256)).
    The backward is ``MatMul``'s: ``gy @ bᵀ`` multiplies by W itself, which is row-major already.
    """

    name = "matmul"   # drawn, and read, as the product it is

    def forward(self, a: Any, b: Any, b_rows: Any) -> Any:
        self.keep(a, b)
        return a @ b_rows

    def backward(self, gy: Any) -> tuple:
        return (*super().backward(gy), None)


class StepAddMatMul(StepMatMul):
    """``c + h @ Wᵀ`` of a recurrent step (the gates' sum): ``StepMatMul`` with an addend, as one op.

    Inputs as ``StepMatMul``'s, then ``c``: (n, m), or a bias (m,) broadcast over the rows. The
    sum is added into the product's fresh array, ``y += c``, which gives the same values as
    ``c + y`` (floating-point addition is commutative); an addend of another dtype, or one that
    would widen the result, is added out of place. One op instead of two saves a node per step
    of a recurrent layer: the graph's bookkeeping, not the arithmetic, is what small steps cost.
    """

    name = "addmm"   # PyTorch's name for bias + product

    def forward(self, a: Any, b: Any, b_rows: Any, c: Any) -> Any:
        self.keep(a, b)
        self.addend_shape = c.shape
        y = a @ b_rows
        if y.dtype == c.dtype:   # the addend's shape is (n, m) or (m,): y keeps its shape
            y += c
            return y
        return c + y

    def backward(self, gy: Any) -> tuple:
        gc = sum_to(gy, self.addend_shape) if self.needs_grad[3] else None
        return (*MatMul.backward(self, gy), None, gc)


def matmul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Matrix product ``a @ b`` as ``numpy.matmul``: (…, n, k) @ (…, k, m) → (…, n, m); ``out=``: written into
    that tensor (minigrad/outputs.py)."""
    if out is not None:
        return write_out("matmul", MatMul()(input, other), out, "exact", inputs=(input, other), overlap="any")
    return fresh_memory(MatMul()(input, other))


def matmul_operator(a: Any, b: Any) -> Tensor:
    """``a @ b``: :func:`matmul` without its ``out=`` test (the operators never take one). A stack times a matrix
    is one GEMM reshaped back, a view of the op's own temporary: marked as owning its memory (``fresh_memory``)."""
    return fresh_memory(MatMul()(a, b))


def _check_step_operands(name: str, h: Any, weight_t: Any, weight_t_rows: Any) -> None:
    shapes = [getattr(x, "shape", None) for x in (h, weight_t, weight_t_rows)]
    if (any(s is None or len(s) != 2 for s in shapes) or shapes[0][1] != shapes[1][0]
            or shapes[1] != shapes[2]):
        raise MatMulShapeError(f"{name}: expected h (n, k), weight_t (k, m) and weight_t_rows (k, m) tensors, "
                               f"got shapes {', '.join(str(tuple(s)) if s is not None else '?' for s in shapes)}")


def step_matmul(h: Tensor, weight_t: Tensor, weight_t_rows: Tensor) -> Tensor:
    """``h @ weight_t`` for a loop that multiplies by ``weight_t`` = Wᵀ at every step: h (n, k), Wᵀ (k, m) → (n, m).

    ``weight_t_rows`` holds the same values row-major (``weight_t.detach().contiguous()``, made
    once before the loop): the forward product runs from it, faster on the CPU (see ``StepMatMul``);
    gradients flow to ``h`` and ``weight_t`` as for ``h @ weight_t``, none to the copy.
    """
    _check_step_operands("step_matmul", h, weight_t, weight_t_rows)
    return StepMatMul()(h, weight_t, weight_t_rows)


def step_addmm(addend: Tensor, h: Tensor, weight_t: Tensor, weight_t_rows: Tensor) -> Tensor:
    """``addend + h @ weight_t`` as one op (``StepAddMatMul``): the product as :func:`step_matmul`'s,
    ``addend`` (n, m), or (m,) broadcast over the rows; the same values and gradients as the two ops."""
    _check_step_operands("step_addmm", h, weight_t, weight_t_rows)
    rows, columns = h.shape[0], weight_t.shape[1]
    shape = getattr(addend, "shape", None)
    if shape not in ((rows, columns), (columns,)):
        raise MatMulShapeError(f"step_addmm: the addend must be ({rows}, {columns}) or ({columns},) to add to "
                               f"h {tuple(h.shape)} @ weight_t {tuple(weight_t.shape)}, got {shape}")
    return StepAddMatMul()(h, weight_t, weight_t_rows, addend)


def bmm(input: Tensor, mat2: Tensor, *, out_dtype: Any = None, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Batched matrix product, as torch.bmm: (B, n, k) @ (B, k, m) → (B, n, m); no broadcasting."""
    if out is not None:
        return write_out("bmm", bmm(input, mat2, out_dtype=out_dtype), out, "exact", inputs=(input, mat2),
                         overlap="any")
    if out_dtype is not None:
        raise unsupported("bmm", "out_dtype=", OUT_DTYPE)
    a, b = input, mat2
    shape_a, shape_b = getattr(a, "shape", ()), getattr(b, "shape", ())
    if len(shape_a) != 3 or len(shape_b) != 3 or shape_a[0] != shape_b[0] or shape_a[2] != shape_b[1]:
        raise MatMulShapeError(f"bmm: expects (B, n, k) and (B, k, m) with the same B and k, got shapes "
                         f"{tuple(shape_a)} and {tuple(shape_b)}")
    op = MatMul()
    op.name = "bmm"
    return op(a, b)
