"""More of torch.Tensor's methods, and the functions among them torch also has at its top level.

In place, as the rest of ``ops/inplace.py`` (the gradient is the out-of-place op's): ``tril_``, ``triu_``,
``fill_diagonal_``, ``cumsum_``, ``cumprod_``, ``addmm_``/``addbmm_``/``addmv_``/``addr_``/``baddbmm_``,
``renorm_``, ``index_reduce_``, ``ldexp_``, ``igamma_``/``igammac_``/``polygamma_``/``mvlgamma_`` and the
comparisons ``eq_``, ``ne_``, ``lt_`` … (the result cast to the tensor's dtype). Out of place: ``renorm``,
``index_reduce``, ``sum_to_size``, ``diagflat``, ``ldexp``, ``frexp``, the linear-algebra methods ``det``,
``inverse``, ``logdet``, ``slogdet``, ``pinverse``, ``matrix_exp`` (``mg.linalg``'s), and the real-tensor
no-ops ``conj``, ``resolve_conj``, ``resolve_neg``, ``is_conj``, ``is_neg``, ``is_signed``, ``pin_memory``,
``is_pinned``, plus the legacy constructor ``new``. Each composes existing ops, so gradients are theirs. Beside
them, ``share_memory_``/``is_shared``: a host tensor's array moved into an anonymous shared mapping.
"""

from __future__ import annotations

import importlib
import math
import mmap
import operator
import warnings
from typing import Any

import numpy

from .. import backend, memory_formats, return_types
from ..autograd import Function
from ..constructors import empty, tensor
from ..dtypes import get_default_dtype, torch_result_type
from ..recording import is_recording, no_grad, note_draw
from ..storage import TypedStorage, UntypedStorage, warn_typed_storage
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    ArgumentValueError,
    DtypeNotImplementedError,
    IndexArgumentError,
    IndexRangeError,
    ShapeMismatchError,
    called_as,
    int_arg,
    number,
    one_axis,
    refuse_complex,
    required_dim,
    some_sizes,
    tensor_arg,
)
from .combine import addbmm, addmv, addr
from .contract import addmm, baddbmm
from .elementwise import mul, where
from .gamma import gammainc, gammaincc, mvlgamma, polygamma
from .index import diag, tril, triu
from .index_write import _scatter_reduce
from .inplace import InplaceCastError, _inplace, masked_fill, number_in
from .iterator_layout import insertion_sort
from .math import Flat, exp2
from .scan import cumprod, cumsum
from .shape import _note_view, broadcast_to, reshape
from .strided import as_strided

__all__ = ["as_strided_", "diagflat", "empty_permuted", "frexp", "index_reduce", "is_same_size", "is_signed", "ldexp",
           "renorm", "unravel_index"]


# --- out of place ---------------------------------------------------------------------------------------------

def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002 - PyTorch's name
    """The flattened input on diagonal ``offset`` of a square matrix (torch.diagflat): (*) → (n + |offset|, …)."""
    return diag(reshape(tensor_arg(input, "diagflat"), (-1,)), int_arg(offset, "diagflat", "offset"))


class RenormArgumentError(ValueError, RuntimeError):
    """renorm of a vector or with p <= 0 or maxnorm < 0: ValueError here, RuntimeError in PyTorch."""


def renorm(input: Tensor, p: float, dim: int = NOT_GIVEN, maxnorm: float = NOT_GIVEN, *,  # noqa: A002
           axis: Any = NOT_GIVEN) -> Tensor:
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to norm ``maxnorm``
    (by maxnorm / (norm + 1e-7), as torch.renorm); the others unchanged. Differentiable through the norm.
    ``axis=`` is PyTorch's alias of ``dim=``."""
    name = "renorm"
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or maxnorm is NOT_GIVEN:
        dim = required_dim(name, dim, axis, maxnorm=maxnorm)
    x = tensor_arg(input, name)
    if x.ndim <= 1:
        raise RenormArgumentError(f"{name}: input needs at least 2 dimensions, got {x.ndim} (shape {x.shape})")
    p, maxnorm = number(p, name, "p"), number(maxnorm, name, "maxnorm")
    if p <= 0 or maxnorm < 0:
        raise RenormArgumentError(f"{name}: p must be positive and maxnorm non-negative, got p={p}, maxnorm={maxnorm}")
    axis = one_axis(dim, x.ndim, name)
    others = tuple(a for a in range(x.ndim) if a != axis)
    over = x.detach().norm(p, others, keepdim=True) > maxnorm
    # the norm of the slices left unchanged (a NaN norm among them) takes no part, so their gradient is the
    # upstream one, as PyTorch's where(norm > maxnorm, ..., grad)
    norm = where(over, x, 0).norm(p, others, keepdim=True)
    return x * where(over, maxnorm / (norm + 1e-7), 1.0).astype(x.dtype)


