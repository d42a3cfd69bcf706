"""``mg.profiler`` / ``mg.autograd.profiler``, PyTorch's profilers: rows named as PyTorch's, one call counted per op
call, ``record_function`` ranges nesting the ops run inside them, the ``schedule``'s cycle and ``on_trace_ready``
as PyTorch's on the same steps, Chrome traces that load. Structure only: timing values are never compared."""

from __future__ import annotations

import glob
import json
import re
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import engine

SCHEDULES = [dict(wait=1, warmup=1, active=2, repeat=2, skip_first=1), dict(wait=0, warmup=1, active=1),
             dict(wait=2, warmup=0, active=3, repeat=1), dict(wait=1, warmup=2, active=1, skip_first=3,
                                                               skip_first_wait=1)]


@pytest.fixture(scope="module")
def torch() -> Any:
    """torch, its profiler started once: its first start initialises Kineto (~2 s, once per process), setup
    like ``import torch``."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]):
        torch.ones(1).exp()
    return torch


def _program(lib: Any, a: Any, b: Any) -> None:
    with lib.profiler.record_function("forward"):
        y = (a * b).tanh().sum()
    y.backward()


def _run(lib: Any, a: Any, b: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU], **kwargs) as prof:
            _program(lib, a, b)
    return prof


def _forward_children(prof: Any) -> Counter:
    forward = [e for e in prof.events() if e.name == "forward"]
    assert len(forward) == 1
    return Counter(child.name for child in forward[0].cpu_children)


def _backward_rows(prof: Any) -> Counter:
    return Counter(e.key for e in prof.key_averages() if "Backward" in e.key)


def test_rows_and_counts_as_torch(torch: Any) -> None:
    a, b = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    ours = _run(mg, mg.tensor(a, requires_grad=True), mg.tensor(b))
    theirs = _run(torch, torch.tensor(a, requires_grad=True), torch.tensor(b))
    assert _forward_children(ours) == _forward_children(theirs) == Counter(["aten::mul", "aten::tanh", "aten::sum"])
    assert _backward_rows(ours) == _backward_rows(theirs)   # MulBackward0 …, each inside its evaluate_function
    evaluate = next(e for e in ours.events() if e.name == "autograd::engine::evaluate_function: TanhBackward0")
    assert [child.name for child in evaluate.cpu_children] == ["TanhBackward0"]
    assert engine.PROFILE_HOOK is None   # off again: ops pay one test


def test_counts_follow_op_calls_and_averages() -> None:
    x = mg.randn(2, 2, requires_grad=True)
    with mg.profiler.profile() as prof:
        for _ in range(5):
            y = x * 2.0
        with mg.no_grad():
            (x + 1.0).exp()
    averages = {e.key: e for e in prof.key_averages()}
    assert averages["aten::mul"].count == 5 and averages["aten::add"].count == 1 and averages["aten::exp"].count == 1
    mul = averages["aten::mul"]
    assert mul.cpu_time_total >= mul.self_cpu_time_total >= 0
    assert mul.cpu_time == pytest.approx(mul.cpu_time_total / 5)
    assert all(e.cpu_time_total >= 0 for e in prof.events())
    assert y.requires_grad and y.grad_fn.name() == "MulBackward0"   # recording is unchanged under the profiler


def test_record_function_nests_and_decorates() -> None:
    x = mg.randn(3, requires_grad=True)

    @mg.profiler.record_function("block")
    def block(v: mg.Tensor) -> mg.Tensor:
        return v.sin()

    with mg.profiler.profile() as prof:
        with mg.profiler.record_function("outer"):
            with mg.autograd.profiler.record_function("inner"):
                z = x * x
            block(z)
            block(z)
        z.sum()
    events = prof.events()
    outer = next(e for e in events if e.name == "outer")
    assert [c.name for c in outer.cpu_children] == ["inner", "block", "block"]
    inner = outer.cpu_children[0]
    assert [c.name for c in inner.cpu_children] == ["aten::mul"] and inner.cpu_parent is outer
    assert all([c.name for c in e.cpu_children] == ["aten::sin"] for e in outer.cpu_children[1:])
    assert outer.is_user_annotation and outer.cpu_time_total >= sum(c.cpu_time_total for c in outer.cpu_children)
    total_sum = next(e for e in events if e.name == "aten::sum")
    assert total_sum.cpu_parent is None
    assert {e.key: e.count for e in prof.key_averages()}["block"] == 2
    with mg.profiler.record_function("no profiler"):   # free and harmless without a profiler
        x * 2.0
    assert block(x).shape == (3,)


def test_table_columns_sorting_and_shapes() -> None:
    x, w = mg.randn(4, 3, requires_grad=True), mg.randn(3, 2)
    with mg.profiler.profile(record_shapes=True) as prof:
        for _ in range(3):
            y = x @ w
        (x * 2.0).sum()
        y.sum().backward()
    table = prof.key_averages().table(sort_by="count", row_limit=2)
    header = table.splitlines()[1]
    for column in ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls",
                   "Input Shapes"]:
        assert column in header
    rows = table.splitlines()[3:-2]
    cells = re.split(r"\s{2,}", rows[0].strip())
    assert len(rows) == 2 and (cells[0], cells[6], cells[7]) == ("aten::matmul", "3", "[[4, 3], [3, 2]]")
    assert "[[4, 3], [3, 2]]" in rows[0]
    assert table.splitlines()[-1].startswith("Self CPU time total: ")
    by_shape = prof.key_averages(group_by_input_shape=True)
    sums = [e for e in by_shape if e.key == "aten::sum"]
    assert sorted(str(e.input_shapes) for e in sums) == ["[[4, 2]]", "[[4, 3]]"]
    for key in ["cpu_time_total", "self_cpu_time_total", "cpu_time", "cuda_time_total", "self_cuda_time_total"]:
        assert prof.key_averages().table(sort_by=key).count("\n") > 5
    no_shapes = mg.profiler.profile()
    with no_shapes:
        x * 2.0
    assert "Input Shapes" not in no_shapes.key_averages().table()


def test_schedule_matches_torch(torch: Any) -> None:
    for kwargs in SCHEDULES:
        with warnings.catch_warnings(record=True) as ours_warned:
            warnings.simplefilter("always")
            ours = mg.profiler.schedule(**kwargs)
        with warnings.catch_warnings(record=True) as theirs_warned:
            warnings.simplefilter("always")
            theirs = torch.profiler.schedule(**kwargs)
        assert [str(w.message) for w in ours_warned] == [str(w.message) for w in theirs_warned]
        assert [ours(i).name for i in range(16)] == [theirs(i).name for i in range(16)]
    with pytest.raises(AssertionError, match="Invalid profiler schedule"):
        mg.profiler.schedule(wait=0, warmup=0, active=0)


def _cycles(lib: Any, x: Any, steps: int, **kwargs: Any) -> list:
    fired = []

    def ready(prof: Any) -> None:
        fired.append((prof.step_num, sorted((e.key, e.count) for e in prof.key_averages())))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU],
                                  schedule=lib.profiler.schedule(**kwargs), on_trace_ready=ready) as prof:
            for _ in range(steps):
                x.exp()
                prof.step()
    return fired


def test_schedule_cycles_and_trace_ready_as_torch(torch: Any) -> None:
    for kwargs in SCHEDULES[:3]:
        ours = _cycles(mg, mg.ones(2), 11, **kwargs)
        theirs = _cycles(torch, torch.ones(2), 11, **kwargs)
        assert ours == theirs and ours   # the steps it fires at, ProfilerStep* and aten::exp counted per cycle


def test_no_schedule_records_every_step_without_step_rows() -> None:
    x = mg.ones(2)
    with mg.profiler.profile() as prof:
        for _ in range(3):
            x.exp()
            prof.step()
    assert [(e.key, e.count) for e in prof.key_averages()] == [("aten::exp", 3)]
    assert prof.step_num == 3


def test_chrome_trace_and_tensorboard_handler(tmp_path: Any) -> None:
    x = mg.randn(2, 2, requires_grad=True)
    with mg.profiler.profile(record_shapes=True) as prof:
        with mg.profiler.record_function("step"):
            (x * x).sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    names = [e["name"] for e in trace["traceEvents"]]
    assert {"step", "aten::mul", "aten::sum", "MulBackward0"} <= set(names)
    assert all(e["ph"] == "X" and e["dur"] >= 0 and "ts" in e and "tid" in e for e in trace["traceEvents"])
    assert next(e for e in trace["traceEvents"] if e["name"] == "aten::mul")["args"]["Input Dims"] == [[2, 2], [2, 2]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        handler = mg.profiler.tensorboard_trace_handler(str(tmp_path / "tb"), worker_name="worker")
        with mg.profiler.profile(schedule=mg.profiler.schedule(wait=0, warmup=0, active=1),
                                 on_trace_ready=handler) as prof:
            for _ in range(2):
                x.exp()
                prof.step()
    files = glob.glob(str(tmp_path / "tb" / "worker.*.pt.trace.json"))
    # as torch's: one file per cycle, and one more at the end (stop() while recording; nothing recorded there)
    assert len(files) == 3 and sum("aten::exp" in open(f).read() for f in files) == 2


def test_legacy_autograd_profiler() -> None:
    x = mg.randn(3, requires_grad=True)
    with mg.autograd.profiler.profile(use_cuda=False, record_shapes=True) as prof:
        assert mg.autograd.profiler.is_profiler_enabled()
        (x * 3.0).sum().backward()
    assert {"aten::mul", "aten::sum", "SumBackward0"} <= {e.key for e in prof.key_averages()}
    assert "aten::mul" in str(prof) and "aten::mul" in prof.table(sort_by="self_cpu_time_total")
    assert prof.total_average().count == len(prof.function_events)
    with mg.autograd.profiler.profile(enabled=False) as off:
        x * 2.0
    with pytest.raises(RuntimeError, match="didn't finish"):
        off.key_averages()
    with mg.autograd.profiler.emit_nvtx(), mg.autograd.profiler.emit_nvtx(record_shapes=True):
        assert (x * 2.0).shape == (3,)


def test_profiler_is_off_after_errors_and_refuses_nesting() -> None:
    x = mg.randn(2)
    with pytest.raises(RuntimeError, match="already recording"):
        with mg.profiler.profile(), mg.profiler.profile():
            pass
    assert engine.PROFILE_HOOK is None
    with mg.profiler.profile() as prof:
        with pytest.raises((ValueError, RuntimeError)), mg.profiler.record_function("bad"):
            x.reshape(3)
        x.exp()
    assert engine.PROFILE_HOOK is None
    bad = next(e for e in prof.events() if e.name == "bad")
    assert bad.end_ns >= bad.start_ns and all(e.end_ns >= e.start_ns for e in prof.events())
    assert next(e for e in prof.events() if e.name == "aten::exp").cpu_parent is None


def test_compiled_call_is_one_row() -> None:
    x = mg.randn(3, 4, requires_grad=True)
    step = mg.compile(lambda v: (v * 2.0).tanh().sum())
    for _ in range(3):
        step(x).backward()
    with mg.profiler.profile() as prof:
        for _ in range(2):
            step(x).backward()
    counts = {e.key: e.count for e in prof.key_averages()}
    assert counts.get("CompiledFunction") == 2 and counts.get("CompiledFunctionBackward") == 2
    assert "aten::tanh" not in counts
