"""``mg.masked``: PyTorch's masked reductions and normalizations (``torch.masked``) on dense tensors.

Each takes ``mask=`` (a bool tensor that broadcasts to the input; None: every element counts) and computes as
PyTorch's: the masked-out elements are replaced by the operation's identity (0 for ``sum``, 1 for ``prod``,
-inf for ``amax``/``logsumexp``/``softmax``, +inf for ``amin``/``softmin``, NaN for ``median``), then the
ordinary op runs, so gradients reach the masked-in elements only. A slice with no masked-in element gives
that identity (``sum``: 0, ``amax``: -inf), or NaN where there is none (``mean``, ``var``, ``std``,
``median``, ``softmax``)::

    x = mg.tensor([[1.0, 2.0, 3.0]]); m = mg.tensor([[True, False, True]])
    mg.masked.sum(x, 1, mask=m)       # tensor([4.])
    mg.masked.softmax(x, 1, mask=m)   # tensor([[0.1192, 0.0000, 0.8808]])

PyTorch's ``MaskedTensor`` (``masked_tensor``, ``as_masked_tensor``: a prototype tensor subclass that carries its
mask through every op) is not implemented: those raise NotImplementedError.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

import minigrad as mg

from .tensor import Tensor

__all__ = ["amax", "amin", "argmax", "argmin", "as_masked_tensor", "cumprod", "cumsum", "is_masked_tensor",
           "log_softmax", "logaddexp", "logsumexp", "masked_tensor", "MaskedTensor", "mean", "median", "norm",
           "normalize", "prod", "softmax", "softmin", "std", "sum", "var"]

_SMALL_INTEGERS = ("bool", "uint8", "int8", "int16", "int32")   # summed as int64 unless dtype= says otherwise


# --- the mask and the identity --------------------------------------------------------------------------------

def _dims(dim: Any, ndim: int) -> tuple[int, ...]:
    """``dim`` (None or ``()``: every dim; an int; a sequence) as sorted non-negative dims, as PyTorch's."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    dims: list[int] = []
    rank = max(ndim, 1)
    for d in (dim,) if isinstance(dim, int) else dim:
        if d in dims:
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        if not -rank <= d < rank:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {d})")
        dims.append(d % rank)
    return tuple(sorted(dims))


