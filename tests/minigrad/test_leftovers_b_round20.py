"""Round 20, leftovers B: engine, hooks and threads, each compared with PyTorch 2.13 (fuzzers: /tmp/fuzz20_*.py)."""

from __future__ import annotations

import threading

import pytest

import minigrad as mg
from minigrad.tensor import Tensor

torch = pytest.importorskip("torch", reason="no torch")


# --- fill_diagonal_'s value check names fill_diagonal_ (it delegated to masked_fill, whose name the error gave) ---

@pytest.mark.parametrize("dtype, value", [("float16", 1e5), ("float16", -65520.0), ("int8", 300), ("float32", 1 + 2j)])
def test_fill_diagonal_overflow_raises_as_torch_naming_fill_diagonal(dtype: str, value: object) -> None:
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.zeros(3, 3, dtype=getattr(torch, dtype)).fill_diagonal_(value)
    with pytest.raises(RuntimeError, match="^fill_diagonal_: value .* without overflow"):
        mg.zeros(3, 3, dtype=getattr(mg, dtype)).fill_diagonal_(value)


@pytest.mark.parametrize("dtype, value", [("float16", 65504.0), ("float16", float("inf")), ("int8", 2.5),
                                          ("bool", 1e5), ("complex64", 1 + 2j)])
def test_fill_diagonal_values_in_range_are_torchs(dtype: str, value: object) -> None:
    ours = mg.zeros(3, 3, dtype=getattr(mg, dtype)).fill_diagonal_(value)
    theirs = torch.zeros(3, 3, dtype=getattr(torch, dtype)).fill_diagonal_(value)
    assert ours.numpy().tolist() == theirs.numpy().tolist()
    assert f"torch.{ours.dtype}" == str(theirs.dtype)


# --- hooks registered on one tensor from two threads at once: neither is lost ---

def _racy(slot: str) -> property:
    """A leaf's hook list ``slot`` whose first read in thread A waits for thread B to register its hook (before the
    fix, A then made a second list over B's and B's hook was lost; with the lock, B waits for A: this times out)."""
    def get(self: Tensor) -> list | None:
        value = self.__dict__.get(slot)
        if value is None and threading.current_thread().name == "A":
            self.a_reading.set()
            self.b_done.wait(0.3)
        return value

    def set_(self: Tensor, value: list | None) -> None:
        self.__dict__[slot] = value
    return property(get, set_)


class _RacyLeaf(Tensor):
    _hooks = _racy("_hooks")
    _post_hooks = _racy("_post_hooks")


@pytest.mark.parametrize("kind", ["leaf", "post_accumulate"])
def test_hooks_registered_from_two_threads_at_once_both_run(kind: str) -> None:
    x = _RacyLeaf([1.0, 2.0], requires_grad=True)
    x.a_reading, x.b_done = threading.Event(), threading.Event()
    calls: list = []

    def register(name: str) -> None:
        if kind == "leaf":
            x.register_hook(lambda g: calls.append(name))
        else:
            x.register_post_accumulate_grad_hook(lambda p: calls.append(name))

    def a() -> None:
        register("A")

    def b() -> None:
        x.a_reading.wait(1)
        register("B")
        x.b_done.set()

    threads = [threading.Thread(target=a, name="A"), threading.Thread(target=b, name="B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (x * 2).sum().backward()
    assert sorted(calls) == ["A", "B"]


# --- a process forked while another thread is inside gc_paused: the child's collector runs ---

def _in_child(body) -> str:   # noqa: ANN001 - body() -> str, run in a forked child; its result
    import os
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child
        try:
            os.write(write, body().encode())
        finally:
            os._exit(0)
    os.close(write)
    out = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    return out


def _closed_block_then(check) -> str:   # noqa: ANN001
    with mg.gc_paused():
        pass
    return f"{check()}"


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no os.fork on this platform")
def test_fork_while_another_thread_pauses_gc_leaves_the_childs_collector_running() -> None:
    import gc
    inside, leave = threading.Event(), threading.Event()

    def pausing() -> None:
        with mg.gc_paused():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=pausing)
    thread.start()
    try:
        inside.wait(5)
        assert not gc.isenabled()
        child = _in_child(lambda: f"{gc.isenabled()}")
        # the forking thread's own block stays open in the child, and restores the collector when it closes
        with mg.gc_paused():
            nested = _in_child(lambda: f"{gc.isenabled()}" + _closed_block_then(gc.isenabled))
    finally:
        leave.set()
        thread.join()
    assert child == "True"
    assert nested == "FalseFalse"   # (an inner block closed there leaves the forking thread's open one paused)
    assert gc.isenabled()


# --- a hook that turns grad mode off (and leaves it off) in a create_graph backward: the rest of the walk records ---

def _second_order(api, nnm, entry: str, spot: str) -> tuple:   # noqa: ANN001
    """``x.grad`` and ``w.grad`` of a create_graph backward where the hook at ``spot`` turns grad mode off and leaves
    it off; then the gradient of their sum w.r.t. x and w (None where the first gradient lost its graph)."""
    x = api.tensor([1.0, 2.0], dtype=api.float64, requires_grad=True)
    w = api.tensor([3.0, -1.0], dtype=api.float64, requires_grad=True)
    lin = nnm.Linear(2, 2).double()
    with api.no_grad():
        lin.weight.copy_(api.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=api.float64))
        lin.bias.copy_(api.tensor([0.1, 0.2], dtype=api.float64))

    def off(*args: object) -> None:
        api.set_grad_enabled(False)
    z = (x * w).sin()
    s = lin(z).sum() + (w * 3.0).exp().sum()
    if spot == "pre":
        z.grad_fn.register_prehook(off)
    elif spot == "post":
        z.grad_fn.register_hook(off)
    elif spot == "module":
        lin.register_full_backward_hook(off)
    elif spot == "leaf":   # x's own hook: x's accumulation runs with it off (one node in PyTorch), w's not
        x.register_hook(off)
    try:
        if entry == "backward":
            s.backward(create_graph=True)
            first = [x.grad, w.grad]
        else:
            first = list(api.autograd.grad(s, [x, w], create_graph=True))
        mode = api.is_grad_enabled()
    finally:
        api.set_grad_enabled(True)
    second = []
    for g in first:   # (retain_graph: minigrad's second-order graph reaches the forward's nodes, torch's does not)
        again = api.autograd.grad(g.sum(), [x, w], retain_graph=True, allow_unused=True, materialize_grads=True) \
            if g.requires_grad else None
        second.append(None if again is None else [t.detach().numpy().round(9).tolist() for t in again])
    return mode, [g.detach().numpy().round(9).tolist() for g in first], second


