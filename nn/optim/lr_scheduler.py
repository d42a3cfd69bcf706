"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: StepLR, ExponentialLR, CosineAnnealingLR,
LambdaLR and ReduceLROnPlateau.

A scheduler changes ``optimizer.param_groups[i]["lr"]`` when its ``step()`` is
called (once per epoch, after ``optimizer.step()``), exactly as PyTorch's do:
the same formulas in the same (recursive) form, so the learning rates agree
with PyTorch's to the last bit over many epochs. A 0-d Tensor ``lr`` is
written in place. Constructing a scheduler records ``initial_lr`` in each
group and makes the first (epoch 0) step.

``state_dict()`` holds the schedule's counters and settings (never the
optimizer); ``load_state_dict`` checks it before taking any of it. A
``LambdaLR`` saves no functions, only the attributes of callable objects, as
PyTorch does.
"""

from __future__ import annotations

import math
import types
import warnings
from typing import Any, Callable

import minigrad as mg

from .checks import is_number
from .optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "ReduceLROnPlateau", "StepLR"]


def _lr_value(lr: Any) -> Any:
    """A group's lr as get_last_lr gives it: a number, or a copy of a Tensor lr (never an alias)."""
    return mg.tensor(lr) if isinstance(lr, mg.Tensor) else lr


def _set_lr(group: dict, value: float) -> None:
    """Set a group's lr; a Tensor lr keeps its object and changes its value, as PyTorch's ``fill_``."""
    if isinstance(group["lr"], mg.Tensor):
        group["lr"].data[...] = float(value)
    else:
        group["lr"] = value


def _float_lr(lr: Any) -> float:
    return float(lr.item()) if isinstance(lr, mg.Tensor) else lr


