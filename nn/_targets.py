"""Class targets and lookup indices: the checks shared by the losses, ``embedding`` and ``one_hot``.

A target tensor is validated once (integer dtype, shape, range, ``ignore_index``)
and turned into flat rows, so each loss reads as its formula.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor
from minigrad.int_arguments import int_arg

from ._activations import _reads_input
from ._errors import InputDtypeError, InputShapeError
from ._gradient_layout import contiguous_gradient

__all__ = ["CheckedIndices", "ClassTargets", "NllLoss", "TargetError", "WeightedMean", "checked_indices",
           "class_rows", "class_targets", "class_weights", "index_array", "nll_rows", "weighted_mean"]


class TargetError(IndexError, TypeError, ValueError, RuntimeError):
    """Class targets or lookup indices that do not fit: not integers, wrong shape, out of range.

    It is an IndexError (PyTorch's out-of-bounds target), a TypeError (wrong
    dtype), a ValueError and a RuntimeError (PyTorch's for a bad index in
    ``embedding_bag`` or ``one_hot``), so any of the usual ``except`` clauses catches it.
    """


def index_array(indices: Any, device: Any, name: str, what: str = "indices", dtypes: tuple[str, ...] = ()) -> Any:
    """Integer indices (Tensor, array, list or int) as an array on ``device``; ``what`` names them in errors.
    ``dtypes``: the only integer dtypes PyTorch's kernel takes (``embedding``: int64 and int32), if it is choosy."""
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
        given = "" if isinstance(indices, Tensor) or mg.is_array(indices) else f"{type(indices).__name__}, "
        raise TargetError(f"{name}: {what} must be integers, got {given}dtype {array.dtype}")
    if dtypes and array.dtype.name not in dtypes:   # RuntimeError, as PyTorch's
        raise TargetError(f"{name}: {what} must have dtype {' or '.join(dtypes)}, got {array.dtype} "
                          f"(cast them with .long())")
    return array


def check_range(xp: Any, array: Any, keep: Any, safe: Any, bound: int, message: Any) -> None:
    """Every kept entry of ``array`` (``keep``: a mask of its shape, or None for all) in ``[0, bound)``, read as
    ``safe`` (the ignored entries 0): one host read of the min and max together. Only an out-of-range value
    reads the kept entries alone (a boolean mask: another host read on a GPU) for the message."""
    if not array.size:
        return
    low, high = xp.stack((safe.min(), safe.max())).tolist()
    if low >= 0 and high < bound:
        return
    valid = array if keep is None else array[keep]
    if valid.size:
        low, high = int(valid.min()), int(valid.max())
        if low < 0 or high >= bound:
            raise TargetError(message(low if low < 0 else high, low, high))


class CheckedIndices(mg.Function):
    """Integer indices, range-checked, with ``ignore`` entries (if given) replaced by 0: ``(flat or same shape)``.

    An op rather than a check in Python, so that ``mg.compile`` records it: a
    replayed call checks and uses *that* call's indices (a Python check or a
    raw array computed from ``target.data`` would be frozen at capture time).
    ``message(value)`` is the error text for an out-of-range ``value``; the op is
    named after the function that uses it, so its errors read as that function's.
    """

    def __init__(self, name: str, bound: int, ignore: int | None, message: Any) -> None:
        self.name, self.bound, self.ignore, self.message = name, bound, ignore, message

    def forward(self, array: Any) -> Any:
        keep = None if self.ignore is None else array != self.ignore
        safe = array if keep is None else self.xp.where(keep, array, 0)
        check_range(self.xp, array, keep, safe, self.bound, self.message)
        return safe


class ClassTargets(mg.Function):
    """Class targets (any shape) → flat ``(safe, scale)``, both (M,): range-checked targets with ignored
    entries replaced by 0, and 1.0/0.0 for kept/ignored entries in the loss's dtype.

    One op, so that ``mg.compile`` records it: a replay checks and uses each call's targets.
    """

    multiple = True
    n_outputs = 2

    def __init__(self, name: str, classes: int, ignore: int, dtype: Any, message: Any) -> None:
        self.name, self.classes, self.ignore, self.dtype, self.message = name, classes, ignore, dtype, message

    def forward(self, array: Any) -> tuple:
        flat = array.reshape(-1)
        keep = flat != self.ignore
        safe = self.xp.where(keep, flat, 0)
        check_range(self.xp, flat, keep, safe, self.classes, self.message)
        # int64 as PyTorch's Long: a uint8 (Byte) target would otherwise index as a boolean mask
        return safe.astype(numpy.int64, copy=False), keep.astype(self.dtype)


