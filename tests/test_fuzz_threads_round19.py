"""Round 19 concurrency fuzzing: this round's engine changes (one grad-mode switch per backward, the ready queue
ordered by sequence numbers, AccumulateGrad prehooks, checkpoint with saved_tensors_hooks) and mg.compile's
verification of values frozen from the arguments, run from 2-8 threads at once with forced switching
(``sys.setswitchinterval(1e-6)``) and compared bit for bit with lone runs. The offline harness is
/tmp/fuzz19_threads.py (and /tmp/fuzz19_compile_race.py).

The engine's grad-mode switch and sequence numbers held up. The races found, each forced here with events (or a
trace function standing in for another thread's step): mg.compile's bookkeeping of its verification calls, where
another thread could replay a capture whose frozen value (``float(x.data.max())``) was never checked against other
argument values (a silently wrong result), and its table of programs read while another thread added one; a
checkpoint node of one shared graph recomputed by two threads at once under saved_tensors_hooks (CheckpointError);
register_multi_grad_hook's per-backward state shared by threads backpropagating through the same tensors.
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.helpers import in_threads

WAIT = 20.0
compile_module = sys.modules["minigrad.compile"]   # (mg.compile is the function)


def _scaled_by_max(x: mg.Tensor) -> mg.Tensor:
    return x * float(x.data.max())   # a value computed outside the engine: frozen by a capture


def _eager(values: list) -> np.ndarray:
    v = np.array(values, np.float32)
    return v * np.float32(v.max())


def _call(f: Any, values: list) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(mg.tensor(np.array(values, np.float32))).numpy()


def test_a_call_between_a_captures_publication_and_its_check_setup_does_not_skip_the_checks(monkeypatch: Any) -> None:
    # thread A captures; right after it publishes the program (before it set up the verification calls), thread B
    # calls with the capture's own values: B's check must not count as one with other values
    f = mg.compile(_scaled_by_max)
    published, b_done = threading.Event(), threading.Event()
    digest = compile_module._digest
    capturer: list = []

    def slow_digest(tensors: list) -> int:
        if threading.current_thread() is capturer[0] and not published.is_set():
            published.set()
            assert b_done.wait(WAIT)
        return digest(tensors)

    monkeypatch.setattr(compile_module, "_digest", slow_digest)

    def a() -> np.ndarray:
        capturer.append(threading.current_thread())
        return _call(f, [1.0, 2.0])

    def b() -> np.ndarray:
        assert published.wait(WAIT)
        try:
            return _call(f, [1.0, 2.0])
        finally:
            b_done.set()

    for out in in_threads(a, b):
        np.testing.assert_array_equal(out, _eager([1.0, 2.0]))
    for values in ([1.0, 3.0], [1.0, 5.0], [2.0, 7.0]):
        np.testing.assert_array_equal(_call(f, values), _eager(values))


def test_a_thread_holding_a_program_another_threads_check_found_wrong_does_not_replay_it(monkeypatch: Any) -> None:
    # thread D finds the program; before it reads whether the program is verified, thread B's check with other
    # values finds the frozen value wrong (the signature goes eager): D must not replay the program
    f = mg.compile(_scaled_by_max)
    _call(f, [1.0, 2.0])   # captured: the next calls check
    found, b_done = threading.Event(), threading.Event()
    guards = compile_module.Compiled._guards
    holder: list = []

    def slow_guards(self: Any) -> list:
        if threading.current_thread() is holder[0] and not found.is_set():
            found.set()   # D has the program, in __call__
            assert b_done.wait(WAIT)
        return guards(self)

    monkeypatch.setattr(compile_module.Compiled, "_guards", slow_guards)

    def d() -> np.ndarray:
        holder.append(threading.current_thread())
        return _call(f, [1.0, 5.0])

    def b() -> np.ndarray:
        assert found.wait(WAIT)
        try:
            return _call(f, [1.0, 3.0])
        finally:
            b_done.set()

    out_d, out_b = in_threads(d, b)
    np.testing.assert_array_equal(out_b, _eager([1.0, 3.0]))
    np.testing.assert_array_equal(out_d, _eager([1.0, 5.0]))


def test_two_threads_recomputing_one_checkpoint_whose_arguments_hooks_packed() -> None:
    # one graph (retain_graph=True), a checkpoint made under saved_tensors_hooks: thread A's recomputation maps the
    # unpacked argument back to x; thread B's recomputation starting meanwhile must not drop A's mapping
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = mg.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    a_in, b_in = threading.Event(), threading.Event()
    first: list = []

    def f(v: mg.Tensor) -> mg.Tensor:
        if threading.current_thread() in first[:1] and not a_in.is_set():
            a_in.set()   # A's recomputation has its unpacked arguments: let B recompute too
            assert b_in.wait(WAIT)
        elif first and threading.current_thread() is not first[0]:
            b_in.set()
        return ((v @ w).tanh() @ w).sin()

    with mg.autograd.graph.saved_tensors_hooks(lambda t: t * 1, lambda t: t * 1):
        y = mg.utils.checkpoint.checkpoint(f, x, use_reentrant=False)
    s = (y * y).sum()
    want = [g.numpy() for g in mg.autograd.grad(s, (x, w), retain_graph=True)]

    def a() -> list:
        first.append(threading.current_thread())
        return [g.numpy() for g in mg.autograd.grad(s, (x, w), retain_graph=True)]

    def b() -> list:
        assert a_in.wait(WAIT)
        return [g.numpy() for g in mg.autograd.grad(s, (x, w), retain_graph=True)]

    for got in in_threads(a, b):
        for g, expected in zip(got, want):
            np.testing.assert_array_equal(g, expected)


def test_a_program_published_while_another_threads_check_drops_a_program() -> None:
    # thread A's check finds the capture wrong and drops it from the table of programs, which it looks through; a
    # program another thread publishes meanwhile (forced here, with a trace function, at the look's first step)
    # must not make A raise 'dictionary changed size during iteration'
    f = mg.compile(_scaled_by_max)
    _call(f, [1.0, 2.0])   # captured: the next call checks, and finds float(x.data.max()) changed

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and not published:
            published.append(True)
            f.programs[("another thread's signature",)] = object()   # as another thread's capture would
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event == "call" and frame.f_back is not None and frame.f_back.f_code.co_name == "_forget_program":
            return local
        return None

    published: list = []
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        out = _call(f, [1.0, 3.0])
    finally:
        sys.settrace(previous)
    np.testing.assert_array_equal(out, _eager([1.0, 3.0]))
    np.testing.assert_array_equal(_call(f, [1.0, 5.0]), _eager([1.0, 5.0]))


@pytest.mark.parametrize("mode", ["all", "any"])
def test_a_multi_grad_hook_counts_each_threads_backward_apart(mode: str) -> None:
    # a multi-grad hook on two shared leaves; thread A's backward stops between the two leaves' gradients while
    # thread B runs a whole backward: each backward calls fn once, with its own gradients (PyTorch keys its
    # state by graph task)
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    a_mid, b_done = threading.Event(), threading.Event()
    calls: dict = {}
    seen = {"A": 0}

    def pause(g: mg.Tensor) -> None:
        if threading.current_thread().name == "A":
            seen["A"] += 1
            if seen["A"] == 2:   # between the two leaves' multi-grad hooks
                a_mid.set()
                assert b_done.wait(WAIT)

    a.register_hook(pause)
    b.register_hook(pause)

    def fn(grads: Any) -> None:
        grads = grads if isinstance(grads, (list, tuple)) else [grads]
        calls.setdefault(threading.current_thread().name, []).append(
            [None if g is None else g.numpy().tolist() for g in grads])

    mg.autograd.graph.register_multi_grad_hook((a, b), fn, mode=mode)

    def run(scale: float) -> None:
        (a * scale + b * (2 * scale)).sum().backward()

    def thread_a() -> None:
        threading.current_thread().name = "A"
        run(1.0)

    def thread_b() -> None:
        threading.current_thread().name = "B"
        assert a_mid.wait(WAIT)
        try:
            run(10.0)
        finally:
            b_done.set()

    in_threads(thread_a, thread_b)
    assert len(calls["A"]) == 1 and len(calls["B"]) == 1, calls
    if mode == "all":
        assert calls["A"] == [[[1.0, 1.0], [2.0, 2.0]]] and calls["B"] == [[[10.0, 10.0], [20.0, 20.0]]]
