"""PyTorch's ``torch.profiler``: :class:`profile` with ``schedule``, ``on_trace_ready`` and ``step()``.

    with mg.profiler.profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with mg.profiler.record_function("model_inference"):
            model(x)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

The recording itself is :mod:`minigrad.autograd.profiler`'s (each op call and each backward node one
event, named as PyTorch names them). This module adds PyTorch's cycle of steps: the ``schedule``
says, for each ``step()``, whether the profiler waits, warms up or records, and ``on_trace_ready``
runs at the end of each recorded cycle, with ``ProfilerStep#N`` ranges around the steps (shown as
``ProfilerStep*`` in ``key_averages``), as PyTorch's: same state machine, same warnings.
"""

from __future__ import annotations

import enum
import os
import socket
import time
import warnings
from typing import Any, Callable, Iterable

from .autograd import profiler as _legacy
from .autograd.profiler import EventList, record_function

__all__ = ["ProfilerAction", "ProfilerActivity", "profile", "record_function", "schedule", "supported_activities",
           "tensorboard_trace_handler"]


class ProfilerActivity(enum.Enum):
    """What a profiler may record, as PyTorch's: minigrad times ops on the host (``CPU``); ``CUDA`` is accepted
    (a CuPy op's time is then its launch on the host; device times are 0)."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    """What the profiler does at a step (a ``schedule``'s answer)."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities() -> set:
    """The activities a profiler records here: CPU, and CUDA where CuPy sees a GPU."""
    from . import cuda
    return {ProfilerActivity.CPU, ProfilerActivity.CUDA} if cuda.is_available() else {ProfilerActivity.CPU}


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """PyTorch's schedule: skip ``skip_first`` steps, then cycles of ``wait`` steps (NONE), ``warmup`` (WARMUP) and
    ``active`` (RECORD, the last one RECORD_AND_SAVE); ``repeat`` cycles (0: until the end)."""

    def schedule_fn(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        num_steps = wait + warmup + active
        if repeat > 0 and step / num_steps >= repeat:
            return ProfilerAction.NONE
        mod_step = step % num_steps
        if mod_step < wait:
            return ProfilerAction.NONE
        if mod_step < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if mod_step < num_steps - 1 else ProfilerAction.RECORD_AND_SAVE

    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} (need >= 0), "
            f"active={active} (need > 0), repeat={repeat} (need >= 0), skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)
    return schedule_fn


def _default_schedule_fn(_: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None, use_gzip: bool = False,
                              use_python_export: bool = False) -> Callable[[profile], None]:
    """An ``on_trace_ready`` that writes each cycle's Chrome trace to ``dir_name`` as
    ``{worker_name}.{time_ns}.pt.trace.json`` (``worker_name``: ``hostname_pid`` by default), as PyTorch's."""

    def handler_fn(prof: profile) -> None:
        nonlocal worker_name
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except Exception as e:
                raise RuntimeError("Can't create directory: " + dir_name) from e
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        file_name = f"{worker_name}.{time.time_ns()}.pt.trace.json"
        path = os.path.join(dir_name, file_name)
        if use_gzip:
            import gzip
            import tempfile
            with tempfile.TemporaryDirectory() as tmp:
                plain = os.path.join(tmp, file_name)
                prof.export_chrome_trace(plain)
                with open(plain, "rb") as f, gzip.open(path + ".gz", "wb") as out:
                    out.write(f.read())
            return
        prof.export_chrome_trace(path)

    return handler_fn


class profile:
    """PyTorch's ``torch.profiler.profile``: a context manager (or ``start()``/``stop()``) that records ops.

    ``schedule(step)`` gives the action at each step (default: record every step); ``step()`` marks the end
    of one step; ``on_trace_ready(prof)`` runs when a cycle's recording ends (RECORD_AND_SAVE, and at
    ``stop()`` while recording). ``key_averages()``, ``events()``, ``export_chrome_trace(path)`` give the
    last cycle's events (all cycles' with ``acc_events=True``). ``profile_memory``, ``with_stack``,
    ``with_flops`` and ``with_modules`` are accepted and record nothing more.
    """

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None, on_trace_ready: Callable | None = None,
                 record_shapes: bool = False, profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = False, experimental_config: Any = None,
                 execution_trace_observer: Any = None, acc_events: bool = False, use_cuda: bool | None = None,
                 custom_trace_id_callback: Callable | None = None,
                 post_processing_timeout_s: float | None = None) -> None:
        self.activities = set(activities) if activities is not None else supported_activities()
        if use_cuda is not None:
            warnings.warn("`use_cuda` is deprecated, use `activities` argument instead", FutureWarning, stacklevel=2)
            if use_cuda:
                self.activities.add(ProfilerActivity.CUDA)
        if not self.activities:
            raise AssertionError("No valid profiler activities found")
        self.record_shapes, self.profile_memory, self.with_stack = record_shapes, profile_memory, with_stack
        self.with_flops, self.with_modules, self.acc_events = with_flops, with_modules, acc_events
        self.record_steps = schedule is not None
        self.schedule = schedule if schedule is not None else _default_schedule_fn
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.step_rec_fn: record_function | None = None
        self.profiler: _legacy.profile | None = None
        self.current_action = self.schedule(self.step_num)
        A = ProfilerAction   # noqa: N806
        prepare, start, stop, ready = self.prepare_trace, self.start_trace, self.stop_trace, self._trace_ready

        def warn(message: str) -> Callable[[], None]:
            return lambda: warnings.warn(message, stacklevel=4)
        self.action_map: dict = {
            (A.NONE, A.NONE): [], (A.NONE, A.WARMUP): [prepare], (A.NONE, A.RECORD): [prepare, start],
            (A.NONE, A.RECORD_AND_SAVE): [prepare, start],
            (A.WARMUP, A.NONE): [warn("Incorrect schedule: WARMUP followed by NONE"), start, stop],
            (A.WARMUP, A.WARMUP): [], (A.WARMUP, A.RECORD): [start], (A.WARMUP, A.RECORD_AND_SAVE): [start],
            (A.RECORD, A.NONE): [warn("Incorrect schedule: RECORD followed by NONE"), stop],
            (A.RECORD, A.WARMUP): [warn("Incorrect schedule: RECORD followed by WARMUP"), stop],
            (A.RECORD, A.RECORD): [], (A.RECORD, A.RECORD_AND_SAVE): [],
            (A.RECORD_AND_SAVE, A.NONE): [stop, ready],
            (A.RECORD_AND_SAVE, A.WARMUP): [stop, ready, prepare],
            (A.RECORD_AND_SAVE, A.RECORD): [stop, ready, prepare, start],
            (A.RECORD_AND_SAVE, A.RECORD_AND_SAVE): [stop, ready, prepare, start],
            (A.WARMUP, None): [start, stop], (A.RECORD, None): [stop, ready], (A.RECORD_AND_SAVE, None): [stop, ready],
        }

    # --- the cycle -----------------------------------------------------------------------------------------------

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._transit_action(ProfilerAction.NONE, self.current_action)
        if self.record_steps:
            self.step_rec_fn = record_function("ProfilerStep#" + str(self.step_num))
            self.step_rec_fn.__enter__()

    def stop(self) -> None:
        if self.record_steps and self.step_rec_fn:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None
        self._transit_action(self.current_action, None)

    def step(self) -> None:
        """Signal that the next step starts: the schedule's action for it takes effect."""
        if self.record_steps and self.step_rec_fn:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None
        prev_action = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit_action(prev_action, self.current_action)
        if self.record_steps:
            self.step_rec_fn = record_function("ProfilerStep#" + str(self.step_num))
            self.step_rec_fn.__enter__()

    def _transit_action(self, prev_action: ProfilerAction, current_action: ProfilerAction | None) -> None:
        for action in self.action_map.get((prev_action, current_action), ()):
            action()

    def _trace_ready(self) -> None:
        if self.on_trace_ready:
            self.on_trace_ready(self)

    def prepare_trace(self) -> None:
        """A new cycle: a fresh recorder (the previous cycle's events are dropped unless ``acc_events``)."""
        if self.profiler is None or not self.acc_events:
            self.profiler = _legacy.profile(record_shapes=self.record_shapes, with_flops=self.with_flops,
                                            profile_memory=self.profile_memory, with_stack=self.with_stack,
                                            with_modules=self.with_modules, acc_events=self.acc_events,
                                            use_cuda=ProfilerActivity.CUDA in self.activities)

    def start_trace(self) -> None:
        if self.profiler is None:
            self.prepare_trace()
        self.profiler.__enter__()   # type: ignore[union-attr]

    def stop_trace(self) -> None:
        if self.profiler is not None:
            self.profiler.__exit__(None, None, None)

    # --- results -------------------------------------------------------------------------------------------------

    def _events(self) -> EventList:
        if self.profiler is None or self.profiler.function_events is None:
            return EventList()
        return self.profiler.function_events

    def events(self) -> EventList:
        """The recorded events (:class:`FunctionEvent`), of the last cycle (all with ``acc_events``)."""
        return self._events()

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events averaged per name (and input shapes with ``group_by_input_shape``): ``.table(...)`` prints
        them; each has ``key``, ``count``, ``cpu_time_total``, ``self_cpu_time_total``, ``cpu_time`` (µs)."""
        return self._events().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace JSON file (``chrome://tracing``, Perfetto, TensorBoard)."""
        self._events().export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        raise NotImplementedError("profile.export_stacks: minigrad's profiler records no stacks (with_stack is "
                                  "accepted and ignored); use key_averages().table() or export_chrome_trace(path)")

    def export_memory_timeline(self, path: str, device: str | None = None) -> None:
        raise NotImplementedError("profile.export_memory_timeline: minigrad's profiler records no memory "
                                  "(profile_memory is accepted and ignored)")
