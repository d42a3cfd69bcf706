"""Stateless layers and losses (``from nn import functional as F``), as ``torch.nn.functional``.

Nearly everything here is composed from the engine's ops, so each function's
gradient is the engine's and shows up op by op in the graph drawings. Two
small ops bring their own backward: :class:`EmbeddingLookup` (a gather that
leaves the padding row without gradient) and :class:`ConstantPad` (``gelu``'s
erf is the engine's ``mg.erf``). Where PyTorch's backward is not the derivative
of its forward (``binary_cross_entropy``, the clamp in ``cosine_similarity``),
:func:`_with_gradient` gives the forward's value PyTorch's gradient. Axis
arguments of the older functions are NumPy's ``axis=`` (PyTorch's ``dim=`` is
accepted as well); the functions that PyTorch alone has take ``dim=`` only.
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._activations import (
    celu,
    elu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    silu,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from ._activations_inplace import celu_, elu_, hardtanh_, leaky_relu_, relu_, selu_, threshold_
from ._arguments import _dim, _floating, _implicit_dim, _number, _promoted, _tensor
from ._attention import multi_head_attention_forward, scaled_dot_product_attention
from ._conv import (
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    max_pool1d,
    max_pool2d,
)
from ._functional_more import alpha_dropout, bilinear, dropout1d, gumbel_softmax, pdist
from ._losses import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from ._normalization import group_norm, instance_norm
from ._targets import TargetError, checked_indices, class_targets, class_weights, nll_rows, weighted_mean

__all__ = [
    "TargetError", "binary_cross_entropy", "binary_cross_entropy_with_logits", "celu", "cosine_similarity",
    "cross_entropy", "dropout", "elu", "embedding", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish",
    "hardtanh", "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid",
    "mish", "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "pairwise_distance", "prelu", "relu", "relu6",
    "batch_norm", "rms_norm",
    "selu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softmin", "softplus", "softshrink", "softsign", "tanh",
    "tanhshrink", "threshold",
    "multi_head_attention_forward", "scaled_dot_product_attention",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "max_pool1d",
    "max_pool2d", "cosine_embedding_loss", "gaussian_nll_loss", "hinge_embedding_loss", "margin_ranking_loss",
    "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
    "soft_margin_loss", "triplet_margin_loss", "celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "selu_",
    "threshold_", "alpha_dropout", "bilinear", "dropout1d", "gumbel_softmax", "pdist", "group_norm", "instance_norm",
]

_REDUCTIONS = ("mean", "sum", "none")


# --- layers -------------------------------------------------------------------

def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weightᵀ + bias. x: (*, in), weight: (out, in), bias: (out,) → (*, out)."""
    x, weight = _tensor(x, "linear"), _tensor(weight, "linear", "weight")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                         f"(last input dimension must be {weight.shape[1]})")
    y = x @ weight.T
    return y if bias is None else y + bias


