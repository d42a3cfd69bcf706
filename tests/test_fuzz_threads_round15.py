"""Round 15 concurrency fuzzing: threads training, compiling and hooking at once (the offline harness is
/tmp/fuzz15_threads.py: jobs run alone, then in random groups of 2-8 threads with ``sys.setswitchinterval(1e-6)``,
each thread's results compared bit for bit with its lone run). Each test forces the bad interleaving with events.
"""

from __future__ import annotations

import threading

import numpy as np

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
