"""Class targets and lookup indices: the checks shared by the losses, ``embedding`` and ``one_hot``.

A target tensor is validated once (integer dtype, shape, range, ``ignore_index``)
and turned into flat rows, so each loss reads as its formula.
"""

from __future__ import annotations

from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

__all__ = ["TargetError", "class_targets", "class_weights", "index_array", "nll_rows", "weighted_mean"]


class TargetError(IndexError, TypeError, ValueError):
    """Class targets or lookup indices that do not fit: not integers, wrong shape, out of range.

    It is an IndexError (PyTorch's out-of-bounds target), a TypeError (wrong
    dtype) and a ValueError, so any of the usual ``except`` clauses catches it.
    """


def index_array(indices: Any, device: Any, name: str, what: str = "indices") -> Any:
    """Integer indices (Tensor, array, list or int) as an array on ``device``; ``what`` names them in errors."""
    if isinstance(indices, Tensor):
        if indices.device != device:
            raise ValueError(f"{name}: {what} are on {indices.device} but the input is on {device}")
        array = indices.data
    elif mg.is_array(indices):
        array = mg.to_device(indices, device)
    else:
        try:
            array = mg.make_array(indices, None, device)
        except (TypeError, ValueError) as error:
            raise TargetError(f"{name}: {what} must be integers, got {type(indices).__name__} ({error})") from None
    if array.dtype.kind not in "iu":
        raise TargetError(f"{name}: {what} must be integers, got dtype {array.dtype}")
    return array


def class_targets(logits: Tensor, target: Any, ignore_index: int, name: str) -> tuple[Tensor, Any, Any, tuple]:
    """Validate the class targets of an (N, C, d1, …) input.

    Returns the input as (M, C) rows (class axis last), the flat targets
    (M,) with ignored entries replaced by 0, the bool mask of kept entries (M,),
    and the target shape.
    """
    if logits.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, numpy.integer)):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    batched = logits.ndim >= 2
    classes = logits.shape[1] if batched else logits.shape[0]
    array = index_array(target, logits.device, name, f"target (class indices for C={classes} classes)")
    expected = (logits.shape[:1] + logits.shape[2:]) if batched else ()
    if tuple(array.shape) != expected:
        raise TargetError(f"{name}: target of shape {tuple(array.shape)} does not fit input of shape {logits.shape} "
                          f"(expected target shape {expected}: the input without its class axis 1)")
    xp = mg.array_module(array)
    flat = array.reshape(-1)
    keep = flat != ignore_index
    if flat.size:
        valid = flat[keep]
        if valid.size:
            low, high = int(valid.min()), int(valid.max())
            if low < 0 or high >= classes:
                raise TargetError(
                    f"{name}: target {low if low < 0 else high} is out of range for C={classes} classes "
                    f"(targets must be in [0, {classes - 1}] or equal ignore_index={ignore_index}; "
                    f"target dtype {array.dtype}, range [{low}, {high}])")
    safe = xp.where(keep, flat, 0)
    if not batched:
        rows = logits.reshape(1, classes)
    elif logits.ndim == 2:
        rows = logits
    else:
        order = (0, *range(2, logits.ndim), 1)
        rows = logits.transpose(order).reshape(-1, classes)
    return rows, safe, keep, tuple(array.shape)


def class_weights(weight: Any, like: Tensor, classes: int, name: str) -> Any:
    if weight is None:
        return None
    array = weight.data if isinstance(weight, Tensor) else weight
    try:
        array = mg.to_device(array, like.device) if mg.is_array(array) \
            else mg.make_array(array, like.dtype, like.device)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: weight must be numbers, one per class, got {type(weight).__name__}") from error
    if tuple(array.shape) != (classes,):
        raise ValueError(f"{name}: weight must have shape ({classes},) (one per class), got {tuple(array.shape)}")
    return array.astype(like.dtype, copy=False)


def nll_rows(log_probs: Tensor, safe: Any, keep: Any, weight: Any, target_shape: tuple,
              reduction: str) -> Tensor:
    """-w[t] · log_probs[i, t] per row, reduced as PyTorch (mean divides by Σ w[t] over kept rows)."""
    xp = mg.array_module(safe)
    rows = xp.arange(safe.shape[0])
    picked = log_probs[rows, safe]
    scale = keep.astype(log_probs.dtype)
    if weight is not None:
        scale = scale * weight[safe]
    loss = -(picked * scale)
    if reduction == "none":
        return loss.reshape(target_shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    return weighted_mean(total, scale.sum())


def weighted_mean(total: Tensor, denominator: Any) -> Tensor:
    """total / denominator; when every target is ignored (denominator 0) the loss is NaN with zero
    gradients, as PyTorch's (0/0 in the backward would make every gradient NaN)."""
    if float(denominator) == 0.0:
        return total * 0.0 + float("nan")
    return total / denominator
