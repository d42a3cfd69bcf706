"""Round 19: deep and long inputs (hostile sizes) against PyTorch: no RecursionError at any depth, no crash.

Each test proves "no recursion" cheaply: a recursion limit a little above the test's own stack depth, and a
graph deeper than that limit (as PyTorch, which copes with any depth).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from typing import Iterator

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@contextlib.contextmanager
def shallow_stack(room: int = 150) -> Iterator[None]:
    """A recursion limit ``room`` frames above the caller's depth: code that recurses once per level of a deep
    graph (deeper than ``room``) raises RecursionError; code that loops does not."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + room)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


VIEW_STEPS = {
    "view": lambda v: v.view(3, 3),
    "slice": lambda v: v[0:],
    "t": lambda v: v.t(),
    "expand": lambda v: v.expand(3, 3),
    "select": lambda v: v.unsqueeze(0).select(0, 0),
    "unfold": lambda v: v.unfold(0, 3, 1)[0].t(),
}


@pytest.mark.parametrize("kind", sorted(VIEW_STEPS))
def test_inplace_write_through_a_long_chain_of_views(kind: str) -> None:
    """``v = y.view(...).view(...)...`` 400 deep, then ``v.mul_(2)``: the write goes through every base in a loop
    (it recursed once per view: RecursionError past ~300 views); values and gradients as PyTorch's."""
    step = VIEW_STEPS[kind]
    results = []
    for lib in (torch, mg):
        x = lib.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True)
        y = x.clone() * 1
        v = y
        for _ in range(400):
            v = step(v)
        with shallow_stack() if lib is mg else contextlib.nullcontext():
            v.mul_(2.0)
            (y * y).sum().backward()
        results.append((y.detach().numpy(), v.detach().numpy(), x.grad.numpy()))
    for theirs, ours in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
