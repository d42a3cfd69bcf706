"""Round 25, part 2: one autograd node where PyTorch has one.

group_norm of a channels-last input is its one op too (NativeGroupNormBackward0; it was 17 nodes of composed ops,
a CloneBackward0 on top), its result and x's gradient laid out channels-last as PyTorch's kernel lays them out.
prelu is one op (PreluKernelBackward0 over x and the weight's view; was 5 nodes of where/mul), its create_graph
gradient an op too (PreluKernelBackwardBackward0) whose backward is PyTorch's double backward: x ≥ 0 picks the
piece there where the forward reads x > 0 (at x = 0, -0, NaN and ±inf the second derivatives are torch's).
instance_norm is PyTorch's graph: ViewBackward0 over one NativeBatchNormBackward0 over a view of x as (1, N·C, *S),
its weight and bias RepeatBackward0 (was 11-13 composed nodes), training (instances centred on their first entry,
as before) and evaluating with the running estimates.
Checked here against torch 2.13: the node's name, ``next_functions``, graph size and the post-hook's grad_inputs;
values and gradients (float64, 1e-12) against torch and against the composed ops replaced; strides; float64
gradcheck and gradgradcheck; float16; ``mg.compile`` replay bit-identical to eager; the GPU stand-in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn.functional as MF
from nn._normalization import _affine, _normalized

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(2525)


def _last(lib: Any, x: Any) -> Any:
    """x (N, C, *S) as a channels-last view of a C-order leaf: (N, *S, C) permuted."""
    return x.permute(0, *range(2, x.ndim), 1).contiguous().permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def _graph_size(out: Any) -> int:
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or "AccumulateGrad" in node.name():
            continue
        seen.add(id(node))
        stack.extend(fn for fn, _ in node.next_functions)
    return len(seen)


def _node_view(lib: Any, F: Any, fn: Any, arrays: list) -> tuple:   # noqa: N803
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, F, *leaves)
    node, seen = out.grad_fn, {}

    def hook(grad_inputs: tuple, grad_outputs: tuple) -> None:
        seen["in"], seen["out"] = tuple(g is None for g in grad_inputs), len(grad_outputs)

    node.register_hook(hook)
    edges = tuple(None if fn is None else fn.name() for fn, _ in node.next_functions)
    size = _graph_size(out)
    out.sum().backward()
    return node.name(), size, edges, seen["in"], seen["out"]


def _leaf_last(lib: Any, a: np.ndarray) -> Any:
    """A channels-last leaf (its own gradient then channels-last too, where the op gives one)."""
    return _last(lib, lib.tensor(a)).detach().requires_grad_()


CASES = {   # fn(lib, F, *leaves), shapes
    "group_norm_last": (lambda L, F, x, w, b: F.group_norm(_last(L, x), 2, w, b), ((2, 4, 3, 3), (4,), (4,))),
    "group_norm_last_plain": (lambda L, F, x: F.group_norm(_last(L, x), 4), ((2, 4, 3, 2),)),
    "group_norm_last_3d": (lambda L, F, x, w: F.group_norm(_last(L, x), 1, w), ((2, 4, 2, 3, 2), (4,))),
    "group_norm_last_module": (lambda L, F, x: L.nn.GroupNorm(3, 6).double()(_last(L, x)), ((2, 6, 2, 2),)),
    "instance_norm": (lambda L, F, x: F.instance_norm(x), ((2, 3, 4),)),
    "instance_norm_affine": (lambda L, F, x, w, b: F.instance_norm(x, weight=w, bias=b), ((2, 3, 2, 2), (3,), (3,))),
    "instance_norm_weight": (lambda L, F, x, w: F.instance_norm(x, weight=w), ((2, 3, 4), (3,))),
    "instance_norm_running": (lambda L, F, x: F.instance_norm(x, L.zeros(3, dtype=L.float64),
                                                              L.ones(3, dtype=L.float64)), ((2, 3, 5),)),
    "instance_norm_eval": (lambda L, F, x, w, b: F.instance_norm(
        x, L.zeros(3, dtype=L.float64) + 0.5, L.ones(3, dtype=L.float64) * 2, w, b, use_input_stats=False),
        ((2, 3, 4), (3,), (3,))),
    "instance_norm_module": (lambda L, F, x: L.nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()(x),
                             ((2, 3, 2, 2),)),
    "instance_norm_module_eval": (lambda L, F, x: L.nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
                                  .double().eval()(x), ((2, 3, 4),)),
    "prelu": (lambda L, F, x, w: F.prelu(x, w), ((4, 3), (3,))),
    "prelu_one_slope": (lambda L, F, x, w: F.prelu(x, w), ((2, 3, 4), (1,))),
    "prelu_vector": (lambda L, F, x, w: F.prelu(x, w), ((5,), (1,))),
    "prelu_module": (lambda L, F, x: L.nn.PReLU(3).double()(x), ((2, 3, 2),)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_as_pytorch(name: str) -> None:
    fn, shapes = CASES[name]
    arrays = [RNG.standard_normal(shape) for shape in shapes]
    assert _node_view(mg, MF, fn, arrays) == _node_view(torch, TF, fn, arrays)


def _old_group_norm(x: Any, groups: int, weight: Any, bias: Any, eps: float) -> Any:
    """group_norm as minigrad composed it before (round 24)."""
    out = _normalized(x.reshape(x.shape[0], groups, -1), (2,), eps)[0].reshape(x.shape)
    return _affine(out, weight, bias, "group_norm")


def _old_prelu(x: Any, weight: Any) -> Any:
    """prelu as minigrad composed it before (round 24; its values and first derivatives)."""
    if weight.ndim != x.ndim:
        weight = weight.reshape([weight.numel() if axis == 1 else 1 for axis in range(x.ndim)])
    positive = x > 0
    return mg.where(positive, x, mg.where(x == 0, weight.detach(), weight) * mg.where(positive, 0.0, x))


PRELU = {   # fn(lib, F, *leaves) (C-order leaves), the composed ops replaced, shapes
    "prelu": (lambda L, F, x, w: F.prelu(x, w), _old_prelu, ((5, 3), (3,))),
    "prelu_one_slope": (lambda L, F, x, w: F.prelu(x, w), _old_prelu, ((2, 3, 4), (1,))),
    "prelu_4d": (lambda L, F, x, w: F.prelu(x, w), _old_prelu, ((2, 3, 2, 2), (3,))),
    "prelu_scalar_slope": (lambda L, F, x, w: F.prelu(x, w), _old_prelu, ((4, 2), ())),
}

def _old_instance_norm(x: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5, mean: Any = None,
                       variance: Any = None) -> Any:
    """instance_norm as minigrad composed it before (round 24): training, or with the running estimates."""
    if mean is None:
        out = _normalized(x, tuple(range(2, x.ndim)), eps, flat_to_zero=True)[0]
    else:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        out = (x - mean.reshape(shape)) / (variance.reshape(shape) + eps).sqrt()
    return _affine(out, weight, bias, "instance_norm")


INSTANCE = {   # fn(lib, F, *leaves) (C-order leaves), the composed ops replaced, shapes
    "instance_norm": (lambda L, F, x: F.instance_norm(x), _old_instance_norm, ((2, 3, 4),)),
    "instance_norm_affine": (lambda L, F, x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
                             lambda x, w, b: _old_instance_norm(x, w, b, 1e-3), ((2, 3, 2, 3), (3,), (3,))),
    "instance_norm_3d": (lambda L, F, x, b: F.instance_norm(x, bias=b), lambda x, b: _old_instance_norm(x, None, b),
                         ((1, 2, 2, 2, 3), (2,))),
    "instance_norm_eval": (
        lambda L, F, x, w: F.instance_norm(x, L.tensor([0.5, -1.0, 2.0], device=x.device),
                                           L.tensor([2.0, 0.5, 1.5], device=x.device), w, use_input_stats=False),
        lambda x, w: _old_instance_norm(x, w, None, 1e-5, mg.tensor([0.5, -1.0, 2.0]).double(),
                                       mg.tensor([2.0, 0.5, 1.5]).double()),
        ((2, 3, 4), (3,))),
}

VALUES = {   # fn(lib, F, *leaves) of channels-last leaves first, the composed ops replaced, shapes
    "group_norm_last": (lambda L, F, x, w, b: F.group_norm(x, 2, w, b, 1e-3),
                        lambda x, w, b: _old_group_norm(x, 2, w, b, 1e-3), ((2, 4, 3, 2), (4,), (4,))),
    "group_norm_last_plain": (lambda L, F, x: F.group_norm(x, 3), lambda x: _old_group_norm(x, 3, None, None, 1e-5),
                              ((3, 6, 2, 2),)),
    "group_norm_last_3d": (lambda L, F, x, w: F.group_norm(x, 2, w),
                           lambda x, w: _old_group_norm(x, 2, w, None, 1e-5), ((2, 4, 2, 2, 3), (4,))),
}


def _values_and_grads(lib: Any, fn: Any, arrays: list, weights: np.ndarray, last: bool = True) -> list:
    first = _leaf_last(lib, arrays[0]) if last else lib.tensor(arrays[0], requires_grad=True)
    leaves = [first] + [lib.tensor(a, requires_grad=True) for a in arrays[1:]]
    out = fn(*leaves)
    (out * lib.tensor(weights)).sum().backward()
    strides = (tuple(out.stride()), tuple(leaves[0].grad.stride()))
    return [strides, out.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves]


OTHERS = {**PRELU, **INSTANCE}


@pytest.mark.parametrize("name", sorted(VALUES) + sorted(OTHERS))
def test_values_as_before_and_as_pytorch(name: str) -> None:
    """float64: within 1e-12 of the composed ops replaced and of torch, values and every gradient; the result's and
    x's gradient's strides as torch's (group_norm: channels last)."""
    last = name in VALUES
    fn, old, shapes = VALUES[name] if last else OTHERS[name]
    arrays = [RNG.standard_normal(shape) * 2 for shape in shapes]
    arrays[0].flat[:2] = 0.0, -0.0
    weights = RNG.standard_normal(shapes[0])
    new = _values_and_grads(mg, lambda *t: fn(mg, MF, *t), arrays, weights, last)
    before = _values_and_grads(mg, old, arrays, weights, last)
    theirs = _values_and_grads(torch, lambda *t: fn(torch, TF, *t), arrays, weights, last)
    assert new[0] == theirs[0]
    for a, b, c in zip(new[1:], before[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(VALUES) + sorted(OTHERS))
def test_gradcheck_and_gradgradcheck(name: str) -> None:
    fn, _, shapes = VALUES[name] if name in VALUES else OTHERS[name]
    first = RNG.standard_normal(shapes[0])
    first[np.abs(first) < 0.05] = 0.1   # (no finite difference across prelu's kink)
    leaves = [_leaf_last(mg, first) if name in VALUES else mg.tensor(first, requires_grad=True)] + [
        mg.tensor(RNG.standard_normal(shape) + 0.3, requires_grad=True) for shape in shapes[1:]]

    def run(*t: Any) -> Any:
        return fn(mg, MF, *t)

    assert mg.gradcheck(run, leaves)
    assert mg.gradgradcheck(run, leaves)


def test_group_norm_channels_last_float16_as_pytorch() -> None:
    """float16 channels-last: one node computing in float32, the result rounded once (torch's float32 result
    rounded is the reference), channels-last result and gradient."""
    x = (RNG.standard_normal((2, 6, 3, 4)) * 3 + 1).astype(np.float16)
    g = RNG.standard_normal((2, 6, 3, 4)).astype(np.float16)
    w, b = RNG.standard_normal(6).astype(np.float16), RNG.standard_normal(6).astype(np.float16)
    leaves = [_leaf_last(mg, x)] + [mg.tensor(a, requires_grad=True) for a in (w, b)]
    y = MF.group_norm(leaves[0], 3, leaves[1], leaves[2])
    (y * mg.tensor(g)).sum().backward()
    assert (y.grad_fn.name(), _graph_size(y), y.dtype) == ("NativeGroupNormBackward0", 1, mg.float16)
    wide = [_leaf_last(torch, x.astype(np.float32))] + [torch.tensor(a.astype(np.float32), requires_grad=True)
                                                        for a in (w, b)]
    expected = TF.group_norm(wide[0], 3, wide[1], wide[2])
    (expected * torch.tensor(g.astype(np.float32))).sum().backward()
    assert (y.stride(), leaves[0].grad.stride()) == (expected.stride(), wide[0].grad.stride())
    for ours, theirs in zip((y, *(leaf.grad for leaf in leaves)), (expected, *(t.grad for t in wide))):
        theirs = theirs.detach().numpy().astype(np.float16).astype(np.float64)
        scale = max(np.abs(theirs).max(), 1.0)
        np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs, rtol=0, atol=scale * 2.0 ** -10)


