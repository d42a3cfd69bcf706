"""Ops that order values refuse complex tensors, as PyTorch's do (NumPy orders complex numbers lexicographically,
real part first, which gave a silent wrong answer: ``mg.tensor([1+2j, -1+0j]) > 0`` was ``[True, False]``).

Each case runs on torch and on minigrad with the same complex128 input (with and without requires_grad): where
torch raises, minigrad raises an instance of torch's class (RuntimeError or NotImplementedError) whose message
names complex; where torch computes (eq, ne, sgn, abs, isclose …), minigrad computes the same values.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

VALUES = np.array([1 + 2j, -1 + 0j, 0.5 - 0.5j, 2 + 0j])


def _F(lib):  # noqa: N802 - PyTorch's spelling
    return torch.nn.functional if lib is torch else nn.functional


CASES = {
    # comparisons: operators, functions, aliases, reflected, in-place, a real tensor against a complex operand
    "gt": lambda L, x: x > 0, "le": lambda L, x: x <= x, "reflected": lambda L, x: 0 < x,
    "lt_fn": lambda L, x: L.lt(x, x), "ge_fn": lambda L, x: L.ge(x, 0), "greater": lambda L, x: L.greater(x, 1),
    "less_equal": lambda L, x: L.less_equal(x, x), "gt_": lambda L, x: x.detach().clone().gt_(0),
    "real_lt_complex": lambda L, x: x.real < x, "real_lt_pycomplex": lambda L, x: x.real < 1j,
    # clamp and its spellings, relu (a clamp in PyTorch), with a complex bound on a real tensor
    "clamp": lambda L, x: L.clamp(x, 0, 1), "clamp_max": lambda L, x: x.clamp(max=1), "clip": lambda L, x: L.clip(x, 0),
    "clamp_min_fn": lambda L, x: L.clamp_min(x, 0), "clamp_tensors": lambda L, x: L.clamp(x, x, x),
    "clamp_": lambda L, x: x.detach().clone().clamp_(0, 1),
    "real_clamp_complex_bound": lambda L, x: L.clamp(x.real, x),
    "relu": lambda L, x: L.relu(x), "F.relu": lambda L, x: _F(L).relu(x),
    "relu_": lambda L, x: x.detach().clone().relu_(),
    # elementwise and reduced extremes
    "maximum": lambda L, x: L.maximum(x, x), "minimum": lambda L, x: L.minimum(x.real, x),
    "fmax": lambda L, x: L.fmax(x, x),
    "fmin": lambda L, x: L.fmin(x, x), "max_binary": lambda L, x: L.max(x, x), "max": lambda L, x: x.max(),
    "min": lambda L, x: L.min(x), "max_dim": lambda L, x: x.max(0), "min_dim": lambda L, x: L.min(x, dim=0),
    "amax": lambda L, x: L.amax(x), "amin": lambda L, x: L.amin(x, 0), "aminmax": lambda L, x: L.aminmax(x),
    "argmax": lambda L, x: L.argmax(x), "argmin": lambda L, x: x.argmin(0), "argmax_0d": lambda L, x: x[0].argmax(),
    # sorting and order statistics
    "sort": lambda L, x: L.sort(x), "sort_0d": lambda L, x: x[0].sort(), "argsort": lambda L, x: L.argsort(x),
    "msort": lambda L, x: L.msort(x), "topk": lambda L, x: L.topk(x, 2), "kthvalue": lambda L, x: L.kthvalue(x, 2),
    "median": lambda L, x: L.median(x), "median_dim": lambda L, x: L.median(x, 0),
    "nanmedian": lambda L, x: L.nanmedian(x),
    "mode": lambda L, x: L.mode(x), "cummax": lambda L, x: L.cummax(x, 0), "cummin": lambda L, x: x.cummin(0),
    "searchsorted": lambda L, x: L.searchsorted(x, x), "bucketize": lambda L, x: L.bucketize(x, x),
    "histc": lambda L, x: L.histc(x), "unique": lambda L, x: L.unique(x),
    "unique_consecutive": lambda L, x: L.unique_consecutive(x), "isin": lambda L, x: L.isin(x, x),
    # step functions and rounding divisions
    "heaviside": lambda L, x: L.heaviside(x, x), "sign": lambda L, x: L.sign(x), "round": lambda L, x: L.round(x),
    "round_decimals": lambda L, x: L.round(x, decimals=1), "floor": lambda L, x: L.floor(x),
    "trunc": lambda L, x: x.trunc(), "frac": lambda L, x: L.frac(x), "remainder": lambda L, x: L.remainder(x, 2),
    "mod_operator": lambda L, x: x % 2, "fmod": lambda L, x: L.fmod(x, 2), "floor_divide": lambda L, x: x // 2,
    "div_floor": lambda L, x: L.div(x, 2, rounding_mode="floor"),
    "div_trunc": lambda L, x: L.div(x, 2, rounding_mode="trunc"),
    "hardtanh": lambda L, x: _F(L).hardtanh(x),
    # complex values PyTorch does take: they must keep working
    "eq": lambda L, x: x == x[0], "ne_fn": lambda L, x: L.ne(x, 1 + 2j), "sgn": lambda L, x: L.sgn(x),
    "abs": lambda L, x: L.abs(x), "isclose": lambda L, x: L.isclose(x, x), "where": lambda L, x: L.where(x == 0, x, -x),
}


def _run(lib, fn, requires_grad):
    x = lib.tensor(VALUES.copy(), requires_grad=requires_grad)
    try:
        return fn(lib, x), None
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return None, error


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", list(CASES))
def test_complex_ordering_as_torch(name, requires_grad):
    fn = CASES[name]
    expected, torch_error = _run(torch, fn, requires_grad)
    got, error = _run(mg, fn, requires_grad)
    if torch_error is not None:
        assert error is not None, f"{name}: torch raises {type(torch_error).__name__}, minigrad computed {got}"
        assert isinstance(error, type(torch_error)), (name, type(torch_error), type(error), error)
        assert "complex" in str(error).lower(), error
        return
    assert error is None, f"{name}: torch computes, minigrad raised {error!r}"
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_ordering_errors_name_op_and_dtype():
    x = mg.tensor(VALUES)
    for call, words in ((lambda: x > 0, ("gt", "complex128")), (lambda: x.clamp(0, 1), ("clip", "complex128")),
                        (lambda: x.sort(), ("sort", "complex128")), (lambda: mg.maximum(x, x), ("maximum", "complex")),
                        (lambda: x.max(), ("max", "complex128")), (lambda: x.round(), ("round", "complex128"))):
        with pytest.raises(TypeError) as info:   # TypeError too, as other dtype refusals here
            call()
        assert all(word in str(info.value) for word in words), info.value
    # real tensors are untouched, and ordering the magnitudes works
    y = mg.tensor([3.0, -1.0, 2.0])
    assert (y > 0).tolist() == [True, False, True] and y.clamp(0, 2).tolist() == [2.0, 0.0, 2.0]
    assert x.abs().argsort().tolist() == torch.tensor(VALUES).abs().argsort().tolist()
