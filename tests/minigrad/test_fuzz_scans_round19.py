"""Scans, sorting and counting against torch: the cases a differential fuzzer found (round 19).

Each case runs the same call on torch and on minigrad and compares values, dtypes, shapes, exception classes
and gradients (never a hard-coded outcome)."""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

inf, nan = math.inf, math.nan


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy())


def _raised(lib: Any, call: Callable) -> type | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(lib)
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return type(error)
    return None


def _as_torch(call: Callable, values: bool = True) -> None:
    """``call(torch)`` and ``call(mg)`` raise the same class, or give results (one tensor or a tuple of them) of the
    same dtypes and shapes, and with ``values`` the same values."""
    expected = _raised(torch, call)
    if expected is not None:
        got = _raised(mg, call)
        assert got is not None and issubclass(got, expected), (got, expected)
        return
    theirs, ours = call(torch), call(mg)
    for t, m in zip(theirs, ours) if isinstance(theirs, tuple) else [(theirs, ours)]:
        assert str(t.dtype).replace("torch.", "") == str(m.dtype) and tuple(t.shape) == tuple(m.shape)
        if values:
            np.testing.assert_array_equal(_np(m), _np(t))


# --- histogram: a bins tensor of one edge is PyTorch's RuntimeError (it was a bare ValueError) ---

@pytest.mark.parametrize("name", ["histogram", "histogram_density", "histogramdd"])
def test_histogram_one_edge_raises_torch_error_class(name: str) -> None:
    calls = {
        "histogram": lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), lib.tensor([0.5])),
        "histogram_density": lambda lib: lib.histogram(lib.tensor([[1.0], [2.0]], dtype=lib.float64),
                                                       lib.tensor([0.0], dtype=lib.float64), density=True),
        "histogramdd": lambda lib: lib.histogramdd(lib.zeros(3, 2), bins=[lib.tensor([1.0]), lib.tensor([0.0, 1.0])]),
    }
    expected = _raised(torch, calls[name])
    assert expected is RuntimeError
    got = _raised(mg, calls[name])
    assert got is not None and issubclass(got, expected)


# --- quantile's gradient to q: NaN where a one-element line is infinite (inf - inf times a slope 0), as PyTorch ---

QUANTILE_Q_CASES = {
    "inf_0d": ("quantile", inf),
    "minus_inf_0d_nanquantile": ("nanquantile", -inf),
    "inf_one": ("quantile", [inf]),
    "inf_and_nan_nanquantile": ("nanquantile", [inf, nan]),
    "inf_and_nan_quantile": ("quantile", [inf, nan]),
    "rows_one_column": ("nanquantile", [[inf], [2.0], [-inf]]),
}


@pytest.mark.parametrize("case", list(QUANTILE_Q_CASES))
def test_quantile_q_gradient_of_infinite_single_value_as_torch(case: str) -> None:
    name, x = QUANTILE_Q_CASES[case]
    results = []
    for lib in (torch, mg):
        t = lib.tensor(np.array(x, dtype=np.float64), requires_grad=True)
        q = lib.tensor(np.array([0.5, 0.0, 0.25]), requires_grad=True)
        y = getattr(lib, name)(t, q, dim=-1 if np.ndim(x) == 2 else None)
        y.sum().backward()
        results.append((_np(y), _np(t.grad), _np(q.grad)))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, equal_nan=True)


# --- unique(dim=) of a tensor with more than one dim of size 0: PyTorch's RuntimeError (it returned empties) ---

@pytest.mark.parametrize("name", ["unique", "unique_consecutive"])
@pytest.mark.parametrize("shape, dim", [((0, 0), 0), ((2, 0, 0), -1), ((0, 3, 0), 2)])
def test_unique_dim_with_two_empty_dims_raises_as_torch(name: str, shape: tuple, dim: int) -> None:
    def call(lib: Any) -> Any:
        return getattr(lib, name)(lib.zeros(shape, dtype=lib.int64), dim=dim, return_counts=True)

    expected = _raised(torch, call)
    assert expected is RuntimeError
    got = _raised(mg, call)
    assert got is not None and issubclass(got, expected)


