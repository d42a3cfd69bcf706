"""Round 23: a regression sweep of the rewritten convolutions and pools (nn._conv.Convolution, MaxPool,
WindowSum) against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F  # noqa: N812

INTEGER_DTYPES = ["int64", "int32", "int16", "int8", "uint8"]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_max_pool1d_with_indices_takes_integers_as_torch(torch: Any, dtype: str) -> None:
    # max_pool1d(return_indices=True) is torch's max_pool1d_with_indices, whose CPU kernel takes integers
    x = np.random.default_rng(0).integers(0, 100, (2, 3, 9))
    expected = torch.nn.functional.max_pool1d(torch.tensor(x, dtype=getattr(torch, dtype)), 3, 2, 1,
                                              return_indices=True)
    values, index = F.max_pool1d(mg.tensor(x, dtype=getattr(mg, dtype)), 3, 2, 1, return_indices=True)
    assert values.dtype == getattr(mg, dtype)
    np.testing.assert_array_equal(values.numpy(), expected[0].numpy())
    np.testing.assert_array_equal(index.numpy(), expected[1].numpy())
    unbatched = F.max_pool1d_with_indices(mg.tensor(x[0], dtype=getattr(mg, dtype)), 3)
    np.testing.assert_array_equal(unbatched[0].numpy(), torch.nn.functional.max_pool1d_with_indices(
        torch.tensor(x[0], dtype=getattr(torch, dtype)), 3)[0].numpy())


def test_max_pool1d_without_indices_still_refuses_integers(torch: Any) -> None:
    x = np.arange(6).reshape(1, 1, 6)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.max_pool1d(torch.tensor(x), 2)
    with pytest.raises(NotImplementedError):
        F.max_pool1d(mg.tensor(x), 2)
