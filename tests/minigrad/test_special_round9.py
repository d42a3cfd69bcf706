"""``mg.special``'s Bessel functions (ops/special_bessel.py) and orthogonal polynomials
(ops/special_polynomials.py) against PyTorch 2.13 and against mpmath values (written here), in float64 and
float32, with the special values, dtypes, broadcasting, the refused gradient and the GPU code path.

Tolerances: 1e-12 of max(|value|, envelope) against torch, where the envelope is √(2/π|x|) for J and Y
and |x|^-¼/√π for Ai left of 0 (their zeros); the polynomials 4e-15 · n of max(|value|, 1) (torch's own
rounding through n steps, or through acos and cos(nθ)). Where torch is less accurate than that (its J and
Y between 2 and 25 are off by up to 1e-6, its Ai between -5 and -2.09 by 6e-6), minigrad is held to the
mpmath values at 5e-16 of the scale and to torch at torch's own error. float32: within twice torch's own
float32 error from the float64 value, plus 8 float32 ulps of the scale (times n for the polynomials).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import device_tolerance

import minigrad as mg

UNARY = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
         "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
         "spherical_bessel_j0"]
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
               "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]

GRID = np.concatenate([np.linspace(-40, 40, 1601), np.geomspace(1e-8, 1e4, 300), -np.geomspace(1e-8, 1e4, 300),
                       [1e-300, 2.404825557695773, 5.520078110286311, 24.99, 25.01, 11.19, 11.21, -11.19, -11.21,
                        0.99, 1.01, 2.0, 2.09, -2.09, 103.8, 103.95, 700.0]])
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.5, 1e-300, 1e300, 800.0, -800.0, 103.9, 745.2])

# mpmath (40 digits) at points where torch's own values are off by more than 1e-12
JY_X = [0.3, 1.7, 2.404825557695773, 3.9, 5.5, 7.0155866698156, 8.6, 11.3, 14.9, 19.7, 24.6]
MPMATH = {
    "bessel_j0": (JY_X, [0.9776262465382961, 0.3979848594461095, -6.10876525973673e-17, -0.4018260148876399,
                         -0.006843869417819197, 0.30011575252613254, 0.01462299127874129, -0.11206845610980694,
                         0.006391544890852907, 0.17942725365878742, 0.03941826118596528]),
    "bessel_j1": (JY_X, [0.148318816273104, 0.5777652315290233, 0.5191474972894667, -0.02724403962077989,
                         -0.34143821542904335, -5.569429636826478e-15, 0.2727548445458806, -0.21425502620750228,
                         0.20687617180992504, 0.015100612097754802, -0.15517909465231547]),
    "bessel_y0": (JY_X, [-0.8072735778045195, 0.4520270001816346, 0.509924383448479, 0.023375908198718962,
                         -0.339480592881911, -0.02123445516171058, 0.27145771233803845, -0.20910342953845387,
                         0.2065464347069692, 0.010546147078362737, -0.15594781993821902]),
    "bessel_y1": (JY_X, [-2.2931051383885293, -0.2847262450640684, 0.1027466824382596, 0.4078200195265379,
                         -0.023758238956389618, -0.30236208914435025, 0.0010839918301903686, 0.1029421888862241,
                         0.0005282750764216976, -0.17921731818210296, -0.04259475110612444]),
    "airy_ai": ([-10.7, -8.2, -5.5, -4.3, -3.1, -2.338107410459767, -2.2, -0.7, 0.4, 1.5, 4.2, 9.6],
                [-0.2652336726734689, -0.2215994548036039, 0.017781541276574976, 0.16499780927277216,
                 -0.4043822223909783, 2.743319340666283e-17, 0.09614537800766888, 0.5110003975750101,
                 0.2547423542956763, 0.07174949700810541, 0.0006274958683091631, 3.9032335304151394e-10]),
    "modified_bessel_k0": ([0.05, 0.9, 1.3, 3.7, 9.5, 17.2, 24.0, 31.0],
                           [3.11423402947199, 0.4867303081629005, 0.27824764630002696, 0.01563065992162666,
                            3.0057884957934336e-05, 1.0170939273130743e-08, 9.608818780833116e-12,
                            7.718382655527615e-15]),
    "modified_bessel_k1": ([0.05, 0.9, 1.3, 3.7, 9.5, 17.2, 24.0, 31.0],
                           [19.909674325882506, 0.7165335787760191, 0.37254749563196216, 0.01762803510222326,
                            3.160203411042674e-05, 1.04625381798754e-08, 9.806998930441144e-12,
                            7.841899600834063e-15]),
}


def _envelope(name: str, x: np.ndarray) -> np.ndarray:
    """The scale errors are measured against (besides |value|): the amplitude of the oscillating ones."""
    with np.errstate(divide="ignore"):
        if name.startswith("bessel_"):
            return np.minimum(1.0, np.sqrt(2 / (np.pi * np.abs(x))))
        if name == "airy_ai":
            return np.where(x < 0, np.abs(x) ** -0.25 / math.sqrt(math.pi), 0.0)
        if name == "spherical_bessel_j0":
            return np.minimum(1.0, 1 / np.abs(x))
    return np.zeros_like(x)


def _torch_accurate(name: str, x: np.ndarray) -> np.ndarray:
    """Where torch's float64 values are good to 1e-12 (measured against mpmath)."""
    if name.startswith("bessel_"):
        return (np.abs(x) <= 2) | (np.abs(x) > 25)
    if name == "airy_ai":
        return (x < -5) | (x > -2.09)
    return np.ones(x.shape, bool)


