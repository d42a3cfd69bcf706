"""A clamp bound that keeps the tensor's dtype must fit it, as PyTorch converts it: 300 for uint8 or 1e39 for
float32 raise RuntimeError (NumPy wrapped 300 to 44 and turned 1e39 into inf). NumPy scalars are numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

CASES = [("uint8", {"min": 300}), ("uint8", {"max": -1}), ("int8", {"min": -200}), ("float32", {"max": 1e39}),
         ("float16", {"min": 1e6}), ("uint8", {"min": -3}), ("float32", {"min": float("inf")}),
         ("int64", {"min": 2 ** 40}), ("int32", {"max": 2 ** 40}), ("int32", {"min": np.int64(5)}),
         ("float32", {"min": np.float64(1e39)}), ("int16", {"min": True}), ("float32", {"min": np.float64(2.5)}),
         ("float64", {"min": -1.5, "max": 2})]


def _outcome(lib: Any, dtype: str, bounds: dict, in_place: bool) -> Any:
    x = lib.tensor([1, 5, 100], dtype=getattr(lib, dtype))
    try:
        result = x.clamp_(**bounds) if in_place else x.clamp(**bounds)
    except RuntimeError:
        return "RuntimeError"
    return str(result.dtype).replace("torch.", ""), result.tolist()


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("dtype,bounds", CASES)
def test_clamp_bounds_convert_as_torch(torch: Any, dtype: str, bounds: dict, in_place: bool) -> None:
    assert _outcome(mg, dtype, bounds, in_place) == _outcome(torch, dtype, bounds, in_place)


@pytest.mark.parametrize("call", [lambda lib, x, b: x.sub(b, alpha=0.5), lambda lib, x, b: x.sub_(b, alpha=2),
                                  lambda lib, x, b: lib.sub(x, b, alpha=0.5), lambda lib, x, b: x - b])
def test_subtracting_a_bool_with_alpha_raises_as_torch(torch: Any, call: Any) -> None:
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="Subtraction"):
            call(lib, lib.ones(2, 3), lib.tensor([True, False, True]))