def test_group_norm_channels_last_compiled_as_eager() -> None:
    """mg.compile's replay: bit-identical loss and gradients to eager's, three calls."""
    x_np, w_np = RNG.standard_normal((2, 4, 3, 3)), RNG.standard_normal(4)

    def step(x: Any, w: Any) -> Any:
        return (MF.group_norm(_last(mg, x), 2, w) ** 2).mean()

    compiled = mg.compile(step)
    for _ in range(3):
        results = []
        for fn in (step, compiled):
            x, w = mg.tensor(x_np, requires_grad=True), mg.tensor(w_np, requires_grad=True)
            loss = fn(x, w)
            loss.backward()
            results.append((loss.numpy(), x.grad.numpy(), w.grad.numpy()))
        for ours, theirs in zip(*results):
            np.testing.assert_array_equal(ours, theirs)


def _instance_module_steps(lib: Any, compiled: bool = False) -> list:
    """Two training steps and an evaluation of InstanceNorm2d(affine, running estimates): outputs, gradients and the
    running estimates after each."""
    module = lib.nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3).double()
    with (torch.no_grad() if lib is torch else mg.no_grad()):
        module.weight.copy_(lib.tensor([0.5, 1.5, -1.0]))
        module.bias.copy_(lib.tensor([0.1, 0.0, -0.2]))
    run = mg.compile(module) if compiled else module
    results = []
    for step, mode in enumerate(("train", "train", "eval")):
        getattr(module, mode)()
        x = lib.tensor(np.linspace(-2, 3, 48).reshape(2, 3, 2, 4) ** (step + 1), requires_grad=True)
        out = run(x)
        (out * lib.tensor(np.linspace(1, -1, 48).reshape(2, 3, 2, 4))).sum().backward()
        results += [out.detach().numpy(), x.grad.numpy(), module.weight.grad.numpy().copy(),
                    module.running_mean.numpy().copy(), module.running_var.numpy().copy()]
    return results


