"""PyTorch's reductions and statistics beyond sum/mean/var, with its results, dtypes and gradients.

Here: ``nansum``, ``nanmean``, ``var_mean``, ``std_mean``, ``aminmax``, ``cov``, ``corrcoef``. This
module also lists (``__all__`` for ``mg``, ``METHODS`` for ``mg.Tensor``) its neighbours' ops, one
concept per file: order statistics (``order_stats.py``: kthvalue, mode, nanmedian, quantile,
nanquantile, msort, cummax, cummin), counting and searching (``counting.py``: unique,
unique_consecutive, bincount, histc, searchsorted, bucketize) and distances (``distance.py``: cdist,
dist).

As everywhere (DESIGN §3), ``dim=``/``keepdim=`` and positional arguments mean PyTorch's result.
"""

from __future__ import annotations

import warnings
from typing import Any

from .. import backend, return_types
from ..arguments import EmptyReductionError
from ..autograd import Function
from ..dtypes import get_default_dtype
from ..outputs import install as install_out
from ..outputs import write_out
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    ShapeMismatchError,
    axis_alias,
    complex_order_error,
    flag,
    int_arg,
    keep_flag,
    normalize_axis,
    one_axis,
    refuse_complex,
    tensor_arg,
)
from .complex_ops import complex, conj, imag, real
from .counting import bincount, bucketize, histc, searchsorted, unique, unique_consecutive
from .distance import cdist, dist
from .elementwise import clip, div, mul, sqrt, sub, where
from .index import diag
from .linalg import matmul
from .order_stats import cummax, cummin, kthvalue, mode, msort, nanmedian, nanquantile, quantile
from .reduce import _expand, _mean_dtype, _sum_in_float32, amax, amin, mean, reduced_axes, std, sum, summed_as, var
from .select import c_order, kept_dims_c_order
from .shape import astype

__all__ = [
    "MinMax", "nansum", "nanmean", "var_mean", "std_mean", "aminmax", "cov", "corrcoef",
    "kthvalue", "mode", "nanmedian", "quantile", "nanquantile", "msort", "cummax", "cummin",
    "unique", "unique_consecutive", "bincount", "histc", "searchsorted", "bucketize",
    "cdist", "dist",
]


def _dims(x: Tensor, dim: Any, name: str) -> Any:
    """``dim`` (an int, a sequence of ints, or None / () for all) as a tuple of axes or None; a repeated
    dim raises, as in PyTorch. A 0-d tensor reduces over nothing: None."""
    if dim is None or (isinstance(dim, (tuple, list)) and not dim) or x.ndim == 0:
        if x.ndim == 0 and dim is not None:
            reduced_axes(dim, 0, name)   # only 0 / -1 are dims of a 0-d tensor, each named once
        return None
    axes = normalize_axis(dim, x.ndim, name)
    if len(set(axes)) != len(axes):
        raise ShapeMismatchError(f"{name}: dim {dim} names a dim more than once (shape {x.shape}): dim "
                                 f"{next(a for a in axes if axes.count(a) > 1)} appears multiple times in the list of "
                                 "dims")
    return axes


def _floating(x: Any, name: str) -> Tensor:
    x = tensor_arg(x, name)
    if x.dtype.kind != "f":
        raise ArgumentTypeError(f"{name}: expected a floating-point tensor (as PyTorch), got dtype {x.dtype}")
    return x


# --- nansum, nanmean ---------------------------------------------------------------------------------

def _sum(x: Any, axes: Any, keepdims: bool) -> Any:
    """``x.sum`` over ``axes``; a float16 ``x`` sums in float32 rounded once, as PyTorch's (NumPy rounds per row)."""
    y = _sum_in_float32(x, axes, keepdims) if x.dtype == "float16" else x.sum(axis=axes, keepdims=keepdims)
    return kept_dims_c_order(y) if keepdims else c_order(y)   # C order, as PyTorch's, of a transposed x too


