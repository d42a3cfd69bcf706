"""Reductions, scans, sorting and statistics against PyTorch: the discrepancies a probe found, one
regression each.

As in ``test_statistics.py``: each case is ``fn(lib, *arrays)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch``; outputs (values, dtypes, shapes, indices) and input gradients
must agree, every differentiable case but those with NaN gradients passes ``mg.gradcheck``, and the
cases run on the GPU (a real one, or the strict CuPy stand-in) with the CPU's results.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests

import minigrad as mg

NAN = math.nan
RNG = np.random.default_rng(34)
X34 = RNG.standard_normal((3, 4))
X234 = RNG.standard_normal((2, 3, 4))
INTS = np.array([[3, 1, 4, 1], [5, 9, 2, 6], [5, 3, 5, 8]])
UINT8 = np.array([[200, 100, 0], [3, 4, 250]], dtype=np.uint8)
WITH_NAN = np.array([[1.0, NAN, 3.0, NAN], [2.0, 5.0, 5.0, 0.0], [0.5, -1.0, 0.25, -1.0]])
ROWS = np.array([[1, 2], [0, 5], [1, 2], [0, 5], [-1, 7]])
SLICES = np.array([[[1, 2], [3, 4]], [[1, 2], [0, 4]], [[1, 2], [3, 4]]])

CASES: dict[str, tuple[Callable, tuple]] = {
    # dim=() or [] reduces every dim in PyTorch (NumPy's axis=() reduces none): was the input unchanged
    "sum_mean_empty_dim": (lambda t, x: [x.sum(()), t.sum(x, []), x.mean(()), t.mean(x, dim=[], keepdim=True),
                                         t.sum(x, (), True)], (X234,)),
    "amax_empty_dim": (lambda t, x: [x.amax(()), t.amin(x, [])], (X34,)),
    # an integer or bool dtype= is the result's dtype (was int64)
    "int_dtype_kept": (lambda t, x: [x.sum(1, dtype=t.int32), x.prod(0, dtype=t.int32), x.cumsum(1, dtype=t.int32),
                                     x.cumprod(0, dtype=t.int16), t.nansum(x, 1, dtype=t.int32),
                                     x.sum(dtype=t.bool), x.prod(1, dtype=t.bool), (x - 1).prod(1, dtype=t.bool)],
                       (INTS,)),
    # unsigned ints sum to int64 (was uint64); all/any of uint8 give uint8 (was bool)
    "uint8": (lambda t, x: [x.sum(), x.sum(1), t.nansum(x, 0), x.prod(1), x.cumsum(1), x.all(), x.any(1),
                            t.all(x, 0, keepdim=True)], (UINT8,)),
    # logsumexp of ints and bools: the default float dtype (was float64; float16 and inf for uint8)
    "logsumexp_ints": (lambda t, x: [t.logsumexp(x, 1), t.logsumexp(x > 3, 0)], (INTS,)),
    "logsumexp_uint8": (lambda t, x: [t.logsumexp(x, 1), x.logsumexp(dim=(0, 1))], (UINT8,)),
    # amax/amin/aminmax of a line with a NaN: NaN gradients for that line, as PyTorch (max() shares among NaNs)
    "amax_nan_gradient": (lambda t, x: [x.amax(1), x.amin(0, keepdim=True), *t.aminmax(x, dim=1), x.max()],
                          (WITH_NAN,)),
    # softmax / log_softmax take dtype=, as torch.softmax (was a TypeError)
    "softmax_dtype": (lambda t, x: [t.softmax(x.float(), 1, dtype=t.float64), x.float().log_softmax(-1, t.float64),
                                    t.log_softmax(x, dim=0, dtype=t.float64)], (X34,)),
    # torch.max(a, other=b) (was a TypeError)
    "max_min_other": (lambda t, x: [t.max(x, other=x.flip(1)), t.min(x, other=x.flip(0))], (X34,)),
    # unique / unique_consecutive with dim= (was NotImplementedError); detached: their values
    # require grad and backward raises, as PyTorch's
    "unique_dim": (lambda t, x: [t.unique(x.detach(), dim=0, return_inverse=True, return_counts=True),
                                 x.detach().unique(dim=1), t.unique(x.detach(), dim=-1, return_inverse=True)], (ROWS,)),
    "unique_dim_3d": (lambda t, x: [t.unique(x.detach(), dim=d, return_inverse=True, return_counts=True)
                                    for d in range(3)],
                      (SLICES,)),
    "unique_dim_float_bool": (lambda t, x: [t.unique(x.detach().round(), dim=1, return_counts=True),
                                            t.unique(x > 0, dim=0, return_inverse=True)],
                              (RNG.standard_normal((2, 9)),)),
    "unique_dim_nan_and_zero_signs": (lambda t, x: t.unique(x.detach(), dim=0, return_counts=True),
                                      (np.array([[1.0, NAN], [1.0, NAN], [-0.0, 1.0], [0.0, 1.0]]),)),
    "unique_dim_empty": (lambda t, x: [t.unique(x.detach(), dim=0, return_inverse=True, return_counts=True),
                                       t.unique(x.detach().T, dim=1, return_inverse=True, return_counts=True)],
                         (np.zeros((0, 2)),)),
    "unique_consecutive_dim": (lambda t, x: [t.unique_consecutive(x, dim=0, return_inverse=True, return_counts=True),
                                             x.unique_consecutive(dim=1, return_counts=True)],
                               (np.array([[1, 2, 2], [1, 2, 2], [0, 5, 5], [1, 2, 2]]),)),
}

NO_GRADCHECK = {"amax_nan_gradient",   # NaN gradients
                "softmax_dtype"}       # finite differences through a float32 cast

test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK)
test_same_on_gpu_as_on_cpu = gpu_case_tests(CASES)


def test_var_std_over_an_empty_dim_list_reduce_every_dim(torch: Any) -> None:
    """Values as PyTorch's; the gradient is var()'s (PyTorch's backward of dim=() treats it as no dim: inf)."""
    x = mg.tensor(X234, requires_grad=True)
    tx = torch.tensor(X234)
    for ours, theirs, whole in ((x.var(()), tx.var(()), x.var()),
                                (mg.std(x, [], correction=0), torch.std(tx, [], correction=0), x.std(correction=0)),
                                (mg.var_mean(x, ())[0], torch.var_mean(tx, ())[0], x.var())):
        assert ours.shape == () and np.isclose(ours.item(), theirs.item(), rtol=1e-12)
        assert np.isclose(ours.item(), whole.item(), rtol=1e-12)
    assert mg.gradcheck(lambda a: [a.var(()), a.std([], keepdim=True)], [x])
    assert x.var(axis=()).shape == X234.shape   # NumPy's keyword: over no axis


def test_numpy_axis_keywords_keep_numpy_meaning() -> None:
    x = mg.tensor(X34)
    assert x.sum(axis=()).shape == (3, 4) and x.mean(axis=()).shape == (3, 4)
    assert mg.tensor(UINT8).sum(axis=1).dtype == np.int64


@pytest.mark.parametrize("call", [
    lambda x: mg.sort(x, dim=1), lambda x: mg.argsort(x, 1), lambda x: mg.quantile(x, 0.5, dim=1),
    lambda x: mg.nanquantile(x, 0.5, dim=-2), lambda x: mg.unique(x, dim=0),
])
def test_zero_dim_input_refuses_a_dim_out_of_range_as_torch(call: Callable) -> None:
    with pytest.raises(IndexError, match="out of range"):
        call(mg.tensor(2.5, dtype=mg.float64))


def test_errors_name_the_public_op_and_the_shape() -> None:
    with pytest.raises(ValueError, match=r"^amax: cannot reduce axis 0, which has size 0, of shape \(0, 3\)"):
        mg.amax(mg.zeros((0, 3)), 0)
    with pytest.raises(ValueError, match=r"^amin: cannot reduce an empty tensor of shape \(0,\)"):
        mg.zeros(0).amin()
    with pytest.raises(ValueError, match=r"unique: dim 1 of shape \(0, 2\)"):
        mg.unique(mg.zeros((0, 2)), dim=1)
    with pytest.raises(TypeError, match="max: give a dim or other="):
        mg.max(mg.zeros(2), 0, other=mg.zeros(2))


def test_count_nonzero_over_an_empty_dim_tuple_counts_everything(torch: Any) -> None:
    x = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    assert mg.count_nonzero(mg.tensor(x), ()).item() == torch.count_nonzero(torch.tensor(x), ()).item() == 3
    assert mg.count_nonzero(mg.tensor(x), axis=()).shape == (2, 3)   # NumPy's axis=(): nothing reduced
