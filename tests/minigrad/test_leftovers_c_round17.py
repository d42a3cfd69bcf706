"""Small leftovers of round 17, each against live torch: max/min with a 0-d int tensor dim and keepdim given,
constructor/shape corner cases, allocation errors, channels-last suggestions, lazy state dicts, list out=."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import same_as_torch

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("call", [
    lambda lib, f, x: getattr(x, f)(lib.tensor(1), keepdim=False),
    lambda lib, f, x: getattr(x, f)(lib.tensor(0), False),
    lambda lib, f, x: getattr(lib, f)(x, lib.tensor(1), keepdim=False),
    lambda lib, f, x: getattr(lib, f)(x, lib.tensor(1), keepdim=True),
    lambda lib, f, x: getattr(lib, f)(x, lib.tensor(1)),   # no keepdim: the elementwise form
])
def test_max_min_tensor_dim_with_keepdim(name: str, call: Any) -> None:
    """A 0-d int tensor with keepdim given (even False) is the dim, as torch's (int dim, bool keepdim) overload."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    same_as_torch(torch, lambda lib, a: call(lib, name, a), x, gradcheck=False)


def test_max_other_with_keepdim_refused() -> None:
    x = np.ones((2, 3))
    for lib in (mg, torch):
        with pytest.raises(TypeError):
            lib.max(lib.tensor(x), other=lib.tensor(1), keepdim=False)


@pytest.mark.parametrize("case", [
    lambda lib: lib.trapezoid(lib.zeros(0, dtype=lib.int64)),
    lambda lib: lib.trapezoid(lib.zeros((2, 0), dtype=lib.int32)),
    lambda lib: lib.trapezoid(lib.zeros(0, dtype=lib.uint8), dx=0.5),
    lambda lib: lib.trapezoid(lib.zeros(0, dtype=lib.bool)),
    lambda lib: lib.trapezoid(lib.zeros((0, 3), dtype=lib.int64), lib.zeros(0), dim=0),
])
def test_trapezoid_of_no_samples_keeps_the_dtype(case: Any) -> None:
    """No samples along dim: zeros of y's dtype (integer and bool too), as torch's, not the default float dtype."""
    ours, theirs = case(mg), case(torch)
    assert ours.dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("data", [None, [1, None], object(), {1: 2}])
def test_tensor_of_an_object_raises_runtime_error(data: Any) -> None:
    """torch.tensor(None) raises RuntimeError ("Could not infer dtype"); ours too (still a TypeError as well)."""
    with pytest.raises(RuntimeError):
        torch.tensor(data)
    with pytest.raises(RuntimeError, match="tensor: cannot make a tensor"):
        mg.tensor(data)
