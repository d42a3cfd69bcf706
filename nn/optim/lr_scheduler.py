"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

Epoch schedules: StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
PolynomialLR, CosineAnnealingLR, LambdaLR, MultiplicativeLR; the compositions
SequentialLR and ChainedScheduler; from :mod:`nn.optim.lr_plateau`, the
metric-driven ReduceLROnPlateau; and, from :mod:`nn.optim.lr_cycles`, the
per-batch cycles CosineAnnealingWarmRestarts, CyclicLR and OneCycleLR. The base
class is in :mod:`nn.optim.lr_scheduler_base`.

A scheduler changes ``optimizer.param_groups[i]["lr"]`` when its ``step()`` is
called (once per epoch, after ``optimizer.step()``), exactly as PyTorch's do:
the same formulas in the same form (recursive, "chainable", where PyTorch's
is; the closed form for ``step(epoch)``), so the learning rates agree with
PyTorch's to the last bit over many epochs. A 0-d Tensor ``lr`` is written in
place. Constructing a scheduler records ``initial_lr`` in each group and makes
the first (epoch 0) step.

``state_dict()`` holds the schedule's counters and settings (never the
optimizer); ``load_state_dict`` checks it before taking any of it. A
``LambdaLR`` saves no functions, only the attributes of callable objects, as
PyTorch does; SequentialLR and ChainedScheduler save their schedulers' states.
"""

from __future__ import annotations

import math
import numbers
import types
from bisect import bisect_right
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from .checks import HyperParameterTypeError, invalid, is_number, lr_scalar
from .lr_cycles import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from .lr_plateau import ReduceLROnPlateau
from .lr_scheduler_base import LRScheduler, check_gamma, check_int, check_optimizer, lr_value, set_lr
from .optimizer import Optimizer

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
           "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR",
           "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR"]


class _LRScheduler(LRScheduler):
    """PyTorch's old name of :class:`LRScheduler`, still subclassed by many programs (``torch.optim.lr_scheduler.
    _LRScheduler``: a subclass that adds nothing, left out of ``__all__`` as there)."""


class StepLR(LRScheduler):
    """lr = base_lr · gamma^⌊epoch / step_size⌋ (applied step by step: × gamma every ``step_size`` epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        # the text classification tutorial passes 1.0; PyTorch takes any number, a whole float works as its int
        if not is_number(step_size) or not 1 <= step_size < math.inf or step_size != int(step_size):
            raise invalid(step_size, f"StepLR: step_size must be an int >= 1 (or a whole float such as 1.0), got "
                                     f"{step_size!r}", divisor=True)
        check_gamma("StepLR", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr · gamma^(number of milestones <= epoch): × gamma at each milestone (twice if listed twice)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = self._counted(milestones, "MultiStepLR: milestones")
        check_gamma("MultiStepLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _counted(milestones: Any, what: str) -> Counter:
        """Milestones (an iterable of epochs, or a saved {epoch: count}) as PyTorch's Counter of ints."""
        try:
            counts = milestones if isinstance(milestones, dict) else Counter(milestones)
        except TypeError:
            counts = None
        if counts is None or isinstance(milestones, (str, bytes)):
            # (not an iterable of numbers: PyTorch's TypeError)
            raise HyperParameterTypeError(f"{what} must be a list of epoch numbers, got {milestones!r}")
        counted: Counter = Counter()
        for epoch, count in counts.items():
            epoch = int(epoch) if isinstance(epoch, str) and epoch.lstrip("-").isdigit() else epoch
            if not is_number(epoch) or epoch != int(epoch) or not is_number(count) or count != int(count):
                raise invalid(epoch, f"{what} must be whole epoch numbers, got {epoch!r}")
            counted[int(epoch)] += int(count)
        return counted

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]

    def state_dict(self) -> dict:
        """As the base, with a copy of the ``milestones`` Counter."""
        state = super().state_dict()
        state["milestones"] = Counter(self.milestones)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        values = self._checked_state(state_dict)
        if "milestones" in values:
            values["milestones"] = self._counted(values["milestones"], "MultiStepLR.load_state_dict: milestones")
        self.__dict__.update(values)


class ConstantLR(LRScheduler):
    """lr = base_lr · factor for the first ``total_iters`` epochs, then base_lr.

    Chainable, as PyTorch's: × factor at epoch 0 and × 1/factor at epoch
    ``total_iters``, so it composes with other schedules.
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if not is_number(factor) or not 0 <= factor <= 1:
            raise invalid(factor, f"ConstantLR: factor (the constant multiplicative factor) expected to be between 0 "
                                  f"and 1, got {factor!r}")
        check_int("ConstantLR", "total_iters", total_iters, 0)
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        current = self._current_lrs()
        if self.last_epoch == 0:
            return [lr * self.factor for lr in current]
        if self.last_epoch != self.total_iters:
            return current
        return [lr * (1.0 / self.factor) for lr in current]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = base_lr · (start_factor + (end_factor - start_factor) · min(epoch, total_iters) / total_iters).

    Chainable, as PyTorch's: each step multiplies the current lr by the ratio
    of this epoch's factor to the last one's.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        if not is_number(start_factor) or not 0 < start_factor <= 1:
            raise invalid(start_factor, f"LinearLR: start_factor (the starting multiplicative factor) expected to be "
                                        f"greater than 0 and less or equal to 1, got {start_factor!r}")
        if not is_number(end_factor) or not 0 <= end_factor <= 1:
            raise invalid(end_factor, f"LinearLR: end_factor (the ending multiplicative factor) expected to be "
                                      f"between 0 and 1, got {end_factor!r}")
        check_int("LinearLR", "total_iters", total_iters, 0)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        start, end, epoch = self.start_factor, self.end_factor, self.last_epoch
        current = self._current_lrs()
        if epoch == 0:
            return [lr * start for lr in current]
        if self._is_initial or epoch > self.total_iters:
            return current
        if epoch == self.total_iters and end == 0:
            # decayed to zero: PyTorch's ratio below rounds to about ±1e-17 here, and a negative lr would be refused
            # by the next optimizer step
            return [lr * 0.0 for lr in current]
        ratio = 1.0 + (end - start) / (self.total_iters * start + (epoch - 1) * (end - start))
        return [lr * ratio for lr in current]

    def _get_closed_form_lr(self) -> list[float]:
        start, end = self.start_factor, self.end_factor
        return [base_lr * (start + (end - start) * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr · gamma^epoch (× gamma every epoch)."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_gamma("ExponentialLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = base_lr · (1 - min(epoch, total_iters) / total_iters)^power: 0 from epoch ``total_iters`` on.

    Chainable, as PyTorch's: each step multiplies the current lr by the ratio
    of this epoch's factor to the last one's.
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        check_int("PolynomialLR", "total_iters", total_iters, 0)
        if not is_number(power):
            raise invalid(power, f"PolynomialLR: power must be a number, got {power!r}")
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        epoch, total = self.last_epoch, self.total_iters
        current = self._current_lrs()
        if self._is_initial or epoch > total:
            return current
        decay = ((1.0 - epoch / total) / (1.0 - (epoch - 1) / total)) ** self.power
        return [lr * decay for lr in current]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min)·(1 + cos(π·epoch / T_max)) / 2, the SGDR cosine without restarts.

    Like PyTorch's, it is computed recursively from the current lr (so a lr
    changed by someone else is followed), and past ``T_max`` it climbs back up.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803 (PyTorch's name)
                 last_epoch: int = -1) -> None:
        if isinstance(T_max, bool) or not is_number(T_max) or not T_max > 0:
            raise invalid(T_max, f"CosineAnnealingLR: T_max must be > 0, got {T_max!r}", divisor=True)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
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


class _LambdaSchedule(LRScheduler):
    """What LambdaLR and MultiplicativeLR share: one function per group (or one for all), and a state that
    saves the attributes of callable objects but no functions, as PyTorch's."""

    _not_saved = ("lr_lambdas",)

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        name = type(self).__name__
        check_optimizer(name, optimizer)
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"{name}: Expected {groups} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{name}: lr_lambda should be a function, but got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        """As the base, plus ``lr_lambdas``: None for a function or lambda, the attributes of a callable object."""
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        state_dict = dict(state_dict)
        saved = state_dict.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        if not isinstance(saved, (list, tuple)):
            raise ValueError(f"{name}: lr_lambdas must hold one entry per group ({len(self.lr_lambdas)}), "
                             f"got {saved!r}")
        # fewer entries than functions: groups added (add_param_group) after the saved scheduler was made, which
        # PyTorch's load takes as they are (their functions keep their attributes); an entry past the last function
        # is PyTorch's IndexError unless it is None (nothing to restore)
        extra = [i for i in range(len(self.lr_lambdas), len(saved)) if saved[i] is not None]
        if extra:
            raise IndexError(f"{name}: lr_lambdas[{extra[0]}] holds {saved[extra[0]]!r}, but this scheduler has "
                             f"{len(self.lr_lambdas)} lr_lambda(s), one per parameter group")
        saved = saved[:len(self.lr_lambdas)]
        for i, attributes in enumerate(saved):
            if attributes is not None and (not isinstance(attributes, dict)
                                           or isinstance(self.lr_lambdas[i], types.FunctionType)):
                raise ValueError(f"{name}: lr_lambdas[{i}] holds {attributes!r}, which does not fit the function "
                                 "given to this scheduler")
        values = self._checked_state(state_dict)
        self.__dict__.update(values)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)


class LambdaLR(_LambdaSchedule):
    """lr = base_lr · lr_lambda(epoch); one function for all groups or a list with one per group."""

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaSchedule):
    """lr ← lr · lr_lambda(epoch) at every step after the first (chainable; no closed form, as PyTorch's)."""

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        current = self._current_lrs()
        if self._is_initial:
            return current
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, current)]


def _check_schedulers(name: str, schedulers: Any, optimizer: Optimizer) -> list[LRScheduler]:
    """PyTorch's checks of a composition's schedulers: at least one, each stepping ``optimizer``, none needing a
    metric."""
    if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, Sequence) or len(schedulers) < 1:
        raise ValueError(f"{name}: schedulers must be a list of at least one scheduler, got {schedulers!r}")
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{name}: the scheduler at index {i} ({type(scheduler).__name__}) should have "
                            "`optimizer` as its attribute")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                             f"kwargs to be specified when calling `step`, but got one at index {i} in the given "
                             "schedulers sequence")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{name} expects all schedulers to belong to the same optimizer, but got scheduler "
                             f"{type(scheduler).__name__} at index {i} with another "
                             f"{type(scheduler.optimizer).__name__}")
    return list(schedulers)


