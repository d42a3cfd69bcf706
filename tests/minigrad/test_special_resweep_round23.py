"""Round 23 regression sweep of the special-function rewrite (erf family, exact gelu, hardswish) against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F

torch = pytest.importorskip("torch", reason="compared against PyTorch")
TF = torch.nn.functional


@pytest.mark.parametrize("shape", [(3, 4), (300, 400)])   # one chunk, and several of 65536 elements
@pytest.mark.parametrize("permute", ["transpose", "flip"])
def test_hardswish_keeps_a_permuted_inputs_layout(shape: tuple, permute: str) -> None:
    """The bit-mask select and the chunks wrote C order: a transposed input's result was C-contiguous, PyTorch's
    keeps the input's layout (strides (1, 4) for a transposed (3, 4))."""
    a = np.random.default_rng(0).uniform(-5, 5, shape)
    def view(t):
        return t.transpose(0, 1) if permute == "transpose" else t.flip(1)
    y, expected = F.hardswish(view(mg.tensor(a))), TF.hardswish(view(torch.tensor(a)))
    assert y.stride() == expected.stride() and y.is_contiguous() == expected.is_contiguous()
    np.testing.assert_array_equal(y.numpy(), expected.numpy())


@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid", "silu", "selu", "mish"])
def test_float16_inplace_activation_is_computed_in_float32_as_out_of_place(name: str) -> None:
    """PyTorch's in-place float16 activations give the bits of the out-of-place ones (float32, rounded once); ours
    took float16 steps, each rounded (hardswish: 208 of 1000 values 1 float16 ulp off)."""
    a = np.random.default_rng(1).uniform(-5, 5, 1000).astype(np.float16)
    x = mg.tensor(a) * 1
    y = getattr(F, name)(x, inplace=True)
    expected = getattr(TF, name)(torch.tensor(a), inplace=True)
    assert y is x and x._version == 1
    np.testing.assert_array_equal(x.numpy(), expected.numpy())
    module = nn.Hardswish(inplace=True) if name == "hardswish" else None
    if module is not None:
        x = mg.tensor(a, requires_grad=True)
        h = x * 1
        module(h).sum().backward()
        t = torch.tensor(a, requires_grad=True)
        torch.nn.Hardswish(inplace=True)(t * 1).sum().backward()
        np.testing.assert_array_equal(h.numpy(), TF.hardswish(torch.tensor(a)).numpy())
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("approximate", ["erf", "Tanh", None, 1])
def test_gelu_module_constructs_with_any_approximate_and_refuses_at_the_call(approximate: object) -> None:
    """nn.GELU("erf") raised ValueError at construction; PyTorch's constructs and raises at the call (RuntimeError
    for an unknown string, TypeError for a non-string), as F.gelu does."""
    expected = RuntimeError if isinstance(approximate, str) else TypeError
    with pytest.raises(expected):   # PyTorch's
        torch.nn.GELU(approximate=approximate)(torch.ones(2))
    layer = nn.GELU(approximate=approximate)
    assert layer.approximate == approximate
    with pytest.raises(expected):
        layer(mg.ones(2))


def test_gradcheck_keeps_a_small_outputs_change_next_to_a_huge_output() -> None:
    """gradcheck summed w·y over the outputs before differencing: erfcx(-7.1) = 1e22 beside erfcx(1.27) = 0.35 made
    the latter's numeric derivative 0 (a false failure; PyTorch's gradcheck passes)."""
    from minigrad.gradcheck import gradcheck, gradgradcheck

    x = mg.tensor([[3.45049691, -7.09591172, 3.68605116], [1.01886002, 1.27131406, 1.11368225]], dtype=mg.float64,
                  requires_grad=True)
    assert gradcheck(mg.special.erfcx, (x,))
    assert gradgradcheck(mg.special.erfcx, (x,))
    assert torch.autograd.gradcheck(torch.special.erfcx, (torch.tensor(x.numpy(), requires_grad=True),))


def test_gelu_nested_forward_mode_jacobians() -> None:
    """jacfwd(jacfwd(F.gelu)) raised NotImplementedError: Φ(x) was made under no_grad from a tensor carrying a
    tangent; PyTorch's gives the diagonal of gelu''."""
    v = np.array([0.3, -1.2, 2.5, -4.0])
    ours = mg.func.jacfwd(mg.func.jacfwd(F.gelu))(mg.tensor(v))
    expected = torch.func.jacfwd(torch.func.jacfwd(TF.gelu))(torch.tensor(v))
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-10, atol=1e-15)
