"""PyTorch's other activations (ELU … PReLU) as functions and modules, against PyTorch in float64.

Inputs include each function's kinks exactly (0, ±threshold …), where the gradient must be the one
PyTorch's backward picks, and tails far enough out to overflow a naive formula.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import check_against_torch, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(11)

TAILS = [-1000.0, -50.0, -20.0, -1e-8, 0.0, -0.0, 1e-8, 20.0, 50.0, 1000.0]

# name, keyword arguments (the same for F and torch.nn.functional), the kinks of that function
ACTIVATIONS = [
    ("elu", {}, [0.0]),
    ("elu", {"alpha": 0.5}, [0.0]),
    ("celu", {"alpha": 2.0}, [0.0]),
    ("selu", {}, [0.0]),
    ("leaky_relu", {}, [0.0]),
    ("leaky_relu", {"negative_slope": 0.2}, [0.0]),
    ("relu6", {}, [0.0, 6.0]),
    ("hardtanh", {}, [-1.0, 1.0]),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}, [-2.0, 0.5]),
    ("hardsigmoid", {}, [-3.0, 3.0]),
    ("hardswish", {}, [-3.0, 3.0]),
    ("hardshrink", {}, [-0.5, 0.5]),
    ("hardshrink", {"lambd": 0.7}, [-0.7, 0.7]),
    ("softshrink", {}, [-0.5, 0.5]),
    ("softshrink", {"lambd": 0.0}, [0.0]),
    ("tanhshrink", {}, []),
    ("threshold", {"threshold": 0.5, "value": -2.0}, [0.5]),
    ("silu", {}, []),
    ("mish", {}, []),
    ("softplus", {}, [20.0]),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, [2.5]),
    ("softplus", {"beta": -1.5}, [0.0]),
    ("softsign", {}, [0.0]),
    ("logsigmoid", {}, []),
]
IDS = [f"{name}{kwargs or ''}" for name, kwargs, _ in ACTIVATIONS]


def with_kinks(kinks: list, count: int = 24, scale: float = 4.0) -> np.ndarray:
    """Random values, each kink exactly, values one ulp either side of it, and the tails."""
    near = [np.nextafter(k, side) for k in kinks for side in (-np.inf, np.inf)]
    return np.concatenate([RNG.standard_normal(count) * scale, kinks, near, TAILS])


def away_from(kinks: list, shape: tuple = (3, 5), scale: float = 4.0) -> np.ndarray:
    """Random values at least 0.01 from every kink: where finite differences see one smooth piece."""
    x = RNG.standard_normal(shape) * scale
    for k in kinks:
        x = np.where(np.abs(x - k) < 0.01, x + 0.05, x)
    return x


# PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32 (`1.0f / 6.0f`), in float64 too
RTOL = {"hardsigmoid": 1e-7}


@pytest.mark.parametrize("name,kwargs,kinks", ACTIVATIONS, ids=IDS)
def test_function_matches_torch_at_kinks_and_in_the_tails(torch, name: str, kwargs: dict, kinks: list) -> None:
    x = mg.tensor(with_kinks(kinks), requires_grad=True)
    check_against_torch(torch, lambda v: getattr(F, name)(v, **kwargs),
                        lambda v: getattr(torch.nn.functional, name)(v, **kwargs), [x], rtol=RTOL.get(name, 1e-10))


@pytest.mark.parametrize("name,kwargs,kinks", ACTIVATIONS, ids=IDS)
def test_function_gradcheck_and_float32(name: str, kwargs: dict, kinks: list) -> None:
    fn = getattr(F, name)
    x = mg.tensor(away_from(kinks), requires_grad=True)
    assert mg.gradcheck(lambda v: fn(v, **kwargs), [x])
    x32 = mg.tensor(with_kinks(kinks).astype(np.float32), requires_grad=True)
    y = fn(x32, **kwargs)
    assert y.dtype == mg.float32 and y.shape == x32.shape
    y.sum().backward()
    assert x32.grad.dtype == mg.float32
    assert np.isfinite(y.numpy()).all() and np.isfinite(x32.grad.numpy()).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_logsigmoid_and_mish_are_stable_in_the_tails(torch, dtype: type) -> None:
    values = np.array([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0], dtype=dtype)
    x = mg.tensor(values, requires_grad=True)
    np.testing.assert_array_equal(F.logsigmoid(x).numpy()[[0, -1]], np.array([-1000.0, 0.0], dtype=dtype))
    np.testing.assert_array_equal(F.softplus(x).numpy()[[0, -1]], np.array([0.0, 1000.0], dtype=dtype))
    for name in ("softplus", "logsigmoid", "mish", "silu", "elu", "selu", "celu"):
        x.grad = None
        y = getattr(F, name)(x)
        y.sum().backward()
        tx = torch.tensor(values, requires_grad=True)
        ty = getattr(torch.nn.functional, name)(tx)
        ty.sum().backward()
        # absolute: e^-100 is a float32 denormal, and the engine's expm1 derivative, y + 1, is exact to one
        # ulp of 1 (the gradients' scale) only: elu's gradient at -30 is 0 in float32, PyTorch's e^-30 = 9e-14
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-40, err_msg=name)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=np.finfo(dtype).eps, err_msg=name)
    # with a huge threshold PyTorch's log1p(exp(βx)) overflows to inf; this one stays finite (and exact)
    wide = F.softplus(mg.tensor([400.0, 1000.0], dtype=dtype), beta=2.0, threshold=1e9)
    np.testing.assert_allclose(wide.numpy(), [400.0, 1000.0], rtol=1e-7)


def test_gradients_at_the_kinks_are_pytorchs_choice() -> None:
    """The subgradients spelled out (the comparisons above check them against PyTorch too)."""
    def grad(fn, values: list) -> list:
        x = mg.tensor(values, dtype=mg.float64, requires_grad=True)
        fn(x).sum().backward()
        return x.grad.numpy().tolist()

    assert grad(lambda x: F.elu(x, alpha=2.0), [0.0]) == [2.0]
    assert grad(lambda x: F.celu(x, alpha=2.0), [0.0]) == [1.0]
    assert grad(F.selu, [0.0]) == pytest.approx([1.0507009873554805 * 1.6732632423543772])
    assert grad(F.leaky_relu, [0.0]) == [0.01]
    assert grad(F.relu6, [0.0, 6.0, 3.0]) == [0.0, 0.0, 1.0]
    assert grad(F.hardtanh, [-1.0, 1.0]) == [0.0, 0.0]
    assert grad(F.hardsigmoid, [-3.0, 3.0]) == [0.0, 0.0]
    assert grad(F.hardswish, [-3.0, 3.0, 0.0]) == [0.0, 1.0, 0.5]
    assert grad(F.hardshrink, [-0.5, 0.5]) == [0.0, 0.0]
    assert grad(F.softshrink, [-0.5, 0.5]) == [0.0, 0.0]
    assert grad(lambda x: F.threshold(x, 1.0, 5.0), [1.0]) == [0.0]
    assert grad(F.softsign, [0.0]) == [1.0]
    assert grad(lambda x: F.prelu(x, mg.tensor([0.3], dtype=mg.float64)), [0.0]) == [0.3]


def test_nan_propagates_through_the_pieces(torch) -> None:
    values = np.array([np.nan, 1.0])
    for name in ("elu", "selu", "leaky_relu", "relu6", "hardtanh", "hardswish", "hardshrink", "softshrink",
                 "silu", "mish", "softplus", "logsigmoid", "softsign", "tanhshrink"):
        mine = getattr(F, name)(mg.tensor(values)).numpy()
        peer = getattr(torch.nn.functional, name)(torch.tensor(values)).numpy()
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(peer), err_msg=name)


def test_inplace_writes_into_the_input_and_returns_it_as_torch(torch) -> None:
    """``inplace=True`` overwrites the input and returns it, as PyTorch's (tests/nn/test_inplace_activations.py
    checks the gradients after each common producer)."""
    values = with_kinks([0.0, 6.0])
    for name, kwargs in [("elu", {}), ("celu", {}), ("selu", {}), ("leaky_relu", {}), ("relu6", {}),
                         ("hardtanh", {}), ("hardsigmoid", {}), ("hardswish", {}), ("silu", {}), ("mish", {}),
                         ("threshold", {"threshold": 0.1, "value": 3.0})]:
        x = mg.tensor(values)
        y = getattr(F, name)(x, inplace=True, **kwargs)
        assert y is x, name
        t = torch.tensor(values)
        assert getattr(torch.nn.functional, name)(t, inplace=True, **kwargs) is t
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-12, atol=1e-15, err_msg=name)


def test_integer_inputs_as_in_torch(torch) -> None:
    values = np.array([-3, 0, 2, 7, 9])
    for name, kwargs in [("relu6", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -1.5, "max_val": 4.5}),
                         ("threshold", {"threshold": 2, "value": -1}), ("softsign", {}), ("tanhshrink", {})]:
        y = getattr(F, name)(mg.tensor(values), **kwargs)
        expected = getattr(torch.nn.functional, name)(torch.tensor(values), **kwargs)
        assert str(y.dtype) == str(expected.dtype).removeprefix("torch."), name
        np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-6, err_msg=name)
    with pytest.raises(TypeError, match="elu: input must be floating point, got int64"):
        F.elu(mg.tensor(values))


@pytest.mark.parametrize("shape,dim", [((4, 6), -1), ((4, 6), 1), ((6, 3), 0), ((2, 4, 3), 1), ((8,), 0)])
def test_glu_matches_torch(torch, shape: tuple, dim: int) -> None:
    x = mg.tensor(RNG.standard_normal(shape) * 2, requires_grad=True)
    check_against_torch(torch, lambda v: F.glu(v, dim), lambda v: torch.nn.functional.glu(v, dim), [x])
    assert mg.gradcheck(lambda v: F.glu(v, dim), [x])
    check_against_torch(torch, nn.GLU(dim), torch.nn.GLU(dim), [x.detach().requires_grad_()])
    assert F.glu(x.float(), dim).dtype == mg.float32


@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1), ((5,), 0)])
def test_softmin_matches_torch(torch, shape: tuple, dim: int) -> None:
    x = mg.tensor(RNG.standard_normal(shape) * 3, requires_grad=True)
    check_against_torch(torch, lambda v: F.softmin(v, dim), lambda v: torch.nn.functional.softmin(v, dim), [x])
    assert mg.gradcheck(lambda v: F.softmin(v, dim), [x])
    check_against_torch(torch, nn.Softmin(dim), torch.nn.Softmin(dim), [x.detach().requires_grad_()])
    x32 = x.detach().float()
    assert F.softmin(x32, dim).dtype == mg.float32
    assert F.softmin(x32, dim, dtype=mg.float64).dtype == mg.float64


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 2)])
def test_softmin_implicit_dim_follows_torch_with_a_warning(torch, shape: tuple) -> None:
    x = RNG.standard_normal(shape)
    with pytest.warns(UserWarning, match="softmin: implicit dim"):
        y = F.softmin(mg.tensor(x))
    with pytest.warns(UserWarning, match="Softmin: implicit dim"):
        z = nn.Softmin()(mg.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.nn.functional.softmin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(z.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("shape,slopes", [((4, 3), 3), ((4, 3), 1), ((2, 3, 5), 3), ((2, 3, 2, 2), 3),
                                          ((2, 3, 5), 1), ((7,), 1), ((), 1)])
def test_prelu_function_matches_torch(torch, shape: tuple, slopes: int) -> None:
    values = RNG.standard_normal(shape) * 2
    values.reshape(-1)[::3] = 0.0   # exact kinks: the input's gradient is the slope there, the weight's is 0
    x = mg.tensor(values, requires_grad=True)
    weight = mg.tensor(RNG.uniform(-0.5, 0.5, slopes), requires_grad=True)
    check_against_torch(torch, F.prelu, torch.nn.functional.prelu, [x, weight])
    x = mg.tensor(away_from([0.0], shape), requires_grad=True)
    assert mg.gradcheck(F.prelu, [x, weight])


def test_prelu_takes_a_0d_weight(torch) -> None:
    x = mg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    weight = mg.tensor(0.3, dtype=mg.float64, requires_grad=True)
    check_against_torch(torch, F.prelu, torch.nn.functional.prelu, [x, weight])


@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_module_loads_torchs_state_dict_and_matches_it(torch, num_parameters: int) -> None:
    peer = torch.nn.PReLU(num_parameters, init=0.1).double()
    with torch.no_grad():
        peer.weight.copy_(torch.from_numpy(RNG.uniform(-0.5, 0.5, num_parameters)))
    mine = nn.PReLU(num_parameters, init=0.1, dtype=mg.float64)
    assert sorted(mine.state_dict()) == sorted(peer.state_dict()) == ["weight"]
    mine.load_state_dict({k: v.numpy() for k, v in peer.state_dict().items()})
    values = RNG.standard_normal((4, 3, 5))
    values[0, :, :2] = 0.0
    x, tx = mg.tensor(values, requires_grad=True), to_torch(torch, values, requires_grad=True)
    weights = RNG.standard_normal((4, 3, 5))
    (mine(x) * mg.tensor(weights)).sum().backward()
    (peer(tx) * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(mine(x).numpy(), peer(tx).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine.weight.grad.numpy(), peer.weight.grad.numpy(), rtol=1e-12)
    assert repr(mine) == repr(peer)


def test_prelu_module_parameters_and_init() -> None:
    module = nn.PReLU(4, 0.3)
    assert module.weight.shape == (4,) and module.weight.dtype == mg.float32
    np.testing.assert_array_equal(module.weight.numpy(), np.full(4, 0.3, dtype=np.float32))
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    module.weight.data[...] = 1.0
    module.reset_parameters()
    np.testing.assert_array_equal(module.weight.numpy(), np.full(4, 0.3, dtype=np.float32))
    assert nn.PReLU(2, 0.25, None, mg.float64).weight.dtype == mg.float64
    assert module(mg.randn(2, 4, 3)).dtype == mg.float32


# module, constructor arguments (positional, as PyTorch's), whether it changes its input in place in PyTorch
MODULES = [
    ("ELU", ()), ("ELU", (0.5,)), ("CELU", (2.0,)), ("SELU", ()), ("LeakyReLU", ()), ("LeakyReLU", (0.2,)),
    ("ReLU6", ()), ("Hardtanh", ()), ("Hardtanh", (-2.0, 0.5)), ("Hardsigmoid", ()), ("Hardswish", ()),
    ("Hardshrink", ()), ("Hardshrink", (0.7,)), ("Softshrink", (0.7,)), ("Tanhshrink", ()), ("Threshold", (0.5, -2.0)),
    ("SiLU", ()), ("Mish", ()), ("Softplus", ()), ("Softplus", (2.0, 5.0)), ("Softsign", ()), ("LogSigmoid", ()),
    ("GLU", ()), ("GLU", (0,)), ("Softmin", (1,)), ("PReLU", ()), ("PReLU", (3, 0.1)),
]


@pytest.mark.parametrize("name,args", MODULES, ids=[f"{n}{a}" for n, a in MODULES])
def test_module_matches_torch(torch, name: str, args: tuple) -> None:
    mine, peer = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(mine) == repr(peer)
    values = RNG.standard_normal((2, 3, 4)) * 4
    values[0, 0, :] = [0.0, 6.0, -3.0, 3.0]
    values[1, 0, :] = [0.5, -0.5, 0.7, 20.0]
    x = mg.tensor(values, requires_grad=True)
    assert mine(x.detach().float()).dtype == mg.float32
    if name == "PReLU":
        mine, peer = mine.double(), peer.double()
    check_against_torch(torch, mine, peer, [x], rtol=RTOL.get(name.lower(), 1e-10))
    assert list(mine.state_dict()) == list(peer.state_dict())


INPLACE_MODULES = [
    ("ELU", (0.5, True)), ("CELU", (1.0, True)), ("SELU", (True,)), ("LeakyReLU", (0.2, True)), ("ReLU6", (True,)),
    ("Hardtanh", (-2.0, 0.5, True)), ("Hardsigmoid", (True,)), ("Hardswish", (True,)), ("Threshold", (0.5, 1.0, True)),
    ("SiLU", (True,)), ("Mish", (True,)),
]


@pytest.mark.parametrize("name,args", INPLACE_MODULES, ids=[n for n, _ in INPLACE_MODULES])
def test_inplace_modules_repr_and_values_as_torch(torch, name: str, args: tuple) -> None:
    mine, peer = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(mine) == repr(peer)
    values = RNG.standard_normal((3, 4)) * 4
    np.testing.assert_allclose(mine(mg.tensor(values)).numpy(), peer(torch.tensor(values)).numpy(), rtol=1e-12)


def test_modules_in_sequential_match_torch(torch) -> None:
    mg.manual_seed(3)
    f64 = mg.float64
    model = nn.Sequential(nn.Linear(4, 6, dtype=f64), nn.PReLU(6, dtype=f64), nn.Linear(6, 6, dtype=f64), nn.GLU(),
                          nn.Softplus(2.0), nn.Linear(3, 2, dtype=f64), nn.LogSigmoid())
    peer = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.PReLU(6), torch.nn.Linear(6, 6), torch.nn.GLU(),
                               torch.nn.Softplus(2.0), torch.nn.Linear(3, 2), torch.nn.LogSigmoid()).double()
    peer.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    x = RNG.standard_normal((5, 4))
    np.testing.assert_allclose(model(mg.tensor(x)).numpy(), peer(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_bad_arguments_name_the_function() -> None:
    x = mg.randn(3, 4)
    with pytest.raises(ValueError, match="celu: alpha cannot be 0"):
        F.celu(x, alpha=0.0)
    with pytest.raises(ValueError, match="softshrink: lambd must be non-negative, got -0.5"):
        F.softshrink(x, -0.5)
    with pytest.raises(ValueError, match="hardtanh: min_val cannot be greater than max_val"):
        F.hardtanh(x, 1.0, -1.0)
    with pytest.raises(ValueError, match=r"glu: halving dimension must be even, but dimension 0 of shape \(3, 4\)"):
        F.glu(x, 0)
    with pytest.raises(ValueError, match="glu: does not support a 0-d tensor"):
        F.glu(mg.tensor(1.0))
    with pytest.raises(IndexError, match="glu: dim 2 is out of range for a tensor with 2 dimensions"):
        F.glu(x, 2)
    with pytest.raises(TypeError, match="glu: dim must be an int"):
        F.glu(x, 1.0)
    with pytest.raises(ValueError, match="prelu: weight has 3 slopes but the input of shape \\(3, 4\\) has 4 channels"):
        F.prelu(x, mg.ones(3))
    with pytest.raises(ValueError, match="prelu: weight has 4 slopes .* has 1 channel "):
        F.prelu(mg.randn(4), mg.ones(4))
    with pytest.raises(ValueError, match="prelu: weight must be a scalar or 1-D"):
        F.prelu(x, mg.ones((4, 1)))
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a number"):
        F.leaky_relu(x, "0.1")
    with pytest.raises(TypeError, match="mish: input must be a Tensor, got list"):
        F.mish([1.0, 2.0])
    with pytest.raises(TypeError, match="hardswish: input must be floating point"):
        F.hardswish(mg.tensor([1, 2]))
    with pytest.raises(ValueError, match="celu: alpha cannot be 0"):   # the call refuses, as PyTorch's
        nn.CELU(0.0)(x)
    with pytest.raises(ValueError, match="Softshrink: lambd must be non-negative"):
        nn.Softshrink(-1.0)
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(1.0\) must be greater than min_val \(1.0\)"):
        nn.Hardtanh(1.0, 1.0)
    with pytest.raises(ValueError, match="PReLU: num_parameters must be a positive int"):
        nn.PReLU(0)


def test_functions_are_exported() -> None:
    for name in ("elu", "celu", "selu", "leaky_relu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "hardshrink",
                 "softshrink", "tanhshrink", "threshold", "silu", "mish", "softplus", "softsign", "logsigmoid", "glu",
                 "softmin", "prelu"):
        assert name in F.__all__ and callable(getattr(F, name))
    for name in {name for name, _ in MODULES}:
        assert name in nn.__all__


def test_numpy_scalar_arguments_keep_float32() -> None:
    x = mg.randn(3, 4)
    half = np.float64(0.5)
    for y in (F.elu(x, half), F.celu(x, half), F.leaky_relu(x, half), F.hardtanh(x, -half, half),
              F.hardshrink(x, half), F.softshrink(x, half), F.threshold(x, half, half), F.softplus(x, half, half)):
        assert y.dtype == mg.float32


def test_compiled_activations_replay_each_calls_values() -> None:
    def block(x: mg.Tensor, weight: mg.Tensor) -> mg.Tensor:
        h = F.prelu(F.hardswish(x) + F.softplus(x, 2.0) - F.logsigmoid(x), weight)
        return F.glu(F.elu(h) * F.hardsigmoid(x) + F.softshrink(F.mish(x)), dim=1).sum()

    compiled = mg.compile(block)
    for scale in (1.0, 3.0, 0.5):
        values = RNG.standard_normal((4, 6)) * scale
        values[0, :4] = [-3.0, 3.0, 0.0, 0.5]
        x, weight = mg.tensor(values, requires_grad=True), mg.tensor([0.2], dtype=mg.float64, requires_grad=True)
        x2, weight2 = mg.tensor(values, requires_grad=True), mg.tensor([0.2], dtype=mg.float64, requires_grad=True)
        out, expected = compiled(x, weight), block(x2, weight2)
        out.backward()
        expected.backward()
        np.testing.assert_array_equal(out.numpy(), expected.numpy())
        np.testing.assert_array_equal(x.grad.numpy(), x2.grad.numpy())
        np.testing.assert_array_equal(weight.grad.numpy(), weight2.grad.numpy())
