"""Recording state is per thread: grad mode, anomaly mode and name scopes, as PyTorch's grad mode; threads
backpropagating into shared weights lose no gradient.

Two threads each training their own LSTM with Adam (whose ``step()`` enters ``no_grad``) must end
with the same parameters, bit for bit, as the same two runs one after the other.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import minigrad as mg
import nn
from tests.helpers import in_threads


def test_no_grad_in_one_thread_does_not_stop_recording_in_another() -> None:
    inside, checked = threading.Event(), threading.Event()
    x = mg.randn(3, requires_grad=True)

    def quiet() -> bool:
        with mg.no_grad():
            inside.set()
            assert checked.wait(30)
            return (x * 2).requires_grad

    def recording() -> tuple:
        assert inside.wait(30)
        y = x * 2           # the other thread is inside no_grad right now
        checked.set()
        return mg.is_grad_enabled(), y.requires_grad

    quiet_result, recording_result = in_threads(quiet, recording)
    assert quiet_result is False
    assert recording_result == (True, True)
    assert mg.is_grad_enabled()


def test_interleaved_no_grad_and_enable_grad_exits_restore_each_thread() -> None:
    steps = [threading.Event() for _ in range(4)]

    def first() -> list:
        seen = []
        outer = mg.no_grad()
        outer.__enter__()
        steps[0].set()
        assert steps[1].wait(30)
        seen.append(mg.is_grad_enabled())     # the other thread's enable_grad does not leak in
        outer.__exit__(None, None, None)
        steps[2].set()
        assert steps[3].wait(30)
        seen.append(mg.is_grad_enabled())
        return seen

    def second() -> list:
        seen = []
        assert steps[0].wait(30)
        inner = mg.enable_grad()
        with mg.no_grad():
            inner.__enter__()
            steps[1].set()
            assert steps[2].wait(30)          # the first thread has left its no_grad
            seen.append(mg.is_grad_enabled())
            inner.__exit__(None, None, None)
            seen.append(mg.is_grad_enabled())
        seen.append(mg.is_grad_enabled())
        steps[3].set()
        return seen

    assert in_threads(first, second) == [[False, True], [True, False, True]]
    assert mg.is_grad_enabled()


def test_set_grad_enabled_and_a_new_thread_start_with_recording_on() -> None:
    mg.set_grad_enabled(False)
    try:
        assert in_threads(mg.is_grad_enabled) == [True]
    finally:
        mg.set_grad_enabled(True)


def test_name_scopes_belong_to_their_thread() -> None:
    entered, recorded = threading.Event(), threading.Event()
    x = mg.randn(2, requires_grad=True)

    def a() -> str:
        with mg.name_scope("thread_a"):
            entered.set()
            assert recorded.wait(30)
            return (x * 2)._node.scope

    def b() -> tuple:
        assert entered.wait(30)
        with mg.name_scope("thread_b"):
            y = x * 3
        recorded.set()
        return y._node.scope, mg.current_scope()

    assert in_threads(a, b) == ["thread_a", ("thread_b", "")]
    assert mg.current_scope() == ""


def test_anomaly_mode_belongs_to_its_thread() -> None:
    entered, done = threading.Event(), threading.Event()

    def checking() -> str:
        with mg.detect_anomaly():
            entered.set()
            assert done.wait(30)
            with pytest.raises(mg.AnomalyError) as info, np.errstate(all="ignore"):
                mg.tensor([-1.0]).log()
            return str(info.value)

    def plain() -> bool:
        assert entered.wait(30)
        with np.errstate(all="ignore"):
            y = mg.tensor([-1.0]).log()       # no anomaly mode here: NaN passes silently
        done.set()
        return bool(np.isnan(y.numpy()).all()) and not mg.is_anomaly_enabled()

    message, plain_ok = in_threads(checking, plain)
    assert "forward of 'log'" in message and plain_ok


def _train_lstm(seed: int, steps: int, start: threading.Barrier | None = None) -> list[np.ndarray]:
    """Train a small LSTM + Linear head with Adam on seeded data; return the final parameters."""
    rng = np.random.default_rng(seed)
    lstm = nn.LSTM(4, 8, dtype=mg.float64)
    head = nn.Linear(8, 1, dtype=mg.float64)
    with mg.no_grad():   # seeded weights made here, not from the shared engine generator
        for p in [*lstm.parameters(), *head.parameters()]:
            p.copy_(mg.tensor(rng.uniform(-0.3, 0.3, p.shape)))
    params = [*lstm.parameters(), *head.parameters()]
    optimizer = nn.optim.Adam(params, lr=0.01)
    x = mg.tensor(rng.standard_normal((6, 3, 4)))
    y = mg.tensor(rng.standard_normal((3, 1)))
    if start is not None:
        start.wait(30)
    for _ in range(steps):
        optimizer.zero_grad()
        out, _ = lstm(x)
        loss = ((head(out[-1]) - y) ** 2).mean()
        loss.backward()
        optimizer.step()     # enters no_grad: in the old engine this switched recording off for both threads
    return [p.numpy().copy() for p in params]


def test_two_threads_training_lstms_end_bit_identical_to_sequential_runs() -> None:
    steps = 60
    interval = sys.getswitchinterval()
    with threadpool_limits(1):   # one BLAS thread each: the same summation order in both runs
        sequential = [_train_lstm(1, steps), _train_lstm(2, steps)]
        start = threading.Barrier(2)
        sys.setswitchinterval(1e-5)   # switch threads often, so one's no_grad overlaps the other's forward
        try:
            threaded = in_threads(lambda: _train_lstm(1, steps, start), lambda: _train_lstm(2, steps, start))
        finally:
            sys.setswitchinterval(interval)
    for seq, par in zip(sequential, threaded):
        assert len(seq) == len(par)
        for a, b in zip(seq, par):
            np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(*sequential))   # the two models really differ


@pytest.mark.parametrize("product", ["elementwise", "matmul"])
def test_threads_backpropagating_into_shared_weights_lose_no_gradient(product: str) -> None:
    """Hogwild-style: threads run backward into the same leaf at once; every contribution lands in .grad,
    as with PyTorch's locked gradient accumulation (NumPy's += runs without the GIL, and the first
    gradient of a leaf is assigned, not added: both could lose another thread's work)."""
    threads, rounds = 4, 25
    if product == "elementwise":
        weight, x = mg.zeros(1 << 20, requires_grad=True), mg.ones(1 << 20)
        loss = lambda: (weight * x).sum()   # noqa: E731
    else:   # a weight's gradient valued from its product sum, then added
        weight, x = mg.zeros((512, 512), requires_grad=True), mg.ones((2, 512))
        loss = lambda: (x @ weight).sum()   # noqa: E731
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(rounds):
            loss().backward()

    in_threads(*[work] * threads)
    per_round = 1.0 if product == "elementwise" else 2.0
    np.testing.assert_array_equal(weight.grad.numpy(), np.full(weight.shape, threads * rounds * per_round))
