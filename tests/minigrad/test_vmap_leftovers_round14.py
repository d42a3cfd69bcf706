"""Leftovers of the round-14 vmap fuzz, each checked against torch 2.13: ``backward()`` inside a ``func``
transform, ``generator=`` draws under vmap's ``randomness`` modes, and a few ops' errors and dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

X = np.arange(6.0).reshape(3, 2) * 0.5 - 1.0


@pytest.fixture(params=["minigrad", "torch"])
def lib(request: Any) -> Any:
    """Each test runs once with minigrad, once with torch: the same program, the same outcome."""
    return mg if request.param == "minigrad" else request.getfixturevalue("torch")


# --- 1. backward() inside a transform ----------------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["vmap", "grad", "vjp", "jacrev", "jacfwd", "jvp", "hessian"])
@pytest.mark.parametrize("entry", ["method", "function"])
def test_backward_inside_a_transform_raises_as_torch(lib: Any, transform: str, entry: str) -> None:
    func, w, x = lib.func, lib.ones(2, requires_grad=True), lib.tensor(X)

    def f(v: Any) -> Any:
        loss = (w * 2).sum()
        loss.backward() if entry == "method" else lib.autograd.backward(loss)
        return (v * v).sum()

    call = {"vmap": lambda: func.vmap(f)(x), "grad": lambda: func.grad(f)(x[0]),
            "vjp": lambda: func.vjp(f, x[0]), "jacrev": lambda: func.jacrev(f)(x[0]),
            "jacfwd": lambda: func.jacfwd(f)(x[0]), "jvp": lambda: func.jvp(f, (x[0],), (x[0],)),
            "hessian": lambda: func.hessian(f)(x[0])}[transform]
    with pytest.raises(RuntimeError, match="backward\\(\\) called inside a functorch transform"):
        call()
    assert w.grad is None   # nothing accumulated (before: one example's gradient per call)


def _grads_around_a_transform(lib: Any) -> tuple:
    w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
    x = lib.tensor(X)
    with pytest.raises(RuntimeError, match="functorch"):
        lib.func.vmap(lambda v: v.sum().backward())(x)   # refused before anything else, as torch's
    inside = lib.func.vmap(lambda v: lib.autograd.grad((w * w).sum(), w)[0] * v)(x)   # allowed, as torch's
    lib.func.vmap(lambda v: (w * v).sum())(x).sum().backward()   # after the transform: a plain backward
    return inside.detach().numpy(), w.grad.numpy()


def test_backward_after_a_transform_and_autograd_grad_inside_still_work(torch: Any) -> None:
    for ours, theirs in zip(_grads_around_a_transform(mg), _grads_around_a_transform(torch)):
        np.testing.assert_allclose(ours, theirs)


def _grad_after_linearize(lib: Any) -> np.ndarray:
    w = lib.ones(2, requires_grad=True)

    def f(v: Any) -> Any:
        (w * 2).sum().backward()
        return (v * v).sum()

    lib.func.linearize(f, lib.tensor(X[0]))
    return w.grad.numpy()


def test_linearize_lets_backward_run_as_torch(torch: Any) -> None:
    np.testing.assert_allclose(_grad_after_linearize(mg), _grad_after_linearize(torch))


# --- 2. generator= inside vmap ---------------------------------------------------------------------------------


DRAWS = {
    "rand": lambda lib, v, g: v + lib.rand(2, generator=g, dtype=lib.float64),
    "normal": lambda lib, v, g: v + lib.normal(0.0, 1.0, (2,), generator=g, dtype=lib.float64),
    "randint": lambda lib, v, g: v + lib.randint(0, 5, (2,), generator=g),
    "randperm": lambda lib, v, g: v + lib.randperm(2, generator=g),
    "multinomial": lambda lib, v, g: v + lib.multinomial(lib.ones(2), 2, generator=g),
    "bernoulli": lambda lib, v, g: v + lib.bernoulli(lib.full((2,), 0.5, dtype=lib.float64), generator=g),
    "uniform_": lambda lib, v, g: v.clone().uniform_(generator=g),
    "normal_": lambda lib, v, g: v.clone().normal_(generator=g),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_generator_draw_in_error_mode_raises_as_torch(lib: Any, name: str) -> None:
    g = lib.Generator().manual_seed(0)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        lib.func.vmap(lambda v: DRAWS[name](lib, v, g))(lib.tensor(X))


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_generator_draw_in_same_mode_repeats_the_numbers(lib: Any, name: str) -> None:
    """Every example gets one call's numbers, and the generator ends where one call leaves it, as torch's."""
    g, twin = lib.Generator().manual_seed(3), lib.Generator().manual_seed(3)
    zeros = lib.zeros(3, 2, dtype=lib.float64)
    out = lib.func.vmap(lambda v: DRAWS[name](lib, v, g), randomness="same")(zeros)
    one = DRAWS[name](lib, zeros[0], twin)
    assert all(lib.equal(row, one) for row in out)
    assert lib.equal(g.get_state(), twin.get_state())


def test_same_mode_repeats_host_and_generator_draws_together() -> None:
    g = mg.Generator().manual_seed(1)
    out = mg.func.vmap(lambda v: v + mg.rand(2, dtype=mg.float64) + 10 * mg.rand(2, generator=g, dtype=mg.float64)
                       + 100 * mg.rand(2, dtype=mg.float64), randomness="same")(mg.zeros(4, 2, dtype=mg.float64))
    assert all(mg.equal(row, out[0]) for row in out)


def test_generator_draw_in_different_mode_draws_on(lib: Any) -> None:
    g = lib.Generator().manual_seed(0)
    out = lib.func.vmap(lambda v: v + lib.rand(2, generator=g, dtype=lib.float64),
                        randomness="different")(lib.zeros(3, 2, dtype=lib.float64))
    assert not lib.equal(out[0], out[1])


def test_generator_draws_in_jacfwd_and_nested_vmaps_as_torch(lib: Any) -> None:
    func, g, x = lib.func, lib.Generator().manual_seed(0), lib.tensor(X)

    def draw(v: Any) -> Any:
        return v + lib.rand((), generator=g, dtype=lib.float64)

    with pytest.raises(RuntimeError, match="randomness error mode"):
        func.jacfwd(draw)(x[0])
    assert func.jacfwd(draw, randomness="same")(x[0]).shape == (2, 2)
    with pytest.raises(RuntimeError, match="randomness error mode"):   # the outer vmap's mode sees the inner's draws
        func.vmap(func.vmap(draw, randomness="different"), randomness="error")(x)
    out = func.vmap(func.vmap(draw, randomness="same"), randomness="different")(lib.zeros(3, 2, dtype=lib.float64))
    assert all(row[0] == row[1] for row in out) and out[0, 0] != out[1, 0]


def test_generator_draw_in_an_empty_batch() -> None:
    """Size 0: one call on a stand-in learns the shapes; "error" raises as torch's, its draws are undone."""
    g = mg.Generator().manual_seed(0)
    state = g.get_state()
    with pytest.raises(RuntimeError, match="randomness error mode"):
        mg.func.vmap(lambda v: v + mg.rand(2, generator=g))(mg.zeros(0, 2))
    for mode in ("same", "different"):
        out = mg.func.vmap(lambda v: v + mg.rand(2, generator=g), randomness=mode)(mg.zeros(0, 2))
        assert out.shape == (0, 2) and mg.equal(g.get_state(), state)


def test_default_generator_passed_explicitly_is_the_host_stream() -> None:
    out = mg.func.vmap(lambda v: v + mg.rand(2, generator=mg.default_generator, dtype=mg.float64) + mg.rand(
        2, dtype=mg.float64), randomness="same")(mg.zeros(3, 2, dtype=mg.float64))
    assert all(mg.equal(row, out[0]) for row in out)
