"""The backward pass: deep graphs, accumulation, freeing, recording switches, scopes, hooks, multi-output nodes."""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import autograd


def _graph_nodes(root: mg.Tensor) -> list:
    """Every node reachable from ``root`` (iteratively), each once."""
    seen, stack = {root._node: None}, [root._node]
    while stack:
        for edge in stack.pop().edges:
            if type(edge) is tuple and edge[0] not in seen:
                seen[edge[0]] = None
                stack.append(edge[0])
    return list(seen)


# --- deep graphs: no recursion anywhere -------------------------------------------------

def test_50000_op_chain_backpropagates_without_recursion() -> None:
    assert sys.getrecursionlimit() < 50_000
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    y = x
    for _ in range(25_000):
        y = y * 1.00001 + 0.5          # 2 nodes per step
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.00001 ** 25_000] * 2, rtol=1e-9)
    ref = weakref.ref(y._node)
    del y                              # freeing the 50,000-node chain must not recurse either
    assert ref() is None


def test_10000_step_unrolled_recurrence_matches_hand_written_bptt() -> None:
    """h_t = tanh(h_{t-1} @ W + x_t) for 10,000 steps, time steps read from one unbind node."""
    steps, size = 10_000, 3
    rng = np.random.default_rng(0)
    w_np = rng.standard_normal((size, size)) * 0.5
    xs_np = rng.standard_normal((steps, 1, size)) * 0.5
    w = mg.tensor(w_np, requires_grad=True)
    xs = mg.tensor(xs_np, requires_grad=True)
    h = mg.zeros(1, size, dtype=mg.float64)
    for x_t in mg.unbind(xs, 0):
        h = mg.tanh(h @ w + x_t)
    h.sum().backward()

    hs = [np.zeros((1, size))]
    for t in range(steps):
        hs.append(np.tanh(hs[-1] @ w_np + xs_np[t]))
    grad_w, grad_xs = np.zeros_like(w_np), np.zeros_like(xs_np)
    grad_h = np.ones((1, size))
    for t in reversed(range(steps)):
        grad_pre = grad_h * (1 - hs[t + 1] ** 2)
        grad_w += hs[t].T @ grad_pre
        grad_xs[t] = grad_pre
        grad_h = grad_pre @ w_np.T
    np.testing.assert_allclose(h.numpy(), hs[-1], rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), grad_w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), grad_xs, rtol=1e-9, atol=1e-12)


# --- accumulation, retain_graph, freeing ----------------------------------------------------

def test_gradients_accumulate_into_leaves_over_two_backwards() -> None:
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, -1.0, 9.0])


def test_shared_subexpressions_and_diamonds_sum_their_gradients() -> None:
    x = mg.tensor(2.0, dtype=mg.float64, requires_grad=True)
    a = x * x                   # used twice below
    y = a * a + a * x + x       # x^4 + x^3 + x
    y.backward()
    assert x.grad.item() == pytest.approx(4 * 8 + 3 * 4 + 1)


