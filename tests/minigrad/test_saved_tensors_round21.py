"""Round 21: saved tensors against torch 2.13: ``allow_mutation_on_saved_tensors``, the timing of leaves' ``.grad``
seen by saved-tensor unpack hooks, checkpoint inner tensors, and a reentrant checkpoint whose recomputation raises
(fuzzer: /tmp/fuzz21_saved.py)."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import minigrad.utils.checkpoint as mg_checkpoint
import nn as mnn

torch = pytest.importorskip("torch", reason="no torch")
import torch.utils.checkpoint as torch_checkpoint  # noqa: E402

A = [0.5, -1.25, 2.0]


@pytest.fixture(scope="module", autouse=True)
def _torch_mutation_mode_set_up() -> None:
    """Torch's first in-place op under allow_mutation_on_saved_tensors sets up its dispatch mode (~2 s, once per
    process): done here, outside the tests' call time."""
    with torch.autograd.graph.allow_mutation_on_saved_tensors():
        torch.ones(1).add_(1)


def _leaf(T: Any) -> Any:
    return T.tensor(A, dtype=T.float64, requires_grad=True)


def _clone_pow_sin(T: Any) -> list:   # torch's docstring example
    a = _leaf(T)
    b = a.clone()
    out = (b ** 2).sum()
    b.sin_()
    out.backward()
    return [a.grad, b]


def _leaf_updated_under_no_grad(T: Any) -> list:   # an optimizer-style step between forward and backward
    w = _leaf(T)
    y = (w.exp() * w).sum()
    with T.no_grad():
        w.mul_(3)
    y.backward()
    return [w.grad]


def _view_written(T: Any) -> list:
    a = _leaf(T)
    b = a * 1
    y = (b.tanh() * b).sum()
    with T.no_grad():
        b[:2].mul_(-4)
    b[2] = 7.0
    y.backward()
    return [a.grad]


def _custom_function(T: Any) -> list:
    class Square(T.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return 2 * x * g

    a = _leaf(T)
    b = a * 1
    y = Square.apply(b).sum()
    b.add_(5)
    y.backward()
    return [a.grad]


def _twice_with_retain_graph(T: Any) -> list:
    a = _leaf(T)
    y = (a * a).sum()
    with T.no_grad():
        a.zero_()
    y.backward(retain_graph=True)
    y.backward()
    return [a.grad]


def _result_saver_changed_again(T: Any) -> list:   # sigmoid_/exp_/elu_ save their result, then it changes again
    F = torch.nn.functional if T is torch else mnn.functional
    a = _leaf(T)
    b = a * 1
    b.sigmoid_()
    c = a * 2
    c.exp_()
    d = a * 0.5
    F.elu_(d)
    y = (b * 3 + c + d * d).sum()
    with T.no_grad():
        b.mul_(5)
        c.zero_()
        d.add_(1)
    y.backward()
    return [a.grad]


@pytest.mark.parametrize("program", [_clone_pow_sin, _leaf_updated_under_no_grad, _view_written, _custom_function,
                                     _twice_with_retain_graph, _result_saver_changed_again])
def test_allow_mutation_on_saved_tensors_gives_the_gradient_of_the_saved_values_as_torch(program: Callable) -> None:
    """Missing here: inside it, backward reads a saved tensor as it was saved (torch clones it on mutation);
    without it both raise the in-place RuntimeError."""
    results = []
    for T in (mg, torch):
        with T.autograd.graph.allow_mutation_on_saved_tensors():
            results.append([t.detach().numpy() for t in program(T)])
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            program(T)
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_allow_mutation_on_saved_tensors_refuses_nesting_and_a_backward_after_it_as_torch() -> None:
    for T in (mg, torch):
        allow = T.autograd.graph.allow_mutation_on_saved_tensors
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with allow(), allow():
                pass
        with allow():
            a = _leaf(T)
            y = (a.exp() * a).sum()
        with pytest.raises(AssertionError, match="outside of the 'allow_mutation_on_saved_tensors' context"):
            y.backward()
        with allow():   # a new block works after both
            a = _leaf(T)
            (a * a).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), 2 * np.array(A))


def _grads_seen_by_unpack(T: Any, kind: str) -> tuple:
    a = _leaf(T)
    b = T.tensor([3.0, 4.0, -1.0], dtype=T.float64, requires_grad=True)
    seen = []

    def pack(t: Any) -> Any:
        return t.detach().numpy().copy() if kind == "numpy" else t

    def unpack(p: Any) -> Any:
        seen.append(None if a.grad is None else a.grad.tolist())
        return T.tensor(p) if kind == "numpy" else p

    with T.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = (b.exp() * b).sum()
    x = (a * 2).sum()   # recorded later: its branch runs first, and a is complete before b's nodes run
    (y + x).backward()
    return sorted({repr(s) for s in seen}), a.grad.tolist(), b.grad.tolist()


