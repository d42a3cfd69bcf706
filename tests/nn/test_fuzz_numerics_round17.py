"""nn numerics at float32 extremes against torch.nn.functional: the cases a round-17 differential fuzz (norms with
a large common offset, constant rows, huge and subnormal values; softmax family with infinities and NaN; losses at
0/1 probabilities, -inf logits and |logits| 1e4; distances with zero vectors; activations at the float32 overflow
edges; attention with masked rows; Embedding max_norm; clip_grad_norm_; weight/spectral norm of zero weights)
found differing from PyTorch 2.13, each compared with live torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


def _norm(module, name: str, x: np.ndarray, eps: float) -> object:
    """``name`` of x (N, C, L) over each row/group/instance, with eps."""
    if name == "layer_norm":
        return module.layer_norm(x, x.shape[-1:], eps=eps)
    if name == "group_norm":
        return module.group_norm(x, 1, eps=eps)
    return module.instance_norm(x, eps=eps)


@pytest.mark.parametrize("name", ["layer_norm", "group_norm", "instance_norm"])
@pytest.mark.parametrize(("value", "size"), [(0.1, 7), (0.3, 100), (1.7, 12), (3.3, 768)])
def test_a_constant_row_normalises_to_exactly_zero(name: str, value: float, size: int) -> None:
    # a float32 sum of equal values is an ulp off: ours normalised that ulp by 1/√(0 + eps) to values up to 0.69 at
    # BERT's eps=1e-12; PyTorch's Welford moments keep the mean exact (its instance_norm kernel does not: ours
    # does; batch_norm keeps PyTorch's plain sum)
    x = np.full((2, 2, size), value, dtype=np.float32)
    x[1, 1] = np.linspace(-1, 1, size)   # one ordinary row beside the constant ones
    upstream = np.random.default_rng(0).uniform(0.5, 1.5, x.shape)
    ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True, dtype=torch.float64)
    out = _norm(F, name, ours, 1e-12)
    expected = _norm(TF, name, theirs, 1e-12)   # float64 on the same float32 inputs: the constant rows exact
    (out * mg.tensor(upstream.astype(np.float32))).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    constant = 0   # sample 0: its rows, its group
    assert np.abs(out.numpy()[constant]).max() == 0.0
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    grad = theirs.grad.numpy()   # (g - mean g) / √eps on the constant rows: 1e6 times the upstream's spread
    np.testing.assert_allclose(ours.grad.numpy(), grad, rtol=1e-4, atol=1e-5 * np.abs(grad).max())


@pytest.mark.parametrize("name", ["layer_norm", "group_norm", "instance_norm"])
def test_a_large_common_offset_keeps_float32_accuracy(name: str) -> None:
    # mean 1e4, std 1e-3: the float32 spacing at 1e4 is 1e-3, so a mean rounded to float32 is off by up to half
    # the spread and every normalised value by up to 0.5 (ours were, PyTorch's float32 are up to 1 off); centred
    # on each slice's first element (x - x₀ is exact there) ours keep float32 accuracy against float64 on the
    # same float32 inputs
    x = (1e4 + 1e-3 * np.random.default_rng(1).standard_normal((3, 4, 8))).astype(np.float32)
    reference = _norm(TF, name, torch.tensor(x, dtype=torch.float64), 1e-12).numpy()
    ours = _norm(F, name, mg.tensor(x), 1e-12).numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_instance_norm_eps_zero_of_a_constant_instance_is_zero_as_torchs(dtype: type) -> None:
    # PyTorch's instance_norm runs its batch_norm kernel, whose 1/√var is 0 for a zero variance with eps=0:
    # the instance normalises to 0 (then + bias) with zero gradients; ours gave 0/0 = NaN
    x = np.array([[[3.0, 3.0, 3.0], [1.0, 2.0, 4.0]], [[-0.5, -0.5, -0.5], [7.0, 7.0, 7.0]]], dtype=dtype)
    w, b = np.array([1.5, 2.0], dtype=dtype), np.array([0.1, 0.2], dtype=dtype)
    upstream = np.random.default_rng(2).uniform(0.5, 1.5, x.shape).astype(dtype)
    results = []
    for lib, module in ((mg, F), (torch, TF)):
        leaves = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        out = module.instance_norm(leaves[0], weight=leaves[1], bias=leaves[2], eps=0.0)
        (out * lib.tensor(upstream)).sum().backward()
        results.append([out.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm_type", [2.0, 3.0])
def test_embedding_max_norm_of_a_one_wide_row_beyond_sqrt_float32_max(norm_type: float) -> None:
    # a (V, 1) table with |w| > 1.8e19: ours squared the float32 row to inf and scaled it by max_norm / inf = 0;
    # PyTorch's norm of one element is |w|, so the row becomes ±max_norm
    weight = np.array([[-2.5e19], [3e25], [0.25]], dtype=np.float32)
    ours, theirs = mg.tensor(weight.copy()), torch.tensor(weight.copy())
    out = F.embedding(mg.tensor([0, 1, 2]), ours, max_norm=0.5, norm_type=norm_type)
    expected = TF.embedding(torch.tensor([0, 1, 2]), theirs, max_norm=0.5, norm_type=norm_type)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
