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


# --- 0-d inputs of the index ops (PyTorch reads a 0-d tensor as one of shape (1,)), index_add's bool alpha,
# --- tensordot's broadcast contracted dims

def _both(torch, fn, *arrays, grad=True):
    """fn on minigrad and on torch tensors made from ``arrays`` (float ones require grad): values, dtypes,
    shapes, then the gradients of a weighted sum; returns nothing, asserts."""
    mg_in = [mg.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    t_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    out, expected = fn(mg, *mg_in), fn(torch, *t_in)
    assert out.shape == tuple(expected.shape) and out.dtype == expected.detach().numpy().dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    if out.requires_grad:
        weights = np.arange(1.0, out.numel() + 1).reshape(out.shape)
        (out * mg.tensor(weights)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        for a, t in zip(mg_in, t_in):
            if t.requires_grad:
                np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)


_X0, _S0, _S1 = np.array(3.5), np.array(7.0), np.array([7.0, 8.0])
_ZERO_D_CASES = {
    "gather_0d_index": (lambda lib, x: lib.gather(x, 0, lib.tensor(0)), (_X0,)),
    "gather_1d_index": (lambda lib, x: lib.gather(x, -1, lib.tensor([0, 0, 0])), (_X0,)),
    "gather_empty_index": (lambda lib, x: lib.gather(x, 0, lib.tensor([], dtype=lib.int64)), (_X0,)),
    "gather_int": (lambda lib, x: lib.gather(x, 0, lib.tensor([0, 0])), (np.array(3),)),
    "index_select_0d_index": (lambda lib, x: lib.index_select(x, 0, lib.tensor(0)), (_X0,)),
    "index_select_1d_index": (lambda lib, x: lib.index_select(x, -1, lib.tensor([0])), (_X0,)),
    "index_select_bool": (lambda lib, x: lib.index_select(x, 0, lib.tensor([0])), (np.array(True),)),
    "scatter": (lambda lib, x, s: lib.scatter(x, 0, lib.tensor(0), s), (_X0, _S0)),
    "scatter_1d": (lambda lib, x, s: lib.scatter(x, -1, lib.tensor([0]), s), (_X0, _S1[:1])),
    # torch's backward fails for a src longer than the index here ("invalid gradient"): values only
    "scatter_longer_src": (lambda lib, x, s: lib.scatter(x, -1, lib.tensor([0]), s), (_X0, _S1), False),
    "scatter_value": (lambda lib, x: lib.scatter(x, 0, lib.tensor([0, 0]), 2.0), (_X0,)),
    "scatter_empty_index": (lambda lib, x, s: lib.scatter(x, 0, lib.tensor([], dtype=lib.int64), s), (_X0, _S1),
                            False),
    "scatter_add": (lambda lib, x, s: lib.scatter_add(x, 0, lib.tensor(0), s), (_X0, _S0)),
    "scatter_add_repeats": (lambda lib, x, s: lib.scatter_add(x, 0, lib.tensor([0, 0]), s), (_X0, _S1)),
    "scatter_add_0d_src": (lambda lib, x, s: lib.scatter_add(x, 0, lib.tensor([0]), s), (_X0, _S0)),
    "scatter_add_int": (lambda lib, x, s: lib.scatter_add(x, 0, lib.tensor(0), s), (np.array(3), np.array(4))),
    "scatter_add_": (lambda lib, x, s: (x * 1).scatter_add_(0, lib.tensor([0]), s), (_X0, _S0)),
}


@pytest.mark.parametrize("case", list(_ZERO_D_CASES))
def test_index_ops_take_a_0d_input_as_torch(torch, case):
    fn, arrays, *grad = _ZERO_D_CASES[case]
    _both(torch, fn, *arrays, grad=grad[0] if grad else True)


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("index", [0, [0]])
def test_index_reduce_takes_a_0d_input_as_torch(torch, reduce, include_self, index):
    for x, source in ((_X0, _S0), (np.array(3), np.array(4)), (np.array(-2.0), np.array(-2.0))):
        _both(torch, lambda lib, a, s: lib.index_reduce(a, 0, lib.tensor(index), s, reduce,
                                                        include_self=include_self), x, source)


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
def test_index_ops_on_a_0d_input_refuse_what_torch_refuses(torch):
    x, t = mg.tensor(3.5), torch.tensor(3.5)
    refused = [  # (minigrad call, torch call, minigrad's error kind, its message)
        (lambda: mg.gather(x, 1, mg.tensor(0)), lambda: torch.gather(t, 1, torch.tensor(0)), Exception, "gather"),
        (lambda: mg.gather(x, 0, mg.tensor([[0]])), lambda: torch.gather(t, 0, torch.tensor([[0]])), ValueError,
         r"gather: index has 2 dims but the input is 0-d"),
        (lambda: mg.gather(x, 0, mg.tensor(1)), lambda: torch.gather(t, 0, torch.tensor(1)), IndexError,
         r"gather: index out of range for dim 0 of size 1"),
        (lambda: mg.gather(x, 0, mg.tensor(-1)), lambda: torch.gather(t, 0, torch.tensor(-1)), IndexError,
         r"gather: index out of range"),
        (lambda: mg.index_select(x, 0, mg.tensor([0, 0])), lambda: torch.index_select(t, 0, torch.tensor([0, 0])),
         ValueError, r"index_select: a 0-d input takes a one-element index, got shape \(2,\)"),
        (lambda: mg.index_select(x, 0, mg.tensor(1)), lambda: torch.index_select(t, 0, torch.tensor(1)),
         IndexError, "1"),
        (lambda: mg.scatter(x, 0, mg.tensor(1), mg.tensor(7.0)),
         lambda: torch.scatter(t, 0, torch.tensor(1), torch.tensor(7.0)), IndexError, "scatter: index out of range"),
        (lambda: mg.scatter_add(x, 0, mg.tensor([0, 0]), mg.tensor(7.0)),
         lambda: torch.scatter_add(t, 0, torch.tensor([0, 0]), torch.tensor(7.0)), ValueError,
         r"scatter_add: index shape \(2,\) must not be larger than src shape \(1,\)"),
        (lambda: mg.scatter(x, 0, mg.tensor([[0]]), mg.tensor([[7.0]])),
         lambda: torch.scatter(t, 0, torch.tensor([[0]]), torch.tensor([[7.0]])), ValueError,
         r"scatter: a 0-d tensor takes a 0-d or 1-D index and src, got index shape \(1, 1\)"),
        (lambda: mg.index_reduce(x, 0, mg.tensor([0, 0]), mg.tensor(7.0), "prod"),
         lambda: torch.index_reduce(t, 0, torch.tensor([0, 0]), torch.tensor(7.0), "prod"), IndexError,
         r"index_reduce: a 0-d input takes a one-element index, got index shape \(2,\)"),   # torch's class (round 16)
        (lambda: mg.index_reduce(x, 0, mg.tensor([0]), mg.tensor([7.0]), "amax"),
         lambda: torch.index_reduce(t, 0, torch.tensor([0]), torch.tensor([7.0]), "amax"), ValueError,
         r"source shape \(1,\)"),
        (lambda: mg.index_reduce(x, 0, mg.tensor([1]), mg.tensor(7.0), "amin"),
         lambda: torch.index_reduce(t, 0, torch.tensor([1]), torch.tensor(7.0), "amin"), IndexError, "index_reduce"),
    ]
    for mg_call, torch_call, kind, message in refused:
        with pytest.raises(Exception):   # noqa: B017, PT011 - torch's kinds vary (RuntimeError, IndexError)
            torch_call()
        with pytest.raises(kind, match=message):
            mg_call()


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
def test_index_reduce_takes_a_0d_index_as_torch(torch):
    x, source = np.arange(6.0).reshape(2, 3), np.array([[9.0], [-1.0]])
    _both(torch, lambda lib, a, s: lib.index_reduce(a, 1, lib.tensor(1), s, "amax"), x, source)


@pytest.mark.parametrize("dtype", ["bool", "int64", "float64"])
@pytest.mark.parametrize("alpha", [True, False])
def test_index_add_takes_a_bool_alpha_as_torch(torch, dtype, alpha):
    x, source = np.array([0, 1, 0, 1]).astype(dtype), np.array([1, 1, 0, 0]).astype(dtype)
    _both(torch, lambda lib, a, s: lib.index_add(a, 0, lib.tensor([2, 1, 0, 3]), s, alpha=alpha), x, source)


@pytest.mark.parametrize("alpha", [2, -1, 0])
def test_index_add_on_bool_tensors_takes_any_alpha_as_torch(torch, alpha):
    x, source = np.array([False, True, False, True]), np.array([True, True, False, False])
    _both(torch, lambda lib, a, s: lib.index_add(a, 0, lib.tensor([0, 1, 2, 3]), s, alpha=alpha), x, source)


@pytest.mark.parametrize(("shape_a", "shape_b", "dims"), [
    ((1, 1, 1), (2, 1, 2), [[0, 1], [2, 0]]),   # the sweep's sample
    ((3, 1), (4, 5), ([1], [0])),
    ((3, 4), (1, 5), ([1], [0])),
    ((3, 4), (1, 5), 1),
    ((2, 1, 3), (3, 4, 2), ([0, 1, 2], [2, 1, 0])),
])
def test_tensordot_broadcasts_a_size_1_contracted_dim_as_torch(torch, shape_a, shape_b, dims):
    # deliberate in PyTorch (aten/src/ATen/native/Linear.cpp: "broadcasted dimensions can be summed right away")
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    _both(torch, lambda lib, x, y: lib.tensordot(x, y, dims=dims), a, b)
    _both(torch, lambda lib, x, y: lib.tensordot(x, y, dims=dims), a.astype(np.int64), b.astype(np.int64) + 1)
    assert mg.gradcheck(lambda x, y: mg.tensordot(x, y, dims=dims),
                        [mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)])
    with pytest.raises(ValueError, match=r"tensordot: contracted dims need the same size, but dim 1 of shape"):
        mg.tensordot(mg.ones(3, 2), mg.ones(3, 5), dims=([1], [0]))