def _ours(name: str, *arrays: Any) -> np.ndarray:
    return getattr(mg.special, name)(*[mg.tensor(a) for a in arrays]).numpy()


def _theirs(torch: Any, name: str, *arrays: Any) -> np.ndarray:
    return getattr(torch.special, name)(*[torch.from_numpy(np.asarray(a)) for a in arrays]).numpy()


def _same_non_finite(ours: np.ndarray, theirs: np.ndarray, where: str) -> None:
    for test in (np.isnan, np.isposinf, np.isneginf):
        assert (test(ours) == test(theirs)).all(), f"{where}: {test.__name__} differs at " \
            f"{np.argwhere(test(ours) != test(theirs))[:5].tolist()}"


@pytest.mark.parametrize("name", UNARY)
def test_bessel_float64_same_as_torch(name: str, torch: Any) -> None:
    ours, theirs = _ours(name, GRID), _theirs(torch, name, GRID)
    assert ours.dtype == np.float64
    _same_non_finite(ours, theirs, name)
    finite = np.isfinite(theirs)
    scale = np.where(finite, np.maximum(np.abs(theirs), _envelope(name, GRID)), 1.0)
    error = np.abs(np.where(finite, ours, 0) - np.where(finite, theirs, 0))
    tight = _torch_accurate(name, GRID)
    assert (error[tight] <= 1e-12 * scale[tight]).all(), GRID[tight][np.argmax(error[tight] / scale[tight])]
    assert (error <= 1e-5 * np.maximum(scale, 1e-300)).all()   # where torch's own error is up to 6e-6


@pytest.mark.parametrize("name", sorted(MPMATH))
def test_bessel_against_mpmath(name: str) -> None:
    x, expected = (np.array(v) for v in MPMATH[name])
    scale = np.maximum(np.abs(expected), _envelope(name, x))
    # K and Ai right of 1 (the trapezoidal rule, e^-x): 3e-15 relative
    tolerance = np.where((x > 1) & (name != "bessel_j0") & ~name.startswith("bessel"), 3e-15, 5e-16)
    np.testing.assert_array_less(np.abs(_ours(name, x) - expected), tolerance * scale)
    if name.startswith("modified_bessel_k"):
        scaled = _ours("scaled_" + name, x)
        np.testing.assert_allclose(scaled, expected * np.exp(x), rtol=3e-15)


