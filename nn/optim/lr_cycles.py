"""Cyclical learning-rate schedules, stepped once per batch, as PyTorch's: CosineAnnealingWarmRestarts,
CyclicLR and OneCycleLR (re-exported by :mod:`nn.optim.lr_scheduler`).

CyclicLR and OneCycleLR also cycle the momentum, inversely to the lr, when
``cycle_momentum=True``: a group's ``"momentum"`` (SGD, RMSprop) or the first
of its ``"betas"`` (Adam and its kin). Like PyTorch's, they keep the cycle's
bounds in the parameter groups (``max_momentum``, ``base_momentum``;
OneCycleLR also ``max_lr`` and ``min_lr``) and write the momentum while
computing the lr.
"""

from __future__ import annotations

import math
import types
from typing import Any, Callable

from .checks import invalid, is_number, lr_scalar
from .lr_scheduler_base import LRScheduler, check_gamma, check_optimizer, set_lr
from .optimizer import Optimizer

__all__ = ["CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"]


def _per_group(scheduler: str, name: str, optimizer: Optimizer, value: Any) -> list[float]:
    """One value per parameter group: a list of that length, or one number for every group (PyTorch's rule)."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(f"{scheduler}: {name} must have the same length as optimizer.param_groups "
                             f"({name} has {len(value)} values, param_groups has {groups})")
        values = list(value)
    else:
        values = [value] * groups
    values = [lr_scalar(v) for v in values]
    for v in values:
        if not is_number(v) or math.isnan(v):
            raise invalid(v, f"{scheduler}: {name} must be a number or one number per param group, got {value!r}")
    return values


def _uses_beta1(scheduler: str, optimizer: Optimizer) -> bool:
    """Whether the momentum to cycle is ``betas[0]`` (else ``momentum``); raises if the optimizer has neither."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{scheduler}: optimizer must support momentum or beta1 with `cycle_momentum` option "
                         f"enabled ({type(optimizer).__name__} has neither 'momentum' nor 'betas')")
    return "betas" in optimizer.defaults


