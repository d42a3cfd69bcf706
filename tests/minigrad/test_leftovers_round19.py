"""Round 19 leftovers, each against PyTorch 2.13: renorm's gradient through a NaN slice, trigamma at the negative
integers, max pools over several NaNs, unique over several NaNs, and the storage's fuzz failure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

NAN = float("nan")


@pytest.mark.parametrize("p, maxnorm", [(2, 1.0), (1, 5.0), (2, 10.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_renorm_passes_the_gradient_through_a_nan_slice(p: float, maxnorm: float, dtype: str, torch: Any) -> None:
    """A slice whose norm is NaN is left unchanged, and so is its gradient (torch's where(norm > maxnorm, …, grad));
    the NaN norm took part in the scaled branch's gradient and made the whole slice's gradient NaN."""
    x = np.array([[1.0, NAN, 2.0], [3.0, 4.0, 0.5]], dtype=dtype)
    upstream = np.arange(1.0, 7.0, dtype=dtype).reshape(2, 3)
    ours = mg.tensor(x, requires_grad=True)
    mg.renorm(ours, p, 0, maxnorm).backward(mg.tensor(upstream))
    theirs = torch.tensor(x, requires_grad=True)
    torch.renorm(theirs, p, 0, maxnorm).backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_trigamma_at_the_negative_integers_as_torch(dtype: str, torch: Any) -> None:
    """ψ'(x) at x = -1, -2, -3, … is torch's π²/sin²(πx) with πx rounded in the dtype (6.6e32 at -1 in float64,
    1.3e15 in float32, inf in float16), not +inf; so is digamma's gradient there."""
    x = np.array([-1.0, -2.0, -3.0, -10.0, -12345.0, 0.0, -0.0, -2.5], dtype=dtype)
    expected = torch.special.polygamma(1, torch.tensor(x)).numpy()
    np.testing.assert_allclose(mg.special.polygamma(1, mg.tensor(x)).numpy(), expected, rtol=1e-6)
    ours = mg.tensor(x, requires_grad=True)
    mg.digamma(ours).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    torch.digamma(theirs).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dims, kwargs", [(1, {"kernel_size": 3, "stride": 1}), (2, {"kernel_size": 2, "stride": 1}),
                                          (2, {"kernel_size": 3, "stride": 2, "padding": 1}),
                                          (3, {"kernel_size": 2, "stride": 1, "dilation": 2})])
def test_max_pool_picks_the_last_nan_of_a_window(dims: int, kwargs: dict, torch: Any) -> None:
    """A window with several NaNs sends its index and gradient to its last NaN, as PyTorch's CPU kernel
    (``val > max || isnan(val)``); minigrad picked the first."""
    import nn.functional as F

    rng = np.random.default_rng(dims)
    x = rng.integers(-3, 3, size=(2, 2) + (5,) * dims).astype(np.float64)
    x[rng.random(x.shape) < 0.5] = NAN
    name = f"max_pool{dims}d"
    ours = mg.tensor(x, requires_grad=True)
    values, index = getattr(F, name)(ours, return_indices=True, **kwargs)
    upstream = np.arange(1.0, values.numel() + 1).reshape(values.shape)
    values.backward(mg.tensor(upstream))
    theirs = torch.tensor(x, requires_grad=True)
    expected, expected_index = getattr(torch.nn.functional, name)(theirs, return_indices=True, **kwargs)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(index.numpy(), expected_index.numpy())
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    np.testing.assert_array_equal(values.detach().numpy(), expected.detach().numpy())


def _uniform_error_rows() -> list:
    from tests.test_error_classes import CASES

    return [case for case in CASES if "rand(" in case[0]]


@pytest.mark.parametrize(("call", "torch_class", "own_class"), _uniform_error_rows(),
                         ids=[case[0] for case in _uniform_error_rows()])
def test_error_table_rows_raise_for_any_generator_state(call: str, torch_class: type, own_class: type,
                                                        torch: Any) -> None:
    """The error-class table's rows that draw uniform inputs raise whatever the global generators' state (the row
    ``binary_cross_entropy(t.rand(4) * 3, …)`` drew four values below 1/3 after torch.manual_seed(3) and
    mg.manual_seed(195), and raised nothing: a failure that hung on which tests ran before)."""
    from tests.test_error_classes import _raised

    with mg.random.fork_rng(), torch.random.fork_rng():
        for seed in (3, 195):
            mg.manual_seed(seed)
            assert isinstance(_raised(call, mg), torch_class)
            torch.manual_seed(seed)
            assert isinstance(_raised(call, torch), torch_class)


@pytest.mark.parametrize("call", ["t.TypedStorage(0, 0)", "t.UntypedStorage(-1)"])
def test_storage_constructors_refuse_bad_arguments_as_torch(call: str, torch: Any) -> None:
    """A storage made from a wrong argument raises a RuntimeError, as PyTorch's (the fuzz's
    ``mg.TypedStorage(0, 0)`` leaked NumPy's TypeError from ``numpy.dtype(0)``; a negative size, NumPy's
    ValueError); minigrad's errors are also the TypeError/ValueError they were."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # TypedStorage is deprecated
        with pytest.raises(RuntimeError):
            eval(call, {"t": torch})   # noqa: S307 - the literal calls above
        with pytest.raises(RuntimeError, match="Storage"):
            eval(call, {"t": mg})   # noqa: S307
