"""Round 20: a checkpointed call counts as user code mid-walk (its backward reruns the user's function), so a
custom Function's backward or a module hook inside it sees the ``.grad`` of a leaf completed earlier in the walk,
as in PyTorch (after ebd1b13 it saw None). Compared with live PyTorch."""
from __future__ import annotations

import pytest

import minigrad as mg
import nn as mnn
from minigrad.autograd import engine

torch = pytest.importorskip("torch", reason="no torch")


def _seen(api, nn, checkpoint, kind: str) -> list:
    log: list = []
    a = api.tensor([0.5, -1.0], dtype=api.float64, requires_grad=True)
    b = api.tensor([2.0, 3.0], dtype=api.float64, requires_grad=True)

    def seen(tag: str) -> None:
        log.append((tag, None if a.grad is None else a.grad.tolist()))

    class Twice(api.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            seen("function")
            return g * 2

    lin = nn.Linear(2, 2).double()
    lin.register_full_backward_hook(lambda m, gi, go: seen("module"))

    def inner(x):
        return Twice.apply(x * 3.0) if kind == "function" else lin(x * 3.0)

    u = checkpoint(inner, b, use_reentrant=False)   # recorded first: its branch runs after a's
    (u.sum() + (a * 4.0).sum()).backward()
    seen("after")
    return log


@pytest.mark.parametrize("kind", ["function", "module"])
def test_user_code_inside_a_checkpoint_sees_completed_leaves_as_torch(kind, monkeypatch):
    monkeypatch.setattr(engine._NodeHooks, "registered", True)   # as after any custom Function in the process
    import torch.utils.checkpoint as torch_checkpoint

    ours = _seen(mg, mnn, mg.utils.checkpoint.checkpoint, kind)
    theirs = _seen(torch, torch.nn, torch_checkpoint.checkpoint, kind)
    assert ours == theirs
    assert ours[0][1] == [4.0, 4.0]
