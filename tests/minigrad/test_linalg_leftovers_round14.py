"""Linear-algebra edges found by the round-14 fuzzer against torch: empty-batch cond, complex negative
matrix powers, the complex 0×0 Cholesky inverse."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("p", [1, -1, 2, -2, math.inf, -math.inf, None, "fro", "nuc"])
def test_cond_of_an_empty_batch_is_zeros_of_the_batch_shape(torch: Any, p: Any) -> None:
    ours, theirs = mg.linalg.cond(mg.zeros(2, 0, 0), p), torch.linalg.cond(torch.zeros(2, 0, 0), p)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_negative_power_of_a_complex_matrix(torch: Any) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
    np.testing.assert_allclose(mg.matrix_power(mg.tensor(a), -3).numpy(),
                               torch.matrix_power(torch.tensor(a), -3).numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="matrix_power"):
        mg.matrix_power(mg.ones(2, 2, dtype=mg.int64), -1)
    with pytest.raises(RuntimeError, match="square"):
        mg.matrix_power(mg.ones(2, 3), 2)


def test_cholesky_inverse_of_a_complex_empty_factor(torch: Any) -> None:
    ours = mg.cholesky_inverse(mg.zeros(0, 0, dtype=mg.complex128))
    theirs = torch.cholesky_inverse(torch.zeros(0, 0, dtype=torch.complex128))
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == "complex128"
