"""Regressions found by the second sweep of PyTorch's OpInfo samples through minigrad (values, dtypes, gradients,
method and in-place variants, error classes).

Hand-written cases against torch 2.13 on the same values (the ``torch`` fixture skips without it); the suite does
not depend on torch's private test modules.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16"])
@pytest.mark.parametrize(("start", "end", "steps"), [(4.3, -3, 50), (4.3, 0, 10), (-3, 4.3, 10), (-2.7, 10.9, 7),
                                                     (2.725, 0.5, 1), (0, 10, 7)])
def test_integer_linspace_and_logspace_truncate_the_ends_first_as_torch(torch, dtype, start, end, steps):
    # PyTorch's integer kernels convert start and end to the integer dtype before stepping (linspace(4.3, -3, 10)
    # steps from 4); minigrad stepped from 4.3 and truncated each value, so some differed by one
    expected = torch.linspace(start, end, steps, dtype=getattr(torch, dtype))
    np.testing.assert_array_equal(mg.linspace(start, end, steps, dtype=dtype).numpy(), expected.numpy())
    expected = torch.logspace(start / 2, end / 3, steps, dtype=getattr(torch, dtype))
    out = mg.logspace(start / 2, end / 3, steps, dtype=dtype)
    assert out.dtype == expected.numpy().dtype
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
