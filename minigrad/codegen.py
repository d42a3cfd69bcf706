"""A captured :class:`~minigrad.capture.Program` written out as two straight-line Python functions.

The plans in :mod:`minigrad.capture` are lists that a loop walks: each op costs
a tuple unpack, a fetch of its inputs from a list of values and a few checks,
about a microsecond a step, which at small sizes is as much as the op's NumPy
call. Here the same plans become Python source, one line per op input and
output, with every value in a local variable::

    v7 = f0(v0, v3)                       # forward: op 0 reads values 0 and 3
    if v7.shape != (16, 256): raise _Retrace
    k0 = o0.saved                         # what op 0's backward needs from this call

and the backward, in eager's order, with the gradient routes of the capture
written in::

    g = g9
    if g is not None:
        g9 = None
        if type(g) is not ndarray: g = _dense(g)
        o2.saved = S[1]
        r = b2(g)
        ...

The functions call the ops' own ``forward``/``backward`` (the math is still
written once, in the op classes) and do exactly what the plans' loops do, in the
same order, so values and gradients are bit-identical to the loops' (and to
eager mode). ``Program.source`` keeps the text for reading and profiling.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy

from .autograd import _dense, _sum

__all__ = ["write_backward", "write_forward"]

# Writing the code costs about 0.2 ms per op (Python compiles some 100,000 lines a second), paid once per
# program: only a program that has replayed REPLAYS_FIRST times is written out, and none past MAX_OPS ops
REPLAYS_FIRST = 2
MAX_OPS = 10_000


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
    names: dict[str, Any] = {"ndarray": numpy.ndarray, "generic": numpy.generic, "asarray": numpy.asarray,
                             "_Retrace": retrace, "C": tuple(program.constants)}
    lines = ["def forward(arrays):"]
    n_ext, n_const = program.n_externals, len(program.constants)
    if n_ext:
        lines.append(f"    {_unpack(range(n_ext))} = arrays")
    if n_const:
        lines.append(f"    {_unpack(range(n_ext, n_ext + n_const))} = C")
    kept = []
    for k, ((op, forward, _n, _fetch, single, shape, keep, dead), reads, first, n_out) in enumerate(
            zip(plan, program.reads, program.first, program.n_outs)):
        names[f"f{k}"], names[f"o{k}"] = forward, op
        call = f"f{k}({', '.join(f'v{i}' for i in reads)})"
        if single:
            lines.append(f"    v{first} = {call}")
            if shape == ():   # NumPy gives scalars for 0-d results
                lines.append(f"    if type(v{first}) is not ndarray and isinstance(v{first}, (generic, int, float)):"
                             f" v{first} = asarray(v{first})")
            lines.append(f"    if v{first}.shape != {shape!r}: raise _Retrace")
        else:
            lines.append(f"    {_unpack(range(first, first + n_out))} = {call}")
        if keep:
            lines.append(f"    k{k} = o{k}.saved" if keep == 1 else f"    k{k} = o{k}.__dict__.copy()")
            kept.append(f"k{k}")
        if dead:
            lines.append(f"    del {', '.join(f'v{i}' for i in dead)}")
    outputs = ", ".join(f"v{i}" for i in program.outputs)
    lines.append(f"    return ({outputs},), [{', '.join(kept)}]")
    return _run("\n".join(lines) + "\n", names, "forward")


def write_backward(program: Any) -> Callable | None:
    """``backward(saved, grads_out) -> grads``: the backward plan as straight-line code (None if too long).

    One gradient (or None) per external input, as ``Program.backward`` returns
    without an observer; sums are added in the plan's order with the same
    in-place rule (``autograd._sum``).
    """
    plan = program.backward_plan
    if len(plan) > MAX_OPS:
        return None
    names: dict[str, Any] = {"ndarray": numpy.ndarray, "_dense": _dense, "_sum": _sum}
    routed = sorted({v for *_, routes in plan for _j, v in routes} | set(program.outputs))
    lines = ["def backward(S, G):", "    owned = set()"]
    lines += [f"    g{v} = None" for v in routed]
    for j, v in enumerate(program.outputs):
        lines.append(f"    if G[{j}] is not None: g{v} = _sum(g{v}, G[{j}], {v}, owned)")
    for k, (op, backward, at, keep, first, n_out, routes) in enumerate(plan):
        names[f"o{k}"], names[f"b{k}"] = op, backward
        body = []
        if not any(i in routed for i in range(first, first + n_out)):
            continue   # no gradient ever reaches this op
        if n_out == 1:
            lines += [f"    g = g{first}", "    if g is not None:"]
            body += [f"g{first} = None", "if type(g) is not ndarray: g = _dense(g)"]
            call = f"b{k}(g)"
        else:
            outs = [f"g{i}" if i in routed else "None" for i in range(first, first + n_out)]
            reached = [g for g in outs if g != "None"]
            lines.append(f"    if {' or '.join(f'{g} is not None' for g in reached)}:")
            body.append(f"d = ({', '.join(f'_dense({g})' for g in outs)},)")
            body.append(f"{', '.join(reached)}, = {', '.join(['None'] * len(reached))},")
            call = f"b{k}(*d)"
        body.append(f"o{k}.saved = S[{at}]" if keep == 1 else f"o{k}.__dict__.update(S[{at}])")
        body.append(f"r = {call}")
        if keep == 1:
            body.append(f"o{k}.saved = None")   # the shared op does not keep this call's arrays alive
        if routes:
            body.append("if type(r) is not tuple: r = (r,)")
        for j, v in routes:
            body += [f"x = r[{j}]", f"if x is not None: g{v} = x if g{v} is None else _sum(g{v}, x, {v}, owned)"]
        lines += [f"        {line}" for line in body]
    grads = [f"g{v}" if v in routed else "None" for v in range(program.n_externals)]
    lines.append(f"    return ({', '.join(grads)},)" if grads else "    return ()")
    return _run("\n".join(lines) + "\n", names, "backward")


def _unpack(indices: range, prefix: str = "v") -> str:
    """``v3, v4,`` — a target list that unpacks a sequence of any length (one included)."""
    return "".join(f"{prefix}{i}, " for i in indices).rstrip(" ")
