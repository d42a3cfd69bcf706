"""Vector and matrix norms with ``torch.linalg``'s names, arguments and results: ``vector_norm``,
``matrix_norm``, ``norm`` (PyTorch's dispatch between the two) and ``cond``.

``vector_norm`` is the :class:`~minigrad.ops.reduce.Norm` op (PyTorch's ``norm_backward`` term by
term: the gradient at a zero norm is 0, ties of the inf-norms share it). The matrix norms are
compositions, as PyTorch's: ``'fro'`` a vector 2-norm over the two dims, ``1``/``inf`` a max of
absolute column/row sums, ``2``/``-2``/``'nuc'`` the largest/smallest/sum of the singular values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import backend
from ..recording import is_recording
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    ShapeMismatchError,
    axis_alias,
    int_tuple,
    keep_flag,
    normalize_axis,
    tensor_arg,
)
from .arrange import movedim
from .decompositions import SingularValues
from .elementwise import abs, div, mul, where  # noqa: A004 - the op's name
from .linalg_arguments import LinalgShapeError, floating, module
from .reduce import Norm, amax, amin
from .shape import astype, getitem, unsqueeze
from .solvers import Inverse

_INF = math.inf
_MATRIX_DIMS = (-2, -1)   # matrix_norm's default dim


def _cast(x: Any, dtype: Any, name: str, half_ok: bool = False) -> Tensor:
    """The ``dtype=`` keyword of the norms: ``x`` cast to ``dtype`` first (a float dtype at least as wide; a
    complex one for a complex ``x``, whose entries then count by their moduli, so the norm is real).
    ``half_ok``: a float16 ``x`` is taken (vector_norm's, as PyTorch's; the matrix norms refuse it)."""
    x = tensor_arg(x, name)
    if x.dtype.kind == "c":
        if dtype is not None:
            target = numpy.dtype(dtype)
            if target.kind != "c" or target.itemsize < x.dtype.itemsize:
                raise ArgumentTypeError(f"{name}: dtype should be a complex dtype at least as wide as the input's "
                                        f"{x.dtype} for complex inputs, but got {target}")
            x = astype(x, target)
        return abs(x)
    x = x if half_ok and x.dtype == "float16" else floating(x, name)
    if dtype is None:
        return x
    target = numpy.dtype(dtype)
    if target.kind != "f":
        raise ArgumentTypeError(f"{name}: dtype should be a floating-point dtype, got {target}")
    if target.itemsize < x.dtype.itemsize:
        raise ArgumentTypeError(f"{name}: the input's dtype {x.dtype} should be convertible without narrowing to dtype "
                        f"{target}")
    return x if target == x.dtype else astype(x, target)


class EmptyNormError(ValueError, IndexError):
    """A negative-order (or -inf) matrix norm of empty matrices: PyTorch's IndexError, and a ValueError as before."""


def _order(ord: Any, name: str) -> float:  # noqa: A002 - PyTorch's name
    if isinstance(ord, Tensor) and ord.numel() == 1:
        ord = ord.item()   # noqa: A001
    if isinstance(ord, bool) or not isinstance(ord, (int, float, numpy.number)):
        raise TypeError(f"{name}: ord must be a number (inf and -inf too), got {ord!r}")
    return float(ord)


def _order_text(order: float) -> str:
    return str(int(order)) if math.isfinite(order) and order == int(order) else str(order)


def _vector_dims(dim: Any, ndim: int, name: str) -> Any:
    """vector_norm's ``dim``: None, ``()`` and ``[]`` reduce every dim; a 0-d tensor takes 0 or -1."""
    if dim is None:
        return None
    dims = int_tuple(dim, name, "dim", dims=True)
    if not dims:
        return None
    axes = normalize_axis(dims, ndim, name)   # a 0-d tensor: 0 or -1, once
    if len(set(axes)) != len(axes):
        raise ShapeMismatchError(f"{name}: dim {dim!r} names a dim more than once")
    if ndim == 0:
        return None
    return axes


