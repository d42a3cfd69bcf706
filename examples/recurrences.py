"""Dynamical systems written once as recurrences on minigrad tensors, and the two ways to fit AR(W).

The arithmetic behind ``examples/dynamical_systems.py`` (the program), kept apart so tests can check
it against closed-form NumPy answers. Every system is a step function ``state, x_t → state, y_t``
run by one loop, ``unroll``:

* fixed order (the state is the last W inputs or outputs): the moving average, exponential growth
  and decay x_t = w0 + w1·x_{t−1}, the AR(W) process x_t = a_1 x_{t−1} + … + a_W x_{t−W} + ε_t;
* variable order (the state summarises the whole past): the exponential average
  h_t = α·h_{t−1} + (1−α)·x_t, the running maximum and the running sum.

The exponential average *is* a one-unit linear RNN, h_t = w_hh·h_{t−1} + w_xh·x_t, with fixed
weights w_hh = α, w_xh = 1 − α; ``fit_linear_unit`` learns those weights back from (x, h) pairs.
The next steps are a state that is learned rather than fixed: hidden Markov models (a distribution
over hidden symbols, updated by fixed rules) and then RNNs (a vector, updated by learned weights).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

import minigrad as mg
from examples import common
from minigrad import nn

Step = Callable[[mg.Tensor, mg.Tensor], tuple[mg.Tensor, mg.Tensor]]


def unroll(step: Step, inputs: mg.Tensor, state: mg.Tensor) -> mg.Tensor:
    """Run ``state, y_t = step(state, inputs[t])`` for t = 0 .. T−1; inputs (T, ...) → outputs (T, ...)."""
    if inputs.shape[0] == 0:
        raise ValueError("unroll: the input sequence is empty (T = 0)")
    outputs = []
    for t in range(inputs.shape[0]):
        state, output = step(state, inputs[t])
        outputs.append(output)
    return mg.stack(outputs, 0)


def _as_tensor(values: mg.Tensor | np.ndarray | list[float]) -> mg.Tensor:
    return values if isinstance(values, mg.Tensor) else mg.tensor(np.asarray(values, dtype=np.float64))


def moving_average(series: mg.Tensor | np.ndarray, window: int) -> mg.Tensor:
    """Mean of the last ``window`` values: series (T,) → (T − window + 1,), as ``np.convolve(…, "valid")``.

    Fixed order: the state is the window itself; each step drops its oldest value and appends x_t.
    """
    series = _as_tensor(series)
    if window < 1:
        raise ValueError(f"moving_average: the window must be at least 1, got {window}")
    if series.shape[0] < window:
        raise ValueError(f"moving_average: a series of {series.shape[0]} values is shorter than the window {window}")

    def step(last: mg.Tensor, x: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        last = mg.concat([last[1:], x.reshape(1)], 0)
        return last, last.mean()

    first = mg.concat([mg.zeros(1, dtype=series.dtype), series[: window - 1]], 0)   # the 0 drops out at once
    return unroll(step, series[window - 1 :], first)


def autoregressive(coefficients: list[float] | np.ndarray, noise: mg.Tensor | np.ndarray,
                   start: list[float] | np.ndarray, bias: float = 0.0) -> mg.Tensor:
    """x_t = bias + a_1 x_{t−1} + … + a_W x_{t−W} + noise_t, from the W values ``start`` (oldest first).

    coefficients (W,) = (a_1 … a_W), noise (T,) → the T new values (T,). Exponential growth or
    decay is the case W = 1: x_t = w0 + w1·x_{t−1} with bias = w0, coefficients = [w1], noise 0.
    """
    coefficients = np.asarray(coefficients, dtype=np.float64)
    if len(start) != len(coefficients):
        raise ValueError(f"autoregressive: {len(coefficients)} coefficients need {len(coefficients)} start values, "
                         f"got {len(start)}")
    weights = mg.tensor(coefficients[::-1].copy())   # the state is oldest first, a_1 belongs to the newest

    def step(last: mg.Tensor, epsilon: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        x = (last * weights).sum() + bias + epsilon
        return mg.concat([last[1:], x.reshape(1)], 0), x

    return unroll(step, _as_tensor(noise), _as_tensor(start))


def linear_unit(inputs: mg.Tensor, weight_hh: mg.Tensor | float, weight_xh: mg.Tensor | float,
                state: mg.Tensor | float = 0.0) -> mg.Tensor:
    """The one-unit linear RNN h_t = weight_hh·h_{t−1} + weight_xh·x_t: inputs (T, ...) → states (T, ...)."""
    start = state if isinstance(state, mg.Tensor) else mg.full(tuple(inputs.shape[1:]), state, dtype=inputs.dtype)
    return unroll(lambda h, x: (weight_hh * h + weight_xh * x,) * 2, inputs, start)


def exponential_average(series: mg.Tensor | np.ndarray, alpha: float, start: float = 0.0) -> mg.Tensor:
    """h_t = α·h_{t−1} + (1 − α)·x_t from h_{−1} = ``start``: series (T, ...) → (T, ...).

    Variable order: h_t = (1 − α) Σ_{j ≤ t} α^{t−j} x_j + α^{t+1} h_{−1} weighs the whole past.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"exponential_average: alpha must lie in [0, 1], got {alpha}")
    return linear_unit(_as_tensor(series), alpha, 1.0 - alpha, start)


