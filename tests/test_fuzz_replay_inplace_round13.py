"""``mg.compile``'s in-place capture never gives a silent difference: fuzzed small programs, eager against compiled.

Hypothesis draws a program of a few steps over a parameter ``w`` (4, 4), a bias ``b`` (4,), a plain buffer ``buf``
(4,), a counter, two ``BatchNorm1d`` (one with ``momentum=None``), ``Dropout`` (also ``inplace=True``) and the
input ``x`` (n, 4): out-of-place ops mixed with in-place ones on the computed tensor (``add_``, ``mul_``,
``relu_``, ``sigmoid_``, ``clamp_``, ``copy_``, ``zero_``, ``fill_``, ``masked_fill_``, ``inplace=True``
activations, indexed assignment), writes through views of it (a slice, a row, ``t()``, ``view(-1)``,
``unsqueeze``), views, aliases, clones, sums, ``detach()``-es and masked selections (a shape that depends on the
values) of it kept, written and returned, and ``no_grad`` writes into the buffers, the input, the parameter and
the computed tensor. Two copies of the state (same values) run it: one eagerly, one through ``mg.compile``, with
the same fresh inputs over 3 to 5 calls (batch sizes change, and the modules' train/eval mode and the grad mode
may switch between calls). After every call and a backward per output, both give the same exception class, or
bit-identical outputs, gradients, buffers, parameters, inputs and ``_version`` counters. A
:class:`mg.CompileWarning` (the call runs eagerly) is allowed; a difference is not.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import nn
import nn.functional as F

N_BATCH = (1, 2, 3)   # 1: BatchNorm in training raises, as torch's

VIEWS = ("slice", "row", "t", "flat", "unsqueeze")
WRITES = ("add_", "mul_", "relu_", "sigmoid_", "clamp_", "zero_", "fill_", "masked_fill_", "copy_x", "add_b")
SCALARS = st.sampled_from((-1.5, -0.5, 0.0, 0.5, 2.0))

STEP = st.one_of(
    st.tuples(st.sampled_from(("matmul", "mul_b", "add_b_out", "tanh", "bn", "bn_cumulative", "drop", "mul_x",
                               "add_buf", "mul_buf"))),
    st.tuples(st.just("write"), st.sampled_from(WRITES), SCALARS),
    st.tuples(st.just("act"), st.sampled_from(("relu", "leaky", "hardtanh", "module", "elu_", "silu", "drop_"))),
    st.tuples(st.just("view_write"), st.sampled_from(VIEWS), st.sampled_from(WRITES), SCALARS),
    st.tuples(st.just("keep"), st.sampled_from(("alias", "detach", "clone", "sum", "masked", *VIEWS))),
    st.tuples(st.just("write_kept"), st.sampled_from(WRITES), SCALARS),
    st.tuples(st.just("setitem"), st.sampled_from(("slice", "row", "x_row")), SCALARS),
    st.tuples(st.just("nograd"), st.sampled_from(("buf_ema", "buf_copy", "buf_slice", "count", "x_mul", "w_mul",
                                                 "h_mul", "h_slice", "buf_add_h")), SCALARS),
)
PROGRAMS = st.lists(STEP, min_size=1, max_size=7)
CALLS = st.lists(st.tuples(st.sampled_from(N_BATCH), st.booleans(), st.booleans()), min_size=3, max_size=5)


class State:
    """The tensors and modules a program reads: made again from the same seed for each of the two runs."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.w = mg.tensor(rng.standard_normal((4, 4)), requires_grad=True)
        self.b = mg.tensor(rng.standard_normal(4), requires_grad=True)
        self.buf = mg.tensor(rng.standard_normal(4))
        self.count = mg.zeros((), dtype=mg.int64)
        self.bn = nn.BatchNorm1d(4, momentum=0.3).double()
        self.bn_cumulative = nn.BatchNorm1d(4, momentum=None, affine=False).double()   # an average of all batches
        self.drop = nn.Dropout(0.4)
        self.drop_ = nn.Dropout(0.4, inplace=True)
        self.relu = nn.ReLU(inplace=True)
        self.silu = nn.SiLU(inplace=True)

    def train(self, mode: bool) -> None:
        for m in (self.bn, self.bn_cumulative, self.drop, self.drop_, self.relu, self.silu):
            m.train(mode)

    def tensors(self) -> list:
        return [self.w, self.b, self.buf, self.count, *self.bn.buffers(), *self.bn.parameters(),
                *self.bn_cumulative.buffers()]


def _view(h: mg.Tensor, kind: str) -> mg.Tensor:
    if kind == "slice":
        return h[:, 1:3]
    if kind == "row":
        return h[0]
    if kind == "t":
        return h.t()
    if kind == "flat":
        return h.view(-1)
    return h.unsqueeze(0)