class LRScheduler:
    """Base class: ``step()``, ``get_last_lr()``, ``last_epoch``, ``base_lrs``, ``state_dict()``.

    A subclass gives ``get_lr()``: the new learning rate of each group at
    ``self.last_epoch`` (just incremented), usually from the current ones.
    """

    # attributes state_dict leaves out (besides the optimizer); LambdaLR adds its functions
    _not_saved: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        added = []
        if last_epoch == -1:
            for group in optimizer.param_groups:
                if "initial_lr" not in group:
                    group["initial_lr"] = _lr_value(group["lr"])
                    added.append(group)
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   f"scheduler with last_epoch={last_epoch}: load the optimizer's state dict first, "
                                   "or start with last_epoch=-1")
        self.base_lrs = [_float_lr(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        except BaseException:
            for group in added:             # a failed construction leaves the optimizer as it was
                del group["initial_lr"]
            raise
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[Any]:
        """The learning rate of each group after the latest ``step()``."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [_float_lr(group["lr"]) for group in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or, deprecated as in PyTorch, jump to ``epoch``) and set every group's lr."""
        if epoch is not None:
            warnings.warn("The epoch parameter in scheduler.step() is deprecated (as in PyTorch); call step() "
                          "without it", UserWarning, stacklevel=2)
        counters = self._step_count, self.last_epoch
        self._step_count += 1
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
            for i, value in enumerate(values):       # check all before setting any
                if not is_number(value) or math.isnan(value):
                    raise ValueError(f"{type(self).__name__}.step: the schedule gave lr={value!r} "
                                     f"for param_groups[{i}]")
        except BaseException:
            self._step_count, self.last_epoch = counters    # a failed step changes nothing
            raise
        for group, value in zip(self.optimizer.param_groups, values):
            _set_lr(group, value)
        self._last_lr = [_lr_value(group["lr"]) for group in self.optimizer.param_groups]

    # --- state ---

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (and a LambdaLR's functions), as PyTorch's."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
                if k != "optimizer" and k not in self._not_saved}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the state of :meth:`state_dict`; checked first (known keys, one lr per group), all or nothing."""
        values = self._checked_state(state_dict)
        self.__dict__.update(values)

    def _checked_state(self, state_dict: Any) -> dict:
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        known = set(self.state_dict())
        ignored = {"_get_lr_called_within_step", "verbose"}   # PyTorch's private flags: meaningless here
        unknown = sorted(set(state_dict) - known - ignored)
        if unknown:
            raise ValueError(f"{name}: unknown entries {unknown}; a {type(self).__name__} state has {sorted(known)}")
        values = {k: v for k, v in state_dict.items() if k not in ignored}
        groups = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr", "min_lrs"):
            if key in values:
                value = values[key]
                if not isinstance(value, (list, tuple)) or len(value) != groups:
                    raise ValueError(f"{name}: {key} must hold one value per parameter group ({groups}), "
                                     f"got {value!r}")
                values[key] = [v.item() if isinstance(v, mg.Tensor) and v.ndim == 0 else v for v in value]
        for key in ("last_epoch", "_step_count"):
            if key in values:
                value = values[key]
                value = value.item() if isinstance(value, mg.Tensor) else value
                if not is_number(value) or value != int(value):
                    raise ValueError(f"{name}: {key} must be an int, got {value!r}")
                values[key] = int(value)
        return values


class StepLR(LRScheduler):
    """lr = base_lr · gamma^⌊epoch / step_size⌋ (applied step by step: × gamma every ``step_size`` epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be an int >= 1, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr · gamma^epoch (× gamma every epoch)."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min)·(1 + cos(π·epoch / T_max)) / 2, the SGDR cosine without restarts.

    Like PyTorch's, it is computed recursively from the current lr (so a lr
    changed by someone else is followed), and past ``T_max`` it climbs back up.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803 (PyTorch's name)
                 last_epoch: int = -1) -> None:
        if isinstance(T_max, bool) or not is_number(T_max) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be > 0, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        current = self._current_lrs()
        if self._is_initial:
            return current
        if self._step_count == 1 and epoch > 0:     # resumed at a later epoch: the closed form
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(epoch * math.pi / period)) / 2
                    for base_lr in self.base_lrs]
        if (epoch - 1 - period) % (2 * period) == 0:  # the first step past the bottom of a cosine
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / period)) / 2
                    for lr, base_lr in zip(current, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (1 + math.cos(math.pi * (epoch - 1) / period))
        return [ratio * (lr - eta_min) + eta_min for lr in current]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr · lr_lambda(epoch); one function for all groups or a list with one per group."""

    _not_saved = ("lr_lambdas",)

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        groups = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"Expected {groups} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda should be a function, but got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        """As the base, plus ``lr_lambdas``: None for a function or lambda, the attributes of a callable object."""
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        if not isinstance(state_dict, dict):
            raise TypeError(f"LambdaLR.load_state_dict: expected a dict, got {type(state_dict).__name__}")
        state_dict = dict(state_dict)
        saved = state_dict.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self.lr_lambdas):
            raise ValueError(f"LambdaLR.load_state_dict: lr_lambdas must hold one entry per group "
                             f"({len(self.lr_lambdas)}), got {saved!r}")
        for i, attributes in enumerate(saved):
            if attributes is not None and (not isinstance(attributes, dict)
                                           or isinstance(self.lr_lambdas[i], types.FunctionType)):
                raise ValueError(f"LambdaLR.load_state_dict: lr_lambdas[{i}] holds {attributes!r}, which does not "
                                 "fit the function given to this scheduler")
        values = self._checked_state(state_dict)
        self.__dict__.update(values)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)


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
        if not factor < 1.0:
            raise ValueError("ReduceLROnPlateau: Factor should be < 1.0.")
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
        self._last_lr = [_lr_value(group["lr"]) for group in optimizer.param_groups]
        self._set_mode(mode, threshold, threshold_mode)
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    def _set_mode(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode!r} is unknown! (use 'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown! (use 'rel' or 'abs')")
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
        current = float(metrics.item() if isinstance(metrics, mg.Tensor) else metrics)
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
        self._last_lr = [_lr_value(group["lr"]) for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups but min_lrs "
                                   f"has {len(self.min_lrs)} (a group was added); set min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(_float_lr(group["lr"]))
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                _set_lr(group, new_lr)

    def load_state_dict(self, state_dict: dict) -> None:
        values = self._checked_state(state_dict)
        mode = values.get("mode", self.mode)
        threshold_mode = values.get("threshold_mode", self.threshold_mode)
        probe = ReduceLROnPlateau.__new__(ReduceLROnPlateau)
        probe._set_mode(mode, values.get("threshold", self.threshold), threshold_mode)  # raises before any change
        self.__dict__.update(values)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)
