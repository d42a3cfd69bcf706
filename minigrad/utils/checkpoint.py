"""Activation checkpointing, as ``torch.utils.checkpoint``: trade compute for memory.

    h = checkpoint(block, x, use_reentrant=False)        # block's activations are not kept for backward
    y = checkpoint_sequential(model, 4, x, use_reentrant=False)

A plain forward keeps, until backward, every array its ops saved for their gradients. Under
``checkpoint(function, *args)`` the ops inside ``function`` keep nothing once it returns: only the
arguments (and the random streams' state) are kept, and backward runs ``function`` again to get back
what it needs.

How, in this engine:

1. ``function`` runs once, recording as usual, inside a name scope of its own (``checkpoint#N``), which
   tells the ops it recorded apart from the rest of the graph.
2. From its outputs, a walk back through those ops finds where they read from outside: a leaf that
   requires grad (an argument, a module's parameter, a closure's tensor) or the output of an op outside
   (an argument computed before, a tensor from a closure). Their scopes lose the ``checkpoint#N`` part.
3. The outputs become the outputs of one node, ``checkpoint``, whose inputs are those outside tensors;
   the segment's own graph (and every array it saved) is dropped.
4. That node's backward runs ``function`` again on the same arguments, grad recording on and the random
   streams set back to where the forward's draws began (and put back after: the outer streams continue
   as if nothing had been recomputed). The recomputed graph's edges to the outside tensors are pointed
   at stand-in leaves, and ``mg.autograd.grad`` of the recomputed outputs with respect to those gives
   one gradient per input of the node, which the outer backward carries on with.

The segment's ops run again in the same order on the same arrays, so every gradient is the plain run's,
bit for bit (up to the order in which a tensor used both inside and outside a segment sums its parts).
``loss.backward()``, ``mg.autograd.grad`` (no ``.grad`` changes), ``retain_graph=True``, nested
checkpoints, keyword arguments, non-tensor arguments and outputs that are tuples, lists or dicts work,
with ``use_reentrant=True`` too (torch's reentrant checkpoint refuses ``grad()`` and ``backward(inputs=)`` with a
RuntimeError; here both modes give the gradients its non-reentrant one gives). Among the nodes ready at once in a
backward, the checkpoint's runs by recording order, as torch's (hooks fire in torch's order; a backward failing at
an op recorded before the call has already given the leaves only the call reads their ``.grad``).
A tensor the function computes that the caller holds (kept in a list, a module attribute) and calls
``retain_grad()`` on, inside the function or after, gets its ``.grad`` from the recomputed ops (they are the
forward's, in the same order), as torch's non-reentrant checkpoint, which keeps the forward's graph, gives it;
so do hooks registered on it after the call (``register_hook``), ``mg.autograd.grad(outputs, it)`` and
``backward(inputs=[it])``, also inside nested checkpoints (each recomputation maps onto the first forward's
ops). A ``create_graph=True`` backward or grad at such a tensor raises NotImplementedError (that walk does not
reach into the recomputation; torch's gives its gradient).

While ``function`` runs in the forward, its graph exists as in a plain run; it is dropped when
``checkpoint`` returns, so the saving is in what the graph holds between forward and backward.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import warnings
import weakref
from typing import Any, Callable, ContextManager, Iterator, NamedTuple, Sequence

from .. import backend
from ..arguments import as_bool
from ..autograd import graph
from ..autograd.engine import _SEQUENCE, Function, LazyGradient, plain_class
from ..autograd.functions import grad
from ..compile import run_eagerly
from ..generators import fork_rng, get_rng_state, own_host_stream, set_rng_state
from ..generators import generator as device_stream
from ..hooks import CAPTURING, _is_prehook
from ..recording import _state, name_scope, no_grad, record_grad
from ..tensor import Tensor
from ..versions import INPLACE

__all__ = ["CheckpointError", "check_backward_validity", "checkpoint", "checkpoint_sequential", "detach_variable",
           "get_device_states", "noop_context_fn", "set_checkpoint_debug_enabled", "set_checkpoint_early_stop",
           "set_device_states"]

_MARKER = "checkpoint#"          # the scope a checkpointed function records in: checkpoint#1, checkpoint#2, …
_serial = itertools.count(1)
_DETERMINISM_CHECKS = ("default", "none")
_debug_enabled: bool | None = None   # set_checkpoint_debug_enabled's value: None defers to each call's debug=


class _OpTree(NamedTuple):
    """The ops a checkpointed function recorded in its first forward, which the caller's tensors belong to."""

    ops: list[tuple[weakref.ref, str]]   # each op by weak reference (its saved arrays are not kept), and its name
    nested: dict[int, _OpTree]   # position in ``ops`` of a nested checkpoint's node -> its own function's tree


class CheckpointError(RuntimeError):
    """The recomputation in backward did not match the forward (as ``torch.utils.checkpoint.CheckpointError``)."""