def test_second_backward_through_a_freed_graph_says_retain_graph() -> None:
    x = mg.randn(3, requires_grad=True)
    loss = (x.tanh() * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        loss.backward()


def test_retain_graph_keeps_saved_arrays_for_a_second_backward() -> None:
    x = mg.tensor([0.5, -1.0], dtype=mg.float64, requires_grad=True)
    loss = (x.tanh() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    loss.backward()             # the last one may free
    np.testing.assert_allclose(x.grad.numpy(), 3 * first)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_intermediates_are_freed_by_refcount_alone() -> None:
    """With the cycle collector off: an op's output dies with its last user reference, the
    arrays saved for backward die right after backward, and the graph dies with the root."""
    gc.collect()
    gc.disable()
    try:
        x = mg.randn(4, requires_grad=True)
        h = x.tanh()
        hidden = weakref.ref(h)
        saved = weakref.ref(h.data)         # tanh keeps its output for backward
        node = weakref.ref(h._node)
        loss = (h * 2).sum()
        del h
        assert hidden() is None, "a node must not keep its output Tensor alive"
        assert saved() is not None, "the saved array is needed until backward"
        loss.backward()
        assert saved() is None, "backward must release the saved arrays"
        assert node() is not None
        del loss
        assert node() is None, "the graph must die with its root, without the cycle collector"
        assert x.grad is not None
    finally:
        gc.enable()


def test_a_whole_graph_has_no_reference_cycles() -> None:
    gc.collect()
    gc.disable()
    try:
        x = mg.randn(3, 4, requires_grad=True)
        w = mg.randn(4, 2, requires_grad=True)
        parts = mg.split(x @ w, 2, axis=1)
        h = mg.stack([parts[0].sigmoid(), parts[1].tanh()]).sum(axis=0)
        with mg.name_scope("s"):
            loss = (h[[0, 0, 1]] ** 2).mean()
        mg.autograd.tag(loss, "loss")
        loss.retain_grad()
        refs = [weakref.ref(n) for n in _graph_nodes(loss)]
        assert len(refs) >= 8
        loss.backward(retain_graph=True)
        autograd.observe_backward(loss, lambda node, grads_out, grads_in: None)
        del parts, h, loss
        assert [r() for r in refs if r() is not None] == []
    finally:
        gc.enable()


# --- recording switches ---------------------------------------------------------------------

def test_no_grad_records_nothing_and_restores_state() -> None:
    x = mg.randn(3, requires_grad=True)
    assert mg.is_grad_enabled()
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = (x * 2).tanh()
        with mg.enable_grad():
            z = x * 2
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y._node is None and y.is_leaf
    assert z.requires_grad and z._node is not None

    @mg.no_grad()
    def step(t: mg.Tensor) -> mg.Tensor:
        return t * 3

    assert step.__name__ == "step"
    assert not step(x).requires_grad and mg.is_grad_enabled()
    with pytest.raises(KeyError):
        with mg.no_grad():
            raise KeyError("inside")
    assert mg.is_grad_enabled()
    mg.set_grad_enabled(False)
    try:
        assert not (x + 1).requires_grad
    finally:
        mg.set_grad_enabled(True)


def test_requires_grad_propagates_only_from_inputs_that_need_it() -> None:
    a = mg.randn(2, requires_grad=True)
    b = mg.randn(2)
    c = a * b
    assert c.requires_grad and not c.is_leaf and c.grad_fn is c._node
    d = b * 2
    assert not d.requires_grad and d._node is None
    c.sum().backward()
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), b.numpy())


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = mg.randn(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d._node is None
    assert d.data is y.data
    loss = (d * x).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), d.numpy())   # no gradient through d


