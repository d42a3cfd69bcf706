"""The losses of :mod:`nn.loss`'s modules as ``torch.nn.functional``'s (re-exported by ``nn.functional``):
``nll_loss``, ``cross_entropy``, ``mse_loss``, ``l1_loss``, ``binary_cross_entropy``,
``binary_cross_entropy_with_logits``, ``smooth_l1_loss``, ``huber_loss`` and ``kl_div``, and the two distances
PyTorch keeps beside them, ``cosine_similarity`` and ``pairwise_distance``. (The margin, ranking and likelihood
losses are in ``nn/_losses.py``.)

Each is its formula in engine ops, in PyTorch's argument order (with its deprecated ``size_average``/``reduce``
pair). Where PyTorch's backward is not the derivative of its forward, ``binary_cross_entropy`` is a small op
with PyTorch's gradients (:class:`_BinaryCrossEntropy`) and :func:`_with_gradient` gives the clamp in
``cosine_similarity`` PyTorch's gradient.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor
from minigrad._nn_support import lay_out_as_torch

from ._arguments import _dim, _dtype_error, _floating, _not_complex, _number, _promoted, _tensor
from ._errors import InputDtypeError, InputRankError, InputShapeError
from ._flags import flag
from ._gradient_layout import contiguous_gradient
from ._reduction import REDUCTIONS, check_reduction, checked_reduction, legacy_reduction, reduce_loss
from ._targets import _cascade_sum, class_targets, class_weights, nll_rows, weighted_mean

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_similarity", "cross_entropy",
           "huber_loss", "kl_div", "l1_loss", "mse_loss", "nll_loss", "pairwise_distance", "smooth_l1_loss"]


# --- shared pieces ------------------------------------------------------------------------------------

class NoIntegerKernelError(InputDtypeError, NotImplementedError):
    """An integer or bool input to a loss PyTorch has no integer kernel for: its NotImplementedError ("mse_cpu"
    not implemented for 'Long'), and the TypeError (RuntimeError in PyTorch) of a dtype the loss refuses."""


def _kernel_floating(x: Any, name: str) -> Tensor:
    """``x`` if it is a floating-point Tensor (as :func:`_floating`); an integer or bool one raises
    :class:`NoIntegerKernelError`, PyTorch's error class for a loss written as one kernel."""
    x = _tensor(x, name)
    if x.dtype.kind in "biu":
        raise NoIntegerKernelError(f"{name}: input must be floating point, got {x.dtype} (PyTorch's kernel is not "
                                   "implemented for integers)")
    return _floating(x, name)


def _as_operand(value: Any, like: Tensor, name: str, what: str = "target") -> Any:
    """A loss's second operand as a Tensor on ``like``'s device (arrays and numbers welcome)."""
    if isinstance(value, Tensor):
        if value.device != like.device:
            raise ValueError(f"{name}: input is on {like.device} but {what} is on {value.device}")
        return value
    if mg.is_array(value):
        return mg.as_tensor(mg.to_device(value, like.device))
    return mg.tensor(value, dtype=like.dtype, device=like.device)


def _warn_if_broadcast(input: Tensor, target: Tensor, name: str) -> None:  # noqa: A002
    if target.shape != input.shape:
        warnings.warn(f"{name}: target of shape {target.shape} differs from input of shape {input.shape}; "
                      "they broadcast, which is likely not what you meant (as PyTorch warns)", stacklevel=3)


def _with_gradient(value: Tensor, x: Tensor) -> Tensor:
    """``value`` in the forward pass, with d(result)/dx = 1 (elementwise) in the backward pass.

    value + (x - x.detach()): the added term is exactly 0 where x is finite; where it is ±inf or NaN (inf - inf is
    NaN) the result is x itself, which ``value`` must equal there, so its gradient is 1 too (it was 0: a float16
    loss of inf sent no gradient back). For PyTorch functions whose backward is not the derivative of their
    forward: a clamp done without gradient (``cosine_similarity``), a sum rounded as PyTorch's kernel (float16
    ``nll_loss``). ``value`` must not depend on ``x``'s graph.
    """
    return mg.where(x.detach().isfinite(), value + (x - x.detach()), x)


