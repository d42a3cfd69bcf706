"""Round-15 random-number leftovers, each compared with live PyTorch: rand's float16/complex64 draws on the
dtype's grid (never 1), uniform_'s bounds checks, random_'s int64 bounds,
and poisson/binomial's argument checks and gradients."""

import math

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _raised(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - any class, compared below
        return error
    return None


@pytest.mark.parametrize("dtype, digits", [("float16", 11), ("complex64", 24)])
def test_rand_draws_on_the_dtype_grid_below_one(dtype, digits):
    # cast from float64, about 2.4e-4 of float16 draws rounded up to exactly 1.0 (PyTorch draws k / 2**digits)
    mg.manual_seed(0)
    ours = mg.rand(100_000, dtype=getattr(mg, dtype)).numpy().view(np.float16 if dtype == "float16" else np.float32)
    theirs = torch.rand(100_000, dtype=getattr(torch, dtype))
    theirs = (torch.view_as_real(theirs) if theirs.is_complex() else theirs).double().numpy()
    for values in (ours.astype(np.float64), theirs):
        assert values.max() < 1.0 and values.min() >= 0.0
    ours = ours.astype(np.float64) * 2.0 ** digits   # rounded down to k / 2**digits before the cast
    assert np.all(ours == np.floor(ours))
    mg.manual_seed(1)
    assert mg.zeros(100_000, dtype=mg.float16).uniform_(0, 1).numpy().max() < 1.0


@pytest.mark.parametrize("dtype, a, b", [
    ("float32", 0, math.inf), ("float32", math.nan, 1), ("float32", -3e38, 3e38), ("float32", 0, 1e39),
    ("float16", 0, 1e5), ("float16", -4e4, 4e4), ("float16", 2, math.nan), ("float64", -math.inf, 0),
    ("float64", -1e308, 1e308), ("complex64", 0, math.inf), ("complex64", -3e38, 3e38),
    ("int64", 2, 1), ("int32", 0, math.inf), ("bool", 0, 1), ("float32", 2, 1),
])
def test_uniform_refuses_bounds_as_torch(dtype, a, b):
    theirs = _raised(lambda: torch.zeros(3, dtype=getattr(torch, dtype)).uniform_(a, b))
    ours = _raised(lambda: mg.zeros(3, dtype=getattr(mg, dtype)).uniform_(a, b))
    assert theirs is not None and isinstance(ours, type(theirs)), (ours, theirs)
    assert "uniform_" in str(ours)


@pytest.mark.parametrize("args", [(0, 2 ** 63), (2 ** 62, 2 ** 63), (-2 ** 64, 0)])
def test_random_bounds_beyond_int64_raise_as_torch(args):
    theirs = _raised(lambda: torch.zeros(3, dtype=torch.int64).random_(*args))
    ours = _raised(lambda: mg.zeros(3, dtype=mg.int64).random_(*args))
    assert theirs is not None and isinstance(ours, type(theirs)), (ours, theirs)


@pytest.mark.parametrize("dtype, rates", [("int64", [1, 2]), ("bool", [True]), ("complex64", [1.0]),
                                          ("float32", [-1.0, 2.0]), ("float32", [math.nan, 2.0])])
def test_poisson_errors_as_torch(dtype, rates):
    theirs = _raised(lambda: torch.poisson(torch.tensor(rates, dtype=getattr(torch, dtype))))
    ours = _raised(lambda: mg.poisson(mg.tensor(rates, dtype=getattr(mg, dtype))))
    assert theirs is not None and isinstance(ours, type(theirs)), (ours, theirs)


@pytest.mark.parametrize("rates", [[math.inf, 2.0], [1e30]])
def test_poisson_refuses_rates_beyond_int64_counts(rates):
    # PyTorch returns the least int64 (-9.2e18) there; NumPy leaked "lam value too large"
    with pytest.raises(RuntimeError, match="poisson"):
        mg.poisson(mg.tensor(rates))


def test_poisson_of_rates_that_require_grad_has_a_zero_gradient_as_torch():
    results = []
    for lib in (torch, mg):
        rates = lib.tensor([1.0, 2.0], requires_grad=True)
        counts = lib.poisson(rates)
        counts.sum().backward()
        results.append((counts.requires_grad, rates.grad.tolist()))
    assert results[0] == results[1] == (True, [0.0, 0.0])


@pytest.mark.parametrize("case", ["dtypes", "shapes", "grad"])
def test_binomial_errors_as_torch(case):
    def call(lib):
        count = lib.tensor([3.0, 4.0], dtype=lib.float64 if case == "dtypes" else lib.float32,
                           requires_grad=case == "grad")
        prob = lib.tensor([0.5, 0.2, 0.1] if case == "shapes" else [0.5, 0.2])
        out = lib.binomial(count, prob)
        out.sum().backward()
    theirs, ours = _raised(lambda: call(torch)), _raised(lambda: call(mg))
    assert theirs is not None and isinstance(ours, type(theirs)), (ours, theirs)
    assert "binomial" in str(ours)


@pytest.mark.parametrize("count", [math.inf, 1e30])
def test_binomial_refuses_counts_beyond_int64(count):
    # NumPy leaked "n < 0" (the count wrapped in the int64 cast)
    with pytest.raises(RuntimeError, match="binomial"):
        mg.binomial(mg.tensor([count]), mg.tensor([0.5]))


@pytest.mark.parametrize("count_dtype, prob_dtype", [("int64", "float32"), ("float32", "int64")])
def test_binomial_integer_dtypes_raise_as_torch(count_dtype, prob_dtype):
    def call(lib):
        lib.binomial(lib.tensor([3], dtype=getattr(lib, count_dtype)), lib.tensor([1], dtype=getattr(lib, prob_dtype)))
    theirs, ours = _raised(lambda: call(torch)), _raised(lambda: call(mg))
    assert theirs is not None and isinstance(ours, type(theirs)), (ours, theirs)


def test_standard_gamma_of_nonpositive_or_nan_concentration_is_tiny_as_torch():
    # NumPy leaked "shape < 0" for a negative concentration and gave NaN for a NaN one
    from minigrad.ops.gamma import standard_gamma
    values = [-1.0, 0.0, math.nan, math.inf]
    theirs = torch._standard_gamma(torch.tensor(values)).tolist()
    assert standard_gamma(mg.tensor(values)).tolist() == theirs
    assert isinstance(_raised(lambda: standard_gamma(mg.tensor([1, 2]))),
                      type(_raised(lambda: torch._standard_gamma(torch.tensor([1, 2])))))
