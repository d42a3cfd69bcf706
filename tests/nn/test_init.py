"""nn.init: in place, seeded, the right distributions and bounds (PyTorch's formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import init


def param(*shape: int, dtype=mg.float64) -> nn.Parameter:
    return nn.Parameter(mg.zeros(*shape, dtype=dtype))


def test_fills_in_place_and_returns_the_tensor() -> None:
    p = param(30, 40, dtype=mg.float32)
    array = p.data
    for fill in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_uniform_, init.orthogonal_,
                 init.ones_, init.xavier_normal_, init.kaiming_normal_, init.zeros_):
        assert fill(p) is p
        assert p.data is array and p.dtype == np.float32  # the same array, written in place
        assert p.is_leaf and p.requires_grad and p._node is None
    assert np.all(p.numpy() == 0)
    init.ones_(p)
    assert np.all(p.numpy() == 1)
    init.constant_(p, 0.25)
    assert np.all(p.numpy() == 0.25)


def test_seeded_reproducibility() -> None:
    a, b = param(5, 6), param(5, 6)
    mg.manual_seed(3)
    init.xavier_uniform_(a)
    mg.manual_seed(3)
    init.xavier_uniform_(b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    init.xavier_uniform_(b)
    assert not np.array_equal(a.numpy(), b.numpy())


def test_uniform_and_normal_statistics() -> None:
    p = param(200, 300)
    init.uniform_(p, -2.0, 3.0)
    v = p.numpy()
    assert v.min() >= -2.0 and v.max() < 3.0
    assert abs(v.mean() - 0.5) < 0.03 and abs(v.var() - 25 / 12) < 0.05
    init.normal_(p, mean=1.0, std=0.5)
    v = p.numpy()
    assert abs(v.mean() - 1.0) < 0.01 and abs(v.std() - 0.5) < 0.01


def test_fan_based_bounds_match_torch_formulas() -> None:
    p = param(64, 32, 3)  # fan_in = 32*3, fan_out = 64*3
    fan_in, fan_out = 96, 192
    init.xavier_uniform_(p, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.98 * bound
    init.kaiming_uniform_(p, a=math.sqrt(5))  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(p.numpy()).max() <= 1 / math.sqrt(fan_in) and np.abs(p.numpy()).max() > 0.98 / math.sqrt(fan_in)
    init.kaiming_uniform_(p, mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.98 * bound
    init.kaiming_normal_(p, nonlinearity="relu")
    assert abs(p.numpy().std() - math.sqrt(2 / fan_in)) < 0.01
    init.xavier_normal_(p)
    assert abs(p.numpy().std() - math.sqrt(2 / (fan_in + fan_out))) < 0.005


def test_calculate_gain_matches_torch(torch) -> None:
    for name, arg in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                      ("leaky_relu", 0.2), ("sigmoid", None), ("selu", None)]:
        assert init.calculate_gain(name, arg) == pytest.approx(torch.nn.init.calculate_gain(name, arg))


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (3, 2, 5)])
def test_orthogonal(shape) -> None:
    p = param(*shape)
    init.orthogonal_(p, gain=1.5)
    flat = p.numpy().reshape(shape[0], -1) / 1.5
    if flat.shape[0] <= flat.shape[1]:
        np.testing.assert_allclose(flat @ flat.T, np.eye(flat.shape[0]), atol=1e-12)
    else:
        np.testing.assert_allclose(flat.T @ flat, np.eye(flat.shape[1]), atol=1e-12)


def test_errors_name_the_initialiser() -> None:
    with pytest.raises(ValueError, match=r"nn.init.xavier_uniform_: .*at least 2 dimensions, got shape \(5,\)"):
        init.xavier_uniform_(param(5))
    with pytest.raises(ValueError, match="nn.init.orthogonal_"):
        init.orthogonal_(param(5))
    with pytest.raises(TypeError, match=r"nn.init.normal_: can only fill floating-point tensors, got int64"):
        init.normal_(mg.tensor([1, 2]))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(param(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu2'"):
        init.calculate_gain("gelu2")
