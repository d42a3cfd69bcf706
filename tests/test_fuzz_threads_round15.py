"""Round 15 concurrency fuzzing: threads training, compiling and hooking at once (the offline harness is
/tmp/fuzz15_threads.py: jobs run alone, then in random groups of 2-8 threads with ``sys.setswitchinterval(1e-6)``,
each thread's results compared bit for bit with its lone run). Each test forces the bad interleaving with events.
"""

from __future__ import annotations

import threading

import numpy as np

import minigrad as mg
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
