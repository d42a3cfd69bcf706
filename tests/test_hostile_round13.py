"""Hostile round 13: hooks and ``autograd.grad`` from several threads on one graph.

``autograd.grad`` with a non-leaf input puts a capturing hook on that tensor's node for the length of its walk. Two
threads sharing the graph used to see each other's capturing hooks: one thread's walk stored its gradient into the
other's result (a silent wrong gradient), a hook inserted while another thread ran the node's hooks ran a hook
twice there, and adding a hook (a tensor's, or a module's full backward hook) while another thread iterated the
table raised 'dictionary changed size during iteration'. Each scenario is forced with events (no timing luck):
the first thread waits inside one of its own hooks while the second acts. Every wait has a timeout, so a deadlock
fails instead of hanging.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

import numpy as np

import minigrad as mg
import nn
from tests.helpers import in_threads

WAIT = 20.0


def _a_and_b(a: Callable[[], Any], b: Callable[[], Any]) -> list:
    """Run ``a`` in a thread named "A" and ``b`` in one named "B" (the hooks below tell them apart by name);
    return ``[a's result]``, or ``[]`` if ``a`` raised. A thread still running after a minute fails the test."""
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(a()), name="A", daemon=True),
               threading.Thread(target=b, name="B", daemon=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def test_two_threads_taking_grad_through_one_hooked_tensor_get_their_own_gradients() -> None:
    """Thread A: grad((h*2).sum(), [h, x]) where h has a hook doubling its gradient; A waits inside that hook
    while thread B runs grad((h*3).sum(), [h, x]) through the same node. Each must get what it gets alone, and A's
    hook must run once in A (B's capturing hook, inserted at the front of the node's list while A ran it, made A
    run the doubling hook a second time; A's capturing hook stored B's gradient into A's result)."""
    x = mg.tensor([1.0, -2.0, 0.5], dtype=mg.float64, requires_grad=True)
    h = x * 1.5
    in_a, b_inside, a_done = threading.Event(), threading.Event(), threading.Event()
    calls = {"A": 0, "B": 0}

    def doubling(g: mg.Tensor) -> mg.Tensor:
        who = threading.current_thread().name
        if who in calls:
            calls[who] += 1
            if who == "A" and calls["A"] == 1:
                in_a.set()
                assert b_inside.wait(WAIT)   # B's walk is now inside this node's hooks, its capture installed
            elif who == "B":
                b_inside.set()
                a_done.wait(WAIT)           # A finishes its walk while B's capture is still installed
        return g * 2

    h.register_hook(doubling)
    loss_a, loss_b = (h * 2.0).sum(), (h * 3.0).sum()
    alone = {c: [g.numpy() for g in mg.autograd.grad(loss, [h, x], retain_graph=True)]
             for c, loss in (("A", loss_a), ("B", loss_b))}
    calls.update(A=0, B=0)

    def a() -> list:
        try:
            return [g.numpy() for g in mg.autograd.grad(loss_a, [h, x], retain_graph=True)]
        finally:
            a_done.set()

    def b() -> list:
        assert in_a.wait(WAIT)
        return [g.numpy() for g in mg.autograd.grad(loss_b, [h, x], retain_graph=True)]

    threads = [threading.Thread(target=lambda: results.__setitem__("A", a()), name="A", daemon=True),
               threading.Thread(target=lambda: results.__setitem__("B", b()), name="B", daemon=True)]
    results: dict = {}
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert calls == {"A": 1, "B": 1}
    # alone: dL/dh before h's hook (2 and 3), dL/dx through the doubling hook (2*2*1.5 and 3*2*1.5)
    np.testing.assert_array_equal(alone["A"][0], np.full(3, 2.0))
    np.testing.assert_array_equal(alone["B"][1], np.full(3, 9.0))
    for who in ("A", "B"):
        for got, expected in zip(results[who], alone[who]):
            np.testing.assert_array_equal(got, expected)


def test_many_grads_from_two_threads_on_shared_non_leaf_inputs_equal_the_sequential_ones() -> None:
    """The free-running form: two threads, each taking grad of its own loss w.r.t. a shared non-leaf tensor, many
    times; never an exception, never the other thread's gradient."""
    x = mg.randn(6, dtype=mg.float64, requires_grad=True)
    h = (x * 1.5).tanh()
    losses = {c: (h * c).sum() for c in (2.0, 3.0)}
    expected = {c: mg.autograd.grad(loss, [h], retain_graph=True)[0].numpy() for c, loss in losses.items()}

    start = threading.Barrier(2)

    def work(c: float) -> int:
        wrong = 0
        start.wait(WAIT)
        for _ in range(1500):
            got = mg.autograd.grad(losses[c], [h], retain_graph=True)[0].numpy()
            wrong += not np.array_equal(got, expected[c])
        return wrong

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads as often as possible
    try:
        assert in_threads(lambda: work(2.0), lambda: work(3.0)) == [0, 0]
    finally:
        sys.setswitchinterval(interval)


def test_a_hook_added_to_another_output_of_a_node_while_its_hooks_run_elsewhere() -> None:
    """A's backward waits inside a hook on output 0 of an unbind node while B registers a hook on output 1 (a new
    key in the node's table): A's walk goes on with the table it started with."""
    x = mg.arange(6.0, dtype=mg.float64).reshape(3, 2).requires_grad_()
    first, second, third = x.unbind(0)
    in_hook, added = threading.Event(), threading.Event()

    def waiting(g: mg.Tensor) -> None:
        if threading.current_thread().name == "A":
            in_hook.set()
            assert added.wait(WAIT)

    first.register_hook(waiting)
    loss = (first * 1.0 + second * 2.0 + third * 3.0).sum()

    def a() -> np.ndarray:
        loss.backward(retain_graph=True)
        return x.grad.numpy().copy()

    def b() -> None:
        assert in_hook.wait(WAIT)
        second.register_hook(lambda g: g * 10)
        added.set()

    results = _a_and_b(a, b)
    assert len(results) == 1, "A's backward raised"
    # A's walk may or may not see B's new hook on `second` (PyTorch leaves that open); it must be one or the other
    assert any(np.array_equal(results[0], np.repeat([[1.0], [s], [3.0]], 2, axis=1)) for s in (2.0, 20.0))
    x.grad = None
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat([[1.0], [20.0], [3.0]], 2, axis=1))


