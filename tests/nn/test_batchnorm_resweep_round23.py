"""Round 23 regression sweep of the one-op batch norm (nn/_normalization.py's BatchNorm and BatchNormEval) against
PyTorch 2.13: running_var changed in place after an eval forward is refused at backward (PyTorch's node saves both
running estimates); and two cases where PyTorch 2.13 itself is wrong or crashes, pinned against composed ops."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional


@pytest.mark.parametrize("which", ["running_mean", "running_var"])
@pytest.mark.parametrize("weight_grad", [False, True])
def test_eval_running_estimate_changed_in_place_is_refused(which: str, weight_grad: bool) -> None:
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((3, 2, 4)), rng.standard_normal(2)
    raised = {}
    for lib, fn in ((torch, TF.batch_norm), (mg, F.batch_norm)):
        x = lib.tensor(x_np, requires_grad=not weight_grad)
        weight = lib.tensor(w_np, requires_grad=weight_grad)
        stats = {"running_mean": lib.tensor(np.zeros(2)), "running_var": lib.tensor(np.ones(2))}
        y = fn(x, stats["running_mean"], stats["running_var"], weight, None, False, 0.1, 1e-5)
        with lib.no_grad():
            stats[which].add_(1.0)
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        raised[lib.__name__] = str(info.value)
    assert "inplace" in raised["minigrad"]


def test_eval_unchanged_running_var_still_differentiates() -> None:
    x = mg.tensor(np.arange(12.0).reshape(3, 2, 2), requires_grad=True)
    running_var = mg.tensor(np.full(2, 4.0))
    y = F.batch_norm(x, mg.tensor(np.zeros(2)), running_var, None, None, False, 0.1, 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 2, 2), 0.5))


@pytest.mark.parametrize("training", [True, False])
def test_layout_with_unit_dims_gradient_as_contiguous(training: bool) -> None:
    # (1, C, 1, L) with strides (1, 1, 1, C): PyTorch 2.13 calls it channels-last and its CPU backward reads the
    # incoming gradient in the wrong order (a wrong x.grad); minigrad's must equal the contiguous input's
    rng = np.random.default_rng(1)
    x_np, g_np, w_np = rng.standard_normal((1, 3, 1, 2)), rng.standard_normal((1, 3, 1, 2)), rng.standard_normal(3)
    grads = []
    for transposed in (False, True):
        leaf = mg.tensor(x_np, requires_grad=True)
        x = leaf.transpose(0, -1).contiguous().transpose(0, -1) if transposed else leaf
        weight = mg.tensor(w_np, requires_grad=True)
        y = F.batch_norm(x, mg.tensor(np.zeros(3)), mg.tensor(np.ones(3)), weight, None, training, 0.1, 1e-5)
        y.backward(mg.tensor(g_np))
        grads.append((leaf.grad.numpy(), weight.grad.numpy()))
    reference = torch.tensor(x_np, requires_grad=True)
    weight = torch.tensor(w_np, requires_grad=True)
    TF.batch_norm(reference, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), weight, None,
                  training, 0.1, 1e-5).backward(torch.tensor(g_np))
    for got in grads:
        np.testing.assert_allclose(got[0], reference.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[1], weight.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_bias_only_double_backward_as_composed(training: bool) -> None:
    # PyTorch 2.13's native_batch_norm double backward with a bias and no weight raises ("Expected a proper
    # Tensor but got None"); minigrad's equals the composed ops' second derivatives
    rng = np.random.default_rng(2)
    x_np, b_np = rng.standard_normal((3, 2, 2)), rng.standard_normal(2)
    rm, rv, k = rng.standard_normal(2), rng.random(2) + 0.5, np.arange(12.0).reshape(3, 2, 2) / 7

    def composed(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if training:
            mean, var = x.mean((0, 2), keepdim=True), x.var((0, 2), unbiased=False, keepdim=True)
        else:
            mean, var = torch.tensor(rm).view(1, -1, 1), torch.tensor(rv).view(1, -1, 1)
        return (x - mean) / torch.sqrt(var + 1e-5) + b.view(1, -1, 1)

    results = []
    for lib in (torch, mg):
        x, b = lib.tensor(x_np, requires_grad=True), lib.tensor(b_np, requires_grad=True)
        if lib is torch:
            y = composed(x, b)
        else:
            y = F.batch_norm(x, mg.tensor(rm), mg.tensor(rv), None, b, training, 0.1, 1e-5)
        first = lib.autograd.grad((y * y * lib.tensor(k)).sum(), [x, b], create_graph=True)
        second = lib.autograd.grad(sum((g * g).sum() for g in first), [x, b])
        results.append([t.detach().numpy() for t in (*first, *second)])
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
