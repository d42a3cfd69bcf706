"""Round 25: one autograd node where PyTorch has one.

layer_norm (NativeLayerNormBackward0, was 8-10 nodes), elu/celu/selu (EluBackward0/CeluBackward0, was 7-8),
leaky_relu (LeakyReluBackward0, was a where and a mul), softplus (SoftplusBackward0, was 4) and mse_loss
(MseLossBackward0, was 2-3) are each one op with its own backward and ``create_graph=True`` rule. Checked here:
the node's name, ``next_functions``, the post-hook's grad_inputs and the number of nodes in the graph against
torch 2.13; values and gradients against torch and against the composed ops they replace (float64, 1e-12);
float64 gradcheck and gradgradcheck; second derivatives at the kinks, NaN and infinities against torch's double
backward; float16 layer_norm; an input changed in place after the forward refused at backward, as torch's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn.functional as MF
from nn._normalization import _affine, _normalized

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(25)


def _graph_size(out: Any) -> int:
    """The nodes reachable from ``out.grad_fn`` (AccumulateGrad not counted)."""
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or "AccumulateGrad" in node.name():
            continue
        seen.add(id(node))
        stack.extend(fn for fn, _ in node.next_functions)
    return len(seen)


def _node_view(lib: Any, F: Any, fn: Any, arrays: list) -> tuple:   # noqa: N803
    """(name, graph size, next_functions' names before and after backward, the post-hook's grad_inputs None-ness
    and grad_outputs count) of ``fn(lib, F, *leaves)``."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, F, *leaves)
    node, seen = out.grad_fn, {}

    def hook(grad_inputs: tuple, grad_outputs: tuple) -> None:
        seen["in"], seen["out"] = tuple(g is None for g in grad_inputs), len(grad_outputs)

    node.register_hook(hook)

    def edges() -> tuple:
        return tuple(None if fn is None else fn.name() for fn, _ in node.next_functions)

    before, size = edges(), _graph_size(out)
    out.sum().backward()
    return node.name(), size, before, edges(), seen["in"], seen["out"]


def _weighted_bce(lib: Any, F: Any, x: Any, y: Any, weight: Any, reduction: str) -> Any:   # noqa: N803
    """F.binary_cross_entropy with class weights; torch's through its kernel (F's weight check imports sympy: 2 s)."""
    if lib is mg:
        return F.binary_cross_entropy(x, y, weight, reduction=reduction)
    return torch._C._nn.binary_cross_entropy(x, y, weight.expand(x.shape), {"none": 0, "mean": 1, "sum": 2}[reduction])


