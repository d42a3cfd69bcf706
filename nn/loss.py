"""Losses as modules (``nn.CrossEntropyLoss()(logits, target)``), as ``torch.nn``'s.

Each module holds its options and calls the function of the same name in
:mod:`nn.functional`. Constructor arguments come in PyTorch's positional order,
including its deprecated ``size_average``/``reduce`` pair; class ``weight`` and ``pos_weight`` are buffers, so they
follow ``model.to(...)`` and appear in the state dict as in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from .module import Module

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]


def _buffer(value: Any, name: str, what: str, dtype: Any, device: Any) -> Tensor | None:
    """An optional weight as a float Tensor (kept as given when it already is one)."""
    if value is None or isinstance(value, Tensor):
        return value
    try:
        return mg.tensor(value, dtype=dtype, device=device)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: {what} must be a Tensor or numbers, got {type(value).__name__}") from error


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str, name: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, when given, decides the reduction (with a warning)."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(f"{name}: size_average and reduce are deprecated (as in PyTorch); use reduction=", stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


class _Loss(Module):
    def __init__(self, reduction: str, name: str, size_average: bool | None = None,
                 reduce: bool | None = None) -> None:
        super().__init__()
        reduction = _legacy_reduction(size_average, reduce, reduction, name)
        if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, …) against class indices (N,) or (N, d1, …).

    ``weight`` (C,) rescales each class; targets equal to ``ignore_index``
    count for nothing; ``label_smoothing`` ε mixes in the uniform distribution.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0,
                 *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(reduction, "CrossEntropyLoss", size_average, reduce)
        self.register_buffer("weight", _buffer(weight, "CrossEntropyLoss", "weight", dtype, device))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices given log-probabilities (e.g. from ``LogSoftmax``)."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(reduction, "NLLLoss", size_average, reduce)
        self.register_buffer("weight", _buffer(weight, "NLLLoss", "weight", dtype, device))
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error: (input - target)², reduced; any shape."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(reduction, "MSELoss", size_average, reduce)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: |input - target|, reduced; any shape."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(reduction, "L1Loss", size_average, reduce)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable expression; ``pos_weight`` weighs the positives
    (broadcast along the last dim, e.g. one per class), ``weight`` each element."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Any = None, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(reduction, "BCEWithLogitsLoss", size_average, reduce)
        self.register_buffer("weight", _buffer(weight, "BCEWithLogitsLoss", "weight", dtype, device))
        self.register_buffer("pos_weight", _buffer(pos_weight, "BCEWithLogitsLoss", "pos_weight", dtype, device))

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
