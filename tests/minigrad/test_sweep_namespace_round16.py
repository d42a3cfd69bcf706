"""The torch.* namespace and Tensor methods against minigrad: the cases a round-16 breadth sweep (every public
callable of torch and every public torch.Tensor method with a minigrad counterpart, called with one-tensor,
two-tensor, dim, keepdim, dtype= and out= forms over float/int/bool/complex, 0-d, 0-size and non-contiguous inputs,
values, dtypes, shapes, aliasing, error classes and gradients compared) found differing from PyTorch 2.13."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("p", [-1, -0.5, -math.inf, math.inf])
@pytest.mark.parametrize("dim", [None, 0, (0, 1)])
def test_norm_with_no_identity_over_an_empty_dim_raises(p: float, dim) -> None:
    # torch.norm(torch.zeros(0, 4), -1): RuntimeError (a negative p has no identity); ours gave inf
    with pytest.raises(RuntimeError):
        torch.norm(torch.zeros(0, 4), p, dim)
    with pytest.raises(RuntimeError, match="norm"):
        mg.norm(mg.zeros(0, 4), p, dim)
    with pytest.raises(RuntimeError, match="norm"):
        mg.zeros(0, 4).norm(p, dim)
    # over the non-empty dim there is nothing to reduce from nothing: an empty result, as torch's
    assert mg.norm(mg.zeros(0, 4), p, 1).shape == tuple(torch.norm(torch.zeros(0, 4), p, 1).shape) == (0,)


@pytest.mark.parametrize(("shape", "args"), [((2, 3, 4), ()), ((2, 3, 4), (True,)), ((2, 1, 3, 3), (False,)),
                                             ((3, 4), ())])
def test_nuclear_norm_of_a_batch_of_matrices(shape: tuple, args: tuple) -> None:
    # torch.nuclear_norm(x) of a 3-D x reduces the last two dims of each matrix; ours raised "Expected 2 dims"
    a = np.random.default_rng(0).standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.nuclear_norm(torch.tensor(a), *args)
        got = mg.nuclear_norm(mg.tensor(a), *args)
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("size", [(6, 2), (-1,), (2, 3, 2)])
def test_view_copy_of_a_non_contiguous_tensor(size: tuple) -> None:
    # torch.view_copy(x.T, size) copies as reshape does (no view is needed); ours raised view's layout error
    a = np.arange(12.0).reshape(4, 3)
    xt = torch.tensor(a, requires_grad=True)
    xm = mg.tensor(a, requires_grad=True)
    expected, got = torch.view_copy(xt.T, size), mg.view_copy(xm.T, size)
    np.testing.assert_array_equal(got.numpy(), expected.detach().numpy())
    assert got.is_contiguous()
    g = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(g))
    got.backward(mg.tensor(g))
    np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16"])
def test_take_along_dim_without_a_dim_needs_int64_or_int32_indices(dtype: str) -> None:
    # torch.take_along_dim(x, uint8_indices): RuntimeError (gather's int32/int64 check); ours read them as positions
    index = np.array([[1], [0], [2]], dtype=dtype)
    with pytest.raises(RuntimeError):
        torch.take_along_dim(torch.arange(12.0).view(3, 4), torch.tensor(index))
    with pytest.raises(RuntimeError, match="take_along_dim"):
        mg.take_along_dim(mg.arange(12.0).view(3, 4), mg.tensor(index))
    expected = torch.take_along_dim(torch.arange(12.0).view(3, 4), torch.tensor(index.astype("int32")))
    got = mg.take_along_dim(mg.arange(12.0).view(3, 4), mg.tensor(index.astype("int32")))
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize(("args", "kwargs"), [((0, 2), {}), ((-1, 0), {}), ((0, 1, 2), {}), (((0, 2),), {}),
                                              ((2,), {}), ((), {"dim": 0}), ((), {})])
@pytest.mark.parametrize("method", ["squeeze", "squeeze_"])
def test_squeeze_method_takes_dims_as_separate_ints(method: str, args: tuple, kwargs: dict) -> None:
    # torch's x.squeeze(0, 2) (dims as separate ints, PyTorch 2.0+); ours raised TypeError (too many arguments)
    expected = getattr(torch.ones(1, 3, 1), method)(*args, **kwargs)
    got = getattr(mg.ones(1, 3, 1), method)(*args, **kwargs)
    assert got.shape == tuple(expected.shape)
    x = mg.ones(1, 3, 1, requires_grad=True)
    y = x * 2
    y.squeeze(*args, **kwargs).sum().backward()
    assert x.grad.shape == (1, 3, 1)


def _expect_same_error_class(torch_call, mg_call) -> None:
    """torch_call raises; mg_call raises an error that is also of the class torch raised (and names the op)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as expected:
            torch_call()
    cls = next(c for c in type(expected.value).__mro__ if c.__module__ == "builtins")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(cls):
            mg_call()


