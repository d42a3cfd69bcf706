"""Round 25: a plain backward runs its nodes in the reverse order of recording without counting each node's
consumers first (``engine._propagate_in_order``), with the counted walk's results bit for bit: the same gradients,
hook order, ``.grad`` after a node raised mid-walk (compared with live PyTorch too), and the counted walk wherever a
node may lead to one recorded after it (a create_graph checkpoint's recomputation, forward-AD tangent-only nodes)."""
from __future__ import annotations

import sys
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import engine
from minigrad.autograd import forward_ad as fwad
from minigrad.ops.shape import Clone
from minigrad.utils.checkpoint import checkpoint

torch = pytest.importorskip("torch", reason="no torch")


def _in_order(monkeypatch) -> None:
    """A process where nothing asks for the counted walk (no hook on a node, no multi-grad hook, no unordered node
    alive); pass 1 would raise."""
    monkeypatch.setattr(engine._NodeHooks, "registered", False)
    monkeypatch.setattr(engine, "WALK_BEGINS", [])
    monkeypatch.setattr(engine, "_UNORDERED", weakref.WeakSet())

    def no_pass_1(start):
        raise AssertionError("the walk counted consumers")
    monkeypatch.setattr(engine, "count_consumers", no_pass_1)


def _counted(monkeypatch) -> None:
    """The walk of round 24: pass 1 counts consumers (the flag set by a hook on a node; no node here runs user code)."""
    monkeypatch.undo()
    monkeypatch.setattr(engine._NodeHooks, "registered", True)


def _program(lib, log: list) -> list:
    """A graph with a diamond, a tensor used many times, a multi-output op, views, an in-place op, a matmul
    product sum, a retained intermediate and hooks on leaves; returns what it left (gradients, hook order)."""
    rng = np.random.default_rng(5)
    a, b, c = (lib.tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((4, 3), (3, 3), (4,)))
    for name, leaf in zip("abc", (a, b, c)):
        leaf.register_hook(lambda g, name=name: log.append(name))
    h = a @ b
    u = h.tanh()
    u.retain_grad()
    parts = u.split(1, dim=1)   # (split: one node with three outputs)
    w = (parts[0] * parts[2] + c[:, None].exp()).clone()
    w.mul_(2.0)
    z = (u.sum(1) * c).sigmoid() + (w[:, 0] @ c) + (h @ b).sum(1)
    total = z.sum() + (a * a).sum() + (u * b[0]).sum()
    total.backward()
    return [t.detach().numpy().copy() for t in (a.grad, b.grad, c.grad, u.grad)]


def test_the_walk_in_order_gives_the_counted_walks_gradients_and_hook_order_bit_for_bit(monkeypatch):
    _in_order(monkeypatch)
    log_fast: list = []
    fast = _program(mg, log_fast)
    _counted(monkeypatch)
    log_counted: list = []
    counted = _program(mg, log_counted)
    log_torch: list = []
    expected = _program(torch, log_torch)
    assert log_fast == log_counted == log_torch
    for x, y, z in zip(fast, counted, expected):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(x, z, rtol=1e-12, atol=1e-12)


def _broken(lib, several_roots: bool) -> tuple:
    """A backward whose exp node raises (its saved output was changed in place): the leaves whose every consumer
    ran before it (recorded after it) have their .grad, the others not."""
    rng = np.random.default_rng(2)
    a, b, c, d = (lib.tensor(rng.standard_normal(3), requires_grad=True) for _ in range(4))
    e = (c * 3.0 + d).exp()
    later = (a * b).sum() + (d * 2.0).sum() * c.sum()
    with lib.no_grad():
        e.add_(1.0)
    with pytest.raises(RuntimeError):
        if several_roots:
            lib.autograd.backward([e.sum(), later])
        else:
            (e.sum() + later).backward()
    return tuple(None if t.grad is None else t.grad.numpy().copy() for t in (a, b, c, d))


@pytest.mark.parametrize("several_roots", [False, True], ids=["one root", "several roots"])
def test_a_walk_in_order_that_raises_leaves_the_counted_walks_grads(several_roots, monkeypatch):
    _in_order_but_counting_after_an_error(monkeypatch)
    fast = _broken(mg, several_roots)
    _counted(monkeypatch)
    counted = _broken(mg, several_roots)
    expected = _broken(torch, several_roots)
    assert [g is None for g in fast] == [g is None for g in counted] == [g is None for g in expected]
    assert [g is None for g in fast] == [False, False, True, True]   # c and d wait on the exp node's branch
    for x, y, z in zip(fast, counted, expected):
        if x is not None:
            np.testing.assert_array_equal(x, y)
            np.testing.assert_allclose(x, z, rtol=1e-12)


def _in_order_but_counting_after_an_error(monkeypatch) -> None:
    """As :func:`_in_order`, but pass 1 may run where the walk raised (to find the leaves still waiting)."""
    monkeypatch.setattr(engine._NodeHooks, "registered", False)
    monkeypatch.setattr(engine, "WALK_BEGINS", [])
    monkeypatch.setattr(engine, "_UNORDERED", weakref.WeakSet())
    counting = engine.count_consumers

    def after_an_error_only(start):
        assert sys.exc_info()[0] is not None, "the walk counted consumers before any error"
        return counting(start)
    monkeypatch.setattr(engine, "count_consumers", after_an_error_only)


def test_a_create_graph_checkpoint_marks_its_recomputation_unordered_and_each_node_runs_once(monkeypatch):
    """Its recomputed ops point at clones made after them: run by number, each clone ran before them, then again
    with their gradients (5 runs of 2 clones)."""
    monkeypatch.setattr(engine, "_UNORDERED", weakref.WeakSet())
    ran: list = []
    backward = Clone.backward
    monkeypatch.setattr(Clone, "backward", lambda self, g: ran.append(id(self)) or backward(self, g))

    def grads(checkpointed: bool) -> list:
        rng = np.random.default_rng(1)
        x = mg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
        w = mg.tensor(rng.standard_normal((3, 3)), requires_grad=True)

        def f(t):
            return (t.exp() @ w).tanh() * t.sin()
        y = checkpoint(f, x * 2.0, use_reentrant=False) if checkpointed else f(x * 2.0)
        gx, = mg.autograd.grad((y * y).sum(), x, create_graph=True)
        assert bool(engine._UNORDERED) == checkpointed
        monkeypatch.setattr(engine._NodeHooks, "registered", False)   # (set by the recomputation's saved hooks)
        ran.clear()
        ((gx * gx).sum() + y.sum()).backward()
        assert len(ran) == len(set(ran))
        return [x.grad.numpy(), w.grad.numpy()]

    for got, expected in zip(grads(True), grads(False)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_a_tangent_only_node_is_unordered(monkeypatch):
    """A forward-AD op under no_grad records a node numbered 0 whose inputs were numbered before it."""
    monkeypatch.setattr(engine, "_UNORDERED", weakref.WeakSet())
    p = mg.randn(3, requires_grad=True)
    with fwad.dual_level():
        x = fwad.make_dual(p * 1.0, mg.ones(3))
        with mg.no_grad():
            y = x.sin()
        assert fwad.unpack_dual(y).tangent is not None
        assert len(engine._UNORDERED) == 1
