"""Stateless layers and losses (``from nn import functional as F``), as ``torch.nn.functional``.

Nearly everything here is composed from the engine's ops, so each function's
gradient is the engine's and shows up op by op in the graph drawings. Two
small ops bring their own backward: :class:`EmbeddingLookup` (a gather that
leaves the padding row without gradient) and :class:`ConstantPad` (``gelu``'s
erf is the engine's ``mg.erf``). Axis arguments are NumPy's ``axis=``; PyTorch's
``dim=`` is accepted as well.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._targets import TargetError, checked_indices, class_targets, class_weights, nll_rows, weighted_mean

__all__ = [
    "TargetError", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "embedding", "gelu", "l1_loss",
    "layer_norm", "linear", "log_softmax", "mse_loss", "nll_loss", "one_hot", "pad", "relu", "sigmoid", "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


def _tensor(x: Any, name: str, what: str = "input") -> Tensor:
    """``x`` if it is a Tensor, else a TypeError naming the function and the argument."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(x).__name__}")
    return x


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

    def __init__(self, indices: Any, padding_idx: int | None) -> None:
        self.indices, self.padding_idx = indices, padding_idx

    def forward(self, weight: Any) -> Any:
        self.weight_shape = weight.shape
        return weight[self.indices]

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        rows = gy.reshape(-1, gy.shape[-1])
        flat = self.indices.reshape(-1)
        if self.padding_idx is not None:
            rows = rows * (flat != self.padding_idx)[:, None]
        gw = xp.zeros(self.weight_shape, dtype=gy.dtype)
        # scatter element by element into the flat table: the same sums in the same order as
        # scatter_add(gw, flat, rows), but NumPy's add.at runs 3-7x faster on a 1-D target
        width = rows.shape[-1]
        mg.scatter_add(xp, gw.reshape(-1), (flat[:, None] * width + xp.arange(width)).reshape(-1), rows.reshape(-1))
        return gw


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """Rows of ``weight`` (V, D) picked by integer indices ``input`` (any shape S) → (*S, D).

    Repeated indices accumulate their gradients; the row ``padding_idx`` (if
    given) gets none, as PyTorch.
    """
    weight = _tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    num, _ = weight.shape
    # checked by an op whose output the lookup reads: a compiled function checks and uses each call's indices
    indices = checked_indices(input, weight.device, num, "embedding", lambda value, _low, _high: (
        f"embedding: index {value} is out of range for an embedding of {num} rows "
        f"(indices must be in [0, {num - 1}])"))
    if padding_idx is not None:
        padding_idx = _normalize_padding(padding_idx, num, "embedding")
    return EmbeddingLookup(indices.data, padding_idx)(weight)


def _normalize_padding(padding_idx: int, num: int, name: str) -> int:
    if not -num <= padding_idx < num:
        raise ValueError(f"{name}: padding_idx {padding_idx} is out of range for {num} embeddings")
    return padding_idx % num


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each entry with probability ``p`` and scale the rest by 1/(1-p).

    The identity when ``training`` is False or ``p`` is 0. The mask comes
    from the engine's generator on ``x``'s device.
    """
    x = _tensor(x, "dropout")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p!r}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    # mg.rand and the comparison, not raw arrays: an mg.compile replay then draws a fresh mask
    keep = mg.rand(*x.shape, dtype=mg.float32, device=x.device) >= p
    return x * (keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))


def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise."""
    return mg.relu(x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise."""
    return mg.tanh(x)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^{-x}) elementwise."""
    return mg.sigmoid(x)


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


def softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``axis`` (default -1; ``dim=`` is PyTorch's spelling)."""
    return mg.softmax(x, axis=_axis(axis, dim))


def log_softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``axis`` (default -1; ``dim=`` is PyTorch's spelling)."""
    return mg.log_softmax(x, axis=_axis(axis, dim))


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


def nll_loss(log_probs: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class ``target`` given ``log_probs``.

    log_probs: (N, C) or (N, C, d1, …) (or (C,) with a 0-d target);
    target: integers (N,) or (N, d1, …), a Tensor or NumPy array; entries equal
    to ``ignore_index`` count for nothing. ``weight``: (C,) per-class weights.
    ``reduction="mean"`` divides by the summed weight of the kept targets.
    """
    _check_reduction(reduction, "nll_loss")
    log_probs = _tensor(log_probs, "nll_loss")
    rows, safe, keep, shape = class_targets(log_probs, target, ignore_index, "nll_loss")
    weight = class_weights(weight, log_probs, rows.shape[1], "nll_loss")
    return nll_rows(rows, safe, keep, weight, shape, reduction)


def cross_entropy(logits: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between ``logits`` and integer class ``target``, as PyTorch.

    logits: (N, C) or (N, C, d1, …) — e.g. (N, C, T) for a sequence — or (C,)
    with a 0-d target; target: (N,) or (N, d1, …) integers (Tensor or NumPy
    array), or floating class probabilities of the logits' shape. Computed
    as ``log_softmax`` then a gather, so it is stable for logits of any size.
    Targets equal to ``ignore_index`` are skipped and the mean is over the
    kept ones. ``label_smoothing`` ε mixes in the uniform
    distribution: (1-ε)·nll + ε/C·Σ_c(-w_c log p_c).
    """
    name = "cross_entropy"
    _check_reduction(reduction, name)
    logits = _tensor(logits, name)
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


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """(input - target)², reduced; target broadcasts against input."""
    _check_reduction(reduction, "mse_loss")
    input = _tensor(input, "mse_loss")
    diff = input - _as_operand(target, input, "mse_loss")
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """|input - target|, reduced; target broadcasts against input."""
    _check_reduction(reduction, "l1_loss")
    input = _tensor(input, "l1_loss")
    return _reduce((input - _as_operand(target, input, "l1_loss")).abs(), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression, as PyTorch.

    loss = (1 - y)·x + (1 + (pos_weight - 1)·y) · log(1 + e^{-x}), with
    log(1 + e^{-x}) written as m + log(e^{-m} + e^{-x-m}), m = max(-x, 0), so
    no exponential overflows. ``weight`` rescales each element, ``pos_weight``
    the positive class (broadcast along the last axis).
    """
    name = "binary_cross_entropy_with_logits"
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
