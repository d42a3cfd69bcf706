"""Capture a function's ops once, replay them as one graph node: ``mg.compile(fn)``.

The first call for an input signature (each Tensor argument's shape, dtype,
device and ``requires_grad``, the other arguments' values, and grad mode)
runs ``fn`` eagerly and records the ops it calls: the same ``Function``
classes, so each op's math is still written once. Later calls with that
signature do not run ``fn``: a straight list of the ops' ``forward`` runs on
raw arrays, and the whole call becomes **one** node of the outer graph. Its
backward runs the recorded ops' ``backward`` in reverse recording order with
the gradient routing worked out at capture time: no Kahn walk, no Tensor per
intermediate value.

What is captured, and what is not (as JAX documents for ``jit``):

* Tensors ``fn`` reads that are not arguments (a module's weights, a closure's
  tensors) are inputs of the captured node too: weights that require grad get
  their gradients, and an in-place update (an optimizer step) is seen by the
  next replay. Tensors made inside ``fn`` by ``mg.zeros``/``mg.tensor`` … are
  captured as constants (their value at capture time). A random constructor
  (``mg.rand``/``randn``/``randint``, hence dropout), a comparison (a mask
  made from values) or an in-place op inside ``fn`` makes the signature run
  eagerly every time, which stays correct. A tensor made inside ``fn`` from
  values some other way (``mg.tensor(x.numpy() * 2)``) is frozen: don't.
* Python control flow that depends on values is frozen at capture time and
  **not detected** by default; ``mg.compile(fn, check=True)`` re-runs ``fn``
  on every call and raises :class:`CompileError` naming the first op where
  the sequence differs (a debugging aid: it costs an eager run). An op whose
  output shape differs from the capture (data-dependent shapes) is caught
  cheaply and the call is captured again.
* ``detect_anomaly`` at call time, and hooks or ``retain_grad`` registered
  inside ``fn``, make the call run eagerly (the per-op checks and hooks need
  per-op nodes). Hooks on the outputs or on weights work as usual.

Outputs may be a Tensor or a (nested) tuple/list of Tensors.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy

from . import backend
from .autograd import Function, _dense, _sum
from .recording import _anomaly, _grad_enabled
from .tensor import Tensor
from .versions import INPLACE

__all__ = ["CompileError", "compile"]


class CompileError(RuntimeError):
    """A compiled function took a different path than the one captured (found with ``check=True``)."""


class _Retrace(Exception):
    """An op's output shape differs from the capture: capture this call again."""


_NOT_CAPTURED = ("saved", "edges", "hooks", "retained", "tag", "epoch", "out_meta")


class Tracer:
    """Records the ops called while ``fn`` runs: the engine calls :meth:`record` for each."""

    def __init__(self, inputs: list[Tensor]) -> None:
        self.slot_of: dict[int, int] = {id(t): i for i, t in enumerate(inputs)}
        self.externals: list[Tensor] = list(inputs)   # arguments, then tensors found on the way
        self.constants: list[Any] = []                # raw (non-Tensor) op inputs
        self.steps: list[tuple] = []
        self.keep: list[Tensor] = []                  # keeps traced outputs alive so ids stay unique
        self.eager_only: str | None = None

    def record(self, op: Function, inputs: tuple, result: Any) -> None:
        slots = []
        for x in inputs:
            if isinstance(x, Tensor):
                slot = self.slot_of.get(id(x))
                if slot is None:   # a weight or a constant tensor that is not an argument
                    slot = self.slot_of[id(x)] = len(self.externals)
                    self.externals.append(x)
                slots.append(("x", slot) if type(slot) is int else slot)
            else:
                slots.append(("c", len(self.constants)))
                self.constants.append(x)
        outs = result if op.multiple else (result,)
        template = {k: v for k, v in op.__dict__.items() if k not in _NOT_CAPTURED}
        recorded = outs[0]._node is op
        shapes = tuple(y.data.shape for y in outs)
        self.steps.append((type(op), template, slots, len(outs), shapes, recorded))
        for i, y in enumerate(outs):
            self.slot_of[id(y)] = ("o", len(self.steps) - 1, i)
            self.keep.append(y)

    def note_eager(self, why: str) -> None:
        self.eager_only = self.eager_only or why


