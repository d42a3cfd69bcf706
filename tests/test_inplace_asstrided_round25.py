"""Round 25: an as_strided view of a view whose places lie outside that view's elements, written in place,
against PyTorch 2.13 (a 3,000-case fuzz of view -> as_strided -> in-place op -> backward).

PyTorch reads every view again through its base's as_strided once the memory's version moved, and writes a view
through its base (CopySlices): so after an in-place op (recorded, or under no_grad on any tensor of the family)
the gradient of ``b[:, 1:3].as_strided((1,), (2,), 4)`` reaches ``b``'s place 4, outside the view between. minigrad
read such a view through the view between: under no_grad its later gradient lost those places (764 of 3,000 fuzz
cases silently wrong), and a recorded write into it was refused (895 cases).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

# (name, the view between, the as_strided view's size, stride, storage offset): places outside the view between
_CHAINS: list[tuple[str, Callable[[Any], Any], tuple, tuple, int]] = [
    ("narrow", lambda b: b.narrow(1, 1, 2), (1,), (2,), 4),   # place 4 is b[1, 0]: not narrow's
    ("select", lambda b: b.select(0, 1), (3,), (2,), 4),       # places 4, 6, 8: 8 past the row
    ("t", lambda b: b.t(), (2, 2), (1, 4), 9),                 # places 9, 10, 13, 14 of the transpose's storage
    ("as_strided", lambda b: b.as_strided((3, 2), (2, 1), 3), (2,), (1,), 1),   # places 1, 2: before the windows
    ("diagonal", lambda b: b.diagonal(), (2,), (1,), 8),       # places 8, 9: 9 off the diagonal
]

_OPS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("mul_", lambda x, w: x.mul_(w)),
    ("add_", lambda x, w: x.add_(w, alpha=2)),
    ("copy_", lambda x, w: x.copy_(w)),
    ("relu_", lambda x, w: x.relu_()),
]


def _run(lib: Any, mid: Callable, size: tuple, stride: tuple, offset: int, op: Callable, mode: str,
         written: str) -> list:
    rng = np.random.default_rng(7)
    a = lib.tensor(rng.uniform(-1.5, 1.5, (4, 4)), dtype=lib.float64, requires_grad=True)
    b = a * 1
    v = mid(b)
    x = v.as_strided(size, stride, offset)
    w = lib.tensor(rng.uniform(0.5, 1.5, size), dtype=lib.float64, requires_grad=True)
    target = {"x": x, "v": v, "b": b}[written]
    operand = w if written == "x" else lib.ones_like(target) * 1.5
    if mode == "no_grad":
        with lib.no_grad():
            op(target, operand)
    else:
        op(target, operand)
    loss = sum((t * lib.tensor(rng.uniform(0.5, 1.5, tuple(t.shape)), dtype=lib.float64)).sum() for t in (b, v, x))
    loss.backward()
    grads = [None if t.grad is None else np.array(t.grad.numpy()) for t in (a, w)]
    return [np.array(t.detach().numpy()) for t in (b, v, x)] + grads


@pytest.mark.parametrize("mode", ["grad", "no_grad"])
@pytest.mark.parametrize("op_name, op", _OPS, ids=[o[0] for o in _OPS])
@pytest.mark.parametrize("name, mid, size, stride, offset", _CHAINS, ids=[c[0] for c in _CHAINS])
def test_as_strided_view_past_the_view_between_is_written_and_read_through_the_base(
        name: str, mid: Callable, size: tuple, stride: tuple, offset: int, op_name: str, op: Callable,
        mode: str) -> None:
    want = _run(torch, mid, size, stride, offset, op, mode, "x")
    got = _run(mg, mid, size, stride, offset, op, mode, "x")
    for g, t in zip(got, want, strict=True):
        assert (g is None) == (t is None)
        if t is not None:
            np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("written", ["b", "v"])
def test_a_no_grad_write_of_the_base_or_the_view_between_reads_the_as_strided_view_again(written: str) -> None:
    """PyTorch reads the as_strided view again from its base after any write into the memory (its version moved):
    its later gradient then reaches the base's places outside the view between."""
    name, mid, size, stride, offset = _CHAINS[0]
    want = _run(torch, mid, size, stride, offset, _OPS[0][1], "no_grad", written)
    got = _run(mg, mid, size, stride, offset, _OPS[0][1], "no_grad", written)
    for g, t in zip(got, want, strict=True):
        assert (g is None) == (t is None)
        if t is not None:
            np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-14)


def test_without_a_write_the_places_outside_the_view_between_get_no_gradient_as_in_pytorch() -> None:
    """Without any write PyTorch's as_strided backward goes through the view between (its own geometry)."""
    results = []
    for lib in (mg, torch):
        a = lib.tensor(np.arange(16.0).reshape(4, 4), dtype=lib.float64, requires_grad=True)
        (a * 1).narrow(1, 1, 2).as_strided((1,), (2,), 4).sum().backward()
        results.append(a.grad.numpy())
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf root", "non-leaf root"])
def test_an_optimizer_style_add_of_the_root_reads_the_as_strided_view_again(leaf: bool) -> None:
    """``p.add_(other)`` under no_grad (the plain in-place path an optimizer takes) on the root, a leaf too."""
    results = []
    for lib in (mg, torch):
        a = lib.tensor(np.arange(16.0).reshape(4, 4), dtype=lib.float64, requires_grad=True)
        b = a if leaf else a * 1
        x = b.narrow(1, 1, 2).as_strided((1,), (2,), 4)
        with lib.no_grad():
            b.add_(lib.ones_like(b), alpha=0.5)
        (x * 10).sum().backward()
        results.append((a.grad.numpy(), b.detach().numpy()))
    for got, want in zip(*results, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("below", ["t", "slice"])
def test_a_view_of_the_as_strided_view_is_written_through_the_root_too(below: str) -> None:
    """``x.t().add_(...)`` with x an as_strided view of a view: the old value's gradient went through x's old read
    from the view between, so x's places outside it (b's place 9 here) got none."""
    results = []
    for lib in (mg, torch):
        a = lib.tensor(np.arange(16.0).reshape(4, 4), dtype=lib.float64, requires_grad=True)
        b = a * 1
        x = b.view(-1)[2:9].as_strided((2, 2), (1, 2), 6)   # places 6, 7, 8, 9: 9 past the slice
        y = x.t() if below == "t" else x[:, 1:]
        y.add_(lib.ones_like(y))
        (y * lib.arange(1.0, 1.0 + y.numel(), dtype=lib.float64).reshape(y.shape)).sum().backward()
        results.append((a.grad.numpy(), b.detach().numpy()))
    for got, want in zip(*results, strict=True):
        np.testing.assert_array_equal(got, want)
