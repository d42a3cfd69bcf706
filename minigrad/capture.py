"""The machinery behind ``mg.compile``: record a function's ops, then replay them as one node.

:class:`Tracer` records each op the engine runs while a function is captured;
:class:`Program` turns the record into two straight lists (forward in
recording order, backward in eager's Kahn order) over one list of values;
:class:`Replay` is the one graph node a replayed call becomes. What is
captured and what is not is documented in :mod:`minigrad.compile`.
"""

from __future__ import annotations

import collections
import operator
import threading
import time
import types
from heapq import heapify, heappop, heappush
from typing import Any, Callable

import numpy

from . import anomaly, backend, codegen, generators
from .autograd import Function, _dense, _sum, frees_saved
from .autograd.engine import plain_class
from .hooks import CAPTURING, _add_to_retained, _apply_hooks, _is_prehook, _shaped_label
from .ops.inplace import _views_own_result
from .ops.shape import NO_GRAD_VIEW, _note_view
from .recording import _state
from .tensor import Tensor
from .versions import INPLACE, memory_owner

__all__ = ["Program", "Replay", "Tracer", "host_stream", "random_states", "restore_random", "stream_of"]


class _Retrace(Exception):
    """An op's output shape differs from the capture: capture this call again."""


_NOT_CAPTURED = ("saved", "edges", "outer_edges", "hooks", "retained", "tag", "epoch", "out_meta")


