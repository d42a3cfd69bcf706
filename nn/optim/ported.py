"""What the optimizers ported one to one from ``torch.optim`` share: Adamax, NAdam, RAdam, Adadelta, Rprop, ASGD.

- PyTorch's implementation keywords are accepted and kept in the groups, as
  PyTorch's: ``foreach``/``fused`` with either value (minigrad has one
  implementation of each optimizer); ``capturable``/``differentiable`` refused
  by ``step()`` where PyTorch's CPU step raises.
- ``betas`` pairs are checked as Adam checks them.
- Per-parameter *scalar* state (NAdam's ``mu_product``, ASGD's ``eta`` and
  ``mu``): PyTorch keeps these as 0-d tensors of its default scalar dtype
  (float32 unless ``torch.set_default_dtype(torch.float64)``), and its
  ``load_state_dict`` casts them to the parameter's dtype. Their rounding shows
  in float64 updates (mu_product is a running product), so minigrad keeps them
  the same way: host 0-d NumPy arrays of :func:`scalar_dtype` when created (read
  at that step), the parameter's dtype after a load (NAdam then multiplies its
  product in that dtype; ASGD's new values are made in the default dtype
  whatever the state's dtype, as PyTorch's ``torch.as_tensor``).
  ``state_dict()`` gives them as 0-d Tensors, as PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import minigrad as mg

from .checks import invalid, is_flag, is_number, param_label, scalar_of
from .optimizer import Optimizer

__all__ = ["DecoupledWeightDecayFlag", "ScalarStateOptimizer", "check_betas", "check_flags", "check_implementation",
           "scalar_dtype", "scalar_state"]


def scalar_dtype() -> type:
    """torch.optim's ``_get_scalar_dtype()``: the dtype of the 0-d state scalars a step makes (NAdam's
    ``mu_product``, ASGD's ``eta`` and ``mu``), float64 under the default dtype float64 and float32 otherwise."""
    return np.float64 if mg.get_default_dtype() == mg.float64 else np.float32


def check_implementation(name: str, foreach: Any = None, capturable: Any = False, differentiable: Any = False,
                         fused: Any = None) -> None:
    """Check PyTorch's implementation keywords as its constructors do: flags (or None), and ``fused`` neither with
    ``differentiable`` nor with ``foreach`` (RuntimeError).

    The optimizer keeps them in its groups, as PyTorch's. ``foreach`` and ``fused`` choose how PyTorch computes a
    step (lists of tensors at once, one fused kernel), not the update rule, so either value is taken and minigrad
    runs its one implementation (nanoGPT passes ``fused=True`` when ``AdamW``'s signature has it); where PyTorch's
    foreach=True step orders its operations otherwise (Adamax, NAdam, RAdam), minigrad follows that order.
    ``capturable`` (CUDA-graph capture) and ``differentiable`` (autograd through the step) are taken here too and
    refused by ``step()`` where PyTorch's CPU step raises (see ``Optimizer._refuse_implementation``).
    """
    flags = {"foreach": foreach, "capturable": capturable, "differentiable": differentiable, "fused": fused}
    for key, value in flags.items():
        if value is not None and value is not False and not is_flag(value):
            raise TypeError(f"{name}: {key} must be True, False or None, got {value!r}")
    if fused and differentiable:                # PyTorch's own checks of a fused optimizer, first
        raise RuntimeError(f"{name}: `fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError(f"{name}: `fused` and `foreach` cannot be `True` together.")


def check_flags(name: str, hyper: dict, *keys: str) -> None:
    """Each of ``keys`` True or False (the base class compares a flag with its default, and a bad
    constructor argument *is* the default)."""
    for key in keys:
        if not is_flag(hyper[key]):
            raise TypeError(f"{name}: {key} must be True or False, got {hyper[key]!r}")


def check_betas(name: str, betas: Any) -> None:
    """Two numbers in [0, 1), as PyTorch's Adam family asks (``Invalid beta parameter``)."""
    if (not isinstance(betas, (tuple, list)) or len(betas) != 2
            or not all(is_number(b) and 0.0 <= b < 1.0 for b in betas)):
        raise invalid(betas, f"{name}: invalid betas={betas!r} (two numbers in [0, 1))", pair=True)


def scalar_state(value: Any, what: str, dtype: Any = None) -> Any:
    """A per-parameter scalar as a host 0-d floating NumPy array (its own dtype, or ``dtype`` when given)."""
    array = value.data if isinstance(value, mg.Tensor) else value
    if mg.is_array(array):
        if array.size != 1 or array.dtype.kind != "f":
            raise TypeError(f"{what}: must be a 0-d floating array or Tensor, got shape {tuple(array.shape)} "
                            f"and dtype {array.dtype}")
        if dtype is None and isinstance(array, np.ndarray) and array.ndim == 0:
            return array                    # the usual case at a step: already ours
        return np.array(array.item(), dtype=array.dtype if dtype is None else dtype)
    if not is_number(value) or math.isnan(value):
        raise TypeError(f"{what}: must be a number or a 0-d floating array, got {value!r}")
    return np.array(value, dtype=scalar_dtype() if dtype is None else dtype)


class ScalarStateOptimizer(Optimizer):
    """An optimizer whose state holds, besides arrays of the parameter's shape, the 0-d scalars ``_scalar_keys``."""

    _scalar_keys: tuple[str, ...] = ()

    def _checked_state(self, p: mg.Tensor, index: int, entries: Any, hyper: dict, where: str) -> dict:
        if not isinstance(entries, dict) or not entries:
            return super()._checked_state(p, index, entries, hyper, where)
        arrays = {k: v for k, v in entries.items() if k not in self._scalar_keys}
        missing = [k for k in self._scalar_keys if k not in entries]
        if missing or not arrays:
            required = self._state_keys(hyper)[0] | set(self._scalar_keys)
            raise ValueError(f"{where}: state[{index}] (of {param_label(p, index)}) lacks "
                             f"{sorted(required - entries.keys())} (it has {sorted(entries)})")
        converted = super()._checked_state(p, index, arrays, hyper, where)
        for key in self._scalar_keys:
            converted[key] = scalar_state(entries[key], f"{where}: state[{index}][{key!r}]")
        return {k: converted[k] for k in entries if k in converted}     # the saved order (PyTorch's)

    def _checked_load(self, state_dict: Any, where: str) -> tuple[list, dict]:
        # PyTorch's load_state_dict casts every state entry but `step` to its parameter's dtype when that is
        # floating point; a complex parameter's scalars keep their own (real) dtype
        new_groups, new_state = super()._checked_load(state_dict, where)
        for p, entries in new_state.items():
            if p.dtype.kind != "f":
                continue
            for key in self._scalar_keys:
                if key in entries:
                    entries[key] = scalar_state(entries[key], key, dtype=p.dtype)
        return new_groups, new_state


class DecoupledWeightDecayFlag(Optimizer):
    """An optimizer with PyTorch's per-group ``decoupled_weight_decay`` flag (NAdam, RAdam).

    The base class reads that key of a saved group as Adam's fixed flag; here it
    is a hyper-parameter like any other, loaded with the group.
    """

    def _loaded_group(self, saved: dict, group: dict, where: str) -> tuple[dict, dict]:
        if "decoupled_weight_decay" not in saved:
            return super()._loaded_group(saved, group, where)
        saved = dict(saved)
        flag = scalar_of(saved.pop("decoupled_weight_decay"))
        values, hyper = super()._loaded_group(saved, {**group, "decoupled_weight_decay": flag}, where)
        return {**values, "decoupled_weight_decay": flag}, hyper
