"""Round 22 small leftovers, each compared with live torch 2.13: binary_cross_entropy's mixed float dtypes,
MultiheadAttention(batch_first=True)'s error shapes, StepLR(step_size=0), int dtypes from NumPy float/bool scalars,
and 0-d integer tensors where torch's parser reads an int."""

from __future__ import annotations

import pytest

import minigrad as mg
import nn
from nn import functional as F

torch = pytest.importorskip("torch", reason="no torch")


def _raised(call) -> type[BaseException] | None:
    try:
        call()
    except Exception as error:   # noqa: BLE001 - the class is the point
        return type(error)
    return None


@pytest.mark.parametrize("dtypes", [("float64", "float32"), ("float32", "float64"), ("float16", "float32")])
def test_binary_cross_entropy_refuses_a_target_of_another_float_dtype(dtypes: tuple[str, str]) -> None:
    x, y = [0.3, 0.6], [0.0, 1.0]
    expected = _raised(lambda: torch.nn.functional.binary_cross_entropy(
        torch.tensor(x, dtype=getattr(torch, dtypes[0])), torch.tensor(y, dtype=getattr(torch, dtypes[1]))))
    assert expected is RuntimeError
    with pytest.raises(RuntimeError, match="found dtype"):
        F.binary_cross_entropy(mg.tensor(x, dtype=getattr(mg, dtypes[0])), mg.tensor(y, dtype=getattr(mg, dtypes[1])))
    with pytest.raises(RuntimeError, match="found dtype"):
        nn.BCELoss()(mg.tensor(x, dtype=getattr(mg, dtypes[0])), mg.tensor(y, dtype=getattr(mg, dtypes[1])))


@pytest.mark.parametrize("shapes", [
    ((2, 3, 5), (2, 3, 5), (2, 3, 5)),   # embedding dim
    ((2, 3, 4), (2, 6, 4), (2, 5, 4)),   # key and value lengths
    ((2, 3, 4), (3, 6, 4), (3, 6, 4)),   # batch sizes
    ((2, 3, 4), (2, 6, 4), (2, 6, 3)),   # value features
])
def test_multihead_attention_batch_first_errors_name_the_shapes_passed(shapes) -> None:
    mha, reference = nn.MultiheadAttention(4, 2, batch_first=True), torch.nn.MultiheadAttention(4, 2, batch_first=True)
    expected = _raised(lambda: reference(*(torch.randn(*s) for s in shapes)))
    with pytest.raises(Exception) as info:
        mha(*(mg.randn(*s) for s in shapes))
    assert isinstance(info.value, expected)
    message = str(info.value)
    for what, shape in zip(("query", "key", "value"), shapes):
        assert f"{what} {shape}" in message