def noop_context_fn() -> tuple[ContextManager, ContextManager]:
    """``context_fn``'s default: no context around the forward run nor around the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled: bool | None) -> Iterator[None]:
    """Inside: every non-reentrant :func:`checkpoint` call runs with ``debug=enabled`` whatever its own ``debug``
    argument (``None``: each call's own), as torch's (a process-wide setting, restored on exit)."""
    global _debug_enabled
    previous, _debug_enabled = _debug_enabled, enabled
    try:
        yield
    finally:
        _debug_enabled = previous


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool) -> Iterator[None]:
    """Torch's switch for stopping a recomputation once it has every tensor backward needs: taken and changes
    nothing here, where the whole function is always recomputed (see ``early_stop`` in :func:`checkpoint`)."""
    yield


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None, preserve_rng_state: bool = True,
               context_fn: Callable[[], tuple[ContextManager, ContextManager]] | None = None,
               determinism_check: str = "default", debug: bool = False, early_stop: bool = True,
               **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, keeping none of its activations for backward, which recomputes them.

    Returns what ``function`` returns (a Tensor, or tuples, lists and dicts holding Tensors and other
    values); each tensor it computed from tensors that require grad is an output of one ``checkpoint``
    node (a tensor it returns as it got it, or one that needs no grad, is returned as it is). Gradients
    reach the tensor arguments and every tensor ``function`` reads that requires grad (a module's
    parameters, a closure's tensors), equal to a plain call's bit for bit, except that a tensor used both
    inside ``function`` and outside it (with three or more uses) may sum the parts of its gradient in
    another order: equal to rounding. ``args``: anything; tensors keep any shape, e.g. ``x: (T, B, I)``
    for an LSTM. The graph keeps the arguments (and the RNG state) for backward, none of the arrays the
    function's ops save; while ``function`` runs, its graph exists as in a plain call.

    ``use_reentrant``: pass it, as torch 2.13 asks; left out, a UserWarning says so and the reentrant
    variant is used, as torch's default. Both variants use the same mechanism here (the results are
    identical), except where torch's reentrant variant differs: with ``use_reentrant=True`` keyword
    arguments, ``context_fn`` and ``debug`` raise a ValueError, and when no tensor argument requires grad
    it warns that gradients will be None and its outputs do not require grad, as torch's. Unlike torch's
    reentrant variant, it also works under ``mg.autograd.grad`` and ``backward(inputs=)``, and tensors
    inside nested arguments or outputs get their gradients.

    ``preserve_rng_state``: the recomputation draws the same random numbers as the forward (dropout masks
    repeat), and the streams after backward are where they would be without the recomputation. On the
    CPU the draws are those of a plain run. On a GPU (of a tensor argument, as torch's), CuPy's stream
    cannot be copied, so the function draws from a stream seeded from that GPU's stream: other numbers
    than a plain run, repeated exactly by the recomputation. False: the recomputation draws on from the
    streams as they are then.

    ``context_fn``: returns two context managers: the forward runs in the first, the recomputation in the
    second (torch's ``create_selective_checkpoint_contexts`` is not available). ``determinism_check``:
    ``"default"`` checks that the recomputation gives outputs of the same shapes and dtypes, ``"none"``
    does not (that it returns and reads the same tensors is always checked: its gradients map on them);
    ``debug=True`` lists the ops of both runs in a :class:`CheckpointError` (inside
    :func:`set_checkpoint_debug_enabled`, its value applies instead, to non-reentrant calls). ``early_stop``
    is taken and changes nothing: the whole function is always recomputed (torch may stop once it has what
    it needs).

    ``saved_tensors_hooks`` (and ``save_on_cpu``) as in torch: hooks on at the call pack the tensor arguments
    (positional ones), and the recomputation reads what their unpack hook gives back; they pack none of the
    function's own arrays (hooks it enters itself do). Hooks on during backward apply to the recomputed ops
    of the reentrant variant only. Gradients of gradients (``create_graph=True``) equal a plain run's to
    rounding, not bit for bit: the recomputed graph joins the outer one at the inputs, so the parts of a
    second-order gradient are summed in another order.

    Inside ``mg.compile`` the captured call runs eagerly (with a CompileWarning): a replay cannot
    recompute the function. A function that changes a tensor argument in place, or whose recomputation
    reads a tensor that requires grad which the forward did not (one it makes itself), raises. One that changes
    in place a tensor of its own after an op saved it computes with ``use_reentrant=False``, as torch's: the
    recomputed ops keep copies of what they save, so backward reads the values as saved (torch's recomputation,
    which stops once it has what backward needs, reads the changed values when the change comes before that
    point: a gradient of other values than the forward's).
    """
    reentrant = _use_reentrant(use_reentrant, "checkpoint")
    preserve = as_bool(preserve_rng_state, "checkpoint", "preserve_rng_state")
    debug = as_bool(debug, "checkpoint", "debug")
    as_bool(early_stop, "checkpoint", "early_stop")
    if not callable(function):
        raise TypeError(f"checkpoint: function must be callable, got {type(function).__name__}")
    if reentrant:
        if kwargs:
            raise ValueError(f"checkpoint: unexpected keyword arguments: {','.join(kwargs)} (the reentrant variant "
                             "passes none to the function, as torch's; pass use_reentrant=False)")
        if (context_fn is not None and context_fn is not noop_context_fn) or debug:
            raise ValueError("checkpoint: passing `context_fn` or `debug` is only supported when use_reentrant=False")
    else:
        debug = bool(_debug_enabled) if _debug_enabled is not None else debug
    if not reentrant and determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"checkpoint: determinism_check should be one of {list(_DETERMINISM_CHECKS)}, "
                         f"but got {determinism_check!r}")
    if context_fn is not None and not callable(context_fn):
        raise TypeError(f"checkpoint: context_fn must be callable (returning two context managers), got "
                        f"{type(context_fn).__name__}")
    run_eagerly("it calls checkpoint, whose function runs again in backward: a replay cannot recompute it")
    if not _state.get().grad:   # nothing is recorded, so nothing is kept: a plain call
        return function(*args, **kwargs)
    if reentrant and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("checkpoint: none of the inputs have requires_grad=True. Gradients will be None",
                      UserWarning, stacklevel=2)
        with no_grad():   # as torch's reentrant checkpoint: its outputs then do not require grad
            return function(*args)
    segment = _Segment(function, args, kwargs, preserve, context_fn, determinism_check == "default" or reentrant,
                       debug)
    return segment.run(reentrant)