@pytest.mark.parametrize("call", [
    # a dtype the op has no kernel for: RuntimeError in torch (ours were TypeError only)
    lambda lib: lib.cov(lib.ones(2, 3, dtype=lib.bool)),
    lambda lib: lib.corrcoef(lib.ones(2, 3, dtype=lib.bool)),
    lambda lib: lib.trapezoid(lib.ones(3, dtype=lib.bool)),
    lambda lib: lib.cumulative_trapezoid(lib.ones(3, dtype=lib.bool)),
    lambda lib: lib.frobenius_norm(lib.ones(2, 3, dtype=lib.int64), (0, 1)),
    lambda lib: lib.norm(lib.ones(2, 3, dtype=lib.complex64), dtype=lib.float64),
    # NotImplementedError in torch ("histogramdd" not implemented for 'Long')
    lambda lib: lib.histogram(lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.histogramdd(lib.ones(3, 2, dtype=lib.int64), [2, 2]),
    # an argument value torch refuses with RuntimeError (ours were ValueError only)
    lambda lib: lib.mvlgamma(lib.ones(3) + 2, 0),
    lambda lib: lib.polygamma(-1, lib.ones(3)),
    lambda lib: lib.cross(lib.ones(2, 4), lib.ones(2, 4)),
    lambda lib: lib.combinations(lib.ones(3), -1),
    lambda lib: lib.linalg.matrix_norm(lib.ones(2, 3, 4), dim=(2, -1)),
    lambda lib: lib.binary_cross_entropy_with_logits(lib.ones(3, 4), lib.ones(4)),
    lambda lib: lib.frexp(lib.tensor([1, 2])),
    lambda lib: lib.searchsorted(lib.tensor(1.0), lib.tensor([1.0])),
    lambda lib: lib.unique(lib.zeros(0, 4), dim=1),
    lambda lib: lib.unique_consecutive(lib.zeros(0, 4), dim=1),
    lambda lib: lib.histogram(lib.tensor([1.0, math.inf])),
    lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), range=(2.0, 1.0)),
])
def test_refusals_raise_torchs_error_class(call) -> None:
    _expect_same_error_class(lambda: call(torch), lambda: call(mg))


@pytest.mark.parametrize(("args", "kwargs"), [((0, 1), {}), ((-1, 0), {}), ((1,), {}), (((0, 1),), {}),
                                              ((), {"dim": 0}), ((), {})])
def test_count_nonzero_method_takes_dims_as_separate_ints(args: tuple, kwargs: dict) -> None:
    # torch's x.count_nonzero(0, 1) counts over both dims; ours raised TypeError (too many arguments)
    a = np.array([[0, 1, 2], [3, 0, 0]])
    expected = torch.tensor(a).count_nonzero(*args, **kwargs)
    got = mg.tensor(a).count_nonzero(*args, **kwargs)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert got.dtype == np.int64
