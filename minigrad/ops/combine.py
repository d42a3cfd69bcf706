"""Ops that combine tensors or cut one into parts, with PyTorch's names: the stacks (``hstack``,
``vstack``, ``dstack``, ``column_stack``, ``atleast_Nd``), the splits (``tensor_split``, ``hsplit`` …,
``split_with_sizes``), the products (``mv``, ``inner``, ``tensordot``, ``kron``, ``cross`` and
``linalg_cross``, ``vdot``, ``addmv``, ``addr``, ``addbmm``, ``matrix_power``) and ``diff``.

Each is a composition of ``cat``, ``split``, ``matmul``, ``permute``/``reshape``, ``mul`` and
``roll``, so the gradients are theirs; ``tensordot`` and ``addbmm`` become one matrix product each.
Mixed dtypes promote as everywhere in minigrad (NumPy's rules; PyTorch refuses some pairs).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy

from .. import backend
from ..autograd import AxisError
from ..autograd.names import respelled
from ..recording import note_read
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    axis_alias,
    int_arg,
    int_tuple,
    normalize_axis,
    one_axis,
    one_of,
    tensor_arg,
)
from .contract import _named_product, _scaled_sum, _shapes, dot, mm, outer
from .elementwise import mul, sub
from .index import roll
from .inplace import _fill
from .join import NoDimError, Split, cat
from .linalg import matmul
from .reduce import sum as sum_
from .shape import broadcast_to, clone, getitem, permute, reshape, track_view, unsqueeze
from .solvers import Inverse

# --- stacks and splits ---------------------------------------------------------------------------------

def _atleast(ndim: int, tensors: tuple, name: str) -> Any:
    """torch.atleast_Nd: one tensor in gives one out; several, or one list, give a tuple."""
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for t in items:
        t = tensor_arg(t, name)
        if t.ndim == 0 and ndim:   # PyTorch views a 0-d tensor, and unsqueezes one of 1 or 2 dims
            t = reshape(t, (1,) * ndim)
        elif t.ndim < ndim:   # (n,) → (1, n) [→ (1, n, 1)]; (m, n) → (m, n, 1): unsqueeze's strides, as PyTorch's
            if t.ndim == 1:
                t = unsqueeze(t, 0)
            if t.ndim < ndim:
                t = unsqueeze(t, -1)
        out.append(t)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes (1,)); one tensor in, one out, else a tuple."""
    return _atleast(1, tensors, "atleast_1d")


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims: () → (1, 1), (n,) → (1, n)."""
    return _atleast(2, tensors, "atleast_2d")


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: () → (1, 1, 1), (n,) → (1, n, 1), (m, n) → (m, n, 1)."""
    return _atleast(3, tensors, "atleast_3d")