def test_backward_argument_errors() -> None:
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element tensor.*shape \(3,\).*grad="):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(2,\).*shape \(3,\)"):
        (x * 2).backward(mg.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.randn(3).sum().backward()


def test_backward_with_explicit_grad_and_on_a_leaf() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    grad = np.array([3.0, 4.0], dtype=np.float32)
    (x * x).backward(grad)
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 16.0])
    assert grad.tolist() == [3.0, 4.0], "backward must not write into the given gradient"
    x.backward(mg.tensor([1.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 17.0])


def test_leaf_grad_is_a_fresh_array_of_the_leaf_dtype() -> None:
    """The same gradient array may reach two leaves (or one leaf twice): each .grad is its own copy."""
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([1.0, 2.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    a.grad.data += 10
    assert b.grad.numpy().tolist() == [1.0, 1.0]
    x32 = mg.tensor([1.0], requires_grad=True)
    (x32.double() * mg.tensor([2.0], dtype=mg.float64)).sum().backward()
    assert x32.grad.dtype == mg.float32
    s = mg.tensor(1.5, requires_grad=True)
    (s * s).backward()
    assert isinstance(s.grad.data, np.ndarray) and s.grad.shape == ()


def test_integer_leaves_cannot_require_grad() -> None:
    with pytest.raises(RuntimeError, match=r"floating-point.*int64"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match=r"floating-point.*bool"):
        mg.tensor([True]).requires_grad_()


# --- name scopes and graph structure ----------------------------------------------------------

def test_name_scope_labels_every_recorded_node_and_nests() -> None:
    x = mg.randn(2, requires_grad=True)
    with mg.name_scope("encoder") as outer:
        a = x * 2
        with mg.name_scope("l0"):
            with mg.name_scope("t3") as inner:
                b = a.tanh()
                parts = mg.chunk(b, 2)
        c = parts[0] + 1
    d = c.sum()
    assert (outer, inner) == ("encoder", "encoder/l0/t3")
    assert a._node.scope == "encoder"
    assert b._node.scope == "encoder/l0/t3" and parts[1]._node.scope == "encoder/l0/t3"
    assert c._node.scope == "encoder"
    assert d._node.scope == ""
    assert autograd.current_scope() == ""
    assert repr(b._node) == "<tanh node in 'encoder/l0/t3'>"
    with pytest.raises(ValueError):
        with mg.name_scope("a"):
            raise ValueError
    assert autograd.current_scope() == ""
    for bad in ("", "a/b", 3):
        with pytest.raises(ValueError, match="name_scope"):
            mg.name_scope(bad)


def test_node_edges_and_output_metadata() -> None:
    leaf = mg.randn(2, 3, requires_grad=True)
    const = mg.randn(2, 3)
    y = leaf * const
    z = (y + leaf).sum(axis=0)
    mul, add = y._node, z._node.edges[0][0]
    assert mul.name == "mul" and mul.edges == (leaf, None) and mul.needs_grad == (True, False)
    assert add.name == "add" and add.edges[0] == (mul, 0) and add.edges[1] is leaf
    assert z._node.out_meta == (((3,), mg.float32),)
    assert mg.autograd.tag(z, "h") is z and z._node.tag == "h"


def test_multi_output_nodes_are_one_node_and_tolerate_unused_outputs() -> None:
    x = mg.tensor(np.arange(12.0).reshape(6, 2), requires_grad=True)
    for parts in (mg.split(x, 3, axis=0), mg.split(x, [1, 4], axis=0), mg.chunk(x, 4), mg.unbind(x)):
        assert len({id(p._node) for p in parts}) == 1
        assert [p._index for p in parts] == list(range(len(parts)))
        node = parts[0]._node
        assert node.n_outputs == len(parts) and len(node.out_meta) == len(parts)
        x.grad = None
        (parts[1] * 3).sum().backward()            # the other outputs send nothing
        expected = np.zeros((6, 2))
        start = sum(p.shape[0] if p.ndim == 2 else 1 for p in parts[:1])
        rows = parts[1].shape[0] if parts[1].ndim == 2 else 1
        expected[start:start + rows] = 3
        np.testing.assert_array_equal(x.grad.numpy(), expected)
    # an output that reached the loss only through a path without gradient still works
    a, b = mg.split(x, 2, axis=0)
    x.grad = None
    (a.sum() + b.detach().sum()).backward()
    assert x.grad.numpy()[:3].tolist() == [[1, 1]] * 3 and x.grad.numpy()[3:].tolist() == [[0, 0]] * 3


def test_a_custom_function_with_two_outputs() -> None:
    class SinCos(mg.Function):
        """(sin x, cos x) as one node."""

        multiple = True
        n_outputs = 2

        def forward(self, x: Any) -> tuple:
            self.saved = (x,)
            return self.xp.sin(x), self.xp.cos(x)

        def backward(self, g_sin: Any, g_cos: Any) -> Any:
            (x,) = self.saved
            grad = self.xp.zeros_like(x)
            if g_sin is not None:
                grad = grad + g_sin * self.xp.cos(x)
            if g_cos is not None:
                grad = grad - g_cos * self.xp.sin(x)
            return grad

    x = mg.tensor([0.3, 1.2], dtype=mg.float64, requires_grad=True)
    s, c = SinCos()(x)
    assert s._node.name == "sincos"
    assert mg.gradcheck(lambda t: SinCos()(t), [x])
    assert mg.gradcheck(lambda t: SinCos()(t)[1] * 2, [x])


def test_gradcheck_names_the_worst_element_of_a_wrong_gradient() -> None:
    class WrongSquare(mg.Function):
        def forward(self, x: Any) -> Any:
            self.saved = (x,)
            return x * x

        def backward(self, gy: Any) -> Any:
            (x,) = self.saved
            wrong = 2 * x
            wrong[1] += 1.0            # only element 1 is wrong
            return gy * wrong

    x = mg.tensor([0.5, -1.0, 2.0], dtype=mg.float64, requires_grad=True)
    with pytest.raises(mg.GradcheckError, match=r"input 0 \(shape \(3,\)\).*index \(1,\)"):
        mg.gradcheck(lambda t: WrongSquare()(t), [x])
    assert mg.gradcheck(lambda t: t * t, [x]) is True


def test_gradcheck_fails_on_a_nan_gradient() -> None:
    class NanBackward(mg.Function):
        def forward(self, x: Any) -> Any:
            return 2 * x

        def backward(self, gy: Any) -> Any:
            g = 2 * gy
            g[2] = np.nan
            return g

    x = mg.tensor([0.5, -1.0, 2.0], dtype=mg.float64, requires_grad=True)
    with pytest.raises(mg.GradcheckError, match=r"index \(2,\).*analytic nan"):
        mg.gradcheck(lambda t: NanBackward()(t), [x])


# --- hooks, retain_grad, gradient norms -------------------------------------------------------

def test_hooks_on_leaves_and_intermediates_can_replace_the_gradient() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    y = x * 2
    remove = y.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    x.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], [4.0, 8.0])
    np.testing.assert_allclose(x.grad.numpy(), [81.0, 161.0])    # (2y * 10) * 2 + 1
    remove()
    x.grad = None
    y2 = x * 2
    y2.sum().backward()
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.randn(2).register_hook(lambda g: g)


def test_register_hook_returns_a_handle_whose_remove_removes_it_as_in_pytorch() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 3)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])
    handle.remove()
    handle.remove()   # a second remove does nothing, as PyTorch's
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    with x.register_hook(lambda g: g * 0):   # a handle is also a context manager, as PyTorch's
        x.grad = None
        (x * x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_retain_grad_keeps_and_accumulates_a_non_leaf_gradient() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = x * 3                    # not retained
    loss = (y * y).sum() + z.sum()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 8.0])
    assert z.grad is None
    loss.backward()
    np.testing.assert_allclose(y.grad.numpy(), [8.0, 16.0])   # as torch: retained grads accumulate