@pytest.mark.parametrize("name", UNARY)
def test_bessel_special_values_as_torch(name: str, torch: Any) -> None:
    ours, theirs = _ours(name, SPECIAL), _theirs(torch, name, SPECIAL)
    _same_non_finite(ours, theirs, name)
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name", UNARY)
def test_bessel_float32(name: str, torch: Any) -> None:
    x = GRID.astype(np.float32)
    ours, theirs = _ours(name, x), _theirs(torch, name, x)
    assert ours.dtype == np.float32
    _same_non_finite(ours, theirs, name)
    reference = _ours(name, x.astype(np.float64))
    finite = np.isfinite(theirs) & np.isfinite(reference) & (np.abs(reference) < 3e38)
    scale = np.maximum(np.abs(reference), _envelope(name, x.astype(np.float64)))
    bound = 2 * np.abs(theirs - reference) + 8 * np.finfo(np.float32).eps * scale
    error = np.abs(ours.astype(np.float64) - theirs)
    assert (error[finite] <= bound[finite] + 1e-40).all(), x[finite][np.argmax(error[finite] / bound[finite])]


# --- the polynomials -----------------------------------------------------------------------------------------

POLY_X = np.concatenate([np.linspace(-3, 3, 61), [np.inf, -np.inf, np.nan, 0, 1, -1, 0.5, 1 - 1e-16, -1 + 1e-16,
                                                    1 + 1e-15, -1 - 1e-15, 1e-17, 1e200, -1e200, 1.001, -1.0001]])
POLY_N = np.array([-3, -0.5, 0, 0.9, 1, 2, 2.7, 3, 4, 5, 6, 7, 8, 9, 10, 20, 63, 64, 65, 66, 100, 128, 129, 500, 512,
                   513, 2000, 1e30, np.nan, np.inf, -np.inf])


