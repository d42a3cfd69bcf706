"""minigrad.frames: long stretches of calls run in a fresh frame-stack chunk, with the same results."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import frames
from minigrad.autograd import engine as autograd


def test_in_fresh_chunk_calls_through_a_frame_larger_than_a_chunk() -> None:
    assert frames.in_fresh_chunk(lambda a, b: (a, b), 1, "two") == (1, "two")
    assert frames.in_fresh_chunk.__code__.co_nlocals * 8 > 16 * 1024


@pytest.mark.parametrize("steps", [10, 300])
def test_a_walk_in_a_fresh_chunk_gives_the_same_gradients(steps: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    w = mg.tensor(rng.standard_normal((6, 6)) * 0.3, requires_grad=True)
    x = mg.tensor(rng.standard_normal((2, 6)), requires_grad=True)

    def grads() -> list:
        w.grad = x.grad = None
        h = x
        for _ in range(steps):
            h = (h @ w).tanh()
        h.sum().backward()
        return [w.grad.numpy().copy(), x.grad.numpy().copy()]

    padded = grads()   # 300 steps: 601 nodes, past FRESH_CHUNK_NODES
    monkeypatch.setattr(autograd, "FRESH_CHUNK_NODES", 10**9)
    for a, b in zip(padded, grads()):
        np.testing.assert_array_equal(a, b)
