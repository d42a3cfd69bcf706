"""nn.LayerNorm and F.layer_norm against PyTorch (values and every gradient, float64) and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, check_op

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(11)


def leaf(*shape: int, scale: float = 1.0, shift: float = 0.0) -> mg.Tensor:
    return mg.tensor(RNG.standard_normal(shape) * scale + shift, requires_grad=True)


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 5)),
                                              ((7,), [7]), ((2, 1, 4), (1, 4))])
def test_layer_norm_function_matches_torch(torch, shape: tuple, normalized) -> None:
    x = leaf(*shape, scale=3.0, shift=1.5)
    norm_shape = (normalized,) if isinstance(normalized, int) else tuple(normalized)
    w, b = leaf(*norm_shape), leaf(*norm_shape)
    check_op(lambda x, w, b: F.layer_norm(x, normalized, w, b, eps=1e-5), [x, w, b], torch,
             lambda x, w, b: torch.nn.functional.layer_norm(x, norm_shape, w, b, eps=1e-5))
    check_op(lambda x: F.layer_norm(x, normalized), [x], torch,
             lambda x: torch.nn.functional.layer_norm(x, norm_shape))


@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, True)])
def test_layer_norm_module_matches_torch_with_weights_copied(torch, affine: bool, bias: bool) -> None:
    mine = nn.LayerNorm((3, 4), eps=1e-6, elementwise_affine=affine, bias=bias, dtype=mg.float64)
    peer = torch.nn.LayerNorm((3, 4), eps=1e-6, elementwise_affine=affine, bias=bias, dtype=torch.float64)
    assert sorted(mine.state_dict()) == sorted(peer.state_dict())
    if affine:   # non-trivial weights, so their gradients are checked too
        with torch.no_grad():
            for p in peer.parameters():
                p.copy_(torch.from_numpy(RNG.standard_normal(p.shape)))
        mine.load_state_dict({k: v.numpy() for k, v in peer.state_dict().items()})
    x = leaf(2, 5, 3, 4)
    tx = torch.from_numpy(x.numpy()).requires_grad_(True)
    y, ty = mine(x), peer(tx)
    assert_close(y, ty, what="forward")
    g = RNG.standard_normal(y.shape)
    (y * mg.tensor(g)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    assert_close(x.grad, tx.grad, what="input grad")
    for name, p in peer.named_parameters():
        assert_close(dict(mine.named_parameters())[name].grad, p.grad, what=name)


def test_layer_norm_defaults_and_repr() -> None:
    norm = nn.LayerNorm(8)
    assert norm.normalized_shape == (8,) and norm.eps == 1e-5
    assert norm.weight.dtype == mg.float32 and np.all(norm.weight.numpy() == 1) and np.all(norm.bias.numpy() == 0)
    assert [n for n, _ in norm.named_parameters()] == ["weight", "bias"]
    assert repr(norm) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)"
    y = norm(mg.randn(3, 8))
    np.testing.assert_allclose(y.numpy().mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(y.numpy().var(-1), 1, atol=1e-3)


def test_layer_norm_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(3, 5\) does not end with normalized_shape"):
        F.layer_norm(mg.randn(3, 5), 4)
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) must have normalized_shape \(4,\)"):
        F.layer_norm(mg.randn(3, 4), 4, weight=mg.ones(3))
    with pytest.raises(TypeError, match="normalized_shape must be an int or a tuple of ints"):
        nn.LayerNorm("4")