CASES = {
    "layer_norm": ((lambda L, F, x, w, b: F.layer_norm(x, (8,), w, b)), ((4, 8), (8,), (8,))),
    "layer_norm_2d": ((lambda L, F, x, w, b: F.layer_norm(x, (3, 8), w, b)), ((2, 3, 8), (3, 8), (3, 8))),
    "layer_norm_plain": ((lambda L, F, x: F.layer_norm(x, (8,))), ((4, 8),)),
    "layer_norm_weight": ((lambda L, F, x, w: F.layer_norm(x, (8,), w)), ((4, 8), (8,))),
    "layer_norm_bias": ((lambda L, F, x, b: F.layer_norm(x, (8,), None, b)), ((4, 8), (8,))),
    "layer_norm_module": ((lambda L, F, x: L.nn.LayerNorm(8).double()(x)), ((2, 5, 8),)),
    "group_norm": ((lambda L, F, x, w, b: F.group_norm(x, 2, w, b)), ((2, 4, 5), (4,), (4,))),
    "group_norm_plain": ((lambda L, F, x: F.group_norm(x, 4)), ((2, 4, 3, 3),)),
    "group_norm_module": ((lambda L, F, x: L.nn.GroupNorm(2, 6).double()(x)), ((2, 6, 3),)),
    "elu": ((lambda L, F, x: F.elu(x, 0.7)), ((4, 8),)),
    "celu": ((lambda L, F, x: F.celu(x, 1.5)), ((4, 8),)),
    "selu": ((lambda L, F, x: F.selu(x)), ((4, 8),)),
    "leaky_relu": ((lambda L, F, x: F.leaky_relu(x, 0.2)), ((4, 8),)),
    "leaky_relu_module": ((lambda L, F, x: L.nn.LeakyReLU()(x)), ((4, 8),)),
    "softplus": ((lambda L, F, x: F.softplus(x, 2.0, 1.0)), ((4, 8),)),
    "logsigmoid": ((lambda L, F, x: F.logsigmoid(x)), ((4, 8),)),
    "glu": ((lambda L, F, x: F.glu(x)), ((4, 8),)),
    "glu_dim0": ((lambda L, F, x: L.nn.GLU(0)(x)), ((4, 3, 2),)),
    "mse_mean": ((lambda L, F, x, y: F.mse_loss(x, y)), ((4, 8), (4, 8))),
    "mse_sum": ((lambda L, F, x, y: F.mse_loss(x, y, reduction="sum")), ((4, 8), (4, 8))),
    "mse_none": ((lambda L, F, x, y: F.mse_loss(x, y, reduction="none")), ((4, 8), (4, 8))),
    "mse_target_constant": ((lambda L, F, x, y: F.mse_loss(x, y.detach())), ((4, 8), (4, 8))),
    "mse_of_computed": ((lambda L, F, x, y: F.mse_loss(x.tanh(), y * 2)), ((4, 8), (4, 8))),
    "cross_entropy": ((lambda L, F, x: F.cross_entropy(x, L.tensor([1, 2, 7, 0]))), ((4, 8),)),
    "cross_entropy_sum": ((lambda L, F, x: F.cross_entropy(x, L.tensor([1, 2, 7, 0]), reduction="sum")), ((4, 8),)),
    "cross_entropy_none": ((lambda L, F, x: F.cross_entropy(x, L.tensor([1, 2, 7, 0]), reduction="none")),
                           ((4, 8),)),
    "cross_entropy_ignored": ((lambda L, F, x: F.cross_entropy(x, L.tensor([1, -100, 7, 0]))), ((4, 8),)),
    "cross_entropy_weighted": ((lambda L, F, x, w: F.cross_entropy(x, L.tensor([1, 2, 7, 0]), w.detach())),
                               ((4, 8), (8,))),
    "nll_loss": ((lambda L, F, x: F.nll_loss(x, L.tensor([1, 2, 7, 0]))), ((4, 8),)),
    "smooth_l1": ((lambda L, F, x, y: F.smooth_l1_loss(x, y.detach())), ((4, 8), (4, 8))),
    "huber_none": ((lambda L, F, x, y: F.huber_loss(x, y, reduction="none")), ((4, 8), (4, 8))),
    "bce": ((lambda L, F, x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid())), ((4, 8), (4, 8))),
    "bce_weighted_sum": ((lambda L, F, x, y, w: _weighted_bce(L, F, x.sigmoid(), y.detach().sigmoid(), w.detach(),
                                                              "sum")), ((4, 8), (4, 8), (8,))),
    "bce_logits": ((lambda L, F, x, y: F.binary_cross_entropy_with_logits(x, y.detach().sigmoid())), ((4, 8), (4, 8))),
    "bce_logits_pos_weight": ((lambda L, F, x, y, p: F.binary_cross_entropy_with_logits(
        x, y.sigmoid(), pos_weight=p.detach().exp())), ((4, 8), (4, 8), (8,))),
    "nll_loss_module": ((lambda L, F, x: L.nn.NLLLoss(ignore_index=2)(x.log_softmax(1), L.tensor([1, 2, 7, 0]))),
                        ((4, 8),)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_as_pytorch(name: str) -> None:
    fn, shapes = CASES[name]
    arrays = [RNG.standard_normal(shape) for shape in shapes]
    torch.manual_seed(0)
    expected = _node_view(torch, TF, fn, arrays)
    assert _node_view(mg, MF, fn, arrays) == expected


def _old_layer_norm(x: Any, shape: tuple, weight: Any, bias: Any, eps: float) -> Any:
    """layer_norm as minigrad composed it before (round 24): the values the op must keep."""
    out = _normalized(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)[0]
    out = out if weight is None else out * weight
    return out if bias is None else out + bias


def _old_group_norm(x: Any, groups: int, weight: Any, bias: Any, eps: float) -> Any:
    """group_norm as minigrad composed it before (round 24)."""
    out = _normalized(x.reshape(x.shape[0], groups, -1), (2,), eps)[0].reshape(x.shape)
    return _affine(out, weight, bias, "group_norm")


def _old_exponential(x: Any, alpha: float, input_scale: float = 1.0) -> Any:
    positive = x > 0
    negative = alpha * mg.expm1(mg.where(positive, 0.0, x) * input_scale)
    return mg.where(x == 0, (alpha * input_scale) * x, mg.where(positive, x, negative))


def _old_piecewise(x: Any, y: Any, limit: float, huber: bool) -> Any:
    """smooth_l1_loss/huber_loss unreduced as minigrad composed them before (round 24)."""
    difference = x - y
    distance = difference.abs()
    far = distance >= limit
    small = mg.where(far, 0.0, difference)
    if huber:
        return mg.where(far, limit * (distance - 0.5 * limit), 0.5 * small * small)
    return mg.where(far, distance - 0.5 * limit, 0.5 * small * small / limit)


# fn(lib, F, *leaves), the composed minigrad ops it replaces (None: the same call), the arrays' shapes
VALUES = {
    "layer_norm": (lambda L, F, x, w, b: F.layer_norm(x, (6,), w, b, 1e-3),
                   lambda x, w, b: _old_layer_norm(x, (6,), w, b, 1e-3), ((2, 3, 6), (6,), (6,))),
    "layer_norm_2d": (lambda L, F, x, w, b: F.layer_norm(x, (3, 4), w, b),
                      lambda x, w, b: _old_layer_norm(x, (3, 4), w, b, 1e-5), ((2, 3, 4), (3, 4), (3, 4))),
    "layer_norm_all_dims": (lambda L, F, x, w: F.layer_norm(x, (2, 5), w),
                            lambda x, w: _old_layer_norm(x, (2, 5), w, None, 1e-5), ((2, 5), (2, 5))),
    "group_norm": (lambda L, F, x, w, b: F.group_norm(x, 2, w, b, 1e-3),
                   lambda x, w, b: _old_group_norm(x, 2, w, b, 1e-3), ((2, 4, 3, 2), (4,), (4,))),
    "group_norm_plain": (lambda L, F, x: F.group_norm(x, 3), lambda x: _old_group_norm(x, 3, None, None, 1e-5),
                         ((3, 6, 2),)),
    "layer_norm_plain": (lambda L, F, x: F.layer_norm(x, (7,)),
                         lambda x: _old_layer_norm(x, (7,), None, None, 1e-5), ((5, 7),)),
    "elu": (lambda L, F, x: F.elu(x, 0.7), lambda x: _old_exponential(x, 0.7), ((5, 6),)),
    "celu": (lambda L, F, x: F.celu(x, -1.5), lambda x: _old_exponential(x, -1.5, 1 / -1.5), ((5, 6),)),
    "selu": (lambda L, F, x: F.selu(x), lambda x: 1.0507009873554804934193349852946 * _old_exponential(
        x, 1.6732632423543772848170429916717), ((5, 6),)),
    "leaky_relu": (lambda L, F, x: F.leaky_relu(x, 0.2), lambda x: mg.where(x > 0, x, x * 0.2), ((5, 6),)),
    "softplus": (lambda L, F, x: F.softplus(x, 1.5, 2.0),
                 lambda x: mg.where(x * 1.5 > 2.0, x, mg.logaddexp(x * 1.5, 0.0) / 1.5), ((5, 6),)),
    "logsigmoid": (lambda L, F, x: F.logsigmoid(x), lambda x: 0.0 - mg.logaddexp(-x, 0.0), ((5, 6),)),
    "glu": (lambda L, F, x: F.glu(x), lambda x: x.chunk(2, 1)[0] * x.chunk(2, 1)[1].sigmoid(), ((5, 6),)),
    "glu_middle": (lambda L, F, x: F.glu(x, 1), lambda x: x.chunk(2, 1)[0] * x.chunk(2, 1)[1].sigmoid(),
                   ((3, 4, 5),)),
    "mse_mean": (lambda L, F, x, y: F.mse_loss(x, y), lambda x, y: ((x - y) * (x - y)).mean(), ((5, 6), (5, 6))),
    "mse_sum": (lambda L, F, x, y: F.mse_loss(x, y, reduction="sum"),
                lambda x, y: ((x - y) * (x - y)).sum(), ((5, 6), (5, 6))),
    "mse_none": (lambda L, F, x, y: F.mse_loss(x, y, reduction="none"),
                 lambda x, y: (x - y) * (x - y), ((5, 6), (5, 6))),
    "mse_broadcast": (lambda L, F, x, y: F.mse_loss(x, y), lambda x, y: ((x - y) * (x - y)).mean(),
                      ((5, 6), (6,))),
    "smooth_l1_mean": (lambda L, F, x, y: F.smooth_l1_loss(x, y, beta=0.7),
                       lambda x, y: _old_piecewise(x, y, 0.7, False).mean(), ((5, 6), (5, 6))),
    "smooth_l1_none": (lambda L, F, x, y: F.smooth_l1_loss(x, y, reduction="none"),
                       lambda x, y: _old_piecewise(x, y, 1.0, False), ((5, 6), (5, 6))),
    "huber_sum": (lambda L, F, x, y: F.huber_loss(x, y, reduction="sum", delta=0.8),
                  lambda x, y: _old_piecewise(x, y, 0.8, True).sum(), ((5, 6), (5, 6))),
    "huber_broadcast": (lambda L, F, x, y: F.huber_loss(x, y), lambda x, y: _old_piecewise(x, y, 1.0, True).mean(),
                        ((5, 6), (6,))),
    "bce_mean": (lambda L, F, x, y, w: _weighted_bce(L, F, x.sigmoid(), y.sigmoid(), w.detach(), "mean"),
                 lambda x, y, w: MF.binary_cross_entropy(x.sigmoid(), y.sigmoid(), w.detach(), reduction="none").mean(),
                 ((5, 6), (5, 6), (6,))),
    "bce_sum": (lambda L, F, x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid(), reduction="sum"),
                lambda x, y: MF.binary_cross_entropy(x.sigmoid(), y.sigmoid(), reduction="none").sum(),
                ((5, 6), (5, 6))),
    "bce_logits_mean": (lambda L, F, x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid()),
                        lambda x, y: MF.binary_cross_entropy_with_logits(x, y.sigmoid(), reduction="none").mean(),
                        ((5, 6), (5, 6))),
    "bce_logits_weighted": (
        lambda L, F, x, y, w, p: F.binary_cross_entropy_with_logits(x, y.sigmoid(), w.detach(), reduction="sum",
                                                                    pos_weight=p.detach()),
        lambda x, y, w, p: MF.binary_cross_entropy_with_logits(x, y.sigmoid(), w.detach(), reduction="none",
                                                               pos_weight=p.detach()).sum(),
        ((5, 6), (5, 6), (5, 6), (6,))),
}


