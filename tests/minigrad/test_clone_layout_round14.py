"""A clone that keeps a transposed or channels-last layout owns its memory: in-place ops on it record as on any
fresh tensor (they were refused as writes to 'a view minigrad does not track')."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("make", [
    lambda lib, y: y.transpose(0, 1).clone(),
    lambda lib, y: y.permute(3, 1, 0, 2).clone(memory_format=lib.preserve_format),
    lambda lib, y: y.contiguous(memory_format=lib.channels_last),
    lambda lib, y: y.clone(memory_format=lib.channels_last),
])
def test_in_place_on_a_non_c_order_copy_records_as_torch(torch: Any, make: Any) -> None:
    values = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    grads = []
    for lib in (mg, torch):
        x = lib.tensor(values, requires_grad=True)
        copy = make(lib, x * 1)
        copy.mul_(2).add_(1)
        (copy * copy).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
