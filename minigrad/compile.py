"""Capture a function's ops once, replay them as one graph node: ``mg.compile(fn)``.

The first call for an input signature (each Tensor argument's shape, dtype,
device and ``requires_grad``, also inside tuple and list arguments and
keyword arguments; the other arguments' values; grad mode; the train/eval
flags of the modules its captures read, see ``mode_read``) runs ``fn``
eagerly and records the ops it calls: the same ``Function`` classes, so
each op's math is still written once. Later calls with that
signature do not run ``fn``. The whole call becomes **one** node of the outer
graph, whose

* forward is a straight list of the ops' own ``forward`` on raw arrays. Each
  captured op is one ``Function`` instance made at capture time and reused by
  every replay; what a call's backward needs (each op's ``saved`` arrays) is
  collected into one list per call, kept by that call's node;
* backward runs the recorded ops' ``backward`` in the order eager's Kahn walk
  would (worked out once at capture time, as are the routes of every gradient
  to the slot it is added into), so gradients are summed in eager's order and
  the values are bit-identical to eager mode: no walk, no Tensor per
  intermediate value, no node objects per call.

A program is then written out as two straight-line Python functions
(:mod:`minigrad.codegen`: one line or two per op, the indices of its inputs and
gradient routes written in), which replace the two lists' loops: the same calls
in the same order, without the loop's per-op unpacking. Writing costs ~0.15 ms
per op, once (1.5 s for a 10,000-op program), and saves ~0.5 µs per op and
replay, so it is done only once the program's replays by the loops have taken
as long as the writing will (``codegen.worth_writing``: after a few dozen steps
of a training loop; a signature seen a handful of times is never written).
Programs over ``codegen.MAX_OPS`` ops keep the loops.

How to use it (layers and user code alike)::

    step = mg.compile(step)            # or @mg.compile on a def
    h, c = step(x_t, h, c)             # first call captures, the next ones replay

Capture as much as repeats: a whole loop over time steps, or a whole loss
function, is one program and the fastest form (one node, one straight list).
A recurrent layer can capture its per-step function (``mg.compile(step)``
called T times gives T nodes) or its whole loop over time; both are
bit-identical to eager. Prefer the loop: a replayed call has a fixed cost of
a few microseconds (signature, node, outputs), as much as a tiny step's own
ops save (an RNN step: see bench/RESULTS.md). For a layer that means::

    # once, in __init__: one capture per input signature, kept across forwards
    self._compiled_direction = mg.compile(self._run_direction)
    # in forward: the tensors that change are arguments (tuples are fine);
    # the weights may be read from self inside, they become inputs by themselves
    outputs, state = self._compiled_direction(gates_x, state, keep_masks)

Inside the captured function, don't read tensor values in Python
(``lengths.numpy()``, ``.item()``, ``.data``): compute masks with tensor ops
or outside and pass them in, or the signature runs eagerly (with a
:class:`CompileWarning` saying so). Pass the tensors that change between calls as
arguments (inputs, states); weights may be read from a closure or a module
(see below). Outputs may be a Tensor or Tensors nested in tuples, lists, named tuples and
dicts (None allowed); a call returning anything else (a number, an array) runs eagerly.

What is captured, and what is not (as JAX documents for ``jit``):

* Tensors ``fn`` reads that are not arguments (a module's weights, a closure's
  tensors) are inputs of the captured node too: weights that require grad get
  their gradients, and an in-place update (an optimizer step) is seen by the
  next replay. Changing such a tensor's shape or ``requires_grad`` captures
  again, and so does rebinding it: a closure variable, a default argument,
  an argument a ``functools.partial`` holds, a global, or an item
  or attribute of a list, dict or plain object the function reads (its
  ``self`` too: ``params[0] = …``, ``self.w = …``, a list kept on a module
  or on a class; also in a deque or an OrderedDict); a module's parameters and
  children are nn's to guard, a forward replaced (``model.forward = …``, on
  the class too) captures again, and what a compiled function that ``fn``
  calls reads is guarded as ``fn``'s own. Tensors made inside ``fn`` by
  ``mg.zeros``/``mg.tensor`` … are captured as constants (their value at
  capture time).
* **Python values it reads are guarded, as torch.compile's are.** Numbers, strings and flags read
  through a list, a dict, an object's attribute, a Python module or a class (``cfg.scale``,
  ``hp["lr"]``, ``self.p``, a module's ``self.cfg["s"]``; also in the helpers and methods its code
  calls, and the globals they and a module's ``forward`` read) are checked on every replay; a change
  captures again (:func:`guards.find_statics`). A Python side effect inside (``log.append(y)``,
  ``self.calls += 1``, ``print``) runs the signature eagerly with a :class:`CompileWarning`: a replay
  would skip it.
* **Arguments are data.** A Tensor argument's values are read by the
  replayed ops on every call: targets, index tensors (``x[i]``, ``gather``,
  ``F.embedding``), masks (``masked_fill``, ``where``, ``x * mask``) and
  what ``nn`` computes from them (``F.cross_entropy``/``nll_loss`` targets,
  ``ignore_index``, class weights, range checks) are ops, so each call uses
  and checks its own values.
* **Frozen values are checked.** Raw values an op gets that are not a traced
  tensor (a Python number or NumPy array passed to an op, an index array an
  op holds) are frozen at capture time. If ``fn`` computed one from an
  argument's values outside the engine (``t.data % 5``, ``float(t.data.sum())``),
  it would be wrong on the next call, so the first calls (``VERIFY_CALLS``
  = 2, and the first one with other argument values than the capture's in
  any case: a warm-up with one input proves nothing) also run ``fn`` eagerly
  and compare: a difference makes the signature run eagerly, with a
  :class:`CompileWarning` naming the op (the call's result is eager's, so
  correct). ``check=True`` compares on every
  call and raises :class:`CompileError` instead. ``.item()``/``.numpy()``/
  ``bool()`` of an argument or a computed tensor inside ``fn`` run that
  signature eagerly at once (a :class:`CompileWarning` says so).
* **Non-Tensor arguments are static** (as JAX's ``static_argnums``): ints,
  strings and lists/tuples of them (``lengths=[5, 3, 2]``) are part of the
  signature, by type and value (``2``, ``2.0`` and ``True`` are three), so
  each new value captures once more and is replayed when it comes back;
  after ``MAX_PROGRAMS`` (64) signatures new ones run eagerly with a
  warning. Pass values that change every call as Tensors. Tensors inside
  tuples, lists, named tuples and dicts are inputs; so are the Tensor
  attributes of a plain object argument, whose number and string attributes
  are static, and those of the lists, dicts and objects it holds that the
  code names (``state.hs[0]``; a module argument is itself: nn guards it). A call with an
  unhashable argument (a NumPy array) runs eagerly, with a warning.
* **The same tensor twice.** A capture of ``f(x, x)`` (or of ``f(w)`` where
  ``fn`` also reads ``w`` from its closure, a global or ``self``) reads the
  one tensor through one argument, so it is replayed only while the
  arguments are still the one tensor; other calls capture again. A capture
  of distinct tensors replays any call.
* Random constructors (``mg.rand``/``randn``/``randint``, hence dropout),
  comparisons (``x > 0``, masks) and the other values the engine computes
  without a gradient (the indices of ``sort``/``argsort``/``topk``/
  ``max(dim)``/``argmax``/``median(dim)``/``nonzero``, ``any``/``all``,
  ``detach``) are replayed: each replay draws from the engine's generator (or
  the ``generator=`` given) in the same order as eager would, and recomputes
  the others from the new values. A call captured again because a shape
  changed first puts the host generators back where the replay found them,
  so it draws what eager would. ``fn`` seeding a generator inside
  (``mg.manual_seed``, a ``Generator`` made or seeded inside) runs eagerly:
  a replay would not seed it (found at capture, or on the check call).
  So does ``fn`` drawing from Python's ``random``, NumPy's global generator
  or a ``random.Random``/NumPy generator it reads or is passed: a replay
  would not draw again, nor follow what a draw steers (a loop's length).
* Python control flow that depends on values read without ``.item()``
  (e.g. ``if t.data.any():``) is frozen at capture time; the first calls'
  eager check above finds a different op sequence (CompileWarning, eager),
  later calls do not. ``mg.compile(fn, check=True)`` re-runs ``fn`` on every
  call and raises :class:`CompileError` naming the first op where the
  sequence or a frozen value differs (a debugging aid: it costs an eager
  run). An op whose output shape differs from the capture (data-dependent
  shapes) is caught cheaply and the call is captured again.
* Memory: a capture keeps the ops' frozen raw arrays and the weights it
  found (tensors read from a closure or module), never the capture's
  arguments or their graph; a call's saved arrays live on its node, as in eager.
* **In-place ops are replayed** (``ops/inplace.py`` tells the tracer each write):
  one under ``no_grad`` or on a tensor that needs no gradient (a train-mode
  BatchNorm's running statistics and ``num_batches_tracked``, an activation with
  ``inplace=True`` at inference) is a step that writes into the same array (the
  caller's buffer) and bumps its version, as eager; one recorded on a tensor
  ``fn`` computes (``nn.ReLU(inplace=True)`` in training) continues the graph as
  eager re-points it, its views too. Values, gradients, buffers and versions are
  eager's bit for bit. These run eagerly for their signature instead (with a
  :class:`CompileWarning`): a recorded in-place op on an argument or weight (the
  caller's graph would change), a write into a tensor an op saved for backward
  before (eager's backward raises; so does the eager run's), a view made under
  ``no_grad`` read after a recorded write, the in-place ops not told
  (indexed assignment ``x[i] = v``, random fills, ``out=``), and a backward or
  ``autograd.grad`` inside ``fn`` (a replay would not compute its gradients).
* ``detect_anomaly`` at call time, and hooks or
  ``retain_grad`` registered inside ``fn`` (on a tensor it computes or on an
  argument) make the call run eagerly (the per-op checks and hooks need
  per-op nodes), as do other changes a replay would not make: to an
  argument's ``requires_grad``/``.grad``/``.data``/``name``, or the grad
  mode, a module's train/eval mode or the default dtype left changed when
  ``fn`` returns (its own thread's changes: another thread's in-place ops,
  seeds, draws and mode switches while a capture runs are not ``fn``'s).
  Hooks on the outputs or on weights work as usual (on an output the call's
  own ops also read, ``return loss, logits``, they run on its whole
  gradient inside the replay's backward, the part from outside the call
  included, as eager; ``autograd.grad`` of such an output too);
  ``detect_anomaly`` around a backward checks each replayed op's gradients
  and names the op, as eager. A replayed output's ``grad_fn`` is the call's
  one node: its ``register_prehook`` (one output) sees eager's gradient, its
  ``register_hook`` raises NotImplementedError (its ``grad_inputs`` would be
  the call's inputs', not eager's last op's). A backward from some outputs
  keeps the arrays of the ops it did not run, so a later backward from the
  others works, as eager's.
* **Outputs as eager gives them.** An argument or weight returned as it is
  is that object (a leaf stays a leaf), a tensor returned twice is one
  object, and an output that eager gives without a gradient (an index, a
  mask, a ``detach()``-ed value) does not require grad. An op that fails in
  a replay (an index out of range) raises naming the op, as eager.
* ``mg.viz`` draws a replayed call as the ops it stands for (``Program.drawn``),
  in the scopes eager mode would give them.
"""