def index_reduce(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, source: Tensor = NOT_GIVEN,  # noqa: A002
                 reduce: str = NOT_GIVEN, *, include_self: bool = True, axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``input`` where slice ``index[i]`` along ``dim`` is combined with ``source``'s slice i by
    ``reduce``: 'prod', 'mean', 'amax' or 'amin' (torch.index_reduce); ``include_self=False`` leaves out the
    input's values at the slices the index names. index: 1-D int, one per slice of ``source`` along ``dim``.
    ``axis=`` is PyTorch's alias of ``dim=``."""
    name = "index_reduce"
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or source is NOT_GIVEN \
            or reduce is NOT_GIVEN:
        dim = required_dim(name, dim, axis, index=index, source=source, reduce=reduce)
    x, source = tensor_arg(input, name), tensor_arg(source, name)
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise ArgumentValueError(f"{name}: reduce must be one of 'prod', 'mean', 'amax', 'amin', got {reduce!r}")
    if x.dtype.kind == "c":   # PyTorch's index_reduce kernels have no complex one (its scatter_reduce has)
        raise DtypeNotImplementedError(f"{name}: not implemented for complex tensors (got {x.dtype}), as in PyTorch")
    axis = one_axis(dim, max(x.ndim, 1), name)
    index = index if isinstance(index, Tensor) else tensor(index)
    if index.ndim > 1 or index.dtype.kind not in "iu":   # RuntimeError (dtype) or IndexError (rank) in PyTorch
        raise IndexArgumentError(f"{name}: index must be a 1-D integer tensor, got {index.dtype}"
                                 f"{tuple(index.shape)}")
    if x.ndim == 0:   # PyTorch reads a 0-d input as shape (1,): a one-element index and a 0-d source
        if source.ndim:
            raise ShapeMismatchError(f"{name}: a 0-d input takes a 0-d source, got source shape {source.shape}")
        if index.numel() != 1:
            raise IndexRangeError(f"{name}: a 0-d input takes a one-element index, got index shape "
                                  f"{tuple(index.shape)}")
        out = index_reduce(reshape(x, (1,)), 0, reshape(index, (1,)), reshape(source, (1,)), reduce,
                           include_self=include_self)
        return reshape(out, ())
    index = reshape(index, (-1,)) if index.ndim == 0 else index   # PyTorch reads a 0-d index as one of shape (1,)
    if source.ndim != x.ndim or source.shape[axis] != index.shape[0]:
        raise ShapeMismatchError(f"{name}: source of shape {source.shape} must have input's {x.ndim} dims and "
                         f"{index.shape[0]} slices (the index's length) along dim {axis}")
    spread = broadcast_to(reshape(index, (-1,) + (1,) * (x.ndim - 1 - axis)), source.shape)
    return _scatter_reduce(x, axis, spread, source, reduce, include_self, name)   # its errors name index_reduce


_INT64, _FLOAT64 = numpy.dtype(numpy.int64), numpy.dtype(numpy.float64)


def _exact_ldexp(x: Tensor, exponent: Tensor) -> Tensor:
    """x · 2^e for a floating x and integer exponents e, correctly rounded as C's ``ldexp`` (PyTorch's kernel):
    computed in float64 by up to three powers of two that float64 holds (2^-1074 … 2^1023), in an order that
    rounds only at the last step (down: e + 1074 first, then 2^-1074; up: 2^1023 first), then rounded once to
    x's dtype. Exponents beyond [-2148, 2098] give the same 0 or inf as those ends. Differentiable in x."""
    e = exponent.to(dtype=_INT64).clamp(-2148, 2098)
    low = e < -1074
    factors = [where(low, e + 1074, e.clamp(max=1023)), where(low, -1074, (e - 1023).clamp(0, 1023))]
    factors.append(e - factors[0] - factors[1])   # 2^(e - 2046) for e past 2046, else 2^0
    y = x.to(dtype=_FLOAT64)
    for factor in factors:
        y = mul(y, exp2(factor.to(dtype=_FLOAT64)))   # exp2 of an integer is that power of two exactly
    return y.to(dtype=x.dtype)


def ldexp(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """input · 2^other (torch.ldexp), broadcast together: differentiable in ``input`` (and in a float ``other``).
    The dtype is PyTorch's: ``input`` and ``other`` promoted by its rules (a 0-d tensor loses to a dimensioned
    one of its category), and the default float dtype where that is an integer or bool, so a float16 input
    with an integer exponent stays float16. The values are PyTorch's too: a floating input with integer
    exponents is C's exact ``ldexp`` (2^-10 · 2^20 is 1024 in float16, 0 · 2^1100 is 0); otherwise it is
    ``input * 2.0 ** other``, the power in ``other``'s float dtype (for integers the result's real dtype: the
    default one for an integer input, float32 for a complex64 one, whatever the default), so an
    integer input times a power beyond float32's range is inf (NaN for 0), as PyTorch's."""
    x = tensor_arg(input, "ldexp")
    other = other if isinstance(other, Tensor) else tensor(other)
    if other.dtype.kind == "b" and x.dtype.kind == "f":   # PyTorch's real kernel takes no bool exponent
        raise DtypeNotImplementedError(f"ldexp: not implemented for a bool exponent (shape {other.shape}) with a "
                                       f"{x.dtype} input, as in PyTorch; pass other.long()")
    dtype = torch_result_type(x, other)
    if dtype.kind not in "fc":
        dtype = get_default_dtype()
    try:
        if x.dtype.kind == "f" and other.dtype.kind in "iu":
            return _exact_ldexp(x.astype(dtype), other)
        if other.dtype.kind in "fc":
            power = exp2(other)
            dtype = torch_result_type(x, power)
        else:   # an integer exponent: the power in the result's real dtype (a complex64 input stays complex64)
            power = exp2(other.astype(numpy.finfo(dtype).dtype))
        # x copied: other's gradient reads it (PyTorch's reads the result), so x changed in place is not refused
        return mul(x.to(dtype=dtype, copy=True), power.astype(dtype))
    except ValueError as error:   # shapes that do not broadcast: named as ldexp, not its mul
        raise called_as("ldexp", error, x, other) from None


FrexpResult = return_types.FrexpResult   # (mantissa, exponent); frexp returns its subclass return_types.frexp


class Mantissa(Function):
    """frexp's mantissa m = x · 2^-e: its gradient is 2^-e (ldexp, so no power of two overflows), as PyTorch's."""

    name = "frexp"

    def forward(self, x: Any) -> Any:
        mantissa, self.exponent = self.xp.frexp(x)
        return self.xp.asarray(mantissa)   # asarray: NumPy gives scalars for a 0-d input

    def backward(self, gy: Any) -> Any:
        return self.xp.ldexp(gy, -self.xp.asarray(self.exponent)).astype(gy.dtype, copy=False)


def frexp(input: Tensor) -> FrexpResult:  # noqa: A002
    """Mantissa in [0.5, 1) (with the input's sign) and int32 exponent, input = mantissa · 2^exponent
    (torch.frexp), both of the input's shape. The mantissa is differentiable (gradient 2^-exponent), as
    torch's; the exponent is not."""
    x = tensor_arg(input, "frexp")
    refuse_complex("frexp", x, runtime=True, order=False)
    if x.dtype.kind != "f":
        raise ArgumentTypeError(f"frexp: expects a floating-point input, got {x.dtype}")
    xp = backend.array_module(x.data)

    def exponent(data: Any) -> Any:
        return xp.asarray(xp.frexp(data)[1]).astype(numpy.int32)

    return return_types.frexp(Mantissa()(x),
                              note_draw("frexp", exponent, (x,), Tensor._make(exponent(x.data), False, None, 0)))


def unravel_index(indices: Any, shape: Any) -> tuple:
    """The coordinates, one int64 tensor per dim of ``shape``, of flat row-major ``indices`` (torch.unravel_index).
    Negative indices count from the end, as torch's."""
    name = "unravel_index"
    index = indices if isinstance(indices, Tensor) else tensor(indices)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected 'indices' to be an integer tensor, got {index.dtype}")
    dims = (shape,) if isinstance(shape, (int, numpy.integer)) else tuple(shape)
    dims = tuple(int_arg(d, name, "shape") for d in dims)
    if any(d < 0 for d in dims):
        raise ValueError(f"{name}: 'shape' cannot have negative values, got {dims}")
    total = math.prod(dims)
    xp = backend.array_module(index.data)

    def coordinate(k: int) -> Tensor:
        def make(values: Any) -> Any:   # checked here: an mg.compile replay checks each call's indices
            if values.size and (int(values.max()) >= total or int(values.min()) < -total):
                raise IndexError(f"{name}: 'indices' must be in range [{-total}, {total - 1}] for shape {dims}")
            flat = xp.where(values < 0, values + total, values).astype(numpy.int64)
            return xp.asarray(xp.unravel_index(flat, dims)[k] if dims else flat * 0, dtype=numpy.int64)
        return note_draw(name, make, (index,), Tensor._make(make(index.data), False, None, 0))

    return tuple(coordinate(k) for k in range(len(dims)))


def is_signed(input: Tensor) -> bool:  # noqa: A002
    """Whether the dtype holds negative numbers (torch.is_signed): False for bool and unsigned integers."""
    return tensor_arg(input, "is_signed").dtype.kind not in "bu"


def is_same_size(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether the two tensors have the same shape (torch.is_same_size)."""
    return tensor_arg(input, "is_same_size").shape == tensor_arg(other, "is_same_size").shape


def _sum_to_size(self: Tensor, *sizes: Any, size: Any = None) -> Tensor:
    """The sum of ``self`` down to ``size``, which ``self`` must broadcast from (Tensor.sum_to_size): sizes as
    arguments, one sequence, or ``size=``."""
    if size is not None:
        if sizes:
            raise TypeError("sum_to_size: give the size as arguments or as size=, not both")
        sizes = (size,)
    sizes = some_sizes("sum_to_size", sizes, "size")
    shape = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    shape = tuple(int_arg(s, "sum_to_size", "size") for s in shape)
    lead = self.ndim - len(shape)
    if lead < 0 or any(s not in (1, n) for s, n in zip(shape, self.shape[lead:])):
        raise ShapeMismatchError(f"sum_to_size: size {shape} is not expandable to the tensor's size {self.shape}")
    axes = tuple(range(lead)) + tuple(lead + k for k, (s, n) in enumerate(zip(shape, self.shape[lead:]))
                                      if s == 1 and n != 1)
    if not shape:   # PyTorch sums to size () even a 0-d tensor: a bool one gives int64
        return self.sum()
    out = self.sum(axis=axes, keepdims=True) if axes else self
    return reshape(out, shape)


def _linalg(name: str) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module("minigrad"), name)(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"``mg.{name}(self)`` (torch.Tensor.{name})."
    return method


def _new(self: Tensor, *args: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """The legacy constructor: ``x.new(2, 3)`` or ``x.new(mg.Size((2, 3)))`` an uninitialised tensor of that size,
    ``x.new(data)`` a tensor of ``data``, ``x.new()`` an empty one; ``x``'s dtype and device unless given."""
    dtype = self.dtype if dtype is None else dtype
    device = self.device if device is None else device
    if not args:
        return empty(0, dtype=dtype, device=device, requires_grad=requires_grad)
    if all(isinstance(a, (int, numpy.integer)) and not isinstance(a, bool) for a in args) or \
            (len(args) == 1 and type(args[0]).__name__ == "Size"):
        shape = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], (int, numpy.integer)) else args
        return empty(tuple(shape), dtype=dtype, device=device, requires_grad=requires_grad)
    if len(args) != 1:
        raise TypeError(f"new(): expected sizes (ints) or one sequence of data, got {args!r:.80}")
    data = args[0].detach().data if isinstance(args[0], Tensor) else args[0]
    return tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


# --- in place -------------------------------------------------------------------------------------------------

def _fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """Write ``fill_value`` on the main diagonal, in place (Tensor.fill_diagonal_): a 2-D tensor of any shape, or
    one of more dims all of equal size; ``wrap``: a tall matrix's diagonal restarts every (columns + 1) rows."""
    name = "fill_diagonal_"
    if self.ndim < 2:
        raise ShapeMismatchError(f"{name}: dimensions must larger than 1, got shape {self.shape}")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise ShapeMismatchError(f"{name}: all dimensions of input must be of equal length, got shape {self.shape}")
    step = sum(math.prod(self.shape[k + 1:]) for k in range(self.ndim))   # the sum of the row-major strides
    count = min(self.shape)
    if self.ndim == 2 and wrap and self.shape[0] > self.shape[1]:
        count = (self.numel() + step - 1) // step
    if not isinstance(fill_value, Tensor):   # checked here, so that an overflow's error names this op
        fill_value = number_in(self, fill_value, name)
    flat = numpy.zeros(self.numel(), dtype=bool)
    flat[numpy.arange(count) * step] = True
    mask = Tensor._make(backend.make_array(flat.reshape(self.shape), bool, self.device), False, None, 0)
    return _inplace(self, name, lambda cur: masked_fill(cur, mask, fill_value))


def _inplace_of(name: str, op: Any, *fixed: str) -> Any:
    """``x.name(*args, **kwargs)``: ``x = op(x, *args, **kwargs)`` in place; tensor arguments are operands."""
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        operands = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        return _inplace(self, name, lambda cur: op(cur, *args, **kwargs), *operands)
    method.__name__ = name
    method.__doc__ = f"``x = x.{name[:-1]}(...)`` in place (the gradient as the out-of-place op)."
    return method


def _product_(name: str, op: Any) -> Any:
    """``addmm_``/``addbmm_``/``addmv_``/``addr_``/``baddbmm_`` (:func:`_inplace_of`), refusing a factor that
    shares memory with the tensor written (``x.addmm_(x, w)``): PyTorch's kernels write x while reading that
    factor, a wrong result past the smallest sizes (510 off for 40 x 40), so this raises its overlap error."""
    apply = _inplace_of(name, op)

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        for factor in (*args[:2], *(kwargs[k] for k in kwargs if k not in ("beta", "alpha"))):
            if isinstance(factor, Tensor) and isinstance(self, Tensor) and _shared(self.data, factor.data):
                raise RuntimeError(f"{name}: unsupported operation: some elements of the input tensor (shape "
                                   f"{factor.shape}) and the written-to tensor (shape {self.shape}) refer to a "
                                   "single memory location. Please clone() the tensor before performing the "
                                   "operation.")
        return apply(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = apply.__doc__
    return method


def _shared(a: Any, b: Any) -> bool:
    """Whether arrays ``a`` and ``b`` have an element in common (x[0] and x[1] do not)."""
    xp = backend.array_module(a)
    if not (a.size and b.size and xp.may_share_memory(a, b)):
        return False
    try:   # (CuPy's exact answer runs a kernel: only reached for spans that meet)
        return bool(getattr(xp, "shares_memory", xp.may_share_memory)(a, b))
    except Exception:  # noqa: BLE001 - NumPy's TooHardError: cannot tell, so refuse rather than guess
        return True


def _scan_(name: str, op: Any) -> Any:
    """``cumsum_``/``cumprod_`` (:func:`_inplace_of`); a ``dtype`` other than x's is refused, as PyTorch refuses it
    (NumPy-style, the result would be cast back to x's dtype)."""
    apply = _inplace_of(name, op)

    def method(self: Tensor, dim: Any = NOT_GIVEN, dtype: Any = None, *, axis: Any = NOT_GIVEN) -> Tensor:
        if axis is not NOT_GIVEN or dim is NOT_GIVEN:   # PyTorch's axis= alias of dim=
            dim = required_dim(name, dim, axis)
        if dtype is not None and isinstance(self, Tensor) and numpy.dtype(dtype) != self.dtype:
            raise InplaceCastError(f"{name}: bad in-place call: the tensor has dtype {self.dtype} but dtype="
                                   f"{numpy.dtype(dtype)} was given (they must match)")
        if isinstance(self, Tensor) and self.dtype.kind == "b":
            if self.ndim and self.numel():   # PyTorch's scans have no bool kernel (a 0-d or empty tensor skips it)
                raise NotImplementedError(f"{name}: not implemented for dtype bool (as PyTorch's)")
            return apply(self, dim, dtype=self.dtype)   # a copy of itself, not int64's running sum
        return apply(self, dim)
    method.__name__ = name
    method.__doc__ = apply.__doc__
    return method


_COMPARISONS = {"eq_": operator.eq, "ne_": operator.ne, "lt_": operator.lt, "le_": operator.le, "gt_": operator.gt,
                "ge_": operator.ge, "greater_": operator.gt, "greater_equal_": operator.ge, "less_": operator.lt,
                "less_equal_": operator.le, "not_equal_": operator.ne}


class Compared(Function):
    """``x = (x < other)`` in place (lt_, eq_ …) with a tensor ``other``: the result (given, of x's shape and dtype)
    with a zero gradient for x and for other, as PyTorch's LtBackward1 …, so both stay in the graph."""

    def __init__(self, name: str, result: Any) -> None:
        self.name, self.result = name, result

    def forward(self, x: Any, other: Any) -> Any:
        self.inputs_meta = ((x.shape, x.dtype), (other.shape, other.dtype))
        result, self.result = self.result, None
        return result

    def backward(self, gy: Any) -> tuple:
        return tuple(self.xp.zeros(shape, dtype=dtype) if wanted else None
                     for (shape, dtype), wanted in zip(self.inputs_meta, self.needs_grad))


def _compare_(name: str, op: Any) -> Any:
    def compute(cur: Tensor, other: Any) -> Tensor:
        result = op(cur, other)
        if not isinstance(result, Tensor):   # == and != with a str or None give a Python bool, as Python's
            raise TypeError(f"{name}(): other must be a Tensor or a number, got {type(other).__name__}")
        tensor_other = isinstance(other, Tensor) and other.requires_grad
        if not (cur.requires_grad or tensor_other) or cur.dtype.kind == "c":
            return result
        # PyTorch records the comparison with a zero gradient (LtBackward0 …): x stays in the graph; a tensor other
        # that requires grad gets a zero gradient too (LtBackward1), even where x does not require grad
        values = result.data.astype(cur.dtype)
        if tensor_other:
            return Compared(name[:-1], values)(cur, other)
        return Flat(name[:-1], lambda xp, a: values)(cur)

    def method(self: Tensor, other: Any) -> Tensor:
        return _inplace(self, name, lambda cur: compute(cur, other), *([other] if isinstance(other, Tensor) else []))
    method.__name__ = name
    method.__doc__ = f"``x = (x {op.__name__} other)`` in place, as 1/0 (or True/False) of x's dtype."
    return method


def _real(name: str, value: Any) -> Any:
    def method(self: Tensor) -> Any:
        if self.dtype.kind == "c":
            raise NotImplementedError(f"{name}: complex tensors are not supported in minigrad")
        return self if value is None else value
    method.__name__ = name
    method.__doc__ = ("The tensor itself: minigrad's tensors are real, so conjugation and negation bits never "
                      "apply." if value is None else f"{value}: minigrad's tensors are real (no lazy bits).")
    return method


def _share_memory_(self: Tensor) -> Tensor:
    """Move a host tensor's array into shared memory, in place (Tensor.share_memory_): an anonymous shared mapping,
    so a process forked after this (Hogwild training, A3C's shared model and optimizer state) reads and writes the
    same numbers as this one. A no-op for a GPU tensor or one already shared, as PyTorch's. The tensor object keeps
    its identity (a Parameter stays registered); a view taken of it before the move does not follow the move."""
    if self.device.type != "cpu" or _is_shared(self):
        return self
    # a memory file kept open, so that multiprocessing can also hand the memory to a process not forked from here
    from ..multiprocessing import reductions  # noqa: PLC0415 - loads multiprocessing on first use only
    reductions.register(Tensor)   # this tensor's class (defined after `import minigrad.multiprocessing`?) too
    self.data = reductions.shared_copy(self.data)
    return self


def _is_shared(self: Tensor) -> bool:
    """Whether the tensor's array lies in shared memory (Tensor.is_shared): moved there by ``share_memory_``."""
    base = self.data
    while isinstance(base, numpy.ndarray) and base.base is not None:
        base = base.base
    return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)   # frombuffer's memoryview of it


def _to_dense(self: Tensor, dtype: Any = None, *, masked_grad: bool | None = None) -> Tensor:
    """The tensor itself (cast to ``dtype`` if given): a minigrad tensor is already dense, as PyTorch's strided
    tensors, whose ``to_dense()`` returns them."""
    return self if dtype is None else self.to(dtype)


# PyTorch's predicates for the other layouts (sparse, mkldnn), quantised, nested and meta tensors and the other
# device kinds: a minigrad tensor is none of these, so each reads False (custom optimizers test
# ``grad.is_sparse`` before their update)
KINDS = ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_nested", "is_mkldnn", "is_mps", "is_xpu",
         "is_xla", "is_ipu", "is_vulkan", "is_mtia", "is_maia")


