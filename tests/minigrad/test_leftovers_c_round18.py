"""Round-18 leftovers, third batch, against PyTorch: zero-size strides, pickled views, lazy placeholders, empty
batches in nn.functional, nn dtype rules and ``Tensor.map_``."""

from __future__ import annotations

from typing import Callable

import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("make", [
    lambda L: L.zeros(0, 3), lambda L: L.empty(2, 0, 3), lambda L: L.ones(3, 0, 1), lambda L: L.full((0, 3), 1.0),
    lambda L: L.zeros(0), lambda L: L.empty_like(L.zeros(2, 0, 3)), lambda L: L.zeros(0, 3).clone(),
    lambda L: L.zeros(0, 3) + 1, lambda L: L.cat([L.zeros(0, 3), L.zeros(0, 3)]), lambda L: L.randn(0, 3),
    lambda L: L.zeros(2).new_zeros(0, 3), lambda L: L.zeros(0, 3).T.contiguous().reshape(0, 3),
], ids=range(12))
def test_zero_size_strides_are_contiguous(make: Callable) -> None:
    """A zero-size tensor's strides are PyTorch's contiguous ones (NumPy allocates it with all strides 0)."""
    ours, theirs = make(mg), make(torch)
    assert ours.stride() == theirs.stride()
    assert ours.is_contiguous() == theirs.is_contiguous()
