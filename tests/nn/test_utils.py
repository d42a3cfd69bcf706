"""nn.utils: gradient clipping equal to PyTorch's, the L1 penalty, detach_state."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn
from nn import utils

RNG = np.random.default_rng(5)


def params_with_grads(scale: float) -> tuple[list, list]:
    """Three float64 parameters with gradients, and torch copies of them."""
    shapes = [(4, 3), (3,), (2, 2, 2)]
    ours, grads = [], []
    for shape in shapes:
        p = nn.Parameter(mg.tensor(RNG.standard_normal(shape)))
        g = RNG.standard_normal(shape) * scale
        p.grad = mg.tensor(g)
        ours.append(p)
        grads.append(g)
    return ours, grads


@pytest.mark.parametrize("scale", [0.01, 10.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(torch, scale, norm_type) -> None:
    ours, grads = params_with_grads(scale)
    theirs = []
    for g in grads:
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        theirs.append(t)
    total = utils.clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, mg.Tensor) and total.shape == ()
    assert_close(total, expected, what="total norm")
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, what="clipped grad")
    clipped = scale == 10.0
    assert (np.abs(ours[0].grad.numpy()).max() < np.abs(grads[0]).max()) == clipped


def test_clip_grad_norm_skips_missing_grads_and_takes_a_module() -> None:
    model = nn.Linear(3, 2, dtype=mg.float64)
    assert utils.clip_grad_norm_(model.parameters(), 1.0).item() == 0.0  # no grads at all
    model.weight.grad = mg.full((2, 3), 2.0, dtype=mg.float64)
    total = utils.clip_grad_norm_(model, 1.0)
    assert total.item() == pytest.approx(np.sqrt(6 * 4.0))
    assert model.bias.grad is None
    assert np.linalg.norm(model.weight.grad.numpy()) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_float32_keeps_dtype() -> None:
    p = nn.Parameter(mg.ones(10))
    p.grad = mg.full((10,), 3.0)
    total = utils.clip_grad_norm_([p], 0.5)
    assert p.grad.dtype == np.float32 and total.dtype == np.float32
    assert np.linalg.norm(p.grad.numpy()) == pytest.approx(0.5, rel=1e-5)


def test_clip_grad_value_matches_torch(torch) -> None:
    ours, grads = params_with_grads(3.0)
    theirs = []
    for g in grads:
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        theirs.append(t)
    utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad)
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        utils.clip_grad_value_(ours, -1.0)


def test_l1_penalty_value_and_gradient() -> None:
    model = nn.Sequential(nn.Linear(3, 4, dtype=mg.float64), nn.Linear(4, 1, dtype=mg.float64))
    penalty = utils.l1_penalty(model.parameters())
    expected = sum(np.abs(p.numpy()).sum() for p in model.parameters())
    assert penalty.item() == pytest.approx(expected, rel=1e-12)
    penalty.backward()
    for p in model.parameters():
        np.testing.assert_array_equal(p.grad.numpy(), np.sign(p.numpy()))
    with pytest.raises(ValueError, match="no parameters"):
        utils.l1_penalty([])


def test_detach_state_keeps_structure_and_cuts_the_graph() -> None:
    x = mg.randn(2, 3, requires_grad=True)
    h, c = x * 2, x.tanh()
    state = utils.detach_state((h, [c, None]))
    assert isinstance(state, tuple) and isinstance(state[1], list) and state[1][1] is None
    for new, old in [(state[0], h), (state[1][0], c)]:
        assert not new.requires_grad and new.is_leaf
        np.testing.assert_array_equal(new.numpy(), old.numpy())
    assert utils.detach_state(None) is None
    assert not utils.detach_state(h).requires_grad
    with pytest.raises(TypeError, match="detach_state"):
        utils.detach_state({"h": h})
