"""Round 22: embedding's backward leaves ``padding_idx``'s entries out of the scatter (it multiplied them by 0, so a
NaN or inf gradient there made padding's row NaN: PyTorch's stays 0), and ``mg.scatter_add`` on NumPy takes an
int8/uint8 index of a table with more rows than the index dtype holds (it raised OverflowError); compared with
PyTorch and NumPy's ``add.at``."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_padding_row_stays_zero_under_nonfinite_gradients(scale_grad_by_freq: bool, bad: float) -> None:
    index = np.array([[0, 1, 0], [2, 0, 1]])
    grad = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    grad[0, 0, 1] = grad[1, 1, 3] = bad   # both on padding's entries
    weight = np.ones((3, 4), dtype=np.float32)
    theirs = torch.tensor(weight, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(index), theirs, padding_idx=0,
                                  scale_grad_by_freq=scale_grad_by_freq).backward(torch.tensor(grad))
    ours = mg.tensor(weight, requires_grad=True)
    F.embedding(mg.tensor(index), ours, padding_idx=0, scale_grad_by_freq=scale_grad_by_freq).backward(mg.tensor(grad))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_embedding_bag_and_module_padding_rows_stay_zero() -> None:
    index = np.array([2, 0, 1, 0, 2])
    grad = np.array([[1.0, np.nan], [np.inf, 2.0]], dtype=np.float32)   # bags [2, 0] and [1, 0, 2], summed
    theirs = torch.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    torch.nn.functional.embedding_bag(torch.tensor(index), theirs, torch.tensor([0, 2]), mode="sum",
                                      padding_idx=0).backward(torch.tensor(grad))
    ours = mg.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    F.embedding_bag(mg.tensor(index), ours, mg.tensor([0, 2]), mode="sum", padding_idx=0).backward(mg.tensor(grad))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    layer = nn.Embedding(3, 2, padding_idx=1)
    layer(mg.tensor(index)).backward(mg.tensor(np.full((5, 2), np.nan, dtype=np.float32)))
    assert (layer.weight.grad.numpy()[1] == 0).all() and np.isnan(layer.weight.grad.numpy()[[0, 2]]).all()


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("width", [3, 16, 70])   # plain add.at, one flat add.at, the rounds
def test_scatter_add_narrow_index_dtype_on_a_long_table(dtype: type, width: int) -> None:
    rng = np.random.default_rng(0)
    low = -128 if np.dtype(dtype).kind == "i" else 0
    index = rng.integers(low, 127, 200).astype(dtype)
    target = rng.standard_normal((300, width)).astype(np.float32)
    values = rng.standard_normal((200, width)).astype(np.float32)
    expected = target.copy()
    np.add.at(expected, index, values)
    mg.scatter_add(np, target, index, values)
    assert target.tobytes() == expected.tobytes()
