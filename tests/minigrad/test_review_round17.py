"""Follow-ups of the round-17 review: behaviour that a clean-up of that round's code must keep."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg


def test_cpu_autocast_with_torchs_bfloat16_stays_enabled(torch: Any) -> None:
    # each spelling of bfloat16 is a CPU autocast dtype: the block stays enabled, as PyTorch's (no "Disabling" warning)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = torch.autocast("cpu", dtype=torch.bfloat16)
        for dtype in (torch.bfloat16, "bfloat16", mg.bfloat16, mg.float16):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                block = mg.autocast("cpu", dtype=dtype)
            assert block.enabled is peer._enabled is True
            assert not [w for w in caught if "Disabling autocast" in str(w.message)]
    with pytest.warns(UserWarning, match="Disabling autocast"):
        assert mg.autocast("cpu", dtype=mg.float32).enabled is False


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, 1j, 0j])
def test_complex_pow_by_a_number_at_zero_matches_torch(torch: Any, exponent: Any) -> None:
    values = np.array([0j, -0.0 + 0j, 1 + 1j, -2 - 0.5j], dtype=np.complex128)
    ours = (mg.tensor(values) ** exponent).numpy()
    peer = (torch.tensor(values) ** exponent).numpy()
    np.testing.assert_allclose(ours, peer, rtol=1e-12, atol=0, equal_nan=True)
