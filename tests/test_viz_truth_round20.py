"""Regressions found by fuzzing whether minigrad.viz drawings tell the truth after round 20's engine changes
(mid-walk leaf accumulation, index ops freeing their saved index, hooks inside func transforms).

Root causes found:
- draw(show_grads=True) warned that a hook registered inside a ``mg.func`` transform would change the gradients
  of a later ``backward()``, though since 385d1a0 such a hook runs only in its transform's own walk: the overlay's
  norms are the ones backward() gives, and the warning said otherwise.
- draw(show_grads=True) blamed every RuntimeError of its backward walk on a freed or changed graph ("draw before
  backward()..."), also the error a custom Function's backward raised on a fresh graph.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import viz

torch = pytest.importorskip("torch", reason="no torch")


def _leaf_edge_norms(source: str) -> list[float]:
    """The norms drawn on the edges out of leaves (``p0 -> n0 [... xlabel="…"]``)."""
    return [float(v) for v in re.findall(r'^\tp\d+ -> n\d+ \[.*xlabel="([^"]+)"', source, re.M)]


@pytest.mark.parametrize("transform", ["grad", "vjp"])
def test_a_hook_registered_inside_a_transform_is_not_warned_about_and_the_overlay_matches_backward(transform):
    values = np.array([0.3, -0.7, 1.2])
    x = mg.tensor(values, requires_grad=True)
    kept = {}

    def f(t):
        y = t.sin()
        y.register_hook(lambda g: g * 10)   # runs in this transform's walk only
        kept["y"] = y
        return (y * t).sum()

    if transform == "grad":
        mg.func.grad(f)(x)
    else:
        _, pullback = mg.func.vjp(f, x)
        pullback(mg.tensor(1.0, dtype=mg.float64))
    loss = (kept["y"] * 2).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no "hooks are registered" UserWarning: backward() will not run this one
        source = viz.draw(loss, show_grads=True, group=None, params="single").source
    loss.backward()

    tx = torch.tensor(values, requires_grad=True)
    (tx.sin() * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    (drawn,) = _leaf_edge_norms(source)   # the edge out of the leaf x carries ‖∂L/∂x‖
    assert drawn == pytest.approx(float(tx.grad.norm()), rel=0.05)


def test_a_hook_registered_outside_any_transform_is_still_warned_about():
    x = mg.tensor([0.3, -0.7, 1.2], requires_grad=True)
    y = x.sin()
    y.register_hook(lambda g: g * 10)
    with pytest.warns(UserWarning, match="hooks"):
        viz.draw((y * 2).sum(), show_grads=True)


def test_an_error_raised_by_a_custom_backward_is_raised_as_backward_raises_it_not_blamed_on_a_freed_graph():
    """draw(show_grads=True) wrapped every RuntimeError of its backward walk in advice to draw before backward() or
    after backward(retain_graph=True), also one a custom Function's backward raised on a fresh graph."""

    class NotReady(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise RuntimeError("NotReady: this backward is not written yet")

    a = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = NotReady.apply(a).sum()
    with pytest.raises(RuntimeError) as drawn:
        viz.draw(loss, show_grads=True)
    with pytest.raises(RuntimeError) as backward:
        loss.backward()
    assert str(drawn.value) == str(backward.value)
    assert "retain_graph" not in str(drawn.value)
    assert a.grad is None

    freed = (a * a).sum()
    freed.backward()
    with pytest.raises(RuntimeError, match=r"draw before backward\(\).*retain_graph=True.*a second time"):
        viz.draw(freed, show_grads=True)
