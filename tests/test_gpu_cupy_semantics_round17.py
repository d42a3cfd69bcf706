"""GPU-only value bugs the device sweep found on a real H200 (round 17), where CuPy's answer differs from NumPy's:
each test computes the same thing on the CPU and on the GPU (the strict CuPy stand-in here, which now gives
CuPy's answers for these, or a real GPU) and wants the CPU's result, bit for bit (the sign of a zero included),
which is PyTorch's."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg

pytestmark = pytest.mark.gpu


def _host(t: mg.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _same_bits(a: mg.Tensor, b: mg.Tensor) -> None:
    """Equal values, NaN positions and signs of zeros (both parts of a complex)."""
    x, y = _host(a), _host(b)
    assert x.dtype == y.dtype and x.shape == y.shape
    np.testing.assert_array_equal(x, y)
    for part in (np.real, np.imag):   # (the sign bit of a NaN means nothing: CUDA's and x86's differ)
        signs = [np.signbit(part(v)) & ~np.isnan(part(v)) for v in (x, y)]
        np.testing.assert_array_equal(*signs)


def _both(compute: object) -> None:
    _same_bits(compute("cpu"), compute("cuda"))


# --- 1. a signed zero kept on the device (CuPy fills a host zero with memset(0)) --------------------------------

def _set(t: mg.Tensor, index: object, value: object) -> mg.Tensor:
    t[index] = value
    return t


@pytest.mark.parametrize("name", ["to", "fill_", "fill_complex", "masked_fill", "index_fill", "setitem_slice",
                                  "setitem_int", "setitem_index", "setitem_mask", "copysign", "scatter_add_value",
                                  "full", "full_complex", "full_like", "new_full", "scatter_value"])
def test_negative_zero_kept_on_the_device(name: str) -> None:
    cases = {
        "to": lambda d: mg.tensor(-0.0).to(d),   # a 0-d leaf moved to the GPU
        "fill_": lambda d: mg.ones(3, device=d).fill_(-0.0),
        "fill_complex": lambda d: mg.ones(3, dtype=mg.complex64, device=d).fill_(complex(-0.0, -0.0)),
        "masked_fill": lambda d: mg.ones(3, device=d).masked_fill(mg.tensor([True, False, True], device=d), -0.0),
        "index_fill": lambda d: mg.ones(3, device=d).index_fill(0, mg.tensor([0, 2], device=d), -0.0),
        "setitem_slice": lambda d: _set(mg.ones(3, device=d), slice(0, 2), -0.0),
        "setitem_int": lambda d: _set(mg.ones(3, device=d), 1, -0.0),
        "setitem_index": lambda d: _set(mg.ones(3, device=d), mg.tensor([0, 2], device=d), -0.0),
        "setitem_mask": lambda d: _set(mg.ones(3, device=d), mg.tensor([True, False, True], device=d), -0.0),
        "copysign": lambda d: mg.copysign(mg.tensor([1.0, 2.0], device=d), -0.0),
        "scatter_add_value": lambda d: mg.zeros(3, device=d).scatter(0, mg.tensor([0, 2], device=d), -0.0,
                                                                     reduce="add"),
        "full": lambda d: mg.full((2, 2), -0.0, device=d),
        "full_complex": lambda d: mg.full((2,), complex(0.0, -0.0), device=d),
        "full_like": lambda d: mg.full_like(mg.ones(3, device=d), -0.0),
        "new_full": lambda d: mg.ones(3, device=d).new_full((2,), -0.0),
        "scatter_value": lambda d: mg.ones(3, device=d).scatter(0, mg.tensor([0, 2], device=d), -0.0),
    }
    _both(cases[name])


def test_negative_zero_leaf_divides_to_minus_inf(torch: object) -> None:
    """The sweep's case: a 0-d -0.0 leaf on the GPU divided into a number (+inf there before), and its gradient."""
    for device in ("cpu", "cuda"):
        x = mg.tensor(-0.0, dtype=mg.float64).to(device).requires_grad_()
        y = mg.tensor([1.5, -2.0], dtype=mg.float64, device=device) / x
        y.sum().backward()
        assert _host(y).tolist() == torch.tensor([1.5, -2.0], dtype=torch.float64).div(-0.0).tolist()
        assert math.isnan(x.grad.item()) or x.grad.item() == -math.inf or x.grad.item() == math.inf
        assert np.signbit(_host(y)[0])


# --- 2. floor division and remainder gradients (CuPy's float floor_divide is floor(x / y)) ------------------------