@pytest.mark.parametrize("entry, spot", [("backward", "pre"), ("backward", "post"), ("backward", "module"),
                                         ("backward", "leaf"), ("grad", "pre"), ("grad", "post"), ("grad", "module")])
def test_create_graph_walk_gives_each_node_the_walks_grad_mode(entry: str, spot: str) -> None:
    import nn
    ours = _second_order(mg, nn, entry, spot)
    theirs = _second_order(torch, torch.nn, entry, spot)
    assert ours == theirs


# --- a hook that turns grad mode on (and leaves it on) in a backward: the other nodes' hooks still run without ---

def _modes_seen(api, entry: str, spot: str, action: str) -> tuple:   # noqa: ANN001
    """(hook, grad mode, whether an op on the gradient there records) at each hook, sorted, where the hook at
    ``spot`` changes grad mode by ``action`` and leaves it so; and the caller's grad mode after."""
    log = []
    k = api.tensor([0.5, 0.25], dtype=api.float64, requires_grad=True)

    def seen(tag: str):   # noqa: ANN202
        def hook(*args: object) -> None:
            log.append((tag, api.is_grad_enabled(), (k * 2).requires_grad))
            if tag == spot:
                api.set_grad_enabled(True) if action == "set_grad_enabled" else api.enable_grad().__enter__()
        return hook
    x = api.tensor([1.0, 2.0], dtype=api.float64, requires_grad=True)
    w = api.tensor([3.0, -1.0], dtype=api.float64, requires_grad=True)
    y = x * w
    z = y.sin()
    v = (w * 3.0).exp()
    s = z.sum() + v.sum()
    y.register_hook(seen("y"))
    z.grad_fn.register_prehook(seen("pre"))
    z.grad_fn.register_hook(seen("post"))
    x.register_hook(seen("x"))
    v.register_hook(seen("v"))
    if entry == "backward":
        w.register_post_accumulate_grad_hook(seen("w_post"))
        s.backward()
    else:
        api.autograd.grad(s, [x, w])
    after = api.is_grad_enabled()
    api.set_grad_enabled(True)
    return sorted(log), after


@pytest.mark.parametrize("entry", ["backward", "grad"])
@pytest.mark.parametrize("spot", ["y", "pre", "post", "x"])
@pytest.mark.parametrize("action", ["set_grad_enabled", "enable_grad_entered"])
def test_a_hooks_grad_mode_change_lasts_for_its_node_only(entry: str, spot: str, action: str) -> None:
    assert _modes_seen(mg, entry, spot, action) == _modes_seen(torch, entry, spot, action)


def test_retain_grad_on_two_outputs_of_one_op_from_two_threads_keeps_both() -> None:
    """Thread A reads the node's (empty) table of retained outputs and waits for B to retain the other output;
    before the fix A then made a second table over B's and B's output got no .grad."""
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    first, second = x.unbind(0)
    node = first._node
    a_reading, b_done = threading.Event(), threading.Event()

    class Racy(type(node)):
        @property
        def retained(self) -> dict | None:
            value = self.__dict__.get("_retained")
            if value is None and threading.current_thread().name == "A":
                a_reading.set()
                b_done.wait(0.3)
            return value

        @retained.setter
        def retained(self, value: dict | None) -> None:
            self.__dict__["_retained"] = value
    node.__class__ = Racy

    def a() -> None:
        first.retain_grad()

    def b() -> None:
        a_reading.wait(1)
        second.retain_grad()
        b_done.set()
    threads = [threading.Thread(target=a, name="A"), threading.Thread(target=b, name="B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (first * 2 + second * 3).sum().backward()
    assert first.grad is not None and second.grad is not None
    assert first.grad.tolist() == [2.0, 2.0] and second.grad.tolist() == [3.0, 3.0]