def checkpoint_sequential(functions: Any, segments: int, input: Any, use_reentrant: bool | None = None,  # noqa: A002
                          **kwargs: Any) -> Any:
    """Run ``functions`` one after another on ``input``, checkpointing ``segments - 1`` runs of them.

    ``functions``: an ``nn.Sequential`` (its modules in the order its forward runs them), a list of
    modules or callables; each takes the previous one's output, as in ``nn.Sequential``. With ``n``
    functions, each of the first ``segments - 1`` segments holds ``n // segments`` of them and runs under
    :func:`checkpoint`; the rest run normally, as torch's (whose last segment is not checkpointed).
    ``preserve_rng_state`` (keyword) is passed on; ``use_reentrant`` as in :func:`checkpoint` (left out: a
    UserWarning, and the reentrant variant). Unlike torch's, a module that appears twice in an
    ``nn.Sequential`` runs twice (torch's takes ``children()``, which gives it once).
    """
    reentrant = _use_reentrant(use_reentrant, "checkpoint_sequential")
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError(f"checkpoint_sequential: unexpected keyword arguments: {','.join(kwargs)}")
    if isinstance(functions, (list, tuple)):
        functions = list(functions)
    elif callable(getattr(functions, "children", None)) and hasattr(functions, "__iter__"):
        functions = list(functions)   # an nn.Sequential or ModuleList: its modules in order
    else:
        raise TypeError(f"checkpoint_sequential: functions must be an nn.Sequential or a list of modules or "
                        f"functions, got {type(functions).__name__}")
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be a positive int, got {segments!r}")
    size = len(functions) // segments
    if size == 0 and segments > 1:
        raise ValueError(f"checkpoint_sequential: {segments} segments of {len(functions)} functions leave some "
                         "segments empty; use at most as many segments as functions")

    def run(start: int, end: int) -> Callable[[Any], Any]:
        def forward(x: Any) -> Any:
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=reentrant, preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)


def _use_reentrant(value: Any, caller: str) -> bool:
    if value is None:
        warnings.warn(f"{caller}: the use_reentrant parameter should be passed explicitly (torch 2.13 warns, and "
                      "says a later version will raise). use_reentrant=False is recommended; without it the "
                      "reentrant variant is used, as torch's default. See minigrad.utils.checkpoint.checkpoint "
                      "for the differences between the two.", UserWarning, stacklevel=3)
        return True
    return as_bool(value, caller, "use_reentrant")