def _flatten(value: Any, leaves: list) -> Any:
    """The Tensors of a nested tuple/list output, and a spec to rebuild the structure."""
    if isinstance(value, Tensor):
        leaves.append(value)
        return None
    if isinstance(value, (tuple, list)):
        return (type(value), [_flatten(v, leaves) for v in value])
    raise TypeError(f"compile: the function must return a Tensor or a tuple/list of Tensors, got "
                    f"{type(value).__name__}")


def _unflatten(spec: Any, leaves: Any) -> Any:
    if spec is None:
        return next(leaves)
    kind, items = spec
    return kind(_unflatten(s, leaves) for s in items)


class Program:
    """One captured signature: the op list with every input and output as an index into a value list.

    Values: ``[external inputs…, constants…, outputs of op 0…, outputs of op 1…]``.
    """

    def __init__(self, tracer: Tracer, outputs: list[Tensor], spec: Any) -> None:
        self.externals = tracer.externals
        self.constants = tracer.constants
        n_ext = len(self.externals)
        base = n_ext + len(self.constants)
        first_out = []
        for step in tracer.steps:
            first_out.append(base)
            base += step[3]

        def index(ref: Any) -> int:
            if ref[0] == "x":
                return ref[1]
            if ref[0] == "c":
                return n_ext + ref[1]
            return first_out[ref[1]] + ref[2]

        self.steps = [(cls, template, [index(r) for r in slots], n_out, shapes, recorded, first_out[k])
                      for k, (cls, template, slots, n_out, shapes, recorded) in enumerate(tracer.steps)]
        self.outputs = [index(tracer.slot_of[id(y)]) if not isinstance(tracer.slot_of[id(y)], int)
                        else tracer.slot_of[id(y)] for y in outputs]
        self.spec = spec
        self.n_values = base
        self.names = [cls.name for cls, *_ in self.steps]


class Replay(Function):
    """One call of a compiled function as one node: forward and backward replay the captured ops."""

    name = "compiled"
    multiple = True

    def __init__(self, program: Program) -> None:
        self.program = program
        self.n_outputs = len(program.outputs)

    def forward(self, *arrays: Any) -> tuple:
        program = self.program
        values = [*arrays[:len(program.externals)], *program.constants]
        ops = []
        for cls, template, slots, n_out, shapes, _recorded, _first in program.steps:
            op = cls.__new__(cls)
            op.__dict__.update(template)
            out = op.forward(*[values[i] for i in slots])
            if n_out == 1:
                if type(out) is not numpy.ndarray and isinstance(out, (numpy.generic, int, float)):
                    out = numpy.asarray(out)
                if out.shape != shapes[0]:
                    raise _Retrace
                values.append(out)
            else:
                values.extend(out)
            ops.append(op)
        self.saved = (ops,)   # freed by backward unless retain_graph, like any node's saved arrays
        return tuple([values[i] for i in program.outputs])

    def backward(self, *grads_out: Any) -> tuple:
        program = self.program
        ops = self.saved[0]
        grads: list = [None] * program.n_values
        owned: set = set()
        for slot, g in zip(program.outputs, grads_out):
            if g is not None:
                grads[slot] = _sum(grads[slot], g, slot, owned)
        for op, (_cls, _t, slots, n_out, _shapes, recorded, first) in zip(reversed(ops), reversed(program.steps)):
            if not recorded:
                continue
            gouts = grads[first:first + n_out]
            if n_out == 1:
                if gouts[0] is None:
                    continue
                gins = op.backward(gouts[0] if type(gouts[0]) is numpy.ndarray else _dense(gouts[0]))
            elif all(g is None for g in gouts):
                continue
            else:
                gins = op.backward(*[_dense(g) for g in gouts])
            for slot, g, needed in zip(slots, gins if type(gins) is tuple else (gins,), op.needs_grad):
                if g is not None and needed:
                    grads[slot] = _sum(grads[slot], g, slot, owned)
        return tuple(grads[:len(program.externals)])


