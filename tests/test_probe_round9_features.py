"""Regressions found by probing where this round's features meet (create_graph, hooks, retain_grad)."""

import numpy as np
import pytest

import minigrad as mg


def test_retained_grad_accumulates_out_of_place() -> None:
    # PyTorch's retain_grad hook does grad = grad + new: a .grad held from an earlier backward keeps its value
    x = mg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = x.sin()
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    first = y.grad
    z.backward()
    expected = 2 * np.sin([0.5, -1.0, 2.0])
    np.testing.assert_allclose(first.numpy(), expected)
    np.testing.assert_allclose(y.grad.numpy(), 2 * expected)
    assert y.grad is not first


@pytest.mark.filterwarnings(r"ignore:Using backward\(\) with create_graph")
def test_retained_grad_from_create_graph_is_not_mutated_by_a_later_backward() -> None:
    x = mg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = x.sin()
    y.retain_grad()
    (y * y).sum().backward(create_graph=True)
    first = y.grad
    assert first.requires_grad
    x.grad.sum().backward()   # flows through y again: y.grad accumulates
    np.testing.assert_allclose(first.numpy(), 2 * np.sin([0.5, -1.0, 2.0]))
    np.testing.assert_allclose(y.grad.numpy(), [2.7140162, -0.60233736, 0.98630118], rtol=1e-6)
    assert not y.grad.requires_grad   # as torch: grad + a first-order grad, added without a graph


def test_retained_grad_zero_dim() -> None:
    x = mg.tensor(1.5, requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * 3).backward(retain_graph=True)
    (y * 3).backward()
    assert isinstance(y.grad, mg.Tensor) and y.grad.shape == ()
    assert float(y.grad) == 6.0
