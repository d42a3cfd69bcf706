"""The learning-rate scheduler base class, as ``torch.optim.lr_scheduler.LRScheduler``.

``step()`` advances ``last_epoch`` and writes the lr that ``get_lr()`` gives
into every parameter group; ``step(epoch)`` (deprecated, as in PyTorch) jumps
to ``epoch`` and uses the closed form where the schedule has one. A step is
all-or-nothing: when the schedule raises or gives a NaN, the counters and the
groups are as before. Constructing a scheduler records ``initial_lr`` in each
group and makes the first (epoch 0) step.

Warnings are PyTorch's: ``step(epoch)``; the first ``step()`` made before
any ``optimizer.step()`` (the optimizer's ``step`` is wrapped once to notice
its calls, as PyTorch does); ``get_lr()`` called outside ``step()``.

The schedules themselves live in :mod:`nn.optim.lr_scheduler` (the public
module) and :mod:`nn.optim.lr_cycles`; both import this one.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
import weakref
from typing import Any

import minigrad as mg

from .checks import invalid, is_number, lr_scalar
from .optimizer import Optimizer

__all__ = ["LRScheduler"]

# set while step() computes the lrs, so get_lr() can tell a call from outside; never saved
_WITHIN_STEP = "_get_lr_called_within_step"


def lr_value(lr: Any) -> Any:
    """A group's lr as get_last_lr gives it: a number, or a copy of a Tensor lr (never an alias)."""
    return mg.tensor(lr) if isinstance(lr, mg.Tensor) else lr


def set_lr(group: dict, value: float) -> None:
    """Set a group's lr; a Tensor lr keeps its object and changes its value, as PyTorch's ``fill_``."""
    if isinstance(group["lr"], mg.Tensor):
        group["lr"].data[...] = float(value)
    else:
        group["lr"] = value