class _Segment:
    """One checkpointed call: what its backward needs to run the function again, and how to map what the
    recomputation reads onto the inputs of its ``checkpoint`` node."""

    def __init__(self, function: Callable, args: tuple, kwargs: dict, preserve: bool, context_fn: Callable | None,
                 check: bool, debug: bool) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.preserve, self.check, self.debug = preserve, check, debug
        self.context_fn = context_fn or noop_context_fn

    def run(self, reentrant: bool) -> Any:
        """The forward: run the function once, then replace its graph by one ``checkpoint`` node."""
        arguments = _unique(_tensors_in((self.args, self.kwargs), []))
        before = [INPLACE.version(t.data) for t in arguments]
        outer = _state.get().scope
        forward_context, self.recompute_context = _contexts(self.context_fn)
        self.packed = _pack_arguments(self.args)
        # this thread's copy of the host stream: another thread's draws do not move it between host_state and
        # the function's draws (the recomputation draws from host_state)
        with own_host_stream(keep=True) if self.preserve else contextlib.nullcontext():
            self.host_state = get_rng_state() if self.preserve else None
            gpus = sorted({t.device.index or 0 for t in arguments if t.device.type == "cuda"}) if self.preserve else []
            self.gpu_seeds = _draw_gpu_seeds(gpus)
            with _gpu_streams(self.gpu_seeds), forward_context, _without_callers_hooks(), \
                    name_scope(f"{_MARKER}{next(_serial)}") as path:
                result = self.function(*self.args, **self.kwargs)
        for i, (t, version) in enumerate(zip(arguments, before)):
            if INPLACE.version(t.data) != version:
                raise RuntimeError(f"checkpoint: {_name(self.function)} changed tensor argument {i} (shape "
                                   f"{tuple(t.shape)}, {t.dtype}) in place; its recomputation in backward would "
                                   "read the changed values. Change it out of place (or .clone() it first).")
        found = _tensors_in(result, [])
        wrapped = [y for y in _unique(found) if y._node is not None and _recorded_in(y._node, path)]
        if not wrapped:   # nothing it recorded reaches its outputs: no graph to drop
            return result
        self.n_found = len(found)
        self.positions = [next(i for i, y in enumerate(found) if y is w) for w in wrapped]
        self.meta = [(y.shape, y.dtype) for y in wrapped]
        nodes, externals = _segment(wrapped, path)
        _relabel(nodes, path, outer)
        self.ops = [n.name for n in nodes] if self.debug else None
        # the forward's ops, by weak reference (their saved arrays are not kept): the recomputed ops, met in the
        # same order, stand for the tensors of theirs that the caller holds: their retain_grad()s' .grad, the hooks
        # put on them after the call, grad() and backward(inputs=) at them; create_graph refuses them
        # (hooks.refuse_checkpointed)
        # (nested: a checkpoint node among them stands for its own function's ops: their tree, by position)
        self.tree = _OpTree([(weakref.ref(n), n.name) for n in nodes],
                            {i: n.saved[1].tree for i, n in enumerate(nodes) if plain_class(n) is _Checkpoint})
        # the tree of the first forward, where this call is one an outer checkpoint's recomputation made: the
        # caller holds those tensors, not this call's (set by that recomputation)
        self.origin: _OpTree | None = None
        self.label = _without_markers(outer)   # the recomputed ops' scope, as the forward's ops had it
        self.input_keys = {_key(edge): k for k, edge in enumerate(externals)}
        self.reentrant = reentrant
        # per thread (threads may recompute one shared graph's node at once): id of a leaf argument's unpacked
        # stand-in -> (the stand-in, the leaf), filled by each recomputation (see _unpacked_arguments)
        self.local = threading.local()
        self.input_dtypes = [edge.dtype if isinstance(edge, Tensor) else edge[0].out_meta[edge[1]][1]
                             for edge in externals]
        # in-place changes of these after the forward are refused at backward, as a plain run's saved arrays
        self.arrays = tuple([t.data for t in arguments] + [e.data for e in externals if isinstance(e, Tensor)])
        node = _Checkpoint(self, externals, [y.data for y in wrapped])
        for n in nodes:
            n.hooks = None   # hooks registered inside the function: the recomputation registers them again
        _point_tree_at(self.tree, node)   # (grad() at their tensors, nested checkpoints' ones too, runs node)
        made = [Tensor._make(y.data, True, node, i) for i, y in enumerate(wrapped)]
        for y, m in zip(wrapped, made):
            if y.retains_grad:   # the function called retain_grad() on a tensor it returns
                m.retain_grad()
        return _rebuild(result, {id(y): m for y, m in zip(wrapped, made)})

    @property
    def first_forward(self) -> _OpTree:
        """The ops of the first forward (whose tensors the caller holds): ``origin`` in a call that an outer
        checkpoint's recomputation made, else this call's own ``tree``."""
        return self.origin or self.tree

    def gradients(self, node: _Checkpoint, grads: tuple) -> tuple:
        """The node's backward: recompute, then one gradient array (or None) per input of the node. Inside an
        ``autograd.grad`` (``backward(inputs=)``) at tensors the function computed (the forward's, which the caller
        holds), their gradients go to that grad's results (their ``.grad``), from the recomputed ops standing for
        them."""
        ys, nodes = self.recompute()
        stand_ins = self._point_at_stand_ins(nodes, node)
        roots, given = [], []
        for y, g in zip(ys, grads):
            if g is not None:
                roots.append(y)
                given.append(Tensor._make(g.value() if isinstance(g, LazyGradient) else g, False, None, 0))
        targets = getattr(CAPTURING, "targets", None)   # the grad() this backward runs in, if any
        inner = self._inner_targets(nodes, targets.inside.get(node, ())) if targets is not None else {}
        if inner:   # only what leads to grad()'s inputs runs (PyTorch's walk runs no node beyond them)
            stand_ins = [s if s is not None and targets.reaches(edge) else None
                         for s, edge in zip(stand_ins, node.edges)]
        wanted = [s for s in stand_ins if s is not None]
        if not roots or not (wanted or inner):
            return (None,) * len(stand_ins)
        try:
            computed = iter(grad(roots, wanted + list(inner.values()), grad_outputs=given, allow_unused=True))
        finally:   # nested checkpoints' forward ops: this node runs for them again (the recomputation re-pointed them)
            for tree in self.first_forward.nested.values():
                _point_tree_at(tree, node)
        out = []
        for s in stand_ins:
            g = None if s is None else next(computed)
            out.append(None if g is None else g.data)
        for key, g in zip(inner, computed):   # (backward(inputs=): their retain_grad() took them already)
            if g is not None and targets.captured is not None:
                targets.captured[key] = g.data
        return tuple(out)

    def _inner_targets(self, nodes: list, wanted: Sequence[tuple]) -> dict:
        """``{(forward op, output index): a Tensor of the recomputed op standing for it}`` for each of ``wanted``;
        an op of a nested checkpoint's function stays itself (that checkpoint's recomputation stands for it)."""
        recomputed = {ref(): op for op, (ref, name) in zip(nodes, self.first_forward.ops) if op.name == name}
        inner = {}
        for forward, index in wanted:
            op = recomputed.get(forward, forward)
            shape, dtype = op.out_meta[index]
            inner[(forward, index)] = Tensor._make(op.xp.broadcast_to(op.xp.zeros((), dtype), shape), True, op, index)
        return inner

    def recompute(self) -> tuple[list, list]:
        """Run the function again as the forward ran it (its random streams, recording), as the node's backward
        and its ``create_graph`` rule do: the outputs the node stands for (checked to be the forward's) and the
        recorded ops between them and the inputs, relabelled as the forward's segment."""
        args = self._unpacked_arguments()
        # the non-reentrant variant recomputes under hooks of its own in torch: the caller's do not apply there
        own_hooks = contextlib.nullcontext() if self.reentrant else _saving_copies()
        with fork_rng(devices=[], enabled=self.preserve):
            if self.preserve:
                set_rng_state(self.host_state)
            with _gpu_streams(self.gpu_seeds), record_grad(), self.recompute_context, own_hooks, \
                    name_scope(f"{_MARKER}{next(_serial)}") as path:
                result = self.function(*args, **self.kwargs)
        found = _tensors_in(result, [])
        ys = [found[p] for p in self.positions] if len(found) == self.n_found else []
        if len(found) != self.n_found or any(not isinstance(y, Tensor) or y._node is None
                                             or not _recorded_in(y._node, path) for y in ys):
            self._mismatch(f"the forward returned {self.n_found} tensors, {len(self.positions)} of them computed "
                           f"by recorded ops; the recomputation returned {len(found)}, and not the same ones", [])
        if self.check:
            for k, (y, (shape, dtype)) in enumerate(zip(ys, self.meta)):
                if y.shape != shape or y.dtype != dtype:
                    self._mismatch(f"output {k} was {dtype}{shape} in the forward and is {y.dtype}{y.shape} in "
                                   "the recomputation", [])
        nodes, _ = _segment(ys, path)
        _relabel(nodes, path, self.label)
        forward_nodes, nested = self.first_forward
        for i, (op, (ref, name)) in enumerate(zip(nodes, forward_nodes)):   # the same ops, met in the same order
            if i in nested and plain_class(op) is _Checkpoint:   # a nested checkpoint: its recomputation maps on those
                op.saved[1].origin = nested[i]
                _point_tree_at(nested[i], op)
            forward = ref()
            if forward is None or op.name != name:
                continue
            if forward.retained:
                op.retained = forward.retained   # the forward's tensors, which the caller holds, not the recomputed
            if forward.hooks:   # registered on the forward's tensors after the call (grad_fn prehooks too)
                _add_hooks(op, forward.hooks)
        return ys, nodes

    def _unpacked_arguments(self) -> tuple:
        """The arguments for the recomputation: as given, or, where saved_tensors_hooks packed the tensor arguments
        in the forward (as torch saves them for backward), each tensor's ``unpack_hook`` value in its place, a
        tensor with the argument's graph (a leaf's stand-in is mapped back to the leaf by :meth:`input_index`)."""
        if self.packed is None:
            return self.args
        args = list(self.args)
        originals = self.local.originals = {}   # this recomputation's (this thread's)
        for i, packed, unpack_hook in self.packed:
            a = args[i]
            value = unpack_hook(packed)
            if not isinstance(value, Tensor) or value.shape != a.shape or value.dtype != a.dtype \
                    or value.device != a.device:
                raise RuntimeError(f"checkpoint: the saved_tensors_hooks unpack_hook returned "
                                   f"{_describe(value)} for tensor argument {i}, which was {_describe(a)}; "
                                   "unpack_hook(pack_hook(t)) must have t's shape, dtype and device")
            args[i] = Tensor._make(value.data, a.requires_grad, a._node, a._index)
            if a.requires_grad and a._node is None:
                originals[id(args[i])] = (args[i], a)   # the stand-in kept alive while its id is used
        return tuple(args)

    def input_index(self, edge: Any) -> int | None:
        """Which input of the node an edge of the recomputed ops to a tensor outside stands for (None: none)."""
        originals = getattr(self.local, "originals", None)
        if originals and isinstance(edge, Tensor) and id(edge) in originals:
            edge = originals[id(edge)][1]
        return self.input_keys.get(_key(edge))

    def _point_at_stand_ins(self, nodes: list, node: _Checkpoint) -> list:
        """Point every edge of the recomputed ops to a tensor outside at a fresh leaf standing for the node's
        input it is (so the gradient stops there, without the outside tensor's hooks); those leaves, per input."""
        inside = set(nodes)
        stand_ins: list = [None] * len(self.input_keys)
        for op in nodes:
            edges, changed = list(op.edges), False
            for j, edge in enumerate(edges):
                if edge is None or (type(edge) is tuple and edge[0] in inside):
                    continue
                k = self.input_index(edge)
                if k is None:
                    what = f"a leaf of shape {tuple(edge.shape)}" if isinstance(edge, Tensor) else \
                        f"output {edge[1]} of op '{edge[0].name}'"
                    self._mismatch(f"the recomputation read a tensor that requires grad ({what}) that the forward "
                                   "did not read (a tensor that requires grad made inside the function cannot be "
                                   "checkpointed)", nodes)
                if stand_ins[k] is None:
                    data = edge.data if isinstance(edge, Tensor) else node.xp.zeros((), dtype=self.input_dtypes[k])
                    stand_ins[k] = Tensor._make(data, True, None, 0)
                edges[j], changed = stand_ins[k], True
            if changed:
                op.edges = tuple(edges)
        return stand_ins

    def _mismatch(self, what: str, nodes: list) -> None:
        message = (f"checkpoint: recomputing {_name(self.function)} in backward did not match its forward: {what}. "
                   "The function must compute the same thing when run again (same ops, tensors and shapes).")
        if self.debug:
            recomputed = [n.name for n in nodes]
            message += f"\nforward ops (backward order): {_ops(self.ops)}\nrecomputed ops: {_ops(recomputed)}"
        else:
            message += " Pass debug=True to list the ops of both runs."
        raise CheckpointError(message)


