"""``ReduceLROnPlateau``, as ``torch.optim.lr_scheduler``'s (re-exported by :mod:`nn.optim.lr_scheduler`): the
schedule driven by a metric rather than by the epoch count. Its ``step(metric)`` lowers each group's lr
when the metric has stopped improving.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import minigrad as mg

from .checks import invalid, is_number, scalar_of
from .lr_scheduler_base import LRScheduler, lr_value, set_lr
from .optimizer import Optimizer

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    ``step(metric)`` once per epoch. mode "min" (lower is better) or "max";
    an improvement beats the best by ``threshold`` relative (``threshold_mode="rel"``)
    or absolute ("abs"). After a reduction, ``cooldown`` epochs are not counted.
    The lr never goes below ``min_lr`` (one number, or one per group), and a
    change smaller than ``eps`` is skipped.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        if not is_number(factor) or not factor < 1.0:
            raise invalid(factor, f"ReduceLROnPlateau: Factor should be < 1.0, got factor={factor!r}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: {type(optimizer).__name__} is not an Optimizer")
        self.factor = factor
        self.optimizer = optimizer
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise ValueError(f"ReduceLROnPlateau: expected {groups} min_lrs, got {len(min_lr)}")
            self.default_min_lr, self.min_lrs = None, list(min_lr)
        else:
            self.default_min_lr, self.min_lrs = min_lr, [min_lr] * groups
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = [lr_value(group["lr"]) for group in optimizer.param_groups]
        self._set_mode(mode, threshold, threshold_mode)
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    def _set_mode(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise invalid(mode, f"ReduceLROnPlateau: mode {mode!r} is unknown! (use 'min' or 'max')", kind=str)
        if threshold_mode not in ("rel", "abs"):
            raise invalid(threshold_mode, f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown! "
                                          "(use 'rel' or 'abs')", kind=str)
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number or 0-d Tensor); reduce the lr after ``patience`` bad epochs."""
        try:
            current = float(metrics.item() if isinstance(metrics, mg.Tensor) else metrics)
        except (TypeError, ValueError) as error:
            raise type(error)(f"ReduceLROnPlateau.step: metrics must be a number or a 1-element Tensor, got "
                              f"{metrics!r} ({error})") from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn("The epoch parameter in scheduler.step() is deprecated (as in PyTorch)", UserWarning,
                          stacklevel=2)
        self.last_epoch = epoch
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0          # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [lr_value(group["lr"]) for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups but min_lrs "
                                   f"has {len(self.min_lrs)} (a group was added); set min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(scalar_of(group["lr"]))   # as PyTorch's float(lr)
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                set_lr(group, new_lr)

    def load_state_dict(self, state_dict: dict) -> None:
        values = self._checked_state(state_dict)
        mode = values.get("mode", self.mode)
        threshold_mode = values.get("threshold_mode", self.threshold_mode)
        probe = ReduceLROnPlateau.__new__(ReduceLROnPlateau)
        probe._set_mode(mode, values.get("threshold", self.threshold), threshold_mode)  # raises before any change
        self.__dict__.update(values)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)