from __future__ import annotations

import copy
import functools
import itertools
import operator
import random
import threading
import types
import warnings
import weakref
from typing import Any, Callable

import numpy

from . import backend, fusion, generators, guards
from .autograd.engine import _FREED
from .capture import (
    NotCapturable,
    Program,
    Replay,
    Tracer,
    _flatten,
    _Retrace,
    _unflatten,
    host_stream,
    output_views,
    random_states,
    restore_random,
    stream_of,
)
from .dtypes import get_default_dtype
from .ops.inference import is_inference_mode_enabled
from .recording import _state, set_state
from .tensor import Tensor
from .versions import INPLACE, memory_owner

__all__ = ["CompileError", "CompileWarning", "add_guard", "add_signature_part", "compile", "is_compiling",
           "mode_changed", "mode_read", "reset", "run_eagerly"]


class CompileError(RuntimeError):
    """A compiled function took a different path than the one captured (found with ``check=True``)."""


class CompileWarning(UserWarning):
    """A compiled function runs eagerly for an input signature (the message says why)."""


VERIFY_CALLS = 2   # calls that check frozen values against a fresh run before the replays start (see Program)
_CHECKS_LOCK = threading.Lock()   # Compiled._checked: one thread's count of a check at a time


def _name(fn: Any) -> str:
    """What a warning calls a compiled function: its name, or a module's class name (a module has no name)."""
    return getattr(fn, "__name__", None) or type(fn).__name__


def _digest(tensors: list[Tensor]) -> int:
    """A hash of the arguments' values (on the host only: a GPU array would need a copy; there, 0)."""
    if not all(type(t.data) is numpy.ndarray for t in tensors):
        return 0
    return hash(tuple(t.data.tobytes() for t in tensors))