METHODS: dict = {
    "diagflat": diagflat, "renorm": renorm, "index_reduce": index_reduce, "ldexp": ldexp, "frexp": frexp,
    "is_signed": is_signed, "sum_to_size": _sum_to_size, "new": _new,
    "det": _linalg("det"), "inverse": _linalg("inverse"), "logdet": _linalg("logdet"),
    "slogdet": _linalg("slogdet"), "pinverse": _linalg("pinverse"), "matrix_exp": _linalg("matrix_exp"),
    "conj": _real("conj", None), "resolve_conj": _real("resolve_conj", None), "resolve_neg": _real("resolve_neg", None),
    "is_conj": _real("is_conj", False), "is_neg": _real("is_neg", False),
    "pin_memory": lambda self, device=None: self, "is_pinned": lambda self, device=None: False,
    "share_memory_": _share_memory_, "is_shared": _is_shared,
    "fill_diagonal_": _fill_diagonal_, "to_dense": _to_dense,
    **{name: property(lambda self: False, doc="False: minigrad's tensors are dense, strided, on a CPU or CUDA "
                      "device (PyTorch's predicate of the same name).") for name in KINDS},
    "tril_": _inplace_of("tril_", tril), "triu_": _inplace_of("triu_", triu),
    "cumsum_": _scan_("cumsum_", cumsum), "cumprod_": _scan_("cumprod_", cumprod),
    "addmm_": _product_("addmm_", addmm), "addbmm_": _product_("addbmm_", addbmm),
    "addmv_": _product_("addmv_", addmv), "addr_": _product_("addr_", addr),
    "baddbmm_": _product_("baddbmm_", baddbmm), "renorm_": _inplace_of("renorm_", renorm),
    "index_reduce_": _inplace_of("index_reduce_", index_reduce), "ldexp_": _inplace_of("ldexp_", ldexp),
    "igamma_": _inplace_of("igamma_", gammainc), "igammac_": _inplace_of("igammac_", gammaincc),
    "polygamma_": lambda self, n: _inplace(self, "polygamma_", lambda cur: polygamma(n, cur)),
    "mvlgamma_": _inplace_of("mvlgamma_", mvlgamma),
}
METHODS.update({name: _compare_(name, op) for name, op in _COMPARISONS.items()})
METHODS["pin_memory"].__doc__ = "The tensor itself: minigrad has no page-locked host memory (CuPy copies from any)."
METHODS["is_pinned"].__doc__ = "False: minigrad has no page-locked host memory."