class _Checkpoint(Function):
    """The node of one checkpointed call: its outputs are the function's, its inputs the tensors from
    outside the function that those depend on, and its backward recomputes the function
    (:meth:`_Segment.gradients`). Made directly, as ``autograd.functions._Roots``: its outputs were
    computed by the function's own ops, so it has no ``forward`` of its own."""

    name = "checkpoint"
    multiple = True
    user_code = True   # its backward reruns the user's function (a custom Function or hook in it may read a .grad)

    def __init__(self, segment: _Segment, edges: list, outputs: list) -> None:
        self.edges = tuple(edges)
        self.needs_grad = (True,) * len(edges)
        self.n_outputs = len(outputs)
        self.out_meta = tuple((a.shape, a.dtype) for a in outputs)
        self.xp = backend.array_module(outputs[0])
        scope = _state.get().scope
        if scope:
            self.scope = scope
        self.epoch = INPLACE.epoch
        # recorded now, as torch's checkpoint node (reentrant) or its function's last op (not): among the nodes ready
        # in a backward it runs after those recorded later and before those recorded earlier (the class default 0 ran
        # it last, so hooks fired in another order and a backward failing partway had not yet given its leaves theirs)
        self.seq = next(_SEQUENCE)
        # freed by a backward without retain_graph (a second one then raises, as a plain graph's); the arrays
        # are checked for in-place changes since now, as every node's saved arrays
        self.saved = (segment.arrays, segment)
        if segment.reentrant:
            # torch's reentrant node has edges to its tensor arguments only: its backward adds the other tensors'
            # gradients (a module's parameters, a closure's tensors) itself, so if it raises, those tensors' other
            # uses have already added theirs into .grad (the engine's _finished_leaves reads this)
            self.outer_edges = tuple(e for e in edges if _is_argument(e, segment.args))

    def backward(self, *grads: Any) -> tuple:
        return self.saved[1].gradients(self, grads)