def _values_and_grads(lib: Any, fn: Any, arrays: list, weights: np.ndarray) -> list:
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    (out * lib.tensor(weights)).sum().backward()
    return [out.detach().numpy()] + [np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
                                     for leaf in leaves]


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_as_before_and_as_pytorch(name: str) -> None:
    """float64: within 1e-12 of the composed ops replaced and of torch, values and every gradient."""
    fn, old, shapes = VALUES[name]
    arrays = [RNG.standard_normal(shape) * 2 for shape in shapes]
    arrays[0].flat[:3] = 0.0, -0.0, 1e-300   # the kinks of the activations
    ours = mg.tensor(arrays[0]).detach()
    weights = RNG.standard_normal(fn(mg, MF, *[mg.tensor(a) for a in arrays]).shape)
    new = _values_and_grads(mg, lambda *t: fn(mg, MF, *t), arrays, weights)
    expected = _values_and_grads(mg, old, arrays, weights)
    theirs = _values_and_grads(torch, lambda *t: fn(torch, TF, *t), arrays, weights)
    for a, b, c in zip(new, expected, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)
    assert ours.shape == arrays[0].shape


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("name", sorted(VALUES))
def test_gradcheck_and_gradgradcheck(name: str) -> None:
    fn, _, shapes = VALUES[name]
    differentiable = 2 if name in ("bce_mean", "bce_logits_weighted") else len(shapes)   # (the weights detached)
    leaves = [mg.tensor(RNG.standard_normal(shape) + 0.3, requires_grad=i < differentiable)
              for i, shape in enumerate(shapes)]

    def run(*t: Any) -> Any:
        return fn(mg, MF, *t)

    assert mg.gradcheck(run, leaves)
    assert mg.gradgradcheck(run, leaves)