# --- storages, streams, subclasses, layouts: more of PyTorch's habits --------------------------------------------

def _untyped_storage(self: Tensor) -> Any:
    """The memory this tensor views, as bytes (Tensor.untyped_storage): every view of one tensor gives a storage
    with the same ``data_ptr()``, so ``a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()`` tells
    whether ``a`` and ``b`` share memory, as in PyTorch."""
    return UntypedStorage._of(self.data)


def _typed_storage(self: Tensor) -> Any:
    """The memory this tensor views, as elements of its dtype (Tensor.storage; PyTorch's TypedStorage is
    deprecated, and this warns once as PyTorch's does: use ``untyped_storage()``)."""
    warn_typed_storage()
    return TypedStorage(UntypedStorage._of(self.data), self.dtype)


def _record_stream(self: Tensor, s: Any) -> None:
    """Mark the tensor as used by stream ``s`` (Tensor.record_stream): a no-op for a GPU tensor (CuPy's memory pool
    gives no block back while a stream may still use it in the cases PyTorch's caching allocator needs this);
    a CPU tensor raises, as PyTorch's."""
    if self.device.type != "cuda":
        raise RuntimeError(f"record_stream: only CUDA tensors can record a stream; this tensor is on the "
                           f"{self.device} (shape {self.shape})")


