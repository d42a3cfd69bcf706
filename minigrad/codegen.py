"""A captured :class:`~minigrad.capture.Program` written out as two straight-line Python functions.

The plans in :mod:`minigrad.capture` are lists that a loop walks: each op costs
a tuple unpack, a fetch of its inputs from the list of values and a few checks,
which at small sizes is a good part of the op's own NumPy call. Here the same
plans become Python source, a line or two per op, with the value and gradient
indices written in::

    V[7] = y = f0(V[0], V[3])             # forward: op 0 reads values 0 and 3
    if y.shape != (16, 256): raise _Retrace
    K.append(o0.saved)                    # what op 0's backward needs from this call

and the backward, in eager's order, with the gradient routes of the capture::

    g = D[9]
    if g is not None:
        D[9] = None
        if type(g) is not ndarray: g = _dense(g)
        o2.saved = S[1]
        r = b2(g)
        ...

Values and gradients live in lists, not in local variables: a function with
thousands of locals has a frame too large for the interpreter's frame stack,
and every op called from it then maps and unmaps a new stack chunk (measured:
an RNN replay 1.8x slower, depending on where the caller's frames ended).

The functions call the ops' own ``forward``/``backward`` (the math is still
written once, in the op classes) and do exactly what the plans' loops do, in the
same order, so values and gradients are bit-identical to the loops' (and to
eager mode). Each function keeps its text as ``.source``, for reading and profiling.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy

from .autograd import _dense, _sum
from .frames import PAD_LINE

__all__ = ["worth_writing", "write_backward", "write_forward"]

# Writing the code costs about 0.15 ms per op (Python compiles some 100,000 lines a second), paid once per
# program, and saves ~0.5 us per op and replay. Whether a program will replay long enough for that is not
# known in advance, so the rule is a rent-or-buy one: a program is written out once its replays (forward and
# backward, by the loops) have taken as long as its writing is estimated to take, SECONDS_PER_OP per op,
# and at least REPLAYS_FIRST replays. A run that stops right then has spent at most twice its replays'
# time; a training loop gets the code after a few dozen steps (an LSTM layer over 200 steps: ~15). None
# is written past MAX_OPS ops.
REPLAYS_FIRST = 2
SECONDS_PER_OP = 1.5e-4
MAX_OPS = 10_000


def worth_writing(replays: int, replay_seconds: float, n_ops: int) -> bool:
    """Whether a program that has replayed ``replays`` times, in ``replay_seconds`` in all, is written now."""
    return replays >= REPLAYS_FIRST and replay_seconds >= SECONDS_PER_OP * n_ops


# A long replay runs in a frame larger than CPython's frame-stack chunk, so that its op calls never
# straddle a chunk's end (minigrad.frames); entering it costs ~16 us, paid by programs of
# PAD_FRAME_OPS ops or more, whose replay takes milliseconds.
PAD_FRAME_OPS = 500


def _pad_frame(lines: list[str], n_ops: int) -> None:
    if n_ops >= PAD_FRAME_OPS:
        lines.append(f"    {PAD_LINE}")


def _run(source: str, names: dict, what: str) -> Callable:
    namespace = dict(names)
    exec(compile(source, f"<minigrad.compile {what}>", "exec"), namespace)   # noqa: S102 - our own source
    function = namespace[what]
    function.source = source   # for reading and profiling a replay
    return function


def write_forward(program: Any, retrace: type[Exception]) -> Callable | None:
    """``forward(arrays) -> (outputs, saved)``: the forward plan as straight-line code (None if too long).

    ``arrays`` are the external inputs' arrays; ``outputs`` the values of
    ``program.outputs``; ``saved`` what each kept op's backward needs, in the
    order the plan's loop keeps them. An output of another shape than at
    capture raises ``retrace``.
    """
    plan = program.forward_plan
    if len(plan) > MAX_OPS:
        return None
    n_values = program.n_externals + len(program.constants)
    names: dict[str, Any] = {"ndarray": numpy.ndarray, "generic": numpy.generic, "asarray": numpy.asarray,
                             "_Retrace": retrace, "C": tuple(program.constants),
                             "EMPTY": (None,) * (program.n_values - n_values)}
    lines = ["def forward(arrays):", "    V = [*arrays, *C, *EMPTY]", "    K = []"]
    _pad_frame(lines, len(plan))
    op_at_line: dict[int, int] = {}
    for k, ((op, forward, _n, _fetch, single, shape, keep, dead), reads, first, n_out) in enumerate(
            zip(plan, program.reads, program.first, program.n_outs)):
        names[f"f{k}"], names[f"o{k}"] = forward, op
        call = f"f{k}({', '.join(f'V[{i}]' for i in reads)})"
        op_at_line[len(lines) + 1] = k   # a failing op is named by its line (Program.failed)
        if single:
            lines.append(f"    V[{first}] = y = {call}")
            if shape == ():   # NumPy gives scalars for 0-d results
                lines.append(f"    if type(y) is not ndarray and isinstance(y, (generic, int, float)): "
                             f"V[{first}] = y = asarray(y)")
            lines.append(f"    if y.shape != {shape!r}: raise _Retrace")
        else:   # unpacking checks the number of outputs
            lines.append(f"    {_targets(range(first, first + n_out), 'V')} = {call}")
        if keep:
            lines.append(f"    K.append(o{k}.saved)" if keep == 1 else f"    K.append(o{k}.__dict__.copy())")
        if dead:
            lines.append(f"    {' = '.join(f'V[{i}]' for i in dead)} = None")
    lines.append(f"    return ({_targets(program.outputs, 'V')}), K")
    function = _run("\n".join(lines) + "\n", names, "forward")
    function.op_at_line = op_at_line
    return function


def write_backward(program: Any) -> Callable | None:
    """``backward(saved, grads_out) -> grads``: the backward plan as straight-line code (None if too long).

    One gradient (or None) per external input, as ``Program.backward`` returns
    without an observer; sums are added in the plan's order with the same
    in-place rule (``autograd._sum``).
    """
    plan = program.backward_plan
    if len(plan) > MAX_OPS:
        return None
    names: dict[str, Any] = {"ndarray": numpy.ndarray, "_dense": _dense, "_sum": _sum,
                             "EMPTY": (None,) * program.n_values}
    routed = {v for *_, routes in plan for _j, v in routes} | set(program.outputs)
    written = set(program.outputs)   # gradient slots something may have written to by this point
    lines = ["def backward(S, G):", "    owned = set()", "    D = [*EMPTY]"]
    _pad_frame(lines, len(plan))
    for j, v in enumerate(program.outputs):
        lines.append(f"    if G[{j}] is not None: D[{v}] = _sum(D[{v}], G[{j}], {v}, owned)")
    for k, (op, backward, at, keep, first, n_out, routes) in enumerate(plan):
        if not any(i in routed for i in range(first, first + n_out)):
            continue   # no gradient ever reaches this op
        names[f"o{k}"], names[f"b{k}"] = op, backward
        body = []
        if n_out == 1:
            lines += [f"    g = D[{first}]", "    if g is not None:"]
            body += [f"D[{first}] = None", "if type(g) is not ndarray: g = _dense(g)"]
            call = f"b{k}(g)"
        else:
            outs = [f"D[{i}]" for i in range(first, first + n_out) if i in routed]
            lines.append(f"    if {' or '.join(f'{g} is not None' for g in outs)}:")
            body.append(f"d = ({''.join(f'_dense(D[{i}]), ' for i in range(first, first + n_out))})")
            body.append(f"{' = '.join(outs)} = None")
            call = f"b{k}(*d)"
        body.append(f"o{k}.saved = S[{at}]" if keep == 1 else f"o{k}.__dict__.update(S[{at}])")
        body.append(f"r = {call}")
        body.append(f"S[{at}] = None")   # freed as soon as eager would free them (Program.backward)
        if keep == 1:
            body.append(f"o{k}.saved = None")   # the shared op does not keep this call's arrays alive
        if routes:
            body.append("if type(r) is not tuple: r = (r,)")
        for j, v in routes:
            if v not in written:   # the first gradient to reach v: the slot is still None, so it is the sum
                body.append(f"D[{v}] = r[{j}]")
                written.add(v)
            else:
                body += [f"x = r[{j}]",
                         f"if x is not None: D[{v}] = x if D[{v}] is None else _sum(D[{v}], x, {v}, owned)"]
        lines += [f"        {line}" for line in body]
    lines.append(f"    return ({_targets(range(program.n_externals), 'D')})")
    return _run("\n".join(lines) + "\n", names, "backward")


def _targets(indices: Any, name: str) -> str:
    """``V[3], V[4],`` — items of a list as a tuple display or an unpacking target of any length."""
    return "".join(f"{name}[{i}], " for i in indices).rstrip(" ")
