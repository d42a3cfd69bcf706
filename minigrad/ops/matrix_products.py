"""Products and tensor-shaped systems with ``torch.linalg``'s names: ``vecdot``, ``multi_dot`` (in the cheapest
order), ``vander``, ``tensorinv``, ``tensorsolve``. Compositions of ``matmul``, ``mul``, ``cumprod``, ``reshape``
and the inverse and solve ops, so their gradients are those ops' (PyTorch's, complex ones included)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy

from .. import backend
from ..tensor import Tensor
from ._util import (
    ArgumentTypeError,
    DtypeMismatchError,
    ShapeMismatchError,
    int_arg,
    int_tuple,
    normalize_axis,
    tensor_arg,
)
from .arrange import movedim
from .complex_ops import conj
from .elementwise import mul
from .join import cat
from .linalg import matmul
from .linalg_arguments import LinalgShapeError, floating, module, same_dtype
from .scan import cumprod
from .shape import broadcast_to, reshape, squeeze, unsqueeze
from .solvers import Inverse, Solve


def vecdot(x: Any, y: Any, *, dim: int = -1, axis: Any = None) -> Tensor:
    """``Σ conj(x)·y`` along ``dim`` after broadcasting (``Σ x·y`` for real ones), as torch.linalg.vecdot:
    (…, n) and (…, n) → (…). ``axis=`` is PyTorch's alias of ``dim=`` and NumPy's keyword (``np.linalg.vecdot``:
    the same sum)."""
    name = "linalg.vecdot"
    if axis is not None:
        if dim != -1:
            raise TypeError(f"{name}() got multiple values for argument 'dim' (axis= is its alias)")
        dim = axis
    # float16 too, as PyTorch's (its product in float16, its sum in float32, rounded once: mul and sum's own)
    x, y = (v if isinstance(v, Tensor) and v.dtype == "float16" else floating(v, name, what, complex_ok=True)
            for v, what in ((x, "x"), (y, "y")))
    if x.dtype != y.dtype:   # PyTorch: RuntimeError (no promotion)
        raise DtypeMismatchError(f"{name}: expected x and y to have the same dtype, got x of dtype {x.dtype} and y "
                                 f"of dtype {y.dtype}")
    if x.ndim == 1 and y.ndim == 1 and x.shape != y.shape:   # two vectors: PyTorch's dot, which does not broadcast
        raise LinalgShapeError(f"{name}: vectors of different lengths, shapes {x.shape} and {y.shape}")
    try:
        shape = numpy.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise LinalgShapeError(f"{name}: shapes {x.shape} and {y.shape} do not broadcast") from None
    axis = normalize_axis(dim, max(len(shape), 1), name)[0]
    if x.dtype.kind == "c":
        x = conj(x)
    return mul(x, y).sum(axis - len(shape) if shape else None)


def multi_dot(tensors: Sequence[Any]) -> Tensor:
    """The product of a chain of matrices, in the cheapest order (torch.linalg.multi_dot): the first may be a
    vector (n,) read as a row, the last a vector read as a column, and their dims are dropped from the result;
    the others are 2-D. (n,) @ (n, m) @ (m,) → ()."""
    name = "linalg.multi_dot"
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if len(tensors) < 2:
        raise LinalgShapeError(f"{name}: expected at least 2 tensors, got {len(tensors)}")
    items = [tensor_arg(t, name) for t in tensors]
    for i, t in enumerate(items):
        allowed = (1, 2) if i in (0, len(items) - 1) else (2,)
        if t.ndim not in allowed:
            where = "first" if i == 0 else "last" if i == len(items) - 1 else f"tensor {i}"
            raise LinalgShapeError(f"{name}: the {where} tensor must be {' or '.join(f'{d}-D' for d in allowed)}, got "
                                   f"shape {t.shape}")
        if t.dtype != items[0].dtype:
            raise DtypeMismatchError(f"{name}: all tensors must have the same dtype, but tensor 0 is "
                                     f"{items[0].dtype} and tensor {i} is {t.dtype}")
    row, column = items[0].ndim == 1, items[-1].ndim == 1
    matrices = list(items)
    if row:
        matrices[0] = unsqueeze(matrices[0], 0)
    if column:
        matrices[-1] = unsqueeze(matrices[-1], -1)
    for i in range(len(matrices) - 1):
        if matrices[i].shape[1] != matrices[i + 1].shape[0]:
            raise ShapeMismatchError(f"{name}: tensors {i} and {i + 1} with shapes {items[i].shape} and "
                                     f"{items[i + 1].shape} cannot be multiplied")
    result = _chain(matrices)
    if row and column:
        return reshape(result, ())
    return squeeze(result, 0) if row else squeeze(result, -1) if column else result


def _chain(matrices: list) -> Tensor:
    """The product of 2-D tensors in the order of fewest multiplications (the textbook dynamic programme)."""
    count = len(matrices)
    sizes = [matrices[0].shape[0]] + [m.shape[1] for m in matrices]
    if count == 3:   # PyTorch's own rule for three: (AB)C unless A(BC) is strictly cheaper (a tie rounds as (AB)C)
        a, b, c, d = sizes
        if a * c * (b + d) > b * d * (a + c):
            return matmul(matrices[0], matmul(matrices[1], matrices[2]))
        return matmul(matmul(matrices[0], matrices[1]), matrices[2])
    cost = [[0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def product(i: int, j: int) -> Tensor:
        if i == j:
            return matrices[i]
        return matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    return product(0, count - 1)


def vander(x: Any, N: int | None = None) -> Tensor:  # noqa: N803
    """The Vandermonde matrix of x (…, n) (0-d: (1,)): (…, n, N) with columns ``x⁰, x¹, …, x^(N-1)`` (N = n by
    default), as torch.linalg.vander (complex x too); a cumulative product of x, so the gradient is PyTorch's."""
    name = "linalg.vander"
    x = tensor_arg(x, name)
    if x.dtype.kind not in "iufc" or (x.dtype.kind == "f" and x.dtype.itemsize < 4):
        raise ArgumentTypeError(f"{name}: supports float32, float64, complex and integer tensors, got {x.dtype}")
    if x.ndim == 0:
        x = unsqueeze(x, -1)
    count = x.shape[-1] if N is None else int_arg(N, name, "N")
    if count <= 1:
        raise LinalgShapeError(f"{name}: N must be greater than 1, got {count}")
    powers = cumprod(broadcast_to(unsqueeze(x, -1), tuple(x.shape) + (count - 1,)), -1)
    with backend.on_device(x.device):
        ones = module(x.data).ones(tuple(x.shape) + (1,), dtype=powers.dtype)
    return cat([Tensor._make(ones, False, None, 0), powers], -1)


