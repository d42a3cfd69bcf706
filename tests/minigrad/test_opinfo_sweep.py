"""Regressions found by a sweep of PyTorch's OpInfo samples through minigrad (values, dtypes, gradients).

Hand-written cases against torch 2.13 (the ``torch`` fixture skips without it), so the suite does not
depend on torch's private test module.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def test_frexp_mantissa_is_differentiable_as_torch(torch):
    values = np.array([3.0, -5.0, 0.1, 0.0, 1e-3, 7.5e5])
    x = mg.tensor(values, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    mantissa, exponent = mg.frexp(x)
    t_mantissa, t_exponent = torch.frexp(t)
    np.testing.assert_array_equal(mantissa.numpy(), t_mantissa.detach().numpy())
    np.testing.assert_array_equal(exponent.numpy(), t_exponent.numpy())
    assert mantissa.requires_grad and not exponent.requires_grad
    weights = np.random.default_rng(0).standard_normal(values.shape)
    (mantissa * mg.tensor(weights)).sum().backward()
    (t_mantissa * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    assert mg.gradcheck(lambda a: mg.frexp(a)[0], [mg.tensor(values[[0, 1, 2, 4]], requires_grad=True)])
    x32 = mg.tensor(values.astype(np.float32), requires_grad=True)
    mg.frexp(x32).mantissa.sum().backward()
    assert x32.grad.dtype == mg.float32


@pytest.mark.parametrize(("beta", "alpha"), [(3, 2), (0, 2), (1, 0), (0, 0), (True, False)])
def test_addr_on_bool_tensors_is_logical_as_torch(torch, beta, alpha):
    rng = np.random.default_rng(1)
    x, v1, v2 = rng.random((4, 5)) < 0.5, rng.random(4) < 0.5, rng.random(5) < 0.5
    out = mg.addr(mg.tensor(x), mg.tensor(v1), mg.tensor(v2), beta=beta, alpha=alpha)
    expected = torch.addr(torch.tensor(x), torch.tensor(v1), torch.tensor(v2), beta=beta, alpha=alpha)
    assert out.dtype == mg.bool_
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


@pytest.mark.parametrize("name", ["addmm", "baddbmm", "addmv", "addbmm", "addr"])
def test_integer_add_products_refuse_float_scalars(name):
    # PyTorch's addmm/baddbmm/addmv/addbmm truncate a float beta/alpha to an int (beta=0.2 → 0); addr refuses.
    # minigrad refuses for all of them (baddbmm and addmm used to return a float result).
    ones = mg.ones(2, 2, dtype=mg.int64)
    args = {"addmm": (ones, ones, ones), "baddbmm": (ones[None], ones[None], ones[None]),
            "addmv": (ones[0], ones, ones[0]), "addbmm": (ones, ones[None], ones[None]),
            "addr": (ones, ones[0], ones[0])}[name]
    with pytest.raises(TypeError, match=f"{name}: for integer tensors beta must be an int"):
        getattr(mg, name)(*args, beta=0.2, alpha=0.6)
    out = getattr(mg, name)(*args, beta=3, alpha=2)
    assert out.dtype == mg.int64


@pytest.mark.parametrize(("x_dtype", "other_dtype"), [("int64", "int64"), ("bool", "int64"), ("int64", "float64"),
                                                      ("float32", "int64"), ("float64", "int32")])
def test_ldexp_dtype_as_torch(torch, x_dtype, other_dtype):
    x, other = np.array([1, 2, 3]).astype(x_dtype), np.array([1, -2, 3]).astype(other_dtype)
    out = mg.ldexp(mg.tensor(x), mg.tensor(other))
    expected = torch.ldexp(torch.from_numpy(x), torch.from_numpy(other))
    assert out.dtype == expected.numpy().dtype
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_masked_fill_refuses_a_complex_value_for_a_real_tensor(torch):
    with pytest.raises(RuntimeError, match="cannot be converted"):
        torch.zeros(2, 2).masked_fill(torch.tensor(True), 1j)
    for fill in (mg.masked_fill, mg.Tensor.masked_fill_):
        with pytest.raises(RuntimeError, match="1j cannot be converted to type float32"):
            fill(mg.zeros(2, 2), mg.tensor(True), 1j)
    assert mg.masked_fill(mg.zeros(2), mg.tensor([True, False]), 2.5).tolist() == [2.5, 0.0]


def test_normal__refuses_a_negative_std(torch):
    with pytest.raises(RuntimeError, match="std >= 0"):
        torch.zeros(3).normal_(0, -1)
    x = mg.zeros(3)
    with pytest.raises(RuntimeError, match="normal_: expects std >= 0.0, but found std -1"):
        x.normal_(0, -1)
    assert x.tolist() == [0.0, 0.0, 0.0]
    assert x.normal_(0, 0).tolist() == [0.0, 0.0, 0.0]