def _input_mask(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """``mask`` as a bool tensor of ``input``'s shape (broadcast; a mask of more dims is an IndexError)."""
    if not isinstance(mask, Tensor):
        mask = mg.tensor(mask, device=input.device)
    if mask.shape != input.shape:
        if mask.ndim > input.ndim:
            raise IndexError(f"masked: expected a mask that broadcasts to the input's shape {tuple(input.shape)}, "
                             f"got one of more dims, shape {tuple(mask.shape)}")
        mask = mg.broadcast_to(mask, input.shape)
    return mask.to(mg.bool_)


def _identity(op: str, input: Tensor, ord: Any = 2) -> Any:  # noqa: A002 - PyTorch's names
    """The value that leaves ``op``'s result unchanged (PyTorch's ``_reduction_identity``), or None (mean, var)."""
    dtype = numpy.dtype(input.dtype)
    floating = dtype.kind in "fc"
    if op in ("sum", "cumsum"):
        return 0
    if op in ("prod", "cumprod"):
        return 1
    if op in ("amax", "argmax", "logaddexp", "logsumexp"):
        if floating:
            return -math.inf
        if dtype.kind == "i" or dtype == numpy.uint8:
            return int(numpy.iinfo(dtype).min)
    elif op in ("amin", "argmin"):
        if floating:
            return math.inf
        if dtype.kind == "i" or dtype == numpy.uint8:
            return int(numpy.iinfo(dtype).max)
    elif op == "norm":
        return math.inf if ord == -math.inf else 0
    elif op == "median":
        return math.nan
    elif op in ("mean", "var", "std"):
        return None
    raise NotImplementedError(f"masked.{op}: no identity of {op} on {dtype} input (as PyTorch's)")


def _masked_input(op: str, input: Tensor, mask: Tensor | None, *args: Any) -> Tensor:  # noqa: A002
    """``input`` with its masked-out elements replaced by ``op``'s identity (``input`` itself without a mask)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"masked.{op}: input must be a Tensor, got {type(input).__name__}")
    if mask is None:
        return input
    fill = mg.tensor(_identity(op, input, *args), dtype=input.dtype, device=input.device)
    return mg.where(_input_mask(input, mask), input, fill)


def _summed_dtype(input: Tensor, dtype: Any) -> Any:  # noqa: A002
    """``sum``/``prod``'s result dtype: ``dtype``, else int64 for a small integer or bool input, else its own."""
    if dtype is not None:
        return dtype
    return mg.int64 if str(input.dtype) in _SMALL_INTEGERS else input.dtype


# --- reductions ------------------------------------------------------------------------------------------------

def sum(input: Tensor, dim: Any = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A001, A002
        mask: Tensor | None = None) -> Tensor:
    """The sum of the masked-in elements over ``dim`` (all dims if None); 0 where none is masked in."""
    dtype = _summed_dtype(input, dtype)
    return mg.sum(_masked_input("sum", input, mask), _dims(dim, input.ndim), bool(keepdim), dtype=dtype)


def prod(input: Tensor, dim: Any = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
         mask: Tensor | None = None) -> Tensor:
    """The product of the masked-in elements over ``dim``; 1 where none is masked in."""
    result = _masked_input("prod", input, mask).to(_summed_dtype(input, dtype))
    for d in reversed(_dims(dim, input.ndim)):
        result = result.prod(dim=d, keepdim=bool(keepdim))
    return result


def amax(input: Tensor, dim: Any = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
         mask: Tensor | None = None) -> Tensor:
    """The largest masked-in element over ``dim``; -inf (an integer dtype's minimum) where none is masked in."""
    result = mg.amax(_masked_input("amax", input, mask), _dims(dim, input.ndim), bool(keepdim))
    return result.to(input.dtype if dtype is None else dtype)


def amin(input: Tensor, dim: Any = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
         mask: Tensor | None = None) -> Tensor:
    """The smallest masked-in element over ``dim``; +inf (an integer dtype's maximum) where none is masked in."""
    result = mg.amin(_masked_input("amin", input, mask), _dims(dim, input.ndim), bool(keepdim))
    return result.to(input.dtype if dtype is None else dtype)


def argmax(input: Tensor, dim: int | None = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
           mask: Tensor | None = None) -> Tensor:
    """The index of the largest masked-in element along ``dim``, in ``dtype`` (the input's, as PyTorch's)."""
    result = mg.argmax(_masked_input("argmax", input, mask), dim, bool(keepdim))
    return result.to(input.dtype if dtype is None else dtype)


def argmin(input: Tensor, dim: int | None = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
           mask: Tensor | None = None) -> Tensor:
    """The index of the smallest masked-in element along ``dim``, in ``dtype`` (the input's, as PyTorch's)."""
    result = mg.argmin(_masked_input("argmin", input, mask), dim, bool(keepdim))
    return result.to(input.dtype if dtype is None else dtype)


def _count(input: Tensor, dim: Any, keepdim: bool, mask: Tensor | None) -> Tensor:  # noqa: A002
    """How many elements are masked in over ``dim`` (int64)."""
    ones = mg.ones(input.shape, dtype=mg.int64, device=input.device)
    return sum(ones if mask is None else _input_mask(input, mask), dim, keepdim=keepdim)


def mean(input: Tensor, dim: Any = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
         mask: Tensor | None = None) -> Tensor:
    """The mean of the masked-in elements over ``dim``; NaN where none is masked in. A floating dtype only."""
    dtype = input.dtype if dtype is None else mg.dtype(dtype) if isinstance(dtype, str) else dtype
    if numpy.dtype(dtype).kind not in "fc":
        raise ValueError(f"mean(): Could not infer output dtype. Input dtype must be either a floating point or "
                         f"complex dtype. Got: {dtype}")
    total = sum(input, dim, keepdim=keepdim, dtype=dtype, mask=mask)
    return total / _count(input, dim, keepdim, mask).to(total.dtype)


def median(input: Tensor, dim: int = -1, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
           mask: Tensor | None = None) -> Tensor:
    """The median of the masked-in elements along ``dim`` (NaN where none is; an integer input then raises)."""
    floating = numpy.dtype(input.dtype).kind == "f"
    values = input if floating else input.to(mg.float32)
    output = mg.nanmedian(_masked_input("median", values, mask), _dims(dim, input.ndim)[0], keepdim).values
    if floating:
        return output
    if bool(mg.isnan(output).any()):
        raise ValueError("masked median expects no fully masked out rows if dtype is not floating point")
    return output.to(input.dtype if dtype is None else dtype)


def logsumexp(input: Tensor, dim: Any = None, *, keepdim: bool = False, dtype: Any = None,  # noqa: A002
              mask: Tensor | None = None) -> Tensor:
    """log Σ exp of the masked-in elements over ``dim``; -inf where none is masked in."""
    result = mg.logsumexp(_masked_input("logsumexp", input, mask), _dims(dim, input.ndim), keepdim=keepdim)
    return result.to(input.dtype if dtype is None else dtype)


def logaddexp(input: Tensor, other: Tensor, *, dtype: Any = None, input_mask: Tensor | None = None,  # noqa: A002
              other_mask: Tensor | None = None) -> Tensor:
    """log(exp(input) + exp(other)) elementwise, a masked-out element of either counting as -inf."""
    result = mg.logaddexp(_masked_input("logaddexp", input, input_mask),
                          _masked_input("logaddexp", other, other_mask))
    return result.to(input.dtype if dtype is None else dtype)


def norm(input: Tensor, ord: float | None = 2.0, dim: Any = None, *, keepdim: bool = False,  # noqa: A002
         dtype: Any = None, mask: Tensor | None = None) -> Tensor:
    """The vector ``ord``-norm of the masked-in elements over ``dim``; 0 where none is (+inf for ord=-inf)."""
    return mg.linalg.vector_norm(_masked_input("norm", input, mask, ord), ord, _dims(dim, input.ndim),
                                 bool(keepdim), dtype=input.dtype if dtype is None else dtype)


def _is_floating(dtype: Any) -> bool:
    """Whether ``dtype`` is a float or complex dtype."""
    return numpy.dtype(dtype).kind in "fc"


def _real_dtype(dtype: Any) -> numpy.dtype:
    """The dtype of ``dtype``'s real part (float32 for complex64; a real dtype itself)."""
    return numpy.empty(0, dtype).real.dtype


def _std_var(input: Tensor, dim: Any, unbiased: bool | None, correction: float | None, keepdim: bool,  # noqa: A002
             dtype: Any, mask: Tensor | None, take_sqrt: bool) -> Tensor:
    """PyTorch's masked variance (standard deviation): Σ|x - mean|² / max(count - correction, 0)."""
    if unbiased is not None and correction is not None:
        raise AssertionError("Only one of unbiased and correction may be given")
    correction = float(correction) if correction is not None else 1.0 if unbiased is None or unbiased else 0.0
    if numpy.dtype(input.dtype) == numpy.bool_:
        raise RuntimeError(f"masked.{'std' if take_sqrt else 'var'}: a bool input is not supported (as PyTorch, which "
                           f"cannot subtract bools); convert it with .float() first")
    # Each step with PyTorch's result dtype (NumPy's int / int and int - float32 are float64): the mean in the
    # sum's dtype (the default dtype for an integer sum), the deviations in the input's and the mean's promoted
    # dtype (a complex input stays complex, even with a real dtype=), their squares summed in dtype (float32
    # for an integer dtype), the result cast to dtype, its square root in the default dtype if that is integral.
    if dtype is None:
        dtype = input.dtype if _is_floating(input.dtype) else mg.float32
    compute_dtype = dtype if _is_floating(dtype) else mg.float32
    sample_total = sum(input, dim, keepdim=True, dtype=dtype, mask=mask)
    mean_dtype = sample_total.dtype if _is_floating(sample_total.dtype) else mg.get_default_dtype()
    sample_mean = sample_total.to(mean_dtype) / _count(input, dim, True, mask).to(_real_dtype(mean_dtype))
    deviation_dtype = mean_dtype if not _is_floating(input.dtype) else mg.promote_types(input.dtype, mean_dtype)
    deviations = input.to(deviation_dtype) - sample_mean.to(deviation_dtype)
    total = sum(deviations * deviations.conj(), dim, keepdim=keepdim, dtype=compute_dtype, mask=mask)
    count = _count(input, dim, keepdim, mask).to(_real_dtype(total.dtype))
    if correction != 0:
        count = mg.maximum(count - correction, mg.zeros((), dtype=count.dtype, device=count.device))
    output = (total / count).to(dtype)
    if not take_sqrt:
        return output
    return mg.sqrt(output if _is_floating(output.dtype) else output.to(mg.get_default_dtype()))


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, *, correction: float | None = None,  # noqa: A002
        keepdim: bool = False, dtype: Any = None, mask: Tensor | None = None) -> Tensor:
    """The variance of the masked-in elements over ``dim`` (``correction`` 1 unless ``unbiased=False``); NaN
    where at most ``correction`` elements are masked in."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt=False)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, *, correction: int | None = None,  # noqa: A002
        keepdim: bool = False, dtype: Any = None, mask: Tensor | None = None) -> Tensor:
    """The standard deviation of the masked-in elements over ``dim`` (:func:`var`'s square root)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt=True)


# --- scans and normalizations ---------------------------------------------------------------------------------

def cumsum(input: Tensor, dim: int, *, dtype: Any = None, mask: Tensor | None = None) -> Tensor:  # noqa: A002
    """Running sums along ``dim``, a masked-out element counting as 0."""
    dtype = input.dtype if dtype is None else dtype
    return mg.cumsum(_masked_input("sum", input, mask), _dims(dim, input.ndim)[0], dtype=dtype).to(dtype)


def cumprod(input: Tensor, dim: int, *, dtype: Any = None, mask: Tensor | None = None) -> Tensor:  # noqa: A002
    """Running products along ``dim``, a masked-out element counting as 1."""
    dtype = input.dtype if dtype is None else dtype
    return mg.cumprod(_masked_input("prod", input, mask), _dims(dim, input.ndim)[0], dtype=dtype).to(dtype)


def softmax(input: Tensor, dim: int, *, dtype: Any = None, mask: Tensor | None = None) -> Tensor:  # noqa: A002
    """softmax along ``dim`` over the masked-in elements (0 at a masked-out one; NaN in a slice with none)."""
    return mg.softmax(_masked_input("amax", input, mask), _dims(dim, input.ndim)[0],
                      dtype=input.dtype if dtype is None else dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None, mask: Tensor | None = None) -> Tensor:  # noqa: A002
    """log_softmax along ``dim`` over the masked-in elements (-inf at a masked-out one)."""
    return mg.log_softmax(_masked_input("amax", input, mask), _dims(dim, input.ndim)[0],
                          dtype=input.dtype if dtype is None else dtype)


def softmin(input: Tensor, dim: int, *, dtype: Any = None, mask: Tensor | None = None) -> Tensor:  # noqa: A002
    """softmin along ``dim`` over the masked-in elements (0 at a masked-out one)."""
    return mg.nn.functional.softmin(_masked_input("amin", input, mask), _dims(dim, input.ndim)[0],
                                    dtype=input.dtype if dtype is None else dtype)


def normalize(input: Tensor, ord: float, dim: int, *, eps: float = 1e-12, dtype: Any = None,  # noqa: A002
              mask: Tensor | None = None) -> Tensor:
    """The masked-in elements divided by their ``ord``-norm along ``dim`` (at least ``eps``); 0 elsewhere."""
    dtype = input.dtype if dtype is None else dtype
    masked_input = _masked_input("sum", input, mask)
    denominator = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    return masked_input / mg.maximum(denominator, mg.full((), eps, dtype=denominator.dtype,
                                                          device=denominator.device))


# --- MaskedTensor: not implemented ----------------------------------------------------------------------------

_NO_MASKED_TENSOR = ("minigrad has no MaskedTensor (PyTorch's prototype tensor subclass that carries its mask "
                     "through every op); use the masked functions with mask= (mg.masked.sum(x, dim, mask=m), "
                     "mg.masked.softmax(x, dim, mask=m), ...) or mg.where(m, x, fill)")


class MaskedTensor:
    """PyTorch's ``torch.masked.MaskedTensor``: not implemented (NotImplementedError)."""

    def __init__(self, data: Any, mask: Any, requires_grad: bool = False) -> None:
        raise NotImplementedError(f"masked.MaskedTensor: {_NO_MASKED_TENSOR}")


def masked_tensor(data: Any, mask: Any, requires_grad: bool = False) -> Any:
    """PyTorch's ``torch.masked.masked_tensor``: not implemented (NotImplementedError)."""
    raise NotImplementedError(f"masked.masked_tensor: {_NO_MASKED_TENSOR}")


def as_masked_tensor(data: Any, mask: Any) -> Any:
    """PyTorch's ``torch.masked.as_masked_tensor``: not implemented (NotImplementedError)."""
    raise NotImplementedError(f"masked.as_masked_tensor: {_NO_MASKED_TENSOR}")


def is_masked_tensor(obj: Any, /) -> bool:
    """False: minigrad has no MaskedTensor."""
    return False
