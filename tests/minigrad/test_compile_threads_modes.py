"""mg.compile and other threads, and train/eval modes in a call's signature.

Threads: a capture counts only its own thread's seeds, draws and train/eval changes (as it counts its own
in-place changes, ``InplaceLog.thread_changes``), so another thread seeding, drawing or switching a module's
mode while a capture runs does not make the function run eagerly with a misleading CompileWarning. Each test
makes the interleaving deterministic: the captured function pauses mid-body (``pause()``) until the other thread
has done its part (``threading.Event`` both ways).

Modes: a call's signature holds the flags of the modules whose ``training`` the function's captures read or
set, not every module's, so an unrelated module's mode or a new module in eval mode (a validation or EMA copy
per epoch) captures nothing again, while a dropout captured in one mode is never replayed in the other.
"""

from __future__ import annotations

import copy
import functools
import threading
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F
from minigrad.compile import Compiled, CompileWarning


@pytest.fixture(autouse=True)
def _no_compile_warnings() -> Any:
    """Every CompileWarning here is a false alarm unless a test expects it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        yield


@pytest.fixture
def captures(monkeypatch: pytest.MonkeyPatch) -> list:
    """The captures made (one entry per call of Compiled._capture)."""
    made: list = []
    original = Compiled._capture

    def counting(self: Compiled, *args: Any) -> Any:
        made.append(args[0])
        return original(self, *args)

    monkeypatch.setattr(Compiled, "_capture", counting)
    return made


def _pause(armed: threading.Event, paused: threading.Event, resumed: threading.Event) -> None:
    if armed.is_set():   # once: a later call (a check run) goes straight on
        armed.clear()
        paused.set()
        assert resumed.wait(10), "the other thread did not finish"


class _OtherThread:
    """``action`` in another thread while the captured function is paused: ``fn`` calls ``self.pause()``
    mid-body; the first call after arming (at once, unless ``armed=False``; later ``arm()``) waits there until
    the thread has run ``action``. A partial of a module-level function, so the capture sees no Python state of
    the pause itself."""

    def __init__(self, action: Callable[[], Any], armed: bool = True) -> None:
        self.armed, self.paused, self.resumed = threading.Event(), threading.Event(), threading.Event()
        self.errors: list = []
        self.pause = functools.partial(_pause, self.armed, self.paused, self.resumed)
        if armed:
            self.arm()

        def run() -> None:
            try:
                assert self.paused.wait(10), "the capture never paused"
                action()
            except BaseException as error:  # noqa: BLE001 - re-raised by join()
                self.errors.append(error)
            finally:
                self.resumed.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def arm(self) -> None:
        self.armed.set()

    def join(self) -> None:
        self.thread.join(10)
        assert not self.thread.is_alive() and self.paused.is_set()
        if self.errors:
            raise self.errors[0]


def _only_program(compiled: Compiled) -> Any:
    assert not compiled.eager and len(compiled.programs) == 1
    return next(iter(compiled.programs.values()))


# --- threads ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["seed", "draw", "set_rng_state"])
def test_another_threads_seed_or_draw_during_a_capture_is_not_the_functions(action: str) -> None:
    state = mg.get_rng_state()
    other = _OtherThread({"seed": lambda: mg.manual_seed(7), "draw": lambda: mg.randn(100),
                          "set_rng_state": lambda: mg.set_rng_state(state)}[action])
    pause = other.pause   # a local: fn reads no attribute of other (its Events' flags)

    def fn(a: mg.Tensor) -> mg.Tensor:
        y = a * 2.0
        pause()
        return y.tanh()

    mg.randn(5)   # the state is not the one set_rng_state puts back
    compiled = mg.compile(fn)
    x = mg.randn(3, 4)
    outs = [compiled(x).numpy() for _ in range(3)]
    other.join()
    program = _only_program(compiled)
    assert program.random is None and program.verified   # it does not draw: no check run, nothing to rewind
    for out in outs:
        np.testing.assert_array_equal(out, np.tanh(x.numpy() * 2.0))


def test_a_function_that_draws_keeps_its_program_when_another_thread_seeds_meanwhile() -> None:
    other = _OtherThread(lambda: mg.manual_seed(7))
    pause = other.pause   # a local: fn reads no attribute of other (its Events' flags)

    def fn(a: mg.Tensor) -> mg.Tensor:
        pause()
        return F.dropout(a, 0.5, training=True)

    compiled = mg.compile(fn)
    x = mg.ones(4, 6)
    compiled(x)
    other.join()
    for seed in (1, 2, 3):   # the check run, then replays: each draws what eager draws
        mg.manual_seed(seed)
        replayed = compiled(x).numpy()
        mg.manual_seed(seed)
        np.testing.assert_array_equal(replayed, fn(x).numpy())
    assert _only_program(compiled).random is not None


def test_a_generator_reseeded_by_another_thread_during_the_check_run_is_not_seeded_inside() -> None:
    generator = mg.Generator().manual_seed(0)
    other = _OtherThread(lambda: generator.manual_seed(5), armed=False)   # the second call pauses: the check run
    pause = other.pause   # a local: fn reads no attribute of other (its Events' flags)

    def fn(a: mg.Tensor) -> mg.Tensor:
        noise = mg.randn(3, 4, generator=generator)
        pause()
        return a + noise

    compiled = mg.compile(fn)
    x = mg.zeros(3, 4)
    compiled(x)
    other.arm()
    compiled(x)   # the check run: the other thread reseeds the generator while it runs
    other.join()
    _only_program(compiled)
    for seed in (8, 9):
        generator.manual_seed(seed)
        replayed = compiled(x).numpy()
        generator.manual_seed(seed)
        np.testing.assert_array_equal(replayed, fn(x).numpy())


@pytest.mark.parametrize("action", ["eval", "train", "deepcopy_eval", "new_module_eval"])
def test_another_threads_mode_changes_during_a_capture_are_not_the_functions(action: str) -> None:
    unrelated = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    if action == "train":
        unrelated.eval()
    other = _OtherThread({"eval": unrelated.eval, "train": unrelated.train,
                          "deepcopy_eval": lambda: copy.deepcopy(unrelated).eval(),
                          "new_module_eval": lambda: nn.Dropout(0.1).eval()}[action])
    pause = other.pause   # a local: fn reads no attribute of other (its Events' flags)
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))

    def fn(a: mg.Tensor) -> mg.Tensor:
        y = model(a)
        pause()
        return y * 2.0

    compiled = mg.compile(fn)
    x = mg.randn(2, 4)
    for seed in (1, 2, 3):
        mg.manual_seed(seed)
        replayed = compiled(x).numpy()
        mg.manual_seed(seed)
        np.testing.assert_array_equal(replayed, fn(x).numpy())
    other.join()
    _only_program(compiled)


@pytest.mark.parametrize("before_the_read", [True, False])
def test_the_functions_own_module_switched_by_another_thread_mid_capture_is_never_replayed_wrong(
        before_the_read: bool, captures: list) -> None:
    """The capture keeps the flag it read (switched after the read), or keeps nothing (switched between the
    signature and the read: it ran with two modes); either way each mode replays its own program."""
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    other = _OtherThread(model.eval, armed=False)
    pause = other.pause   # a local: fn reads no attribute of other (its Events' flags)
    small, large = mg.ones(2, 4), mg.ones(5, 4)

    def fn(a: mg.Tensor) -> mg.Tensor:
        if before_the_read:
            pause()
        y = model(a)
        pause()
        return y

    compiled = mg.compile(fn)
    compiled(small)   # captured without a pause: the dropout's flag is in the signature from then on
    other.arm()
    first = compiled(large)   # the other thread switches the model to eval mode in the middle
    other.join()
    assert not model.training
    if before_the_read:   # the call ran in eval mode, as eager would have; its capture was not kept
        np.testing.assert_array_equal(first.numpy(), model(large).numpy())
    made = []
    for _ in range(2):
        for mode in (False, True):
            model.train(mode)
            for seed in (4, 5, 6):
                mg.manual_seed(seed)
                replayed = compiled(large).numpy()
                mg.manual_seed(seed)
                np.testing.assert_array_equal(replayed, fn(large).numpy())
        made.append(len(captures))
    assert made[0] == made[1]   # each mode replays its own program
    assert not compiled.eager and len(compiled.programs) == 3   # small in training mode, large in both


# --- modes in the signature ----------------------------------------------------------------------------------------

def test_unrelated_modules_and_copies_in_eval_mode_capture_nothing_again(captures: list) -> None:
    """An epoch's validation or EMA copy (copy.deepcopy(model).eval(), AveragedModel) and another model's mode
    switches leave the compiled training step's signature alone: one capture, then replays, past the limits."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 2))
    step = mg.compile(lambda a: model(a).sum())
    other = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
    x = mg.randn(3, 4)
    for _ in range(4):   # a capture and the check runs (VERIFY_CALLS) that follow it
        step(x).backward()
    made = len(captures)
    for epoch in range(12):
        copy.deepcopy(model).eval()
        nn.optim.swa_utils.AveragedModel(model).eval()
        other.train(epoch % 2 == 0)
        step(x).backward()
    assert len(captures) == made and len(step.programs) == 1 and not step.eager


