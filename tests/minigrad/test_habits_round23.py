"""Round 23: hand-written training habits on ``.grad``/``.data`` (manual SGD, ``zero_grad``, ``requires_grad_`` and
``detach_`` toggles, ``create_graph`` backwards), fuzzed against PyTorch 2.13 as random sequences
(/tmp/fuzz23_habits.py)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="no torch")

W = np.array([[0.5, -1.25], [2.0, 1.5]])
X = np.array([[1.0, -0.5], [0.25, 2.0], [-1.5, 0.75]])


def _params(lib: Any) -> tuple:
    parameter = torch.nn.Parameter if lib is torch else nn.Parameter
    return parameter(lib.tensor(W.copy())), parameter(lib.tensor(np.array([0.5, -2.0])))


def _loss(lib: Any, w: Any, b: Any) -> Any:
    return (lib.tanh(lib.tensor(X) @ w + b) ** 2).sum()


@pytest.mark.parametrize("turn_off", ["requires_grad_", "detach_", "attribute"])
def test_leaf_turned_off_after_forward_gets_no_grad_with_create_graph(turn_off: str) -> None:
    # a leaf set to requires_grad=False (or detach_()-ed) after the forward: PyTorch's AccumulateGrad adds nothing,
    # also under create_graph=True (ours gave it a .grad there; without create_graph it already matched)
    grads = {}
    for lib in (torch, mg):
        w, b = _params(lib)
        loss = _loss(lib, w, b)
        if turn_off == "requires_grad_":
            b.requires_grad_(False)
        elif turn_off == "detach_":
            b.detach_()
        else:
            b.requires_grad = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # create_graph's reference-cycle warning
            loss.backward(create_graph=True)
        assert b.grad is None, lib.__name__
        grads[lib] = w.grad
    assert grads[mg].requires_grad and grads[torch].requires_grad
    np.testing.assert_allclose(grads[mg].detach().numpy(), grads[torch].detach().numpy(), rtol=1e-10)


def test_leaf_turned_off_keeps_its_hook_under_create_graph() -> None:
    # PyTorch's AccumulateGrad of such a leaf still runs the leaf's hooks
    for lib in (torch, mg):
        w, b = _params(lib)
        seen: list = []
        b.register_hook(seen.append)
        loss = _loss(lib, w, b)
        b.requires_grad_(False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss.backward(create_graph=True)
        assert [tuple(g.shape) for g in seen] == [(2,)] and b.grad is None, lib.__name__


def test_create_graph_grad_node_names() -> None:
    # a leaf's first create_graph gradient is PyTorch's copy into a new tensor ("torch::autograd::CopyBackwards"),
    # a retain_grad() tensor's a clone (CloneBackward0); the next ones add (AddBackward0)
    names = {}
    for lib in (torch, mg):
        w, b = _params(lib)
        h = lib.tanh(lib.tensor(X) @ w + b)
        h.retain_grad()
        loss = (h ** 2).sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss.backward(create_graph=True, retain_graph=True)
            first = (w.grad.grad_fn.name(), h.grad.grad_fn.name())
            loss.backward(create_graph=True)
        names[lib] = (*first, w.grad.grad_fn.name())
    assert names[mg] == names[torch] == ("torch::autograd::CopyBackwards", "CloneBackward0", "AddBackward0")


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_with_unused_input_frees_the_graph(create_graph: bool) -> None:
    # autograd.grad(retain_graph=False) refusing an unused input has run the graph (PyTorch's engine freed it), so a
    # later backward raises; with create_graph=True ours kept the graph
    for lib in (torch, mg):
        w, b = _params(lib)
        loss = _loss(lib, w, b)
        unused = lib.tensor(np.ones(2), requires_grad=True)
        with pytest.raises(RuntimeError):
            lib.autograd.grad(loss, [w, unused], create_graph=create_graph, retain_graph=False)
        with pytest.raises(RuntimeError):
            loss.backward()


def _column_major(lib: Any) -> Any:
    parameter = torch.nn.Parameter if lib is torch else nn.Parameter
    return parameter(torch.tensor(W.T.copy()).t() if lib is torch else mg.tensor(np.asfortranarray(W)))


def test_create_graph_grad_of_transposed_leaf_takes_in_place_ops() -> None:
    # a column-major leaf's create_graph .grad is laid out as the leaf: a transposed view of a new array, which
    # ours refused to write in place while recording ("a view minigrad does not track"); PyTorch records p.grad += g
    out = {}
    for lib in (torch, mg):
        w = _column_major(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (w ** 3).sum().backward(create_graph=True)
        w.grad += lib.tensor(W)
        w.grad *= 2
        assert w.grad.grad_fn.name() == "MulBackward0" and tuple(w.grad.stride()) == (1, 2), lib.__name__
        x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
        (w.grad @ x).sum().backward()
        out[lib] = (w.grad.detach().numpy(), x.grad.numpy())
    for ours, theirs in zip(out[mg], out[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_create_graph_accumulation_keeps_grad_layout() -> None:
    # .grad + new gradient under create_graph=True keeps the .grad's strides (PyTorch's first operand's layout);
    # ours gave C order for a column-major .grad
    for lib in (torch, mg):
        w = _column_major(lib)
        x = lib.tensor(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ((x @ w) ** 2).sum().backward(create_graph=True)
            ((x @ w) ** 2).sum().backward(create_graph=True)
        assert tuple(w.grad.stride()) == (1, 2) and not w.grad.is_contiguous(), lib.__name__


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_step_after_parameter_resized_through_data_raises_runtime_error(name: str) -> None:
    # p.data = a tensor of another shape while p.grad keeps the old one: PyTorch's step raises RuntimeError (ours:
    # ValueError only; now both, and still all-or-nothing)
    for lib in (torch, mg):
        p = (torch.nn.Parameter if lib is torch else nn.Parameter)(lib.tensor(np.ones(3)))
        opt = getattr(torch.optim if lib is torch else mg.optim, name)([p], lr=0.1)
        p.grad = lib.tensor(np.ones(3))
        p.data = torch.ones(4, dtype=torch.float64) if lib is torch else np.ones(4)
        with pytest.raises(RuntimeError):
            opt.step()
    with pytest.raises(ValueError):
        opt.step()


def test_tensor_as_its_own_grad_is_refused() -> None:
    # p.grad = p: PyTorch raises RuntimeError; ours kept it, and backward then added every gradient into p's values
    for lib in (torch, mg):
        w, _ = _params(lib)
        with pytest.raises(RuntimeError, match="own grad"):
            w.grad = w
        assert w.grad is None
        np.testing.assert_array_equal(w.detach().numpy(), W)


@pytest.mark.parametrize("outer", ["inference_mode", "no_grad"])
def test_inference_mode_false_turns_grad_mode_on(outer: str) -> None:
    # PyTorch's inference_mode(False) sets grad mode on (its guard sets it to `not mode`), inside inference_mode and
    # inside no_grad alike; ours left recording off there, so nothing inside was differentiable
    for lib in (torch, mg):
        w, b = _params(lib)
        with getattr(lib, outer)():
            with lib.inference_mode(False):
                assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled(), lib.__name__
                loss = _loss(lib, w, b)
            assert not lib.is_grad_enabled(), lib.__name__
        assert loss.requires_grad and loss.grad_fn is not None, lib.__name__
        loss.backward()
        assert w.grad is not None and b.grad is not None