def tensorinv(A: Any, ind: int = 2) -> Tensor:  # noqa: N803
    """The inverse of A read as a linear map from its last dims to its first ``ind`` dims (torch.linalg.tensorinv):
    A of shape ``S₁ + S₂`` with ``prod(S₁) == prod(S₂)`` → ``S₂ + S₁``."""
    name = "linalg.tensorinv"
    A = floating(A, name, "A", complex_ok=True)  # noqa: N806
    ind = int_arg(ind, name, "ind")
    if ind <= 0:
        raise LinalgShapeError(f"{name}: ind must be a positive integer, got {ind}")
    rows, columns = A.shape[:ind], A.shape[ind:]
    if math.prod(rows) != math.prod(columns):
        raise LinalgShapeError(f"{name}: expected prod(A.shape[ind:]) == prod(A.shape[:ind]), got shape {A.shape} with "
                               f"ind={ind}")
    op = Inverse()
    op.name = name
    return reshape(op(reshape(A, (math.prod(rows), math.prod(columns)))), tuple(columns) + tuple(rows))


def tensorsolve(A: Any, B: Any, dims: Any = None) -> Tensor:  # noqa: N803
    """X with ``tensordot(A, X, X.ndim) = B`` (torch.linalg.tensorsolve): A of shape ``S + X.shape`` where
    ``prod(S) == prod(X.shape) == B.numel()`` (S is B.shape, or any shape with B's element count, read flat as
    PyTorch does); ``dims`` moves those dims of A to the end first."""
    name = "linalg.tensorsolve"
    A, B = floating(A, name, "A", complex_ok=True), floating(B, name, "B", complex_ok=True)  # noqa: N806
    same_dtype(name, A, B)
    if dims is not None:
        moved = int_tuple(dims, name, "dims", dims=True)
        A = movedim(A, moved, tuple(range(A.ndim - len(moved), A.ndim)))  # noqa: N806
    result_shape = tuple(A.shape[B.ndim:])
    # as PyTorch, only the element counts must agree: A's first B.ndim dims are read flat, as B is
    if math.prod(A.shape[:B.ndim]) != B.numel() or math.prod(result_shape) != B.numel():
        raise LinalgShapeError(f"{name}: expected prod(A.shape[B.ndim:]) == prod(A.shape[:B.ndim]) == B.numel(), "
                               f"got A of shape {A.shape} and B of shape {B.shape}")
    op = Solve(True)
    op.name = name
    return reshape(op(reshape(A, (B.numel(), B.numel())), reshape(B, (B.numel(),))), result_shape)