def _old_nll(log_probs: Any, target: Any, weight: Any, reduction: str, ignore_index: int) -> Any:
    """nll_loss through the composed ops it replaced (nll_rows still takes them for class weights that require grad,
    which PyTorch refuses): weights of 1 where none are given (x · 1 and a mean over Σ 1 are exact)."""
    if weight is None:
        weight = mg.ones(log_probs.shape[1], dtype=log_probs.dtype)
    return MF.nll_loss(log_probs, target, weight.detach().requires_grad_(), ignore_index=ignore_index,
                       reduction=reduction)


NLL = {   # target, class weights (None or an array), reduction, ignore_index
    "mean": ([1, 2, 7, 0, 3], None, "mean", -100),
    "sum": ([1, 2, 7, 0, 3], None, "sum", -100),
    "none": ([1, 2, 7, 0, 3], None, "none", -100),
    "ignored": ([1, 2, 7, 0, 3], None, "mean", 7),
    "weighted_mean": ([1, 2, 7, 0, 3], np.linspace(0.5, 2.0, 8), "mean", 2),
    "weighted_none": ([1, 2, 7, 0, 3], np.linspace(0.5, 2.0, 8), "none", 2),
    "all_ignored": ([4, 4, 4, 4, 4], None, "mean", 4),   # NaN, zero gradients
    "zero_weights": ([1, 2, 7, 0, 3], np.zeros(8), "mean", -100),   # NaN, NaN gradients at the targets
}