# --- topk among equal values: PyTorch's CPU pick and order (its std::nth_element / partial_sort / sort steps) ---

def _topk_line(seed: int, n: int, high: int, nans: int, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.integers(-high, high + 1, n).astype(dtype)
    if nans:
        values[rng.integers(0, n, nans)] = np.nan
    return values


TOPK_CASES = {   # (values, k, dim, largest, sorted)
    "five_largest": (np.array([4, -1, 3, 0, 0], dtype=np.int64), 4, -1, True, True),
    "five_smallest": (np.array([-4, 4, -2, -2, -1], dtype=np.int64), 4, 0, False, True),
    "unsorted_small": (np.array([[2, 1, 1, 3], [-2, -4, 0, 1]], dtype=np.int16), 3, 1, False, False),
    "rows_float16": (np.array([[2, -1, 2], [-1, -1, 2], [2, -1, 2], [2, 0, 0], [-2, -3, -3]], dtype=np.float16),
                     2, 0, True, True),
    "introselect_32": (_topk_line(1, 32, 4, 0, "int64"), 12, -1, True, True),
    "introselect_nan": (_topk_line(2, 40, 3, 6, "float64"), 25, -1, True, True),
    "introselect_nan_smallest": (_topk_line(3, 40, 3, 6, "float32"), 30, 0, False, True),
    "unsorted_nan": (_topk_line(4, 29, 2, 3, "float64"), 9, -1, True, False),
    "partial_sort_heap": (_topk_line(5, 200, 3, 4, "float64"), 3, -1, True, True),
    "partial_sort_smallest": (_topk_line(6, 130, 2, 0, "int32").reshape(1, 130), 2, 1, False, False),
}


@pytest.mark.parametrize("name", list(TOPK_CASES))
def test_topk_index_among_ties_as_torch(name: str) -> None:
    values, k, dim, largest, ordered = TOPK_CASES[name]
    results = []
    for lib in (torch, mg):
        out = lib.topk(lib.tensor(values.copy()), k, dim=dim, largest=largest, sorted=ordered)
        results.append((_np(out.values), _np(out.indices)))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_array_equal(results[1][1], results[0][1])


@pytest.mark.parametrize("k", [1, 3, 6])
def test_topk_gradient_goes_to_torchs_tied_element(k: int) -> None:
    values = np.array([[1.0, 3.0, 3.0, 0.0, 3.0, 1.0, 1.0, 2.0], [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]])
    grads = []
    for lib in (torch, mg):
        x = lib.tensor(values.copy(), requires_grad=True)
        out = lib.topk(x, k, dim=1)
        (out.values * lib.tensor(np.arange(1.0, 2 * k + 1).reshape(2, k))).sum().backward()
        grads.append(_np(x.grad))
    np.testing.assert_array_equal(grads[1], grads[0])


# --- kthvalue/median/nanmedian of a bool tensor: PyTorch's 0-d kthvalue, its IndexError for an empty dim first ---

BOOL_ORDER_CASES = {
    "kthvalue_0d": lambda lib: lib.kthvalue(lib.tensor(True), 1),
    "kthvalue_0d_keepdim": lambda lib: lib.kthvalue(lib.tensor(False), 1, 0, True),
    "kthvalue_empty_dim": lambda lib: lib.kthvalue(lib.zeros((3, 0), dtype=lib.bool), 1),
    "kthvalue_rows": lambda lib: lib.kthvalue(lib.tensor([[True, False]]), 1),
    "kthvalue_other_dim_empty": lambda lib: lib.kthvalue(lib.zeros((2, 0), dtype=lib.bool), 1, 0),
    "nanmedian_empty_dim": lambda lib: lib.nanmedian(lib.zeros((2, 0), dtype=lib.bool), 1),
    "nanmedian_0d_dim": lambda lib: lib.nanmedian(lib.tensor(True), 0),
    "nanmedian_other_dim_empty": lambda lib: lib.nanmedian(lib.zeros((2, 0), dtype=lib.bool), 0),
    "median_empty_dim": lambda lib: lib.median(lib.zeros((0, 3), dtype=lib.bool), 0),
    "median_method_empty_dim": lambda lib: lib.zeros((2, 0), dtype=lib.bool).median(-1, True),
    "median_rows": lambda lib: lib.median(lib.tensor([[True, False]]), 1),
    "median_0d_dim": lambda lib: lib.median(lib.tensor(True), 0),
}


@pytest.mark.parametrize("name", list(BOOL_ORDER_CASES))
def test_bool_kthvalue_median_nanmedian_as_torch(name: str) -> None:
    _as_torch(BOOL_ORDER_CASES[name])


# --- sort(stable=False) among equal values on lines of more than 16: PyTorch's CPU order (its std::sort) ---

SORT_CASES = {   # (values, dim, descending)
    "ints_17": (_topk_line(10, 17, 2, 0, "int64"), -1, False),
    "floats_desc_40": (_topk_line(11, 40, 3, 0, "float32"), 0, True),
    "nan_ties": (_topk_line(12, 33, 2, 5, "float64"), -1, False),
    "nan_ties_desc": (_topk_line(13, 33, 2, 5, "float64"), -1, True),
    "rows_dim0": (_topk_line(14, 60, 2, 0, "int16").reshape(20, 3), 0, False),
    "bool_24": (_topk_line(15, 24, 1, 0, "int64").astype(bool), -1, True),
    "all_equal": (np.ones((20, 2), dtype=np.float32), 0, False),
}


@pytest.mark.parametrize("name", list(SORT_CASES))
def test_unstable_sort_order_among_ties_as_torch(name: str) -> None:
    values, dim, descending = SORT_CASES[name]
    got = []
    for lib in (torch, mg):
        x = lib.tensor(values.copy())
        out = lib.sort(x, dim=dim, descending=descending)
        got.append((_np(out.values), _np(out.indices), _np(x.argsort(dim=dim, descending=descending))))
    for ours, theirs in zip(got[1], got[0]):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("stable", [True, False])
def test_sort_keeps_stable_order_where_torch_does(stable: bool) -> None:
    """stable=True; a broadcast (stride-0) dim; PyTorch's radix sort of a long 1-D integer tensor."""
    cases = [lambda lib: lib.tensor([1.0, 2.0]).expand(20, 2).sort(dim=0, stable=stable),
             lambda lib: lib.tensor(_topk_line(16, 32768, 2, 0, "int64")).sort(stable=stable),
             lambda lib: lib.tensor(_topk_line(17, 40, 2, 0, "int64")).sort(stable=stable)]
    for call in cases:
        np.testing.assert_array_equal(_np(call(mg).indices), _np(call(torch).indices))


SORT_GRAD_CASES = {   # which of equal elements gets the gradient follows PyTorch's sort
    "msort": lambda lib, x: lib.msort(x),
    "sort_values": lambda lib, x: x.sort(dim=0, descending=True).values,
    "quantile_all": lambda lib, x: lib.quantile(x, 0.3),
    "quantile_dim0_lower": lambda lib, x: lib.quantile(x, lib.tensor([0.1, 0.6], dtype=lib.float64), dim=0,
                                                       interpolation="lower"),
    "nanquantile_nearest": lambda lib, x: lib.nanquantile(x.reshape(-1), 0.75, interpolation="nearest"),
}


@pytest.mark.parametrize("name", list(SORT_GRAD_CASES))
def test_gradient_through_sort_among_ties_as_torch(name: str) -> None:
    values = _topk_line(18, 42, 3, 4, "float64").reshape(21, 2)
    grads = []
    for lib in (torch, mg):
        x = lib.tensor(values.copy(), requires_grad=True)
        y = SORT_GRAD_CASES[name](lib, x)
        (y * lib.tensor(np.linspace(-1.0, 2.0, y.numel()).reshape(tuple(y.shape)))).sum().backward()
        grads.append(_np(x.grad))
    np.testing.assert_array_equal(grads[1], grads[0])


# --- mode on lines of more than 16 elements: PyTorch's index among equal values, and its value with a NaN ---

MODE_CASES = {   # (values, dim)
    "ints_29": (_topk_line(20, 29 * 4, 4, 0, "int64").reshape(4, 29), -1),
    "bools_19": (np.array([1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1], dtype=bool), 0),
    "float16_dim0": (_topk_line(21, 40 * 3, 3, 0, "float16").reshape(40, 3), 0),
    # a NaN splits the run of zeros in PyTorch's sort: its mode is -0.9 here, not the four zeros
    "nan_splits_run": (np.array([-0.5, 1.0, -1.5, -0.6, nan, -0.6, -1.5, nan, -0.5, -0.1, 0.5, -0.5, -0.0, -0.3, 0.0,
                                 -0.3, -1.4, -0.9, -0.7, 0.8, -0.9, -1.0, 0.1, 0.7, 0.1, -0.0, -1.6, 0.4, 1.1, -0.3,
                                 -0.0, -0.9, -0.7, 0.1, -0.2, nan, 0.2], dtype=np.float32), -1),
    "nan_rows": (_topk_line(22, 25 * 5, 2, 30, "float64").reshape(5, 25), 1),
}


@pytest.mark.parametrize("name", list(MODE_CASES))
def test_mode_among_ties_on_long_lines_as_torch(name: str) -> None:
    values, dim = MODE_CASES[name]
    got = []
    for lib in (torch, mg):
        out = lib.mode(lib.tensor(values.copy()), dim)
        got.append((_np(out.values), _np(out.indices)))
    np.testing.assert_array_equal(got[1][0], got[0][0])
    np.testing.assert_array_equal(got[1][1], got[0][1])


# --- unique with NaNs: the NaNs' inverse indices (PyTorch's sort order), and unique(dim=)'s NaN-broken row sort ---

UNIQUE_NAN_CASES = {   # (values, dim)
    "flat_inverse": (_topk_line(30, 36, 3, 7, "float32").reshape(12, 3), None),
    "flat_float16": (_topk_line(31, 20, 2, 4, "float16"), None),
    "dim0_scalars": (np.array([-inf, nan, 1.0]), 0),
    "dim0_repeats": (np.array([1.0, nan, 0.0, nan, 1.0], dtype=np.float32), 0),
    "dim1_rows": (np.array([[0.1, 1.2, -3.4, 0.8, inf], [nan, -1.6, -0.4, nan, -0.9]], dtype=np.float16), 1),
    "dim0_rows": (np.array([[1.0, nan], [0.0, 2.0], [1.0, nan], [-1.0, 0.0], [0.0, 2.0]]), 0),
}


@pytest.mark.parametrize("name", list(UNIQUE_NAN_CASES))
def test_unique_with_nan_as_torch(name: str) -> None:
    values, dim = UNIQUE_NAN_CASES[name]
    got = []
    for lib in (torch, mg):
        out = lib.unique(lib.tensor(values.copy()), return_inverse=True, return_counts=True, dim=dim)
        got.append([_np(o) for o in out])
    for ours, theirs in zip(got[1], got[0]):
        np.testing.assert_array_equal(ours, theirs)


# --- cumsum starts at +0.0 and cumprod at 1 (complex: 1 · (inf + 0j) = inf + NaN j), as PyTorch's running loops ---

SCAN_START_CASES = {
    "cumsum_minus_zero": (lambda lib, x: lib.cumsum(x, 0), np.array([-0.0, -0.0, 1.0, -0.0], dtype=np.float32)),
    "cumsum_minus_zero_rows": (lambda lib, x: x.cumsum(1), np.array([[-0.0, -0.0], [2.0, -0.0]])),
    "cumsum_float16": (lambda lib, x: x.cumsum(-1), np.array([-0.0, -0.0], dtype=np.float16)),
    "cumsum_complex": (lambda lib, x: x.cumsum(0), np.array([complex(-0.0, -0.0), 1j], dtype=np.complex64)),
    "cumprod_complex_inf": (lambda lib, x: lib.cumprod(x, 0), np.array([complex(inf, 0), -2j], dtype=np.complex64)),
    "cumprod_complex_minus_inf_rows": (lambda lib, x: lib.cumprod(x, 1),
                                       np.array([[complex(-inf, 0), 2 + 1j], [0.8 - 2j, complex(nan, 0)]])),
}


@pytest.mark.parametrize("name", list(SCAN_START_CASES))
def test_running_sum_and_product_start_as_torch(name: str) -> None:
    call, values = SCAN_START_CASES[name]
    theirs, ours = _np(call(torch, torch.tensor(values.copy()))), _np(call(mg, mg.tensor(values.copy())))
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    for part in (np.real, np.imag):
        np.testing.assert_array_equal(np.signbit(part(ours)), np.signbit(part(theirs)))


# --- an integer dtype= for an input that requires grad: PyTorch's RuntimeError (the result left the graph) ---

INT_DTYPE_CASES = {
    "cumsum": lambda lib, x: x.cumsum(0, dtype=lib.int64),
    "cumsum_int32": lambda lib, x: lib.cumsum(x, dim=0, dtype=lib.int32),
    "cumprod": lambda lib, x: lib.cumprod(x, 0, dtype=lib.int16),
    "prod_bool": lambda lib, x: x.prod(dtype=lib.bool),
    "prod_dim": lambda lib, x: lib.prod(x, 0, dtype=lib.int32),
}


@pytest.mark.parametrize("name", list(INT_DTYPE_CASES))
def test_integer_dtype_of_input_requiring_grad_raises_as_torch(name: str) -> None:
    call = INT_DTYPE_CASES[name]
    expected = _raised(torch, lambda lib: call(lib, lib.tensor([1.5, 2.0], requires_grad=True)))
    assert expected is RuntimeError
    got = _raised(mg, lambda lib: call(lib, lib.tensor([1.5, 2.0], requires_grad=True)))
    assert got is not None and issubclass(got, expected)
    for lib in (torch, mg):   # without a recorded gradient it is a plain cast, as PyTorch's
        with lib.no_grad():
            quiet = call(lib, lib.tensor([1.5, 2.0], requires_grad=True))
        assert quiet.dtype == call(lib, lib.tensor([1.5, 2.0])).dtype
    np.testing.assert_array_equal(_np(call(mg, mg.tensor([1.5, 2.0]))), _np(call(torch, torch.tensor([1.5, 2.0]))))


# --- a scan of a 0-d tensor copies it (-0.0 and inf + 0j stay), and a 0-d or empty bool tensor passes ---

ZERO_D_CASES = {
    "cumsum_minus_zero": (lambda lib, x: lib.cumsum(x, 0), -0.0),
    "cumprod_minus_zero": (lambda lib, x: x.cumprod(-1), -0.0),
    "logcumsumexp_minus_zero": (lambda lib, x: lib.logcumsumexp(x, 0), -0.0),
    "median_dim_minus_zero": (lambda lib, x: lib.median(x, 0).values, -0.0),
    "cumprod_complex_inf": (lambda lib, x: lib.cumprod(x, 0), complex(inf, 0)),
}


@pytest.mark.parametrize("name", list(ZERO_D_CASES))
def test_scan_of_0d_tensor_copies_as_torch(name: str) -> None:
    call, value = ZERO_D_CASES[name]
    got = []
    for lib in (torch, mg):
        x = lib.tensor(value, requires_grad=not isinstance(value, complex))
        y = call(lib, x)
        grad = None
        if x.requires_grad:
            y.backward()
            grad = _np(x.grad)
        got.append((_np(y), grad))
    (theirs, their_grad), (ours, our_grad) = got
    np.testing.assert_array_equal(ours, theirs)
    for part in (np.real, np.imag):
        np.testing.assert_array_equal(np.signbit(part(ours)), np.signbit(part(theirs)))
    np.testing.assert_array_equal(our_grad, their_grad)


BOOL_SCAN_CASES = {
    "cumsum_0d": lambda lib: lib.cumsum(lib.tensor(True), 0, dtype=lib.bool),
    "cumprod_0d": lambda lib: lib.cumprod(lib.tensor(False), 0, dtype=lib.bool),
    "cumsum_empty": lambda lib: lib.cumsum(lib.zeros((2, 0), dtype=lib.bool), 0, dtype=lib.bool),
    "cumsum__0d": lambda lib: lib.tensor(True).cumsum_(0),
    "cumprod__empty": lambda lib: lib.zeros((0, 3), dtype=lib.bool).cumprod_(1),
    "cumsum__rows": lambda lib: lib.tensor([[True], [False]]).cumsum_(0),
    "cumsum_rows": lambda lib: lib.cumsum(lib.tensor([True, False]), 0, dtype=lib.bool),
}


@pytest.mark.parametrize("name", list(BOOL_SCAN_CASES))
def test_bool_scans_as_torch(name: str) -> None:
    _as_torch(BOOL_SCAN_CASES[name])


# --- which zero (0.0 or -0.0) a result holds: PyTorch's order among equal values decides it ---

def _signed_zeros(seed: int, n: int, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.choice([0.0, -0.0, 1.0, -1.0, 0.5], n).astype(dtype)
    values[:2] = [0.0, -0.0]
    return values


ZERO_SIGN_CASES = {
    "logcumsumexp_leading": lambda lib, x: lib.logcumsumexp(lib.tensor([-0.0, -0.0, 1.0], dtype=x.dtype), 0),
    "logcumsumexp_rows": lambda lib, x: (-x.reshape(4, 6).abs()).logcumsumexp(0),
    "median_all": lambda lib, x: x.median(),
    "median_all_transposed": lambda lib, x: x.reshape(4, 6).t().median(),
    "nanmedian_all": lambda lib, x: lib.nanmedian(x[:21]),
    "nanmedian_all_transposed": lambda lib, x: x[:20].reshape(4, 5).t().nanmedian(),
    "unique_flat": lambda lib, x: lib.unique(x, return_inverse=True)[0],
    "unique_rows": lambda lib, x: lib.unique(x.reshape(24, 1) * 0, dim=0),
    "sort_values": lambda lib, x: x.sort(descending=True).values,
}


@pytest.mark.parametrize("seed", [40, 42])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(ZERO_SIGN_CASES))
def test_sign_of_zero_in_results_as_torch(name: str, dtype: str, seed: int) -> None:
    call, values = ZERO_SIGN_CASES[name], _signed_zeros(seed, 24, dtype)
    theirs, ours = _np(call(torch, torch.tensor(values.copy()))), _np(call(mg, mg.tensor(values.copy())))
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


# --- searchsorted/bucketize of bool tensors: no values give PyTorch's empty result (its kernel refuses bools) ---

SEARCH_BOOL_CASES = {
    "no_values": lambda lib: lib.searchsorted(lib.tensor([False, True, True]), lib.zeros((2, 0), dtype=lib.bool)),
    "bucketize_no_values": lambda lib: lib.bucketize(lib.zeros(0, dtype=lib.bool), lib.tensor([False, True])),
    "values": lambda lib: lib.searchsorted(lib.tensor([False, True]), lib.tensor([True])),
    "empty_sequence": lambda lib: lib.searchsorted(lib.zeros(0, dtype=lib.bool), lib.tensor([True])),
}


@pytest.mark.parametrize("name", list(SEARCH_BOOL_CASES))
def test_bool_searchsorted_as_torch(name: str) -> None:
    _as_torch(SEARCH_BOOL_CASES[name], values=False)


@pytest.mark.parametrize("k", [2, 5, 9])
def test_topk_unsorted_order_without_ties_as_torch(k: int) -> None:
    """sorted=False: PyTorch returns the k values in its std::nth_element's order (not sorted)."""
    values = np.random.default_rng(50).normal(size=(3, 11))
    got = []
    for lib in (torch, mg):
        x = lib.tensor(values.copy(), requires_grad=True)
        out = lib.topk(x, k, sorted=False, largest=k != 5)
        (out.values * lib.tensor(np.arange(3.0 * k).reshape(3, k))).sum().backward()
        got.append((_np(out.values), _np(out.indices), _np(x.grad)))
    for ours, theirs in zip(got[1], got[0]):
        np.testing.assert_array_equal(ours, theirs)


# --- shape refusals: PyTorch's RuntimeError (they were a bare ValueError / TypeError) ---

SHAPE_REFUSALS = {
    "diff_prepend_shape": lambda lib: lib.diff(lib.zeros((2, 3)), dim=0, prepend=lib.zeros((1, 2))),
    "diff_append_dims": lambda lib: lib.diff(lib.zeros((2, 3)), dim=0, append=lib.zeros(3)),
    "histogram_weight": lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), 3, weight=lib.tensor([1.0, 2.0, 3.0])),
    "histogramdd_weight": lambda lib: lib.histogramdd(lib.zeros((3, 2)), 3, weight=lib.zeros(4)),
    "searchsorted_sorter_shape": lambda lib: lib.searchsorted(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0]),
                                                              sorter=lib.tensor([0, 1])),
    "searchsorted_sorter_dtype": lambda lib: lib.searchsorted(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0]),
                                                              sorter=lib.tensor([0, 1, 2], dtype=lib.int32)),
}


