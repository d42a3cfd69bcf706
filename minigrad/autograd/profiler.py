"""PyTorch's ``torch.autograd.profiler``: time every op call, forward and backward, and sum the times per op.

While a profiler records, the engine hands each op call to it (:data:`engine.PROFILE_HOOK`): the
call becomes a :class:`FunctionEvent` with its start and end, nested in the events open on its
thread (a :class:`record_function` range, an op whose backward runs inside another). Each node's
backward in a backward walk becomes two nested events named as PyTorch names them,
``autograd::engine::evaluate_function: MulBackward0`` around ``MulBackward0``. With no profiler the
engine pays one ``is not None`` test per op call and one test of a local per backward node.

Rows are named as PyTorch's: ``aten::`` and PyTorch's op name (``aten::mul``, ``aten::matmul``,
``aten::cat`` for minigrad's ``concat``, ``aten::linalg_inv``). minigrad runs one op where
PyTorch's dispatcher may run several (``nn.Linear``'s ``aten::linear`` calls ``aten::t`` and
``aten::addmm``; minigrad records ``aten::transpose``, ``aten::matmul`` and ``aten::add``), so the
rows are minigrad's ops under PyTorch's names, not a copy of PyTorch's table. A call of an
``mg.compile``d function that replays its program is one row, ``CompiledFunction`` (its backward
``CompiledFunctionBackward``), as PyTorch's compiled regions. Times are host times in microseconds
(``cpu_time_total`` …); device columns are 0 (a CuPy op's host time is its launch).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from typing import Any, Callable, Iterable

from ..tensor import Tensor
from . import engine
from .engine import Function
from .names import named

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "emit_itt", "emit_nvtx", "profile", "record_function"]

_now = time.perf_counter_ns

# minigrad op names that PyTorch spells otherwise (the rest: "aten::" and the name, "." as "_")
_ATEN = {"concat": "cat", "clip": "clamp", "astype": "to", "to_device": "to", "getitem": "index",
         "setitem": "index_put_", "broadcast_to": "expand"}
_NOT_ATEN = {"compiled": "CompiledFunction"}
_BACKWARD = {"compiled": "CompiledFunctionBackward"}
_row_names: dict = {}


def _forward_row(name: str) -> str:
    """The row of a forward op call: ``"mul"`` → ``"aten::mul"``, as PyTorch's profiler names it."""
    row = _row_names.get(name)
    if row is None:
        row = _NOT_ATEN.get(name) or "aten::" + _ATEN.get(name, name.replace(".", "_"))
        _row_names[str(name)] = row
    return row


def _shapes(inputs: Iterable[Any]) -> list:
    """PyTorch's ``input_shapes``: a list of each Tensor input's shape, ``[]`` for any other input."""
    return [list(x.shape) if isinstance(x, Tensor) else [] for x in inputs]


def _format_time(time_us: float) -> str:
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def _format_share(time_us: float, total_us: float) -> str:
    return "NaN" if total_us == 0 else f"{time_us * 100.0 / total_us:.2f}%"


class _Interval:
    """``event.time_range`` as PyTorch's: ``start`` and ``end`` in microseconds, ``elapsed_us()``."""

    __slots__ = ("start", "end")

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end

    def elapsed_us(self) -> float:
        return self.end - self.start


class _Times:
    """The derived times and their formatted strings, shared by events and averages (all in microseconds)."""

    cpu_time_total: float
    self_cpu_time_total: float
    count: int
    cuda_time_total = self_cuda_time_total = device_time_total = self_device_time_total = 0.0
    cpu_memory_usage = self_cpu_memory_usage = cuda_memory_usage = self_cuda_memory_usage = 0
    device_memory_usage = self_device_memory_usage = 0
    flops = 0
    is_async = False
    is_legacy = False

    @property
    def cpu_time(self) -> float:
        """Average CPU time per call (µs)."""
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    @property
    def cuda_time(self) -> float:
        return 0.0

    device_time = cuda_time

    @property
    def cpu_time_str(self) -> str:
        return _format_time(self.cpu_time)

    @property
    def cpu_time_total_str(self) -> str:
        return _format_time(self.cpu_time_total)

    @property
    def self_cpu_time_total_str(self) -> str:
        return _format_time(self.self_cpu_time_total)


