"""Muon (Jordan et al. 2024), as ``torch.optim.Muon``: momentum SGD whose update matrix is orthogonalised
by a Newton–Schulz iteration, for the 2-D weights of hidden layers.

PyTorch runs the Newton–Schulz iteration in bfloat16. NumPy and CuPy have no bfloat16, so minigrad
runs it in float32 and rounds every intermediate to bfloat16 where PyTorch's bfloat16 ops round
(round to nearest even): the input, the norm, the scaled matrix, and each product, after the
float32 accumulation. The update is then what PyTorch's is up to the order of those float32
sums: an element that lands on a bfloat16 rounding boundary may differ by one bfloat16 step
(2⁻⁸ relative), and the next iterations carry it on; on small matrices most steps agree bit for bit.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import minigrad as mg

from .checks import is_flag, is_number, param_label
from .optimizer import Optimizer, lerp_, opmath

__all__ = ["Muon"]

# Keller Jordan's quintic coefficients (chosen for the largest slope at zero), as PyTorch's defaults
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
EPS = 1e-7
ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def to_bfloat16(xp: Any, array: Any) -> Any:
    """``array`` rounded to the nearest bfloat16 (ties to even), held in float32: the top 16 bits of each
    float32 after rounding; NaN stays NaN."""
    array = xp.asarray(array, dtype=xp.float32)
    bits = array.view(xp.uint32)
    rounded = (bits + xp.uint32(0x7FFF) + ((bits >> xp.uint32(16)) & xp.uint32(1))) & xp.uint32(0xFFFF0000)
    return xp.where(xp.isnan(array), array, rounded.view(xp.float32))


def orthogonalised(xp: Any, matrix: Any, coefficients: tuple[float, float, float], steps: int,
                   eps: float) -> Any:
    """The Newton–Schulz "zeroth power" of ``matrix`` (n, m): about U·S'·Vᵀ with S' near 1, for G = U·S·Vᵀ.

    X = G/‖G‖_F (transposed if n > m, so the Gram matrix is the smaller one), then ``steps`` times
    A = X·Xᵀ, B = b·A + c·A·A, X = a·X + B·X. Every intermediate is rounded to bfloat16 as PyTorch's.
    Returns a float32 array of bfloat16 values, (n, m).
    """
    a, b, c = (xp.float32(v) for v in coefficients)
    x = to_bfloat16(xp, matrix.astype(xp.float32))
    tall = matrix.shape[0] > matrix.shape[1]
    if tall:
        x = x.T
    norm = to_bfloat16(xp, xp.sqrt((x * x).sum(dtype=xp.float32)))
    norm = xp.maximum(norm, to_bfloat16(xp, xp.float32(eps)))
    x = to_bfloat16(xp, x / norm)
    for _ in range(steps):
        gram = to_bfloat16(xp, x @ x.T)
        polynomial = to_bfloat16(xp, b * gram + c * (gram @ gram))
        x = to_bfloat16(xp, a * x + polynomial @ x)
    return x.T if tall else x


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: tuple) -> float:
    """The lr scaled for a (rows, cols) matrix: "original" (Keller Jordan's, the default) √max(1, rows/cols);
    "match_rms_adamw" (Moonshot's) 0.2·√max(rows, cols)."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    return lr * 0.2 * math.sqrt(max(rows, cols))


class Muon(Optimizer):
    """Muon, as ``torch.optim.Muon``; only 2-D parameters (use AdamW for biases, embeddings and the rest).

    B ← μB + (1-μ)g (a lerp); the update is g lerped towards B by μ with ``nesterov`` (else B);
    O = NewtonSchulz(update) (see :func:`orthogonalised`); p ← p·(1 - lr·weight_decay) - lr'·O with
    lr' = :func:`adjusted_lr`. State, by PyTorch's name: ``momentum_buffer``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                 eps: float = EPS, ns_steps: int = NS_STEPS, adjust_lr_fn: str | None = None, *,
                 check_finite: bool = False) -> None:
        if isinstance(ns_coefficients, list):
            ns_coefficients = tuple(ns_coefficients)
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn), check_finite=check_finite)

    def add_param_group(self, param_group: dict) -> None:
        """As the base class's, refusing any parameter that is not 2-D (PyTorch refuses them too)."""
        params = param_group.get("params") if isinstance(param_group, dict) else None
        if params is None or isinstance(params, (set, frozenset)):
            super().add_param_group(param_group)          # (the base class says what is wrong)
            return
        listed = [params] if isinstance(params, mg.Tensor) else list(params)
        start = sum(len(g["params"]) for g in self.param_groups)
        for i, p in enumerate(listed):
            p = p[1] if isinstance(p, tuple) and len(p) == 2 else p
            if isinstance(p, mg.Tensor) and p.ndim != 2:
                raise ValueError(f"Muon only supports 2D parameters whereas we found {param_label(p, start + i)} "
                                 f"({p.ndim}-D); optimize it with another optimizer, e.g. AdamW")
        super().add_param_group({**param_group, "params": listed})

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)
        if not is_flag(hyper["nesterov"]):
            raise TypeError(f"{self._name}: nesterov must be True or False, got {hyper['nesterov']!r}")
        if hyper["adjust_lr_fn"] not in ADJUST_LR_FNS:
            raise ValueError(f"{self._name}: adjust learning rate function {hyper['adjust_lr_fn']!r} is not "
                             f"supported; use one of {ADJUST_LR_FNS}")
        coefficients = hyper["ns_coefficients"]
        if (not isinstance(coefficients, (tuple, list)) or len(coefficients) != 3
                or not all(is_number(v) and math.isfinite(v) for v in coefficients)):
            raise ValueError(f"{self._name}: ns_coefficients must be exactly 3 finite numbers (a, b, c), "
                             f"got {coefficients!r}")
        steps = hyper["ns_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps < 100:
            raise ValueError(f"{self._name}: ns_steps must be an int in [0, 100) (PyTorch refuses 100 or more "
                             f"for computational efficiency), got {steps!r}")
        hyper["ns_coefficients"] = tuple(coefficients)
        return hyper

    def _grad_array(self, p: mg.Tensor, index: int, where: str) -> Any:
        """As the base; a matrix with no columns is refused here, before any update, where its group's "original"
        lr adjustment divides by the column count (PyTorch's raises ZeroDivisionError in the middle of its step)."""
        grad = super()._grad_array(p, index, where)
        if grad is not None and p.ndim == 2 and p.shape[1] == 0:
            group = next(g for g in self.param_groups if any(q is p for q in g["params"]))
            if group["adjust_lr_fn"] in (None, "original"):
                raise ZeroDivisionError(f"{where}: {param_label(p, index)} has no columns; the 'original' lr "
                                        "adjustment √max(1, rows/cols) divides by them (PyTorch's raises "
                                        "ZeroDivisionError too)")
        return grad

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"momentum_buffer"}, set()

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        lr, momentum = hyper["lr"], hyper["momentum"]
        if not state:
            state["momentum_buffer"] = xp.zeros_like(param)
        buffer = state["momentum_buffer"]
        lerp_(buffer, grad, 1 - momentum)
        if hyper["nesterov"]:
            update = grad.copy()
            lerp_(update, buffer, momentum)
        else:
            update = buffer
        ortho = orthogonalised(xp, update, hyper["ns_coefficients"], hyper["ns_steps"], hyper["eps"])
        scaled_lr = adjusted_lr(lr, hyper["adjust_lr_fn"], param.shape)
        param *= opmath(param)(1 - lr * hyper["weight_decay"])
        # add_(update, alpha=-scaled_lr): the bfloat16 update meets a float16 parameter in float32, rounded once
        step = ortho.astype(xp.promote_types(param.dtype, xp.float32))    # exact: bfloat16 values
        step *= -scaled_lr
        param += step