class WeightedMean(mg.Function):
    """total / denominator (both 0-d); when the denominator is 0 the loss is NaN, and the total's gradient is
    PyTorch's grad / 0 (±inf): every target ignored, the loss's ``where`` gives each row 0 of it (zero gradients,
    as PyTorch's); kept targets whose class weights are all 0 get 0·inf = NaN, as PyTorch's. The denominator's
    gradient is 0 then. An op, not a Python test of the denominator, so a compiled function decides it on each
    call's values."""

    name = "div"

    def forward(self, total: Any, denominator: Any) -> Any:
        xp = self.xp
        empty = denominator == 0   # a 0-d array, decided on the device (no host read)
        safe = xp.where(empty, xp.ones_like(denominator), denominator)
        y = xp.where(empty, xp.full((), float("nan"), dtype=total.dtype), total / safe)
        # the inputs, not y, as Div and PyTorch keep them: the loss may be changed in place before backward
        # (``loss += alpha * penalty``), which on CuPy (a 0-d array, not NumPy's scalar) changes y itself
        self.saved = (safe, total, empty)
        return y

    def backward(self, gy: Any) -> tuple:
        safe, total, empty = self.saved
        xp = self.xp
        # as Div's backward, so the numbers equal a plain total / denominator
        # PyTorch's grad / total_weight at 0: ±inf, NaN for a 0 or NaN grad (no division: nothing to warn)
        over_zero = xp.where((gy == 0) | xp.isnan(gy), xp.nan, xp.copysign(xp.inf, gy))
        return (xp.where(empty, over_zero, gy / safe),
                xp.where(empty, xp.zeros_like(gy), -gy * ((total / safe) / safe)))


def checked_indices(indices: Any, device: Any, bound: int, name: str, message: Any, what: str = "indices",
                    ignore: int | None = None, dtypes: tuple[str, ...] = ()) -> Tensor:
    """``indices`` (Tensor, array, list or int) as an integer Tensor checked by :class:`CheckedIndices`
    (``dtypes``: as :func:`index_array`)."""
    array = index_array(indices, device, name, what, dtypes)
    tensor = indices if isinstance(indices, Tensor) else mg.as_tensor(array)
    return CheckedIndices(name, bound, ignore, message)(tensor)


def class_targets(logits: Tensor, target: Any, ignore_index: int, name: str) -> tuple[Tensor, Tensor, tuple]:
    """Validate the class targets of a (C,), (N, C) or (N, C, d1, …) input.

    Returns the flat targets (M,) with ignored entries replaced by 0, the kept entries as 1.0/0.0 (M,) in the
    logits' dtype (both Tensors made by :class:`ClassTargets`, so a compiled function sees each call's targets),
    and the target shape.
    """
    if logits.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    # PyTorch's SymInt: a NumPy int, a one-element int tensor too (a bool or a bool tensor raises)
    ignore_index = int_arg(ignore_index, name, "ignore_index", one_element=True)
    batched = logits.ndim >= 2
    classes = logits.shape[1] if batched else logits.shape[0]
    what = f"target (class indices for C={classes} classes)"
    try:
        # PyTorch's kernels: Long or Byte for a (C,) or (N, C) input, Long alone for (N, C, d1, …)
        array = index_array(target, logits.device, name, what, ("int64", "uint8") if logits.ndim <= 2 else ("int64",))
    except TargetError as error:   # a float target: also the shapes (cross_entropy: meant as probabilities?)
        shape = f"target of shape {tuple(target.shape)}, " if hasattr(target, "shape") else ""
        hint = "; class probabilities are a float target of the input's shape" if name == "cross_entropy" else ""
        raise TargetError(f"{error} ({shape}input of shape {logits.shape}{hint})") from None
    expected = (logits.shape[:1] + logits.shape[2:]) if batched else ()
    source = target if isinstance(target, Tensor) else mg.as_tensor(array)
    if not batched and tuple(array.shape) == (1,):   # PyTorch takes a (1,) target for a (C,) input, as a 0-d one
        array, source = array.reshape(()), source.reshape(())
    if tuple(array.shape) != expected:
        axis = "class axis 1" if batched else "class axis 0: a 0-d or (1,) target"
        raise TargetError(f"{name}: target of shape {tuple(array.shape)} does not fit input of shape {logits.shape} "
                          f"(expected target shape {expected}: the input without its {axis})")

    def message(value: int, low: int, high: int) -> str:
        return (f"{name}: target {value} is out of range for C={classes} classes "
                f"(targets must be in [0, {classes - 1}] or equal ignore_index={ignore_index}; "
                f"target dtype {array.dtype}, range [{low}, {high}])")

    safe, keep = ClassTargets(name, classes, int(ignore_index), logits.dtype, message)(source)
    return safe, keep, tuple(array.shape)