def _point_tree_at(tree: _OpTree, node: _Checkpoint) -> None:
    """Mark the forward ops of a checkpoint's ``tree`` (its function's, and nested checkpoints', at any depth) as
    recomputed by ``node``: ``autograd.grad`` at their tensors runs it (``checkpointed``, read by grad's targets)."""
    forward_nodes, nested = tree
    for ref, _ in forward_nodes:
        op = ref()
        if op is not None:
            op.checkpointed = weakref.ref(node)
    for subtree in nested.values():
        _point_tree_at(subtree, node)


def _add_hooks(op: Function, hooks: dict) -> None:
    """``hooks`` (a forward op's: output index -> hooks) added to the recomputed ``op``'s own, after them (the
    recomputation registered those inside the function, before the call returned), prehooks last."""
    own = op.hooks or {}
    op.hooks = {i: sorted(own.get(i, []) + hooks.get(i, []), key=_is_prehook) for i in {*own, *hooks}}
    op.user_code = True   # user code mid-walk (engine._NodeHooks)


def _is_argument(edge: Tensor | tuple, args: tuple) -> bool:
    """Whether a node's ``edge`` (a leaf, or ``(node, index)``) leads to one of the positional Tensor ``args``."""
    for a in args:
        if isinstance(a, Tensor) and (a is edge if isinstance(edge, Tensor) else (a._node, a._index) == edge):
            return True
    return False


# --- the walk over a checkpointed function's ops -----------------------------------------------------------


def _recorded_in(node: Function, path: str) -> bool:
    scope = node.scope
    return scope == path or scope.startswith(path + "/")


def _segment(outputs: Sequence[Tensor], path: str) -> tuple[list, list]:
    """The ops recorded in scope ``path`` that ``outputs`` depend on, and the edges by which they read from
    outside it (a leaf Tensor, or ``(node, index)`` of an op outside), each once, in the order met."""
    nodes: list = []
    seen: set = set()
    externals: list = []
    known: set = set()
    stack = []
    for y in outputs:
        if y._node not in seen:
            seen.add(y._node)
            stack.append(y._node)
    while stack:
        op = stack.pop()
        nodes.append(op)
        for edge in op.edges:
            if edge is None:
                continue
            if type(edge) is tuple:
                parent = edge[0]
                if parent in seen:
                    continue
                if _recorded_in(parent, path):
                    seen.add(parent)
                    stack.append(parent)
                    continue
            key = _key(edge)
            if key not in known:
                known.add(key)
                externals.append(edge)
    return nodes, externals


