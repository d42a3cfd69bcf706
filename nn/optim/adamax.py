"""Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``."""

from __future__ import annotations

from typing import Any, Iterable

import minigrad as mg

from .optimizer import Optimizer, lerp_, opmath, plus, scale_type
from .ported import check_betas, check_flags, check_implementation

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, section 7.1), as ``torch.optim.Adamax``.

    At step t: g = grad + weight_decay·p; m ← β₁m + (1-β₁)g; u ← max(β₂u, |g| + eps);
    p ← p - lr/(1-β₁ᵗ) · m/u. ``maximize`` ascends instead. State per parameter:
    ``step``, ``exp_avg`` (m) and ``exp_inf`` (u), each array of the parameter's shape.
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False,
                 check_finite: bool = False) -> None:
        check_implementation(type(self).__name__, foreach, capturable, differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable),
                         check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)
        check_flags(self._name, hyper, "maximize")
        check_betas(self._name, hyper["betas"])
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "exp_avg", "exp_inf"}, set()

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        # scalars in float32 for float16 (its temporaries too): PyTorch's ops compute there, rounding each result
        # once (see opmath)
        scalar = opmath(param)
        lr, (beta1, beta2), eps, weight_decay = hyper["lr"], hyper["betas"], hyper["eps"], hyper["weight_decay"]
        g = -grad if hyper["maximize"] else grad
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(param), exp_inf=xp.zeros_like(param))
        step = state["step"] = state["step"] + 1
        if weight_decay != 0:
            g = plus(g, param, weight_decay)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        lerp_(exp_avg, g, 1 - beta1)
        exp_inf *= scale_type(param, hyper)(beta2)
        norm = xp.abs(g, out=xp.empty_like(param))   # (out=: an array for a 0-dim one too, see Adam)
        norm += eps
        xp.maximum(exp_inf, norm, out=exp_inf)      # NaN propagates, as torch.maximum
        # (PyTorch's foreach=True step reads a Tensor lr as a Python float; its single-tensor step, in the lr's dtype)
        clr = (float(lr) if hyper["foreach"] else lr) / (1 - beta1 ** step)
        param += scalar(-clr) * exp_avg / exp_inf           # addcdiv's order: (value·a)/b
