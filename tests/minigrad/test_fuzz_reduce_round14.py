"""Reductions and scans against torch: the cases a differential fuzzer found (round 14).

Each case runs the same call on torch and on minigrad and compares values, dtypes, shapes and the gradient of a
weighted sum (never a hard-coded outcome)."""

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


def _outputs(out: Any) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _run(lib: Any, call: Callable, x: np.ndarray) -> tuple[list, np.ndarray]:
    """The outputs of ``call(lib, x)`` and x's gradient of Σ w·out over the float outputs (fixed weights)."""
    t = lib.tensor(x.copy(), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = _outputs(call(lib, t))
        total = None
        for i, out in enumerate(outs):
            if out.dtype in (lib.float16, lib.float32, lib.float64, lib.complex64):
                w = np.linspace(-1.0, 2.0, max(out.numel(), 1))[:out.numel()].reshape(tuple(out.shape)) + 0.5 * i
                term = (out * lib.tensor(w.astype(np.float32 if out.dtype != lib.float64 else np.float64))).sum()
                total = term if total is None else total + term
        total.backward()
    return outs, _np(t.grad)


def _same(call: Callable, x: np.ndarray) -> None:
    (t_outs, t_grad), (m_outs, m_grad) = _run(torch, call, x), _run(mg, call, x)
    assert len(t_outs) == len(m_outs)
    for t, m in zip(t_outs, m_outs):
        assert tuple(t.shape) == tuple(m.shape) and str(t.dtype).replace("torch.", "") == str(m.dtype)
        np.testing.assert_allclose(_np(m), _np(t), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(m_grad, t_grad, rtol=1e-6, atol=1e-7, equal_nan=True)


# --- prod / cumprod gradients with inf or NaN factors: PyTorch divides the result by x where x has no zero ---

PROD_CASES = {
    "prod_nan": (lambda lib, x: x.prod(-1), [3.0, 3.0, 3.0, nan]),
    "prod_inf_keepdim": (lambda lib, x: lib.prod(x, -1, keepdim=True), [-inf, -3.0]),
    "prod_all_inf": (lambda lib, x: x.prod(), [[2.0, inf], [1.0, -1.0]]),
    "prod_all_two_zeros_and_inf": (lambda lib, x: x.prod(), [[0.0, -3.0, -1.0], [-inf, 0.0, 2.0]]),
    "prod_dim_zero_and_inf": (lambda lib, x: x.prod(1), [[0.0, inf, 2.0], [1.0, 2.0, 3.0]]),
    "cumprod_nan": (lambda lib, x: lib.cumprod(x, dim=-1), [[0.7, 0.27], [-0.27, nan]]),
    "cumprod_inf": (lambda lib, x: x.cumprod(0), [[1.0, -0.1], [-0.2, inf]]),
    "cumprod_inf_then_zero": (lambda lib, x: x.cumprod(1), [[2.0, inf, 0.0, 3.0], [1.0, 2.0, 3.0, 4.0]]),
    "cumprod_zeros_other_row_nan": (lambda lib, x: x.cumprod(1), [[0.5, 0.0, 2.0, 0.0], [1.0, nan, 3.0, 4.0]]),
    "cumprod_zero_then_inf": (lambda lib, x: x.cumprod(0), [2.0, 0.0, inf, 3.0]),
    "cumprod_finite_zeros": (lambda lib, x: x.cumprod(-1), [[1.5, 0.0, 2.0, 0.0, 3.0], [0.0, 2.0, -1.0, 4.0, 0.5]]),
}


@pytest.mark.parametrize("name", list(PROD_CASES))
def test_prod_cumprod_gradient_as_torch(name: str) -> None:
    call, x = PROD_CASES[name]
    _same(call, np.array(x, dtype=np.float64))


# --- var/std without degrees of freedom, reduced over every element: PyTorch's inf, NaN where x is the mean ---

VAR_CASES = {
    "var_mean_one_element_correction2": (lambda lib, x: lib.var_mean(x, correction=2), [0.79]),
    "var_0d_dim_correction2": (lambda lib, x: lib.var_mean(x, -1, correction=2, keepdim=True), 0.69),
    "var_two_elements_correction2": (lambda lib, x: x.var(correction=2), [0.7, 0.2]),
    "var_inf_0d_correction2": (lambda lib, x: x.var(0, correction=2, keepdim=True), inf),
    "var_all_correction3": (lambda lib, x: x.var(correction=3), [[0.7, 0.7], [0.2, 0.7]]),
    "var_dim_correction2": (lambda lib, x: x.var(1, correction=2), [[0.7, 0.2], [0.1, 0.4]]),
}


@pytest.mark.parametrize("name", list(VAR_CASES))
def test_var_without_degrees_of_freedom_as_torch(name: str) -> None:
    call, x = VAR_CASES[name]
    _same(call, np.array(x, dtype=np.float32))


# --- median/nanmedian of an empty integer tensor: PyTorch's NaN cast to the dtype, not an error ---

@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median_of_empty_integer_tensor_as_torch(name: str, dtype: str) -> None:
    x = np.zeros((0, 3), dtype=dtype)
    t, m = getattr(torch, name)(torch.from_numpy(x)), getattr(mg, name)(mg.tensor(x))
    assert m.shape == () and str(m.dtype) == str(t.dtype).replace("torch.", "") and m.item() == t.item()


# --- kthvalue among ties: PyTorch's CPU quickselect picks the index (values and gradient go with it) ---

_TIED = np.random.default_rng(14).integers(-3, 4, size=(3, 40)).astype(np.float64)
_TIED[0, ::7] = nan

KTH_CASES = {
    "int_k1": ([-3.0, 1.0, -3.0, 0.0], 1, -1),
    "k2_rows": ([[-3.0, 1.0, 2.0], [0.0, 0.0, 0.0]], 2, 1),
    "k3": ([0.0, 2.0, 2.0, 1.0], 3, 0),
    "all_equal_k1": ([1.0] * 5, 1, 0),
    "all_equal_k4": ([1.0] * 5, 4, 0),
    "mixed_k5": ([2.0, 2.0, 1.0, 1.0, 2.0, 1.0], 5, 0),
    "dim0_columns": ([[-1.0, 1.0, 3.0], [-1.0, 0.0, -1.0], [0.0, -3.0, 0.0], [-1.0, 1.0, 3.0]], 2, 0),
    "long_rows_k17": (_TIED, 17, 1),
    "long_rows_k38_nan": (_TIED, 38, -1),
}


@pytest.mark.parametrize("name", list(KTH_CASES))
def test_kthvalue_index_among_ties_as_torch(name: str) -> None:
    x, k, dim = KTH_CASES[name]
    _same(lambda lib, t: lib.kthvalue(t, k, dim), np.array(x, dtype=np.float64))
    ints = np.nan_to_num(np.array(x), nan=9).astype(np.int32)
    t, m = torch.kthvalue(torch.from_numpy(ints), k, dim), mg.kthvalue(mg.tensor(ints), k, dim)
    assert np.array_equal(_np(m.indices), _np(t.indices)) and np.array_equal(_np(m.values), _np(t.values))


# --- bincount of an empty input with weights: int64 zeros, as PyTorch ---

@pytest.mark.parametrize("dtype", ["uint8", "int64"])
@pytest.mark.parametrize("weights", ["float32", "float64", "int32"])
@pytest.mark.parametrize("minlength", [0, 2])
def test_bincount_empty_with_weights_as_torch(dtype: str, weights: str, minlength: int) -> None:
    x, w = np.zeros(0, dtype=dtype), np.zeros(0, dtype=weights)
    t = torch.bincount(torch.from_numpy(x), weights=torch.from_numpy(w), minlength=minlength)
    m = mg.bincount(mg.tensor(x), weights=mg.tensor(w), minlength=minlength)
    assert m.shape == tuple(t.shape) and str(m.dtype) == str(t.dtype).replace("torch.", "")
    assert np.array_equal(_np(m), _np(t))


# --- mode of a line with NaN (up to 16 elements): PyTorch's sort leaves NaN in place, each NaN its own run ---

MODE_CASES = {
    "nan_first": [np.nan, 3.0],
    "nan_rows": [[-0.62, -1.23], [np.nan, 1.39]],
    "nan_splits_run": [1.0, np.nan, 1.0, 2.0, 2.0, np.nan],
    "smaller_jumps_nan": [2.0, np.nan, 1.0, 1.0, np.nan, np.nan, 0.5],
    "sixteen": [1.0, np.nan, 1.0, 3.0, np.nan, 2.0, 2.0, 0.0, np.nan, 1.0, 2.0, np.nan, 3.0, 3.0, 0.0, 2.0],
}


@pytest.mark.parametrize("name", list(MODE_CASES))
@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_mode_with_nan_as_torch(name: str, dtype: Any) -> None:
    x = np.array(MODE_CASES[name], dtype=dtype)
    dim = 0 if x.ndim == 1 else 1
    call = (lambda lib, t: lib.mode(t, dim, keepdim=True)) if dtype == np.float64 else None
    if call is not None:
        _same(call, x)
    t, m = torch.mode(torch.from_numpy(x), dim), mg.mode(mg.tensor(x), dim)
    assert np.array_equal(_np(m.indices), _np(t.indices))
    assert np.array_equal(_np(m.values), _np(t.values), equal_nan=True)


# --- refused dtypes and empty dims: PyTorch's error class (minigrad's is also a TypeError/ValueError) ---

ERROR_CASES = {
    "nanmean_int": (lambda lib: lib.nanmean(lib.tensor([[2, 0], [-3, -1]]), 0)),
    "std_mean_int": (lambda lib: lib.std_mean(lib.tensor([[-2], [1]]), 1)),
    "var_mean_bool": (lambda lib: lib.var_mean(lib.tensor([True, False]))),
    "norm_int": (lambda lib: lib.norm(lib.tensor(2), p=2)),
    "logcumsumexp_int": (lambda lib: lib.logcumsumexp(lib.tensor([0, 3, 1]), 0)),
    "logcumsumexp_bool": (lambda lib: lib.logcumsumexp(lib.tensor(True), 0)),
    "median_bool": (lambda lib: lib.median(lib.tensor([True, False, True]))),
    "nanmedian_bool": (lambda lib: lib.nanmedian(lib.tensor([True, False]), 0)),
    "kthvalue_bool": (lambda lib: lib.kthvalue(lib.tensor([False, True, True]), 2, 0)),
    "kthvalue_empty_dim": (lambda lib: lib.kthvalue(lib.zeros(0, 3), 1, 0)),
    "histc_int": (lambda lib: lib.histc(lib.tensor([1, 2], dtype=lib.int32), bins=2)),
}


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_refusals_raise_torch_error_class(name: str) -> None:
    with pytest.raises(Exception) as theirs:
        ERROR_CASES[name](torch)
    with pytest.raises(theirs.type):
        ERROR_CASES[name](mg)


@pytest.mark.parametrize("dtype", ["float64", "int64", "complex128"])
def test_nansum_of_complex_with_dtype_refused_as_torch(dtype: str) -> None:
    x = np.array([1 + 2j, 3 - 1j], dtype=np.complex64)
    with pytest.raises(RuntimeError):
        torch.nansum(torch.from_numpy(x), dtype=getattr(torch, dtype))
    with pytest.raises(RuntimeError):   # not the sum of the real parts
        mg.nansum(mg.tensor(x), dtype=getattr(mg, dtype))


@pytest.mark.parametrize("correction", [1, 2, 3])
@pytest.mark.parametrize("name", ["var", "std", "var_mean"])
def test_complex_var_without_degrees_of_freedom_as_torch(name: str, correction: int) -> None:
    x = np.array([[1 + 1j, 1 + 1j], [1j, 2j], [-2 + 1j, 1j]], dtype=np.complex64)   # NaN where a part is 0 / 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _outputs(getattr(torch, name)(torch.from_numpy(x), 1, correction=correction))
        ours = _outputs(getattr(mg, name)(mg.tensor(x), 1, correction=correction))
    for t, m in zip(theirs, ours):
        assert str(m.dtype) == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(_np(m), _np(t), rtol=1e-6, equal_nan=True)


# --- linalg.vector_norm takes float16, as PyTorch's (the matrix norms refuse it); refused dtype= as RuntimeError ---

@pytest.mark.parametrize("ord", [2, 1, 0, inf, -inf, 0.5, 3, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_vector_norm_of_float16_as_torch(ord: float, keepdim: bool) -> None:
    x = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], dtype=np.float16)
    t = torch.linalg.vector_norm(torch.from_numpy(x), ord, 1, keepdim)
    m = mg.linalg.vector_norm(mg.tensor(x), ord, 1, keepdim)
    assert m.shape == tuple(t.shape) and str(m.dtype) == "float16"
    np.testing.assert_allclose(_np(m).astype(np.float32), _np(t).astype(np.float32), rtol=2e-3)


def test_vector_norm_complex_with_real_dtype_raises_runtime_error() -> None:
    x = np.array([1 + 2j, 3 - 1j], dtype=np.complex64)
    with pytest.raises(RuntimeError):
        torch.linalg.vector_norm(torch.from_numpy(x), dtype=torch.float64)
    with pytest.raises(RuntimeError):
        mg.linalg.vector_norm(mg.tensor(x), dtype=mg.float64)
