"""Memory in long training loops: what a backward leaves alive, and reference cycles.

Measured with weak references and the cycle collector switched off (``gc.disable()``): an object that
survives its last reference then is held by a reference cycle, which only the collector frees (a
training loop's graphs would then pile up between collections). PyTorch frees these by reference
counting alone; the tests say where ``torch`` is the peer. No timed assertions, no byte counts.
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.autograd import engine
from minigrad.autograd.graph import register_multi_grad_hook

F = nn.functional


@contextlib.contextmanager
def cycle_collector_off() -> Iterator[None]:
    """Reference counting only, inside the block."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def graph_nodes(root: mg.Tensor) -> list:
    """Every op node reachable from ``root``."""
    seen: dict = {}
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(edge[0] for edge in node.edges if type(edge) is tuple)
    return list(seen.values())


def saved_arrays(nodes: list, keep: Any = ()) -> list:
    """Weak references to the arrays the nodes saved for backward (not those in ``keep``: weights, inputs)."""
    kept = {id(a) for a in keep}
    found: list = []

    def visit(value: Any) -> None:
        if isinstance(value, np.ndarray):
            if id(value) not in kept:
                found.append(weakref.ref(value))
        elif isinstance(value, (tuple, list)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    for node in nodes:
        visit(node.saved)
    return found


# --- cycles fixed in this round ------------------------------------------------------------------------------------

def test_a_prehook_on_a_node_does_not_keep_its_graph_alive(torch: Any) -> None:
    """grad_fn.register_prehook's wrapper held the node (for its error message): node -> hooks -> wrapper -> node."""
    calls = []
    with cycle_collector_off():
        w = mg.randn(3, 3, requires_grad=True)
        y = (w * 2).tanh()
        y.grad_fn.register_prehook(lambda grads: calls.append(grads[0].shape))
        y.sum().backward()
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None
    assert calls == [(3, 3)]
    t = torch.randn(3, 3, requires_grad=True)
    ty = (t * 2).tanh()
    ty.grad_fn.register_prehook(lambda grads: None)
    ty.sum().backward()
    with cycle_collector_off():
        alive = weakref.ref(ty)
        del ty
        assert alive() is None


def test_a_prehook_on_a_leafs_accumulate_grad_does_not_keep_the_leaf_alive(torch: Any) -> None:
    """AccumulateGrad.register_prehook's wrapper held the accumulator, which holds the leaf the hook lives on."""
    with cycle_collector_off():
        w = mg.randn(3, 3, requires_grad=True)
        y = (w * 2).sum()
        accumulator = y.grad_fn.next_functions[0][0].next_functions[0][0]
        assert isinstance(accumulator, engine.AccumulateGrad)
        accumulator.register_prehook(lambda grads: (grads[0] * 3,))
        y.backward()
        np.testing.assert_allclose(w.grad.numpy(), np.full((3, 3), 6.0))
        leaf = weakref.ref(w)
        del w, y, accumulator
        assert leaf() is None
    tw = torch.randn(3, 3, requires_grad=True)
    ty = (tw * 2).sum()
    ty.grad_fn.next_functions[0][0].next_functions[0][0].register_prehook(lambda grads: (grads[0] * 3,))
    ty.backward()
    assert float(tw.grad[0, 0]) == 6.0


def test_a_bad_accumulate_grad_prehook_still_names_the_leaf() -> None:
    w = mg.randn(2, requires_grad=True)
    y = (w * 1).sum()
    y.grad_fn.next_functions[0][0].next_functions[0][0].register_prehook(lambda grads: 5)
    with pytest.raises(RuntimeError, match=r"on tensor of shape \(2,\) must return None or a tuple"):
        y.backward()


def test_a_multi_grad_hook_does_not_keep_its_tensors_alive(torch: Any) -> None:
    """register_multi_grad_hook kept its tensors; their hooks held it: tensor -> hook -> registration -> tensor."""
    def run(lib: Any, tensor: Callable, rand: Callable) -> tuple:
        seen: list = []
        w = rand(4, 4, requires_grad=True)
        a = tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4) / 10) @ w
        b = a.tanh()
        c = a.sigmoid()   # not on b's path
        register_multi_grad_hook([a, b, c, w], lambda grads: seen.append([g is not None for g in grads]))
        b.sum().backward()
        refs = [weakref.ref(a), weakref.ref(b), weakref.ref(c)]
        del a, b, c
        return seen, [r() is None for r in refs]

    from torch.autograd.graph import register_multi_grad_hook as torch_hook
    with cycle_collector_off():
        ours = run(mg, mg.tensor, mg.randn)
    with cycle_collector_off():
        global register_multi_grad_hook
        mine, register_multi_grad_hook = register_multi_grad_hook, torch_hook
        try:
            theirs = run(torch, lambda a: torch.from_numpy(a), torch.randn)
        finally:
            register_multi_grad_hook = mine
    assert ours == theirs == ([[True, True, False, True]], [True, True, True])


# --- bounded caches ------------------------------------------------------------------------------------------------

def test_signatures_that_run_eagerly_count_towards_the_compile_limit() -> None:
    """A compiled function that reads .item() (so each signature runs eagerly) kept one entry per new shape,
    without bound: a loop over variable-length batches grew memory forever and attempted a capture on every
    new shape. Now eager signatures count towards MAX_PROGRAMS as captured ones do (torch.compile stops
    recompiling after its limit too)."""
    from minigrad.compile import MAX_PROGRAMS  # noqa: PLC0415

    f = mg.compile(lambda x: x * float(x.sum().item()))
    with pytest.warns(mg.CompileWarning) as caught:
        for n in range(1, MAX_PROGRAMS + 40):
            x = mg.arange(n, dtype=mg.float32)
            np.testing.assert_allclose(f(x).numpy(), x.numpy() * x.numpy().sum())
    assert len(f.eager) == MAX_PROGRAMS and not f.programs
    assert sum(f"{MAX_PROGRAMS} input signatures" in str(w.message) for w in caught) == 1