def vector_norm(x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None, axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """The vector ``ord``-norm of ``x`` over ``dim`` (None: all elements), as torch.linalg.vector_norm:
    ``(Σ|x|ᵒʳᵈ)^(1/ord)``; ``inf``/``-inf`` the max/min of |x|; 0 the count of non-zeros. (2, 3, 4) over
    dim (1, 2) → (2,) (or (2, 1, 1) with ``keepdim``). ``dtype`` casts x first.

    The gradient at a zero norm is 0 (a subgradient), as PyTorch's. ``inf`` and negative orders have no
    identity: reducing an empty dim with them raises, as in PyTorch. ``axis=`` and ``keepdims=`` are PyTorch's
    aliases of ``dim=`` and ``keepdim=``."""
    name = "linalg.vector_norm"
    dim, keepdim = axis_alias(name, dim, axis, None), keep_flag(name, keepdim, keepdims)
    order = _order(ord, name)
    x = _cast(x, dtype, name, half_ok=True)
    axes = _vector_dims(dim, x.ndim, name)
    if order < 0 or order == _INF:
        empty = [a for a in (range(x.ndim) if axes is None else axes) if x.shape[a] == 0]
        if empty:
            raise LinalgShapeError(f"{name}: cannot compute the {_order_text(order)} norm over the empty dim "
                                   f"{empty[0]} of shape {x.shape}: the operation has no identity")
    op = Norm(order, axes, bool(keepdim))
    op.name = name
    return op(x)


def _matrix_dims(dim: Any, ndim: int, name: str) -> tuple:
    dims = int_tuple(dim, name, "dim", dims=True)
    if len(dims) != 2:
        raise ShapeMismatchError(f"{name}: dim must be a pair of dims, got {dim!r}")
    first, second = normalize_axis(dims, ndim, name)
    if first == second:
        raise ShapeMismatchError(f"{name}: the two dims must be different, got {dim!r}")
    return first, second


def singular_values(a: Tensor) -> Tensor:
    """S (…, k) of a (…, m, n); U and Vh are kept for the gradient only when ``a`` requires one."""
    return SingularValues(a.requires_grad and is_recording())(a)


def matrix_norm(A: Any, ord: Any = "fro", dim: Any = _MATRIX_DIMS, keepdim: bool = False, *,  # noqa: A002, N803
                dtype: Any = None, axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """The matrix ``ord``-norm of the matrices in dims ``dim`` of A, as torch.linalg.matrix_norm: ``'fro'``
    (Frobenius), ``'nuc'`` (sum of singular values), 1 / -1 (max / min absolute column sum), inf / -inf (max /
    min absolute row sum), 2 / -2 (largest / smallest singular value). A (…, m, n) → (…) (or (…, 1, 1) with
    ``keepdim``). The orders 2, -2 and 'nuc' differentiate through the SVD (distinct singular values). ``axis=``
    and ``keepdims=`` are PyTorch's aliases of ``dim=`` and ``keepdim=`` (NumPy's matrix_norm has no axis)."""
    name = "linalg.matrix_norm"
    dim, keepdim = axis_alias(name, dim, axis, _MATRIX_DIMS), keep_flag(name, keepdim, keepdims)
    A = tensor_arg(A, name)  # noqa: N806
    if A.dtype == "float16" and dtype is None and (ord == "fro" or ord in (1, -1, _INF, -_INF)):
        # PyTorch's float16 kernels of these orders (sums and maxima): in float32, rounded once
        return matrix_norm(A.float(), ord, dim, keepdim).half()
    complex_input = A if A.dtype.kind == "c" else None
    A = _cast(A, dtype, name)  # noqa: N806
    if A.ndim < 2:
        raise ShapeMismatchError(f"{name}: the input A must have at least 2 dims, got shape {A.shape}")
    first, second = _matrix_dims(dim, A.ndim, name)
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise ValueError(f"{name}: order {ord!r} is not supported; use 'fro', 'nuc', 1, -1, 2, -2, inf or -inf")
        order = ord
    else:
        order = _order(ord, name)
        if order not in (1, -1, 2, -2, _INF, -_INF):
            raise ShapeMismatchError(f"{name}: order {_order_text(order)} is not supported; use 'fro', 'nuc', "
                                     f"1, -1, 2, -2, inf or -inf")
    if A.shape[first] == 0 or A.shape[second] == 0:
        if order in ("fro", "nuc") or (order in (1, -1) and A.shape[second] and A.shape[first] == 0) \
                or (order in (_INF, -_INF) and A.shape[first] and A.shape[second] == 0):
            return vector_norm(A, 2, (first, second), keepdim)   # 0, with a (zero) gradient, as PyTorch's
        if order < 0:
            raise EmptyNormError(f"{name}: cannot compute the {_order_text(order)} norm of empty matrices (shape "
                                 f"{A.shape}): the operation has no identity")
        return vector_norm(A, 2, (first, second), keepdim).detach()   # a max over nothing: 0, without gradient
    if order == "fro":
        return vector_norm(A, 2, (first, second), keepdim)
    if order in ("nuc", 2, -2):
        if complex_input is not None:   # the singular values of the complex matrix, not of its moduli (_cast's)
            A = complex_input if dtype is None else astype(complex_input, dtype)  # noqa: N806
        values = singular_values(movedim(A, (first, second), (-2, -1)))
        result = values.sum(-1) if order == "nuc" else amax(values, -1) if order == 2 else amin(values, -1)
        if keepdim:
            result = unsqueeze(unsqueeze(result, min(first, second)), max(first, second))
        return result
    # 1 / -1: column sums (over the first dim), then their max / min; inf / -inf: row sums
    summed, extreme = (first, second) if order in (1, -1) else (second, first)
    sums = Norm(1.0, (summed,), bool(keepdim))(A)
    if not keepdim and summed < extreme:
        extreme -= 1
    return amax(sums, extreme, keepdim) if order > 0 else amin(sums, extreme, keepdim)


def norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *,  # noqa: A002, N803
         dtype: Any = None, axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """A vector or matrix norm, chosen as torch.linalg.norm chooses: a string ``ord``, or ``ord`` with two dims
    (or with a 2-D A and no dim), gives :func:`matrix_norm`; otherwise :func:`vector_norm` (``ord=None``: the
    2-norm of the flattened A, or over ``dim``). ``axis=``/``keepdims=`` are PyTorch's aliases of ``dim=``/
    ``keepdim=``, and NumPy's keywords of ``np.linalg.norm``, which chooses the same norm."""
    name = "linalg.norm"
    dim, keepdim = axis_alias(name, dim, axis, None), keep_flag(name, keepdim, keepdims)
    A = tensor_arg(A, name)  # noqa: N806
    dims = None if dim is None else int_tuple(dim, name, "dim")
    if dims is not None and len(dims) not in (1, 2):
        raise ShapeMismatchError(f"{name}: if dim is given, it must name 1 or 2 dims, got {dim!r}")
    if dims is None and ord is not None and A.ndim not in (1, 2):
        raise LinalgShapeError(f"{name}: if dim is not given but ord is, the input must be 1-D or 2-D, got shape "
                               f"{A.shape}")
    if isinstance(ord, str) or (ord is not None and (dims is None and A.ndim == 2 or dims is not None
                                                      and len(dims) == 2)):
        return matrix_norm(A, ord, (0, 1) if dims is None else dims, keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)


def cond(A: Any, p: Any = None) -> Tensor:  # noqa: N803
    """The condition number of A (…, m, n) in the matrix norm ``p`` (torch.linalg.cond) → (…): for None, 2 and
    -2 the ratio of the extreme singular values (any m, n); for 'fro', 'nuc', 1, -1, inf, -inf (square A)
    ``norm(A) · norm(A⁻¹)``, inf where A is singular."""
    name = "linalg.cond"
    A = floating(A, name, complex_ok=True)  # noqa: N806
    if A.ndim < 2:
        raise ValueError(f"{name}: the input A must have at least 2 dims, got shape {A.shape}")
    string = isinstance(p, str)
    if A.numel() == 0 and (p is None or (string and p in ("fro", "nuc") and A.shape[-1] == A.shape[-2])
                           or (not string and math.fabs(_order(p, name)) in (1, 2, math.inf))):
        # no condition number for an empty matrix: zeros of the batch shape, as PyTorch's (and NumPy's)
        real = A.data.real.dtype if A.dtype.kind == "c" else A.dtype
        with backend.on_device(A.device):
            return Tensor._make(module(A.data).zeros(A.shape[:-2], dtype=real), False, None, 0)
    if p is None or (not string and _order(p, name) in (2, -2)):
        values = singular_values(A)
        largest, smallest = getitem(values, (..., 0)), getitem(values, (..., -1))
        return div(largest, smallest) if p is None or _order(p, name) == 2 else div(smallest, largest)
    if A.shape[-1] != A.shape[-2]:
        raise ShapeMismatchError(f"{name}(ord={p!r}): A must be batches of square matrices, but they are "
                                 f"{A.shape[-2]} by {A.shape[-1]} matrices (shape {A.shape})")
    if p == "nuc":   # from the singular values, as PyTorch's: NaN (0 · inf) for a zero matrix
        values = singular_values(A)
        return mul(values.sum(-1), div(1.0, values).sum(-1))
    op = Inverse(check_errors=False, with_info=True)
    op.name = name
    inverse, info = op(A)
    singular = info.detach() != 0
    product = mul(matrix_norm(A, p), matrix_norm(where(unsqueeze(unsqueeze(singular, -1), -1), 0.0, inverse), p))
    # a singular A, and a NaN in A (PyTorch's nan_to_num of the product): inf
    undefined = Tensor._make(singular.data | module(A.data).isnan(product.data), False, None, 0)
    return where(undefined, math.inf, product)