def _write(t: mg.Tensor, how: str, c: float, s: State, x: mg.Tensor) -> None:
    if how in ("add_", "mul_", "fill_"):
        getattr(t, how)(c)
    elif how in ("relu_", "sigmoid_", "zero_"):
        getattr(t, how)()
    elif how == "clamp_":
        t.clamp_(min(c, 0.25), max(c, 0.25))
    elif how == "masked_fill_":
        t.masked_fill_(t.detach() > 0, c)
    elif how == "copy_x":   # broadcasts the input's first row (a row of x: the shapes always agree)
        t.copy_(x[0, : t.shape[-1]] if t.ndim and t.shape[-1] <= 4 else x.sum())
    else:
        t.add_(s.b[: t.shape[-1]] if t.ndim and t.shape[-1] <= 4 else s.b.sum())


def run(program: list, s: State, x: mg.Tensor) -> tuple:
    """The program on ``x`` (n, 4): the current tensor and the ones kept, as a tuple."""
    h, kept = x * 1.0, []
    for step in program:
        op = step[0]
        if op == "matmul":
            h = h @ s.w
        elif op == "mul_b":
            h = h * s.b
        elif op == "add_b_out":
            h = h + s.b
        elif op == "tanh":
            h = h.tanh()
        elif op == "bn":
            h = s.bn(h)
        elif op == "bn_cumulative":
            h = s.bn_cumulative(h)
        elif op == "drop":
            h = s.drop(h)
        elif op == "mul_x":
            h = h * x
        elif op == "add_buf":
            h = h + s.buf
        elif op == "mul_buf":   # saves buf: a later write into it makes backward raise, as torch's
            h = h * s.buf
        elif op == "write":
            _write(h, step[1], step[2], s, x)
        elif op == "act":
            kind = step[1]
            if kind == "relu":
                h = F.relu(h, inplace=True)
            elif kind == "leaky":
                h = F.leaky_relu(h, 0.1, inplace=True)
            elif kind == "hardtanh":
                h = F.hardtanh(h, -0.5, 0.5, inplace=True)
            elif kind == "module":
                h = s.relu(h)
            elif kind == "silu":
                h = s.silu(h)
            elif kind == "drop_":
                h = s.drop_(h)
            else:
                h = F.elu_(h)
        elif op == "view_write":
            _write(_view(h, step[1]), step[2], step[3], s, x)
        elif op == "keep":
            kind = step[1]
            kept.append(h if kind == "alias" else h.detach() if kind == "detach" else h.clone() if kind == "clone"
                        else h.sum(0) if kind == "sum" else h[h.detach() > 0] if kind == "masked" else _view(h, kind))
        elif op == "write_kept":   # into the last tensor kept (a view of h: through h's memory), or h
            _write(kept[-1] if kept else h, step[1], step[2], s, x)
        elif op == "setitem":   # indexed assignment: not told to the tracer (runs eagerly)
            kind = step[1]
            if kind == "slice":
                h[:, 1:3] = step[2]
            elif kind == "row":
                h[0] = step[2]
            else:
                h[-1] = x[0] * step[2]
        else:
            how, c = step[1], step[2]
            with mg.no_grad():
                if how == "buf_ema":
                    s.buf.mul_(1 - abs(c) / 4).add_(h.mean(0) * (abs(c) / 4))
                elif how == "buf_copy":
                    s.buf.copy_(h.sum(0))
                elif how == "buf_slice":
                    s.buf[1:3].add_(c)
                elif how == "count":
                    s.count.add_(1)
                elif how == "x_mul":
                    x.mul_(c)
                elif how == "w_mul":
                    s.w.mul_(c)
                elif how == "h_mul":
                    h.mul_(c)
                elif how == "h_slice":
                    h[:, 0:2].mul_(c)
            if how == "buf_add_h":   # recorded when h needs a gradient: buf would join the graph (eagerly)
                s.buf.add_(h.sum(0))
    return (h, *kept)


def _array(t: Any) -> Any:
    return None if t is None else (t.dtype, t.shape, t.detach().numpy().copy())


