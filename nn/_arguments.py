"""Argument checks shared by ``nn.functional`` and its activation functions: each error names the function."""

from __future__ import annotations

import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor
from minigrad.int_arguments import int_arg

from ._errors import ComplexInputError, InputDtypeError, KernelDtypeError


def _tensor(x: Any, name: str, what: str = "input") -> Tensor:
    """``x`` if it is a Tensor, else a TypeError naming the function and the argument."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(x).__name__}")
    return x


def _dtype_error(dtype: Any, message: str) -> InputDtypeError:
    """The error for a dtype a function does not take: ComplexInputError for a complex one, KernelDtypeError for
    an integer or bool one (both PyTorch's NotImplementedError: it has no kernel for it, and TypeErrors)."""
    return (ComplexInputError if numpy.dtype(dtype).kind == "c" else KernelDtypeError)(message)


def _floating(x: Any, name: str) -> Tensor:
    """``x`` if it is a floating-point Tensor, else :func:`_dtype_error` naming the function."""
    x = _tensor(x, name)
    if x.dtype.kind != "f":
        raise _dtype_error(x.dtype, f"{name}: input must be floating point, got {x.dtype}")
    return x


def _refuse_cpu_half(x: Tensor, name: str, kernel: str) -> None:
    """PyTorch's NotImplementedError for a float16 ``x`` on the CPU where its CPU kernel ``kernel`` has no float16
    version (its CUDA kernel has: a GPU tensor is computed)."""
    if x.dtype == numpy.float16 and x.device.type == "cpu":
        raise NotImplementedError(f"{name}: float16 input (shape {tuple(x.shape)}) is not supported on the CPU, as "
                                  f"PyTorch's (\"{kernel}\" not implemented for 'Half'); cast it to float32 first")


def _floating_or_complex(x: Any, name: str) -> Tensor:
    """``x`` if it is a floating-point or complex Tensor (convolutions, bilinear), else a KernelDtypeError naming
    the function (an InputDtypeError; NotImplementedError, as PyTorch's kernels without an integer version)."""
    x = _tensor(x, name)
    if x.dtype.kind not in "fc":
        raise KernelDtypeError(f"{name}: input must be floating point or complex, got {x.dtype} (shape {x.shape})")
    return x


def _same_dtype(name: str, **tensors: Any) -> None:
    """An InputDtypeError (RuntimeError, as PyTorch's) unless the given Tensors (others skipped) share one dtype:
    PyTorch's matmul, addmm and bilinear kernels refuse mixed dtypes where NumPy would promote them."""
    dtypes = {what: tensor.dtype for what, tensor in tensors.items() if isinstance(tensor, Tensor)}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{what} {dtype}" for what, dtype in dtypes.items())
        raise InputDtypeError(f"{name}: expected all tensors to have the same dtype, got {listed} (cast them with "
                              f".to(dtype), as PyTorch needs too)")


def _not_complex(x: Tensor, name: str) -> Tensor:
    """``x`` unless it is complex: ComplexInputError for a function PyTorch has no complex kernel for (an order,
    as clamp needs, or a reduction it never wrote for complex), naming the function, dtype and shape."""
    if x.dtype.kind == "c":
        raise ComplexInputError(f"{name}: not implemented for complex tensors (dtype {x.dtype}, shape {x.shape}), "
                                "as in PyTorch")
    return x


def _promoted(x: Any, name: str) -> Tensor:
    """``x`` as a floating-point (or complex: kept) Tensor: integers and bools become the default float dtype
    (float32 unless ``mg.set_default_dtype`` changed it), as PyTorch's composite functions."""
    x = _tensor(x, name)
    return x if x.dtype.kind in "fc" else x.astype(mg.get_default_dtype())


def _number(value: Any, name: str, what: str, kinds: str = "biuf") -> float:
    """``value`` as a Python float, which never changes a tensor's dtype (a NumPy float64 scalar would
    promote float32 to float64), or a TypeError naming the function and the argument. A 0-d tensor of a dtype
    kind in ``kinds`` that does not require grad counts as its value (``F.celu(x, alpha=torch.tensor(0.5))``), as
    PyTorch's number arguments take one; a one-element 1-d tensor, or one that requires grad, stays a TypeError.
    A bool (Python's or NumPy's) is the number 0 or 1, as PyTorch's parser reads it (``F.elu(x, alpha=True)``)."""
    if isinstance(value, Tensor) and value.ndim == 0 and not value.requires_grad and value.dtype.kind in kinds:
        value = float(value.item())
    if not isinstance(value, (int, float, numpy.integer, numpy.floating, numpy.bool_)):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}")
    return float(value)


def _in_int64(values: tuple, name: str, what: str) -> tuple:
    """``values`` (ints) if each fits in int64, else ``mg.Int64RangeError`` naming the function: NumPy would
    wrap a larger one or read it as unsigned (``F.one_hot(i, 2**63)`` would give no columns)."""
    for value in values:
        if not -2**63 <= value < 2**63:
            raise mg.Int64RangeError(f"{name}: {what} {value} does not fit in int64 (as in PyTorch)")
    return values


def _dim(dim: Any, ndim: int, name: str) -> int | None:
    """``dim`` as a non-negative int; None for a 0-d tensor, whose only dims are 0 and -1 (as in PyTorch)."""
    dim = int_arg(dim, name, "dim")   # a 0-d int tensor too, as PyTorch's
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected in [{-size}, {size - 1}])")
    return int(dim) % size if ndim else None


def _implicit_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """PyTorch's choice when no ``dim`` is given (deprecated there too): 0 for 0-, 1- and 3-D inputs, else 1."""
    warnings.warn(f"{name}: implicit dim is deprecated (as in PyTorch); pass dim= explicitly", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def factory_kwargs(kwargs: dict | None) -> dict:
    """``torch.nn.factory_kwargs``: a layer's ``device``/``dtype``/``memory_format`` keywords as one dict (what a
    custom layer passes on to ``mg.empty(..., **factory_kwargs)``), merged with a ``factory_kwargs`` dict among them;
    a key given in both, or any other key, is PyTorch's TypeError."""
    if kwargs is None:
        return {}
    simple = ("device", "dtype", "memory_format")
    unexpected = set(kwargs) - {*simple, "factory_kwargs"}
    if unexpected:
        raise TypeError(f"factory_kwargs: unexpected kwargs {unexpected}")
    merged = dict(kwargs.get("factory_kwargs") or {})
    for key in simple:
        if key in kwargs:
            if key in merged:
                raise TypeError(f"factory_kwargs: {key} specified twice, in **kwargs and in factory_kwargs")
            merged[key] = kwargs[key]
    return merged
