"""Round 20: a backward accumulates each leaf as soon as its gradient is complete only in a walk whose graph has a
node that runs user code mid-walk (``Function.user_code``), not in every walk once one such node ever existed in
the process (which cost every later backward ~60%); what hooks see stays PyTorch's (compared with live PyTorch)."""
from __future__ import annotations

import pytest

import minigrad as mg
import nn as mnn
from minigrad.autograd import engine

torch = pytest.importorskip("torch", reason="no torch")


def _ripe_walks(monkeypatch) -> list:
    """Turn the process-wide flag on (as after any hook on a node) and count the walks that build leaf counts."""
    monkeypatch.setattr(engine._NodeHooks, "registered", True)
    built: list = []
    counting = engine._leaf_consumers
    monkeypatch.setattr(engine, "_leaf_consumers", lambda *args: built.append(1) or counting(*args))
    return built


def test_a_walk_without_user_code_counts_no_leaves_once_the_flag_is_set(monkeypatch):
    built = _ripe_walks(monkeypatch)
    a = mg.randn(2, 2, requires_grad=True)
    b = mg.randn(2, 2, requires_grad=True)
    a.register_hook(lambda g: None)   # a leaf's hooks run when it accumulates: no mid-walk bookkeeping for them
    (a * b + a).sum().backward()
    assert built == []
    assert mg.allclose(a.grad, b.detach() + 1)


@pytest.mark.parametrize("kind", ["tensor_hook", "prehook", "posthook", "function", "module"])
def test_a_walk_with_user_code_accumulates_each_leaf_once_complete(kind, monkeypatch):
    built = _ripe_walks(monkeypatch)
    assert _seen(mg, mnn, kind) == _seen(torch, torch.nn, kind)
    assert built


def _seen(api, nn, kind: str) -> list:
    """What user code in a later branch of the walk sees of leaf ``a``'s ``.grad`` (complete before it runs)."""
    log: list = []
    a = api.tensor([0.5, -1.0], dtype=api.float64, requires_grad=True)
    b = api.tensor([2.0, 3.0], dtype=api.float64, requires_grad=True)

    def seen(tag: str) -> None:
        log.append((tag, None if a.grad is None else a.grad.tolist(), b.grad is None))

    u = b * 3.0   # recorded first: its branch runs after a's (PyTorch's sequence numbers)
    if kind == "tensor_hook":
        u.register_hook(lambda g: seen("hook"))
    elif kind == "prehook":
        u.grad_fn.register_prehook(lambda go: seen("pre"))
    elif kind == "posthook":
        u.grad_fn.register_hook(lambda gi, go: seen("post"))
    elif kind == "function":
        class Twice(api.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                seen("function")
                return g * 2
        u = Twice.apply(u)
    else:
        lin = nn.Linear(2, 2).double()
        lin.register_full_backward_hook(lambda m, gi, go: seen("module"))
        u = lin(u)
    out = u.sum() + (a * 4.0).sum()
    out.backward()
    seen("after")
    return log


def test_leaf_hooks_alone_see_the_leaves_finished_before_them_as_torch(monkeypatch):
    _ripe_walks(monkeypatch)

    def run(api) -> list:
        log: list = []
        a = api.tensor([0.5, -1.0], dtype=api.float64, requires_grad=True)
        b = api.tensor([2.0, 3.0], dtype=api.float64, requires_grad=True)
        a.register_hook(lambda g: log.append(("a", None if b.grad is None else b.grad.tolist())))
        b.register_hook(lambda g: log.append(("b", None if a.grad is None else a.grad.tolist())))
        b.register_post_accumulate_grad_hook(lambda p: log.append(("b acc", p.grad.tolist())))
        ((a * 2.0).exp() + b.sin() * a).sum().backward()
        return log

    assert run(mg) == run(torch)