def _call(fn: Any, s: State, values: np.ndarray, x_grad: bool, train: bool, grad: bool, seed: int) -> tuple:
    """One call and its backward: ('raises', where, class) or ('ok', outputs, the state and input after)."""
    x = mg.tensor(values.copy(), requires_grad=x_grad)
    s.train(train)
    mg.manual_seed(seed)
    with mg.set_grad_enabled(grad), np.errstate(all="ignore"):
        try:
            outs = fn(x)
        except Exception as error:  # noqa: BLE001 - compared with the other run's
            return "raises", "call", type(error)
    got = [(_array(o), o.requires_grad, o._version) for o in outs]
    # one backward per output: gradients of several outputs that meet inside fn are summed in the order of the
    # caller's graph, which a replay cannot know (three or more terms round differently): not fuzzed here
    differentiable = [o for o in outs if o.requires_grad]
    backward: Any = None
    for k, o in enumerate(differentiable):
        try:
            with np.errstate(all="ignore"):
                (o * o).sum().backward(retain_graph=k < len(differentiable) - 1)
        except Exception as error:  # noqa: BLE001 - compared with the other run's
            backward = type(error)
            break
    after = [(_array(t), t._version, _array(t.grad)) for t in (*s.tensors(), x)]
    return "ok", got, backward, after


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    return a == b


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(program=PROGRAMS, calls=CALLS)
def test_inplace_programs_replay_as_eager(program: list, calls: list) -> None:
    eager_state, compiled_state = State(), State()
    compiled = mg.compile(lambda x: run(program, compiled_state, x))
    rng = np.random.default_rng(len(program))
    x_grad = bool(len(calls) % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, (n, train, grad) in enumerate(calls):
            values = rng.standard_normal((n, 4))
            want = _call(lambda x: run(program, eager_state, x), eager_state, values, x_grad, train, grad, k)
            got = _call(compiled, compiled_state, values, x_grad, train, grad, k)
            assert _same(want, got), (f"call {k} (n={n}, train={train}, grad={grad}, x requires grad: {x_grad}) "
                                      f"of {program}:\neager    {want}\ncompiled {got}")


def test_the_check_catches_a_stale_replay() -> None:
    """The comparison fails on a compiled call that replays a stale value (its state's buffer written behind it)."""
    eager_state, compiled_state = State(), State()
    program = [("add_buf",)]
    values = np.ones((2, 4))
    want = _call(lambda x: run(program, eager_state, x), eager_state, values, False, True, True, 0)
    with mg.no_grad():
        compiled_state.buf.add_(1.0)
    got = _call(lambda x: run(program, compiled_state, x), compiled_state, values, False, True, True, 0)
    assert not _same(want, got)


def _grad_after_no_grad_write(compiled: bool) -> mg.Tensor:
    def fn(x: mg.Tensor) -> mg.Tensor:
        h = x * 1.0
        with mg.no_grad():   # changes h's values, not its graph
            h.mul_(0.5)
        return F.relu(h, inplace=True) * 2.0

    step = mg.compile(fn) if compiled else fn
    for _ in range(4):   # capture, check, replays
        x = mg.tensor([[-1.0, 2.0, 3.0]], requires_grad=True)
        step(x).sum().backward()
    return x.grad


def test_no_grad_write_into_a_computed_tensor_keeps_its_gradient() -> None:
    """Found by the fuzz: a replay read h after the write through the (unrecorded) write step, so x got no
    gradient (None) from the third call on; eager's h keeps its node."""
    want, got = _grad_after_no_grad_write(False), _grad_after_no_grad_write(True)
    assert want is not None and got is not None and np.array_equal(got.data, want.data)


def test_output_version_after_recorded_write() -> None:
    """Found by the fuzz: a replayed output that eager wrote in place while recording reported _version 0 (the
    replay computes it into a new array); its counter is eager's now, and its backward does not raise."""
    def fn(x: mg.Tensor) -> tuple:
        h = x * 1.0
        h.add_(1.0)
        h.t().mul_(2.0)
        return h, h.t()

    step = mg.compile(fn)
    for _ in range(4):
        got, want = step(mg.ones(2, 3, requires_grad=True)), fn(mg.ones(2, 3, requires_grad=True))
        assert [o._version for o in got] == [o._version for o in want] == [2, 2]
        got[0].sum().backward()


def test_a_fuzzed_program_replays_without_falling_back() -> None:
    """The programs the fuzz draws are replayed, not only run eagerly: one mixing recorded writes (through a
    transpose too), a view kept, a buffer update under no_grad, train-mode BatchNorm and ReLU(inplace=True)
    replays its one capture without a CompileWarning, as eager."""
    program = [("matmul",), ("write", "mul_", 0.5), ("view_write", "t", "add_", -0.5), ("keep", "t"),
               ("nograd", "buf_ema", 0.5), ("bn",), ("act", "module"), ("add_buf",)]
    eager_state, compiled_state = State(), State()
    compiled = mg.compile(lambda x: run(program, compiled_state, x))
    rng = np.random.default_rng(8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)
        for k in range(5):
            values = rng.standard_normal((3, 4))
            want = _call(lambda x: run(program, eager_state, x), eager_state, values, True, True, True, k)
            assert want[0] == "ok" and want[2] is None and want[1][1][2] == 2   # the kept view: 2 writes
            assert _same(want, _call(compiled, compiled_state, values, True, True, True, k)), k
    captured = next(iter(compiled.programs.values()))
    assert len(compiled.programs) == 1 and not compiled.eager and (captured.replays or captured.forward_code)


def test_version_of_a_buffer_when_a_replay_captures_again() -> None:
    """Found by the fuzz: a replay that stopped at an op of another shape undid its buffer writes' values, not
    their versions, so the capture's eager run left the counter one write ahead of eager's."""
    counts = [mg.zeros((), dtype=mg.int64) for _ in range(2)]

    def fn(x: mg.Tensor, count: mg.Tensor) -> mg.Tensor:
        with mg.no_grad():
            count.add_(1)
        return x[x > 0] * 2.0   # the count of positives picks the shape: another one captures again

    compiled = mg.compile(lambda x: fn(x, counts[1]))
    for v in ([1.0, -1.0, 2.0], [3.0, 4.0, -5.0], [1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], [2.0, 2.0, -2.0], [1.0, 1.0, 1.0]):
        assert np.array_equal(compiled(mg.tensor(v)).data, fn(mg.tensor(v), counts[0]).data)
        assert counts[1]._version == counts[0]._version and int(counts[1].item()) == int(counts[0].item())
