"""Rprop (resilient back-propagation), as ``torch.optim.Rprop``."""

from __future__ import annotations

import math
from typing import Any, Iterable

import minigrad as mg

from .checks import invalid, is_number
from .optimizer import Optimizer
from .ported import check_flags, check_implementation

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun 1993), as ``torch.optim.Rprop``: only the sign of the gradient is used.

    Each element has its own step size, starting at ``lr``. Where the gradient
    kept its sign since the last step the size grows by ``etas[1]``, where it
    flipped it shrinks by ``etas[0]`` (and that element skips this step and
    counts its gradient as 0 next time), clamped to ``step_sizes`` (min, max);
    then p ← p - sign(g)·size. ``maximize`` ascends instead.
    State per parameter: ``step``, ``prev`` (the last gradient used) and ``step_size``.
    """

    complex_as_real = True   # a complex parameter steps as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False,
                 check_finite: bool = False) -> None:
        check_implementation(type(self).__name__, foreach, capturable, differentiable)
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable),
                         check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)
        check_flags(self._name, hyper, "maximize")
        etas, sizes = hyper["etas"], hyper["step_sizes"]
        if (not isinstance(etas, (tuple, list)) or len(etas) != 2 or not all(is_number(e) for e in etas)
                or not 0.0 < etas[0] < 1.0 < etas[1] < math.inf):
            raise invalid(etas, f"{self._name}: invalid etas={etas!r} (two numbers, 0 < etaminus < 1 < etaplus)",
                          pair=True)
        if (not isinstance(sizes, (tuple, list)) or len(sizes) != 2 or not all(is_number(s) for s in sizes)
                or not 0.0 <= sizes[0] <= sizes[1]):
            raise invalid(sizes, f"{self._name}: invalid step_sizes={sizes!r} (two numbers, 0 <= minimum <= maximum)",
                          pair=True)
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"step", "prev", "step_size"}, set()

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        (etaminus, etaplus), (size_min, size_max) = hyper["etas"], hyper["step_sizes"]
        if not state:
            state.update(step=0, prev=xp.zeros_like(param), step_size=xp.full_like(param, hyper["lr"]))
        state["step"] += 1
        g = -grad if hyper["maximize"] else grad
        prev, step_size = state["prev"], state["step_size"]
        # PyTorch's sign: 0 for NaN (NumPy's is NaN), so a NaN gradient entry keeps its step size and does not step
        sign = _sign(g * prev)
        # PyTorch assigns etaplus where > 0, then etaminus where < 0, then 1 where == 0, into its sign tensor (of the
        # parameter's dtype: etas rounded to float32 or float16, multiplied there)
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0)).astype(param.dtype, copy=False)
        step_size *= factor
        xp.clip(step_size, size_min, size_max, out=step_size)
        g = xp.where(factor == etaminus, 0.0, g)    # a flipped sign: no step now, and prev = 0
        param -= _sign(g) * step_size
        prev[...] = g


def _sign(a: Any) -> Any:
    """-1, 0 or 1 per entry, 0 for NaN, as ``torch.sign``."""
    xp = mg.array_module(a)
    return xp.sign(xp.nan_to_num(a))
