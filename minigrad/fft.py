"""``mg.fft``: PyTorch's ``torch.fft`` namespace (``import minigrad as mg; mg.fft.rfft(x)``).

Transforms over one dim (``fft ifft rfft irfft hfft ihfft``), two (``fft2 …``, default ``dim=(-2, -1)``) and
any number (``fftn …``, default: every dim, or the last ``len(s)`` when ``s`` is given), with PyTorch's
arguments: ``n``/``s`` zero-pad or crop each transformed dim (``-1`` in ``s``: keep the size; ``n=-1`` is
refused, as PyTorch's), ``dim``, ``norm`` (``"backward"`` (None), ``"forward"``, ``"ortho"``). Results and
dtypes are PyTorch's: a float32 input gives complex64, float64 complex128 (integers and bools become the
default float first), the ``irfft``/``hfft`` family gives real. The one-sided transforms halve the last of
``dim``: ``rfftn`` of ``(…, n)`` is ``(…, n // 2 + 1)``; ``irfftn`` gives ``(…, 2 * (m - 1))`` unless ``s``
says.

Every transform is differentiable with PyTorch's complex gradients; the three ops (complex-to-complex,
real-to-complex, complex-to-real) live in :mod:`minigrad.ops.fft`, this module checks arguments and holds the
thin wrappers. ``fftfreq``/``rfftfreq`` give sample frequencies, ``fftshift``/``ifftshift`` roll the zero
frequency to the middle and back (``mg.roll``). float16 inputs raise NotImplementedError (PyTorch's CPU
FFT refuses them too); no function takes PyTorch's ``out=``.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import numpy

from .arguments import ArgumentTypeError, AxisError, ShapeMismatchError, as_dtype
from .constructors import arange, tensor_options
from .dtypes import get_default_dtype
from .ops._util import int_arg, normalize_axis, tensor_arg
from .ops.fft import DUAL_NORM, ComplexFFT, ComplexToRealFFT, RealToComplexFFT
from .ops.index import roll
from .ops.join import cat
from .ops.shape import astype
from .tensor import Tensor

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


# --- arguments ---------------------------------------------------------------------------------------------------

def _axis_alias(position: int) -> Callable:
    """PyTorch's ``axis=`` alias of ``dim=`` for a transform whose ``dim`` is positional argument ``position``
    (``torch.fft.fft(x, axis=0)``). NumPy's one-dim transforms take ``axis=`` with the same meaning; its 2-dim
    and n-dim ones and its shifts spell theirs ``axes=``, so ``axis=`` is PyTorch's there."""
    def alias(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if "axis" in kwargs:
                if "dim" in kwargs or len(args) > position:
                    raise TypeError(f"fft.{fn.__name__}() got multiple values for argument 'dim' (axis= is its alias)")
                kwargs["dim"] = kwargs.pop("axis")
            return fn(*args, **kwargs)
        return call
    return alias


def _multi(name: str) -> bool:
    """Whether ``name`` is a 2-dim or n-dim transform (``fft2``, ``rfftn`` …), not a one-dim one."""
    return name.endswith(("2", "n"))


def _input(x: Tensor, name: str, real: bool = False) -> Tensor:
    """The tensor to transform: integers and bools as the default float; float16 and (``real``) complex refused."""
    if x.dtype.kind in "biu":
        x = astype(x, get_default_dtype())
    if x.dtype.kind not in "fc" or x.dtype.name == "float16":
        raise NotImplementedError(f"fft.{name}: dtype {x.dtype} is not supported (float32, float64, complex64, "
                                  "complex128; integers and bools become the default float)")
    if real and x.dtype.kind == "c":
        raise ArgumentTypeError(f"fft.{name} expects a real input tensor, but got {x.dtype} (shape {tuple(x.shape)})")
    return x


def _norm(norm: Any, name: str) -> str:
    if norm is None:
        return "backward"
    if norm not in DUAL_NORM:
        raise ShapeMismatchError(f'fft.{name}: invalid normalization mode "{norm}" (expected "backward", "forward", '
                                 '"ortho" or None)')
    return norm


def _size(value: Any, name: str) -> int:
    # PyTorch's SymInt: a one-element int tensor too; a bool or a bool tensor (which operator.index reads) raises
    size = int_arg(value, f"fft.{name}", "a signal size", one_element=True)
    if size < 1:
        raise ShapeMismatchError(f"fft.{name}: invalid number of data points ({size}) specified")
    return size


def _dims(x: Tensor, s: Any, dim: Any, name: str) -> tuple[tuple, tuple]:
    """The transformed axes (non-negative, in order) and the sizes each is resized to (None: unchanged, or an
    irfft's default). ``dim`` None: the last ``len(s)`` dims, or every dim when ``s`` is None too. A ``-1``
    in ``s`` keeps the size; a one-dim transform's ``n=-1`` is refused, as PyTorch's."""
    if dim is None and name.endswith("2"):
        raise TypeError(f"fft.{name}: argument 'dim' must be a tuple of ints, not None (the default is (-2, -1))")
    if s is not None:
        s = (s,) if not isinstance(s, (tuple, list)) else tuple(s)
    if dim is None:
        axes = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else tuple(range(x.ndim))
        if s is not None and len(s) > x.ndim:
            raise ShapeMismatchError(f"fft.{name}: got shape with {len(s)} values but the input has only "
                                     f"{x.ndim} dims")
    else:
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        if x.ndim == 0 and dims:   # normalize_axis would take dim 0/-1 of a 0-d tensor as no dim at all
            raise AxisError(f"fft.{name}: dimension specified as {dims[0]!r} but the tensor has no dimensions")
        axes = tuple(normalize_axis(dims, x.ndim, f"fft.{name}"))
    if len(set(axes)) != len(axes):
        raise ShapeMismatchError(f"fft.{name}: FFT dims must be unique, got dim={dim!r}")
    if s is not None and len(s) != len(axes):
        raise ValueError(f"fft.{name}: when given, dim and shape arguments must have the same length "
                         f"(s={s!r}, dim={dim!r})")
    if not axes and name.lstrip("i").startswith(("rfft", "hfft")):
        raise ShapeMismatchError(f"fft.{name}: must transform at least one dim")
    keep = -1 if _multi(name) else None
    sizes = tuple(None if s is None or s[i] == keep else _size(s[i], name) for i in range(len(axes)))
    return axes, sizes


def _prepare(input: Any, s: Any, dim: Any, name: str, real: bool = False) -> tuple:  # noqa: A002
    """The input (:func:`_input`), its transformed axes and their sizes (:func:`_dims`), checked in PyTorch's
    order: a one-dim transform checks the dtype first, a 2-dim or n-dim one its dims first."""
    x = tensor_arg(input, f"fft.{name}")
    if not _multi(name) or (name.startswith("rfft") and x.dtype.kind == "c"):   # rfft2/rfftn: this one first
        x = _input(x, name, real)
    axes, sizes = _dims(x, s, dim, name)
    return (_input(x, name, real) if _multi(name) else x), axes, sizes


def _full(x: Tensor, axes: tuple, sizes: tuple) -> tuple:
    return tuple(x.shape[a] if n is None else n for a, n in zip(axes, sizes))


def _c2c(input: Any, s: Any, dim: Any, norm: Any, name: str, inverse: bool) -> Tensor:  # noqa: A002
    x, axes, sizes = _prepare(input, s, dim, name)
    if not axes:   # dim=(): nothing to transform, the input as complex (as PyTorch's)
        return astype(x, "complex128" if x.dtype in ("float64", "complex128") else "complex64")
    return ComplexFFT(axes, _full(x, axes, sizes), _norm(norm, name), inverse)(x)


def _r2c(input: Any, s: Any, dim: Any, norm: Any, name: str, hermitian: bool) -> Tensor:  # noqa: A002
    x, axes, sizes = _prepare(input, s, dim, name, real=True)
    norm = _norm(norm, name)
    return RealToComplexFFT(axes, _full(x, axes, sizes), DUAL_NORM[norm] if hermitian else norm, hermitian)(x)


def _c2r(input: Any, s: Any, dim: Any, norm: Any, name: str, hermitian: bool) -> Tensor:  # noqa: A002
    x, axes, sizes = _prepare(input, s, dim, name)
    if sizes[-1] is None:
        sizes = sizes[:-1] + (_size(2 * (x.shape[axes[-1]] - 1), name),)
    norm = _norm(norm, name)
    return ComplexToRealFFT(axes, _full(x, axes, sizes), DUAL_NORM[norm] if hermitian else norm, hermitian)(x)


def _one(n: Any, dim: Any, name: str) -> tuple:
    """A one-dim transform's ``s`` and ``dim`` lists; ``dim`` is PyTorch's int there (not an int list, which would
    read tensor(True) or tensor([1]) as the dim 1)."""
    return (None if n is None else (n,)), (int_arg(dim, f"fft.{name}", "dim"),)


# --- one dim: x (…, n, …) along dim --------------------------------------------------------------------------------

@_axis_alias(2)
def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The discrete Fourier transform along ``dim``: (…, n, …) → complex (…, n, …)."""
    return _c2c(input, *_one(n, dim, "fft"), norm, "fft", inverse=False)


@_axis_alias(2)
def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse transform of :func:`fft` along ``dim``: (…, n, …) → complex (…, n, …)."""
    return _c2c(input, *_one(n, dim, "ifft"), norm, "ifft", inverse=True)


@_axis_alias(2)
def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The transform of a real signal, one-sided: real (…, n, …) → complex (…, n // 2 + 1, …)."""
    return _r2c(input, *_one(n, dim, "rfft"), norm, "rfft", hermitian=False)


@_axis_alias(2)
def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of :func:`rfft`: one-sided complex (…, m, …) → real (…, n, …), n = 2 (m - 1) by default."""
    return _c2r(input, *_one(n, dim, "irfft"), norm, "irfft", hermitian=False)


@_axis_alias(2)
def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The transform of a Hermitian signal given by its first half: complex (…, m, …) → real (…, n, …),
    n = 2 (m - 1) by default."""
    return _c2r(input, *_one(n, dim, "hfft"), norm, "hfft", hermitian=True)


@_axis_alias(2)
def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of :func:`hfft`: real (…, n, …) → one-sided complex (…, n // 2 + 1, …)."""
    return _r2c(input, *_one(n, dim, "ihfft"), norm, "ihfft", hermitian=True)


# --- two dims (default the last two) and n dims (default all) -----------------------------------------------------

@_axis_alias(2)
def fft2(input: Tensor, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Tensor:  # noqa: A002
    """:func:`fftn` over two dims (default the last two)."""
    return _c2c(input, s, dim, norm, "fft2", inverse=False)


@_axis_alias(2)
def ifft2(input: Tensor, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Tensor:  # noqa: A002
    """:func:`ifftn` over two dims (default the last two)."""
    return _c2c(input, s, dim, norm, "ifft2", inverse=True)


@_axis_alias(2)
def rfft2(input: Tensor, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Tensor:  # noqa: A002
    """:func:`rfftn` over two dims (default the last two)."""
    return _r2c(input, s, dim, norm, "rfft2", hermitian=False)


@_axis_alias(2)
def irfft2(input: Tensor, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Tensor:  # noqa: A002
    """:func:`irfftn` over two dims (default the last two)."""
    return _c2r(input, s, dim, norm, "irfft2", hermitian=False)


@_axis_alias(2)
def hfft2(input: Tensor, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Tensor:  # noqa: A002
    """:func:`hfftn` over two dims (default the last two)."""
    return _c2r(input, s, dim, norm, "hfft2", hermitian=True)


@_axis_alias(2)
def ihfft2(input: Tensor, s: Any = None, dim: Any = (-2, -1), norm: str | None = None) -> Tensor:  # noqa: A002
    """:func:`ihfftn` over two dims (default the last two)."""
    return _r2c(input, s, dim, norm, "ihfft2", hermitian=True)


@_axis_alias(2)
def fftn(input: Tensor, s: Any = None, dim: Any = None, norm: str | None = None) -> Tensor:  # noqa: A002
    """The n-dimensional transform over ``dim``, each resized to ``s`` first: (…) → complex (…, s, …)."""
    return _c2c(input, s, dim, norm, "fftn", inverse=False)


@_axis_alias(2)
def ifftn(input: Tensor, s: Any = None, dim: Any = None, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of :func:`fftn`: (…) → complex (…, s, …)."""
    return _c2c(input, s, dim, norm, "ifftn", inverse=True)


@_axis_alias(2)
def rfftn(input: Tensor, s: Any = None, dim: Any = None, norm: str | None = None) -> Tensor:  # noqa: A002
    """:func:`fftn` of a real input, one-sided in the last of ``dim``: real (…, n) → complex (…, n // 2 + 1)."""
    return _r2c(input, s, dim, norm, "rfftn", hermitian=False)


@_axis_alias(2)
def irfftn(input: Tensor, s: Any = None, dim: Any = None, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of :func:`rfftn`: complex (…, m) → real (…, s[-1]), s[-1] = 2 (m - 1) by default."""
    return _c2r(input, s, dim, norm, "irfftn", hermitian=False)


@_axis_alias(2)
def hfftn(input: Tensor, s: Any = None, dim: Any = None, norm: str | None = None) -> Tensor:  # noqa: A002
    """The n-dimensional :func:`hfft`: complex (…, m) → real (…, s[-1]), s[-1] = 2 (m - 1) by default."""
    return _c2r(input, s, dim, norm, "hfftn", hermitian=True)


@_axis_alias(2)
def ihfftn(input: Tensor, s: Any = None, dim: Any = None, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of :func:`hfftn`: real (…, n) → complex (…, n // 2 + 1)."""
    return _r2c(input, s, dim, norm, "ihfftn", hermitian=True)


# --- frequencies and shifts ---------------------------------------------------------------------------------------

def _count(n: Any, name: str) -> int:
    """``fftfreq``'s ``n``: an int ≥ 0 (PyTorch's ``fftfreq(0)`` is empty)."""
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"fft.{name}: argument 'n' must be int, not {type(n).__name__}")
    n = operator.index(n)
    if n < 0:
        raise ShapeMismatchError(f"fft.{name}: trying to create a tensor with negative dimension {n}")
    return n


def _frequencies(k: Tensor, n: int, d: float, dtype: Any, requires_grad: bool, name: str) -> Tensor:
    # PyTorch's arithmetic: integer steps in the result's dtype times 1 / (n d) rounded to it; n d = 0 gives
    # ±inf (and 0 · inf = nan), as PyTorch's C++ double division
    dtype = as_dtype(dtype or get_default_dtype(), f"fft.{name}")
    if dtype.kind not in "fc":
        raise ArgumentTypeError(f"fft.{name} requires a floating point or complex dtype, got {dtype}")
    with numpy.errstate(divide="ignore", invalid="ignore"):   # no warning for d = 0, as PyTorch's
        scale = float(numpy.float64(1.0) / numpy.float64(n * d))
        out = astype(k, dtype) * scale
    return out.requires_grad_(requires_grad) if requires_grad else out


def fftfreq(n: int, d: float = 1.0, *, dtype: Any = None, layout: Any = None, device: Any = None,
            pin_memory: Any = None, requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point :func:`fft` with spacing ``d``: (n,), ``[0, 1, …, -1] / (n d)``."""
    n = _count(n, "fftfreq")
    tensor_options("fftfreq", layout, pin_memory, device)
    k = cat([arange((n + 1) // 2, device=device), arange(-(n // 2), 0, device=device)])
    return _frequencies(k, n, d, dtype, requires_grad, "fftfreq")


def rfftfreq(n: int, d: float = 1.0, *, dtype: Any = None, layout: Any = None, device: Any = None,
             pin_memory: Any = None, requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point :func:`rfft` with spacing ``d``: (n // 2 + 1,) (``n = 0``:
    ``[nan]``, as PyTorch's)."""
    n = _count(n, "rfftfreq")
    tensor_options("rfftfreq", layout, pin_memory, device)
    return _frequencies(arange(n // 2 + 1, device=device), n, d, dtype, requires_grad, "rfftfreq")


def _shift(input: Any, dim: Any, name: str, sign: int) -> Tensor:  # noqa: A002
    x = tensor_arg(input, f"fft.{name}")
    dims = tuple(range(x.ndim)) if dim is None else tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if x.ndim == 0 and dims:
        raise AxisError(f"fft.{name}: dimension specified as {dims[0]!r} but the tensor has no dimensions")
    axes = tuple(normalize_axis(dims, x.ndim, f"fft.{name}"))   # none (0-d, dim=()): roll raises, as PyTorch's
    shifts = tuple(x.shape[a] // 2 if sign > 0 else (x.shape[a] + 1) // 2 for a in axes)
    return roll(x, shifts, axes)


@_axis_alias(1)
def fftshift(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """The zero-frequency term moved to the middle of each of ``dim`` (default all): same shape."""
    return _shift(input, dim, "fftshift", +1)


@_axis_alias(1)
def ifftshift(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """The inverse of :func:`fftshift`: same shape."""
    return _shift(input, dim, "ifftshift", -1)


from .outputs import install as _install_out  # noqa: E402 - last: it wraps the functions above

_install_out(globals(), "fft")   # PyTorch's out= (minigrad/outputs.py)