class Tracer:
    """Records the ops called while ``fn`` runs: the engine calls :meth:`record` for each."""

    def __init__(self, inputs: list[Tensor], reads_run_eagerly: bool = True) -> None:
        self.reads_run_eagerly = reads_run_eagerly   # False with check=True: compare op sequences instead
        self.slot_of: dict[int, Any] = {id(t): i for i, t in enumerate(inputs)}
        self.array_ref: dict[int, Any] = {id(t.data): i for i, t in enumerate(inputs)}   # for index arrays
        self.arguments = list(inputs)
        self.externals: list[Tensor] = list(inputs)   # arguments, then tensors found on the way
        self.constants: list[Any] = []                # raw (non-Tensor) op inputs
        self.constant_steps: list[int] = []           # the step each constant is an input of (to name it)
        self.steps: list[tuple] = []   # (op, input refs, n outputs, output shapes, recorded, array params)
        self.keep: list[Tensor] = []                  # keeps traced outputs alive so ids stay unique
        self.eager_only: str | None = None
        self.generators: list[tuple[int, Any]] = []   # (step, generator) of each draw from a generator= object
        # the host generator's state before and after fn ran, if it drew from it (set by mg.compile)
        self.host_states: tuple | None = None
        self.host_draws = 0   # random draws from the engine's host generator
        # the modules whose train/eval flag fn read or set (nn tells, see note_mode): id -> [module, flag when
        # fn began, whether fn set it]; mixed: another thread changed one while fn ran
        self.modes: dict[int, list] = {}
        self.modes_mixed = False
        self.grad = _state.get().grad
        self.scope = _state.get().scope   # the caller's name scope: the drawing rebases the ops' scopes on a replay's
        self.writes = 0   # in-place writes told by record_write (mg.compile compares with the thread's count)
        self.stale: list[tuple[int, str, set]] = []   # (step, op, refs sharing memory with a recorded write's tensor)
        self.repointed: set[int] = set()   # ids of tensors read as another array since a recorded write
        self.writes_into: set[int] = set()   # the externals written in place (mg.compile: none may be made inside fn)
        # (step, result, its strides when drawn) of each draw: a ``*_like`` draw is laid out as its input after it
        # is recorded (rand_like of a transposed x is transposed), which its replay must do too (Program)
        self.draws: list[tuple[int, Tensor, tuple]] = []
        self.own_outputs: dict[int, list[str]] = {}   # step -> the names of the op's attributes that are its outputs

    def record(self, op: Function, inputs: tuple, result: Any) -> None:
        refs = []
        for x in inputs:
            if isinstance(x, Tensor):
                ref = self.slot_of.get(id(x))
                if ref is None:   # a weight or a constant tensor that is not an argument
                    ref = self.slot_of[id(x)] = self.array_ref[id(x.data)] = len(self.externals)
                    self.externals.append(x)
                refs.append(("x", ref) if type(ref) is int else ref)
            else:
                refs.append(("c", len(self.constants)))
                self.constants.append(x)
                self.constant_steps.append(len(self.steps))
        outs = result if type(result) is tuple else (result,)
        if not outs:   # e.g. unbind of a size-0 dim: nothing to replay into
            self.note_eager(f"op {type(op).__name__} returns no tensors")
            return
        self.steps.append((op, refs, len(outs), tuple(y.data.shape for y in outs), outs[0]._node is op,
                           self._array_params(op)))
        own = [name for name, value in op.__dict__.items() if any(value is y.data for y in outs)]
        if own:   # its own output kept for its backward (Std's deviation): each forward makes it anew, not frozen
            self.own_outputs[len(self.steps) - 1] = own
        for i, y in enumerate(outs):
            self.slot_of[id(y)] = self.array_ref[id(y.data)] = ("o", len(self.steps) - 1, i)
            self.keep.append(y)

    def record_copy(self, copy: Tensor, x: Tensor) -> None:
        """An in-place op that records copied ``x``'s old value into ``copy`` (same node): a replay reads ``x``'s
        value there, which is not overwritten (see :meth:`record_write`)."""
        ref = self.slot_of.get(id(x))
        if ref is None:   # an argument or weight written in place while recording: refused in record_write
            return
        self.slot_of[id(copy)] = self.array_ref[id(copy.data)] = ref
        self.keep.append(copy)

    def record_write(self, name: str, x: Tensor, value: Tensor, recorded: bool) -> None:
        """``x.data[...] = value.data`` by the in-place op ``name`` (``recorded``: while recording gradients).

        Recorded (``relu_`` on a computed tensor): ``x`` continues the graph as ``value`` (eager re-points its
        node), so later reads of ``x`` read ``value``; the old array is not written (the ops that read the old
        value read its copy). Not recorded (``no_grad``: a BatchNorm's running statistics): a step writes the
        value into the same array and bumps its version, as eager; writes into memory the call does not own
        are undone if the replay must capture again (an op of another shape)."""
        self.writes += 1
        ref, new = self.slot_of.get(id(x)), self.slot_of.get(id(value))
        if new is None:
            self.note_eager(f"it changes a tensor in place ({name}) with a value no captured op made")
            return
        if recorded:
            if type(ref) is not tuple:
                self.note_eager(f"it changes an argument or a tensor it reads in place ({name}) while recording "
                                "gradients, which a replay cannot do to the caller's tensor")
            else:   # the views eager re-points are told (repoint); the others, read later, would see the write
                shared = self._shared(x)   # in eager mode, not in a replay
                if shared:
                    self.stale.append((len(self.steps), name, shared))
            self.slot_of[id(x)] = self.array_ref[id(x.data)] = new
            self.repointed.add(id(x))
            return
        if id(x) in self.repointed:   # a replay would write into the array of the op that made the value
            self.note_eager(f"it changes a tensor in place ({name}) under no_grad after a recorded in-place op on "
                            "it (a replay would change what that op saved)")
            return
        if ref is None:   # a tensor no op read yet: an external input
            ref = self.slot_of[id(x)] = self.array_ref[id(x.data)] = len(self.externals)
            self.externals.append(x)
        if type(ref) is int:
            self.writes_into.add(ref)
        owner = id(memory_owner(x.data))
        outside = type(ref) is int or any(id(memory_owner(t.data)) == owner for t in self.externals)
        refs = [("x", r) if type(r) is int else r for r in (ref, new)]
        self.steps.append((_Write(name, outside), refs, 1, (x.data.shape,), False, []))
        # a computed tensor: later reads come after the write. One that requires grad keeps its node in eager mode
        # (a no_grad write changes its values, not its graph): later reads still read its op's output (the array
        # the step wrote into, later in step order), so their gradients flow to that op, not into the step
        if type(ref) is tuple and not x.requires_grad:
            self.slot_of[id(x)] = self.array_ref[id(x.data)] = ("o", len(self.steps) - 1, 0)
        self.keep.append(x)

    def repoint(self, view: Tensor, fresh: Tensor) -> None:
        """After a recorded in-place write into its base, ``view`` continues the graph as ``fresh`` (the same view
        of the base's new value, as eager re-points it): later reads of ``view`` read ``fresh``."""
        ref = self.slot_of.get(id(fresh))
        if ref is not None:
            self.slot_of[id(view)] = self.array_ref[id(view.data)] = ref
            self.repointed.add(id(view))

    def _shared(self, x: Tensor) -> set:
        """The refs of the traced tensors other than ``x`` that share ``x``'s memory (a view made under ``no_grad``,
        a ``detach()``, an op's input that its output views): they see a recorded write in eager mode, not in a
        replay (see :meth:`record_write`)."""
        owner = memory_owner(x.data)
        refs = {self.slot_of.get(id(t)) for t in (*self.externals, *self.keep)
                if t is not x and memory_owner(t.data) is owner}
        return {("x", ref) if type(ref) is int else ref for ref in refs if ref is not None}

    def stale_read(self, outputs: list) -> str | None:
        """Why a replay would differ: a tensor sharing memory with one written in place while recording is read
        (or returned) after the write; None if none is."""
        for at, name, shared in self.stale:
            for step in self.steps[at:]:
                if any(ref in shared for ref in step[1]) or any(ref in shared for _n, _p, ref in step[5]):
                    return (f"it changes a tensor in place ({name}) while recording gradients, and op "
                            f"'{step[0].name}' then reads a view of it (a replay would read the old value)")
            for y in outputs:
                ref = self.slot_of.get(id(y))
                if (("x", ref) if type(ref) is int else ref) in shared:
                    return f"it returns a view of a tensor it changes in place ({name}) while recording gradients"
        return None

    def _array_params(self, op: Function) -> list:
        """The op's parameters that hold the array of a traced tensor (an index Tensor for getitem):
        ``(attribute, position in a tuple or None, ref)``; a replay passes them the new values."""
        found = []
        for name, value in op.__dict__.items():
            if name in _NOT_CAPTURED:
                continue
            for position, part in enumerate(value) if type(value) is tuple else ((None, value),):
                ref = self.array_ref.get(id(part)) if backend.is_array(part) else None
                if ref is not None:
                    found.append((name, position, ("x", ref) if type(ref) is int else ref))
        return found

    def record_draw(self, name: str, make: Callable, inputs: tuple, result: Tensor) -> None:
        found = _generators_in(make)
        for generator in found:   # generator=: a replay draws from it again
            self.generators.append((len(self.steps), generator))
        if name in RANDOM_DRAWS and not found and type(result.data) is numpy.ndarray:
            self.host_draws += 1   # from the engine's host generator
        self.draws.append((len(self.steps), result, result.data.strides))
        self.record(_Draw(name, make), inputs, result)

    def note_read(self, tensor: Tensor, how: str) -> None:
        """Python read the values of a tensor: if ``fn`` computed it, its path may depend on them."""
        ref = self.slot_of.get(id(tensor))
        if not self.reads_run_eagerly or ref is None and not tensor.requires_grad:
            return
        if ref is None:   # a weight no op read yet (an optimizer changes it in place between calls)
            what = f"a weight of shape {tuple(tensor.shape)} that requires grad"
        else:
            what = f"argument or weight {ref}" if type(ref) is int else \
                f"the output of op {ref[1]} '{self.steps[ref[1]][0].name}'"
        self.note_eager(f"it reads the value of a tensor (.{how}() of {what}), so its path or constants may "
                        "depend on values")

    def note_seed(self, what: str) -> None:
        """``fn`` seeds (or sets the state of) a random generator: a replay would not."""
        self.note_eager(f"it seeds a random generator ({what} inside it), which a replay would not do")

    def note_mode(self, module: Any, flag: bool, changed: bool) -> None:
        """``fn`` read a module's train/eval ``flag`` or (``changed``) set it, ``flag`` its value before."""
        entry = self.modes.get(id(module))
        if entry is None:
            self.modes[id(module)] = [module, flag, changed]
        elif changed:
            entry[2] = True
        elif not entry[2] and entry[1] != flag:   # it changed, yet not by fn: another thread set it meanwhile
            self.modes_mixed = True

    def note_eager(self, why: str) -> None:
        self.eager_only = self.eager_only or why


# the draws that are random (the others, e.g. nonzero or argmax, recompute from their inputs)
RANDOM_DRAWS = frozenset({"rand", "randn", "randint", "randperm", "multinomial", "bernoulli", "bernoulli_",
                          "normal", "poisson", "binomial", "standard_gamma"})