def _set_momentum(group: dict, value: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _start_momentum_cycle(optimizer: Optimizer, use_beta1: bool, max_momentums: list[float],
                          base_momentums: list[float]) -> None:
    """A fresh cycle starts at ``max_momentum``; each group keeps its bounds, as PyTorch's."""
    for group, max_momentum, base_momentum in zip(optimizer.param_groups, max_momentums, base_momentums):
        _set_momentum(group, max_momentum, use_beta1)
        group["max_momentum"] = max_momentum
        group["base_momentum"] = base_momentum


def _restoring_groups(optimizer: Optimizer) -> Callable[[], None]:
    """A function that puts every group back as it is now (a failed construction changes nothing)."""
    saved = [dict(group) for group in optimizer.param_groups]

    def restore() -> None:
        for group, before in zip(optimizer.param_groups, saved):
            group.clear()
            group.update(before)

    return restore


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: lr = eta_min + (base_lr - eta_min)·(1 + cos(π·T_cur / T_i)) / 2, restarted every T_i epochs.

    T_cur counts the epochs since the last restart; T_i starts at ``T_0`` and is
    multiplied by ``T_mult`` at each restart. ``step(epoch)`` takes a float
    epoch (``epoch + batch / batches``) and places it in the right cycle; it is
    not deprecated here (no warning), as in PyTorch. This schedule has no
    closed form apart from that and never counts ``_step_count``, as PyTorch's.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        if isinstance(T_0, bool) or not isinstance(T_0, int) or T_0 <= 0:
            raise invalid(T_0, f"CosineAnnealingWarmRestarts: Expected positive integer T_0, but got {T_0!r}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
            raise invalid(T_mult, f"CosineAnnealingWarmRestarts: Expected integer T_mult >= 1, but got {T_mult!r}")
        if isinstance(eta_min, bool) or not isinstance(eta_min, (float, int)):
            raise invalid(eta_min, f"CosineAnnealingWarmRestarts: Expected float or int eta_min, but got {eta_min!r} "
                                   f"of type {type(eta_min).__name__}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def _cycle_at(self, epoch: float) -> tuple[float, int]:
        """(T_cur, T_i) at a given epoch, counting the restarts from epoch 0."""
        if epoch < self.T_0:
            return epoch, self.T_0
        if self.T_mult == 1:
            return epoch % self.T_0, self.T_i
        restarts = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
        return (epoch - self.T_0 * (self.T_mult ** restarts - 1) / (self.T_mult - 1),
                self.T_0 * self.T_mult ** restarts)

    def step(self, epoch: float | None = None) -> None:
        """One more epoch (or batch), or go to ``epoch`` (a float: a fraction of an epoch is a part of the cycle)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        before = self.T_cur, self.T_i, self.last_epoch
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if not is_number(epoch) or not epoch >= 0:
                raise ValueError(f"CosineAnnealingWarmRestarts: Expected non-negative epoch, but got {epoch!r}")
            self.T_cur, self.T_i = self._cycle_at(epoch)
        self.last_epoch = math.floor(epoch)
        self._get_lr_called_within_step = True
        try:
            values = self.get_lr()
            self._check_lrs(values)
        except BaseException:
            self.T_cur, self.T_i, self.last_epoch = before
            raise
        finally:
            self._get_lr_called_within_step = False
        self._write_lrs(values)


class CyclicLR(LRScheduler):
    """The cyclical learning rate (Smith 2017): the lr goes from ``base_lr`` up to ``max_lr`` in
    ``step_size_up`` steps and back down in ``step_size_down``; the amplitude is scaled per cycle or per step.

    ``mode``: "triangular" (no scaling), "triangular2" (halved each cycle),
    "exp_range" (× gamma^step), or a custom ``scale_fn(x)`` in [0, 1] of the
    cycle number (``scale_mode="cycle"``) or of the step ("iterations").
    Construction sets each group's lr to ``base_lr``. Momentum goes the other
    way, from ``max_momentum`` down to ``base_momentum``. Step after every batch.
    """

    _not_saved = ("_scale_fn_custom",)

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9, last_epoch: int = -1) -> None:
        check_optimizer("CyclicLR", optimizer)
        base_lrs = _per_group("CyclicLR", "base_lr", optimizer, base_lr)
        max_lrs = _per_group("CyclicLR", "max_lr", optimizer, max_lr)
        if isinstance(step_size_up, bool) or not is_number(step_size_up) or not step_size_up > 0:
            raise invalid(step_size_up, f"CyclicLR: step_size_up must be a number > 0, got {step_size_up!r}",
                          divisor=True)
        if step_size_down is not None and (isinstance(step_size_down, bool) or not is_number(step_size_down)
                                           or not step_size_down >= 0):
            raise invalid(step_size_down, f"CyclicLR: step_size_down must be None or a number >= 0, got "
                                          f"{step_size_down!r}")
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise invalid(mode, f"CyclicLR: mode {mode!r} is invalid and scale_fn is None (mode must be 'triangular', "
                                "'triangular2' or 'exp_range', or give a scale_fn)")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"CyclicLR: scale_fn should be a function, but got {type(scale_fn).__name__}")
        if scale_fn is None and mode == "exp_range":
            check_gamma("CyclicLR", gamma)
        if scale_mode not in ("cycle", "iterations"):
            raise invalid(scale_mode, f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        if cycle_momentum:
            use_beta1 = _uses_beta1("CyclicLR", optimizer)
            base_momentums = _per_group("CyclicLR", "base_momentum", optimizer, base_momentum)
            max_momentums = _per_group("CyclicLR", "max_momentum", optimizer, max_momentum)
        # every argument checked: now change the groups
        restore = _restoring_groups(optimizer)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                set_lr(group, lr)
        self.max_lrs = max_lrs
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            self.base_momentums, self.max_momentums = base_momentums, max_momentums
            if last_epoch == -1:
                _start_momentum_cycle(optimizer, use_beta1, max_momentums, base_momentums)
        try:
            # the first step uses the groups' initial_lr as base_lrs (PyTorch's order); the cycle then base_lr
            super().__init__(optimizer, last_epoch)
        except BaseException:
            restore()
            raise
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        """The built-in modes fix the scale mode: per cycle, or per step for "exp_range"."""
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or step) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self) -> list[float]:
        """The lr of each group at step ``last_epoch``; with ``cycle_momentum`` also writes the groups' momentum."""
        self._warn_outside_step()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle       # where in the cycle, 0 to 1
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        x_scaled = cycle if self.scale_mode == "cycle" else self.last_epoch
        # scale_fn is called once per value, as PyTorch calls it (a custom one may count its calls)
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * self.scale_fn(x_scaled)
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            momentums = [max_momentum - (max_momentum - base_momentum) * scale_factor * self.scale_fn(x_scaled)
                         for base_momentum, max_momentum in zip(self.base_momentums, self.max_momentums)]
            for group, momentum in zip(self.optimizer.param_groups, momentums):
                _set_momentum(group, momentum, self.use_beta1)
        return lrs

    def state_dict(self) -> dict:
        """As the base, plus ``_scale_fn_custom``: None for a function or lambda, the attributes of a callable
        object (as PyTorch's)."""
        state = super().state_dict()
        fn = self._scale_fn_custom
        state["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) else dict(fn.__dict__)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        name = "CyclicLR.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        state_dict = dict(state_dict)
        attributes = state_dict.pop("_scale_fn_custom", None)
        if attributes is not None and (not isinstance(attributes, dict) or self._scale_fn_custom is None
                                       or isinstance(self._scale_fn_custom, types.FunctionType)):
            raise ValueError(f"{name}: _scale_fn_custom holds {attributes!r}, which does not fit the scale_fn "
                             "given to this scheduler")
        values = self._checked_state(state_dict)
        mode = values.get("mode", self.mode)
        if self._scale_fn_custom is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"{name}: mode {mode!r} is invalid and scale_fn is None")
        self.__dict__.update(values)
        if attributes is not None:
            self._scale_fn_custom.__dict__.update(attributes)
        self._init_scale_fn()


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2018): the lr rises from max_lr/div_factor to ``max_lr`` over the first
    ``pct_start`` of ``total_steps``, then anneals to initial_lr/final_div_factor; step after every batch.

    ``anneal_strategy``: "cos" or "linear". ``three_phase=True`` (the paper's
    form) comes back down to the initial lr symmetrically, then anneals to the
    minimum in a third phase. Momentum moves inversely, between
    ``max_momentum`` and ``base_momentum``. ``total_steps`` or ``epochs`` ×
    ``steps_per_epoch`` sets the length; one step past it raises. Not
    chainable: the lr comes from the phase, not from the current lr.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85, max_momentum: float | list[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        check_optimizer("OneCycleLR", optimizer)
        if total_steps is not None:
            if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
                raise invalid(total_steps, f"OneCycleLR: Expected positive integer total_steps, but got "
                                           f"{total_steps!r}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
                raise invalid(epochs, f"OneCycleLR: Expected positive integer epochs, but got {epochs!r}")
            if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise invalid(steps_per_epoch, f"OneCycleLR: Expected positive integer steps_per_epoch, but got "
                                               f"{steps_per_epoch!r}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise invalid(pct_start, f"OneCycleLR: Expected float between 0 and 1 pct_start, but got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy!r}")
        for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if not is_number(value) or value == 0 or math.isnan(value):
                raise invalid(value, f"OneCycleLR: {name} must be a non-zero number, got {value!r}", divisor=True)
        max_lrs = _per_group("OneCycleLR", "max_lr", optimizer, max_lr)
        if cycle_momentum:
            use_beta1 = _uses_beta1("OneCycleLR", optimizer)
            max_momentums = _per_group("OneCycleLR", "max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("OneCycleLR", "base_momentum", optimizer, base_momentum)
        self._schedule_phases = self._phases(pct_start, self.total_steps, three_phase)
        self._anneal_func_type = anneal_strategy
        # every argument checked: now change the groups
        restore = _restoring_groups(optimizer)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            if last_epoch == -1:
                _start_momentum_cycle(optimizer, use_beta1, max_momentums, base_momentums)
        try:
            super().__init__(optimizer, last_epoch)
        except BaseException:
            restore()
            raise

    @staticmethod
    def _phases(pct_start: float, total_steps: int, three_phase: bool) -> list[dict]:
        """Each phase: the step it ends at, and the group keys its lr and momentum go from and to."""
        up = {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
              "start_momentum": "max_momentum", "end_momentum": "base_momentum"}
        if not three_phase:
            return [up, {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                         "start_momentum": "base_momentum", "end_momentum": "max_momentum"}]
        return [up,
                {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"}]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """From ``start`` (pct = 0) to ``end`` (pct = 1), along a half cosine or a line."""
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        """The lr of each group at step ``last_epoch``; with ``cycle_momentum`` also writes the groups' momentum."""
        self._warn_outside_step()
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: Tried to step {step} times. The specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(lr_scalar(group[phase["start_lr"]]), lr_scalar(group[phase["end_lr"]]),
                                            pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                        _set_momentum(group, momentum, self.use_beta1)
                    break
                start_step = phase["end_step"]
        return lrs
