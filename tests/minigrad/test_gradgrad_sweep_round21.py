"""Second derivatives of the public ops with random keyword arguments against torch 2.13 (round 21), float64.

The sweep (an offline fuzzer over every differentiable op of the minigrad namespace, Tensor methods, linalg, fft,
special and nn.functional, with random dims, keepdim, reductions, p-norms, modes, paddings, strides, weights,
ignore_index, label_smoothing, beta/delta, approximate, align_corners) compared Hessian-vector products
``grad(grad(f(x)·w, x, create_graph=True)·v, x)`` with torch's at 1e-8 and found them equal; what differed:

- the adaptive pools (``adaptive_avg_pool1d/2d/3d``, ``adaptive_max_pool1d/2d/3d`` and their ``_with_indices``)
  and ``interpolate(mode="area")``: PyTorch's backward of these reads the input (its double backward gives the
  input ``zeros_like``), so their first derivative under ``create_graph=True`` requires grad and a second
  ``grad``/``backward`` through it gives zeros; ours did not require grad, so the second ``grad`` raised
  "does not require grad" (a gradient penalty through a pooling head failed);
- ``tensor_split``/``vsplit``/``hsplit`` with split points past the end, out of order or negative (PyTorch's
  indices; the parts then overlap or are empty): ``create_graph=True`` raised "no higher-order gradient for split
  … yet"; torch differentiates them any number of times. The rule now places each part's gradient between zeros
  and sums them (a concatenation where sorted points only run past the end);
- ``batch_norm(training=False)``: linear in x, but PyTorch's backward takes x, so its first derivative requires
  grad and x's second derivative is "not used" (None with ``allow_unused=True``); ours did not require grad.
  (PyTorch's own double backward with a bias but no weight raises an internal "Expected a proper Tensor but got
  None"; ours gives None there.)
- ``cumprod`` along a dim of size 1 (and so ``linalg.vander(x, N=2)``): the identity, whose gradient PyTorch passes
  through untied to x (a second ``grad`` raises "does not require grad"); ours tied it to x and gave zeros.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _functional(lib: Any) -> Any:
    return torch.nn.functional if lib is torch else nn.functional


def _second(lib: Any, fn: Callable, array: np.ndarray) -> tuple:
    """(first derivative requires grad, the second derivative of (grad·grad).sum() or None) of sum(fn(x)·w)."""
    x = lib.tensor(array.copy(), requires_grad=True)
    y = fn(_functional(lib), x)
    w = lib.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))
    (g,) = lib.autograd.grad((y * w).sum(), x, create_graph=True)
    (h,) = lib.autograd.grad((g * g).sum(), x, allow_unused=True)
    return g.requires_grad, None if h is None else h.detach().numpy()


POOLS = {
    "adaptive_avg_pool1d": (lambda F, x: F.adaptive_avg_pool1d(x, 3), (2, 3, 4)),
    "adaptive_avg_pool1d_tiles": (lambda F, x: F.adaptive_avg_pool1d(x, 2), (3, 4)),
    "adaptive_avg_pool2d": (lambda F, x: F.adaptive_avg_pool2d(x, (2, 3)), (2, 3, 4, 5)),
    "adaptive_avg_pool3d": (lambda F, x: F.adaptive_avg_pool3d(x, (2, 1, 3)), (1, 2, 3, 4, 5)),
    "adaptive_max_pool1d": (lambda F, x: F.adaptive_max_pool1d(x, 2), (2, 3, 4)),
    "adaptive_max_pool2d": (lambda F, x: F.adaptive_max_pool2d(x, (2, 3)), (2, 3, 4, 5)),
    "adaptive_max_pool2d_with_indices": (lambda F, x: F.adaptive_max_pool2d_with_indices(x, (2, 3))[0], (2, 3, 4, 5)),
    "adaptive_max_pool3d": (lambda F, x: F.adaptive_max_pool3d(x, (2, 1, 3)), (1, 2, 3, 4, 5)),
    "interpolate_area": (lambda F, x: F.interpolate(x, size=(3, 2), mode="area"), (1, 2, 5, 4)),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_adaptive_pool_first_derivative_reads_the_input_as_torch(name: str) -> None:
    fn, shape = POOLS[name]
    array = np.random.default_rng(21).standard_normal(shape)
    mine, theirs = _second(mg, fn, array), _second(torch, fn, array)
    assert mine[0] is theirs[0] is True
    assert (mine[1] is None) == (theirs[1] is None)
    np.testing.assert_array_equal(mine[1], theirs[1])   # zeros: the pools are linear in x


SPLITS = [("tensor_split", [4], 0), ("tensor_split", (4, 3), 0), ("tensor_split", [2, 1], 1),
          ("tensor_split", [5], -1), ("tensor_split", [-3, 2], 1), ("tensor_split", [3, 1, 2], 1),
          ("vsplit", [2, 1], None), ("hsplit", (4, 3), None)]


@pytest.mark.parametrize("op, points, dim", SPLITS)
def test_split_points_past_the_end_or_out_of_order_differentiate_twice(op: str, points: Any, dim: Any) -> None:
    array = np.random.default_rng(3).standard_normal((3, 4))
    results = []
    for lib in (mg, torch):
        x = lib.tensor(array.copy(), requires_grad=True)
        parts = getattr(lib, op)(x, points) if dim is None else getattr(lib, op)(x, points, dim=dim)
        total = sum((part ** 3 * (i + 1)).sum() for i, part in enumerate(parts))
        (g,) = lib.autograd.grad(total, x, create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(array[::-1].copy())).sum(), x)
        results.append((g.detach().numpy(), h.numpy()))
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("with_weight", [False, True])
def test_batch_norm_eval_first_derivative_requires_grad_as_torch(shape: tuple, with_weight: bool) -> None:
    rng = np.random.default_rng(5)
    channels = shape[1]
    array, weight = rng.standard_normal(shape), rng.standard_normal(channels)
    mean, var = rng.standard_normal(channels), rng.uniform(0.5, 1.0, channels)
    results = []
    for lib in (mg, torch):
        x = lib.tensor(array.copy(), requires_grad=True)
        inputs = [x] + ([lib.tensor(weight.copy(), requires_grad=True)] if with_weight else [])
        y = _functional(lib).batch_norm(x, lib.tensor(mean.copy()), lib.tensor(var.copy()),
                                        inputs[1] if with_weight else None, training=False, eps=0.1)
        w = lib.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))
        grads = lib.autograd.grad((y * w).sum(), inputs, create_graph=True)
        seconds = lib.autograd.grad(sum((g * g).sum() for g in grads), inputs, allow_unused=True)
        results.append(([g.requires_grad for g in grads], [None if h is None else h.detach().numpy() for h in seconds]))
    (mine_rg, mine), (theirs_rg, theirs) = results
    assert mine_rg == theirs_rg
    for a, b in zip(mine, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


CUMPROD_CASES = {
    "dim_of_one": (lambda L, x: x.cumprod(0), (1, 3)),
    "last_dim_of_one": (lambda L, x: x.cumprod(-1), (3, 1)),
    "scalar": (lambda L, x: x.cumprod(0), ()),
    "vander_n2": (lambda L, x: L.linalg.vander(x, N=2), (3,)),
    "longer_dim": (lambda L, x: x.cumprod(0), (3, 1)),   # not the identity: a real second derivative
}


@pytest.mark.parametrize("name", sorted(CUMPROD_CASES))
def test_cumprod_over_one_entry_is_untied_identity_as_torch(name: str) -> None:
    fn, shape = CUMPROD_CASES[name]
    array = np.random.default_rng(7).uniform(0.5, 1.5, shape)
    results = []
    for lib in (mg, torch):
        x = lib.tensor(array.copy(), requires_grad=True)
        y = fn(lib, x)
        (g,) = lib.autograd.grad((y * 2).sum(), x, create_graph=True)
        second = lib.autograd.grad((g * g).sum(), x)[0].detach().numpy() if g.requires_grad else None
        results.append((g.requires_grad, g.detach().numpy(), second))
    (mine_rg, mine_g, mine_h), (theirs_rg, theirs_g, theirs_h) = results
    assert mine_rg == theirs_rg
    np.testing.assert_allclose(mine_g, theirs_g, rtol=1e-12)
    if theirs_h is not None:
        np.testing.assert_allclose(mine_h, theirs_h, rtol=1e-10)


@pytest.mark.parametrize("points, dim", [([2, 1], 0), ([2, 1], 1), ([-1, 1], 1)])
def test_split_empty_part_out_of_order_ties_its_gradient_as_torch(points: list, dim: int) -> None:
    array = np.random.default_rng(4).standard_normal((3, 4))
    results = []
    for lib in (mg, torch):
        x = lib.tensor(array.copy(), requires_grad=True)
        part = lib.tensor_split(x, points, dim=dim)[1]   # empty
        (g,) = lib.autograd.grad((part ** 3).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x, allow_unused=True)
        results.append((g.requires_grad, None if h is None else h.detach().numpy()))
    (mine_rg, mine), (theirs_rg, theirs) = results
    assert mine_rg == theirs_rg
    np.testing.assert_array_equal(mine, theirs)