def _poly_grid(dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    x, n = np.meshgrid(POLY_X, POLY_N)
    return x.astype(dtype), n.astype(dtype)


def _garbage(name: str, x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Where torch returns an uninitialised value (NaN x, n ≥ 2) and minigrad NaN."""
    return (name not in ("chebyshev_polynomial_t", "shifted_chebyshev_polynomial_t") and not name.startswith("hermite")
            ) & np.isnan(x) & (np.nan_to_num(n) >= 2) & (np.nan_to_num(n) < 1e18)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_float64_same_as_torch(name: str, torch: Any) -> None:
    x, n = _poly_grid(np.float64)
    ours, theirs = _ours(name, x, n), _theirs(torch, name, x, n)
    assert ours.dtype == np.float64 and ours.shape == x.shape
    garbage = _garbage(name, x, n)
    assert np.isnan(ours[garbage]).all()
    ours, theirs = ours[~garbage], theirs[~garbage]
    _same_non_finite(ours, theirs, name)
    degree = np.maximum(np.nan_to_num(n[~garbage], posinf=1, neginf=1), 1)
    finite = np.isfinite(theirs)
    error = np.abs(np.where(finite, ours, 0) - np.where(finite, theirs, 0))
    assert (error <= 4e-15 * degree * np.fmax(np.abs(theirs), 1)).all()


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_float32(name: str, torch: Any) -> None:
    x, n = _poly_grid(np.float32)
    ours, theirs = _ours(name, x, n), _theirs(torch, name, x, n)
    assert ours.dtype == np.float32
    garbage = _garbage(name, x, n)
    reference = _theirs(torch, name, x.astype(np.float64), n.astype(np.float64))[~garbage]
    ours, theirs = ours[~garbage].astype(np.float64), theirs[~garbage].astype(np.float64)
    _same_non_finite(ours, theirs, name)
    finite = np.isfinite(theirs) & np.isfinite(reference)
    degree = np.maximum(np.nan_to_num(n[~garbage].astype(np.float64), posinf=1, neginf=1), 1)
    # an ulp of acos(x) becomes n ulps of cos(nθ); torch's acosf is not always the correctly rounded one
    bound = 2 * np.abs(theirs - reference) + 8 * np.finfo(np.float32).eps * degree * np.fmax(np.abs(reference), 1)
    assert (np.abs(ours - theirs)[finite] <= bound[finite]).all()


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_dtypes_numbers_and_broadcast(name: str, torch: Any) -> None:
    ints, floats = np.array([0, 1, 2, -1]), np.array([0.25, -0.5, 1.5, 0.75], np.float32)
    cases = [(ints, 3), (ints, 3.0), (floats, np.array(3)), (ints, np.array(3)), (floats.astype(np.float64),
             np.array(3.0, np.float32)), (floats, np.array([3.0, 2.0, 1.0, 5.0])), (floats, np.array(3.0)),
             (ints, np.array(3.0)), (2.0, np.array([3, 2])), (0.5, np.array([4.0, 9.0], np.float32))]
    for x, n in cases:
        ours = getattr(mg.special, name)(*[mg.tensor(v) if isinstance(v, np.ndarray) else v for v in (x, n)])
        theirs = getattr(torch.special, name)(*[torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                                                for v in (x, n)])
        assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch.")), (x, n)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    out = getattr(mg.special, name)(mg.tensor(np.linspace(0, 1, 3)[:, None]), mg.tensor(np.arange(4.0)))
    assert out.shape == (3, 4)
    with pytest.raises(TypeError, match=name):
        getattr(mg.special, name)(0.5, 3)
    with pytest.raises(TypeError, match=name):
        getattr(mg.special, name)(mg.tensor(floats).half(), 3)


def test_dtypes_of_the_bessel_functions(torch: Any) -> None:
    for name in UNARY:
        assert getattr(mg.special, name)(mg.tensor([1, 2])).dtype == np.float32
        assert getattr(mg.special, name)(mg.tensor([True])).dtype == np.float32
        with pytest.raises(TypeError, match=name):
            getattr(mg.special, name)(mg.tensor([1.0]).half())
        assert getattr(mg.special, name)(mg.tensor(np.ones((2, 0, 3)))).shape == (2, 0, 3)
        assert getattr(mg.special, name)(mg.tensor(0.5)).shape == ()


@pytest.mark.parametrize("name", UNARY + POLYNOMIALS)
def test_no_derivative_as_in_torch(name: str) -> None:
    """PyTorch gives none of these a gradient (torch.special.bessel_j0(x).requires_grad is False even for a
    leaf x): minigrad records the op and refuses backward through it, naming it, instead of a silent 0."""
    x = mg.tensor([0.3, 0.7], requires_grad=True)
    args = (x, 3) if name in POLYNOMIALS else (x,)
    y = getattr(mg.special, name)(*args)
    assert y.requires_grad
    with pytest.raises(NotImplementedError, match=name):
        y.sum().backward()
    with mg.no_grad():
        assert not getattr(mg.special, name)(*args).requires_grad
    if name in POLYNOMIALS:
        n = mg.tensor([2.0, 3.0], requires_grad=True)
        with pytest.raises(NotImplementedError, match=name):
            getattr(mg.special, name)(mg.tensor([0.3, 0.7]), n).sum().backward()


def test_huge_degree_refused_where_the_recurrence_would_run_for_hours() -> None:
    with pytest.raises(NotImplementedError, match="legendre_polynomial_p"):
        mg.special.legendre_polynomial_p(mg.tensor([0.5]), 1e12)
    # beyond int64 PyTorch's cast makes n negative: 0, at once
    assert mg.special.legendre_polynomial_p(mg.tensor([0.5]), 1e30).item() == 0
    # |x| > 1: the recurrence overflows to NaN, the loop stops there
    assert np.isnan(mg.special.laguerre_polynomial_l(mg.tensor([-50.0]), 1e6).item())


@pytest.mark.gpu
@pytest.mark.parametrize("name", UNARY + POLYNOMIALS)
def test_same_on_gpu_as_on_cpu(name: str) -> None:
    x = np.concatenate([np.linspace(-30, 30, 41), [0.0, np.inf, np.nan, 1.0, -1.0]])
    n = np.array([0.0, 3.0, 9.0, 70.0])[:, None]
    args = (x, n) if name in POLYNOMIALS else (x,)
    for dtype in (np.float64, np.float32):
        cpu = getattr(mg.special, name)(*[mg.tensor(a.astype(dtype)) for a in args])
        gpu = getattr(mg.special, name)(*[mg.tensor(a.astype(dtype), device="cuda") for a in args])
        assert gpu.device == mg.device("cuda") and gpu.dtype == cpu.dtype
        rtol, atol = device_tolerance(1e-12 if dtype == np.float64 else 1e-5, 0.0, [cpu.numpy()])
        np.testing.assert_allclose(gpu.numpy(), cpu.numpy(), rtol=rtol, atol=atol)