class FunctionEvent(_Times):
    """One recorded range: an op call, a backward node, or a :class:`record_function` block.

    ``name``/``key``; ``time_range`` (µs); ``cpu_time_total`` (µs, children included),
    ``self_cpu_time_total`` (µs, children excluded); ``cpu_children``/``cpu_parent``: the nesting on
    its thread; ``input_shapes`` (with ``record_shapes``); ``is_user_annotation`` for a
    :class:`record_function` range.
    """

    count = 1

    def __init__(self, id: int, name: str, thread: int, input_shapes: list, is_user_annotation: bool = False) -> None:
        self.id, self.name, self.thread = id, name, thread
        self.input_shapes = input_shapes
        self.is_user_annotation = is_user_annotation
        self.cpu_children: list[FunctionEvent] = []
        self.cpu_parent: FunctionEvent | None = None
        self.start_ns = self.end_ns = 0
        self.stack: list = []
        self.scope = 0
        self.node_id = -1
        self.device_type = "CPU"

    @property
    def key(self) -> str:
        return self.name

    @property
    def trace_name(self) -> str:
        return self.name

    @property
    def time_range(self) -> _Interval:
        return _Interval(self.start_ns / 1000.0, self.end_ns / 1000.0)

    @property
    def cpu_time_total(self) -> float:   # type: ignore[override]
        return (self.end_ns - self.start_ns) / 1000.0

    @property
    def self_cpu_time_total(self) -> float:   # type: ignore[override]
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_str} "
                f"cpu_children={[child.id for child in self.cpu_children]} input_shapes={self.input_shapes}>")


