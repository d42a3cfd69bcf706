"""Round 14 reliability fuzzing, threads and hostile files: the regressions the offline fuzzers found.

Threads: the recording state is per thread (DESIGN §3), also when threads share one context-manager object
(``NO_GRAD = mg.no_grad()`` at module level, entered by every worker): a thread's exit restores its own state,
never the state another thread entered the same object with.
"""

from __future__ import annotations

import threading

import pytest

import minigrad as mg
from tests.helpers import in_threads


def _two_threads_share(switch: object, outer_a: object, outer_b: object, read: object) -> tuple:
    """Thread A enters ``switch`` inside ``outer_a``, then B inside ``outer_b``; A exits first, then B (the order
    that made A restore B's state). Returns (A inside, A after, B inside, B after) as ``read()`` sees them."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a() -> tuple:
        try:
            with outer_a:
                switch.__enter__()
                a_in.set()
                assert b_in.wait(30)
                inside = read()
                switch.__exit__(None, None, None)
                return inside, read()
        finally:
            a_in.set()
            a_out.set()   # a failure here must not leave B waiting

    def b() -> tuple:
        try:
            assert a_in.wait(30)
            with outer_b:
                switch.__enter__()
                b_in.set()
                assert a_out.wait(30)
                inside = read()
                switch.__exit__(None, None, None)
                return inside, read()
        finally:
            b_in.set()

    (a_inside, a_after), (b_inside, b_after) = in_threads(a, b)
    return a_inside, a_after, b_inside, b_after


def test_one_enable_grad_object_entered_by_two_threads_restores_each_threads_mode() -> None:
    shared = mg.enable_grad()
    result = _two_threads_share(shared, mg.no_grad(), mg.enable_grad(), mg.is_grad_enabled)
    assert result == (True, False, True, True)   # A leaves back in its no_grad, B with recording on
    assert mg.is_grad_enabled()


def test_one_no_grad_object_entered_by_two_threads_restores_each_threads_mode() -> None:
    shared = mg.no_grad()
    result = _two_threads_share(shared, mg.enable_grad(), mg.no_grad(), mg.is_grad_enabled)
    assert result == (False, True, False, False)


def test_one_name_scope_object_entered_by_two_threads_keeps_each_threads_scope() -> None:
    shared = mg.name_scope("shared")
    result = _two_threads_share(shared, mg.name_scope("x"), mg.name_scope("y"), mg.current_scope)
    assert result == ("x/shared", "x", "y/shared", "y")
    assert mg.current_scope() == ""


def test_detect_anomaly_object_shared_by_threads() -> None:
    shared = mg.detect_anomaly()
    result = _two_threads_share(shared, mg.detect_anomaly(False), mg.detect_anomaly(), mg.is_anomaly_enabled)
    assert result == (True, False, True, True)
    assert not mg.is_anomaly_enabled()


def test_a_switch_entered_in_one_thread_and_left_in_another_still_exits() -> None:
    def body() -> object:   # a generator resumed by another thread leaves its block there
        with mg.name_scope("gen"):
            yield mg.current_scope()
        yield mg.current_scope()

    steps = body()
    assert next(steps) == "gen"
    assert in_threads(lambda: next(steps)) == [""]
    mg.recording.set_state("scope", "")   # the block set this thread's scope; put it back


@pytest.mark.xfail(strict=True, raises=ValueError, reason="minigrad/ops/inference.py keeps its ContextVar tokens in "
                   "one list per object: another thread's token is reset here (ValueError: created in a different "
                   "Context); fix: keep them per thread, as recording._Switch does, and compute extras.py's "
                   "inference_mode(False) value in _entry_value, not in self.value")
def test_one_inference_mode_object_entered_by_two_threads() -> None:
    shared = mg.inference_mode()
    result = _two_threads_share(shared, mg.enable_grad(), mg.enable_grad(),
                                lambda: (mg.is_grad_enabled(), mg.is_inference_mode_enabled()))
    assert result == ((False, True), (True, False), (False, True), (True, False))
