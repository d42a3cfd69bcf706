"""Margin, ranking, embedding and likelihood losses as ``torch.nn.functional``'s (re-exported by ``nn.functional``):
``gaussian_nll_loss``, ``poisson_nll_loss``, ``margin_ranking_loss``, ``hinge_embedding_loss``,
``soft_margin_loss``, ``multilabel_soft_margin_loss``, ``cosine_embedding_loss``, ``triplet_margin_loss``,
``multi_margin_loss``, ``multilabel_margin_loss``, ``triplet_margin_with_distance_loss`` and ``ctc_loss`` (an
engine op: ``minigrad/ops/ctc.py``).

Each is its formula in engine ops, in PyTorch's argument order (with its deprecated ``size_average``/``reduce``
pair). Where PyTorch's kernel has a kink, the comparison in ``mg.where`` is the kernel's, so the gradient at
the kink is PyTorch's: ``clamp_min(z, 0)`` passes the gradient at z = 0 (``z >= 0``), the hand-written
multi-margin kernels do not (``z > 0``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._arguments import _dtype_error, _floating, _floating_or_complex, _number, _refuse_cpu_half, _tensor
from ._common_losses import _complex_into_real, _kernel_floating, _no_bool_subtraction, pairwise_distance
from ._errors import InputDtypeError, InputShapeError
from ._flags import flag
from ._reduction import check_reduction, checked_reduction, reduce_loss
from ._targets import checked_indices, class_weights, index_array

__all__ = ["cosine_embedding_loss", "ctc_loss", "gaussian_nll_loss", "hinge_embedding_loss", "margin_ranking_loss",
           "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
           "soft_margin_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss"]


# --- shared pieces ----------------------------------------------------------------------------------

def _operand(value: Any, like: Tensor, name: str, what: str = "target", cast: bool = True) -> Tensor:
    """A loss's other operand as a Tensor on ``like``'s device, in its dtype when it holds integers or bools
    (a ±1 target must not promote a float32 loss); a float or complex one is kept (a complex target makes a complex
    loss, as PyTorch's ops, rather than losing its imaginary part); arrays and numbers welcome. With ``cast=False``
    it keeps its own dtype (a target only compared, which an integer input's dtype could wrap: 255 in int8)."""
    if isinstance(value, Tensor):
        if value.device != like.device:
            raise ValueError(f"{name}: input is on {like.device} but {what} is on {value.device}")
    elif mg.is_array(value):
        value = mg.as_tensor(mg.to_device(value, like.device))
    else:
        try:
            value = mg.tensor(value, dtype=like.dtype if cast else None, device=like.device)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name}: {what} must be a Tensor, an array or numbers, got {type(value).__name__}") \
                from error
    return value if value.dtype.kind in "fc" or not cast else value.astype(like.dtype)


def _real_inputs(name: str, promote: bool = False, complex_ok: bool = False, **inputs: Any) -> list[Tensor]:
    """The inputs of a loss PyTorch writes from ops, which takes any real dtype: integer and bool inputs become the
    default float dtype, as PyTorch's ops turn them into floats (an int64 input with a float64 target gives a
    float64 loss, two int64 inputs a float32 one); with ``promote``, where PyTorch's first op is ``input1 - input2``,
    the widest float dtype among the inputs if any (an int64 input with a float16 one gives a float16 loss).
    A complex input raises, unless ``complex_ok`` (PyTorch's ops compute with it: it is kept)."""
    tensors = [_tensor(value, name, what) for what, value in inputs.items()]
    for what, tensor in zip(inputs, tensors):
        if tensor.dtype.kind not in ("biufc" if complex_ok else "biuf"):
            raise _dtype_error(tensor.dtype, f"{name}: {what} must be real, got {tensor.dtype}")
    floats = [tensor.dtype for tensor in tensors if tensor.dtype.kind == "f"]
    common = max(floats, key=lambda dtype: dtype.itemsize) if floats and promote else mg.get_default_dtype()
    return [tensor if tensor.dtype.kind in "fc" else tensor.astype(common) for tensor in tensors]


def _clamp_min_zero(z: Tensor) -> Tensor:
    """max(z, 0) as PyTorch's ``clamp_min``: the gradient passed where z >= 0, z = 0 included; a NaN stays NaN
    (with gradient 0), so a NaN distance does not turn into a zero loss. An integer z stays integer."""
    return z.clamp(min=0)


def _same_ndim(name: str, **tensors: Tensor) -> None:
    if len({t.ndim for t in tensors.values()}) > 1:
        shapes = ", ".join(f"{key}: {t.shape}" for key, t in tensors.items())
        raise InputShapeError(f"{name}: all input tensors should have the same number of dims, got {shapes}")


def _broadcast(name: str, *tensors: Tensor) -> None:
    try:
        mg.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        raise InputShapeError(f"{name}: shapes {', '.join(str(t.shape) for t in tensors)} do not broadcast") from None


# --- likelihoods -------------------------------------------------------------------------------

def gaussian_nll_loss(input: Tensor, target: Any, var: Any, full: bool = False, eps: float = 1e-6,  # noqa: A002
                      reduction: str = "mean") -> Tensor:
    """½(log max(var, eps) + (input - target)² / max(var, eps)) (+ ½log 2π with ``full``), reduced; as PyTorch.

    input, target: (N, *) (target broadcasts); var: the input's shape, or one dim short of it (one variance
    per row), or with one dim of size 1 where the input's is not, or a float. The clamp to ``eps`` is made
    without gradient, as PyTorch's: var's gradient is that of the unclamped formula at the clamped value.
    Entries of var must be >= 0.
    """
    name = "gaussian_nll_loss"
    _no_bool_subtraction(name, input=input, target=target)
    (input,) = _real_inputs(name, complex_ok=True, input=input)   # a complex loss, as PyTorch's
    target = _operand(target, input, name)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        var = mg.full(input.shape, float(var), dtype=input.dtype, device=input.device)
    if isinstance(var, Tensor) and var.dtype.kind in "biu":   # PyTorch clamps var to eps in place
        raise InputDtypeError(f"{name}: result type float can't be cast to var's dtype {var.dtype} (var of shape "
                              f"{var.shape}, input of shape {input.shape}); pass a floating-point var, as PyTorch")
    var = _operand(var, input, name, "var")
    if bool((var.detach() < 0).any().item()):
        raise ValueError(f"{name}: var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:   # one variance per row of the last dim
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim
                  and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError(f"{name}: var of shape {var.shape} is of incorrect size for input of shape {input.shape}")
    check_reduction(reduction, name)
    _broadcast(name, input, target)
    eps = _number(eps, name, "eps")
    # var clamped to eps in value only: the gradient flows to var as if unclamped (PyTorch's no_grad clamp_); a
    # where, not var + (clamped - var), so an infinite var stays inf (inf - inf would be NaN); a NaN eps makes every
    # var NaN, as PyTorch's clamp_
    var = mg.where((var.detach() < eps) | (eps != eps), var - var.detach() + eps, var)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if flag(full, name, "full"):
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Any, log_input: bool = True, full: bool = False,  # noqa: A002
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood of ``target`` counts, reduced; as PyTorch.

    ``log_input``: input is the log-rate, loss = eˣ - target·x; else the rate, loss = x - target·log(x + eps).
    ``full`` adds Stirling's term target·log target - target + ½log(2π·target) where target > 1. Any shapes
    that broadcast.
    """
    name = "poisson_nll_loss"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    log_input, full = flag(log_input, name, "log_input"), flag(full, name, "full")
    # PyTorch's input - target·log(input + eps) and Stirling's ... - target refuse a bool operand
    _no_bool_subtraction(name, **({} if log_input else {"input": input}), **({"target": target} if full else {}))
    (input,) = _real_inputs(name, complex_ok=True, input=input)   # a complex loss, as PyTorch's
    target = _operand(target, input, name)
    _broadcast(name, input, target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + _number(eps, name, "eps")).log()
    if full:
        # zeroed where target <= 1, as PyTorch's masked_fill: so, as its, a NaN target gradient where target = 0
        with mg.errstate(mg.array_module(target.data), divide="ignore", invalid="ignore"):
            stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + mg.where(target > 1, stirling, 0.0)
    return reduce_loss(loss, reduction)


def ctc_loss(log_probs: Tensor, targets: Any, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss, as PyTorch's: -log p(target | log_probs) summed over all
    alignments (the op and its gradient: ``minigrad/ops/ctc.py``).

    log_probs: (T, N, C) (or (T, C) unbatched) log-probabilities, usually ``log_softmax(dim=2)``; targets:
    (N, S) padded or (sum(target_lengths),) concatenated labels, none equal to ``blank``; input_lengths,
    target_lengths: (N,) integers as Tensors, lists or tuples. reduction 'none' → (N,), 'sum', 'mean' (each
    loss over its target length clamped to >= 1, then the batch mean). ``zero_infinity``: impossible
    alignments give 0 (and a zero gradient) instead of inf (and NaN).
    """
    name = "ctc_loss"
    check_reduction(reduction, name)
    return mg.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank, reduction=reduction,
                       zero_infinity=flag(zero_infinity, name, "zero_infinity"))


# --- margins and rankings -----------------------------------------------------------------------

def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0,  # noqa: A002
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target·(input1 - input2) + margin), reduced; as PyTorch. target ±1 says which input should
    rank higher. input1, input2, target: the same number of dims (broadcastable shapes)."""
    name = "margin_ranking_loss"
    _no_bool_subtraction(name, input1=input1, input2=input2, target=target)   # -target, input1 - input2
    reduction = checked_reduction(size_average, reduce, reduction, name)
    input1, input2 = _real_inputs(name, True, input1=input1, input2=input2)
    if isinstance(target, Tensor) and target.dtype.kind == "u":   # PyTorch negates it in its own dtype: -1 is 255
        target = -(-target).astype(input1.dtype)
    target = _operand(target, input1, name)
    _same_ndim(name, input1=input1, input2=input2, target=target)
    _broadcast(name, input1, input2, target)
    return reduce_loss(_clamp_min_zero(-target * (input1 - input2) + _number(margin, name, "margin")), reduction)


def hinge_embedding_loss(input: Tensor, target: Any, margin: float = 1.0,  # noqa: A002
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """x where target = 1, max(0, margin - x) where target = -1, reduced; as PyTorch (a target that is
    neither gets both terms). input x: distances, any shape, floating or integer (the loss keeps its dtype, the
    float margin converted into it as PyTorch's: truncated, and -1.0 into uint8 raises; a bool input is refused as
    PyTorch's ``margin - x``); target broadcasts against it."""
    name = "hinge_embedding_loss"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    _no_bool_subtraction(name, input=input)
    input = _tensor(input, name)
    if input.dtype.kind not in "iu":
        input = _floating(input, name)
    target = _operand(target, input, name, cast=False)
    _broadcast(name, input, target)
    margin = float(margin) if type(margin) is bool else _number(margin, name, "margin")   # PyTorch's double
    zeros = mg.zeros_like(input)
    below_margin = _clamp_min_zero(mg.full_like(input, margin) - input)
    return reduce_loss(mg.where(target != 1, below_margin, zeros) + mg.where(target != -1, input, zeros), reduction)


def soft_margin_loss(input: Tensor, target: Any, size_average: bool | None = None,  # noqa: A002
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """log(1 + e^{-target·input}) (two-class logistic loss, target ±1), reduced; as PyTorch, but stable for
    any product (PyTorch's overflows to inf where -target·input > ~88 in float32). The target broadcasts to the
    input's shape. A complex input gives PyTorch's complex log1p(e^{-target·input}) (overflowing as its does),
    without a gradient (PyTorch refuses to record it: RuntimeError where an argument requires grad). A target that
    requires grad raises RuntimeError, as PyTorch's (no derivative w.r.t. the target)."""
    name = "soft_margin_loss"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    input = _floating_or_complex(input, name)
    target = _operand(target, input, name)
    _broadcast(name, input, target)
    if tuple(mg.broadcast_shapes(input.shape, target.shape)) != input.shape:   # PyTorch's in-place kernel
        raise InputShapeError(f"{name}: target of shape {target.shape} does not broadcast to the input's shape "
                              f"{input.shape}")
    _complex_into_real(name, input, target)
    if target.dtype != input.dtype:   # PyTorch computes in the input's dtype (f32 input, f64 target: f32)
        target = target.astype(input.dtype)
    if input.dtype.kind == "c":
        if (input.requires_grad or target.requires_grad) and mg.is_grad_enabled():
            raise InputDtypeError(f"{name}: no automatic differentiation for complex outputs (input {input.dtype}, "
                                  f"shape {input.shape}), as in PyTorch; run it under mg.no_grad()")
        return reduce_loss(mg.log1p(mg.exp(-target * input)), reduction)
    if target.requires_grad and mg.is_grad_enabled():   # PyTorch's kernel has no derivative for the target
        raise RuntimeError(f"The function '{name}' is not differentiable with respect to argument 'target'. This "
                           "input cannot have requires_grad True.")
    return reduce_loss(mg.logaddexp(-target * input, 0.0), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """-mean over classes of w·(y·log σ(x) + (1 - y)·log σ(-x)), reduced over the rest; as PyTorch.

    input: (N, C) (or any shape: the classes are the last dim); target y in [0, 1] broadcasting against it;
    ``weight`` broadcasts too (e.g. (C,)). reduction='none' gives (N,).
    """
    name = "multilabel_soft_margin_loss"
    _no_bool_subtraction(name, target=target)   # 1 - target
    reduction = checked_reduction(size_average, reduce, reduction, name)
    input = _kernel_floating(input, name)
    if input.ndim == 0:
        raise mg.AxisError(f"{name}: input needs a class dim (the last), got a 0-d tensor")   # torch's IndexError
    target = _operand(target, input, name)
    _broadcast(name, input, target)
    # log σ(x) = -softplus(-x), stable in both tails
    loss = target * mg.logaddexp(-input, 0.0) + (1 - target) * mg.logaddexp(input, 0.0)
    if weight is not None:
        weight = _operand(weight, input, name, "weight")
        _broadcast(name, loss, weight)
        loss = loss * weight
    # the input's last dim is the class dim, also where a larger target broadcast the loss to more dims (PyTorch's)
    return reduce_loss(loss.sum(axis=input.ndim - 1) / input.shape[-1], reduction)


_COSINE_EPSILON = 1e-12   # PyTorch's, added to each squared norm


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0,  # noqa: A002
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1 (0 for other targets),
    reduced; as PyTorch. input1, input2: (N, D) with target (N,), or (D,) with a 0-d target.
    cos = Σx1·x2 / √((Σx1² + 1e-12)(Σx2² + 1e-12)), PyTorch's guard against zero vectors."""
    name = "cosine_embedding_loss"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    input1, input2 = _real_inputs(name, input1=input1, input2=input2)
    target = _operand(target, input1, name)
    if target.ndim not in (0, 1) or input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise InputShapeError(f"{name}: expected inputs (N, D) with a target (N,), or (D,) with a 0-d target; got "
                              f"input1 {input1.shape}, input2 {input2.shape}, target {target.shape}")
    _broadcast(name, input1, input2)
    try:
        mg.broadcast_shapes(mg.broadcast_shapes(input1.shape, input2.shape)[:-1], target.shape)
    except ValueError:
        raise InputShapeError(f"{name}: target of shape {target.shape} does not fit inputs of shapes "
                              f"{input1.shape} and {input2.shape} (one target per row)") from None
    axis = target.ndim
    products = (input1 * input2).sum(axis=axis)
    norms = ((input1 * input1).sum(axis=axis) + _COSINE_EPSILON) * ((input2 * input2).sum(axis=axis)
                                                                   + _COSINE_EPSILON)
    cosine = products / norms.sqrt()
    positive = mg.where(target == 1, 1 - cosine, 0.0)
    negative = mg.where(target == -1, _clamp_min_zero(cosine - _number(margin, name, "margin")), 0.0)
    return reduce_loss(positive + negative, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d(x, y) = ‖x - y + eps‖_p over the last dim; reduced; as PyTorch.

    anchor, positive, negative: (N, D) or (D,) (any shapes with the same number of dims that broadcast) →
    (N,). ``swap``: d(a, n) becomes min(d(a, n), d(p, n)) (Balntas et al. 2016). margin > 0.
    """
    name = "triplet_margin_loss"
    _no_bool_subtraction(name, anchor=anchor, positive=positive, negative=negative)
    reduction = checked_reduction(size_average, reduce, reduction, name)
    anchor, positive, negative = _real_inputs(name, True, True, anchor=anchor, positive=positive, negative=negative)
    margin, p, eps = _number(margin, name, "margin"), _number(p, name, "p"), _number(eps, name, "eps")
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    _same_ndim(name, anchor=anchor, positive=positive, negative=negative)
    _broadcast(name, anchor, positive, negative)

    def distance(x: Tensor, y: Tensor) -> Tensor:
        return (x - y + eps).norm(p, -1 if x.ndim else None)

    to_negative = distance(anchor, negative)
    if flag(swap, name, "swap"):
        to_negative = mg.minimum(to_negative, distance(positive, negative))
    return reduce_loss(_clamp_min_zero(margin + distance(anchor, positive) - to_negative), reduction)



def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) for any ``distance_function`` d (default ``pairwise_distance``),
    reduced; as ``torch.nn.functional.triplet_margin_with_distance_loss``.

    anchor, positive, negative: the same number of dims, e.g. (N, D) → (N,) with the default distance.
    ``swap``: d(a, n) becomes min(d(a, n), d(p, n)). margin > 0.
    """
    name = "triplet_margin_with_distance_loss"
    check_reduction(reduction, name)
    margin = _number(margin, name, "margin")
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    anchor = _tensor(anchor, name, "anchor")
    positive, negative = _tensor(positive, name, "positive"), _tensor(negative, name, "negative")
    _same_ndim(name, anchor=anchor, positive=positive, negative=negative)
    if distance_function is None:
        distance_function = pairwise_distance
    elif not callable(distance_function):
        raise TypeError(f"{name}: distance_function must be callable, got {type(distance_function).__name__}")
    to_negative = distance_function(anchor, negative)
    if flag(swap, name, "swap"):
        to_negative = mg.minimum(to_negative, distance_function(positive, negative))
    return reduce_loss(_clamp_min_zero(margin + distance_function(anchor, positive) - to_negative), reduction)

def _class_rows(input: Tensor, name: str) -> tuple[Tensor, bool]:  # noqa: A002
    """(N, C) rows of a (N, C) or (C,) input (a 1-D input is one row, a 0-d one a row of one class, as
    PyTorch's), and whether it was 1-D or 0-d."""
    if input.ndim > 2 or (input.ndim and input.shape[-1] == 0):
        raise InputShapeError(f"{name}: expected a non-empty (N, C) or (C,) input, got shape {input.shape}")
    return (input.reshape(1, -1), True) if input.ndim < 2 else (input, False)


def multi_margin_loss(input: Tensor, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None,  # noqa: A002
                      size_average: bool | None = None, reduce: bool | None = None,
                      reduction: str = "mean") -> Tensor:
    """Σ_{i ≠ y} w_y·max(0, margin - x_y + x_i)^p / C per sample (multi-class hinge), reduced; as PyTorch.

    input: (N, C) or (C,); target: class indices (N,) (0-d or (1,) for a (C,) input); p ∈ {1, 2};
    ``weight``: (C,). reduction='none' gives (N,) (0-d for a 0-d target). A term exactly at 0 gets no
    gradient, as PyTorch's kernel.
    """
    name = "multi_margin_loss"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    if isinstance(p, bool) or not isinstance(p, (int, float, numpy.integer, numpy.floating)) or p not in (1, 2):
        raise ValueError(f"{name}: only p == 1 and p == 2 supported, got {p!r}")
    rows, _ = _class_rows(_kernel_floating(input, name), name)
    count, classes = rows.shape
    if count:   # (PyTorch's kernel is not reached for no samples)
        _refuse_cpu_half(input, name, "multi_margin_loss_cpu_kernel")
    target = checked_indices(target, rows.device, classes, name, lambda value, _low, _high: (
        f"{name}: target {value} is out of range for C={classes} classes"), "target", dtypes=("int64",))
    if target.ndim > 1 or target.numel() != count:
        raise InputShapeError(f"{name}: inconsistent target size: expected {count} class indices for input of shape "
                              f"{input.shape}, got target of shape {target.shape}")
    safe = target.reshape(count, 1)
    z = _number(margin, name, "margin") - rows.gather(1, safe) + rows                                     # (N, C)
    others = mg.arange(classes, device=rows.device) != safe
    # PyTorch's kernel adds only the terms with z > 0: elsewhere a NaN or inf z, or an inf weight, counts for
    # nothing, in value and gradient (so the weight is masked too: inf times a zero gradient would be NaN)
    counted = mg.logical_and(others, z.detach() > 0)
    terms = mg.where(counted, z, 0.0)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        weight = class_weights(weight, rows, classes, name)
        terms = terms * mg.where(counted, weight[safe], 0.0)
    loss = terms.sum(axis=1) / classes
    if reduction == "none":
        return loss.reshape(target.shape)
    return reduce_loss(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Any, size_average: bool | None = None,  # noqa: A002
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Σ_{j target} Σ_{i not target} max(0, 1 - (x_j - x_i)) / C per sample, reduced; as PyTorch.

    input: (N, C) or (C,); target: integers of the input's shape listing each sample's target classes, ended
    by the first -1 (the rest is ignored; every entry must be in [-1, C)). reduction='none' gives (N,)
    (0-d for a (C,) input). A term exactly at 0 gets no gradient, as PyTorch's kernel.
    """
    name = "multilabel_margin_loss"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    rows, single = _class_rows(_kernel_floating(input, name), name)
    classes = rows.shape[1]
    # shifted by one, so that the end marker -1 is index 0 to the range check
    # int64 alone, as PyTorch's kernel (a uint8 -1 would wrap round)
    array = index_array(target, rows.device, name, "target", ("int64",))
    target = target if isinstance(target, Tensor) else mg.as_tensor(array)
    shifted = checked_indices(target + 1, rows.device, classes + 1, name, lambda value, _low, _high: (
                                  f"{name}: target {value - 1} is out of range: entries must be in "
                                  f"[-1, {classes - 1}]"), "target")
    if shifted.shape != input.shape:
        raise InputShapeError(f"{name}: target must have the input's shape {input.shape}, got {shifted.shape}")
    if rows.shape[0]:   # (PyTorch's kernel is not reached for no samples)
        _refuse_cpu_half(input, name, "multilabel_margin_loss_forward_out_frame")
    with mg.no_grad():
        shifted = shifted.reshape(rows.shape)
        listed = (shifted > 0).astype(mg.int64).cumprod(dim=1) > 0            # (N, C): before the first -1
        # the listed targets come first: j runs over the longest list only, (N, m, C) below, not (N, C, C)
        longest = int(listed.sum(dim=1).max()) if listed.numel() else 0
        listed, shifted = listed[:, :longest], shifted[:, :longest]
        labels = mg.where(listed, shifted - 1, 0)
        classes_range = mg.arange(classes, device=rows.device)
        # is_target[n, i]: class i is one of sample n's listed targets (m, the longest list, of them at most)
        is_target = mg.logical_and(labels.unsqueeze(2) == classes_range, listed.unsqueeze(2)).any(dim=1)
    z = 1 - rows.gather(1, labels).unsqueeze(2) + rows.unsqueeze(1)            # (N, m, C): (n, j, i)
    counted = mg.logical_and(mg.logical_and(listed.unsqueeze(2), mg.logical_not(is_target.unsqueeze(1))),
                             z.detach() > 0)
    loss = mg.where(counted, z, 0.0).sum(axis=(1, 2)) / classes
    if reduction == "none":
        return loss.reshape(()) if single else loss
    return reduce_loss(loss, reduction)