class FunctionEventAvg(_Times):
    """The events of one key summed: ``count``, ``cpu_time_total``, ``self_cpu_time_total`` (µs), ``cpu_time``
    (the average per call)."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes: list | None = None
        self.is_user_annotation = False
        self.cpu_parent: FunctionEvent | None = None
        self.node_id = 0
        self.stack: list = []
        self.scope = 0

    def add(self, other: FunctionEvent | FunctionEventAvg) -> FunctionEventAvg:
        if self.key is None:
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.is_user_annotation = other.is_user_annotation
            self.cpu_parent = other.cpu_parent
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        return self

    __iadd__ = add

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} input_shapes={self.input_shapes}>")


class EventList(list):
    """A list of events (:class:`FunctionEvent` or :class:`FunctionEventAvg`), as PyTorch's: ``table()``,
    ``key_averages()``, ``export_chrome_trace()``, ``total_average()``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("use_device", None), kwargs.pop("profile_memory", None), kwargs.pop("with_flops", None)
        super().__init__(*args, **kwargs)

    @property
    def self_cpu_time_total(self) -> float:
        return sum(event.self_cpu_time_total for event in self)

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """The events as PyTorch's text table, sorted by the attribute ``sort_by`` (largest first):
        ``"cpu_time_total"``, ``"self_cpu_time_total"``, ``"cpu_time"``, ``"count"``, ``"cuda_time_total"`` …"""
        return _build_table(self, sort_by, row_limit, max_name_column_width, max_shapes_column_width, header,
                            top_level_events_only, time_unit)

    def key_averages(self, group_by_input_shapes: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """One :class:`FunctionEventAvg` per key (and per input shapes with ``group_by_input_shapes``), in the
        order the keys first occur; ``ProfilerStep#N`` ranges average as ``ProfilerStep*``, as PyTorch's."""
        averages: dict = {}
        for event in self:
            name = "ProfilerStep*" if event.key.startswith("ProfilerStep#") else event.key
            key = (name, str(event.input_shapes)) if group_by_input_shapes else name
            average = averages.get(key)
            if average is None:
                average = averages[key] = FunctionEventAvg()
                average.key = name
                average.input_shapes = event.input_shapes
                average.is_user_annotation = event.is_user_annotation
                average.cpu_parent = event.cpu_parent
            average.add(event)
        return EventList(averages.values())

    def total_average(self) -> FunctionEventAvg:
        """All events summed into one :class:`FunctionEventAvg` (key ``"Total"``)."""
        total = FunctionEventAvg()
        for event in self:
            total.add(event)
            total.key = None
        total.key = "Total"
        return total

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (JSON; open in ``chrome://tracing`` or Perfetto): one complete
        event (``"ph": "X"``) per range, ``ts``/``dur`` in microseconds."""
        pid = os.getpid()
        trace = []
        for event in self:
            if not isinstance(event, FunctionEvent):
                raise TypeError("export_chrome_trace: this EventList holds averages (key_averages()); export the "
                                "profiler's events instead (prof.export_chrome_trace(path))")
            args: dict = {"External id": event.id}
            if event.input_shapes:
                args["Input Dims"] = event.input_shapes
            trace.append({"ph": "X", "cat": "user_annotation" if event.is_user_annotation else "cpu_op",
                          "name": event.name, "pid": pid, "tid": event.thread, "ts": event.start_ns / 1000.0,
                          "dur": (event.end_ns - event.start_ns) / 1000.0, "args": args})
        with open(path, "w") as f:
            json.dump({"schemaVersion": 1, "displayTimeUnit": "ms", "traceName": str(path),
                       "traceEvents": trace}, f)


def _build_table(events: EventList, sort_by: str | None, row_limit: int, max_name_column_width: int | None,
                 max_shapes_column_width: int | None, header: str | None, top_level_events_only: bool,
                 time_unit: str | None) -> str:
    """PyTorch's ``_build_table`` for the CPU columns (and ``Input Shapes`` when shapes were recorded)."""
    if len(events) == 0:
        return ""
    if sort_by is not None:
        attribute = sort_by.replace("cuda", "device").replace("xpu", "device")
        events = EventList(sorted(events, key=lambda event: getattr(event, attribute), reverse=True))
    has_shapes = any(event.input_shapes for event in events)
    name_width = max(len(event.key) for event in events) + 4
    if max_name_column_width is not None:
        name_width = min(name_width, max_name_column_width)
    shapes_width = max(len(str(event.input_shapes)) for event in events) + 4
    if max_shapes_column_width is not None:
        shapes_width = min(shapes_width, max_shapes_column_width)
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
    widths = [name_width] + [12] * 6
    if has_shapes:
        headers.append("Input Shapes")
        widths.append(shapes_width)
    row_format = "".join("{:>" + str(width) + "}  " for width in widths)
    separator = "".join("-" * width + "  " for width in widths)
    line_length = sum(widths) + 2 * (len(widths) - 1)

    def timed(value: float) -> str:
        if time_unit == "s":
            return f"{value / 1e6:.3f}s"
        if time_unit == "ms":
            return f"{value / 1e3:.3f}ms"
        if time_unit == "us":
            return f"{value:.3f}us"
        return _format_time(value)

    total = sum(event.self_cpu_time_total for event in events)
    lines = []
    if header is not None:
        lines += ["=" * line_length, header]
    if top_level_events_only:
        lines += ["=" * line_length, "This report only display top-level ops statistics"]
    lines += [separator, row_format.format(*headers), separator]
    shown = 0
    for event in events:
        if shown == row_limit:
            break
        if top_level_events_only and event.cpu_parent is not None:
            continue
        shown += 1
        name = event.key
        if max_name_column_width is not None and len(name) >= max_name_column_width - 3:
            name = name[:max_name_column_width - 3] + "..."
        row = [name, _format_share(event.self_cpu_time_total, total), timed(event.self_cpu_time_total),
               _format_share(event.cpu_time_total, total), timed(event.cpu_time_total), timed(event.cpu_time),
               event.count]
        if has_shapes:
            shapes = str(event.input_shapes)
            if max_shapes_column_width is not None and len(shapes) >= max_shapes_column_width - 3:
                shapes = shapes[:max_shapes_column_width - 3] + "..."
            row.append(shapes)
        lines.append(row_format.format(*row))
    lines += [separator, f"Self CPU time total: {timed(total)}"]
    return "\n".join(lines) + "\n"


# --- recording ---------------------------------------------------------------------------------------------------

class _Recorder:
    """The events of one recording: what the engine calls while it is :data:`engine.PROFILE_HOOK`.

    ``recorder(node, inputs)`` runs one op call timed; ``begin_backward(node)``/``end_backward(token)``
    time one node of a backward walk; :meth:`begin`/:meth:`end` any range (``record_function``). Each
    thread keeps its own stack of open events, so events nest per thread.
    """

    def __init__(self, record_shapes: bool) -> None:
        self.record_shapes = record_shapes
        self.events: list[FunctionEvent] = []
        self.local = threading.local()

    def _stack(self) -> list:
        stack = getattr(self.local, "stack", None)
        if stack is None:
            stack = self.local.stack = []
        return stack

    def begin(self, name: str, shapes: list, user: bool = False) -> FunctionEvent:
        stack = self._stack()
        event = FunctionEvent(len(self.events), name, threading.get_ident(), shapes, user)
        if stack:
            event.cpu_parent = stack[-1]
            stack[-1].cpu_children.append(event)
        stack.append(event)
        self.events.append(event)
        event.start_ns = _now()
        return event

    def end(self, event: FunctionEvent) -> None:
        end = _now()
        stack = self._stack()
        if event not in stack:   # begun on another thread, or already closed
            return
        while stack:   # events left open inside it (an op that raised) end with it
            top = stack.pop()
            top.end_ns = end
            if top is event:
                break

    def close(self) -> None:
        """End the events still open on this thread (a recording stopped inside a range)."""
        end = _now()
        for event in self._stack():
            event.end_ns = end
        self.local.stack = []
        for event in self.events:   # open on another thread
            if event.end_ns == 0:
                event.end_ns = end

    def __call__(self, node: Function, inputs: tuple) -> Any:
        """One op call, timed (the engine calls this instead of running ``node``)."""
        event = self.begin("", _shapes(inputs) if self.record_shapes else [])
        node.profiling = True   # Function.__call__ then runs the op itself
        try:
            return Function.__call__(node, *inputs)
        finally:
            node.__dict__.pop("profiling", None)
            event.name = _forward_row(node.name)
            self.end(event)

    def begin_backward(self, node: Function) -> FunctionEvent:
        """The two events of a node's backward, as PyTorch names them; returns the outer one."""
        name = _BACKWARD.get(node.name) or named(node).name()
        outer = self.begin("autograd::engine::evaluate_function: " + name, [])
        self.begin(name, [])
        return outer

    end_backward = end


_lock = threading.Lock()


def _start(recorder: _Recorder) -> None:
    with _lock:
        if engine.PROFILE_HOOK is not None:
            raise RuntimeError("profiler: another profiler is already recording; minigrad records with one "
                               "profiler at a time (end the other one first)")
        engine.PROFILE_HOOK = recorder


def _stop(recorder: _Recorder) -> None:
    with _lock:
        if engine.PROFILE_HOOK is recorder:
            engine.PROFILE_HOOK = None
    recorder.close()


def is_profiler_enabled() -> bool:
    """Whether a profiler is recording now."""
    return engine.PROFILE_HOOK is not None


# --- PyTorch's API -------------------------------------------------------------------------------------------------

class record_function:
    """A named range in the profile (``with record_function("forward"):`` or ``@record_function("step")``): one
    row of its own, whose ``cpu_time_total`` includes the ops run inside it (its ``cpu_children``). Costs
    nothing when no profiler records."""

    def __init__(self, name: str, args: str | None = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"record_function: name must be a str, got {type(name).__name__}")
        self.name, self.args = name, args
        self._event: FunctionEvent | None = None
        self._recorder: _Recorder | None = None

    def __enter__(self) -> record_function:
        recorder = engine.PROFILE_HOOK
        if recorder is not None:
            self._recorder = recorder
            self._event = recorder.begin(self.name, [], user=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._event is not None:
            self._recorder.end(self._event)   # type: ignore[union-attr]
            self._event = self._recorder = None

    def __call__(self, fn: Callable) -> Callable:
        """As a decorator: each call of ``fn`` is one range (a fresh one per call, so recursion nests)."""
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapper


class profile:
    """PyTorch's legacy ``torch.autograd.profiler.profile``: records the ops run inside its ``with`` block.

    After the block: ``function_events`` (an :class:`EventList`), ``key_averages()``, ``table()``,
    ``export_chrome_trace(path)``, ``total_average()``, ``self_cpu_time_total``; ``print(prof)`` prints the
    table. ``use_cuda``/``use_device`` are accepted (device times are 0); ``profile_memory``,
    ``with_stack``, ``with_flops`` and ``with_modules`` are accepted and record nothing more.
    """

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device: str | None = None,
                 record_shapes: bool = False, with_flops: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_modules: bool = False, use_kineto: bool = False,
                 use_cpu: bool = True, experimental_config: Any = None, acc_events: bool = False,
                 custom_trace_id_callback: Callable | None = None, post_processing_timeout_s: float | None = None,
                 activity_filters: Any = None) -> None:
        self.enabled = enabled
        self.use_cuda, self.use_device = use_cuda, use_device
        self.record_shapes = record_shapes
        self.with_flops, self.profile_memory, self.with_stack, self.with_modules = \
            with_flops, profile_memory, with_stack, with_modules
        self.acc_events = acc_events
        self.function_events: EventList | None = None
        self.entered = False
        self._recorder: _Recorder | None = None

    def __enter__(self) -> profile:
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._start_trace()
        return self

    def _start_trace(self) -> None:
        self._recorder = _Recorder(self.record_shapes)
        _start(self._recorder)

    def __exit__(self, *exc: Any) -> None:
        if not self.enabled or self._recorder is None:
            return
        _stop(self._recorder)
        events = EventList(self._recorder.events)
        if self.acc_events and self.function_events is not None:
            events = EventList(list(self.function_events) + list(events))
        self.function_events = events
        self._recorder = None
        self.entered = False

    def _check_finish(self) -> EventList:
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self.function_events

    def __repr__(self) -> str:
        return "<unfinished torch.autograd.profile>" if self.function_events is None else repr(self.function_events)

    def __str__(self) -> str:
        return "<unfinished torch.autograd.profile>" if self.function_events is None else self.table()

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """The events' table (see :meth:`EventList.table`)."""
        return self._check_finish().table(sort_by, row_limit, max_src_column_width, max_name_column_width,
                                          max_shapes_column_width, header, top_level_events_only, time_unit)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events averaged per key (see :meth:`EventList.key_averages`)."""
        return self._check_finish().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def total_average(self) -> FunctionEventAvg:
        return self._check_finish().total_average()

    def export_chrome_trace(self, path: str) -> None:
        self._check_finish().export_chrome_trace(path)

    @property
    def self_cpu_time_total(self) -> float:
        return self._check_finish().self_cpu_time_total


class emit_nvtx:
    """PyTorch's ``emit_nvtx`` (NVTX ranges for nvprof / Nsight): a no-op context manager on minigrad."""

    def __init__(self, enabled: bool = True, record_shapes: bool = False) -> None:
        self.enabled, self.record_shapes = enabled, record_shapes

    def __enter__(self) -> emit_nvtx:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class emit_itt(emit_nvtx):
    """PyTorch's ``emit_itt`` (Intel VTune ranges): a no-op context manager on minigrad."""
