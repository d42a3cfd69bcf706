"""Complex numbers: parts, angle, polar form and conjugation, with PyTorch's gradients.

PyTorch's convention for complex autograd (its docs, "Autograd for Complex Numbers"):
for a real loss ``L``, ``z.grad`` is ``dL/dz*`` (twice the conjugate Wirtinger
derivative: ``dL/dx + i dL/dy`` for ``z = x + iy``), so a holomorphic op
``y = f(x)`` sends ``gy * conj(f'(x))`` back, and a real input of an op with a
complex output gets the real part of its gradient. The engine applies that to the
ops marked ``complex_grad`` (``autograd.engine._complex_gate``) and refuses the
others at forward time. The ops here are not holomorphic and say their gradients
themselves:

* ``real(z)`` → ``gy``; ``imag(z)`` → ``i gy``; ``angle(z)`` → ``gy · i z / |z|²`` (0 at 0);
* ``conj(z)`` → ``conj(gy)``; ``complex(re, im)`` → ``(Re gy, Im gy)``;
* ``view_as_real`` / ``view_as_complex`` move between ``(..., 2)`` real pairs and complex values.

``real``, ``imag``, ``view_as_real`` and ``view_as_complex`` return views, as PyTorch's: an in-place
write into the result reaches the input and its graph (ops/inplace.py, through each op's ``scatter``).
PyTorch's ``conj`` is a lazily conjugated view; minigrad's is a computed copy that refuses in-place
writes (they could not reach the input), and ``resolve_conj``/``resolve_neg`` have nothing to resolve.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import backend
from ..autograd import Function
from ..autograd.names import respelled
from ..backend import array_module
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from ._util import (
    ArgumentTypeError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    called_as,
    sum_to,
    tensor_arg,
    unit_complex,
)
from .iterator_layout import lay_out_as_torch, strides_over
from .shape import track_view

__all__ = ["angle", "complex", "conj", "conj_physical", "conj_physical_", "imag", "is_conj", "is_neg", "polar", "real",
           "resolve_conj", "resolve_neg", "view_as_complex", "view_as_real"]

_COMPLEX_OF = {"float32": "complex64", "float64": "complex128"}


class Real(Function):
    """The real part of a complex ``x``: a view of its memory with ``view`` (torch.real's), else a copy; the
    gradient is ``gy`` as a complex array. ``scatter``: a write into the view, put back into x (inplace.py)."""

    complex_grad = True
    view_args = ("view",)   # __init__'s: a base changed in place reads its views again (inplace.py)

    def __init__(self, view: bool = False) -> None:
        self.view = view

    def forward(self, x: Any) -> Any:
        return x.real if self.view else x.real.copy()

    @staticmethod
    def scatter(current: Tensor, value: Tensor, view: bool = True) -> Tensor:
        return Complex(current.shape)(value, Imag()(current))

    def backward(self, gy: Any) -> Any:
        return gy.astype(_COMPLEX_OF[gy.dtype.name])


class Imag(Function):
    """The imaginary part of a complex ``x``: a view of its memory with ``view`` (torch.imag's), else a copy; the
    gradient is ``i gy``. ``scatter``: a write into the view, put back into x (inplace.py)."""

    complex_grad = True
    view_args = ("view",)

    def __init__(self, view: bool = False) -> None:
        self.view = view

    def forward(self, x: Any) -> Any:
        return x.imag if self.view else x.imag.copy()

    @staticmethod
    def scatter(current: Tensor, value: Tensor, view: bool = True) -> Tensor:
        return Complex(current.shape)(Real()(current), value)

    def backward(self, gy: Any) -> Any:
        return (gy * 1j).astype(_COMPLEX_OF[gy.dtype.name], copy=False)


class Angle(Function):
    """The argument of ``x`` in radians: ``atan2(Im x, Re x)`` (0 or π for real x, whose gradient is 0)."""

    complex_grad = True

    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        xp = self.xp
        if x.dtype.kind != "c":   # PyTorch's real angle: π where x < 0, so -0.0 gives 0 (atan2 gives π); NaN kept
            return xp.where(xp.isnan(x), x, xp.where(x < 0, x.dtype.type(math.pi), x.dtype.type(0)))
        y = xp.angle(x)
        return y.astype(x.real.dtype, copy=False)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        xp = self.xp
        if x.dtype.kind != "c":
            return xp.zeros_like(gy)
        # gy · i z / |z|², as (i z / |z|) / |z| part by part: |z|² underflows to 0 at |z| < 1e-154 (1e-200j gave 0)
        size = xp.abs(x)
        safe = xp.where(size == 0, 1, size)
        with backend.errstate(xp, over="ignore"):
            step = unit_complex(xp, 1j * x, safe)
            step = unit_complex(xp, step, safe)
        return xp.where(size == 0, x.dtype.type(0), gy * step).astype(x.dtype, copy=False)


def _read_only(out: Any) -> Any:
    """``out`` marked read-only where the array type has the flag (a NumPy array; CuPy has none)."""
    if type(out) is numpy.ndarray:
        out.flags.writeable = False
    return out


def _pairs_view(x: Any) -> Any:
    """A complex ``x`` (…) as a view of its (real, imag) pairs (…, 2): x's strides in the real dtype, each pair two
    neighbouring reals (NumPy always; CuPy where its dtype view allows one, else a copy)."""
    part = x.real
    if type(x) is numpy.ndarray:
        return numpy.lib.stride_tricks.as_strided(part, x.shape + (2,), part.strides + (part.itemsize,))
    if x.ndim and x.flags.c_contiguous:
        return x.view(part.dtype).reshape(x.shape + (2,))
    return array_module(x).stack([part, x.imag], axis=-1)


class Conj(Function):
    """The complex conjugate (a copy); the gradient is ``conj(gy)``. ``read_only``: the copy refuses in-place
    writes (torch.conj's is a view whose writes reach x; a write into this copy would not)."""

    complex_grad = True

    def __init__(self, read_only: bool = False) -> None:
        self.read_only = read_only

    def forward(self, x: Any) -> Any:
        out = self.xp.asarray(x.conj())   # NumPy's conj of a 0-d array is a scalar
        return _read_only(out) if self.read_only else out

    def backward(self, gy: Any) -> Any:
        return gy.conj()


class Complex(Function):
    """``re + i im`` from two real arrays of one float dtype (broadcast); gradients ``Re gy`` and ``Im gy``."""

    complex_grad = True

    def __init__(self, shape: tuple) -> None:
        self.shape = shape   # re's and im's broadcast together

    def forward(self, re: Any, im: Any) -> Any:
        self.shapes = (re.shape, im.shape)
        out = self.xp.empty(self.shape, dtype=_COMPLEX_OF[re.dtype.name])
        out.real = re
        out.imag = im
        if re.flags.c_contiguous and im.flags.c_contiguous:
            return out
        # PyTorch's layout (its TensorIterator's, from the parts' strides): complex(x.T, x.T) is transposed too
        return lay_out_as_torch(self.xp, out, [strides_over(part, self.shape) for part in (re, im)])

    def backward(self, gy: Any) -> tuple:
        shape_re, shape_im = self.shapes
        return (sum_to(gy.real, shape_re) if self.needs_grad[0] else None,
                sum_to(gy.imag, shape_im) if self.needs_grad[1] else None)


class ViewAsReal(Function):
    """Complex ``(...)`` as real ``(..., 2)`` pairs (real, imaginary): a view of x's memory with ``view`` (any
    strides, as torch.view_as_real's), else a copy. ``scatter``: a write into the view, put back into x."""

    name = "view_as_real"
    complex_grad = True
    view_args = ("view",)

    def __init__(self, view: bool = False) -> None:
        self.view = view

    def forward(self, x: Any) -> Any:
        if not self.view:
            return self.xp.stack([x.real, x.imag], axis=-1)
        return _pairs_view(x)

    @staticmethod
    def scatter(current: Tensor, value: Tensor, view: bool = True) -> Tensor:
        return ViewAsComplex()(value)

    def backward(self, gy: Any) -> Any:
        return self.xp.asarray(gy[..., 0] + 1j * gy[..., 1]).astype(_COMPLEX_OF[gy.dtype.name], copy=False)


class ViewAsComplex(Function):
    """Real ``(..., 2)`` pairs as complex ``(...)`` values: a view of x's memory with ``view`` where the pairs are
    contiguous (as torch.view_as_complex's; elsewhere a copy), else a copy. ``scatter``: a write into the view,
    put back into x."""

    name = "view_as_complex"
    complex_grad = True
    view_args = ("view",)

    def __init__(self, view: bool = False) -> None:
        self.view = view

    @staticmethod
    def scatter(current: Tensor, value: Tensor, view: bool = True) -> Tensor:
        return ViewAsReal()(value)

    def forward(self, x: Any) -> Any:
        if self.view:   # (view_as_complex checked the layout) size-1 dims aside, NumPy's view needs what PyTorch's does
            ones = tuple(d for d in range(x.ndim - 1) if x.shape[d] == 1)
            pairs = x.squeeze(ones).view(_COMPLEX_OF[x.dtype.name])[..., 0]
            return self.xp.expand_dims(pairs, ones) if ones else pairs
        out = self.xp.empty(x.shape[:-1], dtype=_COMPLEX_OF[x.dtype.name])
        out.real = x[..., 0]
        out.imag = x[..., 1]
        return out

    def backward(self, gy: Any) -> Any:
        return self.xp.stack([gy.real, gy.imag], axis=-1)


def _complex_arg(input: Any, name: str) -> Tensor:  # noqa: A002
    x = tensor_arg(input, name)
    if x.dtype.kind != "c":
        raise RuntimeError(f"{name}: expected a complex tensor, got dtype {x.dtype}")
    return x


def _float_pair(x: Tensor, name: str) -> None:
    """Refuse a part other than float32/float64: float16 with PyTorch's NotImplementedError for polar (its CPU
    kernel has no Half one; torch.complex makes complex32, which minigrad does not have)."""
    if x.dtype.name not in _COMPLEX_OF:
        error = DtypeNotImplementedError if x.dtype.name == "float16" else ArgumentTypeError
        raise error(f"{name}: expected a float32 or float64 tensor, got dtype {x.dtype} (minigrad has no "
                    "complex32, so float16 is not supported)")


def _view(x: Tensor, op: Function) -> Tensor:
    """``op(x)``, a view of x's memory, recorded as one: an in-place write into it reaches x and x's graph."""
    out = op(x)
    if getattr(out.data, "base", None) is None:   # a copy (view_as_complex of pairs apart): memory of its own
        return out
    return track_view(x, out, op)


def real(input: Tensor) -> Tensor:  # noqa: A002
    """The real part, same shape: a view of a complex tensor's memory (writes reach it, as PyTorch's); a real
    tensor itself."""
    x = tensor_arg(input, "real")
    return _view(x, Real(view=True)) if x.dtype.kind == "c" else x


def imag(input: Tensor) -> Tensor:  # noqa: A002
    """The imaginary part of a complex tensor, same shape (a view of its memory, as PyTorch's); real tensors
    raise."""
    x = tensor_arg(input, "imag")
    if x.dtype.kind != "c":
        raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes (got {x.dtype})")
    return _view(x, Imag(view=True))


def angle(input: Tensor) -> Tensor:  # noqa: A002
    """The argument in radians, same shape, real dtype (0 or π for real input; integers give the default float
    dtype, float32 unless ``set_default_dtype``)."""
    x = tensor_arg(input, "angle")
    if x.dtype.kind in "biu":
        x = x.astype(get_default_dtype())
    return Angle()(x)


def conj(input: Tensor) -> Tensor:  # noqa: A002
    """The complex conjugate (a copy, read-only on the CPU: PyTorch's is a lazy view whose in-place writes reach
    x, which a copy's could not, so they raise; ``conj_physical`` or ``clone()`` give a writable one); a real
    tensor itself."""
    x = tensor_arg(input, "conj")
    return Conj(read_only=True)(x) if x.dtype.kind == "c" else x


def conj_physical(input: Tensor) -> Tensor:  # noqa: A002
    """The complex conjugate, computed now (as ``conj`` here); a real tensor itself."""
    x = tensor_arg(input, "conj_physical")
    return respelled(Conj()(x), x, "conj", "ConjPhysicalBackward0") if x.dtype.kind == "c" else x


def conj_physical_(input: Tensor) -> Tensor:  # noqa: A002
    """``x = conj(x)`` in place, returning x (the gradient as ``conj_physical``'s); a real tensor is left as it is.
    ``mg.conj_physical_(x)`` and ``x.conj_physical_()``, as PyTorch's."""
    if not isinstance(input, Tensor):   # an in-place op: a list or an array would be changed out of sight
        raise TypeError(f"conj_physical_(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.copy_(Conj()(input)) if input.dtype.kind == "c" else input


def resolve_conj(input: Tensor) -> Tensor:  # noqa: A002
    """The tensor itself (same shape, same memory): minigrad's conjugates are computed, never lazy bits; a
    ``conj`` result (read-only) gives a writable copy, as PyTorch's materialized conjugate."""
    x = tensor_arg(input, "resolve_conj")
    data = x.data
    if (x.dtype.kind == "c" and type(data) is numpy.ndarray and not data.flags.writeable
            and 0 not in data.strides and data.base is None):   # conj's own copy (not an expand-ed view)
        return x.clone()
    return x


def resolve_neg(input: Tensor) -> Tensor:  # noqa: A002
    """The tensor itself (same shape, same memory): minigrad has no lazy negation bit."""
    return tensor_arg(input, "resolve_neg")


def is_conj(input: Tensor) -> bool:  # noqa: A002
    """False: minigrad's conjugates are computed, never lazy bits."""
    tensor_arg(input, "is_conj")
    return False


def is_neg(input: Tensor) -> bool:  # noqa: A002
    """False: minigrad has no lazy negation bit."""
    tensor_arg(input, "is_neg")
    return False


def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    """``real + i imag`` (broadcast): float32 parts give complex64, float64 parts complex128."""
    re, im = tensor_arg(real, "complex"), tensor_arg(imag, "complex")
    for x in (re, im):
        _float_pair(x, "complex")
    if re.dtype != im.dtype:
        raise RuntimeError(f"complex: expected real and imag to have the same dtype, got {re.dtype} and {im.dtype}")
    try:
        shape = numpy.broadcast_shapes(re.shape, im.shape)
    except ValueError as error:
        raise ShapeMismatchError(f"complex: real {re.shape} and imag {im.shape} do not broadcast together (the size "
                                 "of tensor a must match the size of tensor b at non-singleton dimensions)") from error
    return Complex(shape)(re, im)


def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """``abs * (cos(angle) + i sin(angle))`` (broadcast), complex64 or complex128 as ``complex``."""
    r, theta = tensor_arg(abs, "polar"), tensor_arg(angle, "polar")
    for x in (r, theta):
        _float_pair(x, "polar")
    if r.dtype != theta.dtype:
        raise RuntimeError(f"polar: expected abs and angle to have the same dtype, got {r.dtype} and {theta.dtype}")
    try:
        return complex(r * theta.cos(), r * theta.sin())
    except ValueError as error:   # shapes that do not broadcast: named as polar, not its mul
        raise called_as("polar", error, r, theta) from None


def view_as_real(input: Tensor) -> Tensor:  # noqa: A002
    """Complex ``(...)`` as real ``(..., 2)``: real and imaginary parts, a view of x's memory (writes reach x,
    as PyTorch's)."""
    x = tensor_arg(input, "view_as_real")
    if x.dtype.kind != "c":
        raise RuntimeError(f"view_as_real is only supported for complex tensors (got {x.dtype})")
    return _view(x, ViewAsReal(view=True))


def view_as_complex(input: Tensor) -> Tensor:  # noqa: A002
    """Real ``(..., 2)`` float32/float64 pairs as complex ``(...)``: a view of x's memory (writes reach x, as
    PyTorch's). As PyTorch, each pair must be contiguous and start at an even element (the last dim's stride 1, the
    other dims' strides and the storage offset even; size-1 dims aside): other layouts raise RuntimeError (a copy
    would not share x's memory), ``contiguous()`` first."""
    x = tensor_arg(input, "view_as_complex")
    _float_pair(x, "view_as_complex")
    if x.ndim == 0 or x.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: Tensor must have a last dimension of size 2, got shape {x.shape}")
    strides = x.stride()
    problem = ("Tensor must have a last dimension with stride 1" if strides[-1] != 1 else
               "Tensor must have a stride divisible by 2 for all but last dimension"
               if any(s % 2 and n != 1 for s, n in zip(strides[:-1], x.shape)) else
               "Tensor must have a storage_offset divisible by 2" if x.storage_offset() % 2 else None)
    if problem and x.numel():
        raise RuntimeError(f"view_as_complex: {problem} (shape {x.shape}, strides {strides}, storage offset "
                           f"{x.storage_offset()}); use x.contiguous() first")
    return _view(x, ViewAsComplex(view=x.numel() > 0))


def _set_real(x: Tensor, value: Any) -> None:
    """``x.real = value``: written into x's real part (PyTorch's setter, a copy_ into the view)."""
    real(x)[...] = value


def _set_imag(x: Tensor, value: Any) -> None:
    """``x.imag = value``: written into a complex x's imaginary part (PyTorch's setter)."""
    imag(x)[...] = value


METHODS: dict = {
    "conj": conj, "conj_physical": conj_physical, "conj_physical_": conj_physical_, "resolve_conj": resolve_conj,
    "resolve_neg": resolve_neg,
    "is_conj": is_conj, "is_neg": is_neg, "angle": angle,
    "real": property(real, _set_real, doc="The real part (a view of a complex tensor, as PyTorch's; assignable); "
                                          "real: itself."),
    "imag": property(imag, _set_imag, doc="The imaginary part of a complex tensor (a view, as PyTorch's; "
                                          "assignable)."),
}