def _as_subclass(self: Tensor, cls: type) -> Tensor:
    """A ``cls`` instance viewing this tensor's memory and attached to its graph (Tensor.as_subclass): while
    recording it is a non-leaf view of ``self`` (gradients flow to ``self``), as PyTorch's AliasBackward0.
    ``cls`` must be a subclass of Tensor (PyTorch's TypeError otherwise)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("as_subclass: creating a Tensor subclass from a class that does not inherit from Tensor is "
                        f"not possible ({cls!r}). Make sure your class inherits from Tensor.")
    alias = self[...]   # a view (shares the memory, tracked for in-place ops), recorded when self requires grad
    new = object.__new__(cls)
    for klass in Tensor.__mro__:
        for slot in klass.__dict__.get("__slots__", ()):
            if slot != "__weakref__" and hasattr(alias, slot):
                object.__setattr__(new, slot, object.__getattribute__(alias, slot))
    view = getattr(alias, "_view", None)
    if view:   # tracked for autograd: the base's in-place writes reach this object as they reach alias
        _note_view(view[0], new, view[1])
    return new


def _output_nr(self: Tensor) -> int:
    """Which output of the op that made it this tensor is (Tensor.output_nr): 1 for the second piece of a
    ``split``; 0 for a leaf and for single-output ops."""
    return int(self._index)


def _is_set_to(self: Tensor, tensor: Any) -> bool:
    """Whether ``tensor`` views the same memory as this one with the same storage offset, shape and strides
    (Tensor.is_set_to): ``x.is_set_to(x[:])`` is True, ``x.is_set_to(x.clone())`` or ``x.is_set_to(x.t())`` False."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"is_set_to(): argument 'tensor' (position 1) must be Tensor, not {type(tensor).__name__}")
    return (self.device == tensor.device
            and _untyped_storage(self).data_ptr() == _untyped_storage(tensor).data_ptr()
            and self.storage_offset() == tensor.storage_offset() and tuple(self.shape) == tuple(tensor.shape)
            and self.stride() == tensor.stride())


