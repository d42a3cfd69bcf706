"""Concurrent replays of one mg.compile program that writes into the caller's memory under ``no_grad`` (a counter, a
BatchNorm's running statistics): each replay records the old values of its own writes, so a replay that stops (an
op of another shape: the call is captured again) puts back exactly what it wrote, never what another thread's
replay wrote meanwhile, and no other replay of the program writes before it has (its undo runs under the
program's lock: putting back old values after another replay's write would lose that write). The stopped
replay waits, before it puts its writes back, until three other threads are calling the same program; its
capture's eager run waits until they are done (an eager ``count.add_(1)`` racing with another thread's is the
caller's race, as in PyTorch, not the replays')."""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from minigrad.capture import Program
from minigrad.compile import Compiled, CompileWarning


def _thread(target: Callable[[], Any], errors: list) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - re-raised by the test
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_stopped_replay_undoes_its_own_writes_while_three_threads_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    count = mg.zeros((), dtype=mg.int64)
    total = mg.zeros((), dtype=mg.float64)

    def fn(x: mg.Tensor) -> mg.Tensor:
        with mg.no_grad():
            count.add_(1)
            total.add_(x.sum())
        return x[x > 0] * 2.0   # a data-dependent shape: another count of positives stops a replay

    compiled = mg.compile(fn)
    calls: list = []   # every call's values, from all threads (list.append is atomic)

    def call(values: list) -> None:
        calls.append(values)
        got = compiled(mg.tensor(values, dtype=mg.float64))
        want = np.asarray([2.0 * v for v in values if v > 0])
        assert np.array_equal(got.data, want), (values, got.data)

    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for values in ([1.0, -1.0, 2.0], [2.0, 3.0, -4.0], [3.0, -1.0, 5.0]):   # capture, check run, replay
            call(values)
        (program,) = compiled.programs.values()
        assert program.verified and program.undoing and not compiled.eager

        stopped = threading.Event()
        started = [threading.Event() for _ in range(3)]
        original = Program.undo_writes

        def undo_writes(undo: list) -> None:   # the stopped replay waits here while the other threads call
            stopped.set()
            assert all(event.wait(10) for event in started), "the replaying threads did not start"
            time.sleep(0.05)   # time for their replays to run, were they not held back by the program's lock
            original(undo)

        def replay(k: int) -> None:
            started[k].set()
            for i in range(5):
                call([10.0 * k + i + 1, -1.0, 1.0])   # two positives: replayed

        replayed = threading.Event()
        capture = Compiled._capture

        def capture_after_the_replays(self: Compiled, *args: Any) -> Any:
            assert replayed.wait(10), "the replaying threads did not finish"
            return capture(self, *args)

        monkeypatch.setattr(Program, "undo_writes", staticmethod(undo_writes))
        monkeypatch.setattr(Compiled, "_capture", capture_after_the_replays)
        errors: list = []
        stopping = _thread(lambda: call([1.0, 2.0, 4.0]), errors)   # three positives: stops, captured again
        assert stopped.wait(10), "the replay did not stop"
        replaying = [_thread(lambda k=k: replay(k), errors) for k in range(3)]
        for thread in replaying:
            thread.join(10)
        replayed.set()
        stopping.join(10)
        assert not errors, errors
        assert not stopping.is_alive() and not any(thread.is_alive() for thread in replaying)

    assert len(calls) == 3 + 1 + 15
    assert int(count.item()) == len(calls)   # each call wrote once: the stopped replay's write undone, no other
    assert float(total.item()) == sum(map(sum, calls))   # integers: exact in any order
    assert count._version == len(calls) and total._version == len(calls)   # as eager's counters
