"""Second derivatives (``create_graph=True``) of the ops a sweep against PyTorch found without a rule (they raised
NotImplementedError naming the op): fmax, fmin, copysign, logaddexp2, nextafter and frexp's mantissa. Each is
pinned by the first gradient and a Hessian-vector product against torch's on the same float64 values (ties, NaN,
signed zeros and broadcasting included), and by ``mg.gradgradcheck`` away from the kinks.

The one difference from PyTorch: copysign's second derivative at x == 0 is 0 here (its first gradient's ratio
copysign(x, y) / x is 0 there, as PyTorch's, and read as a constant); PyTorch's double backward differentiates
the masked division and gives NaN there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

NAN = float("nan")
# x and y with ties (index 1), NaN on either side and on both (3, 4, 5), signed zeros (6, 7)
X0 = np.array([1.0, -2.0, 3.0, NAN, 0.5, NAN, 0.25, -1.5])
Y0 = np.array([0.5, -2.0, 4.0, 1.0, NAN, NAN, -1.0, 2.0])
W = np.linspace(-1.3, 1.7, 8)
V = [np.linspace(0.3, 1.1, 8), np.linspace(-0.7, 0.9, 8)]

BINARY = ["fmax", "fmin", "copysign", "logaddexp2", "nextafter"]


def _hvp(lib: Any, fn: Any, x0: np.ndarray, y0: np.ndarray, w: np.ndarray, v: list) -> tuple:
    """(first gradients, Hessian-vector product) of sum(fn(x, y)² · w) for x and y (None where unused)."""
    x, y = lib.tensor(x0, requires_grad=True), lib.tensor(y0, requires_grad=True)
    out = fn(lib, x, y)
    g = lib.autograd.grad((out * out * lib.tensor(w)).sum(), [x, y], create_graph=True, allow_unused=True)
    total = sum((gi * lib.tensor(vi)).sum() for gi, vi in zip(g, v) if gi is not None and gi.requires_grad)
    h = lib.autograd.grad(total, [x, y], allow_unused=True)
    arrays = [None if t is None else t.detach().numpy() for t in (*g, *h)]
    return arrays[:2], arrays[2:]


def _compare(name: str, got: tuple, want: tuple) -> None:
    for kind, mine, theirs in zip(("first gradient", "Hessian-vector product"), got, want):
        for leaf, a, b in zip(("x", "y"), mine, theirs):
            if b is None or a is None:   # torch: unused; minigrad: None or zeros (both mean 0 here)
                other = a if b is None else b
                assert other is None or not np.any(other), f"{name}: {kind} of {leaf}"
                continue
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300, equal_nan=True,
                                       err_msg=f"{name}: {kind} of {leaf}")


@pytest.mark.parametrize("name", BINARY)
def test_binary_against_torch(name: str, torch: Any) -> None:
    x0, y0 = X0.copy(), Y0.copy()
    if name == "copysign":   # no x == 0 here: see test_copysign_at_zero
        x0[6] = -0.5
    fn = lambda lib, a, b: getattr(lib, name)(a, b)  # noqa: E731
    _compare(name, _hvp(mg, fn, x0, y0, W, V), _hvp(torch, fn, x0, y0, W, V))


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast_against_torch(name: str, torch: Any) -> None:
    """y of shape (4,) broadcast against x of (2, 4): y's gradients are summed back."""
    x0, y0 = np.array([[1.0, -2.0, 0.5, 3.0], [0.75, 4.0, -1.0, 2.0]]), np.array([0.75, -2.0, 1.5, NAN])
    w, v = np.linspace(-1.0, 1.0, 8).reshape(2, 4), [np.linspace(0.2, 1.0, 8).reshape(2, 4), np.linspace(-1, 1, 4)]
    fn = lambda lib, a, b: getattr(lib, name)(a, b)  # noqa: E731
    _compare(name, _hvp(mg, fn, x0, y0, w, v), _hvp(torch, fn, x0, y0, w, v))


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_tie_with_itself(name: str, torch: Any) -> None:
    """fmax(x, x): the whole gradient goes to the first argument, both slots being x."""
    fn = lambda lib, a, b: getattr(lib, name)(a, a)  # noqa: E731
    x0 = np.array([1.0, -2.0, NAN, 0.5])
    w, v = np.array([0.5, -1.0, 2.0, 1.5]), [np.array([0.3, 0.6, 0.9, 1.2]), np.zeros(4)]
    _compare(name, _hvp(mg, fn, x0, x0, w, v), _hvp(torch, fn, x0, x0, w, v))


def test_copysign_at_zero(torch: Any) -> None:
    """At x == ±0 the first gradient is 0 (as PyTorch's); the second derivative is 0 (PyTorch: NaN)."""
    x0, y0 = np.array([0.0, -0.0, 2.0]), np.array([-1.0, 1.0, -3.0])
    w, v = np.array([1.0, 2.0, 3.0]), [np.array([0.5, 0.5, 0.5]), np.ones(3)]
    fn = lambda lib, a, b: lib.copysign(a, b)  # noqa: E731
    (gx, gy), (hx, hy) = _hvp(mg, fn, x0, y0, w, v)
    (tgx, _), (thx, _) = _hvp(torch, fn, x0, y0, w, v)
    np.testing.assert_array_equal(gx, tgx)
    np.testing.assert_array_equal(hx, [0.0, 0.0, thx[2]])
    assert np.isnan(thx[:2]).all() and thx[2] == 3.0   # PyTorch's 0/0 at the zeros
    assert not np.any(gy) and (hy is None or not np.any(hy))


def _frexp_grads(lib: Any, x0: np.ndarray, w: np.ndarray) -> list:
    """First, second and third derivatives of sum(mantissa(x)³ · w), elementwise (each the sum's gradient)."""
    x = lib.tensor(x0, requires_grad=True)
    mantissa = lib.frexp(x)[0]
    out = [lib.autograd.grad((mantissa ** 3 * lib.tensor(w)).sum(), x, create_graph=True)[0]]
    out.append(lib.autograd.grad(out[-1].sum(), x, create_graph=True)[0])
    out.append(lib.autograd.grad(out[-1].sum(), x)[0])
    return [t.detach().numpy() for t in out]


def test_frexp_mantissa_against_torch(torch: Any) -> None:
    """m = x · 2^-e with e constant: the gradient is g · 2^-e (PyTorch's grad / exp2(e)), to any order."""
    x0, w = np.array([3.0, -0.75, 0.0, 1e-3, 640.0, -7.5]), np.linspace(-1.0, 2.0, 6)
    for order, (a, b) in enumerate(zip(_frexp_grads(mg, x0, w), _frexp_grads(torch, x0, w)), 1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=f"frexp: derivative {order}")


@pytest.mark.parametrize("name", BINARY)
def test_gradgradcheck(name: str) -> None:
    rng = np.random.default_rng(5)
    x0 = rng.uniform(0.5, 1.5, (2, 3)) * np.array([1, -1, 1])
    y0 = x0 + rng.choice([-0.5, 0.5], (2, 3))   # away from ties: fmax/fmin/nextafter are smooth there
    x, y = mg.tensor(x0, requires_grad=True), mg.tensor(y0, requires_grad=True)
    assert mg.gradgradcheck(lambda a, b: getattr(mg, name)(a, b) ** 2, [x, y])


def test_gradgradcheck_frexp() -> None:
    x = mg.tensor(np.array([3.0, -0.75, 0.3, 5.5]), requires_grad=True)
    assert mg.gradgradcheck(lambda a: mg.frexp(a)[0] ** 2, [x])
