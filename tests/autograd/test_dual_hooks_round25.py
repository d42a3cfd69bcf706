"""Hooks and retain_grad() during an autograd.grad without create_graph inside a forward-AD dual level see
PyTorch's first-order gradients: not requiring grad, no grad_fn, carrying their tangents (H·v)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(2025)
X, V, W = RNG.normal(size=3), RNG.normal(size=3), RNG.normal(size=3)


def _t(lib: Any, values: Any, requires_grad: bool = False) -> Any:
    return lib.tensor(values, dtype=lib.float64, requires_grad=requires_grad)


def _describe(lib: Any, t: Any) -> tuple:
    tangent = lib.autograd.forward_ad.unpack_dual(t).tangent
    return (t.detach().numpy().copy(), t.requires_grad, t.grad_fn is not None,
            None if tangent is None else tangent.detach().numpy().copy())


def _hooked_grads(lib: Any) -> list:
    """Tensor hooks (one returning a new gradient) on a non-leaf and on leaves, and a retained .grad accumulated
    twice, during autograd.grad(create_graph=False) calls inside a level."""
    fw = lib.autograd.forward_ad
    x, w = _t(lib, X, True), _t(lib, W, True)
    seen: list = []
    with fw.dual_level():
        d = fw.make_dual(x, _t(lib, V))
        z = (d * w).exp() * 1
        z.retain_grad()
        z.register_hook(seen.append)
        z.register_hook(lambda g: g * 2)
        x.register_hook(seen.append)
        w.register_hook(lambda g: seen.append(g) or g + 1)
        results = list(lib.autograd.grad((z ** 2).sum(), (x, w), retain_graph=True))
        results.append(z.grad)
        results += lib.autograd.grad((z ** 2).sum(), (x, w))
        results.append(z.grad)   # out of place: z.grad + the second gradient
        return [_describe(lib, t) for t in seen + results]


def test_hooks_and_retained_grad_in_a_first_order_grad_carry_tangents() -> None:
    ours, theirs = _hooked_grads(mg), _hooked_grads(torch)
    assert len(ours) == len(theirs) == 12
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine[0], expected[0], rtol=1e-10, atol=1e-12)
        assert mine[1:3] == expected[1:3] == (False, False)
        assert expected[3] is not None and mine[3] is not None
        np.testing.assert_allclose(mine[3], expected[3], rtol=1e-10, atol=1e-12)
