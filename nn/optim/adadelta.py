"""Adadelta, as ``torch.optim.Adadelta``."""

from __future__ import annotations

from typing import Any, Iterable

import minigrad as mg

from .checks import invalid, is_number
from .optimizer import Optimizer, add_fused_, fused, opmath, plus, plus_, scale_type
from .ported import check_flags, check_implementation

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012), as ``torch.optim.Adadelta``.

    At each step: g = grad + weight_decay·p; v ← ρv + (1-ρ)g²;
    Δ = √(u + eps)/√(v + eps) · g; u ← ρu + (1-ρ)Δ²; p ← p - lr·Δ.
    State per parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u).
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False, check_finite: bool = False) -> None:
        check_implementation(type(self).__name__, foreach, capturable, differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable),
                         check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)
        check_flags(self._name, hyper, "maximize")
        if not is_number(hyper["rho"]) or not 0.0 <= hyper["rho"] <= 1.0:
            raise invalid(hyper["rho"], f"{self._name}: invalid rho={hyper['rho']!r} (a number in [0, 1])")
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "square_avg", "acc_delta"}, set()

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        lr, rho, eps, weight_decay = hyper["lr"], hyper["rho"], hyper["eps"], hyper["weight_decay"]
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(param), acc_delta=xp.zeros_like(param))
        state["step"] += 1
        g = -grad if hyper["maximize"] else grad
        if weight_decay != 0:
            g = plus(g, param, weight_decay)
        scalar, scale = opmath(param), scale_type(param, hyper)   # float32 for float16 (see opmath)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= scale(rho)
        add_fused_(square_avg, xp.multiply(g * scalar(1 - rho), g, dtype=fused(param)))   # addcmul_: (value·a)·b
        # out= arrays of their own: NumPy's square_avg + eps of a 0-dim param is a scalar, which out= cannot take
        std = xp.add(square_avg, eps, out=xp.empty_like(square_avg))
        xp.sqrt(std, out=std)
        delta = xp.add(acc_delta, eps, out=xp.empty_like(acc_delta))
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        acc_delta *= scale(rho)
        add_fused_(acc_delta, xp.multiply(delta * scalar(1 - rho), delta, dtype=fused(param)))
        plus_(param, delta, -lr)
