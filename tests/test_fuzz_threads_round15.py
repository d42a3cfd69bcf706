"""Round 15 concurrency fuzzing: threads training, compiling and hooking at once (the offline harness is
/tmp/fuzz15_threads.py: jobs run alone, then in random groups of 2-8 threads with ``sys.setswitchinterval(1e-6)``,
each thread's results compared bit for bit with its lone run). Each test forces the bad interleaving with events.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.forward_ad as fwAD
import nn
from minigrad.utils.checkpoint import checkpoint
from tests.helpers import in_threads

# --- fork_rng's block draws from this thread's own copy of the host stream ----------------------------------------

def _pause_then(inside: threading.Event, done: threading.Event) -> None:
    if not inside.is_set():
        inside.set()
        assert done.wait(30)


def test_another_threads_draws_are_neither_drawn_inside_a_fork_rng_block_nor_undone_by_it() -> None:
    # was: thread B drew the numbers of A's seed inside A's block, and A's block drew on from where B stopped
    mg.manual_seed(1)
    seeded = mg.rand(4).numpy()
    mg.manual_seed(5)
    outside = mg.rand(8).numpy()   # what the host stream gives from seed 5 (B's draws)
    mg.manual_seed(5)
    inside, done = threading.Event(), threading.Event()

    def a() -> np.ndarray:
        try:
            with mg.random.fork_rng():
                mg.manual_seed(1)
                _pause_then(inside, done)
                return mg.rand(4).numpy()
        finally:
            inside.set()

    def b() -> np.ndarray:
        try:
            assert inside.wait(30)
            return mg.rand(4).numpy()
        finally:
            done.set()

    drawn_in_block, drawn_outside = in_threads(a, b)
    np.testing.assert_array_equal(drawn_in_block, seeded)
    np.testing.assert_array_equal(drawn_outside, outside[:4])
    np.testing.assert_array_equal(mg.rand(4).numpy(), outside[4:])   # the block put back nothing over B's draws
    assert mg.initial_seed() == 5


def test_a_checkpoints_recomputation_draws_its_forwards_dropout_mask_while_another_thread_draws() -> None:
    # was: the recomputation set the shared stream back, another thread drew, and the gradient's mask differed
    # (PyTorch's checkpoint forks its one global generator and has this race)
    mg.manual_seed(3)
    x = mg.ones(16, dtype=mg.float64, requires_grad=True)
    inside, done = threading.Event(), threading.Event()
    recomputing = threading.Event()

    def f(v: mg.Tensor) -> mg.Tensor:
        if recomputing.is_set():
            _pause_then(inside, done)
        return nn.functional.dropout(v, 0.5, training=True)

    def a() -> tuple:
        try:
            y = checkpoint(f, x, use_reentrant=False)
            recomputing.set()
            y.sum().backward()
            return y.detach().numpy(), x.grad.numpy()
        finally:
            inside.set()

    def b() -> None:
        try:
            assert inside.wait(30)
            mg.rand(7)
        finally:
            done.set()

    y, grad = in_threads(a, b)[0]
    np.testing.assert_array_equal(grad, y)   # dropout's gradient of ones: the forward's mask times 2


# --- forward AD: a dual level per thread ---------------------------------------------------------------------------

def test_a_hessian_while_another_thread_runs_jacfwd_is_the_lone_runs() -> None:
    # was: the dual level was the process's, so B's jacfwd (hessian's outer one) saw A's level open and took the
    # reverse-mode path (other rounding), or raised "Nested forward mode AD" when A opened it between check and use
    x = np.array([0.3, -1.2, 0.7])

    def f(v: mg.Tensor) -> mg.Tensor:   # sum(sin v) * sum(cos v)
        return (v.sin() * v.cos().sum()).sum()

    alone = mg.func.hessian(f)(mg.tensor(x)).numpy()
    inside, done = threading.Event(), threading.Event()

    def held(v: mg.Tensor) -> mg.Tensor:
        _pause_then(inside, done)
        return v.exp()

    def a() -> np.ndarray:
        try:
            return mg.func.jacfwd(held)(mg.ones(2, dtype=mg.float64)).numpy()
        finally:
            inside.set()

    def b() -> np.ndarray:
        try:
            assert inside.wait(30)
            return mg.func.hessian(f)(mg.tensor(x)).numpy()
        finally:
            done.set()

    jacobian, hessian = in_threads(a, b)
    np.testing.assert_array_equal(hessian, alone)
    np.testing.assert_array_equal(jacobian, np.diag(np.exp(np.ones(2))))
    s, c = np.sin(x), np.cos(x)
    exact = -np.outer(c, s) - np.outer(s, c) - np.diag(s * c.sum() + c * s.sum())
    np.testing.assert_allclose(hessian, exact, rtol=1e-12, atol=1e-12)


def test_each_thread_opens_its_own_dual_level() -> None:
    # PyTorch has one level per process (another thread's dual_level raises); here each thread has its own
    inside, done = threading.Event(), threading.Event()

    def a() -> np.ndarray:
        try:
            with fwAD.dual_level():
                dual = fwAD.make_dual(mg.ones(2, dtype=mg.float64), mg.full((2,), 2.0, dtype=mg.float64))
                _pause_then(inside, done)
                return fwAD.unpack_dual(dual * 3).tangent.numpy()
        finally:
            inside.set()

    def b() -> tuple:
        try:
            assert inside.wait(30)
            plain = mg.ones(2, requires_grad=True)
            with mg.no_grad():
                plain.mul_(2)   # not a dual here: another thread's level does not look at it
            with fwAD.dual_level() as level:
                dual = fwAD.make_dual(mg.ones(2, dtype=mg.float64), mg.ones(2, dtype=mg.float64))
                tangent = fwAD.unpack_dual(dual.exp()).tangent.numpy()
            return level, tangent, fwAD._current_level
        finally:
            done.set()

    tangent_a, (level_b, tangent_b, after_b) = in_threads(a, b)
    np.testing.assert_array_equal(tangent_a, np.full(2, 6.0))
    np.testing.assert_array_equal(tangent_b, np.exp(np.ones(2)))
    assert level_b == 0 and after_b == -1 and fwAD._current_level == -1


# --- mg.func's randomness checks see this thread's draws only -----------------------------------------------------

def _map_while_another_thread_draws(lib: Any, transform: str, randomness: str) -> np.ndarray:
    """Thread A maps ``r + rand(())`` over 3 rows (``vmap``, or ``jacfwd``'s one call); its function pauses at its
    first call, before it draws, while thread B draws from the shared host stream. Returns A's result."""
    inside, done = threading.Event(), threading.Event()

    def f(r: Any) -> Any:
        if not done.is_set():
            inside.set()
            assert done.wait(30)
        return r + lib.rand(()) if randomness != "error" else r * 2

    def a() -> np.ndarray:
        try:
            mapped = getattr(lib.func, transform)(f, randomness=randomness)
            return np.asarray(mapped(lib.ones(3, dtype=lib.float64)).detach().numpy())
        finally:
            inside.set()

    def b() -> None:
        try:
            assert inside.wait(30)
            lib.rand(5)   # another thread's draw: not one of the mapped function's
        finally:
            done.set()

    return in_threads(a, b)[0]


@pytest.mark.parametrize("transform", ["vmap", "jacfwd"])
def test_another_threads_draw_during_a_vmap_is_not_the_mapped_functions(transform: str, torch: Any) -> None:
    # was: RuntimeError "called random operation while in randomness error mode" (the host stream had moved)
    for lib in (torch, mg) if transform == "vmap" else (mg,):   # torch's first jacfwd takes 2 s
        result = _map_while_another_thread_draws(lib, transform, "error")
        np.testing.assert_array_equal(result, np.full(3, 2.0) if transform == "vmap" else 2 * np.eye(3))


def test_vmap_randomness_same_gives_every_row_the_same_numbers_while_another_thread_draws(torch: Any) -> None:
    # was: rows 1 and 2 drew from where another thread's draw left the shared stream, row 0 from the first draw
    for lib in (torch, mg):
        lib.manual_seed(7)
        result = _map_while_another_thread_draws(lib, "vmap", "same")
        assert result[0] == result[1] == result[2]
    mg.manual_seed(7)
    alone = mg.func.vmap(lambda r: r + mg.rand(()), randomness="same")(mg.ones(3, dtype=mg.float64))
    np.testing.assert_array_equal(result, alone.numpy())   # the numbers a lone run draws from that seed


def test_another_threads_in_place_writes_during_a_vmap_are_not_the_mapped_functions() -> None:
    # was: RuntimeError "changed in place a tensor that is not an input" (thread B's w.add_ between A's calls)
    w = mg.zeros(3)
    go, back = [threading.Event() for _ in range(2)], [threading.Event() for _ in range(2)]
    calls = [0]

    def f(r: mg.Tensor) -> mg.Tensor:
        call = calls[0]
        calls[0] += 1
        if call < 2:   # calls 0 and 1 each wait for one write of B's
            go[call].set()
            assert back[call].wait(30)
        return r * 2

    def a() -> np.ndarray:
        try:
            return mg.func.vmap(f)(mg.ones(3, 2)).numpy()
        finally:
            for event in go:
                event.set()

    def b() -> None:
        try:
            for call in range(2):
                assert go[call].wait(30)
                w.add_(1.0)   # thread B's own tensor, changed to another value each time
                back[call].set()
        finally:
            for event in back:
                event.set()

    np.testing.assert_array_equal(in_threads(a, b)[0], np.full((3, 2), 2.0))
    np.testing.assert_array_equal(w.numpy(), np.full(3, 2.0))


def test_a_checkpoints_forward_draws_from_where_its_recomputation_will_while_another_thread_draws() -> None:
    # was: another thread's draw between the saved host state and the forward's dropout moved the shared stream,
    # so the recomputation (from the saved state) drew another mask than the forward used
    mg.manual_seed(4)
    x = mg.ones(16, dtype=mg.float64, requires_grad=True)
    inside, done = threading.Event(), threading.Event()

    def f(v: mg.Tensor) -> mg.Tensor:
        _pause_then(inside, done)   # in the forward only: the recomputation finds inside set
        return nn.functional.dropout(v, 0.5, training=True)

    def a() -> tuple:
        try:
            y = checkpoint(f, x, use_reentrant=False)
            y.sum().backward()
            return y.detach().numpy(), x.grad.numpy()
        finally:
            inside.set()

    def b() -> None:
        try:
            assert inside.wait(30)
            mg.rand(7)
        finally:
            done.set()

    y, grad = in_threads(a, b)[0]
    np.testing.assert_array_equal(grad, y)