@pytest.mark.parametrize("name", list(SHAPE_REFUSALS))
def test_shape_refusals_raise_torch_error_class(name: str) -> None:
    expected = _raised(torch, SHAPE_REFUSALS[name])
    assert expected is RuntimeError
    got = _raised(mg, SHAPE_REFUSALS[name])
    assert got is not None and issubclass(got, expected), got


# --- histogram's weights are summed in the input's dtype, point by point, as PyTorch's (float32 that cancels: 0) ---

@pytest.mark.parametrize("density", [False, True])
@pytest.mark.parametrize("dims", [1, 2])
def test_histogram_weights_summed_in_input_dtype_as_torch(density: bool, dims: int) -> None:
    x = np.array([1.0, 1.0, 3.0, 1.0, 1.0, 2.5], dtype=np.float32)
    w = np.array([0.2, 2.0, 0.5, -1.0, -1.2, 0.25], dtype=np.float32)   # the weights of the ones cancel in float32
    got = []
    for lib in (torch, mg):
        if dims == 1:
            out = lib.histogram(lib.tensor(x), lib.tensor([0.9906361, 1.3549932]), weight=lib.tensor(w),
                                density=density)
        else:
            points = lib.tensor(np.stack([x, x[::-1]], axis=1))
            out = lib.histogramdd(points, [2, 3], range=[0.0, 3.0, 0.0, 3.0], weight=lib.tensor(w), density=density)
        got.append(_np(out.hist))
    np.testing.assert_array_equal(got[1], got[0])


@pytest.mark.parametrize("minlength", [0, 4])
def test_bincount_float32_weights_summed_in_float32_as_torch(minlength: int) -> None:
    index = np.array([1, 1, 2, 1, 1, 0])
    weights = np.array([0.2, 2.0, 0.5, -1.0, -1.2, 0.1], dtype=np.float32)
    got = []
    for lib in (torch, mg):
        w = lib.tensor(weights.copy(), requires_grad=lib is mg)
        out = lib.bincount(lib.tensor(index), w, minlength=minlength)
        got.append((_np(out), str(out.dtype).replace("torch.", "")))
    np.testing.assert_array_equal(got[1][0], got[0][0])
    assert got[1][1] == got[0][1]
