"""Round 19 leftovers (third batch), each against PyTorch 2.13: linspace's signed zeros in float64, an integer
``dtype=`` of a sum or nansum on an input that requires grad, the autocast state functions, and dropout's layout."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

NAN = float("nan")


@pytest.mark.parametrize("start, end, steps", [(-1.0, -0.0, 4), (-0.0, -1.0, 4), (-0.0, -0.0, 3), (-0.0, 2.0, 9),
                                               (-3.0, -0.0, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_keeps_negative_zero_endpoints(start: float, end: float, steps: int, dtype: str, torch: Any) -> None:
    """A -0.0 endpoint stays -0.0, as torch's fused multiply-add gives it (-0.0 + -0.0 is -0.0); float64's exact
    multiply-add added a +0.0 correction and gave 0.0, which showed in histogram bin edges."""
    theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    ours = mg.linspace(start, end, steps, dtype=getattr(mg, dtype)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


SUMS = {
    "sum": lambda t, x, d: t.sum(x, dtype=d),
    "sum_dim": lambda t, x, d: t.sum(x, 0, dtype=d),
    "method": lambda t, x, d: x.sum(dtype=d),
    "nansum": lambda t, x, d: t.nansum(x, dtype=d),
    "nansum_dim": lambda t, x, d: t.nansum(x, 1, dtype=d),
}


@pytest.mark.parametrize("name", SUMS)
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integer_dtype_sum_of_an_input_that_requires_grad_raises(name: str, dtype: str, torch: Any) -> None:
    """torch raises RuntimeError (its autograd has no integer results); ours gave a result outside the graph.
    Without grad both give the same values, nansum's with its NaNs dropped before the cast (not INT64_MIN)."""
    a = np.array([[1.5, NAN, -3.0], [2.7, 0.5, NAN]], dtype="float32")
    fn = SUMS[name]
    with pytest.raises(RuntimeError):
        fn(torch, torch.tensor(a, requires_grad=True), getattr(torch, dtype))
    with pytest.raises(RuntimeError, match="integer dtype"):
        fn(mg, mg.tensor(a, requires_grad=True), getattr(mg, dtype))
    if name.startswith("nansum"):
        with torch.no_grad():
            theirs = fn(torch, torch.tensor(a, requires_grad=True), getattr(torch, dtype)).numpy()
        with mg.no_grad():
            ours = fn(mg, mg.tensor(a, requires_grad=True), getattr(mg, dtype)).numpy()
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def _autocast_state(t: Any) -> tuple:
    """The deprecated per-device reads, the cache flag and availability, with names for the dtypes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cpu_dtype, gpu_dtype = t.get_autocast_cpu_dtype(), t.get_autocast_gpu_dtype()
        cpu_enabled = t.is_autocast_cpu_enabled()
    names = tuple("bfloat16" if "bfloat16" in str(d) else str(np.dtype(str(d).split(".")[-1])) for d in
                  (cpu_dtype, gpu_dtype))
    return (cpu_enabled, *names, t.is_autocast_cache_enabled(), t.clear_autocast_cache(),
            *(t.amp.is_autocast_available(kind) for kind in ("cpu", "cuda:0", "meta")))


def _autocast_states(t: Any) -> list:
    """The state in and around nested blocks, after the setters, and the refusals' classes."""
    states = [_autocast_state(t)]
    with t.autocast("cpu"):
        states.append(_autocast_state(t))
        with t.autocast("cpu", dtype=t.float16, cache_enabled=False):
            states.append(_autocast_state(t))
        states.append(_autocast_state(t))
    with t.autocast("cpu", enabled=False, cache_enabled=False):
        states.append(_autocast_state(t))
    t.set_autocast_cache_enabled(False)
    block = t.autocast("cpu")   # takes the flag as it is when made
    t.set_autocast_cache_enabled(True)
    with block:
        states.append(_autocast_state(t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        t.set_autocast_cpu_enabled(True)
        t.set_autocast_cpu_dtype(t.float16)
        t.set_autocast_gpu_dtype(t.bfloat16)
        states.append(_autocast_state(t))
        t.set_autocast_cpu_enabled(False)
        t.set_autocast_cpu_dtype(t.bfloat16)
        t.set_autocast_gpu_dtype(t.float16)
    states.append(_autocast_state(t))
    for bad in (lambda: t.set_autocast_cache_enabled(1), lambda: t.amp.is_autocast_available(1),
                lambda: t.amp.is_autocast_available("foo"), lambda: t.clear_autocast_cache(1)):
        try:
            bad()
            states.append("no error")
        except (TypeError, RuntimeError) as e:
            states.append(RuntimeError if isinstance(e, RuntimeError) and not isinstance(e, TypeError) else TypeError)
    return states


@pytest.mark.filterwarnings("ignore:autocast. minigrad does not change op dtypes")
def test_autocast_state_functions_as_torch(torch: Any) -> None:
    """torch's is_autocast_cpu_enabled, get_autocast_cpu/gpu_dtype (and setters), is/set_autocast_cache_enabled,
    clear_autocast_cache and torch.amp.is_autocast_available were missing; each reads the same state as torch's."""
    assert _autocast_states(mg) == _autocast_states(torch)
    with pytest.warns(DeprecationWarning, match=r"get_autocast_dtype\('cpu'\)"):
        mg.get_autocast_cpu_dtype()


DROPOUTS = {
    "dropout": lambda f, x: f.dropout(x, 0.5, True),
    "alpha_dropout": lambda f, x: f.alpha_dropout(x, 0.5, True),
    "feature_alpha_dropout": lambda f, x: f.feature_alpha_dropout(x, 0.5, True),
    "dropout1d": lambda f, x: f.dropout1d(x[..., 0], 0.5, True),
    "dropout2d": lambda f, x: f.dropout2d(x, 0.5, True),
    "dropout3d": lambda f, x: f.dropout3d(x[None], 0.5, True),
}


@pytest.mark.parametrize("name", DROPOUTS)
@pytest.mark.parametrize("perm", [(3, 2, 1, 0), (1, 0, 2, 3), (0, 2, 3, 1)])
def test_dropout_keeps_the_input_layout(name: str, perm: tuple, torch: Any) -> None:
    """A transposed or permuted input's dropout has its layout (its strides), as torch's; ours was C order."""
    a = np.random.default_rng(0).standard_normal((4, 5, 3, 2)).astype("float32")
    theirs = DROPOUTS[name](torch.nn.functional, torch.tensor(a).permute(*perm))
    ours = DROPOUTS[name](nn.functional, mg.tensor(a).permute(*perm))
    assert ours.shape == tuple(theirs.shape) and ours.stride() == theirs.stride()
    if name == "dropout":   # each entry dropped (0) or kept and scaled by 1 / (1 - p)
        x = a.transpose(perm)
        assert np.all((ours.numpy() == 0) | (ours.numpy() == 2 * x))