def _broadcast_shape(a: Tensor, b: Tensor, name: str) -> tuple:
    try:
        return tuple(mg.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise InputShapeError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast") from None


# --- classes and probabilities -------------------------------------------------------------------------

def nll_loss(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,  # noqa: A002
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class ``target`` given ``log_probs``.

    log_probs: (N, C) or (N, C, d1, …) (or (C,) with a 0-d target);
    target: integers (N,) or (N, d1, …), a Tensor or NumPy array; entries equal
    to ``ignore_index`` count for nothing. ``weight``: (C,) per-class weights.
    ``reduction="mean"`` divides by the summed weight of the kept targets. Arguments in PyTorch's
    order, with its deprecated ``size_average``/``reduce`` pair.
    """
    reduction = checked_reduction(size_average, reduce, reduction, "nll_loss")
    log_probs = _kernel_floating(input, "nll_loss")
    safe, keep, shape = class_targets(log_probs, target, ignore_index, "nll_loss")
    weight = class_weights(weight, log_probs, log_probs.shape[1 if log_probs.ndim > 1 else 0], "nll_loss")
    return _float16_as_pytorch(nll_rows(log_probs, safe, keep, weight, shape, reduction), log_probs, safe, keep,
                               weight, reduction)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,  # noqa: A002
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between ``logits`` and integer class ``target``, as PyTorch.

    logits: (N, C) or (N, C, d1, …) — e.g. (N, C, T) for a sequence — or (C,)
    with a 0-d target; target: (N,) or (N, d1, …) integers (Tensor or NumPy
    array), or floating class probabilities of the logits' shape. Computed
    as ``log_softmax`` then a gather, so it is stable for logits of any size.
    Targets equal to ``ignore_index`` are skipped and the mean is over the
    kept ones. ``label_smoothing`` ε mixes in the uniform
    distribution: (1-ε)·nll + ε/C·Σ_c(-w_c log p_c). Arguments in PyTorch's order, with its
    deprecated ``size_average``/``reduce`` pair.
    """
    name = "cross_entropy"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    probabilities = target.data if isinstance(target, Tensor) else target
    if isinstance(input, Tensor) and input.dtype.kind in "biu" and input.data.size == 0 and \
            mg.is_array(probabilities) and probabilities.dtype.kind == "f" and probabilities.shape == input.shape:
        input = input.to(dtype=probabilities.dtype)   # PyTorch's: no integer check on the empty soft-label path
    logits = _kernel_floating(input, name)
    if not 0.0 <= label_smoothing <= 1.0:
        raise InputShapeError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if logits.ndim == 0:
        raise InputRankError(f"{name}: logits need a class dimension: (C,), (N, C) or (N, C, d1, ...), got a 0-d "
                             "tensor")   # PyTorch's IndexError
    if mg.is_array(probabilities) and probabilities.dtype.kind == "f" and probabilities.shape == logits.shape:
        if ignore_index != -100:   # torch refuses rather than ignore nothing
            raise InputShapeError(f"{name}: ignore_index is not supported for floating point target (class "
                                  f"probabilities), got ignore_index={ignore_index}")
        return _soft_cross_entropy(logits, target, weight, reduction, label_smoothing)
    safe, keep, shape = class_targets(logits, target, ignore_index, name)
    axis = 1 if logits.ndim > 1 else 0
    classes = logits.shape[axis]
    weight = class_weights(weight, logits, classes, name)
    # log_softmax along the class axis, then nll_loss, as PyTorch's (its node sees log_probs of the logits' shape);
    # the logits' gradient C order, as PyTorch's kernels along dim 1 write it (float16: its kernel's own layout)
    wide = logits.ndim > 2 and logits.dtype != mg.float16
    log_probs = mg.log_softmax(contiguous_gradient(logits) if wide else logits, axis=axis)
    loss = _float16_as_pytorch(nll_rows(log_probs, safe, keep, weight, shape, reduction), log_probs, safe, keep,
                               weight, reduction)
    if label_smoothing == 0.0:
        return loss
    # the uniform part: -Σ_c w_c log p_c per entry (flat, as keep), zero where the target is ignored
    if weight is not None:
        log_probs = log_probs * (weight.reshape(classes, *(1,) * (logits.ndim - 2)) if logits.ndim > 2 else weight)
    entries = log_probs.sum(axis=axis)
    if logits.ndim != 2:
        entries = entries.reshape(keep.shape)
    smooth = -mg.where(keep > 0, entries, 0.0)   # an ignored row's -inf/NaN logits count for nothing
    if reduction == "none":
        smooth = smooth.reshape(shape)
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        denominator = keep.sum() if weight is None else mg.where(keep > 0, weight[safe], 0.0).sum()
        smooth = weighted_mean(smooth.sum(), denominator)
    return (1.0 - label_smoothing) * loss + smooth * _smoothing_share(label_smoothing, classes)


def _smoothing_share(label_smoothing: float, classes: int) -> float:
    """ε/C, each class's share of the smoothing; with no classes PyTorch's float division gives inf (times the
    empty sums: NaN for a sum or mean, an empty 'none')."""
    return label_smoothing / classes if classes else math.inf


def _float16_as_pytorch(loss: Tensor, log_probs: Tensor, safe: Tensor, keep: Tensor, weight: Tensor | None,
                        reduction: str) -> Tensor:
    """``loss``, the sum or mean nll of float16 log-probabilities on the CPU (``log_probs``: (N, C, d1, …), at
    least 2 dims) by the composed ops (class weights that require grad: :func:`nll_rows`), with the value of
    PyTorch's kernels there: float16 steps into 8 partial sums (see :func:`_cascade_sum`); the mean divides that
    by the kept rows' summed weight (summed the same way). The gradient is ``loss``'s. Other cases: ``loss``."""
    ndim = log_probs.ndim
    if reduction == "none" or ndim < 2 or loss.dtype != mg.float16 or mg.array_module(loss.data) is not numpy:
        return loss
    if weight is None or not (weight.requires_grad and mg.is_grad_enabled()):   # the NllLoss op sums so itself
        return loss
    log_probs = numpy.moveaxis(log_probs.data, 1, -1).reshape(safe.shape[0], log_probs.shape[1]) if ndim > 2 \
        else log_probs.data
    kept, targets = keep.data > 0, safe.data
    scale = numpy.ones(len(targets), numpy.float16) if weight is None else weight.data[targets]
    total = _cascade_sum(-(log_probs[numpy.arange(len(targets)), targets] * scale), kept)   # float16 products
    if reduction == "mean":
        with numpy.errstate(divide="ignore", invalid="ignore"):   # no kept row: 0/0 is NaN, as PyTorch's
            total = total / (numpy.float16(kept.sum()) if weight is None and ndim == 2 else _cascade_sum(scale, kept))
    return _with_gradient(mg.tensor(total), loss)


def _soft_cross_entropy(logits: Tensor, target: Any, weight: Any, reduction: str, label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities ``target`` of the logits' shape: -Σ_c w_c·p_c·log q_c
    over the class axis (1, or 0 for a 1-D input); the mean is over the other entries, as PyTorch."""
    name = "cross_entropy"
    target = _as_operand(target, logits, name)
    axis = 1 if logits.ndim >= 2 else 0
    classes = logits.shape[axis]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + _smoothing_share(label_smoothing, classes)
    products = mg.log_softmax(logits, axis=axis) * target
    # a float or complex Tensor weight promotes the product, as PyTorch's (a float32 weight makes a float16 loss
    # float32, a complex one a complex loss)
    weight = class_weights(weight, logits, classes, name, promote=True)
    if weight is not None:
        products = products * weight.reshape((classes,) + (1,) * (logits.ndim - axis - 1))
    losses = -products.sum(axis=axis)
    if reduction == "mean" and classes == 0:   # PyTorch's mean divides the sum by numel / C = 0 / 0
        return losses.sum() * math.nan
    return reduce_loss(losses, reduction)


def _same_shape_target(target: Any, input: Tensor, name: str) -> Tensor:  # noqa: A002
    """The target as a Tensor of the input's shape, which the binary cross-entropies require (no broadcast)."""
    if isinstance(target, Tensor) and target.dtype.kind in "biu":   # PyTorch refuses them too (RuntimeError)
        raise InputDtypeError(f"{name}: target must be a floating-point tensor (probabilities), got dtype "
                              f"{target.dtype}; convert with target.float()")
    target = _as_operand(target, input, name)
    if target.shape != input.shape:
        raise InputShapeError(f"{name}: target shape {target.shape} must equal input shape {input.shape}")
    return target


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression, as PyTorch.

    loss = (1 - y)·x - (1 + (pos_weight - 1)·y) · log σ(x), with log σ(x) = -logaddexp(-x, 0), so no
    exponential overflows. ``weight`` rescales each element, ``pos_weight`` the positive class (broadcast
    along the last axis); both must broadcast to the input's shape. The loss has the target's dtype (float64
    logits and a float32 target give float32, as PyTorch's); the gradients are PyTorch's own formulas
    (:class:`_BinaryCrossEntropyWithLogits`), which differ from the loss's derivative at infinities.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    input = _kernel_floating(input, name)
    y = _same_shape_target(target, input, name)
    extras = []
    for what, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is not None:   # (their own dtype: each gets its gradient in it, summed back by the broadcast)
            value = _weight_in(_as_operand(value, input, name, what), None, input, name, what)
            extras.append(value if value.shape == input.shape else value.broadcast_to(input.shape))
    return _BinaryCrossEntropyWithLogits(weight is not None, pos_weight is not None, reduction)(input, y, *extras)


class _ReducedLoss:
    """The reduction of an elementwise loss op inside the op, as PyTorch's loss nodes have it (one node, not the
    loss's and a MeanBackward0): ``reduction`` 'mean' or 'sum' reduces forward's loss (the mean of nothing NaN,
    quietly), and backward's ``g`` is spread back over the loss's shape (over N for the mean) before the op's own
    backward reads it, the same numbers as the Mean or Sum op's backward gave. The op's ``create_graph=True``
    rule spreads ``g`` the same way (minigrad/higher_order_rules.py's ``_spread_loss_gradient``)."""

    reduction = "none"
    loss_shape: tuple = ()

    def reduced(self, loss: Any) -> Any:
        self.loss_shape = loss.shape
        if self.reduction == "sum":
            return self.xp.asarray(loss.sum())
        if self.reduction == "mean":
            if not loss.size:
                with mg.errstate(self.xp, invalid="ignore"):
                    return self.xp.asarray(loss.sum() / 0)
            return self.xp.asarray(loss.mean())
        return loss

    def spread(self, g: Any) -> Any:
        if self.reduction == "none":
            return g
        if self.reduction == "mean" and math.prod(self.loss_shape):
            g = g / math.prod(self.loss_shape)
        return self.xp.broadcast_to(g, self.loss_shape)


def _log_sigmoid(xp: Any, x: Any) -> Any:
    """log σ(x) = -log(1 + e^{-x}), in x's dtype, without overflow (0 at +inf, -inf at -inf)."""
    return -xp.logaddexp(-x, x.dtype.type(0))


class _BinaryCrossEntropyWithLogits(_ReducedLoss, mg.Function):
    """The elementwise loss w·((1 - y)·x - (1 + (p - 1)·y)·log σ(x)) with PyTorch's hand-written gradients,
    which at infinities are not the derivative of the loss (x = -inf, p = 1: y gets inf, not inf - inf):

    x: ((p·y + 1 - y)·σ(x) - p·y)·g·w (without pos_weight: (σ(x) - y)·g·w);
    y: (log σ(-x) - p·log σ(x))·g·w (without pos_weight: -x·g·w);
    w: the loss unweighted·g; p: -y·log σ(x)·g·w (PyTorch refuses gradients for w and p; minigrad gives them).
    x, y, w, p: (S,), of their own dtypes; the loss has y's, with the log σ term rounded to x's, as PyTorch's
    in-place steps. Its ``create_graph`` rule (``minigrad.higher_order_rules``) writes the same formulas with
    Tensor ops, so the second derivatives are PyTorch's (the derivatives of these formulas). ``reduction``: the
    mean or sum inside the op (:class:`_ReducedLoss`), PyTorch's one node.
    """

    name = "binary_cross_entropy_with_logits"

    def __init__(self, weighted: bool, positive: bool, reduction: str = "none") -> None:
        self.weighted, self.positive, self.reduction = weighted, positive, reduction

    def pytorch_inputs(self) -> tuple:
        """PyTorch's node's inputs (x, y): no edge for weight or pos_weight (it refuses them requiring grad)."""
        return (0, 1)

    def forward(self, x: Any, y: Any, *extras: Any) -> Any:
        xp = self.xp
        w = extras[0] if self.weighted else None
        p = extras[-1] if self.positive else None
        log_sigmoid = _log_sigmoid(xp, x)
        if p is not None:
            log_sigmoid = _kept(log_sigmoid * ((p - 1) * y + 1), x.dtype)
        loss = _kept(_kept((1 - y) * x, y.dtype) - log_sigmoid, y.dtype)
        if loss.ndim > 1 and not y.flags.c_contiguous:   # PyTorch's steps are in place on 1 - y: y's layout
            loss = lay_out_as_torch(xp, loss, [[s // y.itemsize for s in y.strides]])
        self.saved = (x, y, w, p, loss if w is not None else None)
        if w is None:
            return self.reduced(loss)
        out = _kept(loss * w, y.dtype)   # in place in PyTorch: loss's layout
        return self.reduced(out if out.strides == loss.strides else lay_out_as_torch(
            xp, out, [[s // loss.itemsize for s in loss.strides]]))

    def backward(self, g: Any) -> tuple:
        # each step in the dtype PyTorch's in-place steps keep (a product can overflow in float32 there)
        xp, g = self.xp, self.spread(g)
        x, y, w, p, loss = self.saved
        gx = gy = gw = gp = None
        with mg.errstate(xp, over="ignore", invalid="ignore"):   # inf - inf, 0·inf: NaN, as PyTorch's
            if self.needs_grad[0]:
                # σ(x) as PyTorch's sigmoid kernel: a float16 x in float32, rounded once (not at each of 3 steps)
                wide = x.astype(xp.float32) if x.dtype == xp.float16 else x
                sigmoid = _kept(1 / (1 + xp.exp(-wide)), x.dtype)
                if p is None:
                    slope = _kept(sigmoid - y, x.dtype)
                else:
                    t = p * y
                    slope = _kept((t + 1 - y) * sigmoid, t.dtype) - t
                gx = _kept(slope * g, slope.dtype)
                gx = _kept(gx if w is None else _kept(gx * w, gx.dtype), x.dtype)
                lead = x if p is None else y   # PyTorch's steps are in place on σ(x) (on pos_weight·y: y's layout)
                if gx.ndim > 1 and not lead.flags.c_contiguous:
                    gx = lay_out_as_torch(xp, gx, [[s // lead.itemsize for s in lead.strides]])
            if self.needs_grad[1]:
                if p is None:
                    gy = -x * g
                else:
                    slope = _log_sigmoid(xp, -x) - _kept(_log_sigmoid(xp, x) * p, x.dtype)
                    gy = _kept(slope * g, x.dtype)
                gy = _kept(gy if w is None else _kept(gy * w, gy.dtype), y.dtype)
            if w is not None and self.needs_grad[2]:
                gw = _kept(g * loss, w.dtype)
            if p is not None and self.needs_grad[-1]:
                gp = -(y * _log_sigmoid(xp, x)) * g
                gp = _kept(gp if w is None else gp * w, p.dtype)
        return (gx, gy) + ((gw,) if w is not None else ()) + ((gp,) if p is not None else ())


def _kept(a: Any, dtype: Any) -> Any:
    """``a`` in ``dtype`` (no copy if it is already)."""
    return a.astype(dtype, copy=False)


def _weight_in(weight: Tensor, dtype: Any, like: Tensor | None = None, name: str = "", what: str = "") -> Tensor:
    """A binary cross-entropy's ``weight``/``pos_weight`` in the loss's dtype (``dtype`` None: its own): as
    PyTorch's, a float64 weight does not turn a float32 loss into float64 (its gradient, if it wants one, comes
    back in its own dtype).
    With ``like``, it must broadcast to its shape, as PyTorch's in-place product (an error names the function,
    ``what`` and both shapes)."""
    if like is not None:
        try:
            fits = tuple(mg.broadcast_shapes(weight.shape, like.shape)) == like.shape
        except ValueError:
            fits = False
        if not fits:
            raise InputShapeError(f"{name}: {what} of shape {weight.shape} does not broadcast against the input "
                                  f"of shape {like.shape} (to that shape: the loss keeps the input's shape)")
    return weight if dtype is None or weight.dtype == dtype else weight.astype(dtype)


def _check_unit_interval(input: Tensor, target: Tensor, name: str) -> None:  # noqa: A002
    """Every element of ``input`` and of ``target`` in [0, 1] (NaN is not), as PyTorch checks. One host read of
    both tests together: inside ``mg.compile`` only the capturing call checks."""
    xp = mg.array_module(input.data)
    inside = xp.stack([((a >= 0) & (a <= 1)).all() for a in (input.data, target.data)]).tolist()
    for what, ok in zip(("input", "target"), inside):
        if not ok:
            raise InputShapeError(f"{name}: all elements of {what} should be between 0 and 1")


# PyTorch's floor under x(1 - x) in binary_cross_entropy's backward: 1e-12 as a C float, in float64 too
_BCE_EPSILON = float(numpy.float32(1e-12))


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,  # noqa: A002
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """-w·(y·log x + (1 - y)·log(1 - x)) for probabilities ``input`` x and ``target`` y, as PyTorch.

    input, target: the same shape S, values in [0, 1]; weight broadcasts to S. Each log is clamped
    to >= -100, so x = 0 or 1 gives a finite loss. The gradients are PyTorch's hand-written ones
    (:class:`_BinaryCrossEntropy`), and differentiable again (``create_graph=True``).
    """
    name = "binary_cross_entropy"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    input = _kernel_floating(input, name)
    if isinstance(target, Tensor) and target.dtype.kind in "fc" and target.dtype != input.dtype:   # as PyTorch
        raise InputDtypeError(f"{name}: found dtype {target.dtype} but expected {input.dtype}: the target (shape "
                              f"{target.shape}) must have the input's dtype (shape {input.shape}), as in PyTorch")
    target = _same_shape_target(target, input, name)
    _check_unit_interval(input, target, name)
    if weight is None:
        return _BinaryCrossEntropy(reduction)(input, target)
    weight = _weight_in(_as_operand(weight, input, name, "weight"), input.dtype)
    if _broadcast_shape(weight, target, name) != target.shape:
        raise InputShapeError(f"{name}: weight of shape {weight.shape} does not broadcast to the input's "
                              f"{input.shape}")
    if weight.shape != input.shape:   # its gradient is summed back by the broadcast
        weight = weight.broadcast_to(input.shape)
    return _BinaryCrossEntropy(reduction)(input, target, weight)


class _BinaryCrossEntropy(_ReducedLoss, mg.Function):
    """The elementwise loss w·((y - 1)·max(log(1 - x), -100) - y·max(log x, -100)) with PyTorch's hand-written
    gradients, which are not its derivative at x = 0 and 1 (there the clamped logs' would give 0·inf = NaN):

    x: w·(x - y) / max(x(1 - x), 1e-12); y: -w·logit(x), unclamped (±inf at x = 0 and 1); w: the loss unweighted.
    x, y, w: (S,) (w absent: 1). Its ``create_graph`` rule (``minigrad.higher_order_rules``) writes the same
    three with Tensor ops of x, y and w, so the second derivatives are PyTorch's. ``reduction``: the mean or sum
    inside the op (:class:`_ReducedLoss`), PyTorch's one node.
    """

    name = "binary_cross_entropy"
    epsilon = _BCE_EPSILON   # the floor under x(1 - x), read by the rule too

    def __init__(self, reduction: str = "none") -> None:
        self.reduction = reduction

    def pytorch_inputs(self) -> tuple:
        """PyTorch's node's inputs (x, y): no edge for the weight (it refuses one requiring grad)."""
        return (0, 1)

    def forward(self, x: Any, y: Any, *weight: Any) -> Any:
        xp = self.xp
        with mg.errstate(xp, divide="ignore"):
            loss = (y - 1) * xp.maximum(-100.0, xp.log1p(-x)) - y * xp.maximum(-100.0, xp.log(x))
        if loss.ndim > 1 and loss.strides != x.strides:   # PyTorch's loss is empty_like(input): x's layout
            loss = lay_out_as_torch(xp, loss, [[s // x.itemsize for s in x.strides]])
        self.saved = (x, y, loss) + weight
        if not weight:
            return self.reduced(loss)
        out = loss * weight[0]   # in place in PyTorch: loss's layout
        return self.reduced(out if out.strides == loss.strides else lay_out_as_torch(
            xp, out, [[s // loss.itemsize for s in loss.strides]]))

    def backward(self, gy: Any) -> tuple:
        x, y, loss, *weight = self.saved
        xp, gy = self.xp, self.spread(gy)
        gx = gy_target = gw = None
        if self.needs_grad[0]:
            slope = (x - y) / xp.maximum(self.epsilon, x * (1 - x))
            gx = gy * (weight[0] * slope if weight else slope)
        if self.needs_grad[1]:
            with mg.errstate(xp, divide="ignore", invalid="ignore"):
                gy_target = (gy * weight[0] if weight else gy) * (xp.log1p(-x) - xp.log(x))
        if weight and self.needs_grad[2]:
            gw = gy * loss
        return (gx, gy_target, gw) if weight else (gx, gy_target)


def kl_div(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence pointwise: y·(log y - x) for log-probabilities ``input`` x and probabilities ``target`` y
    (0 where y = 0), or e^y·(y - x) with ``log_target=True``; reduced.

    input, target: broadcastable. ``reduction="batchmean"`` divides the sum by the batch size (dim 0), the
    true KL divergence per sample; ``"mean"`` divides by the element count and warns so, as PyTorch.
    """
    name = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction, name)
    elif reduction == "mean":
        warnings.warn(f"{name}: reduction='mean' divides the total loss by both the batch size and the support "
                      "size; 'batchmean' divides by the batch size only, as the KL divergence's definition "
                      "(as PyTorch warns)", stacklevel=2)
    if not isinstance(reduction, str) or reduction not in REDUCTIONS + ("batchmean",):
        raise ValueError(f"{name}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    input = _floating(input, name)
    target = _as_operand(target, input, name)
    if target.dtype.kind != "f":
        raise _dtype_error(target.dtype, f"{name}: target must be floating point, got {target.dtype}")
    _broadcast_shape(input, target, name)
    if flag(log_target, name, "log_target"):   # a bool (a string's truth is not what was meant), as PyTorch's
        loss = target.exp() * (target - input)
    else:
        # PyTorch's xlogy(y, y) - y·x: 0·log 0 = 0, NaN for y < 0, and (as PyTorch) a NaN target gradient at y = 0
        with mg.errstate(mg.array_module(target.data), invalid="ignore"):
            loss = mg.xlogy(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return reduce_loss(loss, reduction)


# --- regression ----------------------------------------------------------------------------------------

def mse_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
             reduction: str = "mean", weight: Any = None) -> Tensor:
    """(input - target)², reduced; target broadcasts against input. As PyTorch's: ``weight`` (the input's
    shape) rescales each element, and the mean is then Σ w·e / Σ w."""
    return _pointwise_loss("mse_loss", input, target, size_average, reduce, reduction, weight,
                           lambda diff: diff * diff, takes_complex=False)   # PyTorch's kernel has no complex


def l1_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
            reduction: str = "mean", weight: Any = None) -> Tensor:
    """|input - target|, reduced; target broadcasts against input; ``weight`` as in :func:`mse_loss`."""
    _no_bool_subtraction("l1_loss", input=input, target=target)
    return _pointwise_loss("l1_loss", input, target, size_average, reduce, reduction, weight, lambda diff: diff.abs())


def _no_bool_subtraction(name: str, **operands: Any) -> None:
    """PyTorch's losses written as ``input - target`` refuse a bool operand (RuntimeError), where a cast to float
    would give an answer: so do these."""
    for what, value in operands.items():
        if getattr(value, "dtype", None) == numpy.bool_:
            raise InputDtypeError(f"{name}: Subtraction, the `-` operator, with a bool tensor is not supported "
                                  f"({what} is bool), as in PyTorch")


def _in_input_category(target: Tensor, input: Tensor) -> Tensor:  # noqa: A002
    """An integer or bool ``target`` of a floating ``input`` in the input's dtype: PyTorch promotes by category (a
    float32 input and an int64 target give a float32 loss) where NumPy would give float64."""
    if target.dtype.kind in "iub" and input.dtype.kind in "fc":
        return target.astype(input.dtype)
    return target


def _complex_into_real(name: str, input: Tensor, target: Tensor) -> None:  # noqa: A002
    """PyTorch's RuntimeError for a loss computed into the input's real dtype from a complex target (casting it
    would drop its imaginary part)."""
    if target.dtype.kind == "c" and input.dtype.kind != "c":
        raise InputDtypeError(f"{name}: result type {target.dtype} (the target's) can't be cast to the desired output "
                              f"type {input.dtype} (the input's), as in PyTorch")


def _pointwise_loss(name: str, input: Any, target: Any, size_average: Any, reduce: Any,  # noqa: A002
                    reduction: str, weight: Any, error: Any, takes_complex: bool = True) -> Tensor:
    reduction = checked_reduction(size_average, reduce, reduction, name)
    input = _tensor(input, name)
    if not takes_complex:
        _not_complex(input, name)
    shape = input.shape   # (weight's, as PyTorch checks it: before the expansion below)
    if not isinstance(target, (int, float)):   # a Python number is meant to broadcast
        target = _in_input_category(_as_operand(target, input, name), input)
        if not takes_complex:   # a complex target of a real input: no kernel either
            _not_complex(target, name)
        input = _in_input_category(input, target)   # an integer input with a float target: the target's dtype
        _broadcast_shape(input, target, name)
        _warn_if_broadcast(input, target, name)
        if not takes_complex and input.dtype.kind in "biu" and target.dtype.kind in "biu":   # nor integers
            raise NoIntegerKernelError(f"{name}: input and target must not both be integers, got {input.dtype} and "
                                       f"{target.dtype} (PyTorch's kernel is not implemented for integers)")
        if input.shape != target.shape:   # expanded first, as PyTorch's: a float16 target's gradient is then rounded
            input, target = mg.broadcast_tensors(input, target)   # per element before the sum over the expansion
    if name == "mse_loss" and weight is None and isinstance(target, Tensor) and input.dtype == target.dtype \
            and input.dtype.kind == "f":
        return MseLoss(reduction)(input, target)
    errors = error(input - target)
    if weight is None:
        return reduce_loss(errors, reduction)
    weight = _as_operand(weight, input, name, "weight")
    if tuple(getattr(weight, "shape", ())) != shape:
        raise ValueError(f"{name}: weight must have the input's shape {shape}, got "
                         f"{tuple(getattr(weight, 'shape', ()))}")
    weighted = errors * weight
    return weighted.sum() / weight.sum() if reduction == "mean" else reduce_loss(weighted, reduction)


class MseLoss(_ReducedLoss, mg.Function):
    """:func:`mse_loss` of two float tensors of one dtype and shape, unweighted, as one op (PyTorch's
    MseLossBackward0, edges (input, target)): (x - y)², reduced inside (:class:`_ReducedLoss`). Backward: x gets
    2 · g · (x - y) (g / N for the mean), y its negation; the node keeps x and y, as PyTorch's (a target changed in
    place before the backward is refused). Its ``create_graph=True`` rule is minigrad/higher_order_rules.py's
    ``_mse_loss``."""

    name = "mse_loss"

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def forward(self, x: Any, y: Any) -> Any:
        self.saved = (x, y)
        difference = x - y
        return self.reduced(difference * difference)

    def backward(self, gy: Any) -> tuple:
        x, y = self.saved
        g = self.spread(gy) * (x - y)
        g *= 2
        return (g if self.needs_grad[0] else None), (-g if self.needs_grad[1] else None)


def smooth_l1_loss(input: Tensor, target: Any, size_average: bool | None = None,  # noqa: A002
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """½d²/β where |d| < β, else |d| - ½β, for d = input - target (broadcast, with a warning); reduced.

    β = 0 is the L1 loss; β must be >= 0. The gradient at |d| = β is ±1 from both sides.
    """
    name = "smooth_l1_loss"
    reduction = checked_reduction(size_average, reduce, reduction, name)
    beta = _number(beta, name, "beta")
    if not beta >= 0:   # NaN too, as PyTorch's
        raise InputShapeError(f"{name}: beta must be non-negative, got {beta}")
    if beta == 0:   # PyTorch's l1_loss then, input - target
        _no_bool_subtraction(name, input=input, target=target)
    if isinstance(input, Tensor) and input.dtype.kind in "biu" and isinstance(target, Tensor) \
            and target.dtype.kind == "f":   # PyTorch's kernel computes in the float target's dtype (two ints: refused)
        input = input.astype(target.dtype)
    input = _kernel_floating(input, name)
    target = _not_complex(_in_input_category(_as_operand(target, input, name), input), name)   # PyTorch's kernel
    _broadcast_shape(input, target, name)
    _warn_if_broadcast(input, target, name)
    if input.shape != target.shape:   # expanded first, as PyTorch's (_pointwise_loss)
        input, target = mg.broadcast_tensors(input, target)
    if beta != 0 and input.dtype == target.dtype and input.dtype.kind == "f":
        return _PiecewiseQuadratic("smooth_l1_loss", beta, reduction)(input, target)
    difference = input - target
    distance = difference.abs()
    if beta == 0:
        return reduce_loss(distance, reduction)
    far = distance >= beta   # NaN is not far: its loss and gradient stay NaN, as PyTorch's
    small = mg.where(far, 0.0, difference)   # the square's branch away from inf: no 0·inf (NaN) gradient there
    loss = mg.where(far, distance - 0.5 * beta, 0.5 * small * small / beta)
    return reduce_loss(loss, reduction)


class _PiecewiseQuadratic(_ReducedLoss, mg.Function):
    """smooth_l1_loss (``name``, ``limit`` β > 0) or huber_loss (``limit`` δ) of two float tensors of one dtype and
    shape as one op (PyTorch's SmoothL1LossBackward0 / HuberLossBackward0, edges (input, target)), reduced inside
    (:class:`_ReducedLoss`). With d = x - y: ½d²/β where |d| < β, else |d| - ½β (huber: ½d², else δ·(|d| - ½δ));
    NaN is not far, so its loss and gradient stay NaN, as PyTorch's; the square reads 0 where far (no inf·0).
    Backward, PyTorch's: x gets g · d/β (huber: g · d) where |d| < β, else g · sign(d) (huber: δ · sign(d)), y its
    negation. Its ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_piecewise_quadratic``."""

    def __init__(self, name: str, limit: float, reduction: str) -> None:
        self.name, self.limit, self.reduction = name, limit, reduction
        self.huber = name == "huber_loss"

    def forward(self, x: Any, y: Any) -> Any:
        xp, limit = self.xp, self.limit
        difference = x - y
        distance = xp.abs(difference)
        far = distance >= limit
        small = xp.where(far, difference.dtype.type(0), difference)
        if self.huber:
            loss = xp.where(far, limit * (distance - 0.5 * limit), 0.5 * small * small)
        else:
            loss = xp.where(far, distance - 0.5 * limit, 0.5 * small * small / limit)
        self.saved = (x, y)   # as PyTorch's node: d is computed again by backward
        return self.reduced(loss)

    def slope(self, difference: Any) -> Any:
        """dloss/dd: d/β (huber: d) where |d| < β, else sign(d) (huber: δ · sign(d)); NaN at NaN."""
        xp, limit = self.xp, self.limit
        far = xp.abs(difference) >= limit
        outside = xp.sign(difference) * limit if self.huber else xp.sign(difference)
        return xp.where(far, outside, difference if self.huber else difference / limit)

    def backward(self, g: Any) -> tuple:
        x, y = self.saved
        gx = self.spread(g) * self.slope(x - y)
        return (gx if self.needs_grad[0] else None), (-gx if self.needs_grad[1] else None)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0,  # noqa: A002
               weight: Any = None) -> Tensor:
    """½d² where |d| < δ, else δ·(|d| - ½δ), for d = input - target (broadcast, with a warning); reduced.

    δ must be > 0; ``weight`` (the input's shape) rescales each element before the reduction.
    """
    name = "huber_loss"
    check_reduction(reduction, name)
    delta = _number(delta, name, "delta")
    if not delta > 0:   # NaN too, as PyTorch's
        raise InputShapeError(f"{name}: delta must be positive, got {delta}")
    input = _kernel_floating(input, name)
    target = _as_operand(target, input, name)
    _broadcast_shape(input, target, name)
    _warn_if_broadcast(input, target, name)
    _complex_into_real(name, input, target)
    if input.shape != target.shape:   # expanded first, as PyTorch's (_pointwise_loss)
        input, target = mg.broadcast_tensors(input, target)
    if target.dtype != input.dtype:   # PyTorch's huber_loss computes in the input's dtype (f32 input, f64 target: f32)
        target = target.astype(input.dtype)
    if weight is None and input.dtype.kind == "f" and (reduction != "none" or input.is_contiguous()):
        return _PiecewiseQuadratic(name, delta, reduction)(input, target)
    difference = input - target
    distance = difference.abs()
    far = distance >= delta   # NaN is not far: its loss and gradient stay NaN, as PyTorch's
    small = mg.where(far, 0.0, difference)   # the square's branch away from inf: no 0·inf (NaN) gradient there
    loss = mg.where(far, delta * (distance - 0.5 * delta), 0.5 * small * small)
    if (reduction == "none" or weight is not None) and not input.is_contiguous():
        # PyTorch's kernel writes into empty_like(input): an expanded input's layout, not the target's
        into = mg.empty_like(input)
        if into.stride() != loss.stride():
            loss = into.copy_(loss)
    if weight is not None:
        weight = _as_operand(weight, input, name, "weight")
        if weight.shape != input.shape:
            raise ValueError(f"{name}: weight of shape {weight.shape} must have the input's shape {input.shape}")
        loss = loss * weight
    return reduce_loss(loss, reduction)


# --- distances ----------------------------------------------------------------------------------------

def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8, *, axis: Any = None) -> Tensor:
    """Σ (x1/‖x1‖)·(x2/‖x2‖) along ``dim``, each norm at least ``eps``, as PyTorch (``axis=`` is its alias of
    ``dim=``).

    x1, x2: broadcastable shapes S → S without ``dim``. As in PyTorch, each vector is divided by its
    norm first (so the result stays in [-1, 1]), and the clamp to ``eps`` is made without gradient:
    a vector shorter than ``eps`` still sends the norm's gradient back.
    """
    name = "cosine_similarity"
    if axis is not None:
        if dim != 1:
            raise TypeError(f"{name}() got multiple values for argument 'dim' (axis= is its alias)")
        dim = axis
    x1, x2 = _tensor(x1, name), _tensor(x2, name)
    if x1.dtype.kind == "f" or x2.dtype.kind == "f":   # an integer with a float: the float's dtype, as PyTorch's
        x1, x2 = _in_input_category(x1, x2), _in_input_category(x2, x1)
    x1, x2, eps = _floating(x1, name), _floating(x2, name), _number(eps, name, "eps")
    if not eps >= 0:   # NaN too, as PyTorch's
        raise InputShapeError(f"{name}: eps must be non-negative, got: {eps}")
    shape = _broadcast_shape(x1, x2, name)
    axis = _dim(dim, len(shape), name)
    x1, x2 = mg.broadcast_tensors(x1, x2)

    def unit(x: Tensor) -> Tensor:
        norm = x.norm(2, axis, keepdim=True)
        return x / _with_gradient(norm.detach().clip(min=eps), norm)

    return (unit(x1) * unit(x2)).sum(axis)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False, *,
                      keepdims: bool | None = None) -> Tensor:
    """‖x1 - x2 + eps‖_p along the last dim, as PyTorch (``eps`` keeps the norm's gradient finite at x1 = x2).

    x1, x2: broadcastable (*, D) → (*) ((*, 1) with ``keepdim``, or PyTorch's alias ``keepdims``); integers become
    float32.
    """
    name = "pairwise_distance"
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{name}() got multiple values for argument 'keepdim' (keepdims= is its alias)")
        keepdim = keepdims
    x1, x2 = _tensor(x1, name), _tensor(x2, name)
    if x1.dtype.kind == "b" or x2.dtype.kind == "b":   # PyTorch's x1 - x2 refuses a bool (made float, it would not)
        raise InputDtypeError(f"{name}: Subtraction, the `-` operator, with a bool tensor is not supported (dtypes "
                              f"{x1.dtype} and {x2.dtype}), as in PyTorch")
    shape = _broadcast_shape(x1, x2, name)
    if x1.dtype.kind in "iu" and x2.dtype.kind in "iu":   # PyTorch subtracts in their dtype (uint8 wraps round)
        difference = _promoted(x1 - x2, name)
    else:   # an integer with a float: in the float's dtype, as PyTorch promotes by category
        difference = _in_input_category(x1, x2) - _in_input_category(x2, x1)
    difference = difference + _number(eps, name, "eps")
    return difference.norm(_number(p, name, "p"), -1 if shape else None, keepdim=flag(keepdim, name, "keepdim"))
