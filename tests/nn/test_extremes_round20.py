"""Extreme float32/float16 values through composite nn code (losses, normalisations, activations), against torch
2.13: values, NaN/inf positions and signs, and first gradients (round 20's differential fuzzing of extremes)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from nn import functional as F

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional


def _same(ours, theirs) -> None:
    """Same shape and dtype, NaN where torch has NaN, infinities of the same sign, the rest allclose."""
    theirs_np = theirs.detach().float().numpy()
    ours_np = np.asarray(ours.detach().numpy(), dtype=np.float32)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert ours_np.shape == theirs_np.shape
    np.testing.assert_array_equal(np.isnan(ours_np), np.isnan(theirs_np))
    np.testing.assert_array_equal(np.isposinf(ours_np), np.isposinf(theirs_np))
    np.testing.assert_array_equal(np.isneginf(ours_np), np.isneginf(theirs_np))
    np.testing.assert_allclose(ours_np, theirs_np, rtol=1e-3, atol=1e-3, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("name, target, weight, ignore_index, label_smoothing", [
    # kept targets whose class weights are all 0 (a total weight of 0): NaN loss, NaN gradients at their rows
    ("nll_loss", [1, 0, 1], [1.0, 0.0, 1.0, 0.0], 0, 0.0),
    ("nll_loss", [1, 2, 1], [1.0, 0.0, 0.0, 0.0], -100, 0.0),
    ("cross_entropy", [1, 0, 1], [1.0, 0.0, 1.0, 0.0], 0, 0.0),
    ("cross_entropy", [1, 1, 1], [1.0, 0.0, 1.0, 0.0], -100, 0.1),
    # every target ignored: NaN loss, zero gradients (as before)
    ("nll_loss", [0, 0, 0], None, 0, 0.0),
    ("cross_entropy", [0, 0, 0], [1.0, 0.0, 1.0, 0.0], 0, 0.1),
])
def test_a_zero_total_class_weight_gives_nan_gradients_at_the_kept_rows(name: str, target: list, weight: list | None,
                                                                        ignore_index: int, label_smoothing: float,
                                                                        dtype: type) -> None:
    # the mean's gradient is grad / total_weight = inf there, times each kept row's class weight 0: NaN, as
    # PyTorch's; minigrad gave zero gradients (the all-ignored rule applied to any zero denominator)
    logits = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype)
    results = []
    for lib, functional in ((mg, F), (torch, TF)):
        x = lib.tensor(logits, requires_grad=True)
        kwargs = {"weight": None if weight is None else lib.tensor(np.array(weight, dtype)),
                  "ignore_index": ignore_index}
        if name == "cross_entropy":
            kwargs["label_smoothing"] = label_smoothing
        loss = getattr(functional, name)(x, lib.tensor(target), **kwargs)
        (grad,) = lib.autograd.grad(loss, x, create_graph=True)
        (second,) = lib.autograd.grad((grad * grad).sum(), x)
        results.append((loss, grad, second))
    for ours, theirs in zip(*results):
        _same(ours, theirs)


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("name, reduction", [("nll_loss", "sum"), ("nll_loss", "mean"), ("cross_entropy", "mean"),
                                             ("cross_entropy", "sum")])
def test_a_float16_class_loss_of_inf_or_nan_still_sends_its_gradient_back(name: str, reduction: str) -> None:
    # the float16 sum/mean takes PyTorch's rounded value with the engine loss's gradient; where that loss was ±inf
    # or NaN the gradient was 0 (inf - inf = NaN zeroed), so one inf logit silenced every row's gradient
    logits = np.array([[2.0, 0.59, -0.39, 2.6], [-INF, -0.078, INF, 30.0]], np.float16)
    results = []
    for lib, functional in ((mg, F), (torch, TF)):
        x = lib.tensor(logits, requires_grad=True)
        loss = getattr(functional, name)(x, lib.tensor([0, 2]), reduction=reduction)
        loss.backward()
        results.append((loss, x.grad))
    for ours, theirs in zip(*results):
        _same(ours, theirs)



def test_float16_instance_norm_eps_zero_of_a_constant_instance_is_zero_as_torchs() -> None:
    # round 17 gave float32/float64 PyTorch's 1/√var = 0 for a zero-variance instance with eps=0; the float16 path
    # (PyTorch's batch_norm kernel in float32) still divided by 0: NaN outputs and gradients
    x = np.array([[[3.0, 3.0, 3.0], [1.0, 2.0, 4.0]], [[-0.5, -0.5, -0.5], [0.0, 0.0, 0.0]]], np.float16)
    w, b = np.array([1.5, 2.0], np.float16), np.array([0.1, 0.2], np.float16)
    upstream = np.random.default_rng(2).uniform(0.5, 1.5, x.shape).astype(np.float16)
    results = []
    for lib, functional in ((mg, F), (torch, TF)):
        leaves = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        out = functional.instance_norm(leaves[0], weight=leaves[1], bias=leaves[2], eps=0.0)
        (out * lib.tensor(upstream)).sum().backward()
        results.append([out] + [leaf.grad for leaf in leaves])
    for ours, theirs in zip(*results):
        _same(ours, theirs)