def _same(a: Any, b: Any) -> bool:
    if type(a) is tuple or type(b) is tuple:
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if backend.is_array(a) or backend.is_array(b):
        if not (backend.is_array(a) and backend.is_array(b)) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(backend.array_module(a).array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if type(a) is not type(b):   # 2 and 2.0 are equal, but a tensor times each has another dtype
        return False
    if type(a) is float:
        return guards.static(a) == guards.static(b)   # -0.0 is not 0.0; NaN is NaN
    try:
        return bool(a == b) or (a != a and b != b)   # NaN constants are the same constant
    except (TypeError, ValueError):
        return a is b


def _saved_then_written(tracer: Tracer) -> None:
    """Run eagerly where ``fn`` changed in place an array that an op it recorded saved for backward before: eager's
    backward raises PyTorch's "modified by an inplace operation"; a replay's node, made after its writes, would
    not."""
    for op, _refs, _n, _shapes, recorded, _params in tracer.steps:
        saved = op.saved
        # skipped: an op that saved nothing (None or ()), and one whose saved arrays saved_tensors_hooks packed
        # (epoch < 0), which eager's backward does not check either (as PyTorch's, with hooks)
        if recorded and op.epoch >= 0 and saved is not None and not (type(saved) is tuple and not saved):
            try:
                INPLACE.refuse_changed(op.kept_for_backward(), op.epoch, op.name)
            except RuntimeError:
                tracer.note_eager(f"it changes in place a tensor that op '{op.name}' saved for backward (eager's "
                                  "backward raises; a replay would not see the change)")
                return


def _divergence(previous: Program, program: Program) -> str | None:
    """Where a fresh capture differs from ``previous``: the first op in another place, or whose frozen
    values (constants, index arrays) differ; None if they agree."""
    if previous.names != program.names:
        at = next((i for i, (a, b) in enumerate(zip(previous.names, program.names)) if a != b),
                  min(len(previous.names), len(program.names)))
        seen = program.names[at] if at < len(program.names) else "the end"
        want = previous.names[at] if at < len(previous.names) else "the end"
        return (f"op {at} is '{seen}' where the capture has '{want}' (value-dependent control flow cannot "
                "be replayed)")
    for (step, what, old), (_step, _what, new) in zip(previous.frozen, program.frozen):
        if not _same(old, new):
            return (f"op {step} '{program.names[step]}' has {what} with other values than at capture (a value "
                    "computed from an argument's values in Python or NumPy, e.g. from .data, is frozen by a "
                    "capture: compute it with tensor ops)")
    if len(previous.frozen) != len(program.frozen):
        return "the ops hold a different number of frozen values than at capture"
    # tensors read that are not arguments: the same object (a weight) is an input; a new one was made
    # inside fn (mg.tensor(...), Tensor of raw values) and is frozen with the capture's values
    for old, new in zip(previous.weights, program.weights):
        if old is not new and not _same(old.data, new.data):
            return (f"a tensor of shape {new.shape} made inside the function (not an argument, not a weight) "
                    "has other values than at capture: make it with tensor ops from the arguments, or pass it in")
    return None


def _python_random_states(args: tuple, kwargs: dict) -> tuple:
    """The states of Python's ``random`` module, NumPy's global generator (``np.random.rand``) and the Python
    or NumPy generators passed as arguments: a function that draws from (or seeds) one while it is captured
    runs eagerly, since a replay would neither draw again nor follow what the draws steer (a loop count, a
    branch, teacher forcing). The generators it reads from variables are guarded as its other Python state."""
    _name, key, position, has_gauss, gauss = numpy.random.get_state()
    passed = [guards.generator_state(value) for value in (*args, *kwargs.values())
              if isinstance(value, guards.PYTHON_GENERATORS)]
    return random.getstate(), key.tobytes(), position, has_gauss, gauss, passed


def _increment(state: dict) -> Any:
    """A PCG64 stream's increment (set by its seed, kept by its draws); None for other bit generators."""
    inner = state.get("state")
    return inner.get("inc") if isinstance(inner, dict) else None


def _generator_divergence(previous: Program, program: Program, streams: list, host: tuple) -> str | None:
    """Whether the random draws of a fresh capture (the check run) differ from ``previous``'s in what a
    replay cannot do: seed the host generator (it ends in the same state from another start), draw from
    another ``generator=`` object (one made inside fn) or from one seeded inside fn (``streams``: their
    streams before the check run; ``host``: the host generator's state before and after it). A replay draws
    on from the generators as they are."""
    if previous.host_states is not None and host[1] == previous.host_states[1] and host[0] != previous.host_states[0]:
        return "it seeds the random generator (mg.manual_seed inside it), which a replay would not do"
    for (step, old), (_step, new) in zip(previous.generators, program.generators):
        if old is not new:
            return (f"op {step} '{program.names[step]}' draws from another generator= object than at capture "
                    "(one made inside the function?); a replay would draw on from the capture's")
    for (step, generator), stream in zip(program.generators, streams):
        if stream_of(generator) is not stream and not generators.seeded_in_another_thread(generator):
            return (f"op {step} '{program.names[step]}' draws from a generator seeded inside the function, which "
                    "a replay would not do")
    if len(previous.generators) != len(program.generators):
        return "it draws from generator= objects another number of times than at capture"
    return None


MAX_PROGRAMS = 64   # signatures captured per function before new ones run eagerly (torch.compile has such a limit)

# Python-level state that a function may read and a capture cannot see, each part a hashable that joins
# every call's signature (the default dtype; modules' train/eval modes have their own part, see mode_read).
SIGNATURE_PARTS: list[Callable[[], Any]] = []


def add_signature_part(part: Callable[[], Any]) -> None:
    """Make ``part()`` (hashable, cheap: it runs on every compiled call) part of every call's signature."""
    SIGNATURE_PARTS.append(part)


# what Python floats become: a capture made under one default dtype holds its constants in that dtype
add_signature_part(get_default_dtype)


# Train/eval modes. A call's signature holds the flags of the modules whose mode this function's captures read
# or set (nn tells: mode_read, mode_changed), not every module's: a module it never looks at (another model, an
# EMA or validation copy made in eval mode) changes nothing, while a dropout captured in training mode is never
# replayed in eval mode (its module's flag was read; a different path reads other flags and captures again).
# The flags are read again only once some module's mode changed (_mode_epoch moved on): one comparison per call.
_mode_tickets = itertools.count(1)   # next() is atomic: each change gets an epoch no other change has
_mode_epoch = [0]


def mode_read(module: Any, flag: bool) -> None:
    """``nn`` reads ``module.training`` (``flag``): a capture running in this thread guards that flag."""
    tracer = _state.get().checks
    if tracer and tracer is not True:
        tracer.note_mode(module, flag, False)


def mode_changed(module: Any, before: bool) -> None:
    """``nn`` changed ``module.training`` from ``before`` (in ``module.__dict__``, where the signature reads it):
    every compiled call reads its modes' flags again; a capture running in this thread notes fn changed it."""
    _mode_epoch[0] = next(_mode_tickets)   # after the flag was set: a call that sees the new epoch sees the flag
    tracer = _state.get().checks
    if tracer and tracer is not True:
        tracer.note_mode(module, before, True)


def _flag(module_ref: weakref.ref) -> Any:
    module = module_ref()
    return None if module is None else module.__dict__.get("training")


def is_compiling() -> bool:
    """Whether ``mg.compile`` is capturing a call right now (``torch.compiler.is_compiling``'s counterpart)."""
    return isinstance(_state.get().checks, Tracer)


def run_eagerly(why: str) -> None:
    """Make the call being captured, if any, run eagerly for its signature (with a CompileWarning saying
    ``why``): for Python side effects a replay would skip, such as a module's forward hooks."""
    tracer = _state.get().checks
    if isinstance(tracer, Tracer):
        tracer.note_eager(why)


# Guards: values read on every replay and compared with their values at capture; a change means the
# function could now read other tensors than the capture did, so the call is captured again. nn adds a
# counter of its modules' re-registrations (``model.fc = nn.Linear(...)`` after construction); each
# compiled function also guards the variables its code reads from its closure and its module's globals
# (``model = Model()`` again in a notebook, a weight rebound in a closure).
GUARDS: list[Callable[[], Any]] = []
RECAPTURE_LIMIT = 8   # captures again per function for changed guards, then it runs eagerly (torch.compile's limit)
UNSURE_LIMIT = 3      # captures per signature kept for nothing while other threads ran and what fn reads changed


def add_guard(guard: Callable[[], Any]) -> None:
    """Capture again any call for which ``guard()`` (cheap: it runs on every replay) changed since its capture."""
    GUARDS.append(guard)


# Compiled's own attributes (set on it); any other attribute set on a compiled module goes to the module
_OWN_ATTRIBUTES = frozenset({"fn", "check", "fullgraph", "fuse", "programs", "eager", "full", "cells", "cell_names",
                             "functions", "reads_grads",
                             "names", "owner", "words", "prints", "recaptures", "guarded_out", "unhashable", "lock",
                             "moded", "mode_index", "modes_seen", "unsure",
                             "__wrapped__", "__module__",
                             "__name__", "__qualname__", "__doc__", "__dict__", "__annotations__", "__type_params__"})


_CODE = operator.attrgetter("__code__")

_ALL: weakref.WeakSet = weakref.WeakSet()   # every compiled function alive, for reset()


def reset() -> None:
    """Forget every capture of every compiled function (``torch.compiler.reset``): each next call captures
    again, and functions that ran eagerly for a signature or past a limit try again."""
    for compiled in list(_ALL):
        compiled.programs.clear()
        compiled.eager.clear()
        compiled.unsure.clear()
        compiled.full = compiled.unhashable = False
        compiled.recaptures, compiled.guarded_out = 0, ""
        compiled._forget_modes()


class Compiled:
    """``mg.compile(fn)``: call it as ``fn``; see the module docstring. A compiled ``nn.Module`` is
    also used as the module (its parameters, modes and state dict are the module's, its state dict's keys
    too: without torch's ``_orig_mod.`` prefix); ``._orig_mod`` is the module, as in PyTorch."""

    def __init__(self, fn: Callable, check: bool = False, fullgraph: bool = False, fuse: bool = False) -> None:
        # a compiled function compiled again is its function compiled with these options (torch.compile's outer
        # wrapper wins): the inner wrapper's options never apply, on the calls this one runs eagerly either
        self.fn = fn.fn if isinstance(fn, Compiled) else fn
        self.check = check
        self.fullgraph = fullgraph   # a signature that would run eagerly raises CompileError instead
        self.fuse = fuse   # mode="max-autotune": elementwise ops of captures on a GPU fused (minigrad.fusion)
        self.programs: dict = {}
        self.eager: dict = {}   # signature -> (why it runs eagerly, the guards then: a change tries again)
        self.unsure: dict = {}  # signature -> captures dropped because an argument changed while threads ran
        self.full = False       # MAX_PROGRAMS signatures captured or eager: new ones run eagerly
        self._watch(guards.watched(self.fn))
        self.recaptures = 0     # captures made again because a guard changed (RECAPTURE_LIMIT)
        self.guarded_out = ""   # past the limit: why the function now runs eagerly
        self.unhashable = False   # warned once about a call with an unhashable argument
        self._forget_modes()
        # a module's attributes are read through __getattr__, live; copying its __dict__ would freeze them. A
        # function's attributes are copied (as functools.wraps), but never over this wrapper's own: a compiled
        # function compiled again, or a function with a `check` attribute, keeps the options given here
        functools.update_wrapper(self, fn, updated=())   # __wrapped__: fn as given (_orig_mod)
        if not guards.is_module(fn):
            self.__dict__.update((name, value) for name, value in getattr(fn, "__dict__", {}).items()
                                 if name not in _OWN_ATTRIBUTES)
        _ALL.add(self)

    @property
    def _orig_mod(self) -> Any:
        """The compiled module (PyTorch's ``OptimizedModule._orig_mod``); a compiled function has none."""
        if not guards.is_module(self.fn):
            raise AttributeError("_orig_mod: only a compiled module has one (this is a compiled function; see .fn)")
        return self.__wrapped__   # the module, or the compiled module this one compiled again, as PyTorch's

    def __repr__(self) -> str:
        return f"Compiled({self.fn!r})"

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """A compiled function in a class body is a method, as torch.compile's (``@torch.compile`` on
        ``def train_step(self, x)``): read from an instance, it is called with the instance first."""
        if instance is None or guards.is_module(self.fn):
            return self
        return types.MethodType(self, instance)

    def __deepcopy__(self, memo: dict) -> Compiled:
        """A copy of a compiled module (``copy.deepcopy(mg.compile(model))``, as for EMA or best-model copies):
        the module copied and compiled anew, with the same options (captures hold the original's op objects)."""
        return Compiled(copy.deepcopy(self.fn, memo), check=self.check, fullgraph=self.fullgraph, fuse=self.fuse)

    def __copy__(self) -> Compiled:
        """``copy.copy``: the same function or module compiled anew with the same options (a shallow copy of the
        attributes would share this one's captures and limits, and :func:`reset` would not see it)."""
        return Compiled(self.fn, check=self.check, fullgraph=self.fullgraph, fuse=self.fuse)

    def _watch(self, watched: guards.Watched) -> None:
        """Guard the variables the function's code (and its helpers') reads (see :func:`guards.watched`)."""
        self.cells, self.cell_names, self.names, self.owner, self.words, self.prints, self.functions = watched
        self.reads_grads = guards.names_grad(self.words)   # each Tensor argument's gradient joins the signature

    def _forget_modes(self) -> None:
        """No module's mode in the signature (see mode_read)."""
        self.moded: list = []        # weak references to the modules whose flags the signature holds, in order
        self.mode_index: dict = {}   # id(module) -> its place in moded
        self.modes_seen = (-1, ())   # (epoch, their flags then): one attribute, so threads never mix the two

    def _modes_now(self) -> tuple:
        """The flags of the modules in the signature, read again after a mode changed somewhere."""
        epoch = _mode_epoch[0]   # before the flags: a change after this read moves the epoch on again
        flags = tuple(map(_flag, self.moded))
        self.modes_seen = (epoch, flags)
        return flags

    def _merge_modes(self, key: tuple, tracer: Tracer) -> tuple | None:
        """The signature of a capture made under ``key``, with the flags of the modules whose mode it read or set
        for the first time added (the signatures kept get their flags now: they did not read them, any value
        fits, see :meth:`_other_modes`); None if another thread changed one of those modes while it ran (nothing
        is kept then)."""
        part = key[1]
        if tracer.modes_mixed or len(part) != len(self.moded):
            return None
        new = []
        for module, before, _changed in tracer.modes.values():
            at = self.mode_index.get(id(module))
            if at is None or self.moded[at]() is not module:
                new.append((module, before))
            elif part[at] != before:   # set by another thread between the signature and fn's read
                return None
        if not new:
            return key
        for module, _before in new:
            self.mode_index[id(module)] = len(self.moded)
            self.moded.append(weakref.ref(module))
        now = tuple(module.__dict__.get("training") for module, _before in new)
        for table in (self.programs, self.eager):
            kept = {(k[0], k[1] + now, *k[2:]): value for k, value in list(table.items())}   # list: one step
            table.clear()
            table.update(kept)
        self.modes_seen = (-1, ())
        return (key[0], part + tuple(before for _module, before in new), *key[2:])

    def _other_modes(self, key: tuple) -> Any:
        """A program kept for ``key`` but for the flags of modules it never read (they joined the signature with
        a later capture), now kept for ``key`` too; None if there is none. Only when a call finds no program."""
        part, rest = key[1], key[2:]
        for other, program in list(self.programs.items()):   # a snapshot: another thread may add one
            if other[0] == key[0] and other[2:] == rest and len(other[1]) == len(part) \
                    and all(other[1][at] == part[at] for at in program.mode_reads):
                self.programs[key] = program
                return program
        return None

    def _forget_program(self, program: Any) -> None:
        """Drop ``program`` under every signature it is kept for (see :meth:`_other_modes`)."""
        for key in [key for key, kept in list(self.programs.items()) if kept is program]:   # list: one step
            self.programs.pop(key, None)   # (another thread may be dropping it too)

    def _guards(self) -> list:
        """The values of the guards now (see GUARDS)."""
        values = [guard() for guard in GUARDS]
        for cell in self.cells:
            try:
                values.append(cell.cell_contents)
            except ValueError:   # a cell not yet filled
                values.append(guards.EMPTY_CELL)
        if self.names:
            values += [namespace.get(name) for namespace, name in self.names]
        if self.functions:   # their code (an edit reloaded into the function: IPython's autoreload)
            values += map(_CODE, self.functions)
        return values

    def __getattr__(self, name: str) -> Any:
        """A compiled module is used as the module: ``parameters()``, ``train()``, ``state_dict()`` …

        A method that returns the module itself (``train``, ``eval``, ``to``) returns the compiled one.
        """
        fn = self.__dict__.get("fn")
        if fn is None or not guards.is_module(fn):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = getattr(fn, name)
        if not callable(value) or not hasattr(value, "__self__"):
            return value

        @functools.wraps(value)
        def method(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            return self if result is fn else result
        return method

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _OWN_ATTRIBUTES and guards.is_module(self.__dict__.get("fn")):
            setattr(self.fn, name, value)   # model.training = False, model.head = ...: on the module
        else:
            object.__setattr__(self, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        state = _state.get()
        if state.checks:   # anomaly mode, or an outer capture running: run eagerly (the outer capture records)
            return self.fn(*args, **kwargs)
        # the signature: grad mode (and inference mode when it is off), the modes of the modules it reads, the
        # other modes outside the arguments, then each argument
        seen = self.modes_seen
        key: list = [state.grad or (False, is_inference_mode_enabled()),
                     seen[1] if seen[0] == _mode_epoch[0] else self._modes_now()]
        for part in SIGNATURE_PARTS:
            key.append(part())
        tensors: list = []         # the Tensor arguments, also inside tuples and lists, in order
        grads = self.reads_grads   # whether each has a gradient joins the signature (describe)
        for a in args:
            if isinstance(a, Tensor):   # the usual case, inline
                data = a.data
                device = "cpu" if type(data) is numpy.ndarray else backend.device_of(data)
                key.append((data.shape, data.strides, data.dtype, device, a.requires_grad))
                if grads:
                    key.append(("grad", a._grad is None))
                tensors.append(a)
            else:
                guards.describe(a, key, tensors, self.words)
        for name, a in kwargs.items():
            key.append(name)
            guards.describe(a, key, tensors, self.words)
        key = tuple(key)
        try:
            program = self.programs.get(key)
        except TypeError as error:   # an unhashable argument (a NumPy array, a set): no signature, run eagerly
            if not self.unhashable:
                self.unhashable = True
                warnings.warn(f"compile: {_name(self.fn)} runs eagerly for calls with an "
                              f"unhashable argument ({error}); pass arrays as Tensors", CompileWarning, stacklevel=2)
            return self.fn(*args, **kwargs)
        if program is None and key[1] and key not in self.eager:   # kept for other flags of modules it never read?
            program = self._other_modes(key)
        if program is None:
            eager = self.eager.get(key)
            if eager is not None:
                if guards.unchanged(self._guards(), eager[1]):
                    return self.fn(*args, **kwargs)
                self.eager.pop(key, None)   # e.g. a forward hook was removed: capture it now (another thread may too)
            # signatures kept, captured or eager (a function reading .item() called with many shapes): bounded
            if len(self.programs) + len(self.eager) >= MAX_PROGRAMS \
                    and len(set(map(id, self.programs.values()))) + len(self.eager) >= MAX_PROGRAMS:
                if not self.full:
                    self.full = True
                    warnings.warn(f"compile: {_name(self.fn)} was captured for {MAX_PROGRAMS} input signatures "
                                  "(or found them to run eagerly: a changing Python argument or shape?); new ones "
                                  "run eagerly",
                                  CompileWarning, stacklevel=2)
                return self.fn(*args, **kwargs)
            return self._capture(key, args, kwargs, tensors, None)
        now = self._guards()
        if not guards.unchanged(now, program.guards):   # it may read other tensors now
            ours = guards.unchanged(now[len(GUARDS):], program.guards[len(GUARDS):])   # only nn's count moved?
            return self._guard_changed(lambda: self._guard_name(now, program.guards), key, args, kwargs, tensors,
                                       program if ours else None)
        if program.paths and not guards.paths_hold(self, program.paths):   # a weight or module in a list, dict, object
            return self._guard_changed(lambda: guards.moved(self, program.paths), key, args, kwargs, tensors)
        if program.statics and not guards.statics_hold(self, program.statics):   # cfg.scale, hp["lr"] changed
            return self._guard_changed(lambda: guards.static_moved(self, program.statics), key, args, kwargs, tensors)
        if program.forwards and not guards.forwards_hold(program.forwards):   # model.forward = ... (or its class's)
            return self._guard_changed(lambda: "a module's forward", key, args, kwargs, tensors)
        if program.aliases and not guards.aliases_hold(self, program.aliases, tensors):   # captured with f(x, x)
            return self._capture(key, args, kwargs, tensors, None)
        weights = program.weights
        if weights and [(t.data.shape, t.data.strides, t.data.dtype, type(t.data), t.requires_grad)
                        for t in weights] != program.weight_meta:   # e.g. model.double(), .to("cuda")
            return self._capture(key, args, kwargs, tensors, None)   # a weight changed shape, dtype, device or grad
        if self.check or not program.verified:   # (a capture with other weights is not compared with this one)
            return self._capture(key, args, kwargs, tensors, program)
        if program.unproven and _digest(tensors) != program.argument_values:   # checked with the capture's values only
            return self._capture(key, args, kwargs, tensors, program)
        random = program.random
        if random is not None:   # where its draws start: a call captured again draws these numbers, as eager
            states = random_states(random)
        try:   # a replay that stops puts back its writes into the caller's memory itself (Replay.forward)
            outs = Replay(program)(*tensors, *weights)
        except _Retrace:
            if random is not None:
                restore_random(states)
            return self._capture(key, args, kwargs, tensors, None)
        if program.fixes:   # arguments returned as they are, outputs without a gradient, one returned twice
            outs = program.fix_outputs(outs, tensors, weights)
        form = program.form
        return outs[0] if form == "one" else outs if form == "tuple" else _unflatten(program.spec, iter(outs))

    def _guard_changed(self, what: Callable[[], str], key: Any, args: tuple, kwargs: dict, tensors: list,
                       module_change: Program | None = None) -> Any:
        """Capture again after a guard changed (``what()`` says which); past RECAPTURE_LIMIT such captures,
        run eagerly from then on. ``module_change``: the program replaced when only nn's count of module changes
        moved; a capture that reads the same weights and agrees with it does not count (the change was another
        module's: ``other_model._apply(fn)``, a hook on it, in this thread or another)."""
        if self.guarded_out:
            return self.fn(*args, **kwargs)
        self.recaptures += 1
        if self.recaptures > RECAPTURE_LIMIT:
            self.guarded_out = what()
            warnings.warn(f"compile: {_name(self.fn)} was captured again {RECAPTURE_LIMIT} "
                          f"times because {self.guarded_out} changed; it runs eagerly from now on (pass what "
                          "changes as an argument)", CompileWarning, stacklevel=3)
            return self.fn(*args, **kwargs)
        result = self._capture(key, args, kwargs, tensors, None)
        if module_change is not None:
            program = self.programs.get(key)
            if program is not None and program is not module_change and program.names == module_change.names \
                    and len(program.weights) == len(module_change.weights) \
                    and all(a is b for a, b in zip(program.weights, module_change.weights)) \
                    and _divergence(module_change, program) is None:
                self.recaptures -= 1
        return result

    def _guard_name(self, now: list, then: list) -> str:
        """What the first guard of :meth:`_guards` that changed watches, in words."""
        at = next(i for i, (a, b) in enumerate(zip(now, then)) if not guards.unchanged((a,), (b,)))
        if at < len(GUARDS):
            return ("a module's attributes (a parameter, buffer, child or hook replaced, added or removed, or a tensor "
                    "or value kept as a module attribute assigned anew, also by a forward: `self.mask = ...`)")
        at -= len(GUARDS)
        if at < len(self.cells):
            return f"the variable {self.cell_names[at]!r} of its closure"
        at -= len(self.cells)
        if at < len(self.names):
            return f"the global {self.names[at][1]!r}"
        return f"the code of {self.functions[at - len(self.names)].__qualname__!r} (edited and reloaded?)"

    def _unsure(self, key: Any, threads: int) -> bool:
        """Whether to keep nothing of a capture under ``key`` that saw a change it may not have made itself
        (``threads``: the threads running when it began): True while other threads run, up to UNSURE_LIMIT
        times per signature (the signature is captured again on its next call); then the change is fn's."""
        if max(threads, threading.active_count()) > 1 and self.unsure.get(key, 0) < UNSURE_LIMIT:
            self.unsure[key] = self.unsure.get(key, 0) + 1
            return True
        return False

    def _capture(self, key: Any, args: tuple, kwargs: dict, tensors: list, previous: Program | None) -> Any:
        if previous is None:   # a module's children or a helper may have changed: look again at what it reads
            watch = guards.watched(self.fn)
            if watch[:3] != (self.cells, self.cell_names, self.names) or watch.functions != self.functions:
                self._watch(watch)
                self.programs.clear()   # their guards are values of the variables looked at before
        watched = self._guards()   # before fn runs: what it reads from here is what the capture holds
        statics = guards.find_statics(self)
        tracer = Tracer(tensors, reads_run_eagerly=not self.check)
        changes = INPLACE.thread_changes()   # this thread's: another thread's in-place ops are not fn's
        arguments = [guards.autograd_state(t) for t in tensors]
        threads = threading.active_count()   # with others running, a change to an argument may be theirs
        streams = [] if previous is None else [stream_of(g) for _step, g in previous.generators]
        generators.count_host_uses(1)
        uses = generators.host_uses()   # what this thread and the others do with the host generator from here
        host = host_stream()
        host_state = host.bit_generator.state
        python_random = _python_random_states(args, kwargs)
        grads_passed = guards.grads_passed(self.words, args, kwargs)   # before fn runs: it may drop them
        checks = set_state("checks", tracer)   # the engine hands every op it runs to the tracer
        try:
            result = self.fn(*args, **kwargs)
        finally:
            set_state("checks", checks)
            after = host_stream().bit_generator.state
            others, mine = generators.host_uses_since(uses)   # mine: fn's uses and the two host_stream() here
            generators.count_host_uses(-1)
        if any(step[4] and step[0].saved is _FREED for step in tracer.steps):
            tracer.note_eager("it runs a backward (or autograd.grad) of the ops it records, whose gradients a "
                              "replay would not compute")
        if INPLACE.thread_changes() != changes + tracer.writes:   # an in-place op that did not tell the tracer
            tracer.note_eager("it changes a tensor in place (an indexed assignment, an in-place op on a view, "
                              "a random fill, out=)")
        elif tracer.writes and not tracer.eager_only:
            _saved_then_written(tracer)
        if not guards.unchanged(self._guards(), watched) and self._unsure(key, threads):
            return result   # another thread rebound a variable or default fn reads while it ran: fn saw which?
        if statics and not guards.statics_hold(self, statics):
            if self._unsure(key, threads):   # another thread's `cfg.scale = ...` while fn ran, or fn's own
                return result
            tracer.note_eager(f"it changes {guards.static_moved(self, statics)}, a Python side effect a replay "
                              "would skip")
        if self.prints:
            tracer.note_eager("it calls print, which a replay would skip")
        if grads_passed:
            tracer.note_eager("it reads or drops .grad (p.grad, zero_grad()) and is passed a tensor with a gradient "
                              "(or a module whose parameters have one): a replay would neither see the next "
                              "backward's gradient nor drop it")
        if _python_random_states(args, kwargs) != python_random:
            if self._unsure(key, threads):   # another thread's draw while fn ran, or fn's own
                return result
            tracer.note_eager("it draws from (or seeds) Python's random module, NumPy's global generator or a "
                              "generator passed in (random.random(), np.random.rand(), rng.integers()), which a "
                              "replay would not do: draw with mg.rand or pass the values in")
        # Python-level effects a replay would not have: seeding, modes left changed, an argument's autograd state
        # (another thread's draws and seeds are not fn's: with those, only fn's own draws and seeds count, the
        # seeds through recording.note_seed, which tells this thread's capture only)
        if after != host_state and (not others or mine > 2 or tracer.host_draws):
            tracer.host_states = (host_state, after)   # it drew from the host generator (or seeded it)
            if host_stream() is not host or not others and _increment(after) != _increment(host_state):
                tracer.note_seed("mg.manual_seed")     # a new increment says it seeded
        elif tracer.host_draws and not others:   # it drew, yet the generator is where it was: seeded back to it
            tracer.note_seed("mg.manual_seed")
        modes = (_state.get().grad or (False, is_inference_mode_enabled()), *(part() for part in SIGNATURE_PARTS))
        if modes != (key[0], *key[2:2 + len(SIGNATURE_PARTS)]):
            tracer.note_eager("it leaves the grad mode or the default dtype changed, which a replay would not do")
        if any(changed and module.__dict__.get("training") != before
               for module, before, changed in tracer.modes.values()):   # this thread's changes only
            tracer.note_eager("it leaves a module's train/eval mode changed, which a replay would not do")
        changed = next((i for i, (t, before) in enumerate(zip(tensors, arguments))
                        if guards.autograd_state(t) != before), None)
        if changed is not None:
            if self._unsure(key, threads):   # another thread's backward or zero_grad on a shared weight, a hook
                return result
            tracer.note_eager(f"it changes Tensor argument {changed} itself (its requires_grad, hooks, retain_grad, "
                              ".grad, .data or name), which a replay would not do")
        if any(y._node is not None and (y._node.hooks or y._node.retained) for y in tracer.keep):
            tracer.note_eager("it registers a hook or retain_grad on a tensor it computes")
        outputs: list = []
        try:
            spec = _flatten(result, outputs)
        except NotCapturable as error:
            spec = None
            tracer.note_eager(f"it returns a value of type {error} (a replay returns Tensors, in tuples, lists "
                              "and dicts)")
        if any(id(y) not in tracer.slot_of for y in outputs):
            tracer.note_eager("it returns a tensor no captured op made")
        elif _views_an_external(outputs, tracer):
            tracer.note_eager("it returns a view of a tensor argument or weight (x.T, x[0], x.view(...)), whose "
                              "gradient a replay would not keep in step with an in-place change of that tensor")
        elif output_views(outputs) is None:
            tracer.note_eager("it returns tensors that share memory through a tensor it does not return (y.t() and "
                              "y[0] of a y made inside), whose graphs a replay would not keep in step with an "
                              "in-place change of one")
        elif tracer.stale:
            stale = tracer.stale_read(outputs)
            if stale is not None:
                tracer.note_eager(stale)
        key = self._merge_modes(key, tracer) if tracer.modes else key
        if key is None:   # another thread changed the mode of a module fn reads while it ran: keep nothing
            return result
        if tracer.eager_only:
            if self.fullgraph:
                raise CompileError(f"compile: {_name(self.fn)} cannot be captured whole "
                                   f"(fullgraph=True): {tracer.eager_only}")
            self.eager[key] = (tracer.eager_only, watched)
            captured = self.programs.get(key)   # (one read: another thread may drop it meanwhile)
            if captured is not None:   # captured before a change (a hook added): eager from now on
                self._forget_program(captured)
            warnings.warn(f"compile: {_name(self.fn)} runs eagerly for this input signature: "
                          f"{tracer.eager_only}", CompileWarning, stacklevel=3)
            return result
        if self.fuse and not tracer.writes:   # fused kernels would not keep reads before a write before it
            fusion.fuse_elementwise(tracer)
        program = Program(tracer, outputs, spec)
        program.guards = watched
        program.statics = statics
        program.paths = guards.find_paths(self, program.weights) if program.weights else []
        program.forwards = guards.find_forwards(self)
        program.aliases = guards.aliases(self, tensors)
        program.mode_reads = frozenset(self.mode_index[id(entry[0])] for entry in tracer.modes.values())
        if previous is not None:
            name = _name(self.fn)
            why = _divergence(previous, program) or \
                _generator_divergence(previous, program, streams, (host_state, after))
            if why is None:   # the tensors read that are not the capture's objects were made inside fn
                previous.mode_reads |= program.mode_reads
                n_arguments = previous.n_externals - len(previous.weights)
                previous.made_inside = {n_arguments + i for i, (old, new) in
                                        enumerate(zip(previous.weights, program.weights)) if old is not new}
                if any(v in previous.made_inside and previous.weights[v - n_arguments].requires_grad
                       for _j, v in previous.passthrough):
                    why = ("it returns a tensor that requires grad made inside it (eager makes a new leaf on every "
                           "call; a replay would return the capture's)")
                elif previous.writes_into & previous.made_inside:
                    why = ("it changes in place a tensor it makes (eager makes a new one on every call; a replay "
                           "would change the capture's again)")
            if why is not None and (self.check or self.fullgraph):
                raise CompileError(f"compile: {name} took a different path than captured: {why}")
            if why is not None:   # found by the second call's check: this signature runs eagerly from now on
                self._forget_program(previous)
                self.eager[key] = (why, watched)
                warnings.warn(f"compile: {name} runs eagerly for this input signature: {why}", CompileWarning,
                              stacklevel=3)
            self._checked(previous, why is None, _digest(tensors))
        else:
            if not program.verified:   # check the frozen values on the next calls (see VERIFY_CALLS), set up before
                program.checks_left, program.argument_values = VERIFY_CALLS, _digest(tensors)   # others can see it
            self.programs[key] = program
        return result

    def _checked(self, program: Program, agrees: bool, values: int) -> None:
        """Count a check of ``program`` by a call with argument values of digest ``values`` (``agrees``: it took the
        captured path). One at a time (another thread's check may end meanwhile), and in the order a replaying
        thread reads them (``verified``, then ``unproven``), so that none replays a program no check proved."""
        with _CHECKS_LOCK:
            if not agrees or program.diverged:   # dropped: a thread that found it before never replays it
                program.diverged, program.verified = True, False
                return
            program.checks_left -= 1
            # a call with the capture's own values proves nothing about values fn computed from them (frozen, or
            # tensors it made): after VERIFY_CALLS such checks it replays, and the first call with other values is
            # checked too (``unproven``, set before ``verified``; no digest on a GPU: verified)
            other = program.argument_values != values or program.argument_values == 0
            program.unproven = not other and _holds_values(program)
            program.verified = other or program.checks_left <= 0


def _holds_values(program: Program) -> bool:
    """Whether ``program`` replays values that ``fn`` may have computed from its arguments' values at capture:
    weights it made inside, or frozen values (an index a traced tensor gives is frozen as None, or a tuple of
    Nones: not such a value)."""
    return bool(program.made_inside) or any(
        value is not None and (type(value) is not tuple or any(v is not None for v in value))
        for _step, _what, value in program.frozen)


guards.OPAQUE += (Compiled,)   # a compiled function is not looked into for the tensors a capture read,
guards.COMPILED = (Compiled,)  # but through, to what it compiles


MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs")
FUSING_MODES = ("max-autotune", "max-autotune-no-cudagraphs")   # minigrad.fusion, on a GPU


def _views_an_external(outputs: list, tracer: Tracer) -> bool:
    """Whether an output that requires grad is a view of an argument or weight (not the tensor itself): eager
    tracks it as a view, whose graph an in-place op on the tensor re-points; a replay's output would keep its
    node, and its gradient would miss the change (a silent wrong gradient), so such a signature runs eagerly."""
    owners = {id(memory_owner(t.data)) for t in tracer.externals if t.requires_grad}
    externals = {id(t) for t in tracer.externals}
    return bool(owners) and any(y.requires_grad and id(y) not in externals and id(memory_owner(y.data)) in owners
                                for y in outputs)


def compile(fn: Callable | None = None, *, check: bool = False,  # noqa: A001 - mg.compile, as torch.compile
            fullgraph: bool = False, dynamic: bool | None = None, backend: str = "inductor",
            mode: str | None = None, options: dict | None = None, name: str | None = None,
            disable: bool = False) -> Any:
    """Capture ``fn``'s ops on its first call per input signature and replay them as one node afterwards.

    ``fn`` (a function or an ``nn.Module``) takes Tensors (and other hashable arguments) and returns a
    Tensor or Tensors nested in tuples, lists and dicts. Values and gradients equal eager mode's. Use
    as ``step = mg.compile(step)`` or as a decorator (``@mg.compile`` or ``@mg.compile(check=True)``).

    ``check=True`` captures every call afresh and raises :class:`CompileError` where one took another
    path. The keywords of ``torch.compile`` are taken, so PyTorch code runs unchanged:
    ``fullgraph=True`` raises :class:`CompileError` where a signature would run eagerly (PyTorch's
    "graph break") instead of warning; ``disable=True`` returns ``fn`` itself. ``mode="max-autotune"``
    (or ``"max-autotune-no-cudagraphs"``) fuses each run of elementwise ops of a capture on a GPU into
    generated kernels (:mod:`minigrad.fusion`: faster, equal to eager up to the last bits instead of
    bit-identical); on the CPU it replays as the default does. ``dynamic`` (shapes re-trace either way),
    ``backend`` (one of ``BACKENDS``), the other modes (``MODES``), ``options`` and ``name`` are checked
    and have no effect (``mode`` with ``options`` raises RuntimeError, as torch's).

    Each call makes a wrapper with its own captures, eager fallbacks and limits (torch.compile's calls on one
    function share a cache unless ``isolate_recompiles=True``): ``mg.compile(f, fullgraph=True)`` raises
    even where an earlier ``mg.compile(f)`` fell back to eager. Compiling a compiled function compiles its
    function with the new options (the outer wrapper's win, as torch's).
    """
    if mode not in MODES:
        raise ValueError(f"compile: unknown mode {mode!r}; expected one of {MODES}")
    if backend not in BACKENDS:
        raise ValueError(f"compile: unknown backend {backend!r}; expected one of {BACKENDS} "
                         "(minigrad replays its own captured ops; the name is accepted for PyTorch code)")
    if dynamic not in (None, True, False) or options is not None and not isinstance(options, dict):
        raise TypeError(f"compile: dynamic must be None or a bool and options a dict, got {dynamic!r}, {options!r}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"compile: name must be a string, got {type(name).__name__}")

    def wrap(f: Callable) -> Any:
        if not callable(f):
            raise TypeError(f"compile: expected a function or a module, got {type(f).__name__}")
        if mode is not None and options is not None:   # as torch.compile, when it is given the function
            raise RuntimeError(f"compile: either mode or options can be given, not both (mode={mode!r}, "
                               f"options={options!r})")
        return f if disable else Compiled(f, check=check, fullgraph=fullgraph, fuse=mode in FUSING_MODES)
    return wrap if fn is None else wrap(fn)
