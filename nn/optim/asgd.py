"""ASGD (averaged stochastic gradient descent), as ``torch.optim.ASGD``."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

import minigrad as mg

from .checks import invalid, is_number
from .optimizer import add_fused_, fused, opmath, plus, plus_
from .ported import ScalarStateOptimizer, check_flags, check_implementation, scalar_dtype

__all__ = ["ASGD"]


class ASGD(ScalarStateOptimizer):
    """Averaged SGD (Polyak & Juditsky 1992), as ``torch.optim.ASGD``.

    At step t, with the step size η and averaging weight μ of the step before
    (η = lr, μ = 1 at the first): g = grad + weight_decay·p;
    p ← p·(1 - λη) - η·g; ax ← ax + μ·(p - ax) (ax ← p while μ = 1); then
    η ← lr / (1 + λ·lr·t)^α and μ ← 1 / max(1, t - t0). ``ax`` is the running
    average of the parameter, which averaging starts after step ``t0``.
    State per parameter: ``step``, ``eta`` and ``mu`` (0-d float32 scalars, float64 under the default dtype
    float64, as in PyTorch: see :func:`nn.optim.ported.scalar_dtype`) and ``ax``.
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    _scalar_keys = ("eta", "mu")

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False, *, check_finite: bool = False) -> None:
        check_implementation(type(self).__name__, foreach, capturable, differentiable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable), check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)           # alpha: a finite number >= 0
        check_flags(self._name, hyper, "maximize")
        lambd, t0 = hyper["lambd"], hyper["t0"]
        if not is_number(lambd) or not 0 <= lambd < math.inf:
            raise invalid(lambd, f"{self._name}: invalid lambd={lambd!r} (must be a finite number >= 0)")
        if not is_number(t0) or math.isnan(t0):
            raise invalid(t0, f"{self._name}: invalid t0={t0!r} (must be a number; inf never averages)")
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "ax"}, set()            # and the scalars eta, mu

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        lr, lambd, alpha, t0 = hyper["lr"], hyper["lambd"], hyper["alpha"], hyper["t0"]
        if not state:
            state.update(step=0, eta=np.array(lr, dtype=scalar_dtype()), mu=np.array(1.0, dtype=scalar_dtype()),
                         ax=xp.zeros_like(param))
        step = state["step"] = state["step"] + 1
        g = -grad if hyper["maximize"] else grad
        if hyper["weight_decay"] != 0:
            g = plus(g, param, hyper["weight_decay"])
        eta, mu = float(state["eta"]), float(state["mu"])
        ax = state["ax"]
        if hyper["foreach"]:
            # PyTorch's foreach step: the same update, rounded another way: p ← p - (g + λp)·η, ax ← ax + (p - ax)·μ
            # (addcmul_ with its 0-d η and μ in the parameter's dtype)
            xp = mg.array_module(param)
            add_fused_(param, xp.multiply(-plus(g, param, lambd), param.dtype.type(eta), dtype=fused(param)))
            add_fused_(ax, xp.multiply(param - ax, param.dtype.type(mu), dtype=fused(param)))
        else:
            param *= opmath(param)(1 - lambd * eta)
            plus_(param, g, -eta)
            if mu != 1:
                difference = param - ax         # ax.add_(param.sub(ax).mul_(mu)): each result rounded
                difference *= opmath(param)(mu)
                ax += difference
            else:
                ax[...] = param
        # PyTorch makes the new values with torch.as_tensor (its default dtype from a Python float lr; a Tensor
        # lr's dtype from a Tensor lr, read here as a NumPy scalar of it), then copies them into the state
        # (scalar_dtype(), or the parameter's dtype after a load). PyTorch's 0-d float32 power is float64's, rounded.
        default = np.dtype(mg.get_default_dtype()).type   # the dtype the new values are made in
        base = 1 + lambd * lr * step
        if isinstance(base, np.generic):
            eta = lr / base.dtype.type(float(base) ** alpha)
        elif hyper["foreach"]:
            # PyTorch's foreach step: its step Tensor (scalar_dtype()) makes each operation float32 (float64 under
            # that default), and lr / t is t.reciprocal() * lr
            f = scalar_dtype()
            eta = f(1) / f(float(f(1) + f(lambd * lr) * f(step)) ** alpha) * f(lr)
        else:
            eta = default(lr / base ** alpha)
        state["eta"] = np.array(eta, dtype=state["eta"].dtype)
        state["mu"] = np.array(default(1 / max(1, step - t0)), dtype=state["mu"].dtype)
