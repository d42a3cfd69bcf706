"""Weight averaging of a model (SWA, EMA) and its schedule, as ``torch.optim.swa_utils``.

- :class:`AveragedModel` keeps a copy of a model whose parameters (and, with
  ``use_buffers=True``, buffers) are a running average of the model's: the
  equal-weight mean of every snapshot given to ``update_parameters`` (SWA,
  Izmailov et al. 2018), or any other average (``avg_fn`` / ``multi_avg_fn``,
  e.g. an exponential moving average, EMA). Its state dict holds
  ``n_averaged`` (how many snapshots were averaged) and ``module.<name>``.
- :class:`SWALR` anneals each group's lr to a fixed ``swa_lr``.
- :func:`update_bn` recomputes the batch norms' running statistics with one
  pass over the data (averaged weights need statistics of their own).
- ``get_swa_avg_fn`` / ``get_ema_avg_fn`` (one parameter at a time, returning
  the new value) and ``get_swa_multi_avg_fn`` / ``get_ema_multi_avg_fn`` (lists
  of parameters, updated in place) build the averaging functions.

The arithmetic is PyTorch's, rounding included: on the CPU the default
average is ``avg + (new - avg) / (n + 1)`` per parameter, on a GPU a lerp by
``1 / (n + 1)`` (that weight computed in the default dtype, as PyTorch's
``1 / tensor``); integer buffers are averaged in the default dtype and cut
back to integers (truncated), as PyTorch's ``copy_`` does.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

import minigrad as mg

from .._errors import ArgumentAssertionError, InputDtypeError, InputShapeError
from ..module import Module
from ..normalization import BatchNorm1d
from ..normalization_nd import _BatchNormNd
from .checks import is_number, lr_scalar
from .lr_scheduler_base import LRScheduler, check_int, check_optimizer
from .optimizer import bump_version, lerp_

__all__ = ["SWALR", "AveragedModel", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn",
           "get_swa_multi_avg_fn", "update_bn"]

AvgFn = Callable[[mg.Tensor, mg.Tensor, Any], mg.Tensor]
MultiAvgFn = Callable[[Sequence[mg.Tensor], Sequence[mg.Tensor], Any], None]


def _count(num_averaged: Any) -> int:
    """The number of snapshots averaged so far (an int or a 0-d Tensor) as a Python int."""
    if isinstance(num_averaged, mg.Tensor) or mg.is_array(num_averaged):
        return int(num_averaged.item())
    return int(num_averaged)


def _check_decay(decay: Any, where: str, *, zero_dim: bool = False) -> tuple[float, float]:
    """(decay, 1 - decay) as PyTorch's EMA computes them: a number (a bool too) as a Python float; a one-element
    Tensor (0-d for ``zero_dim``, as ``_foreach_lerp_`` takes) by its value in its dtype, 1 - decay in that dtype
    too (float32 ``tensor(0.9)`` averages by 0.89999998 and 0.10000002, as PyTorch's tensor arithmetic)."""
    if isinstance(decay, mg.Tensor) and decay.numel() == 1 and decay.dtype.kind in "fiub" \
            and not (zero_dim and decay.ndim):
        scalar = decay.detach().data.reshape(()).item()
        one = np.dtype(decay.dtype if decay.dtype.kind == "f" else mg.get_default_dtype()).type(1)
        value, complement = float(scalar), float(one - one.dtype.type(scalar))
    elif is_number(decay) or isinstance(decay, bool):   # others: PyTorch's TypeError from comparing with 0.0
        value = float(decay)
        complement = 1 - value
    else:
        raise TypeError(f"{where}: decay must be a number in [0, 1]" + (" (or a 0-d Tensor)" if zero_dim else "")
                        + f", got {type(decay).__name__} {decay!r}"[:200])
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: invalid decay value {value!r}; it must be a number in [0, 1]")
    return value, complement


def _is_floating(tensor: mg.Tensor) -> bool:
    return tensor.dtype.kind in "fc"


def _array_of(tensor: Any, like: mg.Tensor) -> Any:
    """``tensor``'s array on ``like``'s device (its own dtype)."""
    array = tensor.data if isinstance(tensor, mg.Tensor) else tensor
    if mg.device_of(array) != like.device:
        array = mg.to_device(array, like.device)
    return array


def _truncated_into(target: Any, values: Any) -> None:
    """Write floating ``values`` into the integer array ``target``, truncated toward zero as PyTorch's ``copy_``."""
    xp = mg.array_module(target)
    target[...] = xp.trunc(values).astype(target.dtype)


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """An in-place exponential moving average over lists of Tensors, as PyTorch's:
    W_ema ← decay·W_ema + (1 - decay)·W_model (a lerp by ``1 - decay``), for the ``multi_avg_fn`` of
    :class:`AveragedModel`. ``decay`` must be in [0, 1]."""
    decay, complement = _check_decay(decay, "get_ema_multi_avg_fn", zero_dim=True)

    def ema_update(ema_params: Sequence[mg.Tensor], current_params: Sequence[mg.Tensor], _: Any) -> None:
        if not ema_params:
            return
        dtype = mg.get_default_dtype()
        with mg.no_grad():
            floating = _is_floating(ema_params[0])
            for ema, current in zip(ema_params, current_params, strict=True):
                array, new = ema.data, _array_of(current, ema)
                if floating:
                    lerp_(array, new, complement)
                else:   # integers (a use_buffers count): the average in the default dtype, truncated
                    _truncated_into(array, array.astype(dtype) * decay + new.astype(dtype) * complement)
                bump_version(ema)

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """An in-place equal-weight average over lists of floating Tensors, as PyTorch's: a lerp by
    ``1 / (n + 1)`` (that weight computed in the default dtype). Integer Tensors are refused, as by PyTorch."""

    def swa_update(averaged_params: Sequence[mg.Tensor], current_params: Sequence[mg.Tensor],
                   num_averaged: Any) -> None:
        if not averaged_params:
            return
        first = averaged_params[0]
        if not _is_floating(first):
            raise InputDtypeError(f"get_swa_multi_avg_fn: can't average {first.dtype} tensors (shape "
                                  f"{tuple(first.shape)}) in place by a fractional weight, as PyTorch can't; use "
                                  "get_swa_avg_fn for integers")
        dtype = np.dtype(mg.get_default_dtype()).type
        weight = float(dtype(1) / dtype(_count(num_averaged) + 1))     # PyTorch's 1 / (n + 1): a default-dtype tensor
        with mg.no_grad():
            for averaged, current in zip(averaged_params, current_params, strict=True):
                lerp_(averaged.data, _array_of(current, averaged), weight)
                bump_version(averaged)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """An exponential moving average of one Tensor, as PyTorch's: returns decay·W_ema + (1 - decay)·W_model
    (for the ``avg_fn`` of :class:`AveragedModel`). ``decay`` must be in [0, 1]."""
    decay, complement = _check_decay(decay, "get_ema_avg_fn")

    def ema_update(ema_param: mg.Tensor, current_param: mg.Tensor, num_averaged: Any) -> mg.Tensor:
        with mg.no_grad():
            return decay * ema_param + complement * current_param

    return ema_update


def get_swa_avg_fn() -> AvgFn:
    """An equal-weight running average of one Tensor, as PyTorch's: returns W_avg + (W_model - W_avg) / (n + 1)."""

    def swa_update(averaged_param: mg.Tensor, current_param: mg.Tensor, num_averaged: Any) -> mg.Tensor:
        # n as a Python int: a 0-d int64 Tensor would make a float32 quotient float64 under NumPy's promotion,
        # where PyTorch divides in float32
        with mg.no_grad():
            return averaged_param + (current_param - averaged_param) / (_count(num_averaged) + 1)

    return swa_update


def _swa_average_(averaged: Any, current: Any, n: int) -> None:
    """averaged ← averaged + (current - averaged) / (n + 1) in place, in PyTorch's CPU order and dtypes."""
    if averaged.dtype.kind in "fc":
        difference = current - averaged
        difference /= n + 1
        averaged += difference
    else:   # integers: PyTorch's true division gives the default dtype; copy_ truncates back
        dtype = np.dtype(mg.get_default_dtype())
        _truncated_into(averaged, averaged.astype(dtype) + (current - averaged).astype(dtype) / dtype.type(n + 1))


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are a running average of ``model``'s, as
    ``torch.optim.swa_utils.AveragedModel`` (SWA by default; EMA with ``get_ema_multi_avg_fn``).

    ``device``: where the copy lives (default: where ``model`` is). ``avg_fn(averaged, current,
    n_averaged)`` returns the new average of one parameter; ``multi_avg_fn(averaged_list, current_list,
    n_averaged)`` updates lists of them in place (at most one of the two; neither: equal weights).
    ``use_buffers=True`` averages the buffers too; otherwise they are copied from ``model`` at each update.
    The first ``update_parameters`` copies ``model``'s values. Attributes: ``module`` (the copy),
    ``n_averaged`` (a 0-d int64 buffer), ``avg_fn``, ``multi_avg_fn``, ``use_buffers``. Calling it
    calls ``module``.
    """

    def __init__(self, model: Module, device: Any = None, avg_fn: AvgFn | None = None,
                 multi_avg_fn: MultiAvgFn | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: model must be an nn.Module, got {type(model).__name__}")
        if avg_fn is not None and multi_avg_fn is not None:
            raise ArgumentAssertionError("AveragedModel: only one of avg_fn and multi_avg_fn should be provided")
        for name, fn in (("avg_fn", avg_fn), ("multi_avg_fn", multi_avg_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"AveragedModel: {name} must be callable, got {type(fn).__name__}")
        module = copy.deepcopy(model)
        if device is not None:
            module = module.to(device)
        self.module = module
        self.register_buffer("n_averaged", mg.tensor(0, dtype=mg.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = bool(use_buffers)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """``self.module(*args, **kwargs)``."""
        return self.module(*args, **kwargs)

    def _pairs(self, model: Module) -> list[tuple[mg.Tensor, mg.Tensor]]:
        """(averaged, model's) Tensor pairs to average, checked to correspond one to one in shape."""
        if self.use_buffers:
            ours = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
            what = "parameters and buffers"
        else:
            ours, theirs, what = list(self.parameters()), list(model.parameters()), "parameters"
        if len(ours) != len(theirs):
            raise ValueError(f"AveragedModel.update_parameters: the averaged model has {len(ours)} {what}, the "
                             f"model given has {len(theirs)}")
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if tuple(a.shape) != tuple(b.shape):
                raise InputShapeError(f"AveragedModel.update_parameters: {what} {i} has shape {tuple(a.shape)} in the "
                                 f"averaged model but {tuple(b.shape)} in the model given")
        return list(zip(ours, theirs))

    def update_parameters(self, model: Module) -> None:
        """Average ``model``'s current parameters (and buffers with ``use_buffers``) into this copy; count one.

        ``model`` must have the parameters of the model this copy was made from, in the same order and shapes.
        """
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel.update_parameters: expected an nn.Module, got {type(model).__name__}")
        pairs = self._pairs(model)
        if not self.use_buffers:
            ours, theirs = list(self.module.buffers()), list(model.buffers())
            if len(ours) != len(theirs):
                raise ValueError(f"AveragedModel.update_parameters: the averaged model has {len(ours)} buffers, "
                                 f"the model given has {len(theirs)}")
        n = _count(self.n_averaged)
        with mg.no_grad():
            averaged = [a.detach() for a, _ in pairs]
            current = [mg.Tensor(_array_of(b, a)) if mg.device_of(b.data) != a.device else b.detach()
                       for a, b in pairs]
            if n == 0:
                for (a, _), new in zip(pairs, current):
                    a.data[...] = new.data
                    bump_version(a)
            elif self.multi_avg_fn is not None or self.avg_fn is None:
                self._average_by_group(pairs, averaged, current, n)
            else:
                for (a, _), avg, new in zip(pairs, averaged, current):
                    result = self.avg_fn(avg, new, self.n_averaged)
                    a.data[...] = _array_of(result, a)
                    bump_version(a)
            if not self.use_buffers:    # the buffers follow the model's
                for ours, theirs in zip(self.module.buffers(), model.buffers()):
                    ours.data[...] = _array_of(theirs, ours)
                    bump_version(ours)
            self.n_averaged.data[...] = n + 1

    def _average_by_group(self, pairs: list, averaged: list, current: list, n: int) -> None:
        """The default average or ``multi_avg_fn`` over the pairs grouped by device and dtype, as PyTorch's."""
        groups: dict[tuple, list[int]] = {}
        for i, avg in enumerate(averaged):
            groups.setdefault((str(avg.device), str(avg.dtype)), []).append(i)
        for (device, _), indices in groups.items():
            avg_list, new_list = [averaged[i] for i in indices], [current[i] for i in indices]
            if self.multi_avg_fn is not None:
                count = self.n_averaged if str(self.n_averaged.device) == device else self.n_averaged.to(device)
                self.multi_avg_fn(avg_list, new_list, count)
            elif device.startswith("cuda") and _is_floating(avg_list[0]):
                get_swa_multi_avg_fn()(avg_list, new_list, n)      # PyTorch's foreach path on a GPU
            else:
                for avg, new in zip(avg_list, new_list):
                    _swa_average_(avg.data, new.data, n)
            for i in indices:
                bump_version(pairs[i][0])


def _is_batch_norm(module: Module) -> bool:
    return isinstance(module, (BatchNorm1d, _BatchNormNd))


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute the running statistics of every batch norm in ``model`` with one pass over ``loader``,
    as ``torch.optim.swa_utils.update_bn``.

    Each batch is a Tensor, or a list/tuple whose first item is the input; it is moved to ``device``
    when given. The statistics are reset, then accumulated as a cumulative average over the batches
    (momentum ``None``); the momenta and the train/eval mode are restored afterwards. A model without
    batch norms is left untouched.
    """
    if not isinstance(model, Module):
        raise TypeError(f"update_bn: model must be an nn.Module, got {type(model).__name__}")
    norms = [module for module in model.modules() if _is_batch_norm(module)]
    if not norms:
        return
    momenta = [module.momentum for module in norms]
    was_training = model.training
    with mg.no_grad():
        for module in norms:
            module.reset_running_stats()
        model.train()
        for module in norms:
            module.momentum = None
        try:
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    if not batch:
                        raise IndexError("update_bn: got an empty batch (a list/tuple whose first item is the input)")
                    batch = batch[0]
                if device is not None:
                    batch = batch.to(device) if isinstance(batch, mg.Tensor) else mg.tensor(batch, device=device)
                model(batch)
        finally:
            for module, momentum in zip(norms, momenta):
                module.momentum = momentum
            model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr to ``swa_lr`` over ``anneal_epochs`` steps, then holds it, as
    ``torch.optim.swa_utils.SWALR``.

    ``swa_lr``: one number for every group or one per group (kept in each group as ``"swa_lr"``).
    ``anneal_strategy``: ``"cos"`` (α(t) = (1 - cos πt)/2) or ``"linear"`` (α(t) = t). At step s the lr is
    ``swa_lr·α(t) + lr₀·(1 - α(t))`` with t = min(1, s / anneal_epochs), where lr₀ is recovered from the
    group's current lr and the previous step's α, so another scheduler may have moved the lr before.
    """

    _not_saved = ("anneal_func",)

    def __init__(self, optimizer: Any, swa_lr: float | Sequence[float], anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        check_optimizer("SWALR", optimizer)
        groups = optimizer.param_groups
        if isinstance(swa_lr, (list, tuple)):
            if len(swa_lr) != len(groups):
                raise ValueError(f"SWALR: swa_lr must have the same length as optimizer.param_groups. swa_lr has "
                                 f"{len(swa_lr)} values, param_groups has {len(groups)}.")
            swa_lrs = list(swa_lr)
        else:
            swa_lrs = [swa_lr] * len(groups)
        swa_lrs = [lr_scalar(value) for value in swa_lrs]
        for value in swa_lrs:
            if not is_number(value) or not math.isfinite(value):
                raise TypeError(f"SWALR: swa_lr must be a finite number (or one per group), got {value!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy!r}")
        check_int("SWALR", "anneal_epochs", anneal_epochs, 0)
        for group, value in zip(groups, swa_lrs):
            group["swa_lr"] = value
        self._set_anneal_func(anneal_strategy)
        self.anneal_epochs = int(anneal_epochs)
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The lr the annealing started from, given the lr reached at weight ``alpha``."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self) -> list[float]:
        """Each group's lr at this step: between the lr the annealing started from and ``swa_lr``."""
        self._warn_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        alpha = self.anneal_func(max(0, min(1, step / span)))
        lrs = []
        for group in self.optimizer.param_groups:
            start = self._get_initial_lr(lr_scalar(group["lr"]), group["swa_lr"], prev_alpha)
            lrs.append(group["swa_lr"] * alpha + start * (1 - alpha))
        return lrs

    def load_state_dict(self, state_dict: dict) -> None:
        """Take :meth:`state_dict`'s values (checked first) and set the annealing function they name."""
        strategy = state_dict.get("_anneal_strategy", self._anneal_strategy) if isinstance(state_dict, dict) \
            else self._anneal_strategy     # (not a dict: the base class says so)
        if strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR.load_state_dict: _anneal_strategy must be 'cos' or 'linear', got {strategy!r}")
        super().load_state_dict(state_dict)
        self._set_anneal_func(self._anneal_strategy)