def _dim_order(self: Tensor, *, ambiguity_check: Any = False) -> tuple:
    """The dims from outermost to innermost in memory (Tensor.dim_order): ``(0, 1, 2, 3)`` contiguous,
    ``(0, 2, 3, 1)`` channels-last; ties (size-1 dims, equal strides) keep PyTorch's order.
    ``ambiguity_check=True`` raises PyTorch's RuntimeError where ties make the order ambiguous; a list of memory
    formats, where the tensor is not contiguous in exactly one of them."""
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    if not isinstance(ambiguity_check, bool) and not (
            isinstance(ambiguity_check, list)
            and all(isinstance(fmt, memory_formats.memory_format) for fmt in ambiguity_check)):
        raise TypeError("dim_order: ambiguity_check must be a bool or a list of memory formats, got "
                        f"{type(ambiguity_check).__name__}")
    ndim, shape, strides = self.ndim, self.shape, self.stride()
    # PyTorch's first check: a size-1 dim or two equal neighbouring strides allow several orders, which only
    # exactly one of the listed formats (none for True) settles
    several = 1 in shape or any(a == b for a, b in zip(strides, strides[1:]))
    if (ambiguity_check is not False and several
            and sum(bool(self.is_contiguous(memory_format=fmt)) for fmt in formats) != 1):
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the given "
                           "memory formats.")
    if ndim <= 1:
        return tuple(range(ndim))
    contiguous = bool(self.data.flags.c_contiguous)
    channels_last = ndim == 4 and bool(self.is_contiguous(memory_format=memory_formats.channels_last))
    if contiguous != channels_last:   # PyTorch's fast paths
        return tuple(range(ndim)) if contiguous else (0, *range(2, ndim), 1)

    def should_swap(a: int, b: int) -> int:   # PyTorch's comparison (torch._prims_common), on one tensor
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if _ge(shape[b], shape[a]) else 1
        return -1 if _ge(sb, sa) else 1 if _ge(sa, sb) else 0

    perm = insertion_sort(list(reversed(range(ndim))), should_swap)   # sorted back to front, as PyTorch's
    if ambiguity_check and any(should_swap(perm[i], perm[i + 1]) != -1 for i in range(ndim - 1)):
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(reversed(perm))


