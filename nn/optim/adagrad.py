"""Adagrad (Duchi, Hazan & Singer), as ``torch.optim.Adagrad``."""

from __future__ import annotations

from typing import Any, Iterable

import minigrad as mg

from .optimizer import Optimizer
from .ported import check_implementation

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    At step t: g = grad + weight_decay·p; clr = lr / (1 + (t-1)·lr_decay);
    sum ← sum + g²; p ← p - clr · g / (√sum + eps).
    ``sum`` starts at ``initial_accumulator_value``; like PyTorch, the state of
    every parameter exists from construction (``step`` 0).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None,
                 check_finite: bool = False) -> None:
        check_implementation("Adagrad", foreach, False, differentiable, fused)   # PyTorch's keywords, off only
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize), check_finite=check_finite)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._initial_state(p.data, group["initial_accumulator_value"])

    @staticmethod
    def _initial_state(param: Any, initial_accumulator_value: float) -> dict:
        return {"step": 0, "sum": mg.array_module(param).full_like(param, initial_accumulator_value)}

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "sum"}, set()

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        if not state:                      # a group added after construction
            state.update(self._initial_state(param, hyper["initial_accumulator_value"]))
        step = state["step"] = state["step"] + 1
        g = -grad if hyper["maximize"] else grad
        if hyper["weight_decay"] != 0:
            g = g + hyper["weight_decay"] * param
        clr = hyper["lr"] / (1 + (step - 1) * hyper["lr_decay"])
        total = state["sum"]
        total += g * g
        std = xp.sqrt(total)
        std += hyper["eps"]
        param += -clr * g / std                     # addcdiv's order: (value·a)/b