def class_rows(logits: Tensor) -> Tensor:
    """(C,), (N, C) or (N, C, d1, …) ``logits`` as (M, C) rows, the class axis last."""
    if logits.ndim == 1:
        return logits.reshape(1, logits.shape[0])
    if logits.ndim == 2:
        return logits
    order = (0, *range(2, logits.ndim), 1)
    # not (-1, C): C may be 0; the logits' gradient C order, as PyTorch's kernels along dim 1 write it
    entries = math.prod(logits.shape[:1] + logits.shape[2:])
    return contiguous_gradient(logits).transpose(order).reshape(entries, logits.shape[1])


def class_weights(weight: Any, like: Tensor, classes: int, name: str, promote: bool = False) -> Tensor | None:
    """Per-class weights (C,) as a Tensor of ``like``'s dtype; a Tensor stays one (its values are read by
    ops, so a compiled function sees each call's weights). A float Tensor of another float dtype is cast; an
    integer, bool or complex one raises InputDtypeError (RuntimeError, as PyTorch's class-index kernels); with
    ``promote`` (an elementwise formula, as the soft-label cross-entropy) a float or complex one is kept for the
    product to promote, as PyTorch's, and an integer or bool one takes ``like``'s dtype."""
    if weight is None:
        return None
    if isinstance(weight, Tensor):
        if weight.device != like.device:
            raise ValueError(f"{name}: weight is on {weight.device} but the input is on {like.device}")
        if weight.shape != (classes,):
            raise InputShapeError(f"{name}: weight must have shape ({classes},) (one per class), got {weight.shape}")
        if weight.dtype == like.dtype or (promote and weight.dtype.kind in "fc"):
            return weight
        if promote or weight.dtype.kind == like.dtype.kind == "f":
            # a float weight of another float dtype is cast (a documented choice): PyTorch's kernels refuse it, but
            # under NumPy's promotion, which minigrad's arithmetic follows, PyTorch's own idiom for class weights,
            # `counts.sum() / (classes * counts.float())`, is float64 (an int64 0-d tensor over float32)
            return weight.astype(like.dtype)
        raise InputDtypeError(f"{name}: expected a weight of the input's dtype {like.dtype}, got {weight.dtype} "
                              f"(cast it with weight.to({like.dtype}), as PyTorch needs too)")
    try:
        array = mg.to_device(weight, like.device) if mg.is_array(weight) \
            else mg.make_array(weight, like.dtype, like.device)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: weight must be numbers, one per class, got {type(weight).__name__}") from error
    if tuple(array.shape) != (classes,):
        raise ValueError(f"{name}: weight must have shape ({classes},) (one per class), got {tuple(array.shape)}")
    return mg.as_tensor(array.astype(like.dtype, copy=False))


