"""RAdam (rectified Adam), as ``torch.optim.RAdam``."""

from __future__ import annotations

from typing import Any, Iterable

import minigrad as mg

from .optimizer import add_fused_, fused, lerp_, opmath, plus, scale_type
from .ported import DecoupledWeightDecayFlag, check_betas, check_flags, check_implementation

__all__ = ["RAdam"]


class RAdam(DecoupledWeightDecayFlag):
    """RAdam (Liu et al. 2019), as ``torch.optim.RAdam``.

    At step t: g = grad + weight_decay·p (or, with ``decoupled_weight_decay``,
    p ← p·(1 - lr·weight_decay) as in AdamW); m ← β₁m + (1-β₁)g; v ← β₂v + (1-β₂)g²;
    m̂ = m/(1-β₁ᵗ); ρ∞ = 2/(1-β₂) - 1; ρₜ = ρ∞ - 2tβ₂ᵗ/(1-β₂ᵗ). While ρₜ ≤ 5 the step is
    plain momentum, p ← p - lr·m̂; after, p ← p - lr·m̂·√(1-β₂ᵗ)/(√v + eps)·r with the
    rectification r = √((ρₜ-4)(ρₜ-2)ρ∞ / ((ρ∞-4)(ρ∞-2)ρₜ)).
    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, check_finite: bool = False) -> None:
        check_implementation(type(self).__name__, foreach, capturable, differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable),
                         check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)
        check_flags(self._name, hyper, "maximize", "decoupled_weight_decay")
        check_betas(self._name, hyper["betas"])
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "exp_avg", "exp_avg_sq"}, set()

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        # scalars in float32 for float16 (its temporaries too): PyTorch's ops compute there, rounding each result
        # once (see opmath)
        scalar, scale = opmath(param), scale_type(param, hyper)
        lr, (beta1, beta2), eps, weight_decay = hyper["lr"], hyper["betas"], hyper["eps"], hyper["weight_decay"]
        g = -grad if hyper["maximize"] else grad
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(param), exp_avg_sq=xp.zeros_like(param))
        step = state["step"] = state["step"] + 1
        if weight_decay != 0:
            if hyper["decoupled_weight_decay"]:
                param *= scale(1 - lr * weight_decay)
            else:
                g = plus(g, param, weight_decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= scale(beta2)
        add_fused_(exp_avg_sq, xp.multiply(g * scalar(1 - beta2), g, dtype=fused(param)))   # addcmul_: (value·a)·b
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5 \
            if rho_t > 5.0 else 0
        if hyper["foreach"]:
            self._foreach_update(param, exp_avg, exp_avg_sq, hyper, rect, bias_correction1, bias_correction2)
            return
        update = (exp_avg / scalar(bias_correction1)).astype(param.dtype, copy=False)
        update *= scalar(lr)
        if rho_t > 5.0:
            # an out= array of its own: NumPy's root of a 0-dim state is a scalar, which out= below cannot take
            adaptive = xp.sqrt(exp_avg_sq, out=xp.empty_like(exp_avg_sq))
            adaptive += eps
            # PyTorch's `number / tensor` is reciprocal(tensor) · number: two roundings, kept
            xp.reciprocal(adaptive, out=adaptive)
            adaptive *= scalar(bias_correction2 ** 0.5)
            update *= adaptive
            update *= scalar(rect)
        param -= update

    @staticmethod
    def _foreach_update(param: Any, exp_avg: Any, exp_avg_sq: Any, hyper: dict, rect: float,
                        bias_correction1: float, bias_correction2: float) -> None:
        """PyTorch's foreach=True step, another order of operations: p ← p + m·b with
        b = 1 / ((√v + eps) / s₂) + s₁, s₂ = -√(1-β₂ᵗ)·lr·r/(1-β₁ᵗ) and s₁ = -lr/(1-β₁ᵗ) while ρₜ ≤ 5 (r = 0: b is
        -0.0 + s₁, NaN where √v + eps is 0), else 0; s₁ and s₂ computed in the lr's dtype (a Tensor's too)."""
        xp = mg.array_module(param)
        lr, eps = hyper["lr"], hyper["eps"]
        unrectified = 0 if rect > 0 else 1.0
        buffer = xp.sqrt(exp_avg_sq, out=xp.empty_like(exp_avg_sq))
        buffer += eps
        buffer /= opmath(param)((bias_correction2 ** 0.5) * (lr * rect / bias_correction1) * -1)
        xp.reciprocal(buffer, out=buffer)
        buffer += (lr * unrectified / bias_correction1) * -1
        add_fused_(param, xp.multiply(exp_avg, buffer, dtype=fused(param)))     # addcmul_