def running_maximum(series: mg.Tensor | np.ndarray) -> mg.Tensor:
    """h_t = max(h_{t−1}, x_t): series (T, ...) → (T, ...)."""
    series = _as_tensor(series)
    if series.shape[0] == 1:
        return series
    rest = unroll(lambda h, x: (mg.maximum(h, x),) * 2, series[1:], series[0])   # h_0 = x_0
    return mg.concat([series[:1], rest], 0)


def running_sum(series: mg.Tensor | np.ndarray) -> mg.Tensor:
    """h_t = h_{t−1} + x_t from h_{−1} = 0: series (T, ...) → (T, ...)."""
    return linear_unit(_as_tensor(series), 1.0, 1.0, 0.0)


# --- fitting AR(W): least squares and gradient descent must agree -------------------------------------

def lagged(series: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Lags X (T − W, W) with X[i, j] = series[i + W − 1 − j] (lag j + 1) and next values y (T − W,)."""
    series = np.asarray(series, dtype=np.float64)
    if order < 1:
        raise ValueError(f"lagged: the order W must be at least 1, got {order}")
    if len(series) <= order:
        raise ValueError(f"lagged: a series of {len(series)} values is too short for order {order} "
                         f"(it needs more than {order})")
    rows = np.arange(order, len(series))[:, None] - 1 - np.arange(order)[None, :]
    return series[rows], series[order:]


def fit_ar_least_squares(series: np.ndarray, order: int) -> np.ndarray:
    """AR(W) coefficients (a_1 … a_W) minimising the one-step squared error, by ``numpy.linalg.lstsq``."""
    lags, following = lagged(series, order)
    return np.linalg.lstsq(lags, following, rcond=None)[0]


def fit_ar_adam(series: np.ndarray, order: int, steps: int = 3000, lr: float = 0.05,
                progress: Callable | None = None) -> tuple[np.ndarray, float]:
    """AR(W) coefficients as ``nn.Parameter`` (W,) trained by Adam on the one-step MSE (full batch, float64).

    The learning rate falls along a cosine to 5% so the last steps settle on the minimum. Returns
    (coefficients, final loss).
    """
    lags, following = lagged(series, order)
    lags, following = mg.tensor(lags), mg.tensor(following)
    coefficients = nn.Parameter(mg.zeros(order, dtype=mg.float64))
    optimizer = nn.optim.Adam([coefficients], lr=lr)
    loss = mg.tensor(float("nan"))
    for i in (progress or iter)(range(steps)):
        common.set_learning_rate(optimizer, lr, i / steps, "cosine")
        loss = ((lags @ coefficients - following) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return mg.to_numpy(coefficients.detach()).copy(), loss.item()


def fit_linear_unit(inputs: np.ndarray, states: np.ndarray, steps: int = 400, lr: float = 0.05,
                    progress: Callable | None = None) -> tuple[float, float, float]:
    """Learn (w_hh, w_xh) of ``linear_unit`` from inputs (T, B) and target states (T, B) by Adam.

    The loss is the MSE of the whole unrolled sequence (back-propagation through time), from
    w_hh = w_xh = 0.5. Returns (w_hh, w_xh, final loss).
    """
    inputs, states = mg.tensor(np.asarray(inputs, dtype=np.float64)), mg.tensor(np.asarray(states, dtype=np.float64))
    weight_hh = nn.Parameter(mg.tensor([0.5], dtype=mg.float64))   # (1,): the weights of one unit
    weight_xh = nn.Parameter(mg.tensor([0.5], dtype=mg.float64))
    optimizer = nn.optim.Adam([weight_hh, weight_xh], lr=lr)
    loss = mg.tensor(float("nan"))
    for i in (progress or iter)(range(steps)):
        common.set_learning_rate(optimizer, lr, i / steps, "cosine")
        loss = ((linear_unit(inputs, weight_hh, weight_xh) - states) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return weight_hh.item(), weight_xh.item(), loss.item()


if __name__ == "__main__":
    raise SystemExit("examples.recurrences is a library; its program: python -m examples.dynamical_systems --help")
