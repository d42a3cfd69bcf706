"""Regression tests of the round-16 sweep: round 15's offline fuzzers (/tmp/fuzz15_*.py) re-run on the round's
tree."""
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(make: Callable[[], Any]) -> Any:
    """The error class torch raises (or the values as a list)."""
    try:
        return make().tolist()
    except Exception as error:   # noqa: BLE001 - the class is what is compared
        return type(error)


@pytest.mark.parametrize("data, dtype", [
    ([2 ** 63], "uint8"), ([2 ** 64], "int8"), (-2 ** 63 - 1, "int32"), ([[1], [2 ** 70]], "int16"),
    ([1.5, 2 ** 64], "uint8"), ([np.uint64(2 ** 63)], "uint8"), (2 ** 63, None), ([300], "uint8"),
])
def test_tensor_of_an_int_past_int64_raises_valueerror(data: Any, dtype: str | None) -> None:
    # fuzz15_casts (LIST): torch.tensor([2**63], dtype=torch.uint8) reads each int as a C long long first and
    # raises ValueError ('Overflow when unpacking long long'); ours raised the RuntimeError of an int in int64
    # but outside the dtype (2**63), or Python's OverflowError from NumPy (2**64)
    expected = _outcome(lambda: torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None))
    got = _outcome(lambda: mg.tensor(data, dtype=getattr(mg, dtype) if dtype else None))
    assert isinstance(expected, list) or issubclass(got, expected), (got, expected)
    assert expected == got if isinstance(expected, list) else True