def nll_rows(log_probs: Tensor, safe: Tensor, keep: Tensor, weight: Tensor | None, target_shape: tuple,
             reduction: str) -> Tensor:
    """-w[t] · log_probs[i, t] per entry of (C,), (N, C) or (N, C, d1, …) ``log_probs`` (class axis 1, the flat
    targets ``safe`` (M,)), reduced as PyTorch (mean divides by Σ w[t] over kept entries): one op, :class:`NllLoss`,
    on log_probs as PyTorch's nll_loss takes them (an (N, C, d1) or 5+-dim one viewed as (N, C, 1, L) first, and a
    'none' result viewed back, as PyTorch's nll_loss_nd), unless the class weights require grad (PyTorch refuses
    them; composed ops on the rows give them a gradient)."""
    if weight is None or not (weight.requires_grad and mg.is_grad_enabled()):
        weights = () if weight is None else (weight,)
        if log_probs.ndim in (1, 2, 4):
            return NllLoss(reduction, target_shape, weight is not None)(log_probs, safe, keep, *weights)
        n, c = log_probs.shape[:2]
        planes = (1, log_probs.numel() // (n * c)) if log_probs.numel() else (0, 0)
        loss = NllLoss(reduction, (n, *planes), weight is not None)(log_probs.reshape(n, c, *planes), safe, keep,
                                                                    *weights)
        return loss.reshape(target_shape) if reduction == "none" else loss
    log_probs = class_rows(log_probs)
    with mg.on_device(log_probs.device):
        rows = mg.array_module(log_probs.data).arange(safe.shape[0])   # depends on the shape only
    # an ignored row's log-probability may be -inf or NaN (masked or bad logits): 0 stands in, as PyTorch skips it
    # PyTorch's nll_loss_backward reads log_probs: with create_graph=True the first derivative requires grad and
    # the second is zeros (not an error)
    picked = mg.where(keep > 0, _reads_input(log_probs[rows, safe]), 0.0)
    # an ignored row's weight counts for nothing too: class 0 stands in for it, whose weight may be inf or NaN (a
    # 1/frequency weight of a padding class never seen)
    scale = keep if weight is None else mg.where(keep > 0, weight[safe], 0.0)
    loss = -(picked * scale)
    if reduction == "none":
        return loss.reshape(target_shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    return weighted_mean(total, scale.sum())


def _cascade_sum(values: numpy.ndarray, kept: numpy.ndarray) -> numpy.float16:
    """The float16 sum of ``values[kept]`` (N,) as PyTorch's CPU nll_loss adds it: each into partial sum 0, and
    partial sum j into j + 1 whenever the row's index has its low (j + 1)·p bits 0 (p = 4 below 2^32 rows), all
    in float16 steps; then the 8 partial sums in order."""
    power = max(4, math.ceil(math.log2(max(len(values), 1))) // 8)
    mask = (1 << power) - 1
    sums = [numpy.float16(0)] * 8
    for row in numpy.flatnonzero(kept):
        sums[0] += values[row]
        for level in range(7):
            if row & (mask << (level * power)):
                break
            sums[level + 1], sums[level] = sums[level + 1] + sums[level], numpy.float16(0)
    return sum(sums, numpy.float16(0))   # in order, float16 steps


class NllLoss(mg.Function):
    """:func:`nll_rows` as one op, PyTorch's nll_loss (its node NllLossBackward0 has one edge, the
    log-probabilities). Inputs: log_probs, (C,), (N, C) or (N, C, H, W) (PyTorch's nll_loss2d: the class axis 1;
    its other shapes are viewed so first, as PyTorch's), the flat targets ``safe`` (M,) (an ignored row's 0, M the
    entries of log_probs but its class axis), ``keep`` (M,) (1.0 kept, 0.0 ignored), then the class weights (C,)
    where ``weighted``. Each entry's loss is -w[t] · log_probs[…, t, …] (0 for an ignored one, whose
    log-probability may be -inf or NaN, and whose weight counts for nothing); 'none' gives them in
    ``target_shape``, 'sum' their sum, 'mean' that over Σ w[t] of the kept entries (NaN when it is 0; the gradient
    then g / 0, as :class:`WeightedMean`'s). Backward: -g · w[t] at each kept entry's target, zeros elsewhere, in
    log_probs' shape (C order, PyTorch's zeros_like), so a hook on the node sees PyTorch's grad_inputs. Its
    ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_nll_loss``: log_probs gets zeros (the first
    gradient does not depend on it)."""

    name = "nll_loss"

    def __init__(self, reduction: str, target_shape: tuple, weighted: bool) -> None:
        self.reduction, self.target_shape, self.weighted = reduction, target_shape, weighted

    def pytorch_inputs(self) -> tuple:
        """PyTorch's node's one input: the log-probabilities (no edge for the targets or the class weights)."""
        return (0,)

    @staticmethod
    def target_layout(log_probs: Any) -> tuple:
        """(shape, axis): the shape the flat targets (M,) take to line up with log_probs (size 1 along its class
        axis), and that class axis (0 for a (C,) log_probs, else 1)."""
        if log_probs.ndim == 1:
            return (1,), 0
        return (log_probs.shape[0], 1, *log_probs.shape[2:]), 1

    def forward(self, log_probs: Any, safe: Any, keep: Any, *weight: Any) -> Any:
        xp = self.xp
        kept = keep > 0
        zero = log_probs.dtype.type(0)
        if log_probs.ndim == 2:
            picked = log_probs[xp.arange(safe.shape[0]), safe]
        else:
            if log_probs.ndim == 4:   # PyTorch's nll_loss2d: its node NllLoss2DBackward0 (the words CamelCased)
                self.name = "nll_loss2_d"
            shape, axis = self.target_layout(log_probs)
            picked = xp.take_along_axis(log_probs, safe.reshape(shape), axis).reshape(-1)
        picked = xp.where(kept, picked, zero)
        scale = xp.where(kept, weight[0][safe], zero) if self.weighted else keep
        loss = -(picked * scale)
        # log_probs as PyTorch's node keeps it: a change in place before the backward is refused
        self.saved = (log_probs, safe, kept, scale, None)
        if self.reduction == "none":
            return loss.reshape(self.target_shape)
        # float16 on the CPU: summed as PyTorch's kernel sums (its value; the gradient is the plain sum's)
        cascade = loss.dtype == numpy.float16 and log_probs.ndim >= 2 and xp is numpy
        total = xp.asarray(_cascade_sum(loss, kept) if cascade else loss.sum())
        if self.reduction == "sum":
            return total
        denominator = xp.asarray(scale.sum())
        self.saved = (log_probs, safe, kept, scale, denominator)   # (saved: mg.compile's replays make their own)
        if cascade:   # the kept entries' count, or their summed weights as the losses (no kept one: 0/0, NaN)
            with numpy.errstate(divide="ignore", invalid="ignore"):
                count = numpy.float16(kept.sum()) if not self.weighted and log_probs.ndim == 2 \
                    else _cascade_sum(scale, kept)
                return numpy.asarray(total / count, dtype=numpy.float16)
        empty = denominator == 0   # as WeightedMean's: decided on the device
        return xp.where(empty, xp.asarray(numpy.nan, dtype=total.dtype),
                        total / xp.where(empty, xp.ones_like(denominator), denominator))

    @classmethod
    def target_mask(cls, xp: Any, log_probs: Any, safe: Any) -> tuple:
        """(where log_probs holds each entry's target class: a C-order bool array of its shape, the flat targets'
        broadcasting shape)."""
        shape, axis = cls.target_layout(log_probs)
        classes = [1] * log_probs.ndim
        classes[axis] = log_probs.shape[axis]
        return xp.arange(log_probs.shape[axis]).reshape(classes) == safe.reshape(shape), shape

    def backward(self, gy: Any) -> tuple:
        log_probs, safe, kept, scale, denominator = self.saved
        xp = self.xp
        if self.reduction == "none":
            gy = gy.reshape(-1)
        elif self.reduction == "mean":   # g / Σ w: ±inf (NaN for a 0 or NaN g) when it is 0, as WeightedMean's
            with mg.errstate(xp, divide="ignore", invalid="ignore"):
                gy = gy / denominator
        zero = log_probs.dtype.type(0)
        picked = xp.where(kept, -gy * scale, zero)
        if log_probs.ndim == 2:
            grad = xp.zeros(log_probs.shape, dtype=log_probs.dtype)
            grad[xp.arange(safe.shape[0]), safe] = picked
        else:
            targets, shape = self.target_mask(xp, log_probs, safe)
            grad = xp.where(targets, picked.reshape(shape).astype(log_probs.dtype, copy=False), zero)   # (C order)
        return (grad, None, None) + ((None,) if self.weighted else ())


def weighted_mean(total: Tensor, denominator: Tensor) -> Tensor:
    """total / denominator, NaN when the denominator is 0, with PyTorch's gradients (see :class:`WeightedMean`)."""
    return WeightedMean()(total, denominator)
