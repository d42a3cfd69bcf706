"""``linear_cross_entropy``: cross entropy of a linear projection, PyTorch 2.13's fused classifier-head loss.

``linear_cross_entropy(input, linear_weight, target, ...)`` is, in value and gradient,
``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` (PyTorch's reference path, written here
once from those two ops, so the engine differentiates it). ``linear_weight`` (C, d1, …, dK, in) gives the
K-dimensional loss: logits (N, C, d1, …, dK).

PyTorch's ``options`` (:class:`LinearCrossEntropyOptions`) pick a chunked path that never holds the whole
(N, C) logits; it changes memory, not values. Here options are validated and resolved as PyTorch's (the same
errors, and the same warning where PyTorch falls back to the reference path), then the reference path runs:
minigrad's graph holds the logits either way. Unlike PyTorch's chunked path, a second ``backward`` with
``retain_graph=True`` works without ``allow_retain_graph``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from minigrad import Tensor

from ._arguments import _same_dtype, _tensor
from ._common_losses import cross_entropy

__all__ = ["LinearCrossEntropyOptions", "linear_cross_entropy"]

_ACC_POLICIES = ("accurate", "balanced", "compact", "auto")


def _dtype_name(dtype: Any) -> str:
    """'float32' for mg.float32, numpy.float32, numpy.dtype('float32') or the string."""
    return str(getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or dtype).removeprefix("torch.")


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """The chunking options of :func:`linear_cross_entropy` (PyTorch's ``torch.nn.LinearCrossEntropyOptions``).

    ``batch_chunk_size`` rows per chunk (None: one chunk), or ``chunking_method`` ``"auto"``,
    ``"aspect_ratio"``, ``"aspect_ratio:N"`` or None; ``acc_policy`` ``"accurate"``, ``"balanced"``,
    ``"compact"`` or ``"auto"``; ``acc_dtype`` a float dtype or None; ``allow_retain_graph``. They are checked
    as PyTorch checks them; minigrad computes the same values with or without them (only memory would differ).
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            factor = factor if sep else "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if not (self.batch_chunk_size is None or (isinstance(self.batch_chunk_size, int)
                                                  and self.batch_chunk_size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {self.batch_chunk_size!r}")
        if self.acc_dtype is not None and _dtype_name(self.acc_dtype) not in ("float16", "bfloat16", "float32",
                                                                            "float64"):
            raise ValueError(f"acc_dtype must be one of {{None, float16, bfloat16, float32, float64}}, got "
                             f"{self.acc_dtype!r}. Pass acc_dtype=None to let the op pick automatically.")

    def chunk_size(self, num_batches: int, in_features: int, num_classes: int) -> int:
        """The batch rows per chunk PyTorch's chunked path would use on the CPU for float32/float64 input
        (``ValueError`` where ``batch_chunk_size`` and ``chunking_method`` disagree, as PyTorch's)."""
        method = self.chunking_method
        if method == "auto":
            method = None if self.batch_chunk_size is not None else "aspect_ratio:2"
        size = num_batches if self.batch_chunk_size is None else min(self.batch_chunk_size, num_batches)
        if method is not None:
            factor = int(method.split(":", 1)[1]) if ":" in method else 1
            wanted = -(-num_batches // -(-num_classes // in_features))
            size = min((1 << (wanted - 1).bit_length()) // factor, num_batches)
            if self.batch_chunk_size is not None and self.batch_chunk_size != size:
                raise ValueError(f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method ('{method}') give "
                                 f"different chunk sizes ({self.batch_chunk_size} vs {size}); pass only one.")
        return max(1, size)


def _check_acc_dtype(acc_dtype: Any, dtype: Any) -> None:
    """An ``acc_dtype`` the chunked path takes for inputs of ``dtype``: their own, or float32 for float16/bfloat16
    ones (PyTorch's RuntimeError otherwise; None picks one)."""
    if acc_dtype is None:
        return
    acc, given = _dtype_name(acc_dtype), _dtype_name(dtype)
    if acc != given and not (given in ("float16", "bfloat16") and acc == "float32"):
        raise RuntimeError(f"linear_cross_entropy supports float32 acc_dtype with float16/bfloat16 inputs, but got "
                           f"{acc} acc_dtype and {given} inputs.")


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Any, *,  # noqa: A002 - PyTorch's name
                         linear_bias: Tensor | None = None, weight: Tensor | None = None, reduction: str = "mean",
                         ignore_index: int | None = None, label_smoothing: float = 0.0,
                         options: LinearCrossEntropyOptions | None = None) -> Tensor:
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` (torch 2.13's fused form).

    input: (in,) or (N, in); linear_weight: (C, in) or (C, d1, …, dK, in) (K ≥ 1 needs batched input);
    linear_bias: (C, d1, …, dK); target: class indices (), (N,) or (N, d1, …, dK), or probabilities of the
    logits' shape (N, C, d1, …, dK) (then ``ignore_index`` must stay None). ``ignore_index=None`` means -100.
    Returns the loss: a scalar, or with ``reduction='none'`` the target's (index) shape.
    """
    name = "linear_cross_entropy"
    x, linear_weight = _tensor(input, name), _tensor(linear_weight, name, "linear_weight")
    if x.ndim < 1 or x.ndim > 2:
        raise RuntimeError(f"{name}: expected input with dimensionality 1 or 2, got {x.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"{name}: expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}")
    num_batches, in_features = tuple(x.shape[:-1]), x.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"{name}: expected equal input and linear_weight last dimensions (in_features), got "
                           f"{in_features} and {linear_weight.shape[-1]}, respectively")
    num_classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None:
        linear_bias = _tensor(linear_bias, name, "linear_bias")
        if tuple(linear_bias.shape) != (num_classes, *out_features):
            raise RuntimeError(f"{name}: expected linear_bias shape {(num_classes, *out_features)}, got "
                               f"{tuple(linear_bias.shape)}")
    _same_dtype(name, input=x, linear_weight=linear_weight, linear_bias=linear_bias)   # PyTorch's matmul refuses
    if out_features and not num_batches:
        raise RuntimeError(f"{name}: K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} "
                           f"requires batched input, (N, {in_features}), got unbatched input with shape "
                           f"{tuple(x.shape)}")
    logits_shape = (*num_batches, num_classes, *out_features)
    target_shape = tuple(getattr(target, "shape", ()))
    if target_shape == logits_shape and ignore_index is not None:
        raise RuntimeError(f"{name}: ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if options is not None:
        chunked = (not out_features and reduction in ("mean", "sum", "none") and label_smoothing == 0.0
                   and str(getattr(target, "dtype", "")) == "int64")
        if not chunked:
            warnings.warn(
                "linear_cross_entropy: ``options`` ignored; chunked path needs reduction in {'mean','sum','none'}, "
                "label_smoothing == 0, target.dtype == int64, out_features == (). Got "
                f"reduction={reduction!r}, label_smoothing={label_smoothing}, "
                f"target.dtype={getattr(target, 'dtype', None)}, out_features={out_features}, tracing=False, "
                f"linear_bias.shape={tuple(linear_bias.shape) if linear_bias is not None else None}.", stacklevel=2)
        else:   # the same errors as PyTorch's chunked path; the values are the reference path's
            options.chunk_size(num_batches[0] if num_batches else 1, in_features, num_classes)
            _check_acc_dtype(options.acc_dtype, x.dtype)
    if out_features:
        flat = math.prod(out_features, start=num_classes)
        linear_weight = linear_weight.reshape(flat, in_features)
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(flat)
    logits = x @ linear_weight.T   # F.linear, whose checks ran above (functional imports this module)
    if linear_bias is not None:
        logits = logits + linear_bias
    logits = logits.reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)
