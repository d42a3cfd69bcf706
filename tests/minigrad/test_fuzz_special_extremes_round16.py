"""Elementwise and special functions at the extremes of their range (±0, subnormals, the largest floats, poles,
the far tails), against PyTorch; where PyTorch's own value is off (1 + erf(x) cancelling, a gradient formula
cancelling near 0), against mpmath at the float input, 50 digits. One test per root cause a differential fuzzer
found:

- 2π·x (or π·x, 2x) overflowing inside √(2πx) of an asymptotic expansion at the largest floats: i0/i1 NaN
  (not ±inf), i0e/i1e/scaled K0/K1 0 (not 3e-155);
- x/2 underflowing at a subnormal x: ln(x/2) of Y0/Y1's series -inf (Y0 -inf, Y1 NaN), i1(x)/x of the i1/i1e
  gradient 0 or 1 (not ½);
- gelu's ½(1 + erf(x/√2)) and ½(1 + tanh(u)) cancelling for x < 0 (float32 1e-5 off at -2.5; 0 far left);
- sinc's gradient (t cos t - sin t)/t² cancelling near 0 (float32 3x off at 1e-4, 0 at 2e-5).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

LARGEST = {"float64": float(np.finfo(np.float64).max), "float32": float(np.finfo(np.float32).max)}
SMALLEST = {"float64": 5e-324, "float32": 1.401298464324817e-45}


def _run(lib: Any, fn: Callable[[Any, Any], Any], values: list, dtype: str, grad: bool = False) -> np.ndarray:
    """fn(lib, x) at ``values`` (its gradient of the sum when ``grad``) as a NumPy array."""
    x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=grad)
    y = fn(lib, x)
    if not grad:
        return y.detach().numpy()
    y.sum().backward()
    return x.grad.detach().numpy() if hasattr(x.grad, "detach") else x.grad.numpy()


def _close(got: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    rtol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=0)


# --- √(2πx) overflowing at the largest floats ---------------------------------------------------------------

LARGE_X = {
    "i0": lambda lib, x: lib.special.i0(x),
    "i1": lambda lib, x: lib.special.i1(x),
    "i0e": lambda lib, x: lib.special.i0e(x),
    "i1e": lambda lib, x: lib.special.i1e(x),
    "modified_bessel_i0": lambda lib, x: lib.special.modified_bessel_i0(x),
    "modified_bessel_i1": lambda lib, x: lib.special.modified_bessel_i1(x),
    "scaled_modified_bessel_k0": lambda lib, x: lib.special.scaled_modified_bessel_k0(x),
    "scaled_modified_bessel_k1": lambda lib, x: lib.special.scaled_modified_bessel_k1(x),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LARGE_X))
def test_bessel_functions_at_the_largest_floats(name: str, dtype: str, torch: Any) -> None:
    values = [LARGEST[dtype], -LARGEST[dtype], 1e30]
    if name.startswith("scaled"):
        values = values[::2]   # NaN below 0
    expected = _run(torch, LARGE_X[name], values, dtype)
    _close(_run(mg, LARGE_X[name], values, dtype), expected, dtype)


@pytest.mark.parametrize(("name", "dtype"), [("i0", "float64"), ("i0", "float32"), ("i0e", "float64")])
def test_bessel_gradients_at_the_largest_floats(name: str, dtype: str, torch: Any) -> None:
    # (float32's i0e' there is -3e-59, -0.0: PyTorch's 1.6e-27 has the wrong sign)
    values = [LARGEST[dtype], -LARGEST[dtype]]
    expected = _run(torch, LARGE_X[name], values, dtype, grad=True)
    _close(_run(mg, LARGE_X[name], values, dtype, grad=True), expected, dtype)


# --- x/2 underflowing at a subnormal x ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bessel_y0", "bessel_y1"])
def test_bessel_y_at_a_subnormal(name: str, torch: Any) -> None:
    fn = lambda lib, x: getattr(lib.special, name)(x)  # noqa: E731
    values = [5e-324, 1e-320, 1e-300]
    _close(_run(mg, fn, values, "float64"), _run(torch, fn, values, "float64"), "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["i1", "i1e"])
def test_i1_gradient_at_a_subnormal(name: str, dtype: str, torch: Any) -> None:
    values = [SMALLEST[dtype], -SMALLEST[dtype], 3 * SMALLEST[dtype], 1e-30, 0.0]
    expected = _run(torch, LARGE_X[name], values, dtype, grad=True)
    _close(_run(mg, LARGE_X[name], values, dtype, grad=True), expected, dtype)


# --- gelu's 1 + erf / 1 + tanh cancelling for x < 0 ------------------------------------------------------------

def _gelu_reference(mpmath: Any, approximate: str, x: float, grad: bool) -> float:
    def gelu(v: Any) -> Any:
        if approximate == "none":
            return v * mpmath.ncdf(v)
        inner = mpmath.sqrt(2 / mpmath.pi) * (v + mpmath.mpf("0.044715") * v ** 3)
        return v / (1 + mpmath.exp(-2 * inner))   # v/2 (1 + tanh(inner)), which 80 digits cannot resolve at -20
    with mpmath.workdps(80):
        return float(mpmath.diff(gelu, mpmath.mpf(x)) if grad else gelu(mpmath.mpf(x)))


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gelu_in_the_left_tail(dtype: str, approximate: str, grad: bool, torch: Any) -> None:
    mpmath = pytest.importorskip("mpmath", reason="mpmath (PyTorch's dependency) gives the reference")
    values = [-2.5, -3.0, -4.0, -6.0, -10.0, -20.0, 1.0, 3.0]
    if dtype == "float32":
        values = values[:-3] + values[-2:]   # float32's gelu(-20) underflows
    fn = lambda lib, x: (F if lib is mg else lib.nn.functional).gelu(x, approximate=approximate)  # noqa: E731
    got = _run(mg, fn, values, dtype, grad)
    points = np.asarray(values, dtype=dtype).astype(np.float64)
    expected = np.array([_gelu_reference(mpmath, approximate, float(v), grad) for v in points])
    np.testing.assert_allclose(got, expected, rtol=1e-13 if dtype == "float64" else 2e-6, atol=0)
    if approximate == "none" and dtype == "float32":   # where PyTorch's float32 is right, the same
        _close(got[:1], _run(torch, fn, values[:1], dtype, grad), dtype)


# --- sinc's gradient near 0 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sinc_gradient_near_zero(dtype: str, torch: Any) -> None:
    mpmath = pytest.importorskip("mpmath", reason="mpmath (PyTorch's dependency) gives the reference")
    values = [2e-5, -1e-4, 1e-3, 0.01, -0.1, 0.3, 0.32, 1.5, 1e-30]
    got = _run(mg, lambda lib, x: lib.sinc(x), values, dtype, grad=True)
    with mpmath.workdps(50):
        expected = [float(mpmath.diff(lambda v: mpmath.sinc(mpmath.pi * v), mpmath.mpf(float(v))))
                    for v in np.asarray(values, dtype=dtype)]
    np.testing.assert_allclose(got, expected, rtol=1e-14 if dtype == "float64" else 1e-6, atol=0)
    zero = [0.0, -0.0]   # at 0 PyTorch's: 0
    _close(_run(mg, lambda lib, x: lib.sinc(x), zero, dtype, True),
           _run(torch, lambda lib, x: lib.sinc(x), zero, dtype, True), dtype)


# --- ndtri's float32 gradient from its rounded result ---------------------------------------------------------

def test_ndtri_float32_gradient_in_the_tails(torch: Any) -> None:
    """√(2π) exp(y²/2) from float32's rounded y = ndtri(p) was 5e-6 off in the tails (PyTorch's: 3e-6 to 9e-6);
    from y in float64, the gradient is float32's rounding of the exact one."""
    mpmath = pytest.importorskip("mpmath", reason="mpmath (PyTorch's dependency) gives the reference")
    values = [2.6865942e-23, 3.0712176e-18, 6.3354474e-21, 1e-12, 1e-3, 0.9, 1 - 2 ** -24]
    got = _run(mg, lambda lib, x: lib.special.ndtri(x), values, "float32", grad=True)
    with mpmath.workdps(80):
        expected = [float(mpmath.sqrt(2 * mpmath.pi) * mpmath.exp(mpmath.erfinv(2 * mpmath.mpf(float(p)) - 1) ** 2))
                    for p in np.asarray(values, dtype=np.float32)]
    np.testing.assert_allclose(got, expected, rtol=2e-7, atol=0)
    wide = _run(mg, lambda lib, x: lib.special.ndtri(x), values, "float64", grad=True)   # float64 as before
    _close(wide, _run(torch, lambda lib, x: lib.special.ndtri(x), values, "float64", grad=True), "float64")