class _Composition(LRScheduler):
    """What SequentialLR and ChainedScheduler share: a state that holds each scheduler's state."""

    _not_saved = ("_schedulers",)

    def state_dict(self) -> dict:
        """As the base, plus ``_schedulers``: the state dict of each scheduler, in order."""
        state = super().state_dict()
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        state_dict = dict(state_dict)
        saved = state_dict.pop("_schedulers", None)
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self._schedulers):
            raise ValueError(f"{name}: _schedulers must hold the state of each of the {len(self._schedulers)} "
                             f"schedulers, got {saved!r}")
        values = self._checked_state(state_dict)
        if "_milestones" in values:
            values["_milestones"] = _checked_milestones(f"{name}: _milestones", values["_milestones"],
                                                        len(self._schedulers))
        before = [scheduler.state_dict() for scheduler in self._schedulers]
        try:
            for scheduler, state in zip(self._schedulers, saved):
                scheduler.load_state_dict(state)
        except BaseException:
            for scheduler, state in zip(self._schedulers, before):    # all or nothing
                scheduler.load_state_dict(state)
            raise
        self.__dict__.update(values)


def _checked_milestones(what: str, milestones: Any, schedulers: int) -> list[int]:
    if not isinstance(milestones, (list, tuple)) or len(milestones) != schedulers - 1:
        raise ValueError(f"{what}: expected one milestone fewer than the number of schedulers ({schedulers}), got "
                         f"{milestones!r}")
    for milestone in milestones:
        if isinstance(milestone, bool) or not isinstance(milestone, numbers.Integral):
            raise ValueError(f"{what} must be ints, got {milestone!r}")
    if list(milestones) != sorted(milestones):
        raise ValueError(f"{what} must be in increasing order, got {list(milestones)}")
    return [int(m) for m in milestones]


