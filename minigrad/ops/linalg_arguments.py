"""Argument checks shared by ``mg.linalg``'s functions: float matrices, equal dtypes, and the ``info`` tensors
of the ``*_ex`` functions. Errors name the function and the shapes or dtypes."""

from __future__ import annotations

from typing import Any

from .. import backend
from ..recording import note_draw
from ..tensor import Tensor
from ._util import DtypeMismatchError, DtypeNotImplementedError, tensor_arg


class LinalgShapeError(ValueError, RuntimeError):
    """Shapes a linear-algebra function (or cdist) cannot take: PyTorch's RuntimeError, and a ValueError as
    minigrad's other shape errors, so that either ``except`` catches it."""


def floating(x: Any, name: str, what: str = "input", complex_ok: bool = False) -> Tensor:
    """``x`` as a float32/float64 Tensor (``complex_ok``: or complex64/complex128); integers, bools, float16 and
    (without ``complex_ok``) complex raise, naming the op. An integer, bool or float16 ``x`` raises a TypeError that
    is also PyTorch's NotImplementedError (``"cholesky_cpu" not implemented for 'Long'``), a RuntimeError subclass,
    so it is the RuntimeError some of PyTorch's functions raise instead (``linalg.inv``) too."""
    x = tensor_arg(x, name)
    if x.dtype.kind == "c" and complex_ok:
        return x
    if x.dtype.kind == "c":
        raise NotImplementedError(f"{name}: complex tensors are not supported (got {what} of dtype {x.dtype})")
    if x.dtype.kind != "f":
        raise DtypeNotImplementedError(f"{name}: expected a floating-point {what}, got dtype {x.dtype} (as PyTorch, "
                                       "which refuses integer and bool inputs; cast it first)")
    if x.dtype.itemsize < 4:   # PyTorch refuses them too, but for matrix_exp, whose float16 result overflows
        raise DtypeNotImplementedError(f"{name}: low-precision dtypes are not supported, got {x.dtype}; cast it to "
                                       "float32 first")
    return x


def matrices(A: Any, name: str, square: bool = False, what: str = "A",  # noqa: N803 - PyTorch's name
             complex_ok: bool = False) -> Tensor:
    """A float (``complex_ok``: or complex) tensor of at least 2 dims (square in its last two with ``square``);
    else a clear error naming the argument ``what``."""
    A = floating(A, name, what, complex_ok)  # noqa: N806
    if A.ndim < 2:
        raise LinalgShapeError(f"{name}: {what} must have at least 2 dims (a matrix or a batch of matrices), got "
                               f"shape {A.shape}")
    if square and A.shape[-1] != A.shape[-2]:
        raise LinalgShapeError(f"{name}: {what} must be batches of square matrices, but they are {A.shape[-2]} by "
                               f"{A.shape[-1]} matrices (shape {A.shape})")
    return A


def same_dtype(name: str, a: Tensor, b: Tensor, names: str = "A and B") -> None:
    """Refuse two operands of different dtypes, as PyTorch's linear algebra does (a TypeError that is also
    PyTorch's RuntimeError)."""
    if a.dtype != b.dtype:
        first, second = names.split(" and ")
        raise DtypeMismatchError(f"{name}: expected {names} to have the same dtype, got {first} of dtype {a.dtype} and "
                        f"{second} of dtype {b.dtype}")


def module(array: Any) -> Any:
    """The array module (NumPy or CuPy) of ``array``."""
    return backend.array_module(array)


def info_tensor(name: str, info: Any, inputs: tuple, make: Any) -> Tensor:
    """``info`` (an array computed by an op) as a Tensor without gradient; an ``mg.compile`` replay recomputes it
    as ``make(*arrays of inputs)``."""
    return note_draw(name, make, inputs, Tensor._make(info, False, None, 0))