def test_a_module_backward_hook_registered_while_another_thread_runs_them() -> None:
    """nn's full backward hooks iterated the module's live table: a hook registered from another thread while
    they ran raised 'dictionary changed size during iteration'. The gradients equal a single-thread run's."""
    mg.manual_seed(13)
    model = nn.Linear(3, 2).double()
    x = mg.randn(4, 3, dtype=mg.float64)
    in_hook, added = threading.Event(), threading.Event()
    seen: list = []

    def waiting(module: nn.Module, grad_input: tuple, grad_output: tuple) -> None:
        seen.append(threading.current_thread().name)
        if threading.current_thread().name == "A":
            in_hook.set()
            assert added.wait(WAIT)

    model.register_full_backward_hook(waiting)
    model(x).pow(2).sum().backward()
    expected = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()

    def a() -> list:
        model(x).pow(2).sum().backward()
        return [p.grad.numpy().copy() for p in model.parameters()]

    def b() -> None:
        assert in_hook.wait(WAIT)
        model.register_full_backward_hook(lambda module, gi, go: None)
        added.set()

    results = _a_and_b(a, b)
    assert len(results) == 1, "A's backward raised"
    for got, want in zip(results[0], expected):
        np.testing.assert_array_equal(got, want)
    assert seen.count("A") == 1


def test_an_optimizer_state_key_that_is_not_a_whole_number_is_refused_and_changes_nothing() -> None:
    """int(0.7) is 0 and int(True) is 1: such keys picked a parameter silently. A key is an int, a whole float or
    a string of digits (as a JSON file gives); anything else is refused, the optimizer left bit for bit as it was."""
    mg.manual_seed(13)
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))   # two weights of one shape: a wrong index would fit
    optimizer = nn.optim.Adam(model.parameters(), lr=0.1)
    model(mg.randn(3, 2)).sum().backward()
    optimizer.step()
    saved = optimizer.state_dict()

    def snapshot() -> list:
        return [(i, k, np.asarray(v.numpy() if isinstance(v, mg.Tensor) else v).tobytes())
                for i, p in enumerate(model.parameters()) for k, v in sorted(optimizer.state[p].items())]

    before = snapshot()
    for key in (0.7, True, "1.0", " 2", -1, "x"):
        bad = {**saved, "state": {key: saved["state"][2]}}   # (True == 1 as a dict key: alone, so it stays True)
        try:
            optimizer.load_state_dict(bad)
        except ValueError as error:
            assert f"state key {key!r} is not a parameter index; nothing was loaded" in str(error)
        else:
            raise AssertionError(f"the state key {key!r} was taken")
        assert snapshot() == before
    for key in (2, 2.0, "2", np.int64(2)):   # the same index spelled as PyTorch or a JSON file might
        optimizer.load_state_dict({**saved, "state": {**{k: v for k, v in saved["state"].items() if k != 2},
                                                      key: saved["state"][2]}})
        assert snapshot() == before


def test_a_state_dict_whose_values_share_memory_with_the_model_loads_what_it_held() -> None:
    """state_dict() values share the parameters' memory: loading {a: b's, b: a's} copied b into a, then the new a
    into b (both ended as b; PyTorch's load_state_dict does the same). Values that alias a tensor being written
    are read first, so the swap is a swap; a view of a parameter (its transpose) loads as the values it showed."""
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False))
    first, second = model[0].weight.numpy().copy(), model[1].weight.numpy().copy()
    state = model.state_dict()
    model.load_state_dict({"0.weight": state["1.weight"], "1.weight": state["0.weight"]})
    np.testing.assert_array_equal(model[0].weight.numpy(), second)
    np.testing.assert_array_equal(model[1].weight.numpy(), first)
    model.load_state_dict({"0.weight": model[1].weight.T, "1.weight": model[0].weight.data.T})
    np.testing.assert_array_equal(model[0].weight.numpy(), first.T)
    np.testing.assert_array_equal(model[1].weight.numpy(), second.T)
