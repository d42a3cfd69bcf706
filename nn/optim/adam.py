"""Adam and AdamW (with AMSGrad), as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""

from __future__ import annotations

import math
from typing import Any, Iterable

import minigrad as mg

from .checks import invalid, is_number
from .optimizer import Optimizer, add_fused_, lerp_, opmath, plus, scale_type
from .ported import DecoupledWeightDecayFlag, check_implementation

__all__ = ["Adam", "AdamW"]


def _stored(betas: Any) -> Any:
    """``betas`` as PyTorch's Adam and AdamW store them: a list as a tuple (its other optimizers keep the list)."""
    return tuple(betas) if isinstance(betas, list) else betas


def _check_float_betas(name: str, betas: Any) -> None:
    """PyTorch's Adam and AdamW take the constructor's ``betas`` as two floats (a NumPy float64 is one), not an int
    such as 0 or a float32: ValueError for a pair of numbers in [0, 1) that is not (the others are refused as
    invalid betas; a group's own betas are not checked so, as in PyTorch)."""
    pair = isinstance(betas, (tuple, list)) and len(betas) == 2
    if pair and all(is_number(b) and 0.0 <= b < 1.0 for b in betas) and not all(isinstance(b, float) for b in betas):
        raise ValueError(f"{name}: betas must be either both floats or both Tensors, got betas={betas!r} (as in "
                         "PyTorch; write 0.0 for 0)")


class Adam(DecoupledWeightDecayFlag, Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam``: weight decay is added to the gradient (L2), or with
    ``decoupled_weight_decay=True`` (a group setting, as PyTorch's) taken off the parameter first, as AdamW.

    m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², p ← p - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + eps).
    ``amsgrad`` uses the running maximum of v instead of v.
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None, decoupled_weight_decay: bool = False,
                 check_finite: bool = False) -> None:
        if foreach and not capturable and isinstance(lr, mg.Tensor):
            raise ValueError(f"{type(self).__name__}: lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        check_implementation(type(self).__name__, foreach, capturable, differentiable, fused)
        _check_float_betas(type(self).__name__, betas)
        super().__init__(params, dict(lr=lr, betas=_stored(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay), check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        if group.get("foreach") and not group.get("capturable") and isinstance(group.get("lr"), mg.Tensor):
            raise RuntimeError(f"{self._name}: lr as a Tensor is not supported for capturable=False and foreach=True")
        hyper = super()._hyper(group)
        betas = hyper["betas"]
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(is_number(b) and 0.0 <= b < 1.0 for b in betas)):
            raise invalid(betas, f"{self._name}: invalid betas={betas!r} (two numbers in [0, 1))", pair=True)
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        required = {"step", "exp_avg", "exp_avg_sq"}
        if hyper["amsgrad"]:
            return required | {"max_exp_avg_sq"}, set()
        return required, {"max_exp_avg_sq"}

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        # scalars (and a float16 step's temporaries) in float32 for float16: PyTorch's ops compute there and round
        # each result once (see opmath)
        scalar, scale = opmath(param), scale_type(param, hyper)
        lr, (beta1, beta2), eps, weight_decay = hyper["lr"], hyper["betas"], hyper["eps"], hyper["weight_decay"]
        g = -grad if hyper["maximize"] else grad
        if weight_decay != 0:
            if hyper["decoupled_weight_decay"]:
                param *= scale(1 - lr * weight_decay)
            else:
                g = plus(g, param, weight_decay)
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(param), exp_avg_sq=xp.zeros_like(param))
            if hyper["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        step = state["step"] = state["step"] + 1
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, 1 - beta1)
        # One scratch array reused through the step (out=) instead of a fresh temporary per
        # operation; the order of operations, hence every rounding, is PyTorch's as before.
        scratch = xp.multiply(g, scalar(1 - beta2))
        if param.dtype == xp.float16:
            scratch = scratch.astype(xp.float64)    # float16's addcmul_ is one fused multiply-add (see fused)
        scratch *= g                                # addcmul's order: (value·a)·b
        exp_avg_sq *= scale(beta2)
        add_fused_(exp_avg_sq, scratch)
        if scratch.ndim == 0 or scratch.strides != param.strides:
            # weight gradients of x @ W.T are column-major: mixing layouts in the in-place
            # steps below would send NumPy to its slow strided loops, so take param's layout
            # (a 0-dim param: NumPy's product above is a scalar, which out= cannot write to)
            scratch = xp.empty_like(param, dtype=xp.promote_types(param.dtype, xp.float32))
        second = exp_avg_sq
        if hyper["amsgrad"]:
            second = xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1 ** step)
        denom = xp.sqrt(second)
        if denom.ndim == 0:     # a NumPy scalar: an array, which the float32 steps below round to float16 in place
            denom = xp.array(denom)
        denom /= scalar(math.sqrt(1 - beta2 ** step))
        denom += eps
        xp.multiply(exp_avg, scalar(-step_size), out=scratch)
        scratch /= denom                            # addcdiv's order: (value·a)/b
        param += scratch


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``:
    p ← p·(1 - lr·weight_decay) before the Adam step. Default weight_decay=1e-2. As PyTorch's, an Adam
    whose groups have ``decoupled_weight_decay=True``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None, check_finite: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True, check_finite=check_finite)