def test_observe_backward_reports_every_node_and_changes_nothing() -> None:
    x = mg.tensor([3.0, 4.0], dtype=mg.float64, requires_grad=True)
    w = mg.tensor([1.0, -2.0], dtype=mg.float64, requires_grad=True)
    y = x * w                               # grad into x: w * 2, into w: x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 100)      # hooks do not run while observing
    loss = (y * 2).sum()
    loss.backward(retain_graph=True)
    grads = (x.grad.numpy().copy(), w.grad.numpy().copy(), y.grad.numpy().copy())
    seen = []
    autograd.observe_backward(loss, lambda node, grads_out, grads_in: seen.append((node, grads_out, grads_in)))
    assert [node.name for node, _, _ in seen] == ["sum", "mul", "mul"]
    node, grads_out, grads_in = seen[-1]
    assert node is y._node
    np.testing.assert_array_equal(grads_out[0], [2.0, 2.0])
    np.testing.assert_array_equal(grads_in[0], [2.0, -4.0])
    np.testing.assert_array_equal(grads_in[1], [6.0, 8.0])
    for before, after in zip(grads, (x.grad, w.grad, y.grad)):
        np.testing.assert_array_equal(before, after.numpy())
    autograd.observe_backward(loss, lambda *args: None)   # saved arrays were kept: it can run again
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        autograd.observe_backward(loss, lambda *args: None)


def test_observe_backward_values_lazy_weight_gradients() -> None:
    x = mg.randn(3, 2, dtype=mg.float64, requires_grad=True)
    w = mg.randn(2, 2, dtype=mg.float64, requires_grad=True)
    loss = ((x @ w) @ w).sum()
    seen = []
    autograd.observe_backward(loss, lambda node, grads_out, grads_in: seen.extend(grads_in))
    assert all(g is None or isinstance(g, np.ndarray) for g in seen)
    loss.backward()
    np.testing.assert_allclose(sum(g for g in seen if g.shape == (2, 2)), w.grad.numpy(), rtol=1e-12)


# --- in-place changes of saved arrays (version counters), decided as PyTorch decides -------------

