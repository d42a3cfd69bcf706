"""Losses as modules (``nn.CrossEntropyLoss()(logits, target)``), as ``torch.nn``'s, and the two distances
PyTorch keeps beside them (``CosineSimilarity``, ``PairwiseDistance``).

Each module holds its options and calls the function of the same name in
:mod:`nn.functional`. Constructor arguments come in PyTorch's positional order,
including its deprecated ``size_average``/``reduce`` pair; class ``weight`` and ``pos_weight`` are buffers, so they
follow ``model.to(...)`` and appear in the state dict as in PyTorch.
"""

from __future__ import annotations

import sys
from typing import Any

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from ._errors import InputShapeError
from ._reduction import REDUCTIONS, legacy_reduction
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CosineSimilarity", "CrossEntropyLoss", "HuberLoss", "KLDivLoss",
           "L1Loss", "MSELoss", "NLLLoss", "PairwiseDistance", "SmoothL1Loss"]


def _buffer(value: Any, name: str, what: str, dtype: Any, device: Any) -> Tensor | None:
    """An optional weight as a float Tensor (kept as given when it already is one)."""
    if value is None or isinstance(value, Tensor):
        return value
    try:
        return mg.tensor(value, dtype=dtype, device=device)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: {what} must be a Tensor or numbers, got {type(value).__name__}") from error


class _Loss(Module):
    """PyTorch's base of the losses: ``reduction`` ('mean', 'sum' or 'none'), or the deprecated
    ``size_average``/``reduce`` pair that decides it (with a warning pointing at the line that built the
    loss). A loss written as PyTorch's (``super().__init__(reduction=reduction)``) subclasses it as is."""

    reductions = REDUCTIONS

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        name = type(self).__name__
        level = 3   # legacy_reduction's warning: at this method's caller (3), or above the subclasses' __init__s
        if size_average is not None or reduce is not None:
            frame = sys._getframe(1)
            while frame.f_back is not None and frame.f_locals.get("self") is self:
                level, frame = level + 1, frame.f_back
        reduction = legacy_reduction(size_average, reduce, reduction, name, stacklevel=level)
        if not isinstance(reduction, str) or reduction not in self.reductions:
            *others, last = map(repr, self.reductions)
            raise ValueError(f"{name}: reduction must be {', '.join(others)} or {last}, got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with a per-class ``weight`` (a buffer, None when not given), as PyTorch's ``_WeightedLoss``."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight, type(self).__name__, "weight", dtype, device))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, …) against class indices (N,) or (N, d1, …).

    ``weight`` (C,) rescales each class; targets equal to ``ignore_index``
    count for nothing; ``label_smoothing`` ε mixes in the uniform distribution.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0,
                 *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(weight, size_average, reduce, reduction, device=device, dtype=dtype)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C), (N, C, d1, …) or (C,); target: (N,)/(N, d1, …) indices or input-shaped probs → () with
        'mean'/'sum'."""
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (e.g. from ``LogSoftmax``)."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(weight, size_average, reduce, reduction, device=device, dtype=dtype)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input: (N, C), (N, C, d1, …) or (C,) log-probabilities; target: (N,)/(N, d1, …) indices → () with
        'mean'/'sum'."""
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error: (input - target)², reduced; any shape."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input, target: broadcastable shapes S → () with 'mean'/'sum', S with 'none'."""
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: |input - target|, reduced; any shape."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input, target: broadcastable shapes S → () with 'mean'/'sum', S with 'none'."""
        return F.l1_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable expression; ``pos_weight`` weighs the positives
    (broadcast along the last dim, e.g. one per class), ``weight`` each element."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Any = None, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight, "BCEWithLogitsLoss", "weight", dtype, device))
        self.register_buffer("pos_weight", _buffer(pos_weight, "BCEWithLogitsLoss", "pos_weight", dtype, device))

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input (logits), target: the same shape S → () with 'mean'/'sum', S with 'none'."""
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (e.g. after ``Sigmoid``) against targets in [0, 1], the same shape;
    ``weight`` rescales each element (broadcast). Each log is clamped to >= -100, as PyTorch."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(weight, size_average, reduce, reduction, device=device, dtype=dtype)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input (probabilities), target: the same shape S → () with 'mean'/'sum', S with 'none'."""
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """½d²/β where |d| < β, else |d| - ½β, for d = input - target; β = 0 is the L1 loss. Any shape."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        if not beta >= 0:   # NaN too; ValueError, and PyTorch's RuntimeError (its forward's)
            raise InputShapeError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input, target: broadcastable shapes S → () with 'mean'/'sum', S with 'none'."""
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """½d² where |d| < δ, else δ·(|d| - ½δ), for d = input - target (δ > 0). Any shape."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(reduction=reduction)
        if not delta > 0:   # NaN too; ValueError, and PyTorch's RuntimeError (its forward's)
            raise InputShapeError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input, target: broadcastable shapes S → () with 'mean'/'sum', S with 'none'."""
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence y·(log y - x) of log-probabilities ``input`` x from probabilities ``target`` y (or log-
    probabilities with ``log_target=True``). ``reduction="batchmean"`` is the true KL divergence per sample;
    ``"mean"`` (PyTorch's default) divides by the element count, and warns so on each call, as PyTorch."""

    reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """input (log-probs), target: broadcastable shapes S → () ('batchmean'/'mean'/'sum'), S with 'none'."""
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along ``dim``: broadcastable shapes S → S without ``dim``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """x1, x2: broadcastable shapes S → S without ``dim``."""
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """‖x1 - x2 + eps‖_p along the last dim: (*, D) → (*) ((*, 1) with ``keepdim``). ``norm`` is p, as PyTorch's."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """x1, x2: broadcastable (*, D) → (*) ((*, 1) with ``keepdim``)."""
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
