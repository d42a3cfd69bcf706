"""Round 24: ``.data``/``.grad`` leftovers of round 23, against PyTorch 2.13: a ``.grad`` assigned as an expanded
view, a backward that fails part way, running statistics changed in place, and random training habits around
optimizers' ``foreach``/``fused`` flags and micro-batch accumulation (fuzzed by /tmp/h24_datagrad/fuzz.py)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="no torch")

COLS = np.arange(6.0).reshape(2, 3)


def _backward_into(lib: Any, grad: Any, create_graph: bool = False) -> Any:
    p = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
    p.grad = grad
    (p * lib.tensor(COLS)).sum().backward(create_graph=create_graph)
    return p.grad.detach().numpy().copy()


@pytest.mark.parametrize("view", ["expand", "expand_0d"])
def test_backward_into_an_expanded_grad_raises_runtime_error(view: str) -> None:
    # p.grad = t.expand(...) then backward: PyTorch's in-place add refuses the overlapping memory (RuntimeError);
    # ours raised NumPy's ValueError "output array is read-only"
    for lib in (torch, mg):
        base = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64) if view == "expand" else lib.zeros((), dtype=lib.float64)
        with pytest.raises(RuntimeError, match="single memory location"):
            _backward_into(lib, base.expand(2, 3))


def test_expanded_grad_with_create_graph_and_strided_grads_accumulate_as_torch() -> None:
    # create_graph adds out of place (works in both); a transposed or stepped .grad is added into in place
    cases = ((lambda lib: lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64).expand(2, 3), True),
             (lambda lib: lib.ones(3, 2, dtype=lib.float64).T, False),
             (lambda lib: lib.ones(2, 6, dtype=lib.float64)[:, ::2], False))
    for make, create_graph in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # create_graph's reference cycle, torch's layout-contract note
            expected = _backward_into(torch, make(torch), create_graph)
        np.testing.assert_array_equal(_backward_into(mg, make(mg), create_graph), expected)


def test_failed_backward_into_expanded_grad_keeps_other_leaves_accumulated_as_torch() -> None:
    # the refusal comes after the walk: leaves accumulated before the expanded one keep their gradient in both
    got = {}
    for lib in (torch, mg):
        a = lib.ones(3, dtype=lib.float64, requires_grad=True)
        b = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        b.grad = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64).expand(2, 3)
        with pytest.raises(RuntimeError):
            ((a * 2).sum() + (b * 3).sum()).backward()
        got[lib] = None if a.grad is None else a.grad.numpy().tolist()
    assert got[mg] == got[torch]


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_clipping_an_expanded_grad_raises_runtime_error(clip: str) -> None:
    for lib, utils in ((torch, torch.nn.utils), (mg, nn.utils)):
        p = lib.ones(2, 3, requires_grad=True)
        p.grad = lib.tensor([1.0, 2.0, 3.0]).expand(2, 3)
        with pytest.raises(RuntimeError, match="memory location"):
            if clip == "norm":
                utils.clip_grad_norm_([p], 0.5)
            else:
                utils.clip_grad_value_([p], 1.5)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_optimizers_read_an_expanded_grad_as_its_copy(name: str) -> None:
    # an optimizer reads .grad out of place: an expanded .grad steps as its contiguous copy does (PyTorch's too;
    # torch.optim itself is left out: its import alone takes this file past its time)
    got = []
    for contiguous in (False, True):
        p = mg.ones(2, 3, dtype=mg.float64, requires_grad=True)
        grad = mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64).expand(2, 3)
        p.grad = grad.contiguous() if contiguous else grad
        opt = getattr(nn.optim, name)([p], lr=0.1)
        opt.step()
        opt.step()
        got.append(p.detach().numpy().copy())
    np.testing.assert_array_equal(got[0], got[1])


def _failed_linear_backward(lib: Any, x: Any) -> tuple:
    """F.linear of ``x`` (which requires grad), the weight changed in place before the backward, which raises:
    whether the bias got a gradient, and whether the input did."""
    functional = torch.nn.functional if lib is torch else nn.functional
    weight = lib.tensor(np.linspace(-1.0, 1.0, 12).reshape(4, 3), requires_grad=True)
    bias = lib.tensor(np.array([0.1, 0.2, 0.3, 0.4]), requires_grad=True)
    loss = (functional.linear(x, weight, bias) ** 2).sum()
    with lib.no_grad():
        weight.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    return bias.grad is not None, x.grad is not None


@pytest.mark.parametrize("layout", ["2d", "2d_transposed", "1d", "3d", "4d", "3d_transposed", "1d_strided",
                                    "3d_expanded"])
def test_failed_backward_gives_linear_bias_a_gradient_only_where_torch_has_two_nodes(layout: str) -> None:
    # PyTorch's linear is one addmm node for a 2-D or contiguous input (flattened): a backward failing there leaves
    # the bias without a gradient; ours added the bias's, which its own add node had sent (now only where PyTorch's
    # input is not contiguous, and it too runs matmul, then add)
    shapes = {"2d": (5, 3), "2d_transposed": (3, 5), "1d": (3,), "3d": (2, 5, 3), "4d": (2, 2, 2, 3),
              "3d_transposed": (5, 2, 3), "1d_strided": (6,), "3d_expanded": (1, 5, 3)}
    got = {}
    for lib in (torch, mg):
        x = lib.tensor(np.linspace(-1.0, 2.0, int(np.prod(shapes[layout]))).reshape(shapes[layout]),
                       requires_grad=True)
        view = {"2d_transposed": lambda t: t.T, "3d_transposed": lambda t: t.transpose(0, 1),
                "1d_strided": lambda t: t[::2], "3d_expanded": lambda t: t.expand(2, 5, 3)}.get(layout, lambda t: t)
        got[lib] = _failed_linear_backward(lib, view(x))
    assert got[mg] == got[torch]


def test_failed_backward_through_two_linear_layers_accumulates_as_torch() -> None:
    # the hidden activation (saved by the second layer) changed in place: PyTorch's addmm node fails, so no
    # parameter gets a gradient (our second layer's bias got one)
    got = {}
    for lib, layers in ((torch, torch.nn), (mg, nn)):
        lib.manual_seed(0)
        first, second = layers.Linear(3, 4).double(), layers.Linear(4, 2).double()
        hidden = lib.tanh(first(lib.tensor(np.linspace(-1.0, 1.0, 15).reshape(5, 3))))
        loss = second(hidden).sum()
        with lib.no_grad():
            hidden.mul_(2)
        with pytest.raises(RuntimeError):
            loss.backward()
        got[lib] = [p.grad is None for p in (*first.parameters(), *second.parameters())]
    assert got[mg] == got[torch] == [True] * 4


@pytest.mark.parametrize(("clip", "foreach"), [("norm", None), ("norm", False), ("value", None), ("value", False)])
def test_clipping_stops_at_an_expanded_grad_as_torch(clip: str, foreach: Any) -> None:
    # PyTorch scales gradients one by one (clip_grad_norm_, and clip_grad_value_'s loop): those before the
    # expanded .grad are changed when it raises; clip_grad_value_'s foreach clamp refuses before writing any
    # (ours checked every gradient first, so a clipped norm changed none)
    got = {}
    for lib, utils in ((torch, torch.nn.utils), (mg, nn.utils)):
        a, b, c = (lib.ones(*shape, requires_grad=True) for shape in ((3,), (2, 3), (3,)))
        a.grad, c.grad = lib.full((3,), 4.0), lib.full((3,), 4.0)
        b.grad = lib.tensor([1.0, 2.0, 3.0]).expand(2, 3)
        with pytest.raises(RuntimeError):
            if clip == "norm":
                utils.clip_grad_norm_([a, b, c], 1.0, foreach=foreach)
            else:
                utils.clip_grad_value_([a, b, c], 1.0, foreach=foreach)
        got[lib] = (a.grad.numpy().copy(), c.grad.numpy().copy())
    for ours, theirs in zip(got[mg], got[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("input_shape", [(3, 4), (2, 3, 4)])
def test_create_graph_weight_gradient_is_row_major_as_torch(input_shape: tuple) -> None:
    # autograd.grad(..., create_graph=True) of a weight used as x @ W.T: PyTorch's mm backward computes (gᵀ x)ᵀ
    # for a column-major operand, so the weight's gradient is row-major and g.view(-1) works (MAML's and
    # Hessian-vector products' torch.cat([g.view(-1) ...])); ours was column-major and view raised
    got = {}
    for lib in (torch, mg):
        weight = lib.tensor(np.linspace(-1.0, 1.0, 8).reshape(2, 4), requires_grad=True)
        x = lib.tensor(np.linspace(-2.0, 2.0, int(np.prod(input_shape))).reshape(input_shape))
        grad, = lib.autograd.grad(((x @ weight.T) ** 2).sum(), weight, create_graph=True)
        flat = grad.view(-1)
        (flat * flat).sum().backward()
        got[lib] = (grad.stride(), flat.detach().numpy().copy(), weight.grad.numpy().copy())
    assert got[mg][0] == got[torch][0]
    np.testing.assert_allclose(got[mg][1], got[torch][1], rtol=1e-12)
    np.testing.assert_allclose(got[mg][2], got[torch][2], rtol=1e-12)


def test_failed_backward_then_expanded_grad_of_a_finished_leaf_raises_runtime_error() -> None:
    # the walk fails (a saved input changed in place); the leaves it had finished are accumulated after the error,
    # and one of them has an expanded .grad: PyTorch's RuntimeError (ours: NumPy's ValueError from that add)
    for lib in (torch, mg):
        a = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        a.grad = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64).expand(2, 3)
        x = lib.ones(3, dtype=lib.float64, requires_grad=True)
        h = x * 2
        loss = (h * h).sum() + (a * 3).sum()   # a * 3 recorded last: it runs first, finishing a
        with lib.no_grad():
            h.add_(1)
        with pytest.raises(RuntimeError):
            loss.backward()