_NUMERATORS = [-0.39, 0.39, -math.inf, math.inf, 7.0, -7.0, 0.0, -0.0, math.nan, 5.0]
_DENOMINATORS = [math.inf, math.inf, -0.096, 0.096, 0.1, 0.0, -0.0, 3.0, 2.0, -math.inf]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_floor_division_as_numpy_and_torch(dtype: str, torch: object) -> None:
    def compute(device: str, fn: object) -> mg.Tensor:
        a = mg.tensor(_NUMERATORS, dtype=dtype, device=device)
        b = mg.tensor(_DENOMINATORS, dtype=dtype, device=device)
        return fn(a, b)

    for fn in (lambda a, b: a // b, lambda a, b: mg.div(a, b, rounding_mode="floor"),
               lambda a, b: mg.floor_divide(a, 2.5)):
        host, device = compute("cpu", fn), compute("cuda", fn)
        _same_bits(host, device)
    expected = torch.tensor(_NUMERATORS, dtype=getattr(torch, dtype)).div(
        torch.tensor(_DENOMINATORS, dtype=getattr(torch, dtype)), rounding_mode="floor")
    np.testing.assert_array_equal(_host(compute("cuda", lambda a, b: a // b)), expected.numpy())


def test_remainder_gradient_uses_the_floor_quotient(torch: object) -> None:
    """d(a % b)/db = -(a // b): -inf // -0.096 is NaN (CuPy's floor(-inf / -0.096) gave inf)."""
    def grads(device: str) -> tuple:
        a = mg.tensor([-math.inf, -0.39, 7.0], dtype=mg.float64, device=device, requires_grad=True)
        b = mg.tensor([-0.096, math.inf, 0.1], dtype=mg.float64, device=device, requires_grad=True)
        mg.remainder(a, b).sum().backward()
        return a.grad, b.grad

    (ga, gb), (ga2, gb2) = grads("cpu"), grads("cuda")
    _same_bits(ga, ga2)
    _same_bits(gb, gb2)
    ta = torch.tensor([-math.inf, -0.39, 7.0], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor([-0.096, math.inf, 0.1], dtype=torch.float64, requires_grad=True)
    torch.remainder(ta, tb).sum().backward()
    np.testing.assert_array_equal(_host(gb2), tb.grad.numpy())


# --- 3. logical ops of complex tensors (CuPy's logical ufuncs have no complex loops) ------------------------------

@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor", "logical_not", "any", "all"])
def test_logical_ops_of_complex_tensors(name: str, torch: object) -> None:
    values = [0j, complex(0.0, -1.0), complex(2.0, 0.0), complex(-0.0, -0.0)]
    other = [1 + 1j, 0j, complex(0.0, 3.0), 0j]

    def compute(device: str) -> mg.Tensor:
        a = mg.tensor(values, dtype=mg.complex64, device=device)
        b = mg.tensor(other, dtype=mg.complex64, device=device)
        if name in ("any", "all"):
            return getattr(mg, name)(a)
        return getattr(mg, name)(a) if name == "logical_not" else getattr(mg, name)(a, b)

    _both(compute)
    t = torch.tensor(values, dtype=torch.complex64)
    expected = getattr(torch, name)(t) if name in ("any", "all", "logical_not") else getattr(torch, name)(
        t, torch.tensor(other, dtype=torch.complex64))
    np.testing.assert_array_equal(_host(compute("cuda")), expected.numpy())


# --- 5. NaN and signed zeros in order statistics (CuPy's 1-D radix sort, its argmax's NaN pick) -------------------

_NEG_NAN = float(np.copysign(np.nan, -1.0))   # CUDA's NaN (from log(-1)) has its sign bit set: a radix sort's first


@pytest.mark.parametrize("name", ["nanmedian", "median", "kthvalue", "quantile", "nanquantile", "sort", "argsort",
                                  "max_dim", "min_dim", "argmax", "argmin", "sort_zeros", "mode"])
def test_order_statistics_with_nan_on_the_device(name: str, torch: object) -> None:
    line = [0.5, _NEG_NAN, -1.0, 0.25, _NEG_NAN, 2.0]
    rows = [[0.3, _NEG_NAN, _NEG_NAN], [1.0, 2.0, 0.5]]
    cases = {
        "nanmedian": (line, lambda t: t.nanmedian()),
        "median": (line, lambda t: t.median(dim=0)),
        "kthvalue": (line, lambda t: t.kthvalue(2)),
        "quantile": (line, lambda t: t.quantile(0.5)),
        "nanquantile": (line, lambda t: t.nanquantile(0.3)),
        "sort": (line, lambda t: t.sort()),
        "argsort": (line, lambda t: t.argsort(descending=True)),
        "max_dim": (rows, lambda t: t.max(dim=1)),
        "min_dim": (rows, lambda t: t.min(dim=-1)),
        "argmax": (rows, lambda t: t.argmax()),
        "argmin": (rows, lambda t: t.argmin(dim=1)),
        "sort_zeros": ([0.0, -0.0, 1.0, -0.0, 0.0], lambda t: t.sort(stable=True)),
        "mode": ([0.0, -0.0, 1.0, -0.0, 0.0], lambda t: t.mode()),
    }
    values, fn = cases[name]

    def outputs(result: object) -> list:
        return list(result) if isinstance(result, tuple) else [result]

    host = outputs(fn(mg.tensor(values, dtype=mg.float64)))
    device = outputs(fn(mg.tensor(values, dtype=mg.float64, device="cuda")))
    for a, b in zip(host, device, strict=True):
        _same_bits(a, b)
    expected = outputs(fn(torch.tensor(values, dtype=torch.float64)))
    for a, b in zip(device, expected, strict=True):
        np.testing.assert_array_equal(_host(a), b.numpy())


# --- 4. complex division by zero and by infinities (CuPy's scaled division gives NaN + NaNj) ---------------------

@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_division_as_numpy_and_torch(dtype: str, torch: object) -> None:
    inf = math.inf
    a = [1 + 1j, 1 + 1j, -2 + 0.5j, 3 + 4j, 0j, 1 + 0j, 1 + 2j, complex(inf, 0.0)]
    b = [0j, complex(inf, 0.0), complex(0.0, -0.0), 1 + 2j, 0j, complex(inf, inf), -2 + 0.5j, 2 + 0j]

    def compute(device: str) -> list:
        x = mg.tensor(a, dtype=getattr(mg, dtype), device=device)
        ints = mg.tensor([0, 0, 1, 2, 0, 0, 1, 0], device=device)
        return [x / mg.tensor(b, dtype=getattr(mg, dtype), device=device), x / 0, x / ints]

    expected = [torch.tensor(a, dtype=getattr(torch, dtype)) / torch.tensor(b, dtype=getattr(torch, dtype))]
    for host, device in zip(compute("cpu"), compute("cuda"), strict=True):
        np.testing.assert_allclose(_host(device), _host(host), rtol=1e-6)   # (the finite ones to an ulp or so)
        for part in (np.real, np.imag):
            np.testing.assert_array_equal(np.isnan(part(_host(device))), np.isnan(part(_host(host))))
    np.testing.assert_allclose(_host(compute("cuda")[0]), expected[0].numpy(), rtol=1e-6)


# --- 6. ties of signed zeros in maximum/minimum/clamp/relu/fmax/fmin (CUDA's max gives +0.0 whatever the order) ---

@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin", "clamp_min", "clamp_max", "clamp_tensor",
                                  "relu", "rsqrt_of_maximum"])
def test_signed_zero_ties(name: str, torch: object) -> None:
    v = [-0.0, 0.0, -0.0, 0.0, 1.0, -1.0]
    w = [0.0, -0.0, -0.0, 0.0, -0.0, 0.0]
    cases = {
        "maximum": lambda lib, x, y: lib.maximum(x, y),
        "minimum": lambda lib, x, y: lib.minimum(x, y),
        "fmax": lambda lib, x, y: lib.fmax(x, y),
        "fmin": lambda lib, x, y: lib.fmin(x, y),
        "clamp_min": lambda lib, x, y: lib.clamp(x, min=0.0),
        "clamp_max": lambda lib, x, y: lib.clamp(x, max=-0.0),
        "clamp_tensor": lambda lib, x, y: lib.clamp(x, min=y),
        "relu": lambda lib, x, y: lib.relu(x),
        "rsqrt_of_maximum": lambda lib, x, y: lib.maximum(x, y) ** -0.5,   # the sweep's case: -inf, not inf
    }
    fn = cases[name]
    _both(lambda d: fn(mg, mg.tensor(v, device=d), mg.tensor(w, device=d)))
    expected = fn(torch, torch.tensor(v), torch.tensor(w)).numpy()
    got = _host(fn(mg, mg.tensor(v, device="cuda"), mg.tensor(w, device="cuda")))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
