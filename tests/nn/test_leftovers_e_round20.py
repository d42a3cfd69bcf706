"""Round 20 leftovers, batch E: binary_cross_entropy_with_logits' gradients at infinities and its result dtype
(PyTorch's own backward formulas, not the derivative of the forward), and a second backward through the index
ops, which PyTorch refuses once their saved index was freed. Each compared with live torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

INF = np.inf


def _bce_grads(lib: Any, x: list, y: list, weight: list | None, pos_weight: list | None,
               create_graph: bool) -> list:
    """The loss, x's and y's gradients (and, with ``create_graph``, the second derivatives of their sum) as NumPy."""
    if lib is torch:
        make, f, grad = torch.tensor, torch.nn.functional.binary_cross_entropy_with_logits, torch.autograd.grad
    else:
        make, f, grad = mg.tensor, nn.functional.binary_cross_entropy_with_logits, mg.autograd.grad
    xs, ys = make(np.array(x), requires_grad=True), make(np.array(y), requires_grad=True)
    loss = f(xs, ys, weight=None if weight is None else make(np.array(weight)),
             pos_weight=None if pos_weight is None else make(np.array(pos_weight)), reduction="sum")
    gx, gy = grad(loss, (xs, ys), create_graph=create_graph)
    out = [loss.detach().numpy(), gx.detach().numpy(), gy.detach().numpy()]
    if create_graph:
        out += [g.detach().numpy() for g in grad(gx.sum() * 0.7 + gy.sum() * 1.3, (xs, ys))]
    return out


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(("x", "y", "weight", "pos_weight"), [
    ([-1.0], [1.0], None, [INF]),          # x.grad: torch NaN (was -inf)
    ([-1.0, 2.0], [1.0, 0.5], [INF], None),  # x.grad: torch ±inf (was NaN)
    ([-INF], [1.0], None, [1.0]),          # y.grad: torch inf (was NaN)
    ([-INF, INF, 0.5], [0.3, 0.7, 1.0], [2.0, 0.5, 1.0], [1.5, 0.25, 3.0]),
    ([0.3, -2.0, 4.5], [1.0, 0.0, 0.25], None, None),
])
def test_bce_with_logits_gradients_are_torchs_formulas(x: list, y: list, weight: list | None,
                                                       pos_weight: list | None, create_graph: bool) -> None:
    ours = _bce_grads(mg, x, y, weight, pos_weight, create_graph)
    theirs = _bce_grads(torch, x, y, weight, pos_weight, create_graph)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("x_dtype", ["float32", "float64"])
@pytest.mark.parametrize("y_dtype", ["float32", "float64"])
def test_bce_with_logits_takes_the_targets_dtype(x_dtype: str, y_dtype: str) -> None:
    x = np.array([[0.3, -2.0], [4.5, -0.1]], dtype=x_dtype)
    y = np.array([[1.0, 0.0], [0.25, 1.0]], dtype=y_dtype)
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = nn.functional.binary_cross_entropy_with_logits(ours_x, mg.tensor(y), reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(theirs_x, torch.tensor(y), reduction="none")
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    ours.sum().backward()
    theirs.sum().backward()
    assert ours_x.grad.dtype == x.dtype
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-6)
