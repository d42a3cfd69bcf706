"""Adagrad (Duchi, Hazan & Singer), as ``torch.optim.Adagrad``."""

from __future__ import annotations

import warnings
from typing import Any, Iterable

import minigrad as mg

from .optimizer import Optimizer, add_fused_, fused, opmath, plus, scale_type
from .ported import check_implementation

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    At step t: g = grad + weight_decay·p; clr = lr / (1 + (t-1)·lr_decay);
    sum ← sum + g²; p ← p - clr · g / (√sum + eps).
    ``sum`` starts at ``initial_accumulator_value``; like PyTorch, the state of
    every parameter exists from construction (``step`` 0). As in PyTorch, every
    ``sum`` starts at the constructor's ``initial_accumulator_value`` (a parameter
    group's own value is kept in the group but not used; a warning says so).
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None,
                 check_finite: bool = False) -> None:
        check_implementation("Adagrad", foreach, False, differentiable, fused)   # PyTorch's keywords
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused),
                         check_finite=check_finite)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._initial_state(p.data, self.defaults["initial_accumulator_value"])

    def add_param_group(self, param_group: dict) -> None:
        """As the base; warns when the group sets an ``initial_accumulator_value`` that PyTorch ignores."""
        super().add_param_group(param_group)
        value, default = self.param_groups[-1]["initial_accumulator_value"], self.defaults["initial_accumulator_value"]
        if value != default:
            warnings.warn(f"Adagrad: param_groups[{len(self.param_groups) - 1}] sets initial_accumulator_value="
                          f"{value!r}, but as in PyTorch every sum starts at the constructor's "
                          f"initial_accumulator_value={default!r}; the group's value is not used",
                          UserWarning, stacklevel=2)

    @staticmethod
    def _initial_state(param: Any, initial_accumulator_value: float) -> dict:
        if param.dtype.kind == "c":   # both parts of a complex parameter start there, as PyTorch's
            initial_accumulator_value = complex(initial_accumulator_value, initial_accumulator_value)
        return {"step": 0, "sum": mg.array_module(param).full_like(param, initial_accumulator_value)}

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "sum"}, set()

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        # scalars in float32 for float16 (its temporaries too): PyTorch's ops compute there, rounding each result
        # once (see opmath)
        scalar = opmath(param)
        if not state:                      # a group added after construction (PyTorch: the constructor's value)
            state.update(self._initial_state(param, self.defaults["initial_accumulator_value"]))
        step = state["step"] = state["step"] + 1
        g = -grad if hyper["maximize"] else grad
        if hyper["weight_decay"] != 0:
            g = plus(g, param, hyper["weight_decay"])
        clr = hyper["lr"] / (1 + (step - 1) * hyper["lr_decay"])
        total = state["sum"]
        add_fused_(total, xp.multiply(g, g, dtype=fused(param)))   # addcmul_
        std = xp.sqrt(total, out=xp.empty_like(total))   # (out=: an array for a 0-dim one too, see Adam)
        std += hyper["eps"]
        if hyper["foreach"]:
            # PyTorch's foreach step: the numerator g·(-clr) rounded to the parameter's dtype first (its scalar too
            # where weight decay or maximize let it multiply g in place, see scale_type), then p + numerator/std
            in_place = hyper["weight_decay"] != 0 or hyper["maximize"]
            numerator = (g * (scale_type(param, hyper) if in_place else scalar)(-clr)).astype(param.dtype, copy=False)
            param += xp.divide(numerator, std, dtype=xp.promote_types(param.dtype, xp.float32))
        else:
            param += scalar(-clr) * g / std         # addcdiv's order: (value·a)/b
