"""Reductions, scans, sorting and searching against PyTorch 2.13, round 8: the discrepancies this probe
found, one regression each (the probe's other comparisons agreed and are covered by
``test_probe_reductions.py`` and ``test_statistics.py``).

As there: each case is ``fn(lib, *arrays)`` in PyTorch's spelling, run with ``lib = minigrad`` and
``lib = torch``; outputs (values, dtypes, shapes, indices) and input gradients must agree, every
differentiable case passes ``mg.gradcheck`` in float64, and the cases run on the GPU (a real one, or
the strict CuPy stand-in) with the CPU's results.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(88)
# integer extremes without ties: a descending order must not negate them (-x wraps for unsigned ints and for
# the most negative value, which sorted those first or last)
INT8 = np.array([[-128, 127, 0, -5, 5], [3, 4, -1, 127, -128]], dtype=np.int8)
UINT8 = np.array([[0, 255, 3, 1, 254], [7, 6, 1, 200, 0]], dtype=np.uint8)
INT64 = np.array([[np.iinfo(np.int64).min, 5, np.iinfo(np.int64).max, -1, 0]])
# ties: a stable sort keeps equal values in index order, descending too
INT8_TIES = np.array([[-128, 127, 0, -128, 5, 127], [3, 3, -1, 127, -128, 3]], dtype=np.int8)
UINT8_TIES = np.array([[0, 255, 3, 0, 255, 3], [7, 7, 1, 200, 0, 200]], dtype=np.uint8)

INF_NAN = np.array([[-np.inf, np.inf, 2.0, np.nan], [np.inf, 1.0, np.nan, np.inf], [np.inf, np.nan, -np.inf, 0.5],
                    [np.nan, 1.0, np.inf, -np.inf], [-np.inf, 0.0, 1.0, np.inf]])


def _descending(t: Any, x: Any) -> list:
    return [t.sort(x, 1, descending=True), t.sort(x, dim=0, descending=True), t.argsort(x, 1, True),
            x.topk(2, 1), t.topk(x, x.shape[1], 1), t.topk(x, 2, 1, largest=False),
            t.sort(x.topk(3, 1, sorted=False).values, 1).values, t.msort(x), x.sort(0).values]


CASES: dict[str, tuple[Callable, tuple]] = {
    # sort/argsort/topk descending of unsigned ints and of int extremes (values and indices were wrong)
    "descending_int8": (_descending, (INT8,)),
    "descending_uint8": (_descending, (UINT8,)),
    "descending_int64_extremes": (_descending, (INT64,)),
    "descending_stable_ties": (lambda t, x: [t.sort(x, dim=1, descending=True, stable=True),
                                             t.argsort(x, dim=0, descending=True, stable=True),
                                             t.sort(x, dim=1, stable=True)], (INT8_TIES,)),
    "descending_stable_ties_uint8": (lambda t, x: [t.sort(x, dim=1, descending=True, stable=True),
                                                   t.argsort(x, dim=1, descending=True, stable=True)], (UINT8_TIES,)),
    # descending: NaN before +inf (NaN's key -inf tied with +inf's, so the earlier of the two came first)
    "descending_nan_before_inf": (lambda t, x: [t.sort(x, 0, descending=True), t.argsort(x, 1, descending=True),
                                                t.sort(x, dim=1, descending=True, stable=True), x.topk(1, 1),
                                                t.topk(x, 2, 0).values], (INF_NAN,)),
    # a 0-d bool keeps its dtype through max/min/sort/cummax along dim 0 (was int64)
    "zero_dim_bool": (lambda t, x: [x.max(0), t.min(x, -1, keepdim=True), x.sort(), t.sort(x, 0, descending=True),
                                    x.cummax(0), t.cummin(x, -1), x.mode(0)], (np.array(True),)),
    # topk of a 0-d tensor: k = 0 gives the value itself, as k = 1 (was a reshape error)
    "topk_zero_dim": (lambda t, x: [x.topk(0), t.topk(x, 1, -1), t.topk(x, 0, dim=0, largest=False)],
                      (np.array(2.5),)),
    # the other picks and scans of a 0-d tensor, with their gradients
    "zero_dim_float": (lambda t, x: [x.max(0), x.sort(-1), x.cummax(0), x.kthvalue(1), x.mode(-1), x.median(0),
                                     t.nanmedian(x, 0), x.cumsum(0), x.cumprod(-1), t.logcumsumexp(x, 0)],
                       (np.array(-1.25),)),
}

test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck={"descending_nan_before_inf"})   # inf - inf
test_same_on_gpu_as_on_cpu = gpu_case_tests(CASES)


@pytest.mark.parametrize("call", [lambda t, x: x.topk(1, dim=1), lambda t, x: t.topk(x, 0, -2)])
def test_topk_of_a_zero_dim_tensor_checks_the_dim(call: Callable, torch: Any) -> None:
    with pytest.raises(IndexError):
        call(torch, torch.tensor(2.5))
    with pytest.raises(IndexError, match="topk"):
        call(mg, mg.tensor(2.5))


HALF = (RNG.standard_normal((3, 300)) * 3).astype(np.float16)
HALF_NEAR_ONE = RNG.uniform(0.9, 1.1, (3, 300)).astype(np.float16)
HALF_OPS = {
    "cumsum": lambda t, x: x.cumsum(1), "cumprod": lambda t, x: t.cumprod(x, 1),
    "logcumsumexp": lambda t, x: t.logcumsumexp(x, 1), "var": lambda t, x: x.var(1),
    "std": lambda t, x: t.std(x, 1, correction=0), "var_mean": lambda t, x: t.var_mean(x, 1)[0],
    "norm": lambda t, x: t.norm(x, dim=1), "norm_3": lambda t, x: t.norm(x, 3, dim=1),
}


@pytest.mark.parametrize("name", sorted(HALF_OPS))
def test_float16_accumulates_in_float32_as_torch(name: str, torch: Any) -> None:
    """PyTorch accumulates a float16 scan or spread in float32 and rounds once; step-by-step float16
    rounding drifted by several units in the last place over 300 elements."""
    fn = HALF_OPS[name]
    for values in (HALF, HALF_NEAR_ONE) if name != "cumprod" else (HALF_NEAR_ONE,):   # (HALF's products overflow)
        ours, theirs = fn(mg, mg.tensor(values)), fn(torch, torch.from_numpy(values))
        assert ours.dtype == np.float16
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("call", [lambda t, x: x.mean(dtype=t.int64), lambda t, x: t.mean(x, 1, dtype=t.bool),
                                  lambda t, x: t.nanmean(x, dtype=t.int32)])
def test_mean_refuses_an_integer_dtype_as_torch(call: Callable, torch: Any) -> None:
    """A mean cast to an integer dtype (was float64 whatever the dtype asked for)."""
    values = np.array([[1.0, 2.0], [3.0, 4.5]])
    with pytest.raises(RuntimeError):
        call(torch, torch.from_numpy(values))
    with pytest.raises(TypeError, match="mean: dtype must be a floating point dtype"):
        call(mg, mg.tensor(values))
    assert mg.tensor(values).mean(dtype=mg.float32).dtype == np.float32


def test_float64_results_and_gradients_unchanged_by_the_float16_path() -> None:
    x = mg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert mg.gradcheck(lambda a: [a.var(1), a.std(0, correction=0), mg.norm(a, 3, dim=1), mg.norm(a),
                                   mg.norm(a, float("inf"), 0), a.cumsum(1), a.cumprod(0), mg.logcumsumexp(a, 1)],
                        [x])


def test_trapezoid_of_integers_gives_the_default_float_dtype_as_torch(torch: Any) -> None:
    """An integer y integrates in float32 (was NumPy's int * float: float64); a float64 y or x keeps float64."""
    y, x, xf = np.array([[1, 2, 4], [0, 5, 3]]), np.array([0, 1, 3]), np.array([0.0, 1.0, 3.0])
    for call in (lambda t, a, b, c: t.trapezoid(a), lambda t, a, b, c: t.trapezoid(a, dx=2),
                 lambda t, a, b, c: t.trapezoid(a, b), lambda t, a, b, c: t.trapezoid(a, c),
                 lambda t, a, b, c: t.trapezoid(a.to(t.uint8), dim=0), lambda t, a, b, c: t.trapezoid(a.double(), b)):
        ours = call(mg, *(mg.tensor(v) for v in (y, x, xf)))
        theirs = call(torch, *(torch.from_numpy(v) for v in (y, x, xf)))
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    with pytest.raises(RuntimeError):
        torch.trapezoid(torch.tensor([True, False]))
    with pytest.raises(TypeError, match="trapezoid: a bool y"):
        mg.trapezoid(mg.tensor([True, False]))