@pytest.mark.parametrize("name", sorted(NLL))
def test_nll_loss_as_before_and_as_pytorch(name: str) -> None:
    """float64 nll_loss of log_softmax: the composed ops' values and gradients (1e-12), torch's; gradients with
    create_graph=True as torch's, and their own gradient zeros (PyTorch's backward takes the log-probabilities
    but is linear in g)."""
    target, weight, reduction, ignore = NLL[name]
    logits = RNG.standard_normal((5, 8))
    logits[4, 4] = -np.inf   # a log-probability of -inf at an ignored row or a target not taken: no NaN
    results = []
    for lib, F, op in ((torch, TF, TF.nll_loss), (mg, MF, MF.nll_loss), (mg, MF, _old_nll)):   # noqa: N806
        x = lib.tensor(logits, requires_grad=True)
        log_probs = F.log_softmax(x, 1)
        w = None if weight is None else lib.tensor(weight)
        if op is _old_nll:
            out = op(log_probs, lib.tensor(target), w, reduction, ignore)
        else:
            out = op(log_probs, lib.tensor(target), w, ignore_index=ignore, reduction=reduction)
        scaled = (out * lib.tensor(np.linspace(-1, 2, out.numel()).reshape(out.shape))).sum()
        (first,) = lib.autograd.grad(scaled, log_probs, create_graph=op is not _old_nll)
        results.append([out.detach().numpy(), first.detach().numpy()])
        if op is not _old_nll:
            assert first.requires_grad
            (second,) = lib.autograd.grad((first * first).sum(), log_probs, allow_unused=True)
            results[-1].append(None if second is None else second.numpy())
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    for ours, before in zip(results[1], results[2]):
        np.testing.assert_allclose(ours, before, rtol=1e-12, atol=0)


def test_cross_entropy_gradcheck_and_gradgradcheck() -> None:
    target = mg.tensor([1, 2, 3])
    weight = mg.tensor(np.linspace(0.5, 2.0, 4))
    leaves = [mg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)]
    for reduction in ("mean", "sum", "none"):
        def run(x: Any, reduction: str = reduction) -> Any:
            return MF.cross_entropy(x, target, weight, ignore_index=2, reduction=reduction, label_smoothing=0.1)

        assert mg.gradcheck(run, leaves)
        assert mg.gradgradcheck(run, leaves)


