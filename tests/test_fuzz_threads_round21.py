"""Round 21 concurrency fuzzing: one ``mg.compile``d function called with other signatures from each thread,
shared recurrent layers (``compile=``, ``fused=``, packed sequences, cells), ``state_dict`` / ``load_state_dict``
(and their hooks, deep copies, pickles) while other threads run forwards, hooks registered and removed while other
threads run backward, per-thread generators and DataLoaders (workers, ``worker_init_fn`` seeds), the process-wide
``set_default_dtype`` and ``manual_seed``, and optimizers stepping disjoint parameters, from 2-8 threads at once with
forced switching, compared bit for bit with lone runs. The offline harness is /tmp/fuzz21_threads.py (and
/tmp/fuzz21_tls.py: which switches are per thread, minigrad's and PyTorch's).

The races found, each forced here with events: a walk read a tensor's hook list while another thread removed a
hook from it (iterating the live list skipped the next hook: a hook this thread registered before its own
``autograd.grad`` never ran; a leaf's, a non-leaf's, and a leaf's in a create_graph walk); a module's or an
optimizer's first hooks registered from two threads at once (each made the table of hooks: one hook lost), and a
hook registered with ``prepend=True`` emptied the table for a moment (another thread's call then ran none of the
hooks); two ``mg.load`` calls at once failed as a corrupt file (NumPy parses .npy headers with
``ast.literal_eval``, whose AST state CPython 3.11 shares between threads).
"""

from __future__ import annotations

import gc
import io
import sys
import threading
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from tests.helpers import in_threads

WAIT = 20.0
engine = sys.modules["minigrad.autograd.engine"]
hooks_module = sys.modules["minigrad.hooks"]
nn_hooks = sys.modules["nn.hooks"]
optim_hooks = sys.modules["nn.optim.hooks"]


def _pause_in(function: Callable, when: Callable[[dict], bool], reached: threading.Event,
              resume: threading.Event) -> Callable[[], None]:
    """A trace function for this thread that, at the first line of ``function`` where ``when(locals)`` holds,
    sets ``reached`` and waits for ``resume`` (another thread's step, made to fall just there). Returns the
    function that stops tracing."""
    code = function.__code__

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and not reached.is_set() and when(frame.f_locals):
            reached.set()
            assert resume.wait(WAIT)
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return local if event == "call" and frame.f_code is code else None

    previous = sys.gettrace()
    sys.settrace(tracer)
    return lambda: sys.settrace(previous)


# --- a walk reading a tensor's hooks while another thread removes one -----------------------------------------------

