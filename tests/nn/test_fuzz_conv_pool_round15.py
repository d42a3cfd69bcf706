"""Convolution, pooling, padding, resizing and fold against torch.nn.functional: the cases a round-15 differential
fuzz (thousands of random configurations of strides, paddings, dilations, groups, ceil modes, layouts and dtypes)
found differing from PyTorch 2.13, each compared with the value, shape, error class or gradient torch gives."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


@pytest.mark.parametrize(("name", "shape", "output_size"), [
    ("adaptive_avg_pool1d", (1, 2, 6), 3),
    ("adaptive_avg_pool2d", (1, 4, 5), (2, 3)),
    ("adaptive_avg_pool3d", (1, 4, 4, 5), 2),
    ("area", (1, 1, 4, 6), (2, 3)),
])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_adaptive_average_keeps_a_nan_or_inf_in_its_own_window(name: str, shape: tuple, output_size: object,
                                                               bad: float) -> None:
    # the averaging was a matmul with a 0/1 matrix: 0·inf = NaN spread the entry to every window
    x = np.random.default_rng(0).standard_normal(shape)
    x.flat[1] = bad
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    if name == "area":
        expected = TF.interpolate(xt, size=output_size, mode="area")
        got = F.interpolate(xm, size=output_size, mode="area")
    else:
        expected, got = getattr(TF, name)(xt, output_size), getattr(F, name)(xm, output_size)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)   # NaNs in the same places
    cotangent = np.random.default_rng(1).standard_normal(expected.shape)
    (expected * torch.tensor(cotangent)).sum().backward()
    (got * mg.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("output_size", [(0, 2, 2), (2, 0, 3), 0])
def test_adaptive_max_pool3d_empty_output(output_size: object) -> None:
    # torch gives an empty result; ours failed reshaping its (empty) window table
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 4, 5))
    values_t, index_t = TF.adaptive_max_pool3d(torch.tensor(x), output_size, return_indices=True)
    values_m, index_m = F.adaptive_max_pool3d(mg.tensor(x), output_size, return_indices=True)
    assert values_m.shape == tuple(values_t.shape) and index_m.shape == tuple(index_t.shape)
    assert F.adaptive_avg_pool3d(mg.tensor(x), output_size).shape == tuple(TF.adaptive_avg_pool3d(
        torch.tensor(x), output_size).shape)