class SequentialLR(_Composition):
    """Run ``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]`` (restarted at its epoch 0), …

    As PyTorch's: construction sets every lr back to ``initial_lr``, takes back
    the first step the schedulers made when they were built, and makes the
    first step of the scheduler for epoch 0; at a milestone the next scheduler
    starts from epoch 0 (its closed form where it has one).
    """

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
                 last_epoch: int = -1) -> None:
        check_optimizer("SequentialLR", optimizer)
        schedulers = _check_schedulers("SequentialLR", schedulers, optimizer)
        milestones = _checked_milestones("SequentialLR: milestones", milestones, len(schedulers))
        check_int("SequentialLR", "last_epoch", last_epoch, -1)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            set_lr(group, lr_scalar(group["initial_lr"]))
        self.recursive_undo()
        scheduler = schedulers[bisect_right(milestones, 0)]
        scheduler._initial_step()
        self._last_lr = scheduler.get_last_lr()

    def recursive_undo(self, sched: LRScheduler | None = None) -> None:
        """Take back one epoch of every scheduler inside (compositions included): the step each made when built."""
        scheduler = self if sched is None else sched
        if hasattr(scheduler, "_schedulers"):
            for inner in scheduler._schedulers:
                self.recursive_undo(inner)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch with the scheduler whose turn it is (a scheduler starts at its epoch 0)."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composition):
    """Step every scheduler in turn at each ``step()``: their (chainable) changes of the lr compound."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        if optimizer is None:
            first = schedulers[0] if isinstance(schedulers, Sequence) and len(schedulers) > 0 else None
            optimizer = getattr(first, "optimizer", None)
        else:
            check_optimizer("ChainedScheduler", optimizer)
        self._schedulers = _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = [lr_value(group["lr"]) for group in self._schedulers[-1].optimizer.param_groups]

    def step(self) -> None:  # type: ignore[override]
        """One step of every scheduler, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [lr_value(group["lr"]) for group in self._schedulers[-1].optimizer.param_groups]
