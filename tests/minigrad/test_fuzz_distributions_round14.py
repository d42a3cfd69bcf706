"""Differential fuzzing of mg.distributions against torch.distributions (round 14): the cases that differed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as md


def _same(ours: mg.Tensor, theirs: Any, what: str, rtol: float = 1e-5) -> None:
    """Equal shape, dtype and values (NaN and inf where torch has them)."""
    expected = theirs.detach().numpy()
    got = np.asarray(ours.numpy())
    assert got.shape == expected.shape, what
    assert got.dtype == expected.dtype, f"{what}: {got.dtype} vs {expected.dtype}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("concentration", [1.5, [1.5, 0.7]])
def test_lkj_cholesky_float32_log_prob_stays_float32(concentration: Any, torch: Any) -> None:
    """LKJCholesky(3, float32).log_prob was float64 (an int64 arange promoted the float32 concentration)."""
    ours = md.LKJCholesky(3, mg.tensor(concentration, dtype=mg.float32))
    theirs = torch.distributions.LKJCholesky(3, torch.tensor(concentration, dtype=torch.float32))
    value = np.linalg.cholesky(np.array([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.0]])).astype(np.float32)
    _same(ours.log_prob(mg.tensor(value)), theirs.log_prob(torch.tensor(value)), "LKJCholesky.log_prob")
