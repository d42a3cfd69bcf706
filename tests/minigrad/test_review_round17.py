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



_RNG = np.random.default_rng(0)
_X, _W, _G = (_RNG.standard_normal(s).astype(np.float32) for s in ((1, 3, 6, 6), (2, 3, 3, 3), (1, 2, 4, 4)))


def _conv_gradient(lib: Any, grad: Any, name: str) -> Any:
    """``grad.<name>`` (minigrad's nn.grad or torch.nn.grad) of _X, _W, _G, each a tensor that requires grad."""
    x, w, g = (lib.tensor(a, requires_grad=True) for a in (_X, _W, _G))
    if name == "conv2d_input":
        return grad.conv2d_input(_X.shape, w, g)
    return grad.conv2d_weight(x, _W.shape, g)


@pytest.mark.parametrize("name", ["conv2d_input", "conv2d_weight"])
def test_conv_gradient_functions_record_no_graph_under_no_grad(torch: Any, name: str) -> None:
    from minigrad import nn  # noqa: PLC0415 - only this test needs nn

    with mg.no_grad():
        ours = _conv_gradient(mg, nn.grad, name)
    with torch.no_grad():
        peer = _conv_gradient(torch, torch.nn.grad, name)
    assert ours.requires_grad is peer.requires_grad is False
    np.testing.assert_allclose(ours.numpy(), peer.numpy(), rtol=1e-5, atol=1e-5)
    assert _conv_gradient(mg, nn.grad, name).requires_grad is _conv_gradient(torch, torch.nn.grad, name).requires_grad


def test_gammainc_refuses_integers_only_for_integer_operands(torch: Any) -> None:
    with pytest.raises(TypeError, match="gammainc: expected at least one Tensor, got list and list"):
        mg.special.gammainc([1.5], [2.5])
    with pytest.raises(NotImplementedError, match="gammainc: not implemented for integer or bool tensors"):
        mg.special.gammainc(mg.tensor([1, 2]), np.int64(2))
    # a NumPy float beside an integer tensor is a float operand (torch takes tensors only: compared in float32)
    ours = mg.special.gammainc(np.float32(2.0), mg.tensor([1, 2]))
    peer = torch.special.gammainc(torch.tensor(2.0), torch.tensor([1.0, 2.0]))
    np.testing.assert_allclose(ours.numpy(), peer.numpy(), rtol=1e-6)
