"""NAdam (Adam with Nesterov momentum), as ``torch.optim.NAdam``."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

import minigrad as mg

from .checks import invalid, is_number
from .optimizer import add_fused_, fused, lerp_, opmath, plus, scale_type
from .ported import (
    DecoupledWeightDecayFlag,
    ScalarStateOptimizer,
    check_betas,
    check_flags,
    check_implementation,
    scalar_dtype,
)

__all__ = ["NAdam"]


class NAdam(ScalarStateOptimizer, DecoupledWeightDecayFlag):
    """NAdam (Dozat 2016), as ``torch.optim.NAdam``.

    At step t: g = grad + weight_decay·p (or, with ``decoupled_weight_decay``,
    p ← p·(1 - lr·weight_decay) as in AdamW); μₜ = β₁(1 - ½·0.96^(t·momentum_decay));
    Πₜ = μ₁···μₜ; m ← β₁m + (1-β₁)g; v ← β₂v + (1-β₂)g²; d = √(v/(1-β₂ᵗ)) + eps;
    p ← p - lr(1-μₜ)/(1-Πₜ) · g/d - lr·μₜ₊₁/(1-Πₜμₜ₊₁) · m/d.
    State per parameter: ``step``, ``mu_product`` (Πₜ, a 0-d float32 scalar, float64 under the
    default dtype float64, as in PyTorch: see :func:`nn.optim.ported.scalar_dtype`), ``exp_avg`` (m),
    ``exp_avg_sq`` (v).
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    _scalar_keys = ("mu_product",)

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, check_finite: bool = False) -> None:
        check_implementation(type(self).__name__, foreach, capturable, differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable), check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)
        check_flags(self._name, hyper, "maximize", "decoupled_weight_decay")
        check_betas(self._name, hyper["betas"])
        decay = hyper["momentum_decay"]
        if not is_number(decay) or not 0 <= decay < math.inf:
            raise invalid(decay, f"{self._name}: invalid momentum_decay={decay!r} (must be a finite number >= 0)")
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "exp_avg", "exp_avg_sq"}, set()       # and the scalar mu_product

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        # scalars in float32 for float16 (its temporaries too): PyTorch's ops compute there, rounding each result
        # once (see opmath)
        scalar, scale = opmath(param), scale_type(param, hyper)
        lr, (beta1, beta2), eps, weight_decay = hyper["lr"], hyper["betas"], hyper["eps"], hyper["weight_decay"]
        momentum_decay = hyper["momentum_decay"]
        g = -grad if hyper["maximize"] else grad
        if not state:
            state.update(step=0, mu_product=np.array(1.0, dtype=scalar_dtype()),
                         exp_avg=xp.zeros_like(param), exp_avg_sq=xp.zeros_like(param))
        step = state["step"] = state["step"] + 1
        bias_correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            if hyper["decoupled_weight_decay"]:
                param *= scale(1 - lr * weight_decay)
            else:
                g = plus(g, param, weight_decay)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        # the product is kept in its own dtype (float32, or float64 under that default), multiplied there as
        # PyTorch's `mu_product *= mu`
        product = state["mu_product"]
        state["mu_product"] = np.array(product * product.dtype.type(mu))
        product = float(state["mu_product"])
        product_next = product * mu_next
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= scale(beta2)
        add_fused_(exp_avg_sq, xp.multiply(g * scalar(1 - beta2), g, dtype=fused(param)))   # addcmul_: (value·a)·b
        # an out= array of its own: NumPy's quotient of a 0-dim param is a scalar, which out= cannot take
        denom = xp.empty_like(exp_avg_sq)
        if hyper["foreach"]:
            # PyTorch's foreach=True step: √v / √(1-β₂ᵗ), and a Tensor lr read as a Python float in the step sizes
            # (its single-tensor step: √(v / (1-β₂ᵗ)), the lr in the Tensor's dtype)
            xp.sqrt(exp_avg_sq, out=denom)
            denom /= scalar(bias_correction2 ** 0.5)
            lr = float(lr)
        else:
            xp.divide(exp_avg_sq, scalar(bias_correction2), out=denom)
            xp.sqrt(denom, out=denom)
        denom += eps
        param += scalar(-lr * (1.0 - mu) / (1.0 - product)) * g / denom     # addcdiv's order: (value·a)/b
        param += scalar((-lr * mu_next) / (1.0 - product_next)) * exp_avg / denom
