"""Structurally-zero higher derivatives against torch 2.13 (round 15): a derivative that is zero because of the
function's shape (relu'', the third derivative of x ** 2, nll_loss's second) must come back as PyTorch's does, a
tensor that requires grad or zeros, never a constant that makes the next ``autograd.grad`` raise.

For g1 = grad(f(x).sum(), x, create_graph=True), g2 = grad((g1 * v).sum(), x, create_graph=True) and
g3 = grad((g2 * w).sum(), x), each step is compared with torch: whether it raises, whether its result requires
grad, and its values.

- ``x ** 2`` (and so ``max_pool(x) ** 2``, ``interpolate(x) ** 2``, ``x[i] ** 2``, ``gather(x) ** 2`` …): the rule
  took 2·x, whose derivative is the constant 2, so g2 did not require grad and g3 raised; PyTorch's formula is
  2·x ** 1, whose derivative 1·x ** 0 requires grad, and g3 is zeros;
- ``relu``: PyTorch's ``threshold_backward(grad, result, 0)`` reads relu's output, so the zero second derivative
  runs back through relu and requires grad (g3 zeros); ours was a constant zero (g3 raised);
- ``nll_loss`` (and ``cross_entropy`` through it): PyTorch's ``nll_loss_backward`` reads the log-probabilities, so
  g1 requires grad and g2 is zeros; ours g1 was a constant, so g2 raised "does not require grad".
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn  # noqa: F401  # minigrad.nn.functional

RNG = np.random.default_rng(1515)


def _array(lib: Any, g: Any) -> np.ndarray:
    """g's values (torch's efficient zeros need ``force=True``)."""
    return g.detach().numpy() if lib is mg else g.detach().numpy(force=True)


def _steps(lib: Any, fn: Callable, x0: np.ndarray, v: np.ndarray, w: np.ndarray) -> list:
    """[(requires_grad, values)] of g1, g2, g3 as in the module docstring; ("raise", class) ends the list."""
    x = lib.tensor(x0.copy(), requires_grad=True)
    out: list = []
    try:
        g = lib.autograd.grad(fn(lib, x).sum(), x, create_graph=True)[0]
        for k, direction in enumerate((v, w)):
            out.append((g.requires_grad, _array(lib, g)))
            g = lib.autograd.grad((g * lib.tensor(direction)).sum(), x, create_graph=k == 0)[0]
        out.append((g.requires_grad, _array(lib, g)))
    except RuntimeError:
        out.append(("raise", "RuntimeError"))
    return out


def _assert_like_torch(fn: Callable, shape: tuple, torch: Any) -> None:
    x0, v, w = (RNG.standard_normal(shape) for _ in range(3))
    ours, theirs = _steps(mg, fn, x0, v, w), _steps(torch, fn, x0, v, w)
    assert [step[0] for step in ours] == [step[0] for step in theirs], (ours, theirs)
    for k, (mine, want) in enumerate(zip(ours, theirs)):
        if mine[0] != "raise":
            np.testing.assert_allclose(mine[1], want[1], rtol=1e-10, atol=1e-12, err_msg=f"derivative {k + 1}")


def _nf(lib: Any) -> Any:
    return lib.nn.functional


SQUARED = {
    "pow2": lambda L, x: x ** 2,
    "pow2_of_affine": lambda L, x: (x * 1.5 + 0.25) ** 2,
    "max_pool_squared": lambda L, x: _nf(L).max_pool1d(x.reshape(1, 1, 12), 2) ** 2,
    "nearest_interpolate_squared": lambda L, x: _nf(L).interpolate(x.reshape(1, 1, 12), scale_factor=2) ** 2,
    "slice_squared": lambda L, x: x[2:7] ** 2,
    "gather_squared": lambda L, x: L.gather(x, 0, L.tensor(np.array([0, 0, 2]))) ** 2,
    "max_squared": lambda L, x: x.max() ** 2,
    "clamp_squared": lambda L, x: L.clamp(x, -0.3, 0.3) ** 2,
}


@pytest.mark.parametrize("case", sorted(SQUARED))
def test_third_derivative_of_a_square_is_zeros_that_torch_gives(case: str, torch: Any) -> None:
    _assert_like_torch(SQUARED[case], (12,), torch)


RELU = {
    "relu": lambda L, x: L.relu(x),
    "relu_of_affine": lambda L, x: L.relu(x * 1.5 + 0.25),
    "relu_times_x0": lambda L, x: L.relu(x) * x[0],
    "functional_relu": lambda L, x: _nf(L).relu(x),
}


@pytest.mark.parametrize("case", sorted(RELU))
def test_relu_second_derivative_requires_grad_as_torchs_threshold_backward(case: str, torch: Any) -> None:
    _assert_like_torch(RELU[case], (12,), torch)


def _targets(lib: Any) -> Any:
    return lib.tensor(np.array([0, 3, 1]))


NLL = {
    "mean": lambda L, x: _nf(L).nll_loss(x.reshape(3, 4), _targets(L)),
    "sum": lambda L, x: _nf(L).nll_loss(x.reshape(3, 4), _targets(L), reduction="sum"),
    "none": lambda L, x: _nf(L).nll_loss(x.reshape(3, 4), _targets(L), reduction="none"),
    "weight": lambda L, x: _nf(L).nll_loss(x.reshape(3, 4), _targets(L), weight=L.tensor([1.0, 2.0, 3.0, 4.0],
                                                                                           dtype=L.float64)),
    "ignore_index": lambda L, x: _nf(L).nll_loss(x.reshape(3, 4), L.tensor(np.array([0, -100, 1]))),
    "of_affine": lambda L, x: _nf(L).nll_loss((x * 1.5).reshape(3, 4), _targets(L)),
}


@pytest.mark.parametrize("case", sorted(NLL))
def test_nll_loss_double_backward_is_zeros_as_torchs(case: str, torch: Any) -> None:
    _assert_like_torch(NLL[case], (12,), torch)


def _mixed(lib: Any, fn: Callable, x0: np.ndarray, y0: np.ndarray, v: np.ndarray, w: np.ndarray) -> list:
    """d/dy of (d/dx f · v) (its requires_grad and values), then that result's derivative along w with respect to
    x and y (None where unused), for f's sum; ("raise", class) where a step raises."""
    x, y = lib.tensor(x0.copy(), requires_grad=True), lib.tensor(y0.copy(), requires_grad=True)
    gx = lib.autograd.grad(fn(lib, x, y).sum(), x, create_graph=True)[0]
    gxy = lib.autograd.grad((gx * lib.tensor(v)).sum(), y, create_graph=True)[0]
    out: list = [(gxy.requires_grad, _array(lib, gxy))]
    try:
        third = lib.autograd.grad((gxy * lib.tensor(w)).sum(), [x, y], allow_unused=True)
        out.append([None if g is None else _array(lib, g) for g in third])
    except RuntimeError:
        out.append(("raise", "RuntimeError"))
    return out