SPECIAL = [-1.0, -0.0, 0.0, 1.0, 1.5, float("nan"), -float("inf"), float("inf")]
ACTIVATIONS = {
    "elu": lambda F, x: F.elu(x, 1.5),
    "celu": lambda F, x: F.celu(x, 2.0),
    "selu": lambda F, x: F.selu(x),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.1),
    "softplus": lambda F, x: F.softplus(x, 2.0, 3.0),   # 1.5 sits on the threshold
    "logsigmoid": lambda F, x: F.logsigmoid(x),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_second_derivative_at_special_points_as_pytorch(name: str) -> None:
    """The first and second derivatives at ±0, the threshold, NaN and ±inf, as torch's double backward: elu's
    curvature is 0 at 0 itself, softplus's 0 on its threshold and at -inf (the composed ops gave 0.09 and NaN
    there); a NaN x's slope of elu/celu/selu is NaN (PyTorch's vectorised kernel; its 8-element tail says 1)."""
    results = []
    for lib, F in ((torch, TF), (mg, MF)):   # noqa: N806
        x = lib.tensor(SPECIAL * 2, dtype=lib.float64, requires_grad=True)   # 16: torch's vectorised path
        y = ACTIVATIONS[name](F, x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        results.append([t.detach().numpy() for t in (y, g, h)] + [y.grad_fn.name()])
    for ours, theirs in zip(results[1], results[0]):
        if isinstance(ours, str):
            assert ours == theirs
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0)


def test_layer_norm_float16_as_pytorch() -> None:
    """float16 computes in float32 and rounds once, as PyTorch's kernel (torch's float32 result rounded to float16
    is the reference: its float16 kernel's first call costs a second): one node, with float16 or float32
    parameters, each gradient in its tensor's dtype."""
    x = (RNG.standard_normal((6, 40)) * 3 + 2).astype(np.float16)
    g = RNG.standard_normal((6, 40)).astype(np.float16)
    for dtype in (np.float16, np.float32):
        w, b = RNG.standard_normal(40).astype(dtype), RNG.standard_normal(40).astype(dtype)
        leaves = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = MF.layer_norm(leaves[0], (40,), leaves[1], leaves[2])
        y.backward(mg.tensor(g))
        assert (y.grad_fn.name(), _graph_size(y)) == ("NativeLayerNormBackward0", 1)
        wide = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b)]
        expected = TF.layer_norm(wide[0], (40,), wide[1], wide[2])
        (expected * torch.tensor(g.astype(np.float32))).sum().backward()   # (backward(g) imports torch.fx: 1 s)
        for ours, theirs in zip((y, *(leaf.grad for leaf in leaves)), (expected, *(t.grad for t in wide))):
            theirs = theirs.detach().numpy().astype(ours.dtype)   # rounded once, to the tensor's dtype
            scale = max(np.abs(theirs.astype(np.float64)).max(), 1.0)
            np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.astype(np.float64), rtol=0,
                                       atol=scale * 2.0 ** -10)


def test_layer_norm_constant_rows_and_offsets_float32() -> None:
    """A constant row normalises to exactly 0 (as torch's), and a large common offset (1e4 ± 1e-2) cancels before
    the sums: float32 values and gradients within float32 rounding of the float64 result of the same inputs (torch's
    float32 kernel is 0.09 off there, its sum rounding the offset)."""
    x = np.full((3, 16), 7.3, dtype=np.float32)
    x[1] = 1e4 + RNG.standard_normal(16).astype(np.float32) * 1e-2
    x[2] = RNG.standard_normal(16)
    weights = np.linspace(-1, 1, 48).reshape(3, 16)
    results = []
    for dtype in (np.float32, np.float64):
        leaf = mg.tensor(x.astype(dtype), requires_grad=True)
        y = MF.layer_norm(leaf, (16,))
        (y * mg.tensor(weights.astype(dtype))).sum().backward()
        results.append((y.numpy(), leaf.grad.numpy()))
    assert (results[0][0][0] == 0).all()
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-3 * np.abs(results[1][1]).max())
    assert (TF.layer_norm(torch.tensor(x[:1]), (16,)).numpy() == 0).all()


def _changed_in_place(lib: Any, F: Any, which: str) -> str:   # noqa: N803
    x = lib.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    y = lib.tensor(RNG.standard_normal((3, 4)))
    if which == "layer_norm":
        source = x * 1
        out = F.layer_norm(source, (4,))
    else:
        source = y
        out = F.mse_loss(x, y)
    with lib.no_grad():
        source.add_(1.0)
    try:
        out.sum().backward()
    except RuntimeError:
        return "refused"
    return "ran"