def _dropout_after_linear(a: mg.Tensor, module: nn.Module) -> mg.Tensor:
    return F.dropout(module.fc(a), 0.5, training=module.training)


class _FunctionalDropout(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 6)

    def forward(self, a: mg.Tensor) -> mg.Tensor:
        return _dropout_after_linear(a, self)


def _cases() -> dict:
    """name -> (function to compile, the module whose mode is switched)."""
    mg.manual_seed(1)
    nested = nn.Sequential(nn.Linear(4, 6), nn.Sequential(nn.Tanh(), nn.Dropout(0.5)))
    functional = _FunctionalDropout()
    flag_only = nn.Module()   # read, never called
    lstm = nn.LSTM(4, 3, num_layers=2, dropout=0.5)
    return {
        "container": (nested, nested),
        "functional": (functional, functional),
        "flag_read_without_a_call": (lambda a: F.dropout(a * 1.0, 0.5, training=flag_only.training), flag_only),
        "lstm_between_layers": (lambda a: lstm(a.reshape(2, 2, 4))[0], lstm),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_a_capture_in_one_mode_is_never_replayed_in_the_other(case: str) -> None:
    fn, switched = _cases()[case]
    compiled = mg.compile(fn)
    x = mg.ones(4, 4)
    for mode in (True, False, True, False, True):
        switched.train(mode)
        for seed in (2, 3, 4):
            mg.manual_seed(seed)
            replayed = compiled(x).numpy()
            mg.manual_seed(seed)
            np.testing.assert_array_equal(replayed, fn(x).numpy(), err_msg=f"training={mode}")
        if not mode:
            assert (replayed != 0).all()   # nothing dropped in eval mode
    assert len(compiled.programs) == 2 and not compiled.eager


def test_a_module_met_on_a_later_path_is_guarded_and_the_earlier_captures_still_replay(captures: list) -> None:
    drop = nn.Dropout(0.5)

    def fn(a: mg.Tensor, use: bool) -> mg.Tensor:
        return drop(a) if use else a * 3.0

    compiled = mg.compile(fn)
    x = mg.ones(3, 5)
    for _ in range(3):   # a capture and its check runs (VERIFY_CALLS)
        compiled(x, False)    # reads no module: toggling drop changes nothing for it
    drop.eval()
    np.testing.assert_array_equal(compiled(x, True).numpy(), x.numpy())
    np.testing.assert_array_equal(compiled(x, True).numpy(), x.numpy())
    made = len(captures)
    for _ in range(2):
        np.testing.assert_array_equal(compiled(x, False).numpy(), 3.0 * x.numpy())
    drop.train()
    np.testing.assert_array_equal(compiled(x, False).numpy(), 3.0 * x.numpy())
    assert len(captures) == made   # the first signature kept its program through the modes' changes
    for seed in (5, 6):
        mg.manual_seed(seed)
        replayed = compiled(x, True).numpy()
        mg.manual_seed(seed)
        np.testing.assert_array_equal(replayed, fn(x, True).numpy())
    assert (replayed == 0).any()


def test_a_mode_set_inside_the_function_and_put_back_replays_one_left_changed_runs_eagerly() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    x = mg.ones(2, 3)

    def evaluate(a: mg.Tensor) -> mg.Tensor:
        was = model.training
        model.eval()
        y = model(a)
        model.train(was)
        return y

    compiled = mg.compile(evaluate)
    for mode in (True, False, True):
        model.train(mode)
        for _ in range(3):
            np.testing.assert_array_equal(compiled(x).numpy(), evaluate(x).numpy())
        assert model.training is mode
    assert not compiled.eager

    left = mg.compile(lambda a: model.eval()(a))
    model.train()
    with pytest.warns(CompileWarning, match="leaves a module's train/eval mode changed"):
        left(x)
    assert not model.training
    np.testing.assert_array_equal(left(x).numpy(), model(x).numpy())
