"""Linear, Embedding, Dropout, Identity, Sequential: PyTorch's init, values and gradients."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
from helpers import assert_close, to_torch

import minigrad as mg
import nn

RNG = np.random.default_rng(3)


def test_linear_default_init_is_pytorchs() -> None:
    layer = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)
    for p in (layer.weight, layer.bias):
        values = p.numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.98 * bound
        assert abs(values.mean()) < 0.1 * bound
    assert layer.weight.shape == (400, 50) and layer.bias.shape == (400,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad


def test_factory_keywords() -> None:
    for layer in (nn.Linear(2, 3, dtype=mg.float64, device="cpu"), nn.Embedding(4, 2, dtype="float64"),
                  nn.Dropout(0.1, dtype=mg.float64), nn.Identity(device="cpu"), nn.Tanh(device="cpu"),
                  nn.ReLU(dtype=mg.float64), nn.Sigmoid(device="cpu", dtype=mg.float64)):
        # parameter-free modules only need to accept the keywords (DESIGN: every module constructor)
        assert all(p.dtype == np.float64 and p.device == "cpu" for p in layer.parameters())
    with pytest.raises(TypeError, match="Linear: dtype must be a floating type, got int64"):
        nn.Linear(2, 3, dtype=mg.int64)


def test_linear_matches_torch(torch) -> None:
    layer = nn.Linear(4, 3, dtype=mg.float64)
    twin = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        twin.weight.copy_(to_torch(torch, layer.weight))
        twin.bias.copy_(to_torch(torch, layer.bias))
    x = RNG.standard_normal((2, 5, 4))
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.from_numpy(x).requires_grad_(True)
    out, expected = layer(xm), twin(xt)
    assert_close(out, expected)
    g = RNG.standard_normal(out.shape)
    out.backward(g)
    expected.backward(torch.from_numpy(g))
    assert_close(layer.weight.grad, twin.weight.grad)
    assert_close(layer.bias.grad, twin.bias.grad)
    assert_close(xm.grad, xt.grad)
    no_bias = nn.Linear(4, 3, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert no_bias(mg.ones(4)).shape == (3,)


def test_embedding_matches_torch_with_padding(torch) -> None:
    layer = nn.Embedding(7, 3, padding_idx=2, dtype=mg.float64)
    assert np.all(layer.weight.numpy()[2] == 0)
    twin = torch.nn.Embedding(7, 3, padding_idx=2).double()
    with torch.no_grad():
        twin.weight.copy_(to_torch(torch, layer.weight))
    idx = np.array([[2, 1, 1, 6], [0, 2, 1, 3]])
    out, expected = layer(idx), twin(torch.from_numpy(idx))
    assert out.shape == (2, 4, 3)
    assert_close(out, expected)
    g = RNG.standard_normal(out.shape)
    out.backward(g)
    expected.backward(torch.from_numpy(g))
    assert_close(layer.weight.grad, twin.weight.grad)
    assert np.all(layer.weight.grad.numpy()[2] == 0)
    assert layer(mg.tensor(idx)).shape == (2, 4, 3) and layer([1, 2]).shape == (2, 3)


def test_embedding_init_and_errors() -> None:
    layer = nn.Embedding(300, 100)
    assert abs(layer.weight.numpy().std() - 1.0) < 0.02  # N(0, 1) as PyTorch
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match="padding_idx 5"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(IndexError, match="index 300 is out of range for an embedding of 300 rows"):
        layer(np.array([0, 300]))
    assert repr(nn.Embedding(5, 2, padding_idx=0)) == "Embedding(5, 2, padding_idx=0)"


def test_dropout_module_obeys_train_and_eval() -> None:
    layer = nn.Dropout(0.25)
    x = mg.ones(100, 100)
    y = layer(x).numpy()
    assert abs((y == 0).mean() - 0.25) < 0.02 and np.allclose(y[y != 0], 1 / 0.75)
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match=r"Dropout: dropout probability has to be between 0 and 1"):
        nn.Dropout(-0.1)


def test_sequential_and_identity() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Identity(), nn.Linear(4, 2))
    x = mg.randn(5, 3)
    np.testing.assert_allclose(model(x).numpy(), model[2](model[0](x)).numpy())
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(model) == 3 and isinstance(model[-1], nn.Linear) and len(model[:2]) == 2
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(3, 3)), ("dec", nn.Linear(3, 1))]))
    assert [n for n, _ in named.named_parameters()][0] == "enc.weight"
    assert named(x).shape == (5, 1)
    assert model(x)._node.scope == "sequential/2"
    with pytest.raises(TypeError, match="Sequential: item '0' is a int"):
        nn.Sequential(3)


def test_sequential_matches_torch_mlp(torch) -> None:
    model = nn.Sequential(nn.Linear(3, 8, dtype=mg.float64), nn.Linear(8, 1, dtype=mg.float64))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Linear(8, 1)).double()
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    x = RNG.standard_normal((4, 3))
    assert_close(model(mg.tensor(x)), twin(torch.from_numpy(x)))
    # and back: a PyTorch state dict converted with .numpy() loads as is
    model.load_state_dict({k: v.numpy() for k, v in torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Linear(8, 1)).state_dict().items()})
    assert model[0].weight.dtype == np.float64