MIXED = {
    "relu": lambda L, x, y: L.relu(x) * y,
    "abs": lambda L, x, y: L.abs(x) * y,
    "leaky_relu": lambda L, x, y: _nf(L).leaky_relu(x, 0.1) * y,
    "threshold": lambda L, x, y: _nf(L).threshold(x, 0.1, 20.0) * y,
    "hardtanh": lambda L, x, y: _nf(L).hardtanh(x * 2) * y,
    "max_pool_stays_constant": lambda L, x, y: _nf(L).max_pool1d(x.reshape(1, 1, 12), 2).reshape(6) * y[:6],
}


@pytest.mark.parametrize("case", sorted(MIXED))
def test_mixed_derivative_through_an_activation_mask_requires_grad_as_torchs(case: str, torch: Any) -> None:
    """PyTorch's double backward of relu, leaky_relu, hardtanh, abs … with respect to the gradient reads x again
    (``threshold_backward(gg, self)``), so d²/dxdy of act(x)·y requires grad and its derivative is zeros for x (ours
    was a constant: the next grad raised). Max-pool's reads only its indices: a constant, as ours stays."""
    x0, y0, v, w = (RNG.standard_normal(12) for _ in range(4))
    ours, theirs = _mixed(mg, MIXED[case], x0, y0, v, w), _mixed(torch, MIXED[case], x0, y0, v, w)
    assert ours[0][0] == theirs[0][0]
    np.testing.assert_allclose(ours[0][1], theirs[0][1], rtol=1e-12, atol=1e-12)
    if isinstance(theirs[1], tuple) or isinstance(ours[1], tuple):   # ("raise", class)
        assert ours[1] == theirs[1]
    else:
        assert [g is None for g in ours[1]] == [g is None for g in theirs[1]]
        for mine, want in zip(ours[1], theirs[1]):
            if want is not None:
                np.testing.assert_allclose(mine, want, rtol=1e-12, atol=1e-12)


def test_copysign_third_derivative_is_zeros_as_torchs(torch: Any) -> None:
    """copysign's first derivative is PyTorch's g · copysign(x, y) / x, a function of x (ours was a constant ±1,
    so the second derivative did not require grad and the third raised)."""
    y0 = RNG.standard_normal(12)
    _assert_like_torch(lambda L, x: L.copysign(x, L.tensor(y0)) * 1.0, (12,), torch)