@pytest.mark.parametrize("kind", ["identity", "numpy"])
def test_an_unpack_hook_sees_a_completed_leafs_grad_as_torch(kind: str) -> None:
    """Torch's AccumulateGrad runs as soon as a leaf's gradient is complete, so an unpack hook running later in the
    walk reads its .grad; ours added every leaf's gradient after the walk (the hook saw None)."""
    ours, theirs = _grads_seen_by_unpack(mg, kind), _grads_seen_by_unpack(torch, kind)
    assert ours[0] == theirs[0] == [repr([2.0, 2.0, 2.0])]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)


def _inner(T: Any, C: Any, how: str) -> list:
    """``y = checkpoint(f, x, use_reentrant=False)``, ``f`` keeping its intermediate ``h``; what ``how`` gives at h
    (and x's .grad where a backward ran)."""
    x = _leaf(T)
    w = T.tensor([0.25, 2.0, -1.0], dtype=T.float64, requires_grad=True)   # read by f, not an argument
    kept = []

    def f(a: Any) -> Any:
        h = (a * w).exp()
        kept.append(h)
        return (h * 2).sin() + h

    y = C.checkpoint(f, x, use_reentrant=False)
    loss = y.sum() * 3 + (x * x).sum()
    if how == "grad":
        return [g.numpy() for g in T.autograd.grad(loss, kept[0])]
    if how == "grad with leaves":
        return [g.numpy() for g in T.autograd.grad(loss, [kept[0], x, w])]
    if how == "backward inputs":   # twice: .grad accumulates; x and w get nothing
        loss.backward(inputs=[kept[0]], retain_graph=True)
        loss.backward(inputs=[kept[0], w])
        return [kept[0].grad.numpy(), w.grad.numpy(), np.array(x.grad is None)]
    if how == "hook":   # a hook put on h after the call, which changes the gradient passed on
        seen = []
        kept[0].register_hook(lambda g: (seen.append(g.numpy().copy()), g * 10)[1])
        loss.backward()
        return [*seen, x.grad.numpy(), w.grad.numpy()]
    kept[0].retain_grad()
    loss.backward()
    return [kept[0].grad.numpy(), x.grad.numpy()]


