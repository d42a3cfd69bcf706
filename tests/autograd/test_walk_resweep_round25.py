"""Round 25 resweep of the backward walk in order of recording (``engine._propagate_in_order``): cases where it must
give what the counted walk (pass 1) and PyTorch give, found by a differential fuzz of random graphs (views written in
place, multi-output ops, several roots of different ages, a backward raising midway)."""
from __future__ import annotations

import sys
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import engine

torch = pytest.importorskip("torch", reason="no torch")


def _walk(monkeypatch, in_order: bool) -> None:
    """Force the walk: in order (pass 1 only after an error, to find the leaves still waiting), or counted."""
    monkeypatch.undo()
    monkeypatch.setattr(engine, "WALK_BEGINS", [])
    monkeypatch.setattr(engine, "_UNORDERED", weakref.WeakSet())
    monkeypatch.setattr(engine._NodeHooks, "registered", not in_order)
    if in_order:
        counting = engine.count_consumers

        def after_an_error_only(start):
            assert sys.exc_info()[0] is not None, "the walk counted consumers before any error"
            return counting(start)
        monkeypatch.setattr(engine, "count_consumers", after_an_error_only)


def _leaf_root_and_a_failing_branch(lib, leaf_first: bool) -> list:
    """``autograd.backward`` of several roots, one of them a leaf itself, where another root's branch raises (its
    exp's saved output was changed in place): the leaf root's gradient came straight from the roots' node, which
    ran first, so PyTorch has added it into .grad; the leaves behind the failing node get none."""
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    c = lib.tensor([0.5, -1.5], requires_grad=True)
    e = (b * 3.0).exp()
    later = (c * c).sum()
    with lib.no_grad():
        e.add_(1.0)
    roots, grads = [e.sum(), a, later], [lib.tensor(1.0), lib.tensor([2.0, -1.0]), lib.tensor(3.0)]
    if leaf_first:
        roots, grads = roots[::-1], grads[::-1]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        lib.autograd.backward(roots, grads)
    return [None if t.grad is None else t.grad.numpy().copy() for t in (a, b, c)]


@pytest.mark.parametrize("leaf_first", [False, True], ids=["leaf root last", "leaf root first"])
@pytest.mark.parametrize("in_order", [True, False], ids=["in order", "counted"])
def test_a_leaf_given_as_a_root_keeps_its_gradient_when_another_root_raises(in_order, leaf_first, monkeypatch):
    """The walk in order took the roots' node (numbered 0) for a node still to run, so its edge to the leaf root
    counted as waiting: that leaf's .grad stayed None where PyTorch's and the counted walk's have it (15 of 3,000
    fuzzed graphs)."""
    _walk(monkeypatch, in_order)
    got = _leaf_root_and_a_failing_branch(mg, leaf_first)
    expected = _leaf_root_and_a_failing_branch(torch, leaf_first)
    assert [g is None for g in got] == [g is None for g in expected] == [False, True, False]
    for x, y in zip(got, expected):
        if y is not None:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def _rebased_views_and_roots_of_all_ages(lib) -> list:
    """Views read before and after an in-place write through them re-points their base (minigrad's re-read view
    nodes, PyTorch's CopySlices: newer than the ops that read the views first), a multi-output op, a detached
    island, a leaf made midway, and several roots of different ages (one of them older than the others' ops)."""
    rng = np.random.default_rng(3)
    a, b, c = (lib.tensor(rng.standard_normal((4, 4)), requires_grad=True) for _ in range(3))
    y = a * 1.0
    v, w = y[1:3], y.t()
    early = v * 2.0 + w[0]
    y[0:2].mul_(b[0:2])
    w[3].add_(c[1])
    late = v * 3.0 + w[1]
    top, rest = y.split([1, 3], 0)
    new_leaf = (a * 2.0).detach().requires_grad_()
    old_root = early * c[0]
    z = lib.cat([late, rest[:2]], 0) * new_leaf[:4, :] + top.sum()
    roots = [z, old_root, y, b]
    grads = [lib.tensor(rng.standard_normal(tuple(r.shape))) for r in roots]
    lib.autograd.backward(roots, grads)
    return [t.grad.numpy().copy() for t in (a, b, c, new_leaf)]


def test_rebased_views_and_roots_of_all_ages_walk_in_order_as_counted_and_as_pytorch(monkeypatch):
    _walk(monkeypatch, True)
    fast = _rebased_views_and_roots_of_all_ages(mg)
    _walk(monkeypatch, False)
    counted = _rebased_views_and_roots_of_all_ages(mg)
    expected = _rebased_views_and_roots_of_all_ages(torch)
    for x, y, z in zip(fast, counted, expected):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(x, z, rtol=1e-12, atol=1e-12)
