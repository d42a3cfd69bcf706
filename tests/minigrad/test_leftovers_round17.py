"""Round 17 leftovers against torch: signed zeros of det/slogdet, complex edge values, float arange, grad_fn names.

Each test runs the same call on torch and on minigrad and compares values bit for bit where torch's are exact
(the sign of a zero included), dtypes and shapes."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def _same_bits(ours: Any, theirs: Any) -> None:
    """Equal values with NaNs in the same places and each zero of the same sign (real and imaginary parts)."""
    m, t = _np(ours), _np(theirs)
    assert m.shape == t.shape and str(m.dtype) == str(t.dtype)
    for a, b in ((m.real, t.real), (m.imag, t.imag)) if m.dtype.kind == "c" else ((m, t),):
        np.testing.assert_array_equal(a, b)
        numbers = ~np.isnan(b)
        assert np.array_equal(np.signbit(a[numbers]), np.signbit(b[numbers])), (m, t)


# --- 2. det/slogdet of an exactly singular matrix: the sign of the zero ----------------------------------------

_SINGULAR = [
    [[0.0, 3.0], [0.0, 3.0]],                        # PyTorch factors Aᵀ (A contiguous): one row swap, -0.0
    [[-2.0, -1.0], [-2.0, -1.0]],
    [[0.0, 1.0, 2.0], [0.0, 3.0, 4.0], [0.0, 5.0, 6.0]],
    [[1.0, -1.0, 2.0], [3.0, 2.0, 1.0], [0.0, 0.0, 0.0]],
    [[[0.0, -1.0], [0.0, -1.0]], [[0.0, -1.0], [1.0, 0.0]]],   # a batch: one singular element
]


@pytest.mark.parametrize("transposed", [False, True], ids=["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("a", _SINGULAR, ids=range(len(_SINGULAR)))
def test_singular_det_and_slogdet_sign_of_zero(a: list, dtype: str, transposed: bool) -> None:
    x = np.array(a, dtype=dtype)
    t, m = torch.tensor(x), mg.tensor(x)
    if transposed:
        t, m = t.mT, m.mT
    _same_bits(mg.linalg.det(m), torch.linalg.det(t))
    _same_bits(mg.linalg.slogdet(m).sign, torch.linalg.slogdet(t).sign)
    _same_bits(mg.linalg.slogdet(m).logabsdet, torch.linalg.slogdet(t).logabsdet)
    _same_bits(mg.logdet(m), torch.logdet(t))


def test_det_of_a_nan_matrix_warns_nothing() -> None:
    x = np.array([[1.0, np.nan], [np.nan, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = mg.linalg.det(mg.tensor(x))
    _same_bits(ours, torch.linalg.det(torch.tensor(x)))


# --- 3. pow(complex Tensor, Scalar): PyTorch's products, sqrt and reciprocals, not a general power -------------

_COMPLEX_EDGES = [0j, complex(-0.0, 0.0), complex(0.0, -0.0), -1j, complex(-0.0, 1.0), 1e-300j, -1e300j,
                  complex(np.inf, 0.0), complex(0.0, -np.inf), complex(np.nan, 1.0), 2 + 3j, complex(-0.5, 1e-300)]


@pytest.mark.parametrize("exponent", [2, 3, -1, -2, 0.5, -0.5, 2.0])
@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_complex_pow_by_special_exponents(exponent: float, dtype: str) -> None:
    with np.errstate(over="ignore"):   # ±1e300 in complex64: ±inf
        z = np.array(_COMPLEX_EDGES, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no NumPy warning leaks out either
        ours = mg.tensor(z) ** exponent
    _same_bits(ours, torch.tensor(z) ** exponent)


def test_complex_pow_gradient_through_special_exponents() -> None:
    z = np.array([2 + 3j, -1j, 0.5 - 0.25j])
    for exponent in (2, 3, -1, -2, 0.5, -0.5):
        t, m = torch.tensor(z, requires_grad=True), mg.tensor(z, requires_grad=True)
        (t ** exponent).abs().sum().backward()
        (m ** exponent).abs().sum().backward()
        np.testing.assert_allclose(_np(m.grad), _np(t.grad), rtol=1e-12)


# --- 4. float arange, filled as whole vectors at once: still PyTorch's bits -------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("count", [1, 7, 8, 16, 31, 32, 33, 1000, 32768])
def test_float_arange_bits_around_the_vector_boundaries(count: int, dtype: str) -> None:
    for start, step in ((0.0, 0.1), (-3.7, 0.013), (1.25, -0.3)):
        end = start + step * (count - 0.5)
        if dtype == "float16" and max(abs(start), abs(end)) > 60000:
            continue
        ours = mg.arange(start, end, step, dtype=getattr(mg, dtype))
        theirs = torch.arange(start, end, step, dtype=getattr(torch, dtype))   # one thread below 32768 elements
        assert ours.shape == theirs.shape
        assert _np(ours).tobytes() == _np(theirs).tobytes(), (start, step)


# --- 5. grad_fn.name(): PyTorch's node names where only the spelling differed -----------------------------------

_NAMED = {
    "contiguous": lambda L, x: x.T.contiguous(), "movedim": lambda L, x: x.movedim(0, 1),
    "log1p": lambda L, x: x.abs().log1p(), "median()": lambda L, x: x.median(), "nanmean": lambda L, x: x.nanmean(1),
    "linalg.inv": lambda L, x: L.linalg.inv(x), "inverse": lambda L, x: L.inverse(x),
    "linalg.cholesky": lambda L, x: L.linalg.cholesky(x), "linalg.solve": lambda L, x: L.linalg.solve(x, x[0]),
    "linalg.lu_factor": lambda L, x: L.linalg.lu_factor(x)[0], "linalg.svdvals": lambda L, x: L.linalg.svdvals(x),
    "linalg.eigvalsh": lambda L, x: L.linalg.eigvalsh(x),
    "fmod(x, y)": lambda L, x: L.fmod(x, x + 1), "fmod(x, 0-d)": lambda L, x: L.fmod(x, L.tensor(2.0, dtype=x.dtype)),
    "fmod(x, 2.0)": lambda L, x: L.fmod(x, 2.0), "remainder(x, y)": lambda L, x: L.remainder(x, x + 1),
    "remainder(x, 2)": lambda L, x: L.remainder(x, 2), "clamp(min=y)": lambda L, x: x.clamp(min=x.detach()),
    "clamp(x, y, y)": lambda L, x: x.clamp(x.detach() * 0, x.detach()), "clamp(0, 1)": lambda L, x: x.clamp(0.0, 1.0),
}


@pytest.mark.parametrize("case", list(_NAMED))
def test_grad_fn_name_is_pytorchs(case: str) -> None:
    a = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]])
    names = [_NAMED[case](lib, lib.tensor(a, requires_grad=True)).grad_fn.name() for lib in (torch, mg)]
    assert names[1] == names[0]


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_complex_sigmoid_edges(dtype: str) -> None:
    """PyTorch's 1 / (1 + exp(0 - z)), 1 / z a division (NumPy's reciprocal ufunc signs zeros otherwise)."""
    with np.errstate(over="ignore"):
        z = np.array(_COMPLEX_EDGES + [complex(-800.0, 1.0), complex(1.0, np.inf)], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = mg.tensor(z).sigmoid()
    _same_bits(ours, torch.tensor(z).sigmoid())