@pytest.mark.parametrize("which", ["layer_norm", "mse_loss"])
def test_saved_input_changed_in_place_as_pytorch(which: str) -> None:
    """PyTorch's nodes save layer_norm's input and mse_loss's target: a change in place before the backward is
    refused (the composed ops kept only their own arrays and ran)."""
    assert _changed_in_place(mg, MF, which) == _changed_in_place(torch, TF, which) == "refused"


def test_layer_norm_result_is_no_view() -> None:
    """The op's result owns its memory: an in-place activation on it runs (relu_ after a LayerNorm)."""
    y = MF.layer_norm(mg.tensor(RNG.standard_normal((3, 4)), requires_grad=True), (4,))
    assert MF.relu_(y) is y


def test_compiled_step_same_as_eager() -> None:
    """mg.compile captures and replays the ops: the same loss and gradients as eager, a later call's eps too."""
    x_np, w_np = RNG.standard_normal((4, 6)), RNG.standard_normal(6)

    def step(x: Any, w: Any, target: Any) -> Any:
        return MF.mse_loss(MF.softplus(MF.elu(MF.leaky_relu(MF.layer_norm(x, (6,), w), 0.2))), target)

    compiled = mg.compile(step)
    target = mg.tensor(RNG.standard_normal((4, 6)))
    for _ in range(3):
        results = []
        for fn in (step, compiled):
            x, w = mg.tensor(x_np, requires_grad=True), mg.tensor(w_np, requires_grad=True)
            loss = fn(x, w, target)
            loss.backward()
            results.append((loss.item(), x.grad.numpy(), w.grad.numpy()))
        np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-14)
        for ours, theirs in zip(results[1][1:], results[0][1:]):
            np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


def test_forward_ad_through_the_ops() -> None:
    """Forward AD builds on the create_graph rules: jvp of the ops chained, as central differences give."""
    x_np, t_np = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    y = mg.tensor(RNG.standard_normal((3, 5)))

    def chain(x: Any) -> Any:
        h = MF.softplus(MF.selu(MF.leaky_relu(MF.layer_norm(x, (5,)), 0.1)))
        return MF.mse_loss(h, y, reduction="none")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, tangent = mg.func.jvp(chain, (mg.tensor(x_np),), (mg.tensor(t_np),))
    step = 1e-6
    ahead, behind = (chain(mg.tensor(x_np + sign * step * t_np)).numpy() for sign in (1, -1))
    expected = (ahead - behind) / (2 * step)
    np.testing.assert_allclose(value.numpy(), chain(mg.tensor(x_np)).numpy(), rtol=1e-14)
    np.testing.assert_allclose(tangent.numpy(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(VALUES))
def test_on_the_gpu_as_on_the_cpu(name: str) -> None:
    """The ops on a GPU (the strict CuPy stand-in without one): the CPU's values, gradients and second
    derivatives, float32."""
    fn, _, shapes = VALUES[name]
    arrays = [RNG.standard_normal(shape).astype(np.float32) for shape in shapes]
    results = []
    for device in ("cpu", "cuda"):
        leaves = [mg.tensor(a, requires_grad=True, device=device) for a in arrays]
        out = fn(mg, MF, *leaves)
        (first,) = mg.autograd.grad((out * out).sum(), leaves[0], create_graph=True)
        (second,) = mg.autograd.grad(first.sum(), leaves[0])
        results.append([t.numpy() for t in (out, first, second)])
    for ours, cpu in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, cpu, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["mean", "none", "weighted_mean", "all_ignored"])
def test_nll_loss_on_the_gpu_as_on_the_cpu(name: str) -> None:
    target, weight, reduction, ignore = NLL[name]
    logits = RNG.standard_normal((5, 8)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        x = mg.tensor(logits, requires_grad=True, device=device)
        w = None if weight is None else mg.tensor(weight.astype(np.float32), device=device)
        out = MF.cross_entropy(x, mg.tensor(target, device=device), w, ignore_index=ignore, reduction=reduction)
        (first,) = mg.autograd.grad((out * out).sum(), x, create_graph=True)
        (second,) = mg.autograd.grad(first.sum(), x)
        results.append([t.numpy() for t in (out, first, second)])
    for ours, cpu in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, cpu, rtol=1e-5, atol=1e-5)
