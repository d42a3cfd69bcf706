"""Differential fuzzing of the autograd API against torch 2.13 (round 14), float64: the cases where minigrad
differed — ``autograd.grad(is_grads_batched=True)`` with no, 0-d or empty-batch grad_outputs."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

A = np.random.default_rng(14).standard_normal((3, 4))


def test_batched_grad_with_an_empty_batch_raises_not_an_empty_tuple(torch: object) -> None:
    """An empty batch (0, *shape) made ``grad`` return ``()`` (no gradient at all); torch raises IndexError."""
    x = torch.tensor(A, requires_grad=True)
    with pytest.raises(IndexError):
        torch.autograd.grad(x.exp(), x, torch.zeros(0, 3, 4, dtype=torch.float64), is_grads_batched=True)
    x = mg.tensor(A, requires_grad=True)
    with pytest.raises(IndexError, match=r"is_grads_batched=True .* at least one row \(got shapes \[\(0, 3, 4\)\]\)"):
        mg.autograd.grad(x.exp(), x, mg.zeros(0, 3, 4, dtype=mg.float64), is_grads_batched=True)
    with pytest.raises(IndexError, match=r"got shapes \[\(\)\]"):   # a 0-d grad_output has no batch dim
        mg.autograd.grad(x.exp(), x, mg.tensor(1.0), is_grads_batched=True)


def test_batched_grad_without_grad_outputs_raises_torchs_classes(torch: object) -> None:
    """No grad_outputs: torch raises ValueError for a scalar output, RuntimeError for a non-scalar one."""
    for lib in (torch, mg):
        x = lib.tensor(A, requires_grad=True)
        with pytest.raises(ValueError):
            lib.autograd.grad(x.exp().sum(), x, is_grads_batched=True)
        with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
            lib.autograd.grad(x.exp(), x, is_grads_batched=True)


def test_batched_grad_rows_match_torch(torch: object) -> None:
    """The non-error path still gives torch's (B, *input shape) gradients, two outputs and two inputs."""
    rows = np.random.default_rng(1).standard_normal((2, 3, 4))
    got = []
    for lib in (torch, mg):
        x = lib.tensor(A, requires_grad=True)
        z = lib.tensor(A * 2, requires_grad=True)
        got.append([g.detach().numpy() for g in lib.autograd.grad(
            [(x * z).sin(), (x * x).sum(1)], [x, z], [lib.tensor(rows), lib.tensor(rows[:, :, 0])],
            is_grads_batched=True)])
    for a, b in zip(*got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