class NanSum(Function):
    """Sum over ``axes`` counting NaN as 0; NaN elements get no gradient (torch.nansum)."""

    def __init__(self, axes: Any, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        kept = ~self.xp.isnan(x)
        self.saved = (kept,)
        return self.xp.asarray(_sum(self.xp.where(kept, x, x.dtype.type(0)), self.axes, self.keepdims))

    def backward(self, gy: Any) -> Any:
        (kept,) = self.saved
        return _expand(gy, kept.shape, self.axes, self.keepdims) * kept


class NanMean(Function):
    """Mean over ``axes`` of the non-NaN elements (NaN where there are none); each non-NaN element gets
    gy / count, as torch.nanmean (a line of NaNs only gets NaN: PyTorch's (gy / 0) · 0)."""

    def __init__(self, axes: Any, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        xp = self.xp
        kept = ~xp.isnan(x)
        count = kept.sum(axis=self.axes, keepdims=True).astype(x.dtype)
        self.saved = (kept, count)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            y = _sum(xp.where(kept, x, x.dtype.type(0)), self.axes, True) / count
        if self.keepdims:
            return kept_dims_c_order(y)
        return c_order(y.reshape(()) if self.axes is None else y.squeeze(axis=self.axes))

    def backward(self, gy: Any) -> Any:
        kept, count = self.saved
        g = _expand(gy, kept.shape, self.axes, self.keepdims)
        with backend.errstate(self.xp, divide="ignore", invalid="ignore"):
            return (g / count) * kept


def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,  # noqa: A002
           axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all) treating NaN as 0, as torch.nansum.

    x: (..., n, ...) → ``dim`` removed (kept as 1 with ``keepdim=True``). ``dtype`` casts first and is
    the result's dtype; integer and bool inputs give int64 without it. NaN elements get no gradient.
    NumPy's ``axis=`` / ``keepdims=`` give np.nansum's result (``axis=()`` reduces nothing); ``keepdims=`` beside a
    dim is PyTorch's alias of ``keepdim=``.
    """
    if axis is not NOT_GIVEN or (keepdims is not None and dim is None):
        x = _numpy_nan_input("nansum", input, dim, keepdim, dtype)
        kept = x == x
        return sum(where(kept, x, 0), axis=None if axis is NOT_GIVEN else axis, keepdims=bool(keepdims))
    keepdim = keep_flag("nansum", keepdim, keepdims)   # keepdims= beside a dim: PyTorch's alias
    x = tensor_arg(input, "nansum")
    refuse_complex("nansum", x, runtime=True, order=False)   # PyTorch's CPU nansum has no complex kernel
    if dtype is not None:
        if x.dtype.kind == "f" and backend.as_dtype(dtype, "nansum").kind in "biu":   # PyTorch drops NaN first
            x = where(x != x, 0.0, x)   # (a NaN cast to an integer would be its minimum, or True)
        x = summed_as(x, dtype, "nansum")
        refuse_complex("nansum", x, runtime=True, order=False)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"nansum: expected a real tensor, got dtype {x.dtype}")
    axes = _dims(x, dim, "nansum")
    keep = flag(keepdim, "nansum", "keepdim")
    if x.dtype.kind != "f":   # nothing is NaN: torch.sum, with its int64 result (or the dtype asked for)
        return sum(x, axes, keep, dtype=dtype)
    return NanSum(axes, keep)(x)


def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,  # noqa: A002
            axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """Mean over ``dim`` (an int, a tuple, or None for all) of the non-NaN elements, as torch.nanmean.

    x: (..., n, ...) (float) → ``dim`` removed (kept as 1 with ``keepdim=True``); NaN where a line is
    all NaN. ``dtype`` casts first. NumPy's ``axis=`` / ``keepdims=`` give np.nanmean's result (an
    integer x: float64); ``keepdims=`` beside a dim is PyTorch's alias of ``keepdim=``.
    """
    if axis is not NOT_GIVEN or (keepdims is not None and dim is None):
        x = _numpy_nan_input("nanmean", input, dim, keepdim, dtype)
        if x.dtype.kind not in "fc":
            x = astype(x, "float64")   # NumPy's mean of integers
        kept = x == x
        axes, keep = None if axis is NOT_GIVEN else axis, bool(keepdims)
        with warnings.catch_warnings():   # an all-NaN line: NaN (NumPy warns "Mean of empty slice")
            warnings.simplefilter("ignore", RuntimeWarning)
            return div(sum(where(kept, x, 0), axis=axes, keepdims=keep),
                       astype(sum(kept, axis=axes, keepdims=keep), x.dtype))
    keepdim = keep_flag("nanmean", keepdim, keepdims)   # keepdims= beside a dim: PyTorch's alias
    x = tensor_arg(input, "nanmean")
    refuse_complex("nanmean", x, runtime=True, order=False)   # PyTorch's: its nansum refuses complex
    x = _floating(x, "nanmean")
    if dtype is not None:
        x = astype(x, _mean_dtype(dtype, "nanmean"))
    return NanMean(_dims(x, dim, "nanmean"), flag(keepdim, "nanmean", "keepdim"))(x)


def _numpy_nan_input(name: str, input: Any, dim: Any, keepdim: Any, dtype: Any) -> Tensor:  # noqa: A002
    """The input of a NumPy-keyword nansum/nanmean call (``dim=``/``keepdim=`` beside them refused), cast to
    ``dtype`` when given."""
    if dim is not None or flag(keepdim, name, "keepdim"):
        raise TypeError(f"{name}: give dim=/keepdim= (PyTorch) or axis=/keepdims= (NumPy), not both")
    x = tensor_arg(input, name)
    if x.dtype.kind == "c":
        raise TypeError(f"{name}: expected a real tensor, got dtype {x.dtype}")
    return x if dtype is None else astype(x, backend.as_dtype(dtype, name))


# --- var_mean, std_mean ------------------------------------------------------------------------------

def _spread_mean(spread: Any, name: str, x: Any, dim: Any, unbiased: Any, keepdim: bool,
                 correction: Any) -> tuple[Tensor, Tensor]:
    x = tensor_arg(x, name)
    if x.dtype.kind != "c":   # complex x: a real spread and a complex mean, as PyTorch's
        x = _floating(x, name)
    if isinstance(dim, bool):   # torch's var_mean(x, unbiased) overload
        dim, unbiased = None, dim
    axes = _dims(x, dim, name)
    keep = flag(keepdim, name, "keepdim")
    return spread(x, axes, unbiased, keep, correction=correction), mean(x, axes, keep)


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: Any = None, keepdims: bool | None = None, axis: Any = NOT_GIVEN) -> tuple[Tensor, Tensor]:
    """``(var(x, dim), mean(x, dim))`` as torch.var_mean (a plain tuple): PyTorch's ``correction=1``
    (``unbiased=True``) by default. x: (..., n, ...) → both with ``dim`` removed (kept with ``keepdim``, or
    PyTorch's alias ``keepdims``). ``axis=`` is PyTorch's alias of ``dim=`` (NumPy has no var_mean), so
    ``var_mean(x, axis=1)`` is ``var_mean(x, dim=1)``: ``correction=1``, not ``var(x, axis=1)``'s ``ddof=0``."""
    dim = axis_alias("var_mean", dim, axis, None)
    return _spread_mean(var, "var_mean", input, dim, unbiased, keep_flag("var_mean", keepdim, keepdims), correction)


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: Any = None, keepdims: bool | None = None, axis: Any = NOT_GIVEN) -> tuple[Tensor, Tensor]:
    """``(std(x, dim), mean(x, dim))`` as torch.std_mean, with :func:`var_mean`'s conventions (``axis=`` too)."""
    dim = axis_alias("std_mean", dim, axis, None)
    return _spread_mean(std, "std_mean", input, dim, unbiased, keep_flag("std_mean", keepdim, keepdims), correction)


# --- aminmax -----------------------------------------------------------------------------------------

MinMax = return_types.MinMax   # (min, max); aminmax returns its subclass return_types.aminmax


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False, out: Any = None,  # noqa: A002
            axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> MinMax:
    """The minimum and maximum over ``dim`` (one int; all elements when None), as torch.aminmax (``out=``: a pair of
    tensors of x's dtype, written into).

    x: (..., n, ...) → min, max with ``dim`` removed (kept as 1 with ``keepdim=True``; with
    ``dim=None``, ``keepdim=True`` keeps every dim as 1). Ties share the gradient, as amin/amax.
    ``axis=`` and ``keepdims=`` are PyTorch's aliases of ``dim=`` and ``keepdim=``.
    """
    dim, keepdim = axis_alias("aminmax", dim, axis, None), keep_flag("aminmax", keepdim, keepdims)
    if out is not None:
        return write_out("aminmax", aminmax(input, dim=dim, keepdim=keepdim), out, "exact", inputs=(input,),
                         overlap="reduce")
    x = tensor_arg(input, "aminmax")
    if x.data.dtype.kind == "c":   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error("aminmax", x.dtype)
    keep = flag(keepdim, "aminmax", "keepdim")
    if dim is not None:
        axis = one_axis(dim, max(x.ndim, 1), "aminmax")
        if x.ndim and x.shape[axis] == 0:
            raise EmptyReductionError(f"aminmax: cannot reduce dim {axis} of size 0 (shape {x.shape}): no identity")
        dims: Any = axis if x.ndim else ()
    else:
        if x.data.size == 0:
            raise EmptyReductionError(f"aminmax: cannot reduce an empty tensor (shape {x.shape}): no identity")
        dims = ()
    if dims == () and keep and x.ndim:
        dims = tuple(range(x.ndim))
    return return_types.aminmax(amin(x, dims, keep), amax(x, dims, keep))


# --- cov, corrcoef -----------------------------------------------------------------------------------

def _weights(w: Any, kinds: str, n: int, name: str, what: str, x: Tensor) -> Tensor:
    w = tensor_arg(w, name)
    if w.ndim > 1:
        raise ShapeMismatchError(f"{name}: {what} must have one or fewer dims, got shape {w.shape}")
    if w.dtype.kind not in kinds:
        kind = "an integer" if kinds == "iu" else "a floating-point"
        raise ArgumentTypeError(f"{name}: {what} must have {kind} dtype, got {w.dtype}")
    if w.data.size != n:
        raise ShapeMismatchError(f"{name}: {what} must have one element per observation ({n}), got {w.data.size}")
    if w.device != x.device:
        raise ValueError(f"{name}: {what} is on {w.device} but the input is on {x.device}")
    if n and bool((w.data < 0).any()):
        raise ShapeMismatchError(f"{name}: {what} cannot be negative")
    return w.reshape(-1)


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,  # noqa: A002
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``x`` (observations in columns), as
    torch.cov, with integer frequency weights ``fweights`` and float observation weights ``aweights``.

    x: (V, N) → (V, V); (N,) or a single row → a 0-d tensor. Integer inputs give float32; a complex x gives
    Σ (x_i - x̄_i) conj(x_j - x̄_j), complex (as PyTorch). With
    ``correction`` >= the (weighted) number of observations, warns and divides by 0, as PyTorch.
    Differentiable in ``x`` and ``aweights``.
    """
    x = tensor_arg(input, "cov")
    if x.ndim > 2:
        raise ShapeMismatchError(f"cov: expects a tensor with two or fewer dims, got shape {x.shape}")
    if x.dtype.kind not in "iufc":
        raise ArgumentTypeError(f"cov: not supported for dtype {x.dtype} (as in PyTorch)")
    correction = int_arg(correction, "cov", "correction")   # a NumPy int or a 0-d int tensor too, as PyTorch's
    rows = x.reshape(1, -1) if x.ndim < 2 else x
    n = rows.shape[1]
    fw = None if fweights is None else _weights(fweights, "iu", n, "cov", "fweights", x)
    aw = None if aweights is None else _weights(aweights, "f", n, "cov", "aweights", x)
    # PyTorch's result dtype: the float dtype among input and aweights (the wider), else float32
    floats = [t.dtype for t in (x, aw) if t is not None and t.dtype.kind in "fc"]
    dtype = backend.numpy.result_type(*floats) if floats else get_default_dtype()
    rows = astype(rows, dtype) if rows.dtype != dtype else rows
    real_dtype = backend.numpy.finfo(dtype).dtype   # the weights' (a complex x's real counterpart)
    aw = astype(aw, real_dtype) if aw is not None and aw.dtype != real_dtype else aw
    w = None
    if fw is not None:
        w = astype(fw, real_dtype)
    if aw is not None:
        w = aw if w is None else mul(w, aw)
    if w is None:
        w_sum: Any = n
        average = sum(rows, 1) / n
        norm_factor: Any = n - correction
    else:
        w_sum = sum(w)
        if float(w_sum.item()) == 0:
            raise ValueError("cov: the weights sum to zero, can't be normalized")
        average = div(sum(mul(rows, w), 1), w_sum)
        if correction == 0:
            norm_factor = w_sum
        elif aw is None:
            norm_factor = w_sum - correction
        else:
            norm_factor = w_sum - correction * div(sum(mul(w, aw)), w_sum)
    if float(norm_factor.item() if isinstance(norm_factor, Tensor) else norm_factor) <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number "
                      "of observations.", UserWarning, stacklevel=2)
        norm_factor = 0.0
    centred = sub(rows, average.reshape(-1, 1))
    weighted = centred if w is None else mul(centred, w)
    if weighted.dtype.kind == "c":
        weighted = conj(weighted)
    with backend.errstate(backend.array_module(x.data), divide="ignore", invalid="ignore"):
        return div(matmul(centred, weighted.T), norm_factor).squeeze()


def corrcoef(input: Tensor) -> Tensor:  # noqa: A002
    """Pearson correlation coefficients of the variables in the rows of ``x``, as torch.corrcoef:
    cov(x) / (σ_i σ_j), clipped to [-1, 1]. x: (V, N) → (V, V); (N,) → a 0-d tensor (1, or NaN for a
    constant). Complex x: σ from the real part of the diagonal, and the real and imaginary parts clipped apart,
    as PyTorch. Differentiable."""
    x = input
    x = tensor_arg(x, "corrcoef")
    if x.ndim > 2:
        raise ShapeMismatchError(f"corrcoef: expects a tensor with two or fewer dims, got shape {x.shape}")
    c = cov(x)
    if c.ndim == 0:   # one variable: NaN for a zero, NaN or inf variance, else 1
        return div(c, c)
    variance = diag(c)
    deviation = sqrt(real(variance) if variance.dtype.kind == "c" else variance)
    c = div(c, deviation.reshape(-1, 1))
    c = div(c, deviation.reshape(1, -1))
    if c.dtype.kind == "c":
        return complex(clip(real(c), -1, 1), clip(imag(c), -1, 1))
    return clip(c, -1, 1)


METHODS: dict = {
    "nansum": nansum, "nanmean": nanmean, "aminmax": aminmax, "cov": cov, "corrcoef": corrcoef,
    "kthvalue": kthvalue, "mode": mode, "nanmedian": nanmedian, "quantile": quantile, "nanquantile": nanquantile,
    "msort": msort, "cummax": cummax, "cummin": cummin,
    "unique": unique, "unique_consecutive": unique_consecutive, "bincount": bincount, "histc": histc,
    "dist": dist,
}

install_out(globals(), "statistics")   # PyTorch's out= on this module's functions (minigrad/outputs.py)
