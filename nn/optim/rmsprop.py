"""RMSprop (plain, centered, with momentum), as ``torch.optim.RMSprop``."""

from __future__ import annotations

from typing import Any, Iterable

import minigrad as mg

from .optimizer import Optimizer, add_fused_, fused, lerp_, opmath, plus, scale_type
from .ported import check_implementation

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    v ← αv + (1-α)g²; centered: a ← αa + (1-α)g, denominator √(v - a²) + eps,
    else √v + eps; with momentum: buf ← momentum·buf + g/denominator, p ← p - lr·buf,
    else p ← p - lr·g/denominator.
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, *, check_finite: bool = False) -> None:
        check_implementation("RMSprop", foreach, capturable, differentiable)   # (PyTorch's positions)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable), check_finite=check_finite)

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        required, optional = {"step", "square_avg"}, set()
        (required if hyper["momentum"] > 0 else optional).add("momentum_buffer")
        (required if hyper["centered"] else optional).add("grad_avg")
        return required, optional

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        # scalars in float32 for float16 (its temporaries too): PyTorch's ops compute there, rounding each result
        # once (see opmath)
        scalar = opmath(param)
        lr, alpha, eps, momentum = hyper["lr"], hyper["alpha"], hyper["eps"], hyper["momentum"]
        g = -grad if hyper["maximize"] else grad
        if hyper["weight_decay"] != 0:
            g = plus(g, param, hyper["weight_decay"])
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(param))
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if hyper["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        square_avg = state["square_avg"]
        scale = scale_type(param, hyper)
        square_avg *= scale(alpha)
        add_fused_(square_avg, xp.multiply(g * scalar(1 - alpha), g, dtype=fused(param)))   # addcmul_: (value·a)·b
        if hyper["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, g, 1 - alpha)
            avg = square_avg.copy()
            add_fused_(avg, -xp.multiply(grad_avg, grad_avg, dtype=fused(param)))   # addcmul(value=-1)
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(square_avg, out=xp.empty_like(square_avg))   # (an array for a 0-dim one too, see Adam)
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= scale(momentum)
            buf += xp.divide(g, avg, dtype=scalar)   # addcdiv_: one rounding
            param += scalar(param.dtype.type(-lr)) * buf    # add_(buf, alpha=-lr): alpha in param's dtype
        else:
            param += scalar(-lr) * g / avg          # addcdiv's order: (value·a)/b