class Compiled:
    """``mg.compile(fn)``: call it as ``fn``; see the module docstring."""

    def __init__(self, fn: Callable, check: bool = False) -> None:
        self.fn = fn
        self.check = check
        self.programs: dict = {}
        self.eager: dict = {}   # signature -> why it runs eagerly
        functools.update_wrapper(self, fn)

    def _signature(self, args: tuple) -> Any:
        key = [_grad_enabled.get()]
        for a in args:
            if isinstance(a, Tensor):
                key.append((a.data.shape, a.data.dtype, backend.device_of(a.data), a.requires_grad))
            else:
                key.append(("value", a))
        return tuple(key)

    def __call__(self, *args: Any) -> Any:
        checks = _anomaly.get()
        if checks:   # anomaly mode, or an outer capture running: run eagerly (the outer capture records the ops)
            return self.fn(*args)
        try:
            key = self._signature(args)
            hash(key)
        except TypeError:
            return self.fn(*args)   # an unhashable argument: no signature, run eagerly
        if key in self.eager:
            return self.fn(*args)
        program = self.programs.get(key)
        if program is None or self.check:
            return self._capture(key, args, program)
        try:
            return self._replay(program, args)
        except _Retrace:
            return self._capture(key, args, None)

    def _replay(self, program: Program, args: tuple) -> Any:
        tensors = [a for a in args if isinstance(a, Tensor)]
        inputs = [*tensors, *program.externals[len(tensors):]]
        outs = Replay(program)(*inputs)
        return _unflatten(program.spec, iter(outs))

    def _capture(self, key: Any, args: tuple, previous: Program | None) -> Any:
        tracer = Tracer([a for a in args if isinstance(a, Tensor)])
        epoch = INPLACE.epoch
        token = _anomaly.set(tracer)
        try:
            result = self.fn(*args)
        finally:
            _anomaly.reset(token)
        if INPLACE.epoch != epoch:
            tracer.note_eager("an in-place op")
        if any(y._node is not None and (y._node.hooks or y._node.retained) for y in tracer.keep):
            tracer.note_eager("a hook or retain_grad inside the function")
        outputs: list = []
        spec = _flatten(result, outputs)
        if any(id(y) not in tracer.slot_of for y in outputs):
            tracer.note_eager("an output made without a captured op")
        if tracer.eager_only:
            self.eager[key] = tracer.eager_only
            return result
        program = Program(tracer, outputs, spec)
        if previous is not None and self.check and previous.names != program.names:
            at = next((i for i, (a, b) in enumerate(zip(previous.names, program.names)) if a != b),
                      min(len(previous.names), len(program.names)))
            seen = program.names[at] if at < len(program.names) else "the end"
            want = previous.names[at] if at < len(previous.names) else "the end"
            raise CompileError(f"compile: {getattr(self.fn, '__name__', 'fn')} took a different path than "
                               f"captured: op {at} is '{seen}' where the capture has '{want}' "
                               "(value-dependent control flow cannot be replayed)")
        if previous is None:
            self.programs[key] = program
        return result


def compile(fn: Callable | None = None, *, check: bool = False) -> Any:  # noqa: A001 - mg.compile, as torch.compile
    """Capture ``fn``'s ops on its first call per input signature and replay them as one node afterwards.

    ``fn`` takes Tensors (and other hashable arguments) and returns a Tensor
    or a tuple/list of Tensors. Values and gradients equal eager mode's. Use
    as ``step = mg.compile(step)`` or as a decorator (``@mg.compile`` or
    ``@mg.compile(check=True)``).
    """
    if fn is None:
        return lambda f: Compiled(f, check=check)
    return Compiled(fn, check=check)

