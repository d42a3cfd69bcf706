"""Round 16: activations' gradients at NaN / infinite inputs, celu/softplus parameter edges, and float16
sigmoid/tanh rounding, compared with live PyTorch.

PyTorch's CPU gradient at a NaN input depends on the tensor's size (its vectorised kernel blends the other
way than its scalar tail and its CUDA kernel). For elu/celu/selu minigrad keeps the vectorised kernel's NaN
(tests/minigrad/test_special_extremes.py); the other tests here use tensors of fewer than 8 elements, which
PyTorch runs through the scalar kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional

NAN, INF = float("nan"), float("inf")


def _grads(fn_mg, fn_torch, values, dtype):
    """Gradients of sum(fn(x)) at ``values`` (a few elements: PyTorch's scalar kernel), minigrad's and torch's."""
    data = np.array(values, dtype=dtype)
    x = mg.tensor(data, requires_grad=True)
    fn_mg(x).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    fn_torch(tx).sum().backward()
    return x.grad.numpy(), tx.grad.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("value", [INF, -INF, NAN, 0.0])
def test_prelu_weight_gradient_at_an_infinite_input(value, dtype):
    data = np.full((2, 3, 2), value, dtype=dtype)
    slopes = np.array([0.1, -0.5, 2.0], dtype=dtype)
    x, w = mg.tensor(data, requires_grad=True), mg.tensor(slopes, requires_grad=True)
    F.prelu(x, w).sum().backward()
    tx, tw = torch.tensor(data, requires_grad=True), torch.tensor(slopes, requires_grad=True)
    TF.prelu(tx, tw).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def _all_finite_float16():
    bits = np.arange(65536, dtype=np.uint16).view(np.float16)
    return bits[np.isfinite(bits)]


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_float16_sigmoid_and_tanh_round_as_pytorch_over_every_finite_input(name):
    """Forward and backward bit for bit over all 63,488 finite float16 inputs (sigmoid's forward differed at
    -0.004395 and -0.010254, its backward at ~1/3 of the values, tanh's backward at ~1/10)."""
    x = _all_finite_float16()
    gy = np.random.default_rng(0).standard_normal(x.size).astype(np.float16)
    ours = mg.tensor(x, requires_grad=True)
    y = getattr(mg, name)(ours)
    y.backward(mg.tensor(gy))
    theirs = torch.tensor(x, requires_grad=True)
    ty = getattr(torch, name)(theirs)
    ty.backward(torch.tensor(gy))
    assert y.dtype == mg.float16 and ours.grad.dtype == mg.float16
    np.testing.assert_array_equal(y.detach().numpy().view(np.uint16), ty.detach().numpy().view(np.uint16))
    np.testing.assert_array_equal(ours.grad.numpy().view(np.uint16), theirs.grad.numpy().view(np.uint16))


def test_float16_sigmoid_of_a_0d_tensor():
    x = mg.tensor(np.float16(-0.004395), requires_grad=True)
    y = F.sigmoid(x)
    y.backward()
    tx = torch.tensor(np.float16(-0.004395), requires_grad=True)
    ty = torch.sigmoid(tx)
    ty.backward()
    assert y.shape == () and y.item() == ty.item() and x.grad.item() == tx.grad.item()


@pytest.mark.parametrize("alpha", [0.0, -0.0])
def test_celu_alpha_zero_raises_runtime_error_at_the_call(alpha):
    """PyTorch's F.celu raises RuntimeError ("ZeroDivisionError: alpha cannot be 0"); nn.CELU(0) constructs."""
    with pytest.raises(RuntimeError):
        TF.celu(torch.ones(2), alpha)
    with pytest.raises(RuntimeError, match="celu: alpha cannot be 0"):
        F.celu(mg.ones(2), alpha)
    with pytest.raises(RuntimeError, match="celu: alpha cannot be 0"):
        nn.CELU(alpha)(mg.ones(2))
    torch.nn.CELU(alpha)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta, threshold", [(0.0, 20.0), (-0.0, 20.0), (0.0, -1.0), (float("inf"), 20.0),
                                             (float("-inf"), 5.0), (float("inf"), -5.0)])
def test_softplus_with_beta_zero_or_infinite_as_pytorch(beta, threshold, dtype):
    """PyTorch returns log1p(e^{βx}) / β (±inf for β = ±0) with the gradient σ(βx); minigrad refused β = 0
    and gave NaN gradients for β = ±inf (β / β in the chain rule)."""
    data = np.array([-30.0, -2.0, -0.0, 0.0, 1.0, 30.0, INF, -INF, NAN], dtype=dtype)
    x = mg.tensor(data, requires_grad=True)
    y = nn.Softplus(beta, threshold)(x)
    y.sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    ty = torch.nn.Softplus(beta, threshold)(tx)
    ty.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