def test_index_ops_on_a_0d_input_gradcheck():
    x, s = mg.tensor(3.5, requires_grad=True), mg.tensor([7.0, 8.0], requires_grad=True)
    assert mg.gradcheck(lambda a: mg.gather(a, 0, mg.tensor([0, 0])), [x])
    assert mg.gradcheck(lambda a: mg.index_select(a, 0, mg.tensor(0)), [x])
    assert mg.gradcheck(lambda a, b: mg.scatter_add(a, 0, mg.tensor([0, 0]), b), [x, s])
    assert mg.gradcheck(lambda a, b: mg.scatter(a, 0, mg.tensor([0]), b), [x, s])
    assert mg.gradcheck(lambda a, b: mg.index_reduce(a, 0, mg.tensor([0]), b[0], "prod"), [x, s])


def test_index_select_refuses_negative_and_large_indices_as_torch(torch) -> None:
    """Indexing wraps -1; torch's index_select refuses it (and each mg.compile replay checks its own index)."""
    x = mg.arange(6.0).view(2, 3)
    for bad in ([-1], [3], [0, -2]):
        with pytest.raises(Exception):  # noqa: B017, PT011 - torch's RuntimeError
            torch.arange(6.0).view(2, 3).index_select(1, torch.tensor(bad))
        with pytest.raises(IndexError, match="index_select: index out of range for dim 1 of size 3"):
            x.index_select(1, mg.tensor(bad))
        with pytest.raises(IndexError, match="index_select: index out of range"):
            x.index_select(1, bad)
    replayed = mg.compile(lambda t, i: t.index_select(1, i))
    for good in ([0, 2], [2, 2], [1, 0]):
        np.testing.assert_array_equal(replayed(x, mg.tensor(good)).numpy(), x.numpy()[:, good])
    with pytest.raises(IndexError, match="index_select: index out of range"):
        replayed(x, mg.tensor([0, -1]))


def test_scatter_add_refuses_a_src_of_another_dtype_as_torch(torch) -> None:
    """An int tensor given float sources truncated them silently (0.7 added as 0); torch refuses any mismatch."""
    with pytest.raises(RuntimeError):
        torch.zeros(3, dtype=torch.int64).scatter_add(0, torch.tensor([0, 1, 2]), torch.tensor([0.7, 1.6, 2.2]))
    for target, source in ((mg.zeros(3, dtype=mg.int64), mg.tensor([0.7, 1.6, 2.2])),
                           (mg.zeros(3), mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64))):
        with pytest.raises(TypeError, match="scatter_add: src has dtype"):
            target.scatter_add(0, mg.tensor([0, 1, 2]), source)
        with pytest.raises(TypeError, match="scatter_add_: src has dtype"):
            target.clone().scatter_add_(0, mg.tensor([0, 1, 2]), source)
    np.testing.assert_array_equal(mg.zeros(3).scatter_add(0, mg.tensor([0, 0, 2]), mg.ones(3)).numpy(), [2, 0, 1])