def _key(edge: Any) -> Any:
    """A hashable identity for an edge: its leaf, or its op and output index."""
    return id(edge) if isinstance(edge, Tensor) else (id(edge[0]), edge[1])


def _relabel(nodes: list, path: str, scope: str) -> None:
    """Give the ops recorded in ``path`` the scope they would have had without checkpointing."""
    cut = len(path)
    for op in nodes:
        rest = op.scope[cut:]   # "" or "/linear/..."
        op.scope = f"{scope}{rest}" if scope else rest[1:]


def _without_markers(scope: str) -> str:
    """``scope`` less the scopes checkpoints record in (from an outer checkpoint's recomputation)."""
    return "/".join(part for part in scope.split("/") if not part.startswith(_MARKER)) if _MARKER in scope else scope


# --- saved_tensors_hooks ---------------------------------------------------------------------------------


def _pack_arguments(args: tuple) -> list | None:
    """The tensor arguments (positional, not nested) through the caller's innermost ``saved_tensors_hooks``
    pack hook, as torch's checkpoint saves them for backward: ``[(position, packed, unpack_hook)]``; None
    without hooks. The recomputation reads ``unpack_hook(packed)`` in their place."""
    local = graph._HOOKS
    if not local.stack or local.packing:
        return None
    pack_hook, unpack_hook = local.stack[-1]
    with no_grad():
        return [(i, pack_hook(a), unpack_hook) for i, a in enumerate(args) if isinstance(a, Tensor)]


@contextlib.contextmanager
def _without_callers_hooks() -> Iterator[None]:
    """Inside: the caller's ``saved_tensors_hooks`` pack nothing (hooks entered inside do), as in torch, whose
    checkpoint saves the function's tensors under hooks of its own, innermost."""
    local = graph._HOOKS
    outer, local.stack = local.stack, []
    try:
        yield
    finally:
        local.stack = outer


class _RecomputedCopies(graph._AllowMutationOnSavedContext):
    """The copies :func:`_saving_copies` keeps, refusing the one case where torch's recomputation reads another
    value: an array saved earlier in it that the function changed in place before a later op saves (torch keeps
    the tensor itself and runs on until its last save, so its backward reads the changed value). A change after
    the last save is read as saved in both."""

    def __init__(self) -> None:
        super().__init__()
        self.originals: list[tuple[Any, int]] = []   # (each saved array, the in-place epoch when it was saved)

    def pack(self, tensor: Tensor) -> Any:
        """The copy of ``tensor``'s array to save, after checking no array saved before it was changed in place."""
        epoch = INPLACE.epoch
        if self.originals and self.originals[-1][1] != epoch:   # an in-place op ran since the last save
            self._refuse_changed()
        self.originals.append((tensor.data, epoch))
        return super().pack(tensor)

    def result_written(self, array: Any) -> None:
        """An in-place op such as relu_ or exp_ wrote its saved result into ``array``: torch packs that tensor now,
        after the write, so the check runs now and a later change of ``array`` counts as one of a saved tensor."""
        self._refuse_changed()
        self.originals.append((array, INPLACE.epoch))

    def _refuse_changed(self) -> None:
        """Refuse if an array saved so far was changed in place (a save comes now)."""
        for array, saved_at in self.originals:
            if INPLACE.changed_since(array, saved_at) is not None:
                raise RuntimeError(
                    f"checkpoint: the function changed in place a {array.dtype}{tuple(array.shape)} tensor "
                    "that an op had saved for backward, and then another op saved one; torch's non-reentrant "
                    "recomputation would read the changed value there (a gradient of other values than the "
                    "forward's). Change a clone() instead")


@contextlib.contextmanager
def _saving_copies() -> Iterator[None]:
    """Inside (a non-reentrant recomputation): the caller's ``saved_tensors_hooks`` pack nothing (hooks entered
    inside do), as in torch, whose checkpoint saves the function's tensors under hooks of its own, innermost.
    Ours keep a copy of each array the recomputed ops save (``allow_mutation_on_saved_tensors``' hooks), so that
    backward reads it as it was saved, also when the function changes it in place afterwards: torch's checkpoint
    computes there (a plain run raises the in-place error), but for :class:`_RecomputedCopies`' refusal. One copy
    per saved array, during backward only."""
    local = graph._HOOKS
    copies = _RecomputedCopies()
    outer, local.stack = local.stack, [(copies.pack, copies.unpack)]
    graph._activate(1)
    try:
        yield
    finally:
        local.stack = outer
        graph._activate(-1)


def _describe(value: Any) -> str:
    """``value`` for an error message: a tensor's dtype, shape and device, else its type."""
    if isinstance(value, Tensor):
        return f"a {value.dtype}{tuple(value.shape)} tensor on {value.device}"
    return f"a {type(value).__name__}"


# --- the random streams ---------------------------------------------------------------------------------


