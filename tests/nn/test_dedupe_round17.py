"""Round 17: logic that was written twice now lives in one place; each test pins the shared behaviour (vs PyTorch
where it has it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
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


@pytest.mark.parametrize("make", [
    lambda lib, nn, F: F.dropout(lib.ones(3), 1.5), lambda lib, nn, F: F.alpha_dropout(lib.ones(3), 1.5, True),
    lambda lib, nn, F: F.dropout2d(lib.ones(2, 3, 4), 1.5, True), lambda lib, nn, F: nn.Dropout(1.5),
    lambda lib, nn, F: nn.AlphaDropout(1.5), lambda lib, nn, F: nn.Dropout2d(1.5),
], ids=["dropout", "alpha_dropout", "dropout2d", "Dropout", "AlphaDropout", "Dropout2d"])
def test_dropout_probability_is_checked_by_one_helper(make: Any) -> None:
    # F.dropout said "probability p must be in [0, 1]" and the modules added "(p must be in [0, 1])": all now give
    # PyTorch's ValueError text after the function's name
    with pytest.raises(ValueError, match="^dropout probability has to be between 0 and 1, but got 1.5$"):
        make(torch, torch.nn, torch.nn.functional)
    with pytest.raises(ValueError, match=r": dropout probability has to be between 0 and 1, but got 1.5$"):
        make(mg, nn, F)


def test_dropout_module_takes_a_0d_tensor_probability() -> None:
    # nn.Dropout(torch.tensor(0.25)) works in torch (as F.dropout's p already did here); ours raised ValueError
    assert repr(nn.Dropout(mg.tensor(0.25))) == repr(torch.nn.Dropout(torch.tensor(0.25))) == \
        "Dropout(p=0.25, inplace=False)"
    mg.manual_seed(0)
    kept = nn.Dropout(mg.tensor(0.25))(mg.ones(1000)).numpy()
    np.testing.assert_allclose(kept[kept != 0], 1 / 0.75, rtol=1e-6)


@pytest.mark.parametrize("name, args", [("LazyLinear", (3,)), ("LazyConv2d", (4, 3)), ("LazyBatchNorm1d", ())])
def test_lazy_modules_save_their_placeholders_through_one_method(name: str, args: tuple) -> None:
    # LazyLinear and the other lazy modules each wrote their own _save_to_state_dict: one now, the same object
    assert getattr(nn, name)._save_to_state_dict is nn.LazyLinear._save_to_state_dict
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    got, expected = ours.state_dict(), theirs.state_dict()
    assert list(got) == list(expected)
    for key, value in got.items():
        placeholder = isinstance(expected[key], torch.nn.parameter.UninitializedTensorMixin)
        assert nn.parameter.is_lazy(value) == placeholder
        assert (value is getattr(ours, key)) == placeholder   # the placeholder itself, not a detached copy