class EmbeddingLookup(mg.Function):
    """weight[indices]; the gradient scatters back with accumulation, except into ``padding_idx``."""

    name = "embedding"

    def __init__(self, indices: Any, padding_idx: int | None, scale_grad_by_freq: bool = False) -> None:
        self.indices, self.padding_idx, self.scale_grad_by_freq = indices, padding_idx, scale_grad_by_freq

    def forward(self, weight: Any) -> Any:
        self.weight_shape = weight.shape
        return weight[self.indices]

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        rows = gy.reshape(-1, gy.shape[-1])
        flat = self.indices.reshape(-1)
        if self.padding_idx is not None:
            rows = rows * (flat != self.padding_idx)[:, None]
        if self.scale_grad_by_freq:   # each row's gradient over how often its index occurs in this batch
            counts = xp.bincount(flat, minlength=self.weight_shape[0])
            rows = rows / counts[flat][:, None].astype(rows.dtype)
        gw = xp.zeros(self.weight_shape, dtype=gy.dtype)
        # scatter element by element into the flat table: the same sums in the same order as
        # scatter_add(gw, flat, rows), but NumPy's add.at runs 3-7x faster on a 1-D target
        width = rows.shape[-1]
        mg.scatter_add(xp, gw.reshape(-1), (flat[:, None] * width + xp.arange(width)).reshape(-1), rows.reshape(-1))
        return gw


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (V, D) picked by integer indices ``input`` (any shape S) → (*S, D).

    Repeated indices accumulate their gradients; the row ``padding_idx`` (if
    given) gets none, as PyTorch. ``max_norm``: each looked-up row whose
    ``norm_type``-norm exceeds it is first scaled down to it, in ``weight``
    itself (outside the graph, as PyTorch's). ``scale_grad_by_freq``: a row's
    gradient is divided by how often its index occurs in ``input``. Sparse
    gradients are not supported (``sparse=True`` raises).
    """
    weight = _tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    if sparse:
        raise ValueError("embedding: sparse=True needs sparse gradients, which minigrad does not have")
    num, _ = weight.shape
    # checked by an op whose output the lookup reads: a compiled function checks and uses each call's indices
    indices = checked_indices(input, weight.device, num, "embedding", lambda value, _low, _high: (
        f"embedding: index {value} is out of range for an embedding of {num} rows "
        f"(indices must be in [0, {num - 1}])"))
    if padding_idx is not None:
        padding_idx = _normalize_padding(padding_idx, num, "embedding")
    if max_norm is not None:
        _renorm_rows(weight, indices.data, _number(max_norm, "embedding", "max_norm"),
                     _number(norm_type, "embedding", "norm_type"))
    return EmbeddingLookup(indices.data, padding_idx, bool(scale_grad_by_freq))(weight)


def _renorm_rows(weight: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    """Scale each row of ``weight`` that ``indices`` names and whose norm exceeds ``max_norm`` down to it,
    in place (as ``torch.embedding_renorm_``: by max_norm / (norm + 1e-7)); nothing is recorded."""
    xp = mg.array_module(weight.data)
    rows = xp.unique(indices.reshape(-1))
    with mg.no_grad():
        picked = weight.data[rows]
        norms = xp.linalg.norm(picked, ord=norm_type, axis=1)
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
            weight[mg.as_tensor(rows[over])] = mg.as_tensor(picked[over] * scale[:, None])


def _normalize_padding(padding_idx: int, num: int, name: str) -> int:
    if not -num <= padding_idx < num:
        raise ValueError(f"{name}: padding_idx {padding_idx} is out of range for {num} embeddings")
    return padding_idx % num


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Inverted dropout: zero each entry with probability ``p`` and scale the rest by 1/(1-p).

    The identity when ``training`` is False or ``p`` is 0. The mask comes
    from the engine's generator on ``input``'s device. ``inplace=True`` gives
    the same values, as a new tensor.
    """
    x = _tensor(input, "dropout")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p!r}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    # mg.rand and the comparison, not raw arrays: an mg.compile replay then draws a fresh mask
    keep = mg.rand(*x.shape, dtype=mg.float32, device=x.device) >= p
    return x * (keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0) elementwise (``inplace=True``: the same values, as a new tensor)."""
    return mg.relu(input)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """Hyperbolic tangent elementwise."""
    return mg.tanh(input)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """1 / (1 + e^{-x}) elementwise."""
    return mg.sigmoid(input)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x · Φ(x), Φ the standard normal CDF, as ``torch.nn.functional.gelu``.

    ``approximate="none"``: Φ(x) = ½(1 + erf(x/√2)); ``"tanh"``:
    ½(1 + tanh(√(2/π)(x + 0.044715 x³))). Any shape in, the same shape out.
    """
    x = _tensor(x, "gelu")
    if not isinstance(approximate, str):   # `approximate == "none"` on an array asks NumPy for a truth value
        raise TypeError(f"gelu(): argument 'approximate' must be str, not {type(approximate).__name__}")
    if approximate == "none":
        if x.dtype.kind != "f":
            raise TypeError(f"gelu: input must be floating point, got {x.dtype}")
        return x * (0.5 * (1.0 + mg.erf(x * (1 / math.sqrt(2.0)))))
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer class indices of shape S → int64 Tensor (*S, num_classes) with a 1 at each index.

    ``num_classes=-1`` takes one more than the largest index (as PyTorch).
    The result records no gradient (indices are not differentiable).
    """
    if isinstance(tensor, Tensor):
        array = tensor.data
    elif mg.is_array(tensor):
        array = tensor
    else:
        raise TypeError(f"one_hot: expected an integer Tensor of class indices, got {type(tensor).__name__}")
    if array.dtype.kind not in "iu":
        raise TargetError(f"one_hot: class indices must be integers, got dtype {array.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, numpy.integer)) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative int, got {num_classes!r}")
    xp = mg.array_module(array)
    indices = tensor if isinstance(tensor, Tensor) else mg.as_tensor(array)
    if num_classes == -1:
        if not array.size:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        # .item(): the output's shape depends on the values (mg.compile runs such a call eagerly)
        num_classes = int(indices.max().item()) + 1
    indices = checked_indices(indices, indices.device, num_classes, "one_hot", lambda value, _low, _high: (
        f"one_hot: class index {value} is out of range for num_classes={num_classes} "
        f"(indices must be in [0, {num_classes - 1}])"))
    with mg.on_device(mg.device_of(array)):
        classes = mg.as_tensor(xp.arange(num_classes))   # depends on num_classes only
    return (indices.unsqueeze(-1) == classes).astype(numpy.int64)


def _axis(axis: int | None, dim: int | None, default: int = -1) -> int:
    if dim is not None:
        if axis is not None and axis != dim:
            raise TypeError(f"give axis= or dim=, not both (axis={axis}, dim={dim})")
        return dim
    return default if axis is None else axis


def _softmax_input(name: str, input: Any, dim: Any, axis: Any, dtype: Any, stacklevel: int) -> tuple:  # noqa: A002
    """The input (cast to ``dtype`` first, as PyTorch) and the axis: ``dim`` (or ``axis=``); neither given,
    PyTorch's implicit choice with its deprecation warning (0 for 0-, 1- and 3-D inputs, else 1)."""
    x = _tensor(input, name)
    if dtype is not None:
        x = x.astype(dtype)
    if dim is None and axis is None:
        return x, _implicit_dim(name, x.ndim, stacklevel + 2)
    return x, _axis(axis, dim)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,  # noqa: A002
            axis: int | None = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim`` (or NumPy's ``axis=``), as ``torch.nn.functional.softmax``."""
    x, axis = _softmax_input("softmax", input, dim, axis, dtype, _stacklevel)
    return mg.softmax(x, axis=axis)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,  # noqa: A002
                axis: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (or NumPy's ``axis=``), as ``torch.nn.functional.log_softmax``."""
    x, axis = _softmax_input("log_softmax", input, dim, axis, dtype, _stacklevel)
    return mg.log_softmax(x, axis=axis)


# --- losses -------------------------------------------------------------------

def _check_reduction(reduction: str, name: str) -> None:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_operand(value: Any, like: Tensor, name: str, what: str = "target") -> Any:
    """A loss's second operand as a Tensor on ``like``'s device (arrays and numbers welcome)."""
    if isinstance(value, Tensor):
        if value.device != like.device:
            raise ValueError(f"{name}: input is on {like.device} but {what} is on {value.device}")
        return value
    if mg.is_array(value):
        return mg.as_tensor(mg.to_device(value, like.device))
    return mg.tensor(value, dtype=like.dtype, device=like.device)


def nll_loss(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,  # noqa: A002
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class ``target`` given ``log_probs``.

    log_probs: (N, C) or (N, C, d1, …) (or (C,) with a 0-d target);
    target: integers (N,) or (N, d1, …), a Tensor or NumPy array; entries equal
    to ``ignore_index`` count for nothing. ``weight``: (C,) per-class weights.
    ``reduction="mean"`` divides by the summed weight of the kept targets. Arguments in PyTorch's
    order, with its deprecated ``size_average``/``reduce`` pair.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction, "nll_loss")
    _check_reduction(reduction, "nll_loss")
    log_probs = _tensor(input, "nll_loss")
    rows, safe, keep, shape = class_targets(log_probs, target, ignore_index, "nll_loss")
    weight = class_weights(weight, log_probs, rows.shape[1], "nll_loss")
    return nll_rows(rows, safe, keep, weight, shape, reduction)


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
    reduction = _legacy_reduction(size_average, reduce, reduction, name)
    _check_reduction(reduction, name)
    logits = _tensor(input, name)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if logits.dtype.kind != "f":
        raise TypeError(f"{name}: logits must be floating point, got {logits.dtype}")
    if logits.ndim == 0:
        raise ValueError(f"{name}: logits need a class dimension: (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    probabilities = target.data if isinstance(target, Tensor) else target
    if mg.is_array(probabilities) and probabilities.dtype.kind == "f" and probabilities.shape == logits.shape:
        return _soft_cross_entropy(logits, target, weight, reduction, label_smoothing)
    rows, safe, keep, shape = class_targets(logits, target, ignore_index, name)
    classes = rows.shape[1]
    weight = class_weights(weight, logits, classes, name)
    log_probs = mg.log_softmax(rows, axis=1)
    loss = nll_rows(log_probs, safe, keep, weight, shape, reduction)
    if label_smoothing == 0.0:
        return loss
    # the uniform part: -Σ_c w_c log p_c per row, zero where the target is ignored
    weighted = log_probs if weight is None else log_probs * weight
    kept = keep   # 1.0 / 0.0 in the logits' dtype
    smooth = -(weighted.sum(axis=1) * kept)
    if reduction == "none":
        smooth = smooth.reshape(shape)
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        denominator = kept.sum() if weight is None else (weight[safe] * kept).sum()
        smooth = weighted_mean(smooth.sum(), denominator)
    return (1.0 - label_smoothing) * loss + smooth * (label_smoothing / classes)


def _soft_cross_entropy(logits: Tensor, target: Any, weight: Any, reduction: str, label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities ``target`` of the logits' shape: -Σ_c w_c·p_c·log q_c
    over the class axis (1, or 0 for a 1-D input); the mean is over the other entries, as PyTorch."""
    name = "cross_entropy"
    target = _as_operand(target, logits, name)
    axis = 1 if logits.ndim >= 2 else 0
    classes = logits.shape[axis]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    products = mg.log_softmax(logits, axis=axis) * target
    weight = class_weights(weight, logits, classes, name)
    if weight is not None:
        products = products * weight.reshape((classes,) + (1,) * (logits.ndim - axis - 1))
    return _reduce(-products.sum(axis=axis), reduction)


def mse_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
             reduction: str = "mean", weight: Any = None) -> Tensor:
    """(input - target)², reduced; target broadcasts against input. As PyTorch's: ``weight`` (the input's
    shape) rescales each element, and the mean is then Σ w·e / Σ w."""
    return _pointwise_loss("mse_loss", input, target, size_average, reduce, reduction, weight,
                           lambda diff: diff * diff)


def l1_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
            reduction: str = "mean", weight: Any = None) -> Tensor:
    """|input - target|, reduced; target broadcasts against input; ``weight`` as in :func:`mse_loss`."""
    return _pointwise_loss("l1_loss", input, target, size_average, reduce, reduction, weight, lambda diff: diff.abs())


def _pointwise_loss(name: str, input: Any, target: Any, size_average: Any, reduce: Any,  # noqa: A002
                    reduction: str, weight: Any, error: Any) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction, name)
    _check_reduction(reduction, name)
    input = _tensor(input, name)
    if not isinstance(target, (int, float)):   # a Python number is meant to broadcast
        target = _as_operand(target, input, name)
        _warn_if_broadcast(input, target, name)
    errors = error(input - target)
    if weight is None:
        return _reduce(errors, reduction)
    weight = _as_operand(weight, input, name, "weight")
    if tuple(getattr(weight, "shape", ())) != input.shape:
        raise ValueError(f"{name}: weight must have the input's shape {input.shape}, got "
                         f"{tuple(getattr(weight, 'shape', ()))}")
    weighted = errors * weight
    return weighted.sum() / weight.sum() if reduction == "mean" else _reduce(weighted, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression, as PyTorch.

    loss = (1 - y)·x + (1 + (pos_weight - 1)·y) · log(1 + e^{-x}), with
    log(1 + e^{-x}) written as m + log(e^{-m} + e^{-x-m}), m = max(-x, 0), so
    no exponential overflows. ``weight`` rescales each element, ``pos_weight``
    the positive class (broadcast along the last axis).
    """
    name = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(size_average, reduce, reduction, name)
    _check_reduction(reduction, name)
    input = _tensor(input, name)
    y = _as_operand(target, input, name)
    if y.shape != input.shape:
        raise ValueError(f"{name}: target shape {y.shape} must equal input shape {input.shape}")
    m = mg.maximum(-input, 0.0)
    softplus_neg = m + mg.log(mg.exp(-m) + mg.exp(-input - m))
    if pos_weight is not None:
        pw = _as_operand(pos_weight, input, name, "pos_weight")
        softplus_neg = (1 + (pw - 1) * y) * softplus_neg
    loss = (1 - y) * input + softplus_neg
    if weight is not None:
        loss = loss * _as_operand(weight, input, name, "weight")
    return _reduce(loss, reduction)


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str, name: str,
                      stacklevel: int = 3) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, when given, decides the reduction (with a warning)."""
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


def _warn_if_broadcast(input: Tensor, target: Tensor, name: str) -> None:  # noqa: A002
    if target.shape != input.shape:
        warnings.warn(f"{name}: target of shape {target.shape} differs from input of shape {input.shape}; "
                      "they broadcast, which is likely not what you meant (as PyTorch warns)", stacklevel=3)


def _check_unit_interval(x: Tensor, name: str, what: str) -> None:
    """Every element of ``x`` in [0, 1] (NaN is not), as PyTorch checks. A Python read of the values: inside
    ``mg.compile`` only the capturing call checks."""
    array = x.data
    if array.size and not bool(((array >= 0) & (array <= 1)).all()):
        raise ValueError(f"{name}: all elements of {what} should be between 0 and 1")


# PyTorch's floor under x(1 - x) in binary_cross_entropy's backward: 1e-12 as a C float, in float64 too
_BCE_EPSILON = float(numpy.float32(1e-12))


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: bool | None = None,  # noqa: A002
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """-w·(y·log x + (1 - y)·log(1 - x)) for probabilities ``input`` x and ``target`` y, as PyTorch.

    input, target: the same shape S, values in [0, 1]; weight broadcasts to S. Each log is clamped
    to >= -100, so x = 0 or 1 gives a finite loss. The input's gradient is PyTorch's hand-written one,
    w·(x - y) / max(x(1 - x), 1e-12): finite at x = 0 and 1 (the clamped logs' own derivative would give
    0·inf = NaN there). The target's gradient is that of the clamped logs.
    """
    name = "binary_cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction, name)
    _check_reduction(reduction, name)
    input = _floating(input, name)
    target = _as_operand(target, input, name)
    if target.shape != input.shape:
        raise ValueError(f"{name}: target shape {target.shape} must equal input shape {input.shape}")
    _check_unit_interval(input, name, "input")
    _check_unit_interval(target, name, "target")
    x = input.detach()
    loss = (target - 1) * mg.clip(mg.log1p(-x), min=-100.0) - target * mg.clip(_log(x), min=-100.0)
    slope = (x - target.detach()) / mg.clip(x * (1 - x), min=_BCE_EPSILON)
    if weight is not None:
        weight = _as_operand(weight, input, name, "weight")
        if _broadcast_shape(weight, target, name) != target.shape:
            raise ValueError(f"{name}: weight of shape {weight.shape} does not broadcast to the input's {input.shape}")
        loss, slope = weight * loss, weight * slope
    return _reduce(_with_gradient(loss, input, slope), reduction)


def _log(x: Tensor) -> Tensor:
    """log x, with log 0 = -inf quietly (the caller clamps it)."""
    with mg.errstate(mg.array_module(x.data), divide="ignore"):
        return mg.log(x)


def smooth_l1_loss(input: Tensor, target: Any, size_average: bool | None = None,  # noqa: A002
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """½d²/β where |d| < β, else |d| - ½β, for d = input - target (broadcast, with a warning); reduced.

    β = 0 is the L1 loss; β must be >= 0. The gradient at |d| = β is ±1 from both sides.
    """
    name = "smooth_l1_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, name)
    _check_reduction(reduction, name)
    beta = _number(beta, name, "beta")
    if beta < 0:
        raise ValueError(f"{name}: beta must be non-negative, got {beta}")
    input = _floating(input, name)
    target = _as_operand(target, input, name)
    _warn_if_broadcast(input, target, name)
    difference = input - target
    distance = difference.abs()
    if beta == 0:
        return _reduce(distance, reduction)
    return _reduce(mg.where(distance < beta, 0.5 * difference * difference / beta, distance - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0,  # noqa: A002
               weight: Any = None) -> Tensor:
    """½d² where |d| < δ, else δ·(|d| - ½δ), for d = input - target (broadcast, with a warning); reduced.

    δ must be > 0; ``weight`` (the input's shape) rescales each element before the reduction.
    """
    name = "huber_loss"
    _check_reduction(reduction, name)
    delta = _number(delta, name, "delta")
    if delta <= 0:
        raise ValueError(f"{name}: delta must be positive, got {delta}")
    input = _floating(input, name)
    target = _as_operand(target, input, name)
    _warn_if_broadcast(input, target, name)
    difference = input - target
    distance = difference.abs()
    loss = mg.where(distance < delta, 0.5 * difference * difference, delta * (distance - 0.5 * delta))
    if weight is not None:
        weight = _as_operand(weight, input, name, "weight")
        if weight.shape != input.shape:
            raise ValueError(f"{name}: weight of shape {weight.shape} must have the input's shape {input.shape}")
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence pointwise: y·(log y - x) for log-probabilities ``input`` x and probabilities ``target`` y
    (0 where y = 0), or e^y·(y - x) with ``log_target=True``; reduced.

    input, target: broadcastable. ``reduction="batchmean"`` divides the sum by the batch size (dim 0), the
    true KL divergence per sample; ``"mean"`` divides by the element count and warns so, as PyTorch.
    """
    name = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction, name)
    elif reduction == "mean":
        warnings.warn(f"{name}: reduction='mean' divides the total loss by both the batch size and the support "
                      "size; 'batchmean' divides by the batch size only, as the KL divergence's definition "
                      "(as PyTorch warns)", stacklevel=2)
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{name}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    input = _floating(input, name)
    target = _as_operand(target, input, name)
    if target.dtype.kind != "f":
        raise TypeError(f"{name}: target must be floating point, got {target.dtype}")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # y·log y with 0·log 0 = 0 (log reads 1 there: no inf·0 forward or backward); NaN for y < 0, as PyTorch
        with mg.errstate(mg.array_module(target.data), invalid="ignore"):
            loss = target * mg.where(target == 0, 1.0, target).log() - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


# --- padding and normalisation ----------------------------------------------------

class ConstantPad(mg.Function):
    """Surround the array with ``value``: ``widths`` is NumPy's ((before, after), …) per axis, all ≥ 0."""

    name = "pad"

    def __init__(self, widths: tuple, value: float) -> None:
        self.widths, self.value = widths, value

    def forward(self, x: Any) -> Any:
        self.inner = tuple(slice(before, before + n) for (before, _), n in zip(self.widths, x.shape))
        return self.xp.pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy: Any) -> Any:
        return gy[self.inner]


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_source(mode: str, n: int, before: int, after: int) -> Any:
    """For each position of the padded axis, the position of the input it copies (non-constant modes)."""
    j = numpy.arange(-before, n + after)
    if mode == "replicate":
        return numpy.clip(j, 0, n - 1)
    if mode == "circular":
        return j % n
    j = numpy.abs(j)                      # reflect about the first element, then about the last
    return numpy.where(j > n - 1, 2 * (n - 1) - j, j)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """Pad (or, with negative amounts in constant mode, crop) the last dims of ``input``, as PyTorch.

    ``pad`` lists (before, after) amounts starting from the LAST dim:
    ``(left, right)`` pads dim -1, ``(left, right, top, bottom)`` dims -1 and
    -2, and so on. ``mode``: ``"constant"`` (fill with ``value``, default 0),
    ``"reflect"`` (mirror without repeating the edge), ``"replicate"`` (repeat
    the edge) or ``"circular"`` (wrap around). x: (*, n) → (*, before + n + after).
    """
    input = _tensor(input, "pad")
    try:
        amounts = [None if isinstance(p, bool) else operator.index(p) for p in pad]
    except TypeError:
        amounts = [None]
    if isinstance(pad, (str, bytes)) or None in amounts:
        raise TypeError(f"pad: pad must be a sequence of ints, got {pad!r}")
    if len(amounts) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(amounts)} amounts {tuple(pad)}")
    if len(amounts) // 2 > input.ndim:
        raise ValueError(f"pad: {len(amounts)} amounts pad {len(amounts) // 2} dims but the input of shape "
                         f"{input.shape} has {input.ndim}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, _PAD_MODES))}, got {mode!r}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(amounts) // 2):
        widths[input.ndim - 1 - i] = (amounts[2 * i], amounts[2 * i + 1])
    if mode == "constant":
        return _constant_pad(input, widths, 0.0 if value is None else value)
    if value not in (None, 0):
        raise ValueError(f"pad: mode {mode!r} does not take a value (got value={value!r})")
    out = input
    for axis, (before, after) in enumerate(widths):
        if (before, after) == (0, 0):
            continue
        n = input.shape[axis]
        limit = {"reflect": n - 1, "circular": n, "replicate": None}[mode]
        if before < 0 or after < 0 or n == 0 or (limit is not None and max(before, after) > limit):
            rule = {"reflect": f"< the dim size {n}", "circular": f"<= the dim size {n}",
                    "replicate": "non-negative on a non-empty dim"}[mode]
            raise ValueError(f"pad: {mode} padding ({before}, {after}) of dim {axis} of an input of shape "
                             f"{input.shape} must be {rule}")
        source = mg.make_array(_pad_source(mode, n, before, after), numpy.int64, input.device)
        out = out[(slice(None),) * axis + (source,)]
    return out


def _constant_pad(x: Tensor, widths: list, value: Any) -> Tensor:
    crop = []
    for axis, ((before, after), n) in enumerate(zip(widths, x.shape)):
        if n + before + after < 0:
            raise ValueError(f"pad: padding ({before}, {after}) of dim {axis} would make its size {n} "
                             f"negative ({n + before + after}) for an input of shape {x.shape}")
        crop.append(slice(max(-before, 0), n - max(-after, 0)))
    if any(before < 0 or after < 0 for before, after in widths):
        x = x[tuple(crop)]   # negative amounts crop, as in PyTorch
    grow = tuple((max(before, 0), max(after, 0)) for before, after in widths)
    if not any(before or after for before, after in grow):
        return x
    return ConstantPad(grow, value)(x)


def _normalized_shape(normalized_shape: Any, name: str) -> tuple:
    """``normalized_shape`` (an int or a sequence of ints) as a tuple."""
    if isinstance(normalized_shape, (int, numpy.integer)):
        normalized_shape = (normalized_shape,)
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        shape = (None,)
    if not all(isinstance(s, (int, numpy.integer)) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise TypeError(f"{name}: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
    return tuple(int(s) for s in shape)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last dims given by ``normalized_shape`` (mean 0, biased variance 1), then scale and shift.

    input: (*, *normalized_shape) → same shape. y = (x - E[x]) / √(Var[x] + eps) · weight + bias,
    with ``weight`` and ``bias`` of shape ``normalized_shape`` (either may be None).
    """
    input = _tensor(input, "layer_norm")
    shape = _normalized_shape(normalized_shape, "layer_norm")
    if not shape or input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end with normalized_shape {shape}")
    for what, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and _tensor(tensor, "layer_norm", what).shape != shape:
            raise ValueError(f"layer_norm: {what} of shape {tensor.shape} must have normalized_shape {shape}")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    centered = input - input.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    out = centered / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) of (N, C, *) over every other dim, as ``torch.nn.functional.batch_norm``.

    ``training``: with the batch's mean and biased variance, and the running estimates (if given) moved
    in place by ``momentum`` towards the batch mean and unbiased variance; else with the running ones.
    Then times ``weight`` and plus ``bias`` (C,), either may be None.
    """
    x = _floating(input, "batch_norm")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dims (N, C, ...), got shape {x.shape}")
    axes = (0, *range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // x.shape[1]
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {x.shape}")
        mean = x.mean(axis=axes)
        centered = x - mean.reshape(shape)
        variance = (centered * centered).mean(axis=axes)
        if running_mean is not None and running_var is not None:
            with mg.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                running_var.mul_(1 - momentum).add_(variance.detach() * (momentum * count / (count - 1)))
        out = centered / (variance.reshape(shape) + eps).sqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not training")
        out = (x - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,  # noqa: A002
             eps: float | None = None) -> Tensor:
    """x / √(mean(x²) + eps) over the last dims given by ``normalized_shape``, then times ``weight``, as
    ``torch.nn.functional.rms_norm``; ``eps=None`` is the input dtype's machine epsilon.

    input: (*, *normalized_shape) → same shape; ``weight`` of shape ``normalized_shape`` (or None).
    """
    input = _floating(input, "rms_norm")
    shape = _normalized_shape(normalized_shape, "rms_norm")
    if not shape or len(shape) > input.ndim or input.shape[input.ndim - len(shape):] != shape:
        raise ValueError(f"rms_norm: input of shape {input.shape} does not end with normalized_shape {shape}")
    if weight is not None and _tensor(weight, "rms_norm", "weight").shape != shape:
        raise ValueError(f"rms_norm: weight of shape {weight.shape} must have normalized_shape {shape}")
    eps = float(numpy.finfo(input.dtype).eps) if eps is None else _number(eps, "rms_norm", "eps")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ((input * input).mean(axis=axes, keepdims=True) + eps).rsqrt()
    return out if weight is None else out * weight


# --- normalisation by a norm, and distances -------------------------------------------

def _with_gradient(value: Tensor, x: Tensor, slope: Any) -> Tensor:
    """``value`` in the forward pass, with d(result)/dx = ``slope`` (elementwise) in the backward pass.

    value + slope·(x - x.detach()): the added term is exactly 0. For PyTorch functions whose backward
    is not the derivative of their forward: a clamp done without gradient (``cosine_similarity``), a
    backward written by hand (``binary_cross_entropy``). ``value`` and ``slope`` must not depend on ``x``'s graph.
    """
    if isinstance(slope, Tensor):
        slope = slope.detach()
    return value + slope * (x - x.detach())


def _broadcast_shape(a: Tensor, b: Tensor, name: str) -> tuple:
    try:
        return tuple(mg.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast") from None


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """x / max(‖x‖_p, eps) along ``dim``: each slice along ``dim`` gets p-norm 1 (a zero slice stays 0).

    Any shape in, the same shape out. The clamp is ``clamp_min`` (no gradient to the norm below ``eps``), as PyTorch.
    """
    x = _floating(input, "normalize")
    norm = x.norm(_number(p, "normalize", "p"), _dim(dim, x.ndim, "normalize"), keepdim=True)
    return x / mg.clip(norm, min=_number(eps, "normalize", "eps"))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x1/‖x1‖)·(x2/‖x2‖) along ``dim``, each norm at least ``eps``, as PyTorch.

    x1, x2: broadcastable shapes S → S without ``dim``. As in PyTorch, each vector is divided by its
    norm first (so the result stays in [-1, 1]), and the clamp to ``eps`` is made without gradient:
    a vector shorter than ``eps`` still sends the norm's gradient back.
    """
    name = "cosine_similarity"
    x1, x2, eps = _floating(x1, name), _floating(x2, name), _number(eps, name, "eps")
    shape = _broadcast_shape(x1, x2, name)
    axis = _dim(dim, len(shape), name)
    x1, x2 = mg.broadcast_tensors(x1, x2)

    def unit(x: Tensor) -> Tensor:
        norm = x.norm(2, axis, keepdim=True)
        return x / _with_gradient(norm.detach().clip(min=eps), norm, 1.0)

    return (unit(x1) * unit(x2)).sum(axis)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x1 - x2 + eps‖_p along the last dim, as PyTorch (``eps`` keeps the norm's gradient finite at x1 = x2).

    x1, x2: broadcastable (*, D) → (*) ((*, 1) with ``keepdim``); integers become float32.
    """
    name = "pairwise_distance"
    x1, x2 = _promoted(x1, name), _promoted(x2, name)
    shape = _broadcast_shape(x1, x2, name)
    difference = x1 - x2 + _number(eps, name, "eps")
    return difference.norm(_number(p, name, "p"), -1 if shape else None, keepdim=bool(keepdim))