def _inplace_case(lib: Any, case: str) -> None:
    """Build a small graph, change something in place, run backward: each case as torch spells it."""
    no_grad = lib.no_grad
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([1.5, 2.0, -0.5], dtype=lib.float64, requires_grad=True)
    if case == "output saved by exp, changed":
        y = x.exp()
        y.add_(1)
        loss = y.sum()
    elif case == "input saved by mul, changed under no_grad":
        y = x * w
        with no_grad():
            w.add_(1)
        loss = y.sum()
    elif case == "a detached alias of a saved input, changed":
        y = x * w
        w.detach().mul_(2)
        loss = y.sum()
    elif case == "input of add (saves nothing), changed":
        y = x + w
        with no_grad():
            w.add_(1)
        loss = y.sum()
    elif case == "output of mul (not saved), changed":
        y = x.sigmoid() * 3
        y.add_(1)
        loss = y.sum()
    elif case == "changed before the op recorded it":
        with no_grad():
            w.add_(1)
        loss = (x * w).sum()
    elif case == "a view of a saved output, changed":
        y = x.exp()
        y[:2].add_(1)
        loss = y.sum()
    else:
        raise AssertionError(case)
    loss.backward()


INPLACE_CASES = {
    "output saved by exp, changed": True,
    "input saved by mul, changed under no_grad": True,
    "a detached alias of a saved input, changed": True,
    "input of add (saves nothing), changed": False,
    "output of mul (not saved), changed": False,
    "changed before the op recorded it": False,
    "a view of a saved output, changed": True,
}


@pytest.mark.parametrize("case", list(INPLACE_CASES))
def test_backward_refuses_saved_arrays_changed_in_place_as_torch(case: str) -> None:
    torch = pytest.importorskip("torch")
    torch_raises = False
    try:
        _inplace_case(torch, case)
    except RuntimeError as error:
        assert "modified by an inplace operation" in str(error)
        torch_raises = True
    assert torch_raises == INPLACE_CASES[case]   # the table states PyTorch's behaviour
    if torch_raises:
        with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*is at version \d+; expected "
                                                r"version \d+"):
            _inplace_case(mg, case)
    else:
        _inplace_case(mg, case)


def test_inplace_error_names_the_op_its_scope_and_the_versions_and_changes_no_grad() -> None:
    x = mg.tensor([0.5, -1.0], dtype=mg.float64, requires_grad=True)
    with mg.name_scope("enc"):
        y = x.exp()
    assert y._version == 0
    y.add_(1)
    y.add_(1)
    assert y._version == 2
    with pytest.raises(RuntimeError, match=r"'exp' in scope 'enc' is at version 2; expected version 0"):
        y.sum().backward()
    assert x.grad is None


def test_a_new_graph_after_an_optimizer_like_update_is_fine() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with mg.no_grad():
            w.sub_(0.1 * w.grad)
        w.grad = None
    assert w._version == 3


# --- hooks are checked ---------------------------------------------------------------------------

def test_a_hook_may_return_none_or_a_gradient_of_the_same_kind() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: None)
    x.register_hook(lambda g: g.numpy() * 2)   # an array is fine too
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_grads_never_share_memory_with_each_other_or_the_graph() -> None:
    """.grad takes a walk's own sums and product-sum values without a copy, and copies everything else."""
    a = mg.tensor(np.ones((2, 3)), requires_grad=True)
    b = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.full((3, 3), 0.5), requires_grad=True)
    upstream = mg.tensor(np.arange(6.0).reshape(2, 3))
    y = a + b                       # both get the same passed-through array
    z = (a * 2) + (a @ w) @ w       # a: a sum of three uses; w: a product sum of two uses
    (y * upstream).sum().backward(retain_graph=True)
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    assert not np.shares_memory(a.grad.numpy(), upstream.numpy())
    first_a = a.grad.numpy().copy()
    a.grad = b.grad = None
    (z * upstream).sum().backward()
    a.grad.data += 1                # a later in-place change of one .grad touches nothing else
    assert not np.shares_memory(a.grad.numpy(), w.grad.numpy())
    expected_w = (a.numpy() @ w.numpy()).T @ upstream.numpy() + a.numpy().T @ (upstream.numpy() @ w.numpy().T)
    np.testing.assert_allclose(w.grad.numpy(), expected_w)
    np.testing.assert_allclose(first_a, upstream.numpy())