@pytest.mark.parametrize("how", ["grad", "grad with leaves", "backward inputs", "hook", "retain_grad"])
def test_checkpoint_gradients_at_a_tensor_computed_inside_the_function_as_torch(how: str) -> None:
    """torch.autograd.grad(out, h), backward(inputs=[h]) and a hook on h, for a tensor h computed inside
    checkpoint(use_reentrant=False), work in torch (it keeps the forward's graph); ours raised NotImplementedError.
    The checkpoint node's backward now differentiates the recomputed op standing for h and runs hooks put on h
    after the call."""
    for got, want in zip(_inner(mg, mg_checkpoint, how), _inner(torch, torch_checkpoint, how)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_checkpoint_inner_tensor_under_create_graph_is_refused_naming_the_ways_that_work() -> None:
    x = _leaf(mg)
    kept = []
    y = mg_checkpoint.checkpoint(lambda a: kept.append(a.exp()) or kept[0].sin(), x, use_reentrant=False)
    with pytest.raises(NotImplementedError, match=r"create_graph.*autograd\.grad\(outputs, tensor\)"):
        mg.autograd.grad(y.sum(), kept[0], create_graph=True)
    with pytest.raises(NotImplementedError, match=r"create_graph.*\.retain_grad\(\)"):
        y.sum().backward(inputs=[kept[0]], create_graph=True)


class Boom(Exception):
    pass


def _failing_recompute(T: Any, C: Any, reentrant: bool) -> tuple:
    a = T.tensor([0.5, 1.5], dtype=T.float64, requires_grad=True)
    b = T.tensor([2.0, -1.0], dtype=T.float64, requires_grad=True)   # read by the function, not an argument
    calls = [0]

    def f(x: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise Boom()
        return (x * b).sin()

    y = C.checkpoint(f, a * 2, use_reentrant=reentrant)
    with pytest.raises(Boom):
        (y.sum() + (a * b).sum()).backward()
    return tuple(None if t.grad is None else t.grad.tolist() for t in (a, b))


@pytest.mark.parametrize("reentrant", [True, False])
def test_a_reentrant_checkpoint_whose_recomputation_raises_leaves_the_other_gradients_as_torch(
        reentrant: bool) -> None:
    """Torch's reentrant node has edges to its arguments only (it adds the gradients of the tensors the function
    reads itself), so b's other use had added its gradient when the recomputation raised: b.grad [0.5, 1.5].
    Ours kept b waiting on the node and left it None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _failing_recompute(mg, mg_checkpoint, reentrant)
        theirs = _failing_recompute(torch, torch_checkpoint, reentrant)
    assert ours == theirs


@pytest.mark.gpu
def test_allow_mutation_on_saved_tensors_on_a_gpu_gives_the_cpu_gradient() -> None:
    grads = []
    for device in ("cpu", "cuda"):
        with mg.autograd.graph.allow_mutation_on_saved_tensors():
            w = mg.tensor(A, dtype=mg.float64, device=device, requires_grad=True)
            b = w.t()[None] * 1
            y = (b.exp() * b).sum()
            with mg.no_grad():
                w.mul_(3)
            b.add_(1)
            y.backward()
        assert w.grad.device == w.device
        grads.append(w.grad.cpu().numpy())
    np.testing.assert_array_equal(*grads)


def _penalty_after_a_leaf_changed(T: Any) -> list:
    a = _leaf(T)
    b = T.tensor([1.5, 0.25, -2.0], dtype=T.float64, requires_grad=True)
    y = a * a * b
    with T.no_grad():
        a.fill_(0.54)
    (ga, gb) = T.autograd.grad(y.sum(), [a, b], create_graph=True)
    ((ga * ga).sum() + (gb * gb).sum()).backward()
    return [ga.detach().numpy(), a.grad.numpy(), b.grad.numpy()]


@pytest.mark.parametrize("hooks", ["allow_mutation", "numpy"])
def test_create_graph_reads_a_leafs_saved_value_through_saved_tensor_hooks_as_torch(hooks: str) -> None:
    """create_graph's rules took a leaf input as the Tensor itself: under allow_mutation_on_saved_tensors, a leaf
    changed in place after the forward gave the changed value's derivatives (ga = 2*0.54*b, silently wrong);
    torch's unpacked saved tensor has the saved value on the leaf's graph."""
    results = []
    for T in (mg, torch):
        if hooks == "numpy":
            context = T.autograd.graph.saved_tensors_hooks(lambda t: t.detach().numpy().copy(), T.tensor)
        else:
            context = T.autograd.graph.allow_mutation_on_saved_tensors()
        with context:
            if hooks == "numpy":   # no in-place change: torch's version check would refuse it (ours too)
                a = _leaf(T)
                b = T.tensor([1.5, 0.25, -2.0], dtype=T.float64, requires_grad=True)
                (ga, gb) = T.autograd.grad((a * a * b).sum(), [a, b], create_graph=True)
                ((ga * ga).sum() + (gb * gb).sum()).backward()
                results.append([ga.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
            else:
                results.append(_penalty_after_a_leaf_changed(T))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def _nested(T: Any, C: Any, how: str) -> list:
    """Three checkpoints, each inside the function of the one before; what ``how`` gives at the tensors the middle
    (``first[0]``) and the innermost (``first[1]``) functions computed, and at x."""
    x = _leaf(T)
    kept = []

    def inner(a: Any) -> Any:
        h = a.exp()
        if how == "retain inside":
            h.retain_grad()
        kept.append(h)
        return h.sin() * a

    def middle(a: Any) -> Any:
        m = a * 3
        kept.append(m)
        return C.checkpoint(inner, m + 1, use_reentrant=False).cos()

    y = C.checkpoint(lambda a: C.checkpoint(middle, a * 2, use_reentrant=False).tanh(), x, use_reentrant=False)
    first = kept[:2]
    if how == "grad":   # twice: the second walk finds the same nodes
        return [g.numpy() for _ in range(2) for g in T.autograd.grad(y.sum(), [*first, x], retain_graph=True)]
    if how == "backward inputs":
        y.sum().backward(inputs=first)
        return [t.grad.numpy() for t in first] + [np.array(x.grad is None)]
    seen = []
    if how == "retain after":
        first[0].retain_grad()
    elif how == "hook":
        first[1].register_hook(lambda g: (seen.append(g.numpy().copy()), g * 10)[1])
    y.sum().backward()
    if how == "retain inside":
        return [first[1].grad.numpy(), x.grad.numpy()]
    return [*seen, x.grad.numpy()] if how == "hook" else [first[0].grad.numpy(), x.grad.numpy()]


@pytest.mark.parametrize("how", ["retain inside", "retain after", "hook", "grad", "backward inputs"])
def test_nested_checkpoints_reach_the_inner_functions_tensors_as_torch(how: str) -> None:
    """A checkpoint inside a checkpointed function is made anew by the outer recomputation: retain_grad() on the
    inner function's tensor left .grad None, silently (and grad() found it unused). Each recomputation now maps
    onto the first forward's ops, at any depth."""
    for got, want in zip(_nested(mg, mg_checkpoint, how), _nested(torch, torch_checkpoint, how)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
