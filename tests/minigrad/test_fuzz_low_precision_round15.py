"""Round 15: float16 (and bfloat16) fuzzed against PyTorch 2.13's CPU kernels.

PyTorch computes float16 ops in float32 (its ``opmath`` type) and rounds the result once; NumPy's float16 loops
round a Python number operand to float16 first and round a sum at every row. Each test compares the exact bits of
float16 results with live torch on seeded random inputs.
"""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _half(shape, scale=3.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float16)


def _same(ours, theirs):
    """The same dtype and bits (NaN matches NaN)."""
    expected = theirs.detach().numpy()
    got = ours.detach().numpy()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


NUMBER_OPS = {
    "mul": lambda x, s: x * s,
    "rmul": lambda x, s: s * x,
    "div": lambda x, s: x / s,
    "rdiv": lambda x, s: s / x,
    "floordiv": lambda x, s: x // s,
    "div_trunc": lambda x, s: x.div(s, rounding_mode="trunc"),
    "pow": lambda x, s: x ** s,
}


@pytest.mark.parametrize("number", [0.1, 0.3, -2.3, 1e-4, 3, -0.5, 0.5, 1.7])
@pytest.mark.parametrize("op", sorted(NUMBER_OPS))
def test_float16_with_a_python_number_is_computed_in_float32(op, number):
    x = _half((400,), 30.0)
    x[:4] = [np.inf, -np.inf, 0.0, -0.0]
    f = NUMBER_OPS[op]
    with np.errstate(all="ignore"):
        _same(f(mg.tensor(x), number), f(torch.tensor(x), number))


def test_float16_pow_exponent_out_of_float16_range_raises_as_torch():
    with pytest.raises(RuntimeError):
        torch.tensor(_half((3,))) ** 1e5
    with pytest.raises(RuntimeError, match="float16"):
        mg.tensor(_half((3,))) ** 1e5


@pytest.mark.parametrize("dim", [0, 1, None, (0, 1)])
@pytest.mark.parametrize("name", ["sum", "nansum", "nanmean"])
def test_float16_sums_round_once(name, dim):
    x = _half((64, 5), 10.0, seed=1)
    x[3, 2] = np.nan if name != "sum" else x[3, 2]
    kwargs = {} if dim is None else {"dim": dim}
    _same(getattr(mg, name)(mg.tensor(x), **kwargs), getattr(torch, name)(torch.tensor(x), **kwargs))
