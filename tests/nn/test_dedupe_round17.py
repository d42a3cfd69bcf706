"""Round 17: logic that was written twice now lives in one place; each test pins the shared behaviour (vs PyTorch
where it has it)."""

from __future__ import annotations

from typing import Any

import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("call", [
    lambda lib, F: F.one_hot(lib.tensor([0]), 2**63),
    lambda lib, F: lib.linspace(0, 1, 2**63),
], ids=["nn.one_hot", "engine.linspace"])
def test_int64_range_error_is_one_public_class(call: Any) -> None:
    # nn and the engine each defined their own Int64RangeError: `except mg.Int64RangeError` missed one of them
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        call(torch, torch.nn.functional)
    with pytest.raises(mg.Int64RangeError, match="does not fit in int64") as caught:
        call(mg, F)
    assert type(caught.value) is mg.Int64RangeError and isinstance(caught.value, (TypeError, ValueError))