def _generators_in(make: Callable) -> list:
    """The ``generator=`` objects (an ``mg.Generator`` other than the default one, or a NumPy Generator) that
    a random draw's ``make`` holds in its closure: a replay draws from them again."""
    found = []
    for cell in getattr(make, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:   # a cell not yet filled
            continue
        if isinstance(value, numpy.random.Generator) or (isinstance(value, generators.Generator)
                                                         and not isinstance(value, generators._DefaultGenerator)):
            found.append(value)
    return found


_CPU = backend.resolve_device("cpu")


def host_stream() -> Any:
    """The engine's host generator this thread draws from now (a NumPy Generator)."""
    return generators.generator(_CPU)


def stream_of(generator: Any) -> Any:
    """The array generator behind ``generator`` now (an ``mg.Generator``'s changes when it is seeded again)."""
    return generator._draw if isinstance(generator, generators.Generator) else generator


def random_states(sources: list) -> list:
    """``(bit generator, state)`` of each host stream among a program's random ``sources`` (CuPy's
    generators are left out: they have no state to put back), for :func:`restore_random`."""
    states = []
    for source in sources:
        bits = getattr(source() if source is host_stream else stream_of(source), "bit_generator", None)
        if bits is not None:
            states.append((bits, bits.state))
    return states


def restore_random(states: list) -> None:
    """Put the streams back where :func:`random_states` found them."""
    for bits, state in states:
        bits.state = state


class _Draw(Function):
    """A random constructor or a comparison inside a capture: replayed by calling it again.

    ``make(*arrays)`` returns the array; a random draw takes no inputs and
    draws from the engine's generator at replay time, in eager's order.
    """

    layout: tuple | None = None   # _memory_layout of the capture's result, where it was laid out after the draw

    def __init__(self, name: str, make: Callable) -> None:
        self.name, self.make = name, make

    def forward(self, *arrays: Any) -> Any:
        if self.layout is None:
            return self.make(*arrays)
        order, back = self.layout   # the same values, in memory as the capture's (rand_like of a transposed x)
        return self.make(*arrays).transpose(order).copy().transpose(back)


class _Write(Function):
    """An in-place write inside a capture, not recorded (a BatchNorm's running statistics under ``no_grad``):
    a replay writes the value into the same array (the caller's buffer) and bumps its version, as eager.
    ``outside``: memory the call does not own; each replay then sets ``undo``, its own list where the old values
    go first (see ``Replay.forward`` and ``Program.undo_writes``)."""

    def __init__(self, name: str, outside: bool) -> None:
        self.name, self.outside = name, outside
        self.undo: list | None = None

    def forward(self, x: Any, value: Any) -> Any:
        if self.undo is not None:
            self.undo.append((x, x.copy(), INPLACE.version(x)))
        x[...] = value
        INPLACE.bump(x)
        return x


_NONE = ("none",)   # the spec of a None inside an output (a Tensor's spec is None)


class NotCapturable(TypeError):
    """An output that is not made of Tensors (a number, an array): the call runs eagerly."""


def _flatten(value: Any, leaves: list) -> Any:
    """The Tensors of an output nested in tuples, lists, named tuples and dicts (None allowed), and a
    spec to rebuild it; anything else raises :class:`NotCapturable`."""
    if isinstance(value, Tensor):
        leaves.append(value)
        return None
    if value is None:
        return _NONE
    if isinstance(value, (tuple, list)):
        return (type(value), [_flatten(v, leaves) for v in value])
    if type(value) in (dict, collections.OrderedDict):
        return (type(value), [_flatten(v, leaves) for v in value.values()], list(value))
    raise NotCapturable(type(value).__name__)


def _unflatten(spec: Any, leaves: Any) -> Any:
    if spec is None:
        return next(leaves)
    if spec is _NONE:
        return None
    kind, items = spec[0], [_unflatten(s, leaves) for s in spec[1]]
    if len(spec) == 3:   # a dict: its keys, in order
        return kind(zip(spec[2], items))
    return kind(*items) if hasattr(kind, "_fields") else kind(items)   # a named tuple takes its fields


def fresh_op(op: Function) -> Function:
    """A copy of a captured op without its graph state: the instance every replay reuses. A method of the op's
    that its forward set as an attribute (Mul's backward of a float16 array times a number) is the copy's: bound
    to the original, it would read the original's saved arrays, freed by the capture's backward. Also the ops a
    fused GPU kernel replays (fusion.FusedOps)."""
    copy = type(op).__new__(type(op))
    copy.__dict__.update({k: types.MethodType(v.__func__, copy) if type(v) is types.MethodType and v.__self__ is op
                          else v for k, v in op.__dict__.items() if k not in _NOT_CAPTURED})
    return copy


class Program:
    """One captured signature, as two straight lists over a list of values.

    Values: ``[external inputs…, constants…, outputs of op 0…, outputs of op 1…]``;
    every op input and output is an index into it. ``forward_plan`` runs in
    recording order; ``backward_plan`` in eager's Kahn order, each entry with
    the value index every input gradient is added into.
    """

    def __init__(self, tracer: Tracer, outputs: list[Tensor], spec: Any) -> None:
        # not the externals themselves: the capture's arguments (and their graphs) must not outlive the call
        self.n_externals = len(tracer.externals)
        self.scope = tracer.scope
        self.constants = tracer.constants
        self.spec = spec
        self.lock = threading.Lock()   # replays reuse one instance per op: one thread at a time
        n_ext = self.n_externals
        first, producer, base = [], {}, n_ext + len(self.constants)
        for k, (_op, _refs, n_out, _shapes, recorded, _params) in enumerate(tracer.steps):
            first.append(base)
            for i in range(n_out if recorded else 0):   # only recorded ops pass gradients on
                producer[base + i] = k
            base += n_out
        self.n_values = base

        def index(ref: Any) -> int:
            if type(ref) is int:
                return ref
            return ref[1] if ref[0] == "x" else n_ext + ref[1] if ref[0] == "c" else first[ref[1]] + ref[2]

        self.outputs = [index(tracer.slot_of[id(y)]) for y in outputs]
        # outputs a replay hands back as eager does rather than as new outputs of its node (fix_outputs): an
        # argument or weight returned as it is (eager returns that object), a tensor returned twice (the same
        # object twice), and one that eager gives without a gradient (an index, a mask, a detached value)
        self.passthrough = [(j, v) for j, v in enumerate(self.outputs) if v < n_ext]
        first_at: dict[int, int] = {}
        self.duplicates = [(j, first_at[v]) for j, v in enumerate(self.outputs)
                           if v >= n_ext and first_at.setdefault(v, j) != j]
        self.no_grad_outputs = [j for j, (v, y) in enumerate(zip(self.outputs, outputs))
                                if tracer.grad and v >= n_ext and first_at[v] == j and not y.requires_grad]
        self.made_inside: set[int] = set()   # weights made inside fn (found by the check run): returned as copies
        # outputs eager tracks as views of other outputs (``return y, y[-1]``): a replay's are tracked so too
        self.views = output_views(outputs) or []
        self.fixes = bool(self.passthrough or self.duplicates or self.no_grad_outputs or self.views)
        # the random streams its draws use (the engine's host generator, generator= objects): a call that
        # must be captured again (an op's shape changed) puts them back first, so it draws what eager would
        self.random = ([host_stream] if tracer.host_states else []) + list(dict.fromkeys(
            generator for _step, generator in tracer.generators)) or None
        self.generators = tracer.generators
        self.host_states = tracer.host_states
        self.writes_into = tracer.writes_into   # externals it writes: the check run makes sure fn made none
        # (output, version) of the outputs eager changed in place, in memory no external shares: a replay made
        # their arrays anew (a recorded write continues as its value's array), so their counters are set to
        # eager's; the ones that share an external's memory count the replay's own writes into it
        self.versions: list[tuple[int, int]] = []
        if tracer.writes:
            owners = {id(memory_owner(t.data)) for t in tracer.externals}
            self.versions = [(j, INPLACE.version(y.data)) for j, y in enumerate(outputs)
                             if INPLACE.version(y.data) and id(memory_owner(y.data)) not in owners]
        # what minigrad.viz draws for a replay, op by op as eager would: (name, scope, out_meta, input value
        # indices, first output value index, recorded, tag, output tags of a fused cell's [h, c]) per captured op
        self.drawn = [(op.name, op.scope, op.out_meta, [index(r) for r in refs], first[k], rec, op.tag,
                       op.__dict__.get("output_tags"))
                      for k, (op, refs, _n, _shapes, rec, _params) in enumerate(tracer.steps)]
        self.names = [op.name for op, *_ in tracer.steps]
        self.frozen = _frozen(tracer)
        # the tensors found on the way (weights): a replay checks they still have these shapes and flags
        self.weights = tracer.externals[len(tracer.arguments):]
        # mg.compile checks the frozen values on the next calls (see compile.VERIFY_CALLS): raw values, and
        # tensors found on the way that need no gradient (a buffer, or one made inside fn from values)
        # (and draws from generator= objects: one made or seeded inside fn would not be made again)
        # (and a weight it returns: made inside fn, eager returns a new one on every call)
        self.verified = not self.frozen and all(t.requires_grad for t in self.weights) and not self.random \
            and not self.writes_into \
            and all(v < len(tracer.arguments) for _j, v in self.passthrough)
        self.checks_left, self.argument_values = 0, 0
        self.unproven = False   # checked with the capture's argument values only: a call with others is checked too
        self.diverged = False   # a check found it took another path: dropped, never replayed
        self.weight_meta = [(t.data.shape, t.data.strides, t.data.dtype, type(t.data), t.requires_grad)
                            for t in self.weights]   # (strides: a view or a copy, a branch on is_contiguous())
        # a lone Tensor or a flat tuple of them is returned as Replay made it; else rebuilt from the spec
        self.form = "one" if spec is None else "tuple" if spec[0] is tuple and not any(spec[1]) else "nested"
        ops = [fresh_op(op) for op, *_ in tracer.steps]
        for k, y, strides in tracer.draws:   # laid out after it was drawn (rand_like's preserve_format): replayed so
            if y.data.strides != strides:
                ops[k].layout = _memory_layout(y.data)
        # the writes into the caller's memory (a BatchNorm's running statistics): each replay gives them its own
        # undo list (Replay.forward), which undo_writes puts back should the replay stop
        self.undoing = tuple(op for op in ops if plain_class(op) is _Write and op.outside)
        args = [[index(r) for r in refs] for _op, refs, *_ in tracer.steps]
        # the gradient routes of each recorded op: (input position, value index) where a gradient flows
        routes = [tuple((j, v) for j, v in enumerate(args[k]) if tracer.steps[k][4] and ops[k].needs_grad[j])
                  for k in range(len(ops))]
        order = _kahn_order(self.outputs, routes, producer)
        # an output whose gradient reaches every op (the loss of ``return loss, logits``): a backward given it runs
        # them all, so Replay.backward need not look for ops kept for a later backward (-1: none of the first few)
        self.cover = next((j for j, v in enumerate(self.outputs[:8])
                           if len(_kahn_order([v], routes, producer)) == len(order)), -1)
        # outputs that the call's own ops also read with a gradient (``return loss, logits``): eager's hooks and
        # retain_grad on such an output see its whole gradient, summed with the inside's terms (Replay.backward)
        inside = {v for r in routes for _j, v in r}
        self.read_inside = {j: v for j, v in enumerate(self.outputs) if v >= n_ext and v in inside}
        # the externals each output's gradient reaches: autograd.grad asking for an output decides from them
        # whether eager's node for it would run on (autograd/functions._Targets)
        self.reaches = [_reached(v, routes, producer, n_ext) for v in self.outputs]
        # the externals no output's gradient reaches (an argument returned as it is, or not read): eager's graph
        # has no edge to them, so the replay's node has none either (fix_outputs)
        through = {j for j, _v in self.passthrough}   # returned as it is: not the node's output
        reached = frozenset().union(*[r for j, r in enumerate(self.reaches) if j not in through])
        self.unreached = frozenset(v for v in range(n_ext) if v not in reached)
        self.fixes = self.fixes or bool(self.unreached)
        keeps = {k: 2 if any(backend.is_array(v) for v in ops[k].__dict__.values()) else 1 for k in order}
        saved_at = {k: i for i, k in enumerate(sorted(keeps))}
        reads = [a + [index(ref) for _name, _position, ref in step[5]] for a, step in zip(args, tracer.steps)]
        # each op output is dropped from the values once its last reader ran (a replayed loop over time
        # would otherwise hold every intermediate array to its end: more memory, colder caches, ~8 % of
        # an LSTM layer's step); what backward needs is in the ops' saved arrays
        last_read = {v: k for k, a in enumerate(reads) for v in a}
        returned = set(self.outputs)
        dead: list[list[int]] = [[] for _ in ops]
        for k, step in enumerate(tracer.steps):
            for v in range(first[k], first[k] + step[2]):
                if v not in returned:
                    dead[max(last_read.get(v, k), k)].append(v)
        self.forward_plan = []
        for k, (op, a, (_o, _r, _n_out, shapes, _rec, params)) in enumerate(zip(ops, reads, tracer.steps)):
            forward = op.forward if not params else _with_params(op, params, len(args[k]))
            # a multi-output op (unbind, split) returns a tuple even when it has one output
            self.forward_plan.append((op, forward, len(a), operator.itemgetter(*a) if a else None,
                                      0 if op.multiple else 1, shapes[0], keeps.get(k, 0), tuple(dead[k])))
        self.backward_plan = [(ops[k], ops[k].backward, saved_at[k], keeps[k], first[k], tracer.steps[k][2],
                               routes[k]) for k in order]
        self.reads, self.first, self.n_outs = reads, first, [step[2] for step in tracer.steps]
        self.shapes = [step[3] for step in tracer.steps]   # each op's output shapes at capture, for errors
        # the same plans as straight-line code (minigrad.codegen), written once the replays by the loops have
        # taken about as long as the writing will (codegen.worth_writing; a program made only to check a
        # capture never replays); None where too long: the loops below run instead
        self.forward_code: Callable | None = None
        self.backward_code: Callable | None = None
        self.replays = 0          # replays by the loops so far
        self.replay_seconds = 0.0   # and their time, forward and backward
        self.written = False

    def run(self, arrays: tuple) -> tuple[tuple, list]:
        """The outputs' values and the per-op state backward needs, from the external inputs' arrays."""
        if self.forward_code is not None:
            return self.forward_code(arrays)
        if not self.written and codegen.worth_writing(self.replays, self.replay_seconds, len(self.forward_plan)):
            self.written = True
            self.forward_code = codegen.write_forward(self, _Retrace)
            self.backward_code = codegen.write_backward(self)
            if self.forward_code is not None:
                return self.forward_code(arrays)
        start = time.perf_counter()
        values, saved = self.forward(arrays)
        self.replays += 1
        self.replay_seconds += time.perf_counter() - start
        return tuple([values[i] for i in self.outputs]), saved

    @staticmethod
    def undo_writes(undo: list) -> None:
        """Put back what a replay that stopped (an op of another shape: captured again) wrote into the caller's
        memory, as its own ``undo`` list recorded (``Replay.forward``, under the program's lock, so no other replay
        of it wrote meanwhile), so the capture's eager run updates it once, as eager (its version counter too)."""
        while undo:
            array, old, version = undo.pop()
            array[...] = old
            INPLACE.set_version(array, version)

    def fix_outputs(self, outs: tuple, tensors: list, weights: list) -> tuple:
        """The replay's outputs as eager gives them (see ``passthrough`` …): ``tensors`` are the call's
        Tensor arguments, ``weights`` the tensors found on the way."""
        outs = list(outs)
        node = outs[0]._node if outs else None
        if self.unreached and node is not None:
            node.edges = tuple([None if i in self.unreached else edge for i, edge in enumerate(node.edges)])
            node.needs_grad = tuple([i not in self.unreached and n for i, n in enumerate(node.needs_grad)])
        for j in self.no_grad_outputs:
            outs[j] = Tensor._make(outs[j].data, False, None, 0)
        n_arguments = len(tensors)
        for j, v in self.passthrough:
            if v < n_arguments:
                outs[j] = tensors[v]
            elif v in self.made_inside:   # eager makes a new tensor on every call
                outs[j] = Tensor._make(weights[v - n_arguments].data.copy(), False, None, 0)
            else:
                outs[j] = weights[v - n_arguments]
        for j, first in self.duplicates:
            outs[j] = outs[first]
        for j, k, how in self.views:
            if k is None:
                outs[j]._view = NO_GRAD_VIEW   # a view made under no_grad: in-place ops on it refused as eager's
            elif k < 0:   # a view of an array its op saved: written in place as eager's (whose backward then refuses)
                outs[j]._view = ()
            elif type(outs[j].data) is not numpy.ndarray or memory_owner(outs[j].data) is memory_owner(outs[k].data):
                _note_view(outs[k], outs[j], how)   # an in-place op on either re-points the other's graph
        return tuple(outs)

    def failed(self, error: Exception, arrays: tuple) -> Exception:
        """``error``, raised by a captured op's forward during a replay, as an error that names the op, its
        name scope and its input shapes (the op is found from the traceback)."""
        k = None
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code is Program.forward.__code__:   # the loop: the op about to append its output
                done = len(frame.f_locals["values"])
                k = self.first.index(done) if done in self.first else None
            elif self.forward_code is not None and frame.f_code is self.forward_code.__code__:
                k = self.forward_code.op_at_line.get(tb.tb_lineno)
            tb = tb.tb_next
        if k is None:
            return error
        name, scope = self.drawn[k][0], self.drawn[k][1]

        def shape(v: int) -> Any:
            if v < self.n_externals:
                return arrays[v].shape
            if v < self.n_externals + len(self.constants):
                constant = self.constants[v - self.n_externals]
                return getattr(constant, "shape", None) or type(constant).__name__
            at = max(i for i, f in enumerate(self.first) if f <= v)
            return self.shapes[at][v - self.first[at]]
        shapes = " and ".join(str(shape(v)) for v in self.reads[k])
        where = f" in scope '{scope}'" if scope else ""
        text = (f"compiled: replaying op {k} '{name}'{where} of the captured function: {error} "
                f"(its input shapes {shapes})")
        try:   # the error's own class (ShapeMismatchError is a ValueError and a RuntimeError: eager's class)
            return type(error)(text)
        except Exception:   # noqa: BLE001 - a class that takes other arguments: the nearest of the usual ones
            for kind in (IndexError, ValueError, TypeError):
                if isinstance(error, kind):
                    return kind(text)
        return ValueError(text)

    def anomaly_check(self, first: int, grads_out: Any, grads_in: tuple) -> None:
        """Under ``detect_anomaly``: a replayed op whose backward made a NaN/Inf gradient is named, as eager."""
        k = self.first.index(first)
        anomaly.check_backward(self.drawn[k][0], self.drawn[k][1], grads_in, grads_out)

    def forward(self, arrays: tuple) -> tuple[list, list]:
        """Run every captured op's forward; returns the values and the per-op state backward needs."""
        values = [*arrays, *self.constants]
        saved: list = []
        append, extend, keep_saved = values.append, values.extend, saved.append
        for op, forward, n_args, fetch, single, shape, keep, dead in self.forward_plan:
            out = forward(*fetch(values)) if n_args > 1 else forward(fetch(values)) if n_args else forward()
            if single:
                if type(out) is not numpy.ndarray and isinstance(out, (numpy.generic, int, float)):
                    out = numpy.asarray(out)   # NumPy gives scalars for 0-d results
                if out.shape != shape:
                    raise _Retrace
                append(out)
            else:
                extend(out)
            if keep:
                keep_saved(op.saved if keep == 1 else op.__dict__.copy())
            for i in dead:
                values[i] = None
        return values, saved

    def backward(self, saved: list, grads_out: tuple, observe: Callable | None = None,
                 taps: dict | None = None, check: Callable | None = None) -> tuple:
        """Every captured op's backward in eager's order; returns one gradient (or None) per external.

        Each op's entry of ``saved`` is set to None once its backward is done (its arrays are freed
        as early as eager frees a node's): pass a copy to keep them.

        ``observe(first, grads_out, grads_in)``, if given, sees each op that ran (``first``: the value
        index of its first output), as ``autograd.observe_backward``'s observer sees a node.
        ``taps`` (value index -> function of its gradient, returning the gradient sent on): run on a
        value's summed gradient just before the op that made it runs its backward (the hooks of an
        output the call's ops also read, see :meth:`Replay.backward`). ``check(op, state, keep)``, if given, runs
        before each op's backward (the in-place check of :meth:`Replay._check_op`).
        """
        if observe is None and taps is None and check is None and self.backward_code is not None:
            return self.backward_code(saved, grads_out)
        start = time.perf_counter()
        grads = self._backward(saved, grads_out, observe, taps, check)
        self.replay_seconds += time.perf_counter() - start
        return grads

    def _backward(self, saved: list, grads_out: tuple, observe: Callable | None, taps: dict | None = None,
                  check: Callable | None = None) -> tuple:
        grads: list = [None] * self.n_values
        owned: set = set()   # value indices whose sum this backward allocated (safe to add into in place)
        for index, g in zip(self.outputs, grads_out):
            if g is not None:
                grads[index] = _sum(grads[index], g, index, owned)
        for op, backward, at, keep, first, n_out, routes in self.backward_plan:
            if taps is not None:
                for v in range(first, first + n_out):
                    if v in taps and grads[v] is not None:
                        grads[v] = taps[v](_dense(grads[v]))
            if n_out == 1:
                g = grads[first]
                if g is None:
                    continue
                grads[first] = None   # read once: freed when the op is done with it, as eager frees them
                gouts: Any = (g if type(g) is numpy.ndarray else _dense(g),)
            else:
                gouts = grads[first:first + n_out]
                if all(g is None for g in gouts):
                    continue
                grads[first:first + n_out] = [None] * n_out
                gouts = [_dense(g) for g in gouts]
            if check is not None and saved[at] is not None:
                check(op, saved[at], keep)
            if keep == 1:   # this call's saved arrays back on the shared op instance
                op.saved = saved[at]
            else:
                op.__dict__.update(saved[at])
            gins = backward(*gouts)
            saved[at] = None
            if keep == 1:
                op.saved = None   # the shared instance does not keep this call's arrays alive after it
            if type(gins) is not tuple:
                gins = (gins,)
            if observe is not None:   # minigrad.viz: gradient norms inside a replayed call
                observe(first, gouts, gins)
            for j, index in routes:
                g = gins[j]
                if g is not None:
                    total = grads[index]   # a lazy gradient (ProductSum) is valued where it is read
                    grads[index] = g if total is None else _sum(total, g, index, owned)
        return tuple(grads[:self.n_externals])


def _memory_layout(array: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(order, back)`` for ``array``, of any shape: ``order`` lists its dims from the largest stride to the
    smallest (how its elements lie in memory), ``back`` the inverse permutation, so that
    ``fresh.transpose(order).copy().transpose(back)`` has ``fresh``'s values laid out as ``array``'s."""
    order = sorted(range(array.ndim), key=lambda d: -array.strides[d])
    back = sorted(range(array.ndim), key=order.__getitem__)
    return tuple(order), tuple(back)


def output_views(outputs: list[Tensor]) -> list[tuple[int, int | None, Any]] | None:
    """``(j, k, how)`` for each output ``j`` that eager tracks as the view ``how`` of output ``k`` (``return y,
    y[-1]``; k None: a view made under no_grad; k -1: memory no other output shares, a view of an array its own op
    saved or of a tensor the call does not return, ``x.max()``, ``tensordot``'s reshape), which a replay's outputs
    must be too: an in-place op on ``y`` re-points ``y[-1]``'s graph in eager mode. None where an output is tracked
    as a view of a tensor the call does not return (``y.t()[0]``) and another output owns that memory (``y``): a
    replay cannot track it (an in-place op on ``y`` would miss the view's graph), so that signature runs eagerly.
    (Outputs that are all views of a tensor made inside, ``y.t()`` and ``y[0]``, are untracked views in a replay:
    an in-place op on one raises.)"""
    at = {id(y): k for k, y in enumerate(outputs)}
    sharing: dict[int, set[int]] = {}   # memory owner -> the outputs (distinct tensors) that read it, but views
    for y in outputs:                    # tracked as views of another output (which follow that one)
        record = getattr(y, "_view", None)
        if not (record and record is not NO_GRAD_VIEW and at.get(id(record[0]), at[id(y)]) != at[id(y)]):
            sharing.setdefault(id(memory_owner(y.data)), set()).add(id(y))
    views, through = [], set()
    for j, y in enumerate(outputs):
        record = getattr(y, "_view", None)
        if record is NO_GRAD_VIEW:
            views.append((j, None, None))
        elif record and at.get(id(record[0]), j) != j:
            views.append((j, at[id(record[0])], record[1]))
        elif record and len(sharing[id(memory_owner(y.data))]) > 1:   # a view of a tensor the call does not return
            through.add(id(memory_owner(y.data)))
        elif record == () or (record or record is None and y._node is not None and
                                getattr(y.data, "base", None) is not None) and _writes_through(y):
            views.append((j, -1, None))   # (an output of memory of its own needs nothing)
    owners = (id(y.data) for y in outputs if memory_owner(y.data) is y.data)
    return None if through and not through.isdisjoint(owners) else views


def _writes_through(y: Tensor) -> bool:
    """Whether eager mode records an in-place op on ``y``, a view (or its own view's array) whose memory no other
    output reads: the tensor its views lead to owns its memory, or an op's own saved array (``x.max()``); not an
    untracked view (quantile's ``y[..., 0]``), where eager raises, and so does a replay's untracked output."""
    base = y
    record = getattr(base, "_view", None)
    while record and record is not NO_GRAD_VIEW:
        base = record[0]
        record = getattr(base, "_view", None)
    if record is NO_GRAD_VIEW or base._node is None:
        return False
    return record == () or getattr(base.data, "base", None) is None or _views_own_result(base)


def _frozen(tracer: Tracer) -> list[tuple[int, str, Any]]:
    """The values a replay reuses from the capture: raw (non-Tensor) op inputs and the arrays an op holds
    that are not a traced tensor's (``(step, what, value)``). If ``fn`` computed one from an argument's
    values with NumPy (``t.data``), it differs on a call with other values: :meth:`Compiled._capture`
    compares them with a fresh eager run's."""
    found = [(step, "a constant input", value) for step, value in zip(tracer.constant_steps, tracer.constants)]
    for step, (op, _refs, _n, _shapes, _recorded, params) in enumerate(tracer.steps):
        traced = {name for name, _position, _ref in params}
        own = tracer.own_outputs.get(step, ())
        for name, value in op.__dict__.items():
            if name in _NOT_CAPTURED or name == "xp" or name in own:
                continue
            parts = value if type(value) is tuple else (value,)
            if any(backend.is_array(part) for part in parts):
                found.append((step, f"its array '{name}'" + (" (partly traced)" if name in traced else ""),
                              tuple(None if name in traced and tracer.array_ref.get(id(part)) is not None
                                    else part for part in parts)))
    return found


def _with_params(op: Function, params: list, n_args: int) -> Callable:
    """``op.forward`` taking, after its inputs, the new arrays of its array parameters (see ``_array_params``)."""
    template = {name: getattr(op, name) for name, _position, _ref in params}

    def forward(*arrays: Any) -> Any:
        values = {name: list(value) if type(value) is tuple else value for name, value in template.items()}
        for (name, position, _ref), array in zip(params, arrays[n_args:]):
            if position is None:
                values[name] = array
            else:
                values[name][position] = array
        for name, value in values.items():
            setattr(op, name, tuple(value) if type(value) is list else value)
        return op.forward(*arrays[:n_args])

    return forward


def _reached(value: int, routes: list[tuple], producer: dict, n_externals: int) -> frozenset:
    """The external inputs (value indices below ``n_externals``) a gradient of ``value`` flows into."""
    found, seen, stack = set(), set(), [value]
    while stack:
        v = stack.pop()
        if v < n_externals:
            found.add(v)
        elif v in producer and producer[v] not in seen:
            seen.add(producer[v])
            stack.extend(u for _j, u in routes[producer[v]])
    return frozenset(found)


def _kahn_order(outputs: list[int], routes: list[tuple], producer: dict) -> list[int]:
    """The order in which eager's backward walk (``autograd._walk``) runs the captured ops.

    The same two passes over the same edges in the same order, from the ops
    that made the outputs, so every gradient sum adds its terms in eager's
    order. That is eager's order when the outputs' gradients are complete
    before any op inside runs, as when a loss reads them (the tests' layers and
    losses); an outer graph that interleaves with the inside can order a sum of
    three or more terms differently (a last-bit difference, not a wrong one).
    """
    roots = list(dict.fromkeys(producer[v] for v in outputs if v in producer))
    consumers = {k: 0 for k in roots}
    stack = list(roots)
    while stack:
        for _j, v in routes[stack.pop()]:
            parent = producer.get(v)
            if parent is None:
                continue
            if parent in consumers:
                consumers[parent] += 1
            else:
                consumers[parent] = 1
                stack.append(parent)
    # eager runs the ready op recorded last first (a heap by -k: the ops are numbered in the order recorded)
    order, ready = [], [-k for k in roots if consumers[k] == 0]
    heapify(ready)
    while ready:
        k = -heappop(ready)
        order.append(k)
        for _j, v in routes[k]:
            parent = producer.get(v)
            if parent is not None:
                consumers[parent] -= 1
                if consumers[parent] == 0:
                    heappush(ready, -parent)
    return order


class _OwnTable(dict):
    """A replayed call's hook (or ``retain_grad``) table, output index -> hooks (or weak reference): the
    engine's walk reads it with ``items()``, which leaves out the outputs the call's own ops also read
    (``inside``) but for their ``grad_fn`` prehooks: their hooks run in the replay's backward, on the whole
    gradient (:meth:`Replay._taps`), as eager runs them on the gradient summed from inside and outside."""

    def __init__(self, table: dict, inside: dict) -> None:
        super().__init__(table)
        self.inside = inside

    def items(self) -> Any:   # type: ignore[override]
        found = []
        for index, value in super().items():
            if index in self.inside:
                if type(value) is not list:   # a retain_grad: the replay's backward gives its .grad
                    continue
                value = [hook for hook in value if _is_prehook(hook)]   # the node's own: on what it gets
                if not value:
                    continue
            found.append((index, value))
        return found


def _own_table(attribute: str) -> property:
    """A node's hook (or retain_grad) table kept under ``attribute``, wrapped in an :class:`_OwnTable` when set on
    a replay whose outputs its own ops read."""

    def get(node: Replay) -> dict | None:
        return node.__dict__.get(attribute)

    def set_table(node: Replay, table: dict | None) -> None:
        inside = node.program.read_inside
        node.__dict__[attribute] = _OwnTable(table, inside) if inside and table is not None else table

    return property(get, set_table)


class _Freed(dict):
    """The state of a replayed op whose backward ran and freed its arrays, while the call's other ops keep theirs
    (:meth:`Replay._keep_the_rest`): reading it (as the op's ``saved``, or its attributes) raises PyTorch's error."""

    def __init__(self, op: str) -> None:
        super().__init__()
        self.op = op

    def _refuse(self, *_args: Any) -> Any:
        raise RuntimeError(f"backward: trying to backward through the graph a second time (op '{self.op}' of a "
                           "replayed mg.compile call); its saved arrays were freed by the first backward. Pass "
                           "retain_graph=True to the first backward() to keep them.")

    __iter__ = __getitem__ = __len__ = keys = items = _refuse


class Replay(Function):
    """One call of a compiled function as one node: forward and backward replay the captured ops."""

    name = "compiled"
    multiple = True
    # the backward replays the captured ops' own backwards, each passed (or refused) by engine._complex_gate when the
    # eager run captured it; a call of other dtypes is captured again, so complex values get PyTorch's gradients
    complex_grad = True
    gated_inside = True   # and engine._dtype_gate gave each captured op its backward in its inputs' dtypes

    def __init__(self, program: Program) -> None:
        self.program = program
        self.n_outputs = len(program.outputs)

    # hooks and retain_grad on an output the call also reads run in backward (see _OwnTable), not in the walk
    hooks = _own_table("_hooks")        # type: ignore[assignment]
    retained = _own_table("_retained")  # type: ignore[assignment]

    def register_hook(self, hook: Any) -> Any:
        """Refused: this node stands for all the call's ops, so its ``grad_inputs`` are the gradients of the call's
        inputs, not those of the op eager's ``grad_fn`` is (a hook that scales them scaled every path of the call,
        a silently wrong gradient). Prehooks (one output) see eager's ``grad_outputs`` and are taken."""
        raise NotImplementedError(
            "grad_fn.register_hook: this grad_fn is a replayed mg.compile call's node, which stands for its "
            f"{len(self.program.drawn)} ops (its grad_inputs are the gradients of the call's "
            "inputs, not eager's last op's); register a hook on the output tensor (y.register_hook(hook)), or call "
            "the function without mg.compile")

    def forward(self, *arrays: Any) -> tuple:
        program = self.program
        with program.lock:
            undoing = program.undoing
            if undoing:   # the shared write ops record into this replay's own list (one replay at a time: the lock)
                undo: list = []
                for op in undoing:
                    op.undo = undo
            try:
                outputs, saved = program.run(arrays)
            except _Retrace:   # an op of another shape: the call is captured again, whose eager run writes once
                if undoing:    # so this replay's writes are put back, before another replay of it writes
                    program.undo_writes(undo)
                raise
            except (ValueError, TypeError, IndexError, ZeroDivisionError) as error:   # name the op that failed
                raise program.failed(error, arrays) from error
            finally:
                for op in undoing:
                    op.undo = None
        if program.versions:   # outputs eager wrote in place: their version counters as eager's
            for j, version in program.versions:
                INPLACE.set_version(outputs[j], version)
        self.saved = (saved,)   # freed by backward unless retain_graph, like any node's saved arrays
        return outputs

    def kept_for_backward(self) -> list:
        """Nothing for the engine's check before the node runs: its backward checks each captured op it runs, as
        eager's walk checks each node it runs (:meth:`_check_op`), so a write into what only an op no gradient
        reaches saved is allowed (``a.backward()`` of ``a, b = f(x)`` after a write into ``b``), as in eager mode."""
        return []

    def _check_op(self, op: Function, state: Any, keep: int) -> None:
        """Refuse an in-place change since this call of the arrays op ``op`` (its ``state``) saved that its
        backward reads (its own ``kept_for_backward``: ``x * w`` keeps ``x`` alone where only ``w`` needs a
        gradient, so a later write into ``w``, e.g. through ``w.detach()``, is allowed)."""
        saved = state if keep == 1 else state.get("saved")
        if type(op).kept_for_backward is not Function.kept_for_backward:   # needs_grad says what it reads
            view = type(op).__new__(type(op))   # the shared instance is not touched: a replay may be using it
            view.__dict__.update(op.__dict__ if keep == 1 else state)
            view.saved = saved
            saved = view.kept_for_backward()
        INPLACE.refuse_changed(saved, self.epoch, f"'{op.name}' (of a replayed mg.compile call)")

    def backward(self, *grads_out: Any) -> tuple:
        program = self.program
        saved = self.saved[0] if self.saved else self.left
        frees = frees_saved()
        if not frees:   # retain_graph: a later backward needs every op's state again
            saved = list(saved)
        # a backward from some outputs only runs their ops: eager's nodes of the others keep their arrays
        cover = program.cover
        partial = frees and self.epoch >= 0 and (not self.saved or len(grads_out) > 1 and (
            grads_out[cover] is None if cover >= 0 else any(g is None for g in grads_out)))
        held = list(saved) if partial else None
        taps = self._taps() if (self.hooks or self.retained) and program.read_inside else None
        check = self._check_op if self.epoch >= 0 and self.epoch != INPLACE.epoch else None   # a write since
        with program.lock:
            if _state.get().checks is True:   # detect_anomaly around the backward: each op is checked, as eager
                grads = program.backward(saved, grads_out, program.anomaly_check, taps, check)
            else:
                grads = program.backward(saved, grads_out, taps=taps, check=check)
        if held is not None:
            self._keep_the_rest(saved, held)
        return grads

    def _keep_the_rest(self, saved: list, held: list) -> None:
        """After a backward that ran some of the call's ops only (``a.backward()`` of ``a, b = f(x)``): keep the
        arrays of the others for a later backward from the other outputs, as eager keeps their nodes'. The ops that
        ran get a :class:`_Freed` state, which raises PyTorch's RuntimeError if their backward reads it again (those
        that saved nothing get theirs back: they can run again, as eager's); the node saves ``()`` for the engine,
        which frees only a node that saved something. ``held``: the states before the backward."""
        for op, _backward, at, keep, *_rest in self.program.backward_plan:
            state = held[at]
            if saved[at] is None and state is not None:
                own = state if keep == 1 else state.get("saved")   # as the engine frees a node's (autograd.engine)
                saved[at] = _Freed(op.name) if own or type(own) is not tuple else state
        if all(state is None or type(state) is _Freed for state in saved):
            self.saved = (saved,)   # every op ran: freed as any node
            return
        self.left = saved
        self.saved = ()

    def _taps(self) -> dict | None:
        """The hooks and ``retain_grad`` of the outputs that the call's own ops also read (``return loss, logits``
        with ``logits.retain_grad()``), as taps on their summed gradients inside the backward (see
        :meth:`Program.backward`): eager runs them on the whole gradient, the part from outside the call (the
        backward's ``grads_out``, which the walk left unhooked: :class:`_OwnTable`) plus the call's own ops' terms.
        (The node's own ``grad_fn`` hooks are not an output's.)"""
        taps = {}
        walk = getattr(CAPTURING, "walk", None)   # another thread's autograd.grad capturing hook is not this walk's
        for j, v in self.program.read_inside.items():
            hooks = [hook for hook in tuple((self.hooks or {}).get(j, ()))   # a snapshot (HOOKS_LOCK)
                     if not _is_prehook(hook) and getattr(hook, "walk", walk) is walk]
            ref = (self.retained or {}).get(j)
            if not hooks and ref is None:
                continue

            def tap(g: Any, j: int = j, hooks: list = hooks, ref: Any = ref) -> Any:
                g = _apply_hooks(hooks, g, _shaped_label(self, j))   # its hooks, then retain_grad (engine's order)
                tensor = None if ref is None else ref()
                if tensor is not None:
                    _add_to_retained(tensor, g)
                return g
            taps[v] = tap
        return taps or None