def _tensor_list(tensors: Any, name: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ShapeMismatchError(f"{name}: expects a non-empty list of tensors")
    return [tensor_arg(t, name) for t in tensors]


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined column-wise: 1-D ones end to end (dim 0), others along dim 1 (torch.hstack)."""
    parts = list(atleast_1d(tuple(_tensor_list(tensors, "hstack"))))
    return cat(parts, 0 if parts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined row-wise (dim 0) after :func:`atleast_2d`: (n,) and (n,) → (2, n)."""
    return cat(list(atleast_2d(tuple(_tensor_list(tensors, "vstack")))), 0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined depth-wise (dim 2) after :func:`atleast_3d`: (m, n) and (m, n) → (m, n, 2)."""
    return cat(list(atleast_3d(tuple(_tensor_list(tensors, "dstack")))), 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """0-d and 1-D tensors as columns (n, 1), joined with the others along dim 1: (n,), (n, 2) → (n, 3)."""
    parts = [reshape(t, (t.numel(), 1)) if t.ndim < 2 else t for t in _tensor_list(tensors, "column_stack")]
    return cat(parts, 1)


def tensor_split(input: Tensor, indices_or_sections: Any = NOT_GIVEN, dim: int = 0, *,  # noqa: A002
                 sections: Any = NOT_GIVEN, indices: Any = NOT_GIVEN, tensor_indices_or_sections: Any = NOT_GIVEN,
                 axis: Any = NOT_GIVEN) -> tuple:
    """``x`` cut along ``dim`` into a tuple of views (torch.tensor_split): an int n gives n parts, the first
    ``size % n`` one longer; a list of indices gives the parts between them (Python's slice rules).
    PyTorch's keywords ``sections=``, ``indices=`` and ``tensor_indices_or_sections=`` name them too, and ``axis=``
    (its alias) the dim."""
    dim = axis_alias("tensor_split", dim, axis, 0)
    if (indices_or_sections is NOT_GIVEN or sections is not NOT_GIVEN or indices is not NOT_GIVEN
            or tensor_indices_or_sections is not NOT_GIVEN):   # PyTorch's keywords
        indices_or_sections = _cuts("tensor_split", indices_or_sections=indices_or_sections, sections=sections,
                                    indices=indices, tensor_indices_or_sections=tensor_indices_or_sections)
    x = tensor_arg(input, "tensor_split")
    if x.ndim == 0:
        raise NoDimError("tensor_split: expects a tensor with at least 1 dim, got shape ()")
    axis = one_axis(dim, x.ndim, "tensor_split")
    cuts = indices_or_sections
    if isinstance(cuts, Tensor):
        note_read(cuts, "tolist")   # the parts' shapes depend on these values: mg.compile runs it eagerly
        if cuts.dtype != "int64" or cuts.ndim > 1:   # PyTorch takes int64 only (int32 raises too)
            raise ArgumentTypeError(f"tensor_split: a tensor of sections or indices must be a 0-d or 1-D int64 "
                                    f"tensor, got {cuts.dtype}{cuts.shape}")
        cuts = cuts.tolist()
    size = x.shape[axis]
    if isinstance(cuts, (list, tuple)):
        points = list(int_tuple(cuts, "tensor_split", "indices"))
    else:
        sections = int_arg(cuts, "tensor_split", "sections (or a list of indices)", one_element=True)  # SymInt
        if sections <= 0:
            raise ShapeMismatchError(f"tensor_split: the number of sections must be positive, got {sections}")
        points, total = [], 0
        for i in range(sections - 1):
            total += size // sections + (i < size % sections)
            points.append(total)
    op = Split(points, axis, len(points) + 1)
    op.name = "tensor_split"
    # each part is a view x[index] whose in-place ops reach x, as PyTorch's (split, chunk and unbind refuse them)
    return tuple(track_view(x, part, index) for part, index in zip(op(x), op.indices))


def _cuts(name: str, **spellings: Any) -> Any:
    """The cuts given as one of ``indices_or_sections`` or PyTorch's keywords ``sections=`` (an int),
    ``indices=`` (a list) and ``tensor_indices_or_sections=`` (a Tensor of either)."""
    sections, indices = spellings["sections"], spellings["indices"]
    if isinstance(sections, (list, tuple)) or (indices is not NOT_GIVEN and not isinstance(indices, (list, tuple))):
        raise TypeError(f"{name}: sections= takes an int and indices= a list of ints, got {sections!r:.40} and "
                        f"{indices!r:.40}")
    return one_of(name, **spellings)


def _split_by(x: Any, cuts: Any, axis: int, min_ndim: int, name: str, sections: Any, indices: Any) -> tuple:
    if cuts is NOT_GIVEN or sections is not NOT_GIVEN or indices is not NOT_GIVEN:   # PyTorch's keywords
        cuts = _cuts(name, indices_or_sections=cuts, sections=sections, indices=indices)
    if not isinstance(cuts, (int, list, tuple, Tensor, numpy.integer)) and hasattr(cuts, "__index__"):
        cuts = [cuts]   # PyTorch's int[] overload takes an object with only __index__ (a 0-d NumPy array) as one index
    if isinstance(cuts, (list, tuple)):   # PyTorch's int[] of indices reads a bool tensor as 0 or 1 (tensor_split's
        cuts = int_tuple(cuts, name, "indices", dims=True)   # own SymInt[] refuses it)
    x = tensor_arg(x, name)
    if x.ndim < min_ndim:
        raise ShapeMismatchError(f"{name}: expects a tensor with at least {min_ndim} dims, got shape {x.shape}")
    if not isinstance(cuts, (list, tuple, Tensor)):
        sections = int_arg(cuts, name, "sections (or a list of indices)")
        if sections <= 0 or x.shape[axis] % sections:
            raise ShapeMismatchError(f"{name}: dim {axis} of size {x.shape[axis]} does not divide into "
                                     f"{sections} equal parts (shape {x.shape})")
    return tensor_split(x, cuts, axis)


def hsplit(input: Tensor, indices_or_sections: Any = NOT_GIVEN, *, sections: Any = NOT_GIVEN,  # noqa: A002
           indices: Any = NOT_GIVEN) -> tuple:
    """:func:`tensor_split` along dim 1 (dim 0 of a 1-D tensor); an int must divide the dim evenly. PyTorch's
    keywords ``sections=`` (an int) and ``indices=`` (a list) name them too, as in vsplit and dsplit."""
    ndim = getattr(input, "ndim", 0)
    return _split_by(input, indices_or_sections, 0 if ndim == 1 else 1, 1, "hsplit", sections, indices)


def vsplit(input: Tensor, indices_or_sections: Any = NOT_GIVEN, *, sections: Any = NOT_GIVEN,  # noqa: A002
           indices: Any = NOT_GIVEN) -> tuple:
    """:func:`tensor_split` along dim 0 of a tensor with at least 2 dims; an int must divide it evenly."""
    return _split_by(input, indices_or_sections, 0, 2, "vsplit", sections, indices)


def dsplit(input: Tensor, indices_or_sections: Any = NOT_GIVEN, *, sections: Any = NOT_GIVEN,  # noqa: A002
           indices: Any = NOT_GIVEN) -> tuple:
    """:func:`tensor_split` along dim 2 of a tensor with at least 3 dims; an int must divide it evenly."""
    return _split_by(input, indices_or_sections, 2, 3, "dsplit", sections, indices)


def split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0, *,  # noqa: A002
                     axis: Any = NOT_GIVEN) -> tuple:
    """``x`` cut along ``dim`` into parts of ``split_sizes`` (non-negative, summing to the dim's size). ``axis=``
    is PyTorch's alias of ``dim=``."""
    dim = axis_alias("split_with_sizes", dim, axis, 0)
    x = tensor_arg(input, "split_with_sizes")
    if x.ndim == 0:
        raise NoDimError("split_with_sizes: expects a tensor with at least 1 dim, got shape ()")
    axis = one_axis(dim, x.ndim, "split_with_sizes")
    sizes = int_tuple(split_sizes, "split_with_sizes", "split_sizes")
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ShapeMismatchError(f"split_with_sizes: split_sizes {list(sizes)} must be non-negative and sum exactly to "
                                 f"the size {x.shape[axis]} of dim {axis} (shape {x.shape})")
    if not sizes:   # an empty dim split into no parts, as PyTorch
        return ()
    points = [sum(sizes[:i + 1]) for i in range(len(sizes) - 1)]
    op = Split(points, axis, len(sizes))
    op.name = "split_with_sizes"
    return tuple(op(x))



# --- products ------------------------------------------------------------------------------------------

def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    """Matrix times vector: (n, m) @ (m,) → (n,) (torch.mv)."""
    mat = input
    mat, vec = tensor_arg(mat, "mv"), tensor_arg(vec, "mv")
    if mat.ndim != 2 or vec.ndim != 1 or mat.shape[1] != vec.shape[0]:
        raise _shapes("mv", mat, vec, "a matrix (n, m) and a vector (m,)")
    return _named_product("mv", mat, vec)


def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The dot product of two 1-D tensors of the same length, the first conjugated: sum(conj(a) * b) (torch.vdot)."""
    a, b = tensor_arg(input, "vdot"), tensor_arg(other, "vdot")
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise _shapes("vdot", a, b, "two 1-D tensors of the same length")
    # a real vector with a complex one: NumPy's promotion (DESIGN §3), where PyTorch asks for one dtype
    return respelled(dot(a.conj() if a.dtype.kind == "c" else a, b), a, "dot", "VdotBackward0")


def _contracted(dims: Any, a: Tensor, b: Tensor) -> tuple:
    """tensordot's ``dims`` as two equally long tuples of non-negative dims of ``a`` and ``b``."""
    if isinstance(dims, Tensor):   # PyTorch's: a one-element tensor is its int (tensor([1]) too), a longer one lists
        dims = int(dims.item()) if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, (list, tuple)):
        if len(dims) != 2:
            raise ValueError(f"tensordot: dims must be an int or two lists of dims, got {dims!r}")
        if not all(isinstance(d, (list, tuple)) for d in dims):   # [1, 0] is not ([1], [0]): PyTorch's TypeError
            raise TypeError(f"tensordot: dims must be an int or two lists of dims, got {dims!r}")
        dims_a, dims_b = (int_tuple(d, "tensordot", "dims", dims=True) for d in dims)
        if len(dims_a) != len(dims_b):
            raise ShapeMismatchError(f"tensordot: the two lists of dims must have the same length, got {dims!r}")
        if not a.ndim or not b.ndim:
            if dims_a:
                raise AxisError(f"tensordot: dims {dims!r} for a 0-d tensor (shapes {a.shape} and {b.shape})")
            return (), ()
        dims_a, dims_b = normalize_axis(dims_a, a.ndim, "tensordot"), normalize_axis(dims_b, b.ndim, "tensordot")
        for ds in (dims_a, dims_b):
            if len(set(ds)) != len(ds):
                raise ValueError(f"tensordot: a dim appears more than once in {dims!r}")
        return dims_a, dims_b
    if not isinstance(dims, int):   # PyTorch's test is isinstance(dims, int): True is 1, a NumPy int is refused
        raise ArgumentTypeError(f"tensordot: dims must be an int or two lists of dims, got {type(dims).__name__} "
                                f"{dims!r:.60} (PyTorch's RuntimeError; pass int(...))")
    n = int_arg(int(dims), "tensordot", "dims")
    if n < 0 or n > min(a.ndim, b.ndim):
        raise ShapeMismatchError(f"tensordot: dims must be in 0..{min(a.ndim, b.ndim)} for shapes {a.shape} and "
                                 f"{b.shape}, got {n}")
    return tuple(range(a.ndim - n, a.ndim)), tuple(range(n))


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Sum of products over the dims of ``a`` and ``b`` that ``dims`` pairs (torch.tensordot): an int n pairs
    a's last n dims with b's first n; ``([1, 2], [1, 0])`` names them. The result has a's other dims, then
    b's: (2, 3, 4) and (4, 3, 5) with ``([1, 2], [1, 0])`` → (2, 5)."""
    a, b = tensor_arg(a, "tensordot"), tensor_arg(b, "tensordot")
    dims_a, dims_b = _contracted(dims, a, b)
    for da, db in zip(dims_a, dims_b):
        # PyTorch's tensordot broadcasts a contracted dim of size 1: the other operand is summed over its dim
        if b.shape[db] == 1 and a.shape[da] != 1:
            a = sum_(a, da, keepdim=True, dtype=a.dtype)
        elif a.shape[da] == 1 and b.shape[db] != 1:
            b = sum_(b, db, keepdim=True, dtype=b.dtype)
        if a.shape[da] != b.shape[db]:
            raise ShapeMismatchError(f"tensordot: contracted dims need the same size, but dim {da} of shape "
                                     f"{a.shape} has {a.shape[da]} and dim {db} of shape {b.shape} has {b.shape[db]}")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    inner = math.prod(a.shape[d] for d in dims_a)
    rows, cols = math.prod(a.shape[d] for d in free_a), math.prod(b.shape[d] for d in free_b)
    if rows == cols == 1 and a.dtype.kind == b.dtype.kind == "b":   # PyTorch's tensordot takes dot then, which has
        raise DtypeNotImplementedError(   # no bool kernel, even for empty tensors (matmul's empty bools are False)
            f"tensordot: \"dot\" not implemented for 'Bool' (shapes {a.shape} and {b.shape}), as in PyTorch")
    order_a, order_b = free_a + list(dims_a), list(dims_b) + free_b
    a2 = permute(a, order_a) if order_a != sorted(order_a) else a
    b2 = permute(b, order_b) if order_b != sorted(order_b) else b
    product = matmul(reshape(a2, (rows, inner)), reshape(b2, (inner, cols)))
    return reshape(product, tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b))


def inner(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Sum of products over the last dims (torch.inner): (…a, n) and (…b, n) → (…a, …b); a 0-d operand
    multiplies."""
    a, b = tensor_arg(input, "inner"), tensor_arg(other, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise _shapes("inner", a, b, "the same size in the last dim")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The Kronecker product (torch.kron): blocks ``a[i, j] * b``; shapes padded with leading 1s to the same
    length, then multiplied dim by dim: (2, 3) and (4, 5) → (8, 15)."""
    a, b = tensor_arg(input, "kron"), tensor_arg(other, "kron")
    ndim = max(a.ndim, b.ndim)
    shape_a, shape_b = (1,) * (ndim - a.ndim) + a.shape, (1,) * (ndim - b.ndim) + b.shape
    # a as (a0, 1, a1, 1, …) times b as (1, b0, 1, b1, …): out[i0, j0, i1, j1, …] = a[i0, i1, …] b[j0, j1, …]
    spread_a = reshape(a, tuple(n for size in shape_a for n in (size, 1)))
    spread_b = reshape(b, tuple(n for size in shape_b for n in (1, size)))
    return reshape(mul(spread_a, spread_b), tuple(m * n for m, n in zip(shape_a, shape_b)))


def _cross(a: Any, b: Any, dim: Any, name: str) -> Tensor:
    a, b = tensor_arg(a, name), tensor_arg(b, name)
    if a.ndim != b.ndim:
        raise _shapes(name, a, b, "inputs with the same number of dims")
    try:
        shape = tuple(backend.numpy.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise _shapes(name, a, b, "shapes that broadcast together") from None
    if dim is None:
        dim = next((d for d, n in enumerate(a.shape) if n == 3), None)
        if dim is None:
            raise ShapeMismatchError(f"{name}: no dim of size 3 in the input (shapes {a.shape} and {b.shape})")
    axis = one_axis(dim, max(a.ndim, 1), name)
    if not a.ndim or a.shape[axis] != 3 or b.shape[axis] != 3:
        raise _shapes(name, a, b, f"length 3 in dim {dim} of both inputs")
    if a.dtype.kind == "b" and b.dtype.kind == "b":   # else sub's error for two bools, not naming cross
        raise DtypeNotImplementedError(f"{name}: \"cross\" not implemented for 'Bool' (shapes {a.shape} and "
                                       f"{b.shape}), as in PyTorch")
    a = a if a.shape == shape else broadcast_to(a, shape)
    b = b if b.shape == shape else broadcast_to(b, shape)
    # (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0): rolled by -1 the components are (1, 2, 0), by -2 (2, 0, 1)
    return sub(mul(roll(a, -1, axis), roll(b, -2, axis)), mul(roll(a, -2, axis), roll(b, -1, axis)))


def cross(input: Tensor, other: Tensor, dim: int | None = None, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """The cross product of 3-vectors along ``dim`` (torch.cross; inputs with the same number of dims broadcast).

    Without ``dim`` it takes a's first dim of size 3 and warns, as PyTorch (whose default will become
    -1, :func:`linalg_cross`'s). ``axis=`` (PyTorch's alias of ``dim=``) is also NumPy's: ``np.cross(a, b,
    axis=d)`` of 3-vectors is the same product, and ``axis=None`` is NumPy's last dim (2-vectors, which
    NumPy takes, raise)."""
    a, b = input, other
    if axis is not NOT_GIVEN:
        dim = axis_alias("cross", dim, -1 if axis is None else axis, None)
    if dim is None:
        warnings.warn("cross: using it without the dim argument is deprecated (as torch.cross); pass dim "
                      "explicitly or use linalg_cross", UserWarning, stacklevel=2)
    return _cross(a, b, dim, "cross")


def linalg_cross(a: Tensor, b: Tensor, *, dim: int = -1) -> Tensor:
    """torch.linalg.cross: the cross product of 3-vectors along ``dim`` (-1 by default), inputs broadcast."""
    return _cross(a, b, dim, "linalg.cross")


def addmv(input: Any, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:  # noqa: A002
    """beta · x + alpha · (mat @ vec): (n, m) @ (m,), x broadcast to (n,) (torch.addmv)."""
    x = input
    product = mv(mat, vec)
    return _scaled_sum("addmv", x, product, beta, alpha)


def addr(input: Any, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:  # noqa: A002
    """beta · x + alpha · outer(vec1, vec2): (n,) and (m,), x broadcast to (n, m) (torch.addr)."""
    x = input
    product = outer(vec1, vec2)
    return _scaled_sum("addr", x, product, beta, alpha)


def addbmm(input: Any, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:  # noqa: A002
    """beta · x + alpha · Σ_b batch1[b] @ batch2[b]: (B, n, k) and (B, k, m), x broadcast to (n, m)
    (torch.addbmm); the sum over the batch is one (n, B·k) @ (B·k, m) product."""
    x = input
    batch1, batch2 = tensor_arg(batch1, "addbmm"), tensor_arg(batch2, "addbmm")
    if batch1.ndim != 3 or batch2.ndim != 3 or batch1.shape[0] != batch2.shape[0] \
            or batch1.shape[2] != batch2.shape[1]:
        raise _shapes("addbmm", batch1, batch2, "(B, n, k) and (B, k, m) with the same B and k")
    if all(isinstance(v, Tensor) and v.dtype == "float16" for v in (x, batch1, batch2)):   # PyTorch's: in float32,
        return addbmm(x.float(), batch1.float(), batch2.float(), beta=beta, alpha=alpha).half()   # rounded once
    (count, n, k), m = batch1.shape, batch2.shape[2]
    product = mm(reshape(permute(batch1, (1, 0, 2)), (n, count * k)), reshape(batch2, (count * k, m)))
    return _scaled_sum("addbmm", x, product, beta, alpha)


def matrix_power(input: Tensor, n: int) -> Tensor:  # noqa: A002
    """``x`` (…, m, m) multiplied by itself ``n`` times (n = 0: the identity, still differentiable with a zero
    gradient; n < 0: powers of the inverse, of a floating x), as torch.matrix_power."""
    x = tensor_arg(input, "matrix_power")
    n = int_arg(n, "matrix_power", "n")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeMismatchError(f"matrix_power: expects square matrices (…, m, m), got shape {x.shape}")
    if n < 0:
        if x.dtype.kind not in "fc":
            raise ArgumentTypeError(f"matrix_power: a negative power inverts x, which needs a floating or complex "
                                    f"dtype, got {x.dtype}")
        inverse = Inverse()
        inverse.name = "matrix_power"
        x, n = inverse(x), -n
    if n == 0:
        with backend.on_device(x.device):
            eye = backend.array_module(x.data).eye(x.shape[-1], dtype=x.dtype)
        return _fill("matrix_power", True, 0)(x) + eye   # zeros that keep x's graph (NaN in x does not leak)
    if n == 3:   # PyTorch's own order for 3 (its rounding): (x @ x) @ x
        return matmul(matmul(x, x), x)
    result, power = None, x
    while n:   # binary powers: about 2·log2(n) products
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return clone(x) if result is x else result   # a new tensor, as PyTorch's, for n = 1 too


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,  # noqa: A002
         append: Tensor | None = None, *, axis: Any = NOT_GIVEN) -> Tensor:
    """The ``n``-th forward difference ``x[i + 1] - x[i]`` along ``dim`` (torch.diff; bools: ``!=``); ``prepend``
    and ``append`` (x's dims, x's shape outside ``dim``) are joined on first. (…, L) → (…, L - n).
    ``axis=`` (np.diff's keyword, PyTorch's alias) names the dim too."""
    dim = axis_alias("diff", dim, axis, -1)
    x = input
    x = tensor_arg(x, "diff")
    if x.ndim == 0:
        raise ShapeMismatchError("diff expects input to be at least one-dimensional (got shape ())")
    n = int_arg(n, "diff", "n")
    if n < 0:
        raise ShapeMismatchError(f"diff: the order n must be non-negative, got {n}")
    axis = one_axis(dim, x.ndim, "diff")
    parts = []
    for what, part in (("prepend", prepend), (None, x), ("append", append)):
        if part is None:
            continue
        if what is not None:
            if not isinstance(part, Tensor):
                raise TypeError(f"diff: {what} must be a Tensor, got {type(part).__name__}")
            if part.ndim != x.ndim or any(p != s for d, (p, s) in enumerate(zip(part.shape, x.shape)) if d != axis):
                raise ShapeMismatchError(f"diff: {what} of shape {part.shape} must have the shape {x.shape} of the "
                                         f"input outside dim {axis}")
        parts.append(part)
    if n == 0:
        return x   # as PyTorch and NumPy: order 0 is the input itself, without prepend/append
    y = cat(parts, axis) if len(parts) > 1 else x
    before = (slice(None),) * axis
    for _ in range(n):
        later, earlier = getitem(y, before + (slice(1, None),)), getitem(y, before + (slice(None, -1),))
        y = later != earlier if y.dtype.kind == "b" else sub(later, earlier)
    return y

