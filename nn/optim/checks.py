"""Checks and conversions behind the optimizers' all-or-nothing steps and loads.

How a value is recognised (a number, a flag, a count), how a parameter is
named in a message, and how state entries are snapshotted, copied and moved
to a parameter's device and dtype.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy

import minigrad as mg

__all__ = ["BoolHyperParameterError", "HyperParameterTypeError", "ShortPairError", "ZeroDivisorError", "check_count",
           "check_number", "copied", "followed", "invalid", "is_flag", "is_number", "lr_scalar", "param_label",
           "scalar_of", "snapshot"]


class HyperParameterTypeError(ValueError, TypeError):
    """A hyper-parameter of the wrong kind (None, a str, a tuple for a number; a number for a pair): ValueError as
    minigrad's other invalid hyper-parameters, TypeError as PyTorch's comparison or indexing of it raises."""


class BoolHyperParameterError(HyperParameterTypeError, RuntimeError):
    """A bool for a number (``weight_decay=True``): a :class:`HyperParameterTypeError`, and RuntimeError as
    PyTorch's ``add(..., alpha=True)`` with it raises ("Boolean alpha only supported for Boolean results")."""


class ShortPairError(ValueError, IndexError):
    """A pair (``betas``, ``etas``, Adafactor's ``eps``) of fewer than two values: ValueError as minigrad's other
    invalid hyper-parameters, IndexError as PyTorch's reading of its second value raises."""


class ZeroDivisorError(ValueError, ZeroDivisionError):
    """A schedule's length or divisor of 0 (StepLR's step_size, CosineAnnealingLR's T_max, OneCycleLR's div_factor):
    ValueError as minigrad's other invalid arguments, ZeroDivisionError as PyTorch's division by it raises."""


def invalid(value: Any, message: str, pair: bool = False, kind: type | tuple[type, ...] | None = None,
            divisor: bool = False) -> ValueError:
    """The error for an invalid hyper-parameter ``value``: ValueError, a :class:`HyperParameterTypeError` where
    the value is of the wrong kind (not a number; with ``pair``, not a tuple or list of numbers; not a ``kind``),
    a :class:`ZeroDivisorError` for a ``divisor`` of 0 (PyTorch divides by it)."""
    if divisor and is_number(value) and value == 0:
        return ZeroDivisorError(message)
    if isinstance(value, bool):
        return BoolHyperParameterError(message)
    if pair and isinstance(value, (tuple, list)) and len(value) < 2:
        return ShortPairError(message)
    if kind is not None:
        right_kind = isinstance(value, kind)
    elif pair:
        right_kind = isinstance(value, (tuple, list)) and all(is_number(v) for v in value)
    else:
        right_kind = is_number(value)
    return (ValueError if right_kind else HyperParameterTypeError)(message)


def param_label(p: mg.Tensor, index: int) -> str:
    """``parameter 3 ('encoder.weight_hh_l0', shape (16, 4))`` — how every message names a parameter."""
    name = f"{p.name!r}, " if getattr(p, "name", None) else ""
    return f"parameter {index} ({name}shape {tuple(p.shape)})"


def is_number(value: Any) -> bool:
    """A real number that is not a bool (NumPy scalars included)."""
    if type(value) in (int, float):
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not (
        hasattr(value, "dtype") and value.dtype.kind == "b")


def is_flag(value: Any) -> bool:
    """A bool (or a 0/1 int, as PyTorch accepts ``nesterov=1``)."""
    return isinstance(value, bool) or (hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0
                                       and value.dtype.kind == "b") or (is_number(value) and value in (0, 1))


def scalar_of(value: Any) -> Any:
    """A 0-d Tensor or array as a Python scalar; anything else unchanged."""
    array = value.data if isinstance(value, mg.Tensor) else value
    if mg.is_array(array) and array.ndim == 0:
        return array.item()
    return value


def lr_scalar(lr: Any) -> Any:
    """A 0-d Tensor (or array) lr as a NumPy scalar of its floating dtype, the default float dtype (float32 unless
    ``mg.set_default_dtype``) for an integer one; anything else (a number) unchanged.

    So what a step or a schedule computes from a Tensor lr is rounded in that dtype, as PyTorch's tensor
    arithmetic: Adam's lr / (1 - beta1^t) on torch.tensor(0.01), ExponentialLR's lr·gamma on torch.tensor(0.1)
    are float32 products (an int64 torch.tensor(3) times a float gives the default dtype), not float64 ones rounded
    after.
    """
    array = lr.data if isinstance(lr, mg.Tensor) else lr
    if not mg.is_array(array):
        return lr
    dtype = array.dtype if array.dtype.kind == "f" else numpy.dtype(mg.get_default_dtype())
    return dtype.type(array.item())


def snapshot(value: Any) -> Any:
    """A state entry as ``state_dict`` gives it: arrays become Tensor copies, lists are copied."""
    if mg.is_array(value):
        return mg.tensor(value)
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    return value


def copied(value: Any) -> Any:
    """A state entry with its arrays copied (lists of arrays too)."""
    if isinstance(value, list):
        return [copied(v) for v in value]
    return value.copy() if mg.is_array(value) else value


def followed(value: Any, p: mg.Tensor) -> Any:
    """A state entry on ``p``'s device, floating arrays in ``p``'s dtype (after ``Module.to``); no copy if so."""
    if isinstance(value, list):
        return [followed(v, p) for v in value]
    if not mg.is_array(value):
        return value
    if mg.device_of(value) != p.device:
        value = mg.to_device(value, p.device)
    if value.dtype.kind == "f" and value.dtype != p.dtype:
        value = value.astype(p.dtype)
    return value


def check_number(value: Any, what: str) -> float:
    """A real number (or 0-d array/Tensor) as a Python float; NaN and inf pass (a loss may be either)."""
    value = scalar_of(value)
    if not is_number(value):
        raise TypeError(f"{what} must be a number, got {value!r}")
    return float(value)


def check_count(value: Any, what: str, integral: bool = False) -> int | float:
    """A step or index count: a finite number >= 0 (int, float or 0-d array/Tensor) as a Python number.

    PyTorch stores ``step`` as a float Tensor; minigrad as an int. Both load.
    ``integral=True`` also refuses a fractional value.
    """
    if type(value) is int and value >= 0:
        return value
    value = scalar_of(value)
    if not is_number(value) or not 0 <= value < math.inf or (integral and value != int(value)):
        kind = "a whole number" if integral else "a count (a finite number >= 0)"
        raise ValueError(f"{what} must be {kind}, got {value!r}")
    if integral or isinstance(value, numbers.Integral):
        return int(value)
    return float(value)