@pytest.mark.parametrize("where", ["leaf", "non-leaf", "leaf, create_graph"])
def test_a_hook_removed_by_another_thread_mid_walk_does_not_skip_this_threads_hook(
        where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # thread B's hook first, thread A's second, on one tensor; A's walk looks through the hooks (is each one a
    # prehook?) and B removes its hook just then: A's own hook still runs in A's walk (it was skipped)
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = w * 1.0 if where == "non-leaf" else w
    looking, removed = threading.Event(), threading.Event()
    b_handle = x.register_hook(lambda g: None)
    ran: list = []
    x.register_hook(lambda g: ran.append(threading.current_thread().name))
    if where == "non-leaf":   # a grad_fn prehook: the walk sorts the tensor's hooks into two lists
        x.grad_fn.register_prehook(lambda grads: None)
    module = {"leaf": engine, "non-leaf": hooks_module}.get(where, sys.modules["minigrad.higher_order"])
    is_prehook = module._is_prehook
    calls = {"A": 0}

    def slow_is_prehook(hook: Any) -> bool:
        if threading.current_thread().name == "A" and not looking.is_set():
            calls["A"] += 1
            if calls["A"] == (4 if where == "non-leaf" else 1):   # (non-leaf: the second list's first look)
                looking.set()
                assert removed.wait(WAIT)
        return is_prehook(hook)

    monkeypatch.setattr(module, "_is_prehook", slow_is_prehook)

    def a() -> np.ndarray:
        threading.current_thread().name = "A"
        try:
            return mg.autograd.grad((x * x).sum(), w, create_graph="create_graph" in where)[0].detach().numpy()
        finally:
            looking.set()

    def b() -> None:
        assert looking.wait(WAIT)
        b_handle.remove()
        removed.set()

    grad, _ = in_threads(a, b)
    np.testing.assert_array_equal(grad, [2.0, 4.0, 6.0])
    assert ran == ["A"]


# --- the first hook of a module or optimizer from two threads; a hook prepended while another thread calls --------

def _linear() -> nn.Linear:
    layer = nn.Linear(2, 2)
    with mg.no_grad():
        layer.weight.copy_(mg.eye(2))
        layer.bias.zero_()
    return layer


def _optimizer() -> Any:
    return nn.optim.SGD([mg.zeros(2, requires_grad=True)], lr=0.1)


def _register(owner: Any, log: list, name: str, prepend: bool = False) -> Any:
    """A hook on ``owner`` (a module: a forward hook; an optimizer: a step pre-hook) that logs ``name``."""
    if isinstance(owner, nn.Module):
        return owner.register_forward_hook(lambda module, args, output: log.append(name), prepend=prepend)
    if prepend:
        return owner.register_load_state_dict_pre_hook(lambda optimizer, state: log.append(name), prepend=True)
    return owner.register_step_pre_hook(lambda optimizer, args, kwargs: log.append(name))


def _call(owner: Any) -> None:
    if isinstance(owner, nn.Module):
        owner(mg.ones(1, 2))
    else:
        owner.step()


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_the_first_hooks_of_one_module_or_optimizer_from_two_threads_are_both_kept(owner: str) -> None:
    # thread A finds no table of hooks and is about to make one when thread B registers its hook (making the
    # table): A's table must not replace B's (B's hook was lost). Registering under a lock has no such moment
    # (A then goes on at once)
    target = _linear() if owner == "module" else _optimizer()
    add, lock = (nn_hooks.add_hook, nn_hooks._TABLES_LOCK) if owner == "module" else \
        (optim_hooks._tables, optim_hooks._LOCK)
    reached, b_done = threading.Event(), threading.Event()
    log: list = []

    def a() -> None:
        stop = _pause_in(add, lambda local: local.get("hooks", 0) is None and not lock.locked(), reached, b_done)
        try:
            _register(target, log, "A")
        finally:
            stop()
            reached.set()

    def b() -> None:
        assert reached.wait(WAIT)
        try:
            _register(target, log, "B")
        finally:
            b_done.set()

    in_threads(a, b)
    _call(target)
    assert sorted(log) == ["A", "B"]


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_a_hook_prepended_by_another_thread_never_hides_the_hooks_from_a_call(owner: str) -> None:
    # thread A prepends a hook; while its registration puts the table in order, thread B calls the module (or
    # loads the optimizer's state): the hook registered before runs (the table was empty for a moment)
    target = _linear() if owner == "module" else _optimizer()
    log: list = []
    if owner == "module":
        target.register_forward_hook(lambda module, args, output: log.append("before"))
        add = nn_hooks.add_hook
    else:
        target.register_load_state_dict_pre_hook(lambda optimizer, state: log.append("before"))
        add = optim_hooks._add
    state = target.state_dict() if owner == "optimizer" else None
    reached, b_done = threading.Event(), threading.Event()

    def a() -> None:   # pauses where the registration had emptied the table to put it in order (none now)
        stop = _pause_in(add, lambda local: "rest" in local and not local["table"], reached, b_done)
        try:
            _register(target, [], "A", prepend=True)
        finally:
            stop()
            reached.set()

    def b() -> None:
        assert reached.wait(WAIT)
        try:
            target(mg.ones(1, 2)) if owner == "module" else target.load_state_dict(state)
        finally:
            b_done.set()

    in_threads(a, b)
    assert log == ["before"]


# --- loading checkpoints in two threads -------------------------------------------------------------------------

def test_two_threads_loading_checkpoints_at_once() -> None:
    # NumPy parses each .npy header with ast.literal_eval; a garbage collection inside thread A's parse (forced
    # here: every allocation collects, and A's collection waits) lets thread B's whole load run there: A's load
    # must not fail as a corrupt file (CPython 3.11's AST state is shared: SystemError "recursion depth mismatch")
    reader = sys.modules["minigrad._checkpoint_reader"]
    buffers = []
    for seed in (0, 1):
        model = nn.Linear(3, 2)
        with mg.no_grad():
            for p in model.parameters():
                p.copy_(mg.tensor(np.random.default_rng(seed).standard_normal(p.shape).astype(np.float32)))
        buffers.append((io.BytesIO(), model))
        mg.save(model.state_dict(), buffers[-1][0])
    paused, b_done = threading.Event(), threading.Event()
    first: list = []

    def collecting(phase: str, info: dict) -> None:
        if phase == "start" and threading.current_thread() in first and not paused.is_set() \
                and sys._getframe(1).f_code.co_name == "parse" and not reader._HEADER_LOCK.locked():
            paused.set()   # (loads one at a time take a lock around the parse: no such moment then)
            assert b_done.wait(WAIT)

    def load(k: int) -> dict:
        buffers[k][0].seek(0)
        return {name: value.numpy() for name, value in mg.load(buffers[k][0]).items()}

    def a() -> dict:
        first.append(threading.current_thread())
        try:
            return load(0)
        finally:
            paused.set()

    def b() -> dict:
        assert paused.wait(WAIT)
        try:
            return load(1)
        finally:
            b_done.set()

    threshold = gc.get_threshold()
    gc.callbacks.append(collecting)
    gc.set_threshold(1)
    try:
        loaded = in_threads(a, b)
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(collecting)
    for state, (_, model) in zip(loaded, buffers):
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(state[name], value.numpy())
