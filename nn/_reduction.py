"""A loss's ``reduction=`` argument, shared by every loss function and loss module: PyTorch's deprecated
``size_average``/``reduce`` pair, the check of the reduction's name, and the reduction itself."""

from __future__ import annotations

import warnings

import numpy

from minigrad import Tensor

REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str, name: str,
                     stacklevel: int = 3) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, when given, decides the reduction (with a warning
    ``stacklevel`` frames up: 3 points at the caller of the function that calls this one)."""
    if size_average is None and reduce is None:
        return reduction
    for what, value in (("size_average", size_average), ("reduce", reduce)):
        if value is not None and not isinstance(value, (bool, numpy.bool_, int)):
            raise TypeError(f"{name}: {what} must be a bool or None, got {type(value).__name__}")
    warnings.warn(f"{name}: size_average and reduce are deprecated (as in PyTorch); use reduction=",
                  stacklevel=stacklevel)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def check_reduction(reduction: str, name: str) -> None:
    """``reduction`` is one of 'mean', 'sum' and 'none', or a ValueError naming the function."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def checked_reduction(size_average: bool | None, reduce: bool | None, reduction: str, name: str) -> str:
    """The reduction a loss function was given (the legacy pair decides when given), checked; the legacy
    pair's warning points at the caller of the function that calls this one."""
    reduction = legacy_reduction(size_average, reduce, reduction, name, stacklevel=4)
    check_reduction(reduction, name)
    return reduction


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """The mean or the sum of every element of ``loss``, or ``loss`` itself for 'none'. (Not ``reduce``: the
    loss functions have PyTorch's argument of that name.)"""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