def check_int(scheduler: str, name: str, value: Any, minimum: int) -> None:
    """Raise a ValueError naming the scheduler and argument unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise invalid(value, f"{scheduler}: {name} must be an int >= {minimum}, got {value!r}")


def check_gamma(scheduler: str, gamma: Any) -> None:
    """Raise a TypeError naming the scheduler unless ``gamma`` is a real number (PyTorch would fail at a later
    step, with a message that names neither)."""
    if not is_number(gamma):
        raise TypeError(f"{scheduler}: gamma must be a number, got {gamma!r}")


def check_optimizer(scheduler: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: {type(optimizer).__name__} is not an Optimizer")


def _track_optimizer_steps(optimizer: Optimizer) -> None:
    """Wrap ``optimizer.step`` (once) so that a call sets ``optimizer._opt_called``, as PyTorch does.

    The wrapper holds the optimizer weakly: no reference cycle through the instance attribute.
    """
    step = optimizer.step
    function = getattr(step, "__func__", None)
    if getattr(step, "_wrapped_by_lr_sched", False) or function is None:
        return
    optimizer_ref = weakref.ref(optimizer)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opt = optimizer_ref()
        opt._opt_called = True
        return function.__get__(opt, type(opt))(*args, **kwargs)

    wrapper._wrapped_by_lr_sched = True
    optimizer.step = wrapper


class LRScheduler:
    """Base class: ``step()``, ``get_last_lr()``, ``last_epoch``, ``base_lrs``, ``state_dict()``.

    A subclass gives ``get_lr()``: the new learning rate of each group at
    ``self.last_epoch`` (just incremented), usually from the current ones, and
    may give ``_get_closed_form_lr()``, which ``step(epoch)`` uses.
    """

    # attributes state_dict leaves out (besides the optimizer); LambdaLR adds its functions
    _not_saved: tuple[str, ...] = ()
    _get_lr_called_within_step = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        check_optimizer(type(self).__name__, optimizer)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise invalid(last_epoch, f"{type(self).__name__}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        added = []
        if last_epoch == -1:
            for group in optimizer.param_groups:
                if "initial_lr" not in group:
                    group["initial_lr"] = lr_value(group["lr"])
                    added.append(group)
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   f"scheduler with last_epoch={last_epoch}: load the optimizer's state dict first, "
                                   "or start with last_epoch=-1")
        self.base_lrs = [lr_scalar(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        try:
            self._initial_step()
        except BaseException:
            for group in added:             # a failed construction leaves the optimizer as it was
                del group["initial_lr"]
            raise
        _track_optimizer_steps(optimizer)

    def _initial_step(self) -> None:
        """Zero the step count and make the first step (SequentialLR also calls it on the scheduler it starts)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def _warn_outside_step(self) -> None:
        """PyTorch's warning for ``get_lr()`` called by hand: it computes the next lrs, not the last ones."""
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=3)

    def get_last_lr(self) -> list[Any]:
        """The learning rate of each group after the latest ``step()``."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [lr_scalar(group["lr"]) for group in self.optimizer.param_groups]

    def _warn_about_step_order(self) -> None:
        """At the first step after construction: warn, as PyTorch, when ``optimizer.step()`` has not run yet."""
        if self._step_count != 1:
            return
        if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
            warnings.warn("Seems like `optimizer.step()` has been overridden after learning rate scheduler "
                          "initialization. Please, make sure to call `optimizer.step()` before "
                          "`lr_scheduler.step()`.", UserWarning, stacklevel=3)
        elif not getattr(self.optimizer, "_opt_called", False):
            warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`. You should call them "
                          "in the opposite order: `optimizer.step()` before `lr_scheduler.step()` (as in PyTorch "
                          "1.1.0 and later); otherwise the first value of the learning rate schedule is skipped.",
                          UserWarning, stacklevel=3)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or, deprecated as in PyTorch, jump to ``epoch``) and set every group's lr."""
        self._warn_about_step_order()
        if epoch is not None:
            warnings.warn("The epoch parameter in scheduler.step() is deprecated (as in PyTorch); call step() "
                          "without it", UserWarning, stacklevel=2)
        step_count = self._step_count
        self._step_count += 1
        try:
            self._update_lr(epoch)
        except BaseException:
            self._step_count = step_count    # a failed step changes nothing
            raise

    def _update_lr(self, epoch: int | None = None) -> None:
        """Move ``last_epoch`` (one on, or to ``epoch`` with the closed form) and write the new lrs; all or nothing.

        ``get_lr`` of a scheduler that cycles momentum also writes the groups'
        momentum (as PyTorch's): on a failure the groups are restored too.
        """
        last_epoch = self.last_epoch
        groups = [dict(group) for group in self.optimizer.param_groups]
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
            self._check_lrs(values)
        except BaseException:
            self.last_epoch = last_epoch
            for group, before in zip(self.optimizer.param_groups, groups):
                group.clear()
                group.update(before)
            raise
        finally:
            self._get_lr_called_within_step = False
        self._write_lrs(values)

    def _check_lrs(self, values: list[Any]) -> None:
        """Every value a number and not NaN, one per group (checked before any is set)."""
        if len(values) != len(self.optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}.step: the schedule gave {len(values)} lrs for "
                             f"{len(self.optimizer.param_groups)} param groups")
        for i, value in enumerate(values):
            if not is_number(value) or math.isnan(value):
                raise ValueError(f"{type(self).__name__}.step: the schedule gave lr={value!r} "
                                 f"for param_groups[{i}]")

    def _write_lrs(self, values: list[float]) -> None:
        for group, value in zip(self.optimizer.param_groups, values):
            set_lr(group, value)
        self._last_lr = [lr_value(group["lr"]) for group in self.optimizer.param_groups]

    # --- state ---

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (and a LambdaLR's functions), as PyTorch's."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
                if k != "optimizer" and k != _WITHIN_STEP and k not in self._not_saved}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the state of :meth:`state_dict`; checked first (known keys, one lr per group), all or nothing."""
        values = self._checked_state(state_dict)
        self.__dict__.update(values)

    def _checked_state(self, state_dict: Any) -> dict:
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        known = set(self.state_dict())
        ignored = {_WITHIN_STEP, "verbose"}   # PyTorch's private flags: meaningless here
        unknown = sorted(set(state_dict) - known - ignored)
        if unknown:
            raise ValueError(f"{name}: unknown entries {unknown}; a {type(self).__name__} state has {sorted(known)}")
        values = {k: v for k, v in state_dict.items() if k not in ignored}
        groups = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr", "min_lrs", "max_lrs", "base_momentums", "max_momentums"):
            if key in values:
                value = values[key]
                # fewer values than groups: groups added (add_param_group) after the saved scheduler was made,
                # which PyTorch's load takes as they are
                if not isinstance(value, (list, tuple)) or len(value) > groups:
                    raise ValueError(f"{name}: {key} must hold one value per parameter group ({groups}), "
                                     f"or fewer for groups added later, got {value!r}")
                values[key] = [v.item() if isinstance(v, mg.Tensor) and v.ndim == 0 else v for v in value]
        for key in ("last_epoch", "_step_count"):
            if key in values:
                value = values[key]
                value = value.item() if isinstance(value, mg.Tensor) and value.numel() == 1 else value
                if not is_number(value) or not math.isfinite(value) or value != int(value):
                    raise ValueError(f"{name}: {key} must be an int, got {value!r}")
                values[key] = int(value)
        return values