def test_instance_norm_module_running_estimates_as_pytorch_and_compiled() -> None:
    """InstanceNorm2d training then evaluating: outputs, gradients and running estimates as torch's (1e-12), and
    mg.compile's replay bit-identical to eager."""
    eager = _instance_module_steps(mg)
    for ours, theirs in zip(eager, _instance_module_steps(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    for ours, theirs in zip(_instance_module_steps(mg, compiled=True), eager):
        np.testing.assert_array_equal(ours, theirs)


SPECIAL = [-1.0, -0.0, 0.0, 1.0, float("nan"), -float("inf"), float("inf"), 2.0]


def _prelu_derivatives(lib: Any, F: Any, squared: bool, shape: tuple, slopes: list) -> list:   # noqa: N803
    x = lib.tensor(np.array(SPECIAL * 2).reshape(shape), requires_grad=True)
    w = lib.tensor(np.array(slopes), requires_grad=True)
    y = F.prelu(x, w)
    loss = (y * y).sum() if squared else (y * lib.tensor(np.linspace(-1, 2, 16).reshape(shape))).sum()
    gx, gw = lib.autograd.grad(loss, (x, w), create_graph=True)
    out = [y.grad_fn.name(), gx.grad_fn.name(), y, gx, gw]
    for t in (gx, gw):
        scale = lib.tensor(np.linspace(0.5, 1.5, t.numel()).reshape(t.shape))
        out += lib.autograd.grad((t * scale).sum(), (x, w), retain_graph=True, allow_unused=True)
    return [o if isinstance(o, str) or o is None else o.detach().numpy() for o in out]


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("shape, slopes", [((16,), [0.25]), ((4, 4), [0.25, -1.5, 0.0, 2.0]),
                                           ((2, 4, 2), [0.25, -1.5, 0.0, 2.0]), ((2, 8), [0.3])])
def test_prelu_second_derivatives_at_special_points_as_pytorch(squared: bool, shape: tuple, slopes: list) -> None:
    """The first and second derivatives (each gradient's with respect to x and the weight) at ±0, NaN and ±inf, as
    torch's double backward, which reads x ≥ 0 (the composed ops differed in 12 of these 56 arrays)."""
    ours = _prelu_derivatives(mg, MF, squared, shape, slopes)
    theirs = _prelu_derivatives(torch, TF, squared, shape, slopes)
    assert ours[:2] == theirs[:2] == ["PreluKernelBackward0", "PreluKernelBackwardBackward0"]
    for a, b in zip(ours[2:], theirs[2:]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-15, atol=0)


def test_prelu_compiled_as_eager() -> None:
    """mg.compile's replay: bit-identical loss and gradients to eager's, three calls."""
    x_np, w_np = RNG.standard_normal((3, 4, 2)), RNG.standard_normal(4)

    def step(x: Any, w: Any) -> Any:
        return (MF.prelu(x, w) ** 2).mean()

    compiled = mg.compile(step)
    for _ in range(3):
        results = []
        for fn in (step, compiled):
            x, w = mg.tensor(x_np, requires_grad=True), mg.tensor(w_np, requires_grad=True)
            loss = fn(x, w)
            loss.backward()
            results.append((loss.numpy(), x.grad.numpy(), w.grad.numpy()))
        for ours, theirs in zip(*results):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(OTHERS))
def test_prelu_and_instance_norm_on_the_gpu_as_on_the_cpu(name: str) -> None:
    fn, _, shapes = OTHERS[name]
    arrays = [RNG.standard_normal(shape).astype(np.float32) for shape in shapes]
    arrays[0].flat[:2] = 0.0, np.nan
    results = []
    for device in ("cpu", "cuda"):
        leaves = [mg.tensor(a, requires_grad=True, device=device) for a in arrays]
        out = fn(mg, MF, *leaves)
        first = mg.autograd.grad((out * out).sum(), leaves, create_graph=True)
        second = mg.autograd.grad(sum(g.sum() for g in first), leaves)
        results.append([t.numpy() for t in (out, *first, *second)])
    for ours, cpu in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, cpu, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(VALUES))
def test_on_the_gpu_as_on_the_cpu(name: str) -> None:
    """The ops on a GPU (the strict CuPy stand-in without one): the CPU's values, gradients, second derivatives
    and layouts, float32."""
    fn, _, shapes = VALUES[name]
    arrays = [RNG.standard_normal(shape).astype(np.float32) for shape in shapes]
    results = []
    for device in ("cpu", "cuda"):
        leaves = [_leaf_last(mg, arrays[0]).to(device).detach().requires_grad_()] + [
            mg.tensor(a, requires_grad=True, device=device) for a in arrays[1:]]
        out = fn(mg, MF, *leaves)
        (first,) = mg.autograd.grad((out * out).sum(), leaves[0], create_graph=True)
        (second,) = mg.autograd.grad(first.sum(), leaves[0])
        results.append([out.stride()] + [t.numpy() for t in (out, first, second)])
    assert results[0][0] == results[1][0]
    for ours, cpu in zip(results[1][1:], results[0][1:]):
        np.testing.assert_allclose(ours, cpu, rtol=1e-5, atol=1e-5)
