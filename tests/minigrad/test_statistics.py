"""Reductions, statistics, order statistics, counting/searching and distances against PyTorch.

As in ``test_pytorch_api_more.py``: each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` on the same float64 values; outputs (values, dtypes, indices)
and input gradients must agree, and every differentiable case passes ``mg.gradcheck``. The same
cases run on the GPU (a real one, or the strict CuPy stand-in) and must equal the CPU results.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, drawn_case_tests, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(21)
NAN, INF = math.nan, math.inf


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


X34, X234, X5, X6 = _normal(3, 4), _normal(2, 3, 4), _normal(5), _normal(6)
WITH_NAN = np.array([[0.3, NAN, -1.2, 2.5], [1.1, 0.4, NAN, NAN], [-0.7, 2.2, 0.9, -1.6]])
ALL_NAN_ROW = np.array([[0.3, NAN, -1.2, 2.5], [NAN, NAN, NAN, NAN], [-0.7, 2.2, 0.9, -1.6]])
# ties: up to 16 per line (PyTorch's CPU mode then picks the last occurrence, as ours)
TIES = np.array([[1.0, 3.0, 3.0, 0.0, 1.0, 3.0], [2.0, 2.0, -1.0, 2.0, -1.0, -1.0], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]])
SMALL_INTS = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3], [5, 8, 9, 7, 9]])
SORTED = np.array([-1.5, -0.2, 0.0, 0.7, 0.7, 2.4])
SORTED_ROWS = np.sort(_normal(3, 5), axis=1)
VALUES = np.array([[-2.0, -0.2, 0.3, 0.7], [2.4, 3.0, 0.0, -1.5]])
COUNTS = np.array([2, 0, 5, 2, 2, 7, 0])
FWEIGHTS, AWEIGHTS = np.array([1, 3, 0, 2]), np.array([0.5, 1.5, 2.0, 0.25])

CASES: dict[str, tuple[Callable, tuple]] = {
    # nansum / nanmean
    "nansum": (lambda t, x: [t.nansum(x), x.nansum(1), t.nansum(x, dim=(0, 1), keepdim=True)], (WITH_NAN,)),
    "nansum_no_nan": (lambda t, x: [x.nansum(-1), t.nansum(x, 0, True)], (X234,)),
    "nansum_ints": (lambda t, x: [t.nansum(x), x.nansum(0), t.nansum(x > 3, 1)], (SMALL_INTS,)),
    "nanmean": (lambda t, x: [t.nanmean(x), x.nanmean(1), t.nanmean(x, dim=0, keepdim=True)], (WITH_NAN,)),
    "nanmean_all_nan_line": (lambda t, x: x.nanmean(1), (ALL_NAN_ROW,)),
    # var_mean / std_mean
    "var_mean": (lambda t, x: [t.var_mean(x), t.var_mean(x, 1), t.var_mean(x, dim=(0, 2), keepdim=True)], (X234,)),
    "var_mean_correction": (lambda t, x: [t.var_mean(x, 1, correction=0), t.var_mean(x, 0, correction=2)], (X34,)),
    "var_mean_unbiased": (lambda t, x: [t.var_mean(x, 1, False), t.var_mean(x, False), t.var_mean(x, True)],
                          (X34,)),
    "std_mean": (lambda t, x: [t.std_mean(x), t.std_mean(x, -1, keepdim=True), t.std_mean(x, [0, 1], False)],
                 (X234,)),
    # aminmax (fields checked by name in test_aminmax_fields)
    "aminmax": (lambda t, x: list(t.aminmax(x)) + list(x.aminmax(dim=1)) + list(t.aminmax(x, dim=0, keepdim=True)),
                (X34,)),
    "aminmax_ties_share": (lambda t, x: list(t.aminmax(x)) + list(x.aminmax(dim=1)), (TIES,)),
    "aminmax_keepdim_all": (lambda t, x: list(x.aminmax(keepdim=True)), (X234,)),
    "aminmax_ints": (lambda t, x: list(t.aminmax(x)) + list(t.aminmax(x, dim=1)), (SMALL_INTS,)),
    # kthvalue / mode / nanmedian / msort
    "kthvalue": (lambda t, x: x.kthvalue(2), (X34,)),
    "kthvalue_dim_keepdim": (lambda t, x: t.kthvalue(x, 3, dim=1, keepdim=True), (X234,)),
    "kthvalue_dim0": (lambda t, x: t.kthvalue(x, 1, 0), (X34,)),
    "kthvalue_1d_last": (lambda t, x: x.kthvalue(5), (X5,)),
    "kthvalue_ints": (lambda t, x: x.kthvalue(4, 1), (SMALL_INTS,)),
    "mode": (lambda t, x: x.mode(), (TIES,)),
    "mode_dim0": (lambda t, x: t.mode(x, 0, keepdim=True), (TIES,)),
    "mode_ints": (lambda t, x: [x.mode(1), t.mode(x, dim=0)], (SMALL_INTS,)),
    "mode_unique_values": (lambda t, x: t.mode(x, 1), (X34,)),
    "mode_bool": (lambda t, x: (x > 0).mode(1), (X34,)),
    "nanmedian_all": (lambda t, x: [t.nanmedian(x), x.nanmedian()], (WITH_NAN,)),
    "nanmedian_all_ties": (lambda t, x: x.nanmedian(), (TIES,)),
    "nanmedian_dim": (lambda t, x: x.nanmedian(1), (WITH_NAN,)),
    "nanmedian_dim_keepdim": (lambda t, x: t.nanmedian(x, dim=0, keepdim=True), (WITH_NAN,)),
    "nanmedian_no_nan": (lambda t, x: t.nanmedian(x, -1), (X234,)),
    "nanmedian_ints": (lambda t, x: [x.nanmedian(), x.nanmedian(1)], (SMALL_INTS,)),
    "msort": (lambda t, x: [t.msort(x), x.msort()], (X34,)),
    # cummax / cummin
    "cummax": (lambda t, x: [x.cummax(1), t.cummax(x, dim=0)], (X34,)),
    "cummin": (lambda t, x: [t.cummin(x, 1), x.cummin(-3)], (X234,)),
    "cummax_ties": (lambda t, x: [t.cummax(x, 1), x.cummin(1), t.cummax(x, 0)], (TIES,)),
    "cummax_nan": (lambda t, x: [x.cummax(1), t.cummin(x, 1), x.cummax(0)], (WITH_NAN,)),
    "cummax_ints": (lambda t, x: [x.cummax(1), t.cummin(x, 0), (x > 4).cummax(1)], (SMALL_INTS,)),
    # quantile / nanquantile
    "quantile_all": (lambda t, x: [t.quantile(x, 0.3), x.quantile(0.0), x.quantile(1.0)], (X34,)),
    "quantile_dim": (lambda t, x: [x.quantile(0.75, dim=1), t.quantile(x, 0.4, 0, True)], (X234,)),
    "quantile_tensor_q": (lambda t, x: [t.quantile(x, t.tensor([0.1, 0.5, 0.95], dtype=t.float64, device=x.device),
                                                   dim=1),
                                        x.quantile(t.tensor([0.2, 0.6], dtype=t.float64, device=x.device), 0,
                                                   keepdim=True),
                                        x.quantile(t.tensor(0.35, dtype=t.float64, device=x.device))], (X234,)),
    "quantile_tensor_q_all_keepdim": (lambda t, x: x.quantile(t.tensor([0.2, 0.6], dtype=t.float64, device=x.device),
                                                              keepdim=True), (X34,)),
    "quantile_lower": (lambda t, x: x.quantile(t.tensor([0.1, 0.375, 0.5, 0.9], dtype=t.float64, device=x.device),
                                               dim=1, interpolation="lower"), (X34,)),
    "quantile_higher": (lambda t, x: t.quantile(x, 0.3, dim=0, interpolation="higher"), (X34,)),
    "quantile_midpoint": (lambda t, x: t.quantile(x, t.tensor([0.1, 0.5, 1.0], dtype=t.float64, device=x.device),
                                                  dim=1, interpolation="midpoint"), (X34,)),
    "quantile_nearest_half_to_even": (lambda t, x: t.quantile(x, t.tensor([0.125, 0.375, 0.625, 0.875], device=x.device,
                                                                          dtype=t.float64), interpolation="nearest"),
                                      (X5,)),
    "quantile_nan_line": (lambda t, x: [x.quantile(0.5, dim=1), t.quantile(x, 0.2)], (WITH_NAN,)),
    "nanquantile": (lambda t, x: [t.nanquantile(x, 0.5, dim=1), x.nanquantile(0.3), x.nanquantile(0.7, 0, True)],
                    (WITH_NAN,)),
    "nanquantile_modes": (lambda t, x: [t.nanquantile(x, 0.4, dim=1, interpolation=mode)
                                        for mode in ("linear", "lower", "higher", "midpoint", "nearest")],
                          (WITH_NAN,)),
    "nanquantile_all_nan_line": (lambda t, x: t.nanquantile(x, t.tensor([0.0, 0.5], dtype=t.float64, device=x.device),
                                                            dim=1), (ALL_NAN_ROW,)),
    "quantile_ties": (lambda t, x: [x.quantile(0.5, 1), t.quantile(x, 0.3, dim=0)], (TIES,)),
    # counting and searching (no gradient; unique's values of a float x that requires grad require grad and their
    # backward raises, as PyTorch's: test_unique_values_require_grad_and_backward_raises)
    "unique": (lambda t, x: [t.unique(x.detach()), x.detach().unique(return_inverse=True, return_counts=True),
                             t.unique(x.detach(), return_counts=True),
                             x.detach().unique(sorted=False, return_inverse=True)], (TIES,)),
    "unique_ints": (lambda t, x: t.unique(x.detach(), return_inverse=True, return_counts=True), (SMALL_INTS,)),
    "unique_nan": (lambda t, x: t.unique(x.detach(), return_inverse=True, return_counts=True), (WITH_NAN,)),
    "unique_bool": (lambda t, x: t.unique(x > 0, return_counts=True), (X34,)),
    "unique_consecutive": (lambda t, x: [t.unique_consecutive(x.detach()),
                                         x.detach().unique_consecutive(return_inverse=True, return_counts=True)],
                           (TIES,)),
    "unique_consecutive_nan": (lambda t, x: t.unique_consecutive(x.detach(), return_counts=True), (WITH_NAN,)),
    "bincount": (lambda t, x: [t.bincount(x), x.bincount(minlength=10), t.bincount(x, minlength=3)], (COUNTS,)),
    "bincount_int_weights": (lambda t, x: t.bincount(x, weights=x * 2), (COUNTS,)),
    "histc": (lambda t, x: [t.histc(x), x.histc(bins=7, min=-1, max=1), t.histc(x, 4, 0.5, 0.5)], (X234,)),
    "histc_edges_and_nan": (lambda t, x: [t.histc(x, bins=4, min=-1.2, max=2.5), x.histc(bins=3, min=0, max=2.5)],
                            (WITH_NAN,)),
    "histc_float32": (lambda t, x: t.histc(x.float(), bins=9), (X234,)),
    "searchsorted": (lambda t, s, v: [t.searchsorted(s, v), t.searchsorted(s, v, right=True),
                                      t.searchsorted(s, v, side="right"), t.searchsorted(s, v, out_int32=True),
                                      t.searchsorted(s, 0.7), t.searchsorted(s, 1, side="left")], (SORTED, VALUES)),
    "searchsorted_rows": (lambda t, s, v: [t.searchsorted(s, v), t.searchsorted(s, v, right=True)],
                          (SORTED_ROWS, _normal(3, 4))),
    "searchsorted_sorter": (lambda t, s, v: t.searchsorted(s, v, sorter=s.argsort()), (_normal(7), VALUES)),
    "searchsorted_mixed_dtypes": (lambda t, s, v: [t.searchsorted(s, v), t.searchsorted((s * 10).long(), v * 10)],
                                  (SORTED, VALUES)),
    "searchsorted_nan": (lambda t, s, v: [t.searchsorted(s, v), t.searchsorted(s, v, right=True)],
                         (np.array([-1.0, 0.0, 2.0, NAN]), np.array([NAN, 3.0, -2.0, 0.0]))),
    "bucketize": (lambda t, v, b: [t.bucketize(v, b), t.bucketize(v, b, right=True), t.bucketize(v, b, out_int32=True),
                                   t.bucketize(0.7, b)], (VALUES, SORTED)),
    # distances
    "cdist": (lambda t, a, b: t.cdist(a, b), (_normal(4, 3), _normal(5, 3))),
    "cdist_batched_broadcast": (lambda t, a, b: t.cdist(a, b), (_normal(2, 1, 4, 3), _normal(3, 5, 3))),
    "cdist_p": (lambda t, a, b: [t.cdist(a, b, p=p) for p in (0.0, 0.5, 1.0, 1.5, 3.0, INF)],
                (_normal(2, 4, 3), _normal(2, 5, 3))),
    "cdist_zero_distance": (lambda t, a: [t.cdist(a, a), t.cdist(a, a, p=3), t.cdist(a, a, p=1.5)], (_normal(4, 3),)),
    "dist": (lambda t, a, b: [t.dist(a, b), a.dist(b, 3), t.dist(a, b, INF), t.dist(a, b, 1), t.dist(a, b, 0.5)],
             (X34, _normal(4))),
    # cov / corrcoef
    "cov": (lambda t, x: [t.cov(x), x.cov(correction=0), t.cov(x, correction=2)], (X34,)),
    "cov_1d": (lambda t, x: [t.cov(x), x.cov(correction=0)], (X6,)),
    "cov_fweights": (lambda t, x, f: t.cov(x, fweights=f), (X34, FWEIGHTS)),
    "cov_aweights": (lambda t, x, a: [t.cov(x, aweights=a), t.cov(x, aweights=a, correction=0)], (X34, AWEIGHTS)),
    "cov_both_weights": (lambda t, x, f, a: [t.cov(x, fweights=f, aweights=a), t.cov(x, fweights=f, aweights=a,
                                                                                    correction=2)],
                         (X34, FWEIGHTS, AWEIGHTS)),
    "corrcoef": (lambda t, x: [t.corrcoef(x), x.corrcoef()], (X34,)),
    "corrcoef_1d": (lambda t, x: t.corrcoef(x), (X6,)),
    # existing ops checked here as well
    "median_even_length_is_lower": (lambda t, x: [x.median(), t.median(x, 1), x.median(0, keepdim=True)], (X34,)),
    "median_ties": (lambda t, x: [t.median(x, 1), x.median()], (TIES,)),
    "count_nonzero": (lambda t, x: [t.count_nonzero(x), x.count_nonzero(-1), t.count_nonzero(x, dim=(-1, 0)),
                                    t.count_nonzero(x > 0, dim=1)], (np.round(X234),)),
    "logcumsumexp": (lambda t, x: [t.logcumsumexp(x, 1), x.logcumsumexp(-1), t.logcumsumexp(x * 100, dim=0)],
                     (X234,)),
    "logcumsumexp_infinities": (lambda t, x: t.logcumsumexp(x, 1), (np.array([[-INF, 0.5, -INF, 2.0]]),)),
}
# NaN outputs or gradients, or ties (where finite differences see a kink), cannot be checked by gradcheck
NO_GRADCHECK = {"nanmean_all_nan_line", "quantile_nan_line", "nanquantile_all_nan_line", "cummax_nan",
                "logcumsumexp_infinities", "aminmax_ties_share", "mode", "mode_dim0", "cummax_ties",
                "nanmedian_all_ties", "quantile_ties", "median_ties"}
# the index among equal values is unspecified in PyTorch (values compared in test_tie_values_match_torch)
TIES_UNSPECIFIED = {"nanmedian_all_nan_line": (lambda t, x: t.nanmedian(x, 1), (ALL_NAN_ROW,))}


test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK)


@pytest.mark.parametrize("name", sorted(TIES_UNSPECIFIED))
def test_tie_values_match_torch(name: str, torch: Any) -> None:
    fn, arrays = TIES_UNSPECIFIED[name]
    ours = fn(mg, *[mg.tensor(a) for a in arrays])
    theirs = fn(torch, *[torch.from_numpy(a) for a in arrays])
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert ours.indices.dtype == mg.int64 and ours.indices.shape == tuple(theirs.indices.shape)


# --- random shapes and dims (Hypothesis) ---------------------------------------------------------------

DRAWN_CASES: dict[str, Callable] = {
    "nansum": lambda t, x, d, k: t.nansum(x.masked_fill(x < -1.0, NAN), d[0], keepdim=k),
    "nanmean": lambda t, x, d, k: x.nanmean(dim=tuple(sorted({a % x.ndim for a in d})), keepdim=k),
    "var_mean": lambda t, x, d, k: t.var_mean(x, d[0], correction=0 if k else 1, keepdim=k)
    if x.shape[d[0]] > 1 else t.var_mean(x, d[0], correction=0),
    "aminmax": lambda t, x, d, k: list(t.aminmax(x, dim=d[0], keepdim=k)),
    "kthvalue": lambda t, x, d, k: x.kthvalue(1 + x.shape[d[0]] // 2, d[0], keepdim=k),
    "mode": lambda t, x, d, k: t.mode((x * 2).round(), d[1], keepdim=k),
    "nanmedian": lambda t, x, d, k: x.nanmedian(d[0], keepdim=k),
    "quantile": lambda t, x, d, k: x.quantile(0.3 if k else 0.8, dim=d[0], keepdim=k),
    "cummax": lambda t, x, d, k: x.cummax(d[0]) if k else t.cummin(x, d[1]),
    "unique": lambda t, x, d, k: t.unique((x.detach() * 2).round(), return_inverse=True, return_counts=k),
    "histc": lambda t, x, d, k: t.histc(x, bins=5 if k else 13),
    "cdist": lambda t, x, d, k: t.cdist(x.reshape(-1, x.shape[-1]), x.reshape(-1, x.shape[-1]) * 0.5, p=1.0 if k
                                        else 2.0),
    "searchsorted": lambda t, x, d, k: t.searchsorted(x.flatten().sort().values, x * 0.7, right=k),
}


test_drawn_shapes_same_as_torch = drawn_case_tests(DRAWN_CASES)


# --- result types and fields --------------------------------------------------------------------------

def test_aminmax_fields(torch: Any) -> None:
    x = mg.tensor(X34)
    result = x.aminmax(dim=1)
    assert isinstance(result, mg.MinMax) and result._fields == ("min", "max") == type(
        torch.aminmax(torch.from_numpy(X34))).__match_args__[:2]
    np.testing.assert_array_equal(result.min.numpy(), X34.min(axis=1))
    np.testing.assert_array_equal(result.max.numpy(), X34.max(axis=1))


def test_values_indices_results_are_named_tuples() -> None:
    x = mg.tensor(X34)
    for result in (x.kthvalue(1), x.mode(), x.nanmedian(0), x.cummax(0), mg.cummin(x, 1)):
        assert isinstance(result, mg.ValuesIndices) and result.indices.dtype == mg.int64
    assert isinstance(mg.var_mean(x), tuple) and isinstance(mg.std_mean(x, 1), tuple)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_dtypes_kept(dtype: str, torch: Any) -> None:
    values = X34.astype(dtype)
    x, tx = mg.tensor(values), torch.from_numpy(values)
    pairs = [(mg.nansum(x), torch.nansum(tx)), (x.nanmean(1), tx.nanmean(1)),
             (mg.var_mean(x)[0], torch.var_mean(tx)[0]), (x.quantile(0.3), tx.quantile(0.3)),
             (mg.cdist(x, x), torch.cdist(tx, tx)), (mg.dist(x, x[0]), torch.dist(tx, tx[0])), (x.cov(), tx.cov()),
             (x.corrcoef(), tx.corrcoef()), (x.histc(5), tx.histc(5)), (x.cummax(1).values, tx.cummax(1).values),
             (x.nanmedian(), tx.nanmedian())]
    for k, (ours, theirs) in enumerate(pairs):
        assert ours.dtype == theirs.numpy().dtype, f"pair {k}: {ours.dtype} != {theirs.dtype}"
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-5, atol=2e-6, err_msg=f"pair {k}")


def test_integer_inputs_as_torch(torch: Any) -> None:
    ints = mg.tensor(SMALL_INTS)
    tints = torch.from_numpy(SMALL_INTS)
    assert mg.nansum(ints).dtype == mg.int64 and mg.nansum(ints.int(), 1).dtype == mg.int64
    assert mg.nansum(ints, dtype=mg.float32).dtype == torch.nansum(tints, dtype=torch.float32).numpy().dtype
    assert mg.nanmean(ints.double(), dtype=mg.float32).dtype == mg.float32
    for ours, theirs in [(ints.cov(), tints.cov()), (ints.corrcoef(), tints.corrcoef()),
                         (mg.cov(ints, aweights=mg.tensor(AWEIGHTS[:1].repeat(5))),
                          torch.cov(tints, aweights=torch.from_numpy(AWEIGHTS[:1].repeat(5)))),
                         (mg.cov(ints, fweights=mg.tensor([1, 2, 1, 1, 3])),
                          torch.cov(tints, fweights=torch.tensor([1, 2, 1, 1, 3])))]:
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)
    w32 = mg.tensor(np.array([0.5, 1.0, 2.0, 1.0, 1.0, 1.0, 3.0], dtype="float32"))
    assert mg.bincount(mg.tensor(COUNTS), weights=w32).dtype == mg.float32
    assert mg.bincount(mg.tensor(COUNTS), weights=w32.double()).dtype == mg.float64
    assert mg.bincount(mg.tensor(COUNTS), weights=mg.tensor(COUNTS)).dtype == mg.float64
    assert mg.bincount(mg.tensor(COUNTS.astype("int32"))).dtype == mg.int64


@pytest.mark.parametrize("name, call", [
    ("nanmean", lambda lib, x: lib.nanmean(x)), ("var_mean", lambda lib, x: lib.var_mean(x)),
    ("std_mean", lambda lib, x: lib.std_mean(x, 0)), ("quantile", lambda lib, x: lib.quantile(x, 0.5)),
    ("nanquantile", lambda lib, x: lib.nanquantile(x, 0.5)), ("histc", lambda lib, x: lib.histc(x)),
    ("cdist", lambda lib, x: lib.cdist(x, x)), ("dist", lambda lib, x: lib.dist(x, x)),
    ("cov", lambda lib, x: lib.cov(x > 2)), ("bincount", lambda lib, x: lib.bincount(x.flatten() * 1.5))])
def test_integer_or_bool_inputs_refused_as_torch(name: str, call: Callable, torch: Any) -> None:
    with pytest.raises((RuntimeError, TypeError, NotImplementedError)):
        call(torch, torch.from_numpy(SMALL_INTS))
    with pytest.raises(TypeError, match=name):
        call(mg, mg.tensor(SMALL_INTS))


# --- gradients PyTorch does not have, or checked by hand -----------------------------------------------

def test_bincount_is_differentiable_in_its_weights() -> None:
    index = mg.tensor(COUNTS)
    weights = mg.tensor(_normal(7), requires_grad=True)
    assert mg.gradcheck(lambda w: mg.bincount(index, weights=w, minlength=9), [weights])
    out = mg.bincount(index, weights=weights)
    out[2].backward()
    assert weights.grad.numpy().tolist() == [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]   # where the input is 2


def test_dist_p0_counts_and_has_no_gradient(torch: Any) -> None:
    # torch 2.13's own backward of dist(p=0) fails when `other` requires grad ("Expected a proper Tensor"); with
    # a constant `other` it gives no gradient, as vector_norm(ord=0) (round 16: minigrad gave zeros)
    a, b = mg.tensor(X34, requires_grad=True), mg.tensor(np.where(X34[0] > 0, X34[0], 0.0), requires_grad=True)
    out = mg.dist(a, b, 0)
    assert out.item() == torch.dist(torch.from_numpy(X34), torch.from_numpy(b.numpy()), 0).item()
    (out * 2).backward()
    assert a.grad is None and b.grad is None
    t = torch.from_numpy(X34).requires_grad_()
    (torch.dist(t, torch.from_numpy(b.numpy()), 0) * 2).backward()
    assert t.grad is None


def test_nan_elements_get_no_gradient_from_nansum_and_nanmean() -> None:
    x = mg.tensor(WITH_NAN, requires_grad=True)
    (mg.nansum(x) + x.nanmean(1).sum()).backward()
    assert (x.grad.numpy()[np.isnan(WITH_NAN)] == 0).all()


def test_quantile_gradient_is_split_between_the_two_neighbours() -> None:
    x = mg.tensor([3.0, 1.0, 2.0, 5.0, 4.0], dtype=mg.float64, requires_grad=True)
    mg.quantile(x, 0.3).backward()   # rank 1.2: 0.8 to the value 2, 0.2 to the value 3
    np.testing.assert_allclose(x.grad.numpy(), [0.2, 0.0, 0.8, 0.0, 0.0])


def test_cummax_gradient_goes_to_the_index(torch: Any) -> None:
    x = mg.tensor([1.0, 3.0, 2.0, 3.0, 0.5], dtype=mg.float64, requires_grad=True)
    values, indices = x.cummax(0)
    values.sum().backward()
    assert indices.numpy().tolist() == [0, 1, 1, 3, 3]
    assert x.grad.numpy().tolist() == [1.0, 2.0, 0.0, 2.0, 0.0]


def test_nanmedian_all_nan_line_takes_the_first_nan() -> None:
    result = mg.nanmedian(mg.tensor(ALL_NAN_ROW), 1)
    assert np.isnan(result.values.numpy()[1]) and result.indices.numpy()[1] == 0
    assert np.isnan(mg.nanmedian(mg.tensor([NAN, NAN])).item())
    assert np.isnan(mg.nanmedian(mg.zeros(0)).item())


def test_cov_with_too_few_degrees_of_freedom_warns_as_torch(torch: Any) -> None:
    with pytest.warns(UserWarning, match="degrees of freedom"):
        ours = mg.cov(mg.tensor([[1.0, 2.0]]), correction=2)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        theirs = torch.cov(torch.tensor([[1.0, 2.0]]), correction=2)
    assert ours.item() == theirs.item() == math.inf


# --- tie rules (documented in minigrad/ops/order_stats.py) ----------------------------------------------

def test_mode_tie_rule() -> None:
    result = mg.tensor([3.0, 1.0, 3.0, 1.0, 2.0]).mode()
    assert result.values.item() == 1.0 and result.indices.item() == 3   # the smallest; its last occurrence
    result = mg.tensor([NAN, NAN, 1.0]).mode()
    assert np.isnan(result.values.item()) and result.indices.item() == 0   # each NaN is its own value (PyTorch)


def test_kthvalue_tie_rule() -> None:
    result = mg.tensor([2.0, 1.0, 2.0, 2.0, 0.0]).kthvalue(4)
    assert result.values.item() == 2.0 and result.indices.item() == 3   # PyTorch's CPU quickselect pick


# --- unique, searchsorted and friends: shapes and refusals -------------------------------------------

def test_unique_shapes_and_zero_dim(torch: Any) -> None:
    for values in (np.array(3.0), np.zeros(0), np.array([[2, 2], [1, 2]])):
        ours = mg.unique(mg.tensor(values), return_inverse=True, return_counts=True)
        theirs = torch.unique(torch.from_numpy(values), return_inverse=True, return_counts=True)
        for a, b in zip(ours, theirs):
            assert a.shape == tuple(b.shape) and a.dtype == b.numpy().dtype
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        ours = mg.unique_consecutive(mg.tensor(values), return_inverse=True, return_counts=True)
        theirs = torch.unique_consecutive(torch.from_numpy(values), return_inverse=True, return_counts=True)
        for a, b in zip(ours, theirs):
            assert a.shape == tuple(b.shape)
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unique_values_require_grad_and_backward_raises(torch: Any) -> None:
    """As PyTorch's: unique's values require grad and backward through them raises NotImplementedError (they
    passed no gradient, so x.sum() + x.unique().sum() silently lost the second term); histc and searchsorted give
    results without gradient."""
    x = mg.tensor(X34, requires_grad=True)
    tx = torch.tensor(X34, requires_grad=True)
    for call in (lambda t, v: t.unique(v), lambda t, v: t.unique(v, return_counts=True)[0],
                 lambda t, v: t.unique(v, dim=1), lambda t, v: t.unique_consecutive(v)):
        for lib, v in ((mg, x), (torch, tx)):
            values = call(lib, v)
            assert values.requires_grad
            with pytest.raises(NotImplementedError, match="derivative"):
                (values.sum() + v.sum()).backward()
    assert not mg.histc(x).requires_grad and not mg.searchsorted(x.flatten().sort().values, x).requires_grad
    with mg.no_grad():
        assert not x.unique().requires_grad


def test_unique_with_dim_as_pytorch(torch: Any) -> None:
    # (unique over slices used to be refused; tests/minigrad/test_probe_reductions.py has the corner cases)
    x = np.array([[1, 2, 1], [0, 5, 0], [1, 2, 1]])
    for dim in (0, 1):
        ours = mg.unique(mg.tensor(x), dim=dim, return_inverse=True, return_counts=True)
        theirs = torch.unique(torch.tensor(x), dim=dim, return_inverse=True, return_counts=True)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        ours = mg.tensor(x).unique_consecutive(dim=dim, return_counts=True)
        theirs = torch.tensor(x).unique_consecutive(dim=dim, return_counts=True)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_empty_inputs(torch: Any) -> None:
    e = np.zeros((0, 3))
    pairs = [(mg.bincount(mg.tensor(np.zeros(0, dtype="int64"))), torch.bincount(torch.zeros(0, dtype=torch.int64))),
             (mg.bincount(mg.tensor(np.zeros(0, dtype="int64")), minlength=3),
              torch.bincount(torch.zeros(0, dtype=torch.int64), minlength=3)),
             (mg.histc(mg.tensor(e), bins=3), torch.histc(torch.from_numpy(e), bins=3)),
             (mg.searchsorted(mg.tensor(SORTED), mg.tensor(e)), torch.searchsorted(torch.from_numpy(SORTED),
                                                                                   torch.from_numpy(e))),
             (mg.searchsorted(mg.tensor(np.zeros(0)), mg.tensor([1.0])),
              torch.searchsorted(torch.zeros(0, dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64))),
             (mg.cdist(mg.tensor(e), mg.tensor(_normal(2, 3))), torch.cdist(torch.from_numpy(e),
                                                                             torch.from_numpy(_normal(2, 3)))),
             (mg.cdist(mg.tensor(np.zeros((2, 0))), mg.tensor(np.zeros((3, 0)))),
              torch.cdist(torch.zeros(2, 0, dtype=torch.float64), torch.zeros(3, 0, dtype=torch.float64))),
             (mg.tensor(e).cummax(0).values, torch.from_numpy(e).cummax(0).values),
             (mg.tensor(e).kthvalue(1, 1).values, torch.from_numpy(e).kthvalue(1, 1).values)]
    for k, (ours, theirs) in enumerate(pairs):
        assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype, f"pair {k}"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_zero_dim_inputs(torch: Any) -> None:
    s = 2.5
    for name, call in [("kthvalue", lambda lib, x: lib.kthvalue(x, 1)), ("mode", lambda lib, x: lib.mode(x)),
                       ("nanmedian", lambda lib, x: lib.nanmedian(x, 0)), ("cummax", lambda lib, x: lib.cummax(x, 0)),
                       ("cummin", lambda lib, x: lib.cummin(x, -1))]:
        ours, theirs = call(mg, mg.tensor(s, dtype=mg.float64)), call(torch, torch.tensor(s, dtype=torch.float64))
        assert ours.values.shape == () == tuple(theirs.values.shape), name
        assert ours.values.item() == theirs.values.item() and ours.indices.item() == theirs.indices.item() == 0
    for ours, theirs in [(mg.quantile(mg.tensor(s, dtype=mg.float64), 0.2, dim=0), torch.quantile(
            torch.tensor(s, dtype=torch.float64), 0.2, dim=0)), (mg.nanmedian(mg.tensor(s)), torch.nanmedian(
                torch.tensor(s))), (mg.nansum(mg.tensor(s), 0), torch.nansum(torch.tensor(s), 0)),
            (mg.tensor(s).aminmax(dim=0).max, torch.tensor(s).aminmax(dim=0).max),
            (mg.msort(mg.tensor(s)), torch.msort(torch.tensor(s)))]:
        assert ours.shape == tuple(theirs.shape) and ours.item() == pytest.approx(theirs.item())


@pytest.mark.parametrize("call, error, match", [
    (lambda: mg.kthvalue(mg.tensor(X5), 6), ValueError, "kthvalue: k"),
    (lambda: mg.kthvalue(mg.tensor(X5), 0), ValueError, "kthvalue: k"),
    (lambda: mg.kthvalue(mg.tensor(X5), 1.5), TypeError, "kthvalue: k"),
    (lambda: mg.mode(mg.zeros(0)), mg.AxisError, "mode"),
    (lambda: mg.aminmax(mg.zeros(0)), ValueError, "aminmax"),
    (lambda: mg.aminmax(mg.zeros(2, 0), dim=1), ValueError, "aminmax"),
    (lambda: mg.aminmax(mg.tensor(X34), dim=(0, 1)), TypeError, "aminmax"),
    (lambda: mg.quantile(mg.tensor(X5), 1.5), ValueError, "quantile: q"),
    (lambda: mg.quantile(mg.tensor(X5), mg.tensor([0.5, NAN], dtype=mg.float64)), ValueError, "quantile: q"),
    (lambda: mg.quantile(mg.tensor(X5), mg.tensor([[0.5]], dtype=mg.float64)), ValueError, "quantile: q"),
    (lambda: mg.quantile(mg.tensor(X5), mg.tensor([0.5], dtype=mg.float32)), TypeError, "quantile: q"),
    (lambda: mg.quantile(mg.zeros(0), 0.5), ValueError, "quantile"),
    (lambda: mg.quantile(mg.tensor(X5), 0.5, interpolation="cubic"), ValueError, "quantile: interpolation"),
    (lambda: mg.nanquantile(mg.tensor(X5).half(), 0.5), TypeError, "nanquantile"),
    (lambda: mg.nansum(mg.tensor(X34), dim=(1, 1)), ValueError, "nansum"),
    (lambda: mg.bincount(mg.tensor([-1, 2])), ValueError, "bincount"),
    (lambda: mg.bincount(mg.tensor([[1]])), TypeError, "bincount"),
    (lambda: mg.bincount(mg.tensor([1, 2]), weights=mg.tensor([1.0])), ValueError, "bincount: weights"),
    (lambda: mg.bincount(mg.tensor([1, 2]), minlength=-1), ValueError, "bincount: minlength"),
    (lambda: mg.histc(mg.tensor([1.0, NAN])), ValueError, "histc: range"),
    (lambda: mg.histc(mg.tensor([1.0]), min=3, max=1), ValueError, "histc: max"),
    (lambda: mg.histc(mg.tensor([1.0]), bins=0), ValueError, "histc: bins"),
    (lambda: mg.searchsorted(mg.tensor(SORTED), mg.tensor(VALUES), right=True, side="left"), ValueError,
     "searchsorted: side"),
    (lambda: mg.searchsorted(mg.tensor(SORTED_ROWS), mg.tensor(VALUES)), ValueError, "searchsorted"),
    (lambda: mg.searchsorted(mg.tensor(SORTED), mg.tensor(VALUES), sorter=mg.tensor([0, 1])), TypeError,
     "searchsorted: sorter"),
    (lambda: mg.bucketize(mg.tensor(VALUES), mg.tensor(SORTED_ROWS)), ValueError, "bucketize: boundaries"),
    (lambda: mg.cdist(mg.tensor(X5), mg.tensor(X5)), ValueError, "cdist"),
    (lambda: mg.cdist(mg.tensor(X34), mg.tensor(_normal(2, 3))), ValueError, "cdist"),
    (lambda: mg.cdist(mg.tensor(X34), mg.tensor(X34).float()), TypeError, "cdist"),
    (lambda: mg.cdist(mg.tensor(X34), mg.tensor(X34), p=-1), ValueError, "cdist: p"),
    (lambda: mg.cov(mg.tensor(X234)), ValueError, "cov"),
    (lambda: mg.cov(mg.tensor(X34), fweights=mg.tensor(AWEIGHTS)), TypeError, "cov: fweights"),
    (lambda: mg.cov(mg.tensor(X34), aweights=mg.tensor(FWEIGHTS)), TypeError, "cov: aweights"),
    (lambda: mg.cov(mg.tensor(X34), fweights=mg.tensor([1, 2, 3])), ValueError, "cov: fweights"),
    (lambda: mg.cov(mg.tensor(X34), fweights=mg.tensor([-1, 2, 3, 1])), ValueError, "cov: fweights"),
    (lambda: mg.cov(mg.tensor(X34), aweights=mg.zeros(4)), ValueError, "cov: the weights sum to zero"),
    (lambda: mg.cov(mg.tensor(X34), correction=0.5), TypeError, "cov: correction"),
    (lambda: mg.cov(mg.tensor([True, False])), TypeError, "cov"),
])
def test_bad_input_raises_naming_the_op(call: Callable, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_public_lists_reach_mg_and_tensor() -> None:
    from minigrad.ops import statistics

    for name in statistics.__all__:
        assert getattr(mg, name) is getattr(statistics, name)
    for name, fn in statistics.METHODS.items():
        assert getattr(mg.Tensor, name) is fn


# --- on the GPU (a real one, or the strict CuPy stand-in of tests/conftest.py) -------------------------

test_same_on_gpu_as_on_cpu = gpu_case_tests(CASES)
