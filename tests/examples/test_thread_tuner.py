"""``--threads auto``: the ThreadTuner runs each trial's candidates in turn and keeps the fastest."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from examples import common


@pytest.fixture
def blas_threads() -> Any:
    """Restore the BLAS thread counts a test changes."""
    before = {info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
    yield
    for count in set(before.values()):
        threadpool_limits(limits=count, user_api="blas")


def blas_counts() -> set:
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


class FakeClock:
    """perf_counter for the tuner: each step takes ``cost[count] * work`` seconds of made-up time."""

    def __init__(self, tuner: common.ThreadTuner, cost: dict) -> None:
        self.tuner, self.cost, self.now = tuner, cost, 0.0
        self.started = False

    def __call__(self) -> float:
        if self.started:   # the step's end: advance by its cost
            self.now += self.cost[self.tuner._current] * self.tuner._work
        self.started = not self.started
        return self.now


def run_steps(monkeypatch: Any, cost: dict, steps: int, cores: int = 4, **options: Any) -> tuple:
    monkeypatch.setattr(common.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    tuner = common.ThreadTuner("auto", **options)
    monkeypatch.setattr(common.time, "perf_counter", FakeClock(tuner, cost))
    used = []
    for step in range(steps):
        with tuner(work=1 + step % 3):   # work varies; the time per unit of work decides
            used.append(tuner._current)
    return tuner, used


def test_a_trial_takes_turns_and_the_fastest_count_runs_until_the_next(monkeypatch: Any, blas_threads: Any) -> None:
    cost = {1: 3.0, 2: 1.0, 4: 2.0}
    tuner, used = run_steps(monkeypatch, cost, 2 + 3 * 3 + 5 + 3 * 3 + 5, warmup=2, trial=3, period=5)
    assert tuner.candidates == [1, 2, 4]
    assert used[:2] == [4, 4]                                  # warming up with the largest count
    assert used[2:11] == [1, 2, 4] * 3                         # the trial: each count in turn
    assert used[11:16] == [2] * 5                              # the fastest per unit of work
    assert used[16:25] == [1, 2, 4] * 3 and used[25:] == [2] * 5
    assert tuner.steps_with == {1: 6, 2: 16, 4: 8}
    assert tuner.summary() == "auto: 2 threads for 16 steps, 4 threads for 8 steps, 1 thread for 6 steps"
    assert blas_counts() == {2}                               # and BLAS runs with it now


def test_the_choice_follows_the_machine_when_it_changes(monkeypatch: Any, blas_threads: Any) -> None:
    cost = {1: 1.0, 2: 0.5}
    monkeypatch.setattr(common.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    tuner = common.ThreadTuner("auto", warmup=0, trial=2, period=4)
    monkeypatch.setattr(common.time, "perf_counter", FakeClock(tuner, cost))
    used = []
    for step in range(16):
        if step == 8:
            cost[2] = 1.5   # the other core got busy
        with tuner(work=2.0):
            used.append(tuner._current)
    assert used == [1, 2, 1, 2, 2, 2, 2, 2, 1, 2, 1, 2, 1, 1, 1, 1]


def test_a_given_count_is_fixed_and_times_nothing(monkeypatch: Any, blas_threads: Any) -> None:
    tuner = common.ThreadTuner(1)
    assert not tuner.tuning and tuner.summary() == "1"
    for _ in range(30):
        with tuner(work=5):
            assert blas_counts() == {1}
    assert tuner.steps_with == {1: 30}


def test_one_core_means_nothing_to_tune(monkeypatch: Any) -> None:
    monkeypatch.setattr(common.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    tuner = common.ThreadTuner("auto")
    assert tuner.candidates == [1] and not tuner.tuning


def test_threads_option_takes_auto_only_where_a_tuner_runs() -> None:
    tuned = common.parser("x", None, epochs=1, tuned_threads=True)
    assert tuned.parse_args([]).threads == "auto" and tuned.parse_args(["--threads", "2"]).threads == 2
    plain = common.parser("x", None, epochs=1)
    assert plain.parse_args([]).threads == common.BLAS_THREADS
    for parser, bad in ((tuned, "0"), (tuned, "many"), (plain, "auto")):
        with pytest.raises(SystemExit):
            parser.parse_args(["--threads", bad])
    with pytest.raises(argparse.ArgumentTypeError, match="positive"):
        common.thread_count("-1")
