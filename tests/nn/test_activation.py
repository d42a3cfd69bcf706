"""Activation modules and F.gelu against PyTorch: values and gradients in float64, plus gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_op

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(7)


def leaf(*shape: int, scale: float = 1.0) -> mg.Tensor:
    return mg.tensor(RNG.standard_normal(shape) * scale, requires_grad=True)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), ()])
def test_gelu_matches_torch(torch, approximate: str, shape: tuple) -> None:
    x = leaf(*shape, scale=3.0)
    # in the far negative tail 1 + tanh(u) cancels: both sides round there, to ~1e-10 of an O(1) slope
    atol = 1e-12 if approximate == "none" else 1e-9
    check_op(lambda v: F.gelu(v, approximate=approximate), [x], torch,
             lambda v: torch.nn.functional.gelu(v, approximate=approximate), atol=atol)
    module = nn.GELU(approximate)
    check_op(module, [x], torch, torch.nn.GELU(approximate), atol=atol)


def test_gelu_far_tails_and_the_erf_behind_it(torch) -> None:
    # the erf series/continued-fraction switch is at |x/√2| = 2.5; check both sides and the tails
    values = np.concatenate([np.linspace(-12, 12, 4001), [3.5355339, 3.5355340, -0.0, 0.0, 1e-300, 40.0]])
    x = mg.tensor(values, requires_grad=True)
    y = F.gelu(x)
    y.sum().backward()
    tx = torch.tensor(values, requires_grad=True)
    ty = torch.nn.functional.gelu(tx)
    ty.sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_gelu_keeps_float32_and_refuses_bad_arguments() -> None:
    assert F.gelu(mg.randn(3)).dtype == mg.float32
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(mg.randn(3), approximate="fast")
    layer = nn.GELU("erf")   # PyTorch's module constructs and refuses at the call (RuntimeError)
    with pytest.raises(RuntimeError, match="approximate must be 'none' or 'tanh'"):
        layer(mg.randn(3))
    with pytest.raises(TypeError, match="gelu: input must be floating point"):
        F.gelu(mg.tensor([1, 2]))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_modules_match_torch(torch, dim: int) -> None:
    x = leaf(4, 5, scale=2.0)
    check_op(nn.Softmax(dim=dim), [x], torch, torch.nn.Softmax(dim=dim))
    check_op(nn.LogSoftmax(dim=dim), [x], torch, torch.nn.LogSoftmax(dim=dim))
    assert repr(nn.LogSoftmax(dim=1)) == "LogSoftmax(dim=1)"


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 2)])
def test_implicit_dim_follows_torch_with_a_warning(torch, shape: tuple) -> None:
    x = leaf(*shape)
    with pytest.warns(UserWarning, match="implicit dim"):
        y = nn.Softmax()(x)
    with pytest.warns(UserWarning):
        expected = torch.nn.Softmax()(torch.from_numpy(x.numpy()))
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-12)


def test_activation_modules_in_sequential_match_torch(torch) -> None:
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6, dtype=mg.float64), nn.GELU(), nn.Linear(6, 3, dtype=mg.float64),
                          nn.LogSoftmax(dim=-1))
    peer = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.GELU(), torch.nn.Linear(6, 3),
                               torch.nn.LogSoftmax(dim=-1)).double()
    peer.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    x = RNG.standard_normal((5, 4))
    np.testing.assert_allclose(model(mg.tensor(x)).numpy(), peer(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)