def _ge(a: int, b: int) -> bool:
    return b == 0 or (a != 0 and (a >= b or a % b == 0))


def empty_permuted(size: Any, physical_layout: Any, *, dtype: Any = None, layout: Any = None, device: Any = None,
                   requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of shape ``size`` whose memory holds the dims in the order ``physical_layout``
    (torch.empty_permuted): ``empty_permuted((N, C, H, W), (0, 2, 3, 1))`` is channels-last, strides
    ``(H*W*C, 1, W*C, C)``. It is ``empty(size permuted).permute(inverse)``, a leaf."""
    name = "empty_permuted"
    for what, value in (("size", size), ("physical_layout", physical_layout)):
        if not isinstance(value, (tuple, list)):   # mg.Size is a tuple
            raise TypeError(f"{name}(): argument '{what}' must be a tuple of ints, but found {type(value).__name__}")
    shape = tuple(int_arg(n, name, "size") for n in size)
    order = tuple(int_arg(d, name, "physical_layout") for d in physical_layout)
    if len(shape) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           f"len(size) = {len(shape)} is not equal to len(physical_layout) = {len(order)}")
    if sorted(order) != list(range(len(shape))):
        raise RuntimeError(f"{name}: physical_layout must be a permutation of the dims, got {list(order)}"
                           f"{' (Duplicate dim not allowed)' if len(set(order)) != len(order) else ''}")
    inverse = [0] * len(order)
    for place, dim in enumerate(order):
        inverse[dim] = place
    physical = empty(tuple(shape[d] for d in order), dtype=dtype, device=device)
    out = Tensor._make(physical.data.transpose(inverse), False, None, 0)
    return out.requires_grad_(True) if requires_grad else out


def _as_strided_(self: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:
    """Make this tensor, in place, the view ``as_strided(size, stride, storage_offset)`` of its storage
    (Tensor.as_strided_). Not recorded: a tensor that requires grad raises (a leaf: PyTorch's error; a
    non-leaf: use the out-of-place ``as_strided``, which is differentiable)."""
    if self.requires_grad and is_recording():
        what = "a leaf Variable that requires grad is being used in an in-place operation." if self.is_leaf else \
            "as_strided_ on a tensor that requires grad is not recorded in minigrad: use as_strided(), which is"
        raise RuntimeError(f"as_strided_: {what} (shape {self.shape})")
    with no_grad():
        view = as_strided(self, size, stride, storage_offset)
    self.data = view.data
    self._bump_version()
    return self


def as_strided_(input: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:  # noqa: A002
    """``torch.as_strided_``: :meth:`Tensor.as_strided_` (``input`` made, in place, that view of its storage;
    returned)."""
    return _as_strided_(tensor_arg(input, "as_strided_"), size, stride, storage_offset)


def _resize(self: Tensor, *sizes: Any) -> Tensor:
    """The deprecated out-of-place resize (Tensor.resize): the tensor viewed (or copied, as ``reshape``) to
    ``sizes``, which must hold as many elements; differentiable. Warns as PyTorch's."""
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _resized(self, sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes)


def _resize_as(self: Tensor, tensor: Tensor) -> Tensor:
    """The deprecated out-of-place resize_as (Tensor.resize_as): :meth:`resize` to ``tensor``'s shape."""
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return _resized(self, tensor_arg(tensor, "resize_as").shape)


def _resized(x: Tensor, sizes: Any) -> Tensor:
    shape = tuple(int_arg(n, "resize", "size") for n in sizes)
    if math.prod(shape) != x.numel():
        raise RuntimeError(f"requested resize to {'x'.join(map(str, shape))} ({math.prod(shape)} elements in "
                           f"total), but the given tensor has a size of {'x'.join(map(str, x.shape))} ({x.numel()} "
                           "elements). autograd's resize can only change the shape of a given tensor, while "
                           "preserving the number of elements.")
    return reshape(x, shape)


METHODS.update({
    "untyped_storage": _untyped_storage, "storage": _typed_storage, "record_stream": _record_stream,
    "as_subclass": _as_subclass, "output_nr": property(_output_nr, doc=_output_nr.__doc__),
    "dim_order": _dim_order, "as_strided_": _as_strided_, "resize": _resize, "resize_as": _resize_as,
    "is_set_to": _is_set_to,
})