def _draw_gpu_seeds(indices: list[int]) -> list[tuple[int, int]]:
    """A seed drawn from each GPU's stream, for the stream the checkpointed function draws from there."""
    if not indices:
        return []
    cp = backend.cupy_module()
    seeds = []
    for index in indices:
        stream = device_stream(backend.resolve_device(f"cuda:{index}"))   # applies a seed set before CuPy loaded
        with cp.cuda.Device(index):
            seeds.append((index, int(stream.randint(0, 1 << 31))))
    return seeds


@contextlib.contextmanager
def _gpu_streams(seeds: list[tuple[int, int]]) -> Iterator[None]:
    """Inside: each GPU draws from a stream started from its seed; after: from its own stream, as it was."""
    if not seeds:
        yield
        return
    cp = backend.cupy_module()
    outer = []
    for index, seed in seeds:
        with cp.cuda.Device(index):
            outer.append(cp.random.get_random_state())
            cp.random.set_random_state(cp.random.RandomState(seed))
    try:
        yield
    finally:
        for (index, _), state in zip(seeds, outer):
            with cp.cuda.Device(index):
                cp.random.set_random_state(state)


# --- arguments and results --------------------------------------------------------------------------------


def _contexts(context_fn: Callable) -> tuple[ContextManager, ContextManager]:
    contexts = context_fn()
    if not (isinstance(contexts, tuple) and len(contexts) == 2
            and all(hasattr(c, "__enter__") and hasattr(c, "__exit__") for c in contexts)):
        raise TypeError("checkpoint: context_fn must return a tuple of two context managers (forward, "
                        f"recomputation), got {type(contexts).__name__}")
    return contexts


def _tensors_in(value: Any, found: list) -> list:
    """The Tensors in ``value`` (nested tuples, lists and dicts), in order, repeats included."""
    if isinstance(value, Tensor):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _tensors_in(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _tensors_in(item, found)
    return found


def _unique(tensors: list) -> list:
    seen: set = set()
    return [t for t in tensors if not (id(t) in seen or seen.add(id(t)))]


def _rebuild(value: Any, replace: dict) -> Any:
    """``value`` with the Tensors in ``replace`` (by id) replaced; containers without one are kept as they are."""
    if isinstance(value, Tensor):
        return replace.get(id(value), value)
    if isinstance(value, dict):
        items = {k: _rebuild(v, replace) for k, v in value.items()}
        if all(items[k] is value[k] for k in value):
            return value
        if type(value) is dict:
            return items
        copy = value.copy()
        copy.update(items)
        return copy
    if isinstance(value, (list, tuple)):
        items = [_rebuild(v, replace) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields"):   # a namedtuple
            return type(value)(*items)
        return type(value)(items)
    return value


def _name(function: Callable) -> str:
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return f"'{name}'"


def _ops(names: list | None) -> str:
    names = names or []
    return ", ".join(names[:60]) + (f", … ({len(names)} in all)" if len(names) > 60 else "")


# --- torch.utils.checkpoint's helpers for hand-written checkpoint Functions (its old CheckpointFunction's) ---

def detach_variable(inputs: tuple) -> tuple:
    """``inputs`` with each tensor detached, keeping its ``requires_grad`` (other items as they are), as
    ``torch.utils.checkpoint.detach_variable``; a non-tuple is its RuntimeError."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"detach_variable: only a tuple of tensors is supported, got {type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x for x in inputs)


def check_backward_validity(inputs: Any) -> None:
    """Warn, as PyTorch's, when no tensor among ``inputs`` requires grad (the gradients would all be None)."""
    if not any(x.requires_grad for x in inputs if isinstance(x, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


def get_device_states(*args: Any) -> tuple[list[int], list[Any]]:
    """The GPU index of each GPU tensor in ``args`` (nested in lists, tuples and dicts too) and that GPU's random
    state (``mg.cuda.get_rng_state``, which restarts its stream: see there), for :func:`set_device_states`, as
    PyTorch's; ``([], [])`` without GPU tensors."""
    from .. import cuda  # noqa: PLC0415 - mg.cuda loads CuPy's side: only when a GPU tensor is there

    indices: list[int] = []
    pending = list(args)
    while pending:
        item = pending.pop(0)
        if isinstance(item, Tensor) and item.device.type == "cuda":
            indices.append(item.device.index or 0)
        elif isinstance(item, (list, tuple)):
            pending[:0] = list(item)
        elif isinstance(item, dict):
            pending[:0] = list(item.values())
    return indices, [cuda.get_rng_state(index) for index in indices]


def set_device_states(devices: Sequence[int], states: Sequence[Any], *, device_type: str | None = None) -> None:
    """Set each GPU's random state (``mg.cuda.set_rng_state``) from :func:`get_device_states`'s lists, as
    PyTorch's (``device_type``: ``"cuda"`` or None; ``"meta"``: nothing)."""
    if device_type == "meta":
        return
    if device_type not in (None, "cuda"):
        raise ValueError(f"set_device_states: device_type must be 'cuda', got {device_type!r}")
    from .. import cuda  # noqa: PLC0415

    for index, state in zip(devices, states):
        cuda.set_rng_state(state, index)

