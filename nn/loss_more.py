"""Margin, ranking, embedding and likelihood losses as modules, as ``torch.nn``'s: ``GaussianNLLLoss``,
``PoissonNLLLoss``, ``MarginRankingLoss``, ``HingeEmbeddingLoss``, ``SoftMarginLoss``,
``MultiLabelSoftMarginLoss``, ``CosineEmbeddingLoss``, ``TripletMarginLoss``, ``MultiMarginLoss``,
``MultiLabelMarginLoss``, ``TripletMarginWithDistanceLoss``, ``CTCLoss`` and ``LinearCrossEntropyLoss``.

Each holds its options (constructor arguments in PyTorch's positional order, with its deprecated
``size_average``/``reduce`` pair) and calls the function of the same name in :mod:`nn.functional`; a class
``weight`` is a buffer, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

from minigrad import Tensor

from . import functional as F
from ._linear_cross_entropy import LinearCrossEntropyOptions
from .layers import Linear
from .loss import PairwiseDistance, _Loss, _WeightedLoss

__all__ = ["CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MarginRankingLoss", "MultiLabelMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "SoftMarginLoss", "TripletMarginLoss",
           "TripletMarginWithDistanceLoss", "CTCLoss", "LinearCrossEntropyLoss"]


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of ``target`` under N(input, var): ½(log var + (input - target)²/var),
    var clamped to ``eps`` (plus ½log 2π with ``full``). Called as ``loss(input, target, var)``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Any, var: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, *); target: broadcasts; var: input's shape or one dim short, or float → () with 'mean'/'sum'."""
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of ``target`` counts given a log-rate input (``log_input``) or a rate."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average: bool | None = None, eps: float = 1e-8,
                 reduce: bool | None = None, reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Any) -> Tensor:
        """log_input (the log-rate or the rate), target: broadcastable shapes S → () with 'mean'/'sum', S with
        'none'."""
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, -target·(input1 - input2) + margin): ``loss(input1, input2, target)`` with target ±1."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        """input1, input2, target (±1): broadcastable, same ndim, shape S → () with 'mean'/'sum', S with 'none'."""
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where target = 1, max(0, margin - x) where target = -1, for distances x; any shape."""

    def __init__(self, margin: float = 1.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input (distances): any shape S; target (±1): broadcasts → () with 'mean'/'sum', S with 'none'."""
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + e^{-target·input}) with target ±1 (two-class logistic loss); any shape."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean", *,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input, target (±1): broadcastable shapes S → () with 'mean'/'sum', S with 'none'."""
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """One-vs-all logistic loss per class, averaged over the classes: input (N, C), target in [0, 1] (N, C);
    ``weight`` (C,) rescales each class."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(weight, size_average, reduce, reduction, device=device, dtype=dtype)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input: (N, C); target in [0, 1]: (N, C) → () with 'mean'/'sum', (N,) with 'none'."""
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1: ``loss(x1, x2, target)``
    with x1, x2 (N, D) and target (N,)."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        """input1, input2: (N, D) or (D,); target (±1): (N,) or () → () with 'mean'/'sum', (N,) with 'none'."""
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, margin + ‖a - p‖ - ‖a - n‖) (p-norms over the last dim): ``loss(anchor, positive, negative)``,
    each (N, D); ``swap`` uses the closer of a and p to n."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean", *,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        """anchor, positive, negative: (N, D) or (D,) → () with 'mean'/'sum', (N,) with 'none'."""
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)



class TripletMarginWithDistanceLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)) for a ``distance_function`` d (default: a :class:`PairwiseDistance`
    submodule, as PyTorch's): ``loss(anchor, positive, negative)``; ``swap`` uses the closer of a and p to n."""

    def __init__(self, *, distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean", device: Any = None, dtype: Any = None) -> None:
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        """anchor, positive, negative: e.g. (N, D) → () with 'mean'/'sum', (N,) with 'none'."""
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function, margin=self.margin,
                                                   swap=self.swap, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss Σ_{i ≠ y} max(0, margin - x_y + x_i)^p / C: input (N, C), target (N,) class
    indices; ``weight`` (C,) rescales by the target's class."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        if weight is not None and getattr(weight, "ndim", 1) != 1:
            raise ValueError("MultiMarginLoss: weight must be one-dimensional")
        super().__init__(weight, size_average, reduce, reduction, device=device, dtype=dtype)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got {p!r}")
        self.p, self.margin = p, margin

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input: (N, C) or (C,); target: (N,) class indices → () with 'mean'/'sum', (N,) with 'none'."""
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss: input (N, C), target (N, C) of class indices ended by -1; see
    ``F.multilabel_margin_loss``."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean", *,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input: (N, C) or (C,); target: input-shaped indices ended by -1 → () with 'mean'/'sum', (N,) 'none'."""
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss: ``loss(log_probs, targets, input_lengths, target_lengths)``
    with log_probs (T, N, C) (or (T, C)), targets (N, S) padded or concatenated, lengths (N,); see
    ``F.ctc_loss``. ``blank`` is the blank label's index; ``zero_infinity`` zeroes impossible alignments."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Any, input_lengths: Any, target_lengths: Any) -> Tensor:
        """log_probs: (T, N, C); targets: (N, S) or concatenated; lengths: (N,) → () ((N,) with 'none')."""
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                          reduction=self.reduction, zero_infinity=self.zero_infinity)


class LinearCrossEntropyLoss(_WeightedLoss):
    """Cross entropy of ``self.linear(input)`` against ``target`` (torch 2.13's ``nn.LinearCrossEntropyLoss``):
    a classifier head and its loss in one module; see ``F.linear_cross_entropy``.

    ``self.linear`` is a ``Linear(in_features, num_classes * prod(out_features), bias=bias)`` whose weight is
    read as (num_classes, *out_features, in_features): input (in,) or (N, in), target (), (N,) or
    (N, *out_features) class indices, or (N, num_classes, *out_features) probabilities.
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple[int, ...] = (), bias: bool = False,
                 device: Any = None, dtype: Any = None, reduction: str = "mean", weight: Any = None,
                 ignore_index: int | None = None, label_smoothing: float = 0.0,
                 options: LinearCrossEntropyOptions | None = None) -> None:
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"LinearCrossEntropyLoss: expected weight shape to be {(num_classes,)}, got "
                               f"{tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"LinearCrossEntropyLoss: expected label_smoothing to be in range [0, 1], got "
                               f"{label_smoothing}")
        super().__init__(weight=weight, reduction=reduction)
        self.num_classes, self.out_features = num_classes, out_features
        self.ignore_index, self.label_smoothing, self.options = ignore_index, label_smoothing, options
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes), bias=bias, device=device,
                             dtype=dtype)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (in,) or (N, in); target: (), (N,) or (N, *out_features) indices → () with 'mean'/'sum'."""
        linear_weight = self.linear.weight.reshape(self.num_classes, *self.out_features, self.linear.in_features)
        linear_bias = (self.linear.bias.reshape(self.num_classes, *self.out_features)
                       if self.linear.bias is not None else None)
        return F.linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=self.weight,
                                      reduction=self.reduction, ignore_index=self.ignore_index,
                                      label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
