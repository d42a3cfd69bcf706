"""A line search that finds a step satisfying the strong Wolfe conditions (for ``LBFGS``).

Along a direction d from x, with φ(t) = f(x + t·d) and φ'(t) = ∇f(x + t·d)·d, a
step t satisfies the strong Wolfe conditions when

    φ(t) ≤ φ(0) + c1·t·φ'(0)      (sufficient decrease)
    |φ'(t)| ≤ c2·|φ'(0)|          (curvature)

The search (Nocedal & Wright, *Numerical Optimization*, Algorithms 3.5 and 3.6)
first grows t until an interval brackets such a step, then shrinks the bracket
("zoom"). New trial steps are the minimiser of the cubic that matches φ and φ'
at two known points; the safeguards (extrapolation limits, the 10% margin and
the "insufficient progress" rule) are those of Mark Schmidt's minFunc, which
PyTorch's ``LBFGS`` also follows, so both take the same trial steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Trial", "cubic_minimizer", "divide", "strong_wolfe"]


def divide(a: float, b: float) -> float:
    """a / b with IEEE results (±inf, nan) instead of ZeroDivisionError, as array arithmetic gives."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def cubic_minimizer(t1: float, f1: float, slope1: float, t2: float, f2: float, slope2: float,
                    bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (t1, f1) with slope ``slope1`` and (t2, f2) with ``slope2``.

    Clipped to ``bounds`` (default: the interval between t1 and t2); when the
    cubic has no minimiser, the middle of the bounds.
    """
    low, high = bounds if bounds is not None else (min(t1, t2), max(t1, t2))
    if t1 == t2 and not isinstance(t1 - t2, np.generic):
        # PyTorch's Python-float steps divide by zero here (a zero lr: the first trial step is the start)
        raise ZeroDivisionError(f"LBFGS line search: the cubic through two trial steps at the same t={t1!r} "
                                "divides by zero (float division by zero, as PyTorch's); is the lr 0?")
    d1 = slope1 + slope2 - 3 * divide(f1 - f2, t1 - t2)
    discriminant = d1 * d1 - slope1 * slope2
    if not discriminant >= 0:       # also a NaN: no real minimiser
        return (low + high) / 2
    d2 = np.sqrt(discriminant)      # (in a NumPy scalar's own dtype, as PyTorch's Tensor sqrt)
    if t1 <= t2:
        t = t2 - (t2 - t1) * divide(slope2 + d2 - d1, slope2 - slope1 + 2 * d2)
    else:
        t = t1 - (t1 - t2) * divide(slope1 + d2 - d1, slope1 - slope2 + 2 * d2)
    return min(max(t, low), high)


@dataclass(frozen=True)
class Trial:
    """One evaluated step along the direction: φ(t), ∇f there (flat array) and φ'(t)."""

    t: float
    loss: float
    grad: Any
    slope: float


def strong_wolfe(evaluate: Callable[[float], tuple[float, Any]], direction: Any, t: float, start: Trial,
                 c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_ls: int = 25) -> tuple[Trial, int]:
    """(the accepted trial, number of evaluations) for a search from ``start`` (t = 0) along ``direction``.

    ``evaluate(t)`` returns (loss, flat gradient) at x + t·direction; ``t`` is the first trial step.
    The slopes and ‖direction‖∞ are NumPy scalars of the vectors' dtype, as PyTorch's 0-d Tensors: with float32
    vectors the search's arithmetic (the losses are Python floats) runs in float32, as PyTorch's.
    """
    scalar = direction.dtype.type
    direction_size = scalar(abs(direction).max().item())

    def trial(step: float) -> Trial:
        loss, grad = evaluate(step)
        return Trial(step, loss, grad, scalar((grad @ direction).item()))

    def sufficient_decrease(point: Trial) -> bool:
        return not point.loss > start.loss + c1 * point.t * start.slope

    def curvature(point: Trial) -> bool:
        return abs(point.slope) <= -c2 * start.slope

    # 1. bracketing: grow the step until [previous, current] holds an acceptable one
    previous, current = start, trial(t)
    evaluations, iterations = 1, 0
    bracket: list[Trial] = []
    found = False
    while iterations < max_ls:
        if not sufficient_decrease(current) or (iterations > 1 and current.loss >= previous.loss):
            bracket = [previous, current]
            break
        if curvature(current):
            bracket, found = [current], True
            break
        if current.slope >= 0:
            bracket = [previous, current]
            break
        # extrapolate: at least 1% beyond the current step, at most 10 times it
        step = cubic_minimizer(previous.t, previous.loss, previous.slope, current.t, current.loss, current.slope,
                               bounds=(current.t + 0.01 * (current.t - previous.t), current.t * 10))
        previous, current = current, trial(step)
        evaluations += 1
        iterations += 1
    if iterations == max_ls:
        bracket = [start, current]

    # 2. zoom: shrink the bracket; `low` is the end with the lower loss
    def ends() -> tuple[int, int]:
        return (0, 1) if bracket[0].loss <= bracket[-1].loss else (1, 0)

    low, high = ends()
    stalled = False
    while not found and iterations < max_ls:
        a, b = bracket
        if abs(b.t - a.t) * direction_size < tolerance_change:
            break
        step = cubic_minimizer(a.t, a.loss, a.slope, b.t, b.loss, b.slope)
        top, bottom = max(a.t, b.t), min(a.t, b.t)
        margin = 0.1 * (top - bottom)
        # keep trial steps away from the ends; if the last step also hugged an end, move in by the margin
        if min(top - step, step - bottom) < margin:
            if stalled or step >= top or step <= bottom:
                step = top - margin if abs(step - top) < abs(step - bottom) else bottom + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        current = trial(step)
        evaluations += 1
        iterations += 1
        if not sufficient_decrease(current) or current.loss >= bracket[low].loss:
            bracket[high] = current
            low, high = ends()
        else:
            if curvature(current):
                found = True
            elif current.slope * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = current
    return bracket[low], evaluations
