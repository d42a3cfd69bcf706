"""The autograd engine: op nodes and the backward pass.

Every differentiable op is a :class:`Function`. Calling one runs its
``forward`` on raw arrays and, when gradients are being recorded, turns the
call into a node of the graph:

* the node keeps *edges* to where each input came from: ``(node, index)`` for
  an op output, the Tensor itself for a leaf that requires grad, ``None`` for
  a constant. It never keeps its inputs' Tensors alive, only the arrays its
  ``backward`` needs (``self.saved``), so intermediate Tensors die with their
  last user reference and nothing here forms a reference cycle;
* the output Tensor holds the node strongly; the node does not hold its
  outputs at all.

Backward runs each node reachable from the root once, after all its consumers
(no recursion: a 50,000-op chain is fine), with the summed gradient of its
outputs, then frees its saved arrays unless ``retain_graph`` is set. Among the
nodes ready to run, the one recorded last goes first, as PyTorch's sequence
numbers order them. :func:`_walk` picks one of two walks:

* **In order** (:func:`_propagate_in_order`): a plain backward, from one root
  or several (``autograd.backward``, from one node standing for all the roots),
  with nothing watching. Every edge leads to a node recorded earlier, so running
  nodes in decreasing sequence number is already a valid order; no pass counts
  consumers first.
* **Counted** (:func:`count_consumers`, then :func:`_propagate`): Kahn's
  algorithm, for everything else: hooks of the user's on nodes, multi-grad
  hooks, anomaly checks, the profiler, a node recorded out of order
  (:func:`mark_unordered`), :func:`observe_backward` (the visualiser's
  gradient norms; changes nothing), and ``grad()`` / ``backward(inputs=)``,
  which run only the ops on a path to the wanted inputs.

Gradients reach the leaves' ``.grad`` in :func:`_accumulate`, after the walk, or
as each leaf's gradient completes when user code runs mid-walk
(:func:`_accumulate_ripe`). ``create_graph=True`` walks are in
:mod:`minigrad.higher_order`.

The recording state this reads once per op (grad mode, anomaly mode, name
scope) and its switches (``no_grad`` …) are in :mod:`minigrad.recording`.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from contextvars import ContextVar
from heapq import heappop, heappush
from sys import getrefcount
from typing import Any, Callable, Iterable, Sequence

import numpy

from .. import anomaly, backend
from ..anomaly import AnomalyError
from ..arguments import AxisError, constant_array, is_tensor_dtype, with_op_context, wrapped_ints
from ..frames import in_fresh_chunk
from ..hooks import (
    AFTER_BACKWARD,
    HOOKS_LOCK,
    HookError,
    RemovableHandle,
    _add_to_grad,
    _apply_hooks,
    _is_prehook,
    _leaf_label,
    _PostHooks,
    _run_node_hooks,
    register_post_accumulate_grad_hook,
    retain_grad,
    run_after_backward,
    run_post_accumulate_hooks,
)
from ..hooks import register_hook as _register_tensor_hook
from ..recording import _state, current_scope, is_grad_enabled, restore_state
from ..tensor import COMPLEX_GRAD_BEGINS, FLOAT16_GRAD_BEGINS, Tensor
from ..versions import INPLACE
from .names import OpName, named, pytorch_edges, pytorch_slots

__all__ = ["AnomalyError", "AxisError", "Function", "HookError", "LazyGradient", "current_scope", "is_grad_enabled",
           "observe_backward", "register_hook", "register_post_accumulate_grad_hook", "retain_grad", "tag"]

_new_tensor = object.__new__
_NDARRAY = numpy.ndarray   # (one global load, not two, where the hot paths test an array's type)
_SEQUENCE = itertools.count(1)   # Function.seq: the order nodes were recorded in, which backward runs in reverse
# one ((shape, dtype),) per output shape, shared by the nodes of that shape (see _shared_meta); checked for dtype
_meta_cache: dict = {}
_FREED = object()     # marks a node whose saved arrays were released
# saved_tensors_hooks (autograd.graph), set there: _PACK(node, inputs) packs a recorded node's saved arrays while
# hooks are on in some thread (None: the one check a recorded op pays); a packed node's epoch is -1, so the
# walks call _check_saved on it, which unpacks it (_UNPACK(node)) before its backward
_PACK: Callable | None = None
_UNPACK: Callable = lambda node: None  # noqa: E731
# the recording profiler (autograd.profiler), set there: it times each op call and backward node (None: the one
# check an op call pays)
PROFILE_HOOK: Any = None
# the open forward-AD dual level (autograd.forward_ad), set there: an op run under no_grad on tensors that carry a
# tangent still records, for the tangent only (see _tangent_only); None outside a level: the one check a
# non-recording op pays
FORWARD_AD: Any = None


class GradShapeError(ValueError, RuntimeError):
    """``y.backward(gradient)`` / ``grad(grad_outputs=)`` with a gradient of another shape than its output
    (PyTorch raises RuntimeError; minigrad raised ValueError first: both catch it)."""


class LazyGradient:
    """A gradient an op's backward may return instead of an array, to be summed cheaply and valued late.

    The engine only adds gradients with ``+`` (a subclass defines ``__add__``
    and ``__radd__``; with an array the result is an array) and calls
    ``value()`` where an array is needed. See ``ops.linalg.ProductSum``.
    """

    __array_ufunc__ = None   # `array + lazy` and `array += lazy` fall back to lazy.__radd__

    def value(self) -> Any:
        raise NotImplementedError


def _dense(g: Any) -> Any:
    return g.value() if isinstance(g, LazyGradient) else g


_PYTHON_NUMBERS = (int, float, bool, complex)


def _plain_number(x: Any) -> Any:
    """A subclass of int, float or complex (an IntEnum member) as the plain Python number PyTorch reads it: a
    weak scalar that keeps the tensor's dtype, where NumPy would read it as an int64, float64 or complex128;
    anything else (a Tensor, a plain number, a NumPy scalar) as it is."""
    if type(x) in _PYTHON_NUMBERS or not isinstance(x, (int, float, complex)) or isinstance(x, numpy.generic):
        return x
    return int(x) if isinstance(x, int) else float(x) if isinstance(x, float) else complex(x)


class Function:
    """One differentiable op: ``forward`` and ``backward`` on raw arrays.

    Subclasses implement ``forward(*arrays) -> array | tuple[array, ...]`` and
    ``backward(*grad_outputs) -> array | None | tuple``, returning one gradient
    per input (``None`` where no gradient flows). Arrays needed by backward go
    in ``self.saved`` (a tuple); ``self.xp`` is the array module of the inputs
    and ``self.needs_grad[i]`` says whether input ``i`` wants a gradient.
    Ops returning a tuple of outputs set ``multiple = True`` and ``n_outputs``,
    and receive ``None`` for outputs that got no gradient.
    """

    name = OpName("function")   # every class's is an OpName: a str that, called, gives PyTorch's name (.names)
    n_outputs = 1
    multiple = False   # True for ops returning a tuple of outputs (split, unbind)
    runs_user_hooks = False   # True for identity ops whose backward only runs user hooks (nn's module hooks)
    user_code = False   # True: user code may run at this node mid-walk (its hooks, its backward: see _NodeHooks)
    # set when recorded
    saved: Any = ()
    edges: tuple = ()
    needs_grad: tuple = ()
    scope = ""
    epoch = 0          # INPLACE.epoch when recorded: saved arrays changed in place after it are refused
    seq = 0            # when recorded (a count): among the nodes ready in a backward, the latest recorded runs first
    tag: str | None = None
    profiling = False   # True while the profiler's PROFILE_HOOK runs this call (it is timed once)
    hooks: dict | None = None
    retained: dict | None = None
    out_meta: tuple = ()   # ((shape, dtype), ...) per output, for the visualiser
    unpacks_lazily = False   # True: its backward unpacks saved_tensors_hooks' values itself (custom Functions)
    hidden = False   # True: a node PyTorch's graph has not (mg.func's stand-in view); next_functions skips it
    # True: the dtypes of its values were gated where they were made (split and unbind: views of their one input;
    # a compiled call: its captured ops), so the gates of _shared_meta look at its first output only
    gated_inside = False
    casts_to_input_dtypes = False   # True: its backward gives each input's gradient in its dtype (_dtype_gate)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name", cls.__name__.lower())
        if type(name) is str:   # once per class: node.name() then gives PyTorch's name ("MulBackward0")
            cls.name = OpName(name)
        if isinstance(cls.__dict__.get("forward"), staticmethod):   # PyTorch's style: Op.apply(…) (autograd.custom)
            cls.__call__ = Function._pytorch_style_call

    def forward(self, *arrays: Any) -> Any:
        raise NotImplementedError

    def backward(self, *grads: Any) -> Any:
        raise NotImplementedError

    def kept_for_backward(self) -> Any:
        """The saved arrays this node's backward reads, given ``needs_grad`` (all of ``saved`` unless an op says
        less): the in-place check refuses only changes to these, as PyTorch saves only what backward needs."""
        return self.saved

    def __call__(self, *inputs: Any) -> Any:
        if PROFILE_HOOK is not None and not self.profiling:
            return PROFILE_HOOK(self, inputs)
        arrays, edges, needs_grad = [], [], []
        record = False
        on_host = True
        for x in inputs:
            if type(x) is not Tensor:   # (a plain Tensor, the usual input, pays this one check)
                if not isinstance(x, Tensor):   # a number or an array: a constant
                    # an array of a dtype no tensor holds (object, longdouble, str ...) goes to constant_array's refusal
                    numeric = isinstance(x, (int, float, complex)) or backend.is_array(x) and is_tensor_dtype(x.dtype)
                    if type(x) not in _PYTHON_NUMBERS and isinstance(x, (int, float, complex)) \
                            and not isinstance(x, numpy.generic):   # an IntEnum member, a float subclass: the
                        return self(*map(_plain_number, inputs))   # op again with plain numbers (mg.compile too)
                    arrays.append(x if numeric else constant_array(self.name, x))
                    edges.append(None)
                    needs_grad.append(False)
                    continue
                if x._refuses_ops:   # a lazy module's placeholder (nn.parameter)
                    x._refuse_op(self.name)
            data = x.data
            arrays.append(data)
            if type(data) is not _NDARRAY:
                on_host = False
            if x._requires_grad:
                record = True
                node = x._node
                edges.append(x if node is None else (node, x._index))
                needs_grad.append(True)
                continue
            if FORWARD_AD is not None:   # a dual level is open: x may carry a tangent without requiring grad
                carrier = FORWARD_AD.carrier(x)
                if carrier is not None:
                    edges.append((carrier._node, carrier._index))
                    needs_grad.append(True)
                    continue
            edges.append(None)
            needs_grad.append(False)
        if on_host:
            self.xp = numpy
        else:
            try:
                self.xp = _common_module(self.name, inputs, arrays)
            except _ScalarsMoved as moved:   # 0-dim CPU tensors among CUDA ones: the op runs again on the GPU
                return self(*moved.inputs)
        self.needs_grad = needs_grad = tuple(needs_grad)   # before forward: it may keep only what backward reads
        try:
            out = self.forward(*arrays)
        except OverflowError as error:   # a Python int beyond an integer tensor's range: wrapped, as PyTorch
            arrays = wrapped_ints(arrays, error)
            inputs = tuple(a if type(a) is int else x for x, a in zip(inputs, arrays))   # mg.compile replays these
            out = self.forward(*arrays)
        except (ValueError, TypeError, IndexError, ZeroDivisionError, MemoryError) as error:
            raise with_op_context(self.name, inputs, error) from error
        state = _state.get()
        checks = state.checks   # False; True under detect_anomaly; a Tracer while mg.compile captures
        if record and state.grad:
            self.edges = tuple(edges)
            if state.scope:   # the class default is "": most ops record outside any name scope
                self.scope = state.scope
            self.epoch = INPLACE.epoch
            self.seq = next(_SEQUENCE)
            node = self
            if _PACK is not None:   # saved_tensors_hooks on in some thread (autograd.graph)
                _PACK(self, inputs)
        elif FORWARD_AD is not None and FORWARD_AD.keeps_tangent(edges):
            return _tangent_only(self, inputs, arrays, out, edges, needs_grad, state)
        else:
            record, node = False, None
        if not self.multiple:
            if type(out) is not _NDARRAY and isinstance(out, (numpy.generic, int, float)):
                out = numpy.asarray(out)   # NumPy gives scalars for 0-d results
            if record:
                meta = _meta_cache.get(out.shape)   # keyed by shape, checked for dtype: cheaper to hash
                # a miss runs the gates (_shared_meta), so every op that needs one must miss: complex metas and
                # floating ones above the lowest recorded are not cached (_note_float_dtypes), and once a gate is
                # on (not _PLAIN) an input that needs grad in another dtype than the output is a miss too
                self.out_meta = meta if meta is not None and meta[0][1] is out.dtype \
                    and (_PLAIN or _plain_inputs(arrays, needs_grad, out.dtype)) else _shared_meta((out,), self, arrays)
            result = _new_tensor(Tensor)   # Tensor._make, inline: this runs once per op
            result.data = out
            result._requires_grad = record
            result._grad = result._hooks = result.name = None
            result._node = node
            result._index = 0
        else:
            if record:
                self.out_meta = _shared_meta(out, self, arrays)
                if self.runs_user_hooks:   # nn's module backward hooks: user code in the walk (see _NodeHooks)
                    _NodeHooks.registered = True
            result = tuple([Tensor._make(y, record, node, i) for i, y in enumerate(out)])
        if checks:
            if checks is True:
                anomaly.check_forward(self.name, state.scope, out if self.multiple else (out,), arrays)
            else:
                checks.record(self, inputs, result)
        return result

    def __repr__(self) -> str:
        scope = f" in {self.scope!r}" if self.scope else ""
        return f"<{self.name} node{scope}>"

    # --- PyTorch's graph introspection (computed on access: recording pays nothing for it) ---

    @property
    def next_functions(self) -> tuple:
        """One ``(node, index)`` per input, as PyTorch's ``grad_fn.next_functions``.

        The op that made the input and which of its outputs it is; for a leaf that
        requires grad, its :class:`AccumulateGrad` and 0; ``(None, 0)`` for an input
        that needs no gradient (a constant, a Python number). As PyTorch's, none for an
        input its node takes no gradient for (``where``'s condition, a mask, a number
        argument such as ``x ** 2``'s 2): see :func:`names.pytorch_edges`.
        """
        pairs = []
        for edge in self.edges:
            while type(edge) is tuple and edge[0].hidden:   # a transform's stand-in: the tensor it stands for
                edge = edge[0].edges[0]
            if type(edge) is tuple:
                pairs.append((named(edge[0]), edge[1]))
            elif edge is None:
                pairs.append((None, 0))
            else:
                pairs.append((AccumulateGrad.of(edge), 0))
        return pytorch_edges(self, tuple(pairs))

    @property
    def metadata(self) -> dict:
        """A dict of this node's own, for the user's notes, as PyTorch's ``grad_fn.metadata`` (made on first use)."""
        metadata = self.__dict__.get("_metadata")
        if metadata is None:
            metadata = self.__dict__["_metadata"] = {}
        return metadata

    def _sequence_nr(self) -> int:
        """When this node was recorded, as PyTorch's private ``grad_fn._sequence_nr()``: a count from 0 that grows
        with each node recorded (among the nodes ready in a backward the latest recorded runs first). minigrad
        counts once for the whole process where PyTorch counts per thread, so only numbers of one thread's nodes
        compare alike in both; and the numbers themselves differ from PyTorch's, whose nodes are others."""
        return self.seq - 1

    def register_prehook(self, hook: Callable[[tuple], Any]) -> RemovableHandle:
        """Call ``hook(grad_outputs)`` before this node's backward, as PyTorch's ``grad_fn.register_prehook``.

        ``grad_outputs`` is a tuple with the gradient (a Tensor) of the node's output;
        the hook returns None or a tuple with its replacement (same shape, dtype and
        device). As in PyTorch, the prehooks run in the order registered, after the hooks on the output
        tensor (``y.register_hook``) and its ``retain_grad``; not at a node ``autograd.grad`` stops at
        (whose gradient it returns). Only for ops with one output.
        """
        if self.n_outputs != 1:
            raise NotImplementedError(f"grad_fn.register_prehook: op '{self.name}' has {self.n_outputs} outputs; "
                                      "minigrad takes a prehook on an op with one output only (register a hook on "
                                      "each output tensor instead: y.register_hook(hook))")
        if not callable(hook):
            raise TypeError(f"register_prehook: the hook must be callable, got {type(hook).__name__}")
        op = self.name   # the wrapper below names the op without holding the node (no cycle through node.hooks)

        def on_output_gradient(grad: Tensor) -> Any:
            result = hook((grad,))
            if result is None:
                return None
            if not isinstance(result, (tuple, list)) or len(result) != 1:
                count = len(result) if isinstance(result, (tuple, list)) else type(result).__name__
                raise HookError(f"register_prehook: the hook {getattr(hook, '__name__', hook)!r} on op '{op}' "
                                f"returned {count}; it must return None or a tuple of 1 gradient (one per output)")
            return result[0]

        on_output_gradient.__name__ = getattr(hook, "__name__", "prehook")
        on_output_gradient.prehook = True   # runs after the output's tensor hooks (hooks._run_node_hooks)
        _NodeHooks.registered = self.user_code = True
        with HOOKS_LOCK:   # another thread's grad may be removing its capture hook from this table
            if self.hooks is None:
                self.hooks = {}
            hooks = self.hooks.setdefault(0, [])
            hooks.append(on_output_gradient)

        def remove() -> None:
            with HOOKS_LOCK:
                if on_output_gradient in hooks:
                    hooks.remove(on_output_gradient)
        return RemovableHandle(remove)

    def register_hook(self, hook: Callable[[tuple, tuple], Any]) -> RemovableHandle:
        """Call ``hook(grad_inputs, grad_outputs)`` after this node's backward, as PyTorch's ``grad_fn.register_hook``.

        ``grad_inputs``: a tuple with the gradient (a Tensor, or None) the op sends to each of its
        inputs, as PyTorch's node has them (as ``next_functions``: none for ``x ** 2``'s 2 or ``where``'s
        condition, a None for a convolution's bias not given); ``grad_outputs``: the gradients it received, one
        per output. The hook returns None or
        a tuple of replacements for ``grad_inputs`` (each of its input's shape and dtype). Hooks run in
        the order registered; a ``backward(create_graph=True)`` passes gradients with their graph.
        """
        if not callable(hook):
            raise TypeError(f"grad_fn.register_hook: the hook must be callable, got {type(hook).__name__}")
        _NodeHooks.registered = self.user_code = True
        with HOOKS_LOCK:
            if self.hooks is None:
                self.hooks = {}
            hooks = self.hooks.setdefault(AFTER_BACKWARD, [])
            hooks.append(hook)

        def remove() -> None:
            with HOOKS_LOCK:
                if hook in hooks:
                    hooks.remove(hook)
        return RemovableHandle(remove)


class _NodeHooks:
    """Whether a hook was ever put on a non-leaf tensor or an op node (``y.register_hook``,
    ``grad_fn.register_prehook``/``register_hook``, multi-grad hooks, nn's module backward hooks) or a custom
    ``autograd.Function`` of the user's was recorded: user code that runs in the middle of a backward walk. Each
    such node is marked (``Function.user_code``). A walk with no marked node runs no user code before its leaves
    accumulate, so no one can see when a leaf's ``.grad`` changes during it: backward adds into every leaf after
    the walk. A walk with one adds into each leaf as soon as its gradient is complete (:func:`_accumulate_ripe`),
    as PyTorch's. Until the flag is set, backward looks for no marked node (the one check a walk pays)."""

    registered = False


def register_hook(tensor: Tensor, hook: Callable) -> RemovableHandle:
    """``tensor.register_hook(hook)`` (:func:`minigrad.hooks.register_hook`); a hook on a non-leaf also sets
    :class:`_NodeHooks` and marks its node (after the checks: a refused hook marks nothing)."""
    handle = _register_tensor_hook(tensor, hook)
    if tensor._node is not None:
        _NodeHooks.registered = tensor._node.user_code = True
    return handle


def tag(tensor: Tensor, label: str) -> Tensor:
    """Label the op that produced ``tensor`` (e.g. ``"h"`` for a hidden state) for the visualiser."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tag: expected a Tensor, got {type(tensor).__name__}")
    if not isinstance(label, str):
        raise TypeError(f"tag: the label must be a string, got {type(label).__name__}")
    node = tensor._node
    if node is not None:
        node.tag = label
        if node.multiple:   # e.g. a compiled step returning (h, c): the drawing labels each output
            node.__dict__.setdefault("output_tags", {})[tensor._index] = label
    return tensor


def _tangent_only(node: Function, inputs: Sequence[Any], arrays: Sequence[Any], out: Any, edges: list,
                  needs_grad: list, state: Any) -> Any:
    """An op under ``no_grad`` (or on tensors that carry a tangent without requiring grad) inside a dual level:
    recorded as usual, but its outputs are handed out as tensors that do not require grad and carry the
    recorded ones for their tangent only (``FORWARD_AD.hide``), as PyTorch's forward AD ignores grad mode."""
    node.edges, node.needs_grad, node.epoch = tuple(edges), tuple(needs_grad), INPLACE.epoch
    mark_unordered(node)   # its seq is 0: a backward walk reaching it counts consumers
    if state.scope:
        node.scope = state.scope
    if _PACK is not None:
        _PACK(node, inputs)
    if not node.multiple and type(out) is not _NDARRAY and isinstance(out, (numpy.generic, int, float)):
        out = numpy.asarray(out)
    outs = out if node.multiple else (out,)
    node.out_meta = _shared_meta(outs, node, arrays)
    result = FORWARD_AD.hide(tuple([Tensor._make(y, True, node, i) for i, y in enumerate(outs)]))
    if state.checks is True:
        anomaly.check_forward(node.name, state.scope, outs, arrays)
    elif state.checks:
        state.checks.record(node, inputs, result if node.multiple else result[0])
    return result if node.multiple else result[0]


def _shared_meta(outs: Sequence[Any], node: Function | None = None, arrays: Sequence[Any] = ()) -> tuple:
    """``((shape, dtype), ...)`` per output; for one output, one shared tuple per distinct shape and dtype.

    A long unroll has thousands of nodes with the same few output shapes;
    sharing their metadata keeps three objects per node away from Python's
    cycle collector, which otherwise runs noticeably more often.

    Recording ``node`` (its input ``arrays``) comes here on a miss of ``Function.__call__``'s shape cache, and so
    do the gates (:func:`_complex_gate`, :func:`_dtype_gate`): every op that needs one must miss. Complex metas are
    never cached; while no gate is on, floating ones only for the lowest floating dtype recorded
    (:func:`_note_float_dtypes`); once one is on, a hit whose input that needs grad has another dtype than the
    output is a miss too (:func:`_plain_inputs`). Programs of one real dtype pay nothing on their hits.
    """
    if node is not None:
        if node.gated_inside:   # split, unbind (outputs in their input's dtype), a compiled call
            # (a compiled call may return none; its outputs' dtypes were noted when its ops were captured)
            if outs and (outs[0].dtype is not _PLAIN_FLOAT or _COMPLEX.live):
                if _PLAIN:
                    _note_float_dtypes(outs[:1])
                if _COMPLEX.live or outs[0].dtype.kind == "c":
                    _complex_gate(node, arrays, outs)
        else:
            if _PLAIN:
                _note_float_dtypes(outs)
            if _COMPLEX.live or any([y.dtype.kind == "c" for y in outs]):
                _complex_gate(node, arrays, outs)
            _dtype_gate(node, arrays, outs)
    if len(outs) != 1:
        return tuple([(y.shape, y.dtype) for y in outs])
    shape = outs[0].shape
    dtype = outs[0].dtype
    if dtype.kind == "c":
        return ((shape, dtype),)
    if _PLAIN and dtype is not _PLAIN_FLOAT and dtype.kind == "f":   # not cached: a hit would skip the gates
        meta = _HIGHER_METAS.get(shape)
        if meta is None or meta[0][1] is not dtype:
            if len(_HIGHER_METAS) > 10_000:
                _HIGHER_METAS.clear()
            meta = _HIGHER_METAS[shape] = ((shape, dtype),)
        return meta
    if len(_meta_cache) > 10_000:
        _meta_cache.clear()
    meta = _meta_cache[shape] = ((shape, outs[0].dtype),)   # by shape: Function.__call__ checks the dtype
    return meta


# --- complex autograd: PyTorch's convention (z.grad = dL/dz* for a real loss L) or a refusal ---------------------

class _ComplexGraphs:
    """``live`` once a complex tensor requires grad in this process (then every recorded op is gated)."""

    live = False


_COMPLEX = _ComplexGraphs()
# neither _COMPLEX.live nor _DTYPES.live, as a module global: the one test Function.__call__'s cache hit pays
_PLAIN = True


def complex_graphs_begin() -> None:
    """Called when a complex tensor starts to require grad: from now on every recorded op with a complex value
    runs the gate (a real-output cache hit in :class:`Function` looks at its inputs' dtypes: ~0.1 µs per op)."""
    global _PLAIN
    if not _COMPLEX.live:
        _COMPLEX.live = True
        _PLAIN = False


COMPLEX_GRAD_BEGINS.append(complex_graphs_begin)


def _plain_inputs(arrays: Sequence[Any], needs_grad: Sequence[bool], dtype: Any) -> bool:
    """Every input that needs grad has the output's (real) ``dtype``: no complex one, no other precision (a cached
    meta then stands without the gates)."""
    for a, needs in zip(arrays, needs_grad):
        if needs and a.dtype is not dtype:
            return False
    return True


def _complex_gate(node: Function, arrays: Sequence[Any], outs: Sequence[Any]) -> None:
    """Refuse an op without a complex gradient that a complex value flows through; fit the others' backward.

    A complex value flows through ``node`` when an output is complex or an input that requires grad is.
    The op's class says what its backward does with complex values (``complex_grad``, a callable of
    ``(node, arrays)`` where that depends on the call):

    * ``True``: its ``backward`` (or ``complex_backward`` where it defines one) gives PyTorch's gradient;
    * ``"holomorphic"``: ``y = f(x)`` is holomorphic, so PyTorch's ``gx = gy * conj(f'(x))`` is
      ``conj(backward(conj(gy)))`` of the real formula;
    * anything else: NotImplementedError, at forward time.

    A real input that requires grad of an op with a complex output gets the real part of its gradient.
    The node's class is swapped for a subclass doing this (made once per class), so real ops pay nothing.
    """
    complex_in = [needs and getattr(getattr(a, "dtype", None), "kind", "") == "c"
                  for a, needs in zip(arrays, node.needs_grad)]
    complex_out = any([y.dtype.kind == "c" for y in outs])
    if not complex_out and not any(complex_in):
        return
    mark = getattr(type(node), "complex_grad", False)
    if callable(mark):
        mark = mark(node, arrays)
    if mark is not True and mark != "holomorphic":
        dtypes = ", ".join(str(getattr(a, "dtype", type(a).__name__)) for a in arrays)
        raise NotImplementedError(f"complex autograd: {node.name} has no complex gradient yet (inputs {dtypes}; "
                                  "compute it under mg.no_grad(), or on real and imaginary parts: mg.real, mg.imag)")
    complex_graphs_begin()
    real_inputs = tuple([needs and not c for needs, c in zip(node.needs_grad, complex_in)]) if complex_out else ()
    if mark == "holomorphic" or any(real_inputs) or hasattr(node, "complex_backward"):
        node.__class__ = _complex_variant(type(node))
        node.complex_mode = mark
        node.real_inputs = real_inputs


_variants: dict = {}


def _complex_variant(cls: type) -> type:
    """``cls`` with the backward :func:`_complex_gate` describes (one subclass per op class)."""
    variant = _variants.get(cls)
    if variant is not None or getattr(cls, "_is_complex_variant", False):
        return variant or cls

    def backward(self: Function, *grads: Any) -> Any:
        if hasattr(self, "complex_backward"):
            out = self.complex_backward(*grads)
        elif self.complex_mode == "holomorphic":
            out = cls.backward(self, *[None if g is None else g.conj() for g in grads])
            out = tuple([None if g is None else _dense(g).conj() for g in out]) if type(out) is tuple \
                else None if out is None else _dense(out).conj()
        else:
            out = cls.backward(self, *grads)
        if any(self.real_inputs):
            single = type(out) is not tuple
            parts = [_dense(g).real if g is not None and real and getattr(_dense(g), "dtype", None) is not None
                     and _dense(g).dtype.kind == "c" else g
                     for g, real in zip((out,) if single else out, self.real_inputs)]
            out = parts[0] if single else tuple(parts)
        return out

    variant = _variants[cls] = type(cls.__name__, (cls,), {
        "name": cls.name, "backward": backward, "_is_complex_variant": True, "_variant_of": cls,
        "__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return variant


def plain_class(node: Function) -> type:
    """The op class of ``node``, under the variants the gates swap in (:func:`_complex_variant`,
    :func:`_casting_variant`): for code that tells ops apart by class."""
    cls = type(node)
    while "_variant_of" in cls.__dict__:
        cls = cls._variant_of
    return cls


# --- mixed dtypes: each input's gradient in the input's dtype, as PyTorch's engine gives it ---------------------

class _DtypeGraphs:
    """``live`` once a recorded op had float16 values or mixed dtypes in this process (then every recorded op is
    gated: a cache hit in :class:`Function` looks at its inputs' dtypes, ~0.1 µs per op)."""

    live = False


_DTYPES = _DtypeGraphs()
_FLOAT16 = numpy.dtype(numpy.float16)


def dtype_graphs_begin() -> None:
    """From now on every recorded op runs :func:`_dtype_gate` where an input that needs grad differs in dtype from
    its output (the cache hit in :class:`Function` checks)."""
    global _PLAIN
    if not _DTYPES.live:
        _DTYPES.live = True
        _PLAIN = False


FLOAT16_GRAD_BEGINS.append(dtype_graphs_begin)

# while no gate is on (_PLAIN): the lowest floating dtype among recorded outputs (None: none yet), the only
# floating dtype whose metas _meta_cache holds; the metas of higher ones are shared from _HIGHER_METAS, which
# Function.__call__ never reads, so each such op misses and passes the gates. See _note_float_dtypes
_PLAIN_FLOAT: Any = None
_HIGHER_METAS: dict = {}


def _note_float_dtypes(outs: Sequence[Any]) -> None:
    """Keep :data:`_PLAIN_FLOAT` the lowest floating dtype of the outputs recorded while no gate is on (called on
    each miss of the shape cache); a new lowest one empties the cache.

    Why: while :data:`_PLAIN`, a cache hit checks the output's dtype only, yet an op whose input that needs grad
    has another dtype than its output must reach its gate. Where that input is an op's output (a float32 ``h``
    times a float64 ``k``, a float64 NumPy array, an int64 tensor: NumPy promotes to float64), the op's output is
    higher than a recorded dtype, so not the cached one: it misses. An output lower than such an input is a cast
    (``AsType``), which turns the gate on itself; a leaf input's gradient is cast where it accumulates. So a
    program of one dtype, or a float64 program then a float32 one, pays nothing on its hits; float64 ops after
    float32 ones pay a miss each until a gate is on. Float16 outputs turn the gate on here too (a split of a
    float16 leaf, whose gate is its input's: :attr:`Function.gated_inside`).
    """
    global _PLAIN_FLOAT
    for y in outs:
        dtype = y.dtype
        if dtype.kind != "f" or dtype is _PLAIN_FLOAT:
            continue
        if dtype.itemsize < 4:   # float16 values: split or unbind of a leaf made float16 by hand (p.data = ...)
            dtype_graphs_begin()   # (the other ops' float16 outputs turn the gate on in _dtype_gate)
            return
        if _PLAIN_FLOAT is None or dtype.itemsize < _PLAIN_FLOAT.itemsize:
            if _PLAIN_FLOAT is not None:
                _meta_cache.clear()   # its metas of the dtype before: their hits would now need a look at the inputs
            _PLAIN_FLOAT = dtype


def _dtype_gate(node: Function, arrays: Sequence[Any], outs: Sequence[Any]) -> None:
    """Where an op's floating input that needs grad has another dtype than a floating output, give the node a
    backward that casts each input's gradient to the input's dtype, as PyTorch's engine does (``validate_outputs``):
    so a float16 part of a graph that meets float32 values (``h.exp() * w``) back-propagates float16 gradients,
    rounded, and ``inf`` past 65504 (which GradScaler then sees). The node's class is swapped for a subclass (one
    per op class) and ``node.grad_dtypes`` notes the dtypes; same-dtype ops pay nothing.

    Runs on each miss of the shape cache (:func:`_shared_meta`). The first op with float16 values or mixed dtypes,
    a float16 tensor made to require grad (``requires_grad_``, ``Module.half()``) and a cast of a tensor that needs
    grad (``AsType``) turn the gate on (:func:`dtype_graphs_begin`): from then on every op whose dtypes differ
    misses. Before that, an op whose output is above the lowest floating dtype recorded misses anyway
    (:func:`_note_float_dtypes`)."""
    floats = [y.dtype for y in outs if y.dtype.kind in "fc"]
    if not floats:   # integer or bool outputs: no gradient flows back through them
        return
    dtypes = tuple([a.dtype if needs and a.dtype.kind in "fc" else None for a, needs in zip(arrays, node.needs_grad)])
    mixed = any([d is not None and any([y is not d for y in floats]) for d in dtypes])
    if mixed or _FLOAT16 in floats:
        cls = type(node)
        if cls.casts_to_input_dtypes:   # a cast (its backward gives the input's dtype)
            if _FLOAT16 in floats:
                dtype_graphs_begin()
            return
        dtype_graphs_begin()
        if mixed:
            node.__class__ = _casting_variant(cls)
            node.grad_dtypes = dtypes


_casting_variants: dict = {}


def _casting_variant(cls: type) -> type:
    """``cls`` whose backward gives each input's gradient in the dtype :func:`_dtype_gate` noted
    (``node.grad_dtypes``; one subclass per op class)."""
    variant = _casting_variants.get(cls)
    if variant is not None:
        return variant

    def backward(self: Function, *grads: Any) -> Any:
        return in_input_dtypes(cls.backward(self, *grads), self.grad_dtypes)

    variant = _casting_variants[cls] = type(cls.__name__, (cls,), {
        "name": cls.name, "backward": backward, "casts_to_input_dtypes": True, "_variant_of": cls, "_casts_for": cls,
        "__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return variant


def in_input_dtypes(grads: Any, dtypes: tuple) -> Any:
    """A node's gradients (one, or a tuple of one per input) each cast to its input's dtype in ``dtypes`` (None:
    left as it is), as PyTorch's ``validate_outputs``."""
    if type(grads) is not tuple:
        return _cast_gradient(grads, dtypes[0]) if dtypes else grads
    return tuple([_cast_gradient(g, d) for g, d in zip(grads, dtypes)]) + grads[len(dtypes):]


def _cast_gradient(g: Any, dtype: Any) -> Any:
    if g is None or dtype is None or getattr(g, "dtype", None) is dtype:
        return g
    g = _dense(g)
    if isinstance(g, Tensor):   # a create_graph walk's gradient (a Tensor with its graph): a recorded cast
        return g if g.dtype == dtype else g.to(dtype)
    if not hasattr(g, "astype"):   # a Python number
        return numpy.asarray(g, dtype=dtype)
    return g if g.dtype == dtype else g.astype(dtype)


# a Tensor assigned to .data (p.data = p.data - lr * p.grad: an array minus a Tensor is a Tensor)
DATA_NOT_ARRAY = ("{name}: an input's .data holds a {kind}, not an array: a Tensor was assigned to .data (.data is the "
                  "NumPy/CuPy array; assign an array, p.data = p.data - lr * p.grad.data, or update it in place, "
                  "p.data -= lr * p.grad)")


class _ScalarsMoved(Exception):
    """Raised by :func:`_common_module` with the op's inputs, each 0-dim CPU tensor among CUDA ones moved there
    (by :func:`_move_cpu_scalars`): ``Function.__call__`` runs the op again on them."""

    def __init__(self, inputs: tuple) -> None:
        super().__init__("0-dim CPU tensors moved to the GPU")
        self.inputs = inputs


def _common_module(name: str, inputs: Sequence[Any], arrays: list) -> Any:
    """The array module shared by all Tensor inputs; raise if devices differ (or a Tensor's .data is a Tensor)."""
    for a in arrays:
        if isinstance(a, Tensor):
            raise TypeError(DATA_NOT_ARRAY.format(name=name, kind=type(a).__name__))
    devices = [x.device for x in inputs if isinstance(x, Tensor)]
    first = devices[0]
    for dev in devices[1:]:
        if dev != first:
            raise _ScalarsMoved(_move_cpu_scalars(name, inputs, devices))
    # raw (non-Tensor) arrays follow the tensors' device
    for i, (x, a) in enumerate(zip(inputs, arrays)):
        if not isinstance(x, Tensor) and backend.is_array(a):
            if first.type != "cpu" and a.ndim == 0 and type(a) is numpy.ndarray:   # a constant (a NumPy scalar's)
                with backend.on_device(first):   # filled in place on the GPU: no host-to-device copy
                    arrays[i] = backend.full(backend.module_for(first), (), a[()], dtype=a.dtype)   # -0.0 kept
            else:
                arrays[i] = backend.to_device(a, first)
    return backend.module_for(first)


class DeviceMismatchError(ValueError, RuntimeError):
    """An op on tensors from two devices: the ValueError DESIGN.md names, and PyTorch's RuntimeError ("Expected all
    tensors to be on the same device"), so ``except`` clauses written for either catch it."""


def _move_cpu_scalars(name: str, inputs: Sequence[Any], devices: list) -> tuple:
    """PyTorch reads a 0-dim CPU tensor among CUDA tensors as a scalar (``corr / torch.tensor(dim).sqrt()``):
    ``inputs`` with each such tensor moved to the GPU differentiably (its gradient comes back to the CPU); any
    other mix of ``devices`` (those of the Tensors among ``inputs``) raises a ValueError naming both."""
    gpus = [dev for dev in devices if dev.type != "cpu"]
    hosts = [x for x in inputs if isinstance(x, Tensor) and x.device.type == "cpu"]
    odd = next((dev for dev in gpus if dev != gpus[0]), None) if gpus else None
    big = next((x for x in hosts if x.ndim != 0), None)
    if odd is not None or big is not None:
        other = odd if odd is not None else big.device
        shape = "" if big is None or odd is not None else f" (a CPU tensor of shape {tuple(big.shape)}: only 0-dim " \
            "CPU tensors may join CUDA ones, as in PyTorch)"
        raise DeviceMismatchError(f"{name}: tensors are on different devices ({gpus[0]} and {other}){shape}; "
                                  "move them with .to(device) first")
    return tuple(x.to(gpus[0]) if isinstance(x, Tensor) and x.device.type == "cpu" else x for x in inputs)


# --- the backward pass ------------------------------------------------------

# held while gradients are added into leaves' .grad (a read-modify-write NumPy may run without the GIL)
_ACCUMULATING = threading.Lock()
# the references to a .grad array that only its Tensor holds, counted in _accumulate (the Tensor, the local name,
# getrefcount's argument): any more (a node's saved arrays, a view, the user's name) and the in-place add counts as
# a change (INPLACE.bump, ~2 us), which an add into a .grad no graph saved (every training step's) does not pay
_GRAD_ALONE = 3


def _accumulate(leaves: dict, owned: set, shared: bool = False) -> None:
    """Each leaf's hooks on its summed gradient, then ``leaf.grad += gradient``, then post-accumulate hooks.

    Each leaf's hooks start in the recording state of the backward; its post-accumulate hooks run in the state
    its hooks left (PyTorch runs them in one node, the leaf's AccumulateGrad). Several leaves, some with hooks:
    one after the other (:func:`_leaf_by_leaf`). ``shared``: one leaf's gradient array is another's too (for
    :func:`_in_leaf_shape`; found among ``leaves`` themselves otherwise)."""
    several = len(leaves) > 1
    if several and _PostHooks.registered and any(getattr(leaf, "_post_hooks", None) for leaf in leaves):
        _leaf_by_leaf(leaves, owned)
        return
    left_by_hooks = None   # the recording state the (single) leaf's hooks left: its post-accumulate hooks run in it
    for leaf, g in leaves.items():   # a leaf's hooks see its gradient summed over all its uses, as in PyTorch
        if leaf._hooks:
            if several:   # (no hook ran yet: the leaves before this one have none)
                _leaf_by_leaf(leaves, owned)
                return
            mode = _state.get()
            leaves[leaf] = _apply_hooks(leaf._hooks, _dense(g), _leaf_label(leaf))
            owned.discard(leaf)
            left_by_hooks = _state.get()
            restore_state(mode)   # the addition runs in the backward's state
    # product sums are valued first, outside the lock: threads sharing weights (Hogwild-style training)
    # run their GEMMs in parallel and only add in turn, so that no thread's addition is lost
    for leaf, g in leaves.items():
        if isinstance(g, LazyGradient):
            leaves[leaf] = g.value()
            owned.add(leaf)   # a new array, this leaf's alone
    with _ACCUMULATING:
        for leaf, g in leaves.items():
            if not leaf._requires_grad:   # detach_() or requires_grad_(False) since the forward: PyTorch's
                continue                  # AccumulateGrad adds nothing (the hooks above and after still run)
            total = leaf._grad
            if total is None or type(g) is not type(total.data):
                if getattr(g, "shape", ()) != leaf.data.shape:
                    g = _in_leaf_shape(leaf, g, shared or _shares_gradient(leaf, leaves))
                _add_to_grad(leaf, g, leaf in owned)
            else:   # the common case, inline (an add into a read-only .grad: see refuse_unwritable_grad)
                array = total.data
                array += g
                if getrefcount(array) > _GRAD_ALONE:   # held elsewhere too: perhaps saved by a graph, which then
                    INPLACE.bump(array)                # refuses it, as PyTorch's (the add moved .grad's version on)
    if _state.get().checks is True:
        anomaly.check_leaves(leaves)
    if _PostHooks.registered:   # (only a single leaf has post-accumulate hooks here: several went leaf by leaf)
        mode = _state.get()
        if left_by_hooks is not None:
            restore_state(left_by_hooks)
        run_post_accumulate_hooks(leaves)
        restore_state(mode)


def refuse_unwritable_grad(error: BaseException) -> None:
    """PyTorch's RuntimeError where a backward added into a ``.grad`` it cannot write (a user assigned an expanded
    view, ``p.grad = g.expand(...)``, or a read-only array's tensor), raised from NumPy's ValueError ``error`` if that
    is what it was; nothing otherwise. The backward's callers call it when the walk or the accumulation raised:
    it finds the leaf in the frame that raised (:func:`_accumulate` or ``_add_to_grad``), so the accumulation's
    loop carries no ``try`` of its own."""
    if type(error) is not ValueError:
        return
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or tb.tb_frame.f_code not in (_accumulate.__code__, _add_to_grad.__code__):
        return
    leaf = tb.tb_frame.f_locals.get("leaf", tb.tb_frame.f_locals.get("tensor"))
    data = getattr(getattr(leaf, "_grad", None), "data", None)
    if data is None or getattr(data.flags, "writeable", True) and not _overlaps(data):
        return
    what = "an expanded view: more than one element of the written-to tensor refers to a single memory " \
        "location" if _overlaps(data) else "read-only memory (a non-writable NumPy array's)"
    raise RuntimeError(f"backward: cannot add the gradient into the .grad of {_leaf_label(leaf)} in place: that "
                       f".grad (shape {tuple(data.shape)}) is {what}. Please clone() the tensor before assigning it "
                       "to .grad (PyTorch's 'unsupported operation')") from error


def _overlaps(array: Any) -> bool:
    """Whether elements of ``array`` share memory through a zero stride (an ``expand``-ed view)."""
    return array.size > 1 and any(n > 1 and step == 0 for n, step in zip(array.shape, array.strides))


def _leaf_by_leaf(leaves: dict, owned: set) -> None:
    """:func:`_accumulate` of one leaf after the other, in the order they were complete (``leaves``' order), as
    PyTorch runs their AccumulateGrad nodes (hooks, addition, post-accumulate hooks) when some have hooks: a hook
    sees the ``.grad`` of the leaves before it accumulated, and one that raises leaves the rest untouched."""
    for leaf, g in leaves.items():
        _accumulate({leaf: g}, owned, _shares_gradient(leaf, leaves))


def _shares_gradient(leaf: Tensor, leaves: dict) -> bool:
    """Whether ``leaf``'s gradient array in ``leaves`` is another leaf's there too (both inputs of an add get one);
    read only for a leaf whose shape changed since the forward (:func:`_in_leaf_shape`): False otherwise."""
    g = leaves[leaf]
    return getattr(g, "shape", ()) != leaf.data.shape and sum(other is g for other in leaves.values()) > 1


def _in_leaf_shape(leaf: Tensor, g: Any, shared: bool = False) -> Any:
    """The first gradient of a leaf whose shape changed in place since the forward (``x.squeeze_()`` under
    ``no_grad``), as PyTorch's AccumulateGrad: a gradient of the leaf alone (not ``shared`` with another leaf) whose
    strides match the leaf's on each of its dims longer than 1 (the dims past the leaf's last count as matching:
    torch reads the forward-time strides left there) is kept as it is, in the forward's shape (squeeze_ of a
    (1, 3) leaf: a (1, 3) .grad); another is copied into the leaf's shape where it broadcasts to exactly that
    (unsqueeze_(0) of a (3, 3) leaf); RuntimeError otherwise (t_() of a (2, 3) leaf)."""
    xp = backend.array_module(leaf.data)
    shape, got = tuple(leaf.data.shape), tuple(getattr(g, "shape", ()))
    if not shared and backend.is_array(g) and _obeys_layout(g, leaf.data):
        return g
    try:
        fits = numpy.broadcast_shapes(shape, got) == shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"backward: the gradient of shape {got} does not broadcast to the shape {shape} of "
                           f"{_leaf_label(leaf)}, whose shape changed in place after it was used (PyTorch's "
                           f"'output with shape {list(shape)} doesn't match the broadcast shape'); change the shape "
                           "out of place (x = x.unsqueeze(0)) or before the forward")
    return xp.broadcast_to(g, shape).copy()   # an array of its own (.grad is added into in place)


def _obeys_layout(g: Any, data: Any) -> bool:
    """PyTorch's gradient layout contract (``obeys_layout_contract``) of gradient ``g`` for a leaf's array ``data``
    of another shape: on each dim of g longer than 1, g's stride is nonzero and equals data's (in elements)."""
    g_size, d_size = g.itemsize or 1, data.itemsize or 1
    for i, (n, stride) in enumerate(zip(g.shape, g.strides)):
        if n != 1 and (stride == 0 or (i < data.ndim and stride // g_size != data.strides[i] // d_size)):
            return False
    return True


# --- the walks (the module docstring says which runs when: _walk picks it) --------------------------------------

# a walk over this many nodes or more runs its nodes' backwards in a fresh frame-stack chunk (minigrad.frames)
FRESH_CHUNK_NODES = 500
# the root's seq at the last in-order walk: the nodes recorded since estimate the next one's size (no pass 1 counts)
_LAST_ROOT = 0
# nodes whose edges may lead to a node recorded after them (a forward-AD tangent-only node, whose seq is 0; an op of
# a create_graph checkpoint's recomputation, re-pointed at stand-ins made after it: see mark_unordered); while one
# lives, every walk counts consumers (pass 1), as the walk in order of recording would run a parent too early
_UNORDERED: weakref.WeakSet = weakref.WeakSet()


def mark_unordered(node: Function) -> None:
    """Note that ``node`` has (or may get) an edge to a node recorded after it, or no sequence number of its own:
    while it lives, backward walks count consumers instead of running nodes in the reverse order of recording."""
    _UNORDERED.add(node)


_NO_STOPS: frozenset = frozenset()   # a walk that runs the backward of every node it reaches (no grad() targets)
WALK_BEGINS: list = []   # callables of (consumers, targets) told of each walk (autograd.graph's multi-grad hooks)


# True while a backward walk runs that frees each node's saved arrays after its backward (no
# retain_graph, no observer). A node whose saved state is many ops' (a compiled call's) may then
# free each op's arrays as soon as that op's backward is done, as the walk does node by node.
_freeing: ContextVar[bool] = ContextVar("minigrad_freeing", default=False)  # noqa: B039


def frees_saved() -> bool:
    """Whether the backward now running frees saved arrays after each node (``retain_graph=False``)."""
    return _freeing.get()


# True while :func:`observe_backward` walks a graph for an observer: a node whose backward only runs user hooks
# on an identity (``runs_user_hooks``, nn's module backward hooks) hands its gradients through unchanged then.
_observing: ContextVar[bool] = ContextVar("minigrad_observing", default=False)  # noqa: B039


def observe_backward(root: Tensor, observer: Callable[[Function, list, tuple], None], grad: Any = None) -> None:
    """Run the backward computation over ``root``'s retained graph for ``observer``, changing nothing.

    Calls ``observer(node, grads_out, grads_in)`` once per node, in backward
    order: ``grads_out`` is a list with the summed gradient array of each of
    the node's outputs (or None), ``grads_in`` a tuple with the gradient array
    the node sends along each of its edges (or None). No ``.grad`` changes, no
    hook or ``retain_grad`` runs, and the saved arrays are kept. A graph freed
    by an earlier ``backward()`` raises the same error as a second backward.
    """
    grad = _root_grad(root, grad)
    if root._node is not None:
        token = _observing.set(True)
        try:
            _walk(root, grad, True, observer)
        finally:
            _observing.reset(token)


def count_consumers(start: Function) -> dict:
    """How many consumers each node reachable from ``start`` has inside this graph (pass 1 of a backward walk)."""
    consumers = {start: 0}
    stack = [start]
    while stack:
        for edge in stack.pop().edges:
            if type(edge) is tuple:
                parent = edge[0]
                if parent in consumers:
                    consumers[parent] += 1
                else:
                    consumers[parent] = 1
                    stack.append(parent)
    return consumers


def _walk(root: Tensor, grad: Any, retain_graph: bool, observer: Callable | None, owned: set | None = None,
          targets: Any = None, finished: dict | None = None) -> dict:
    """Run each node's backward from ``root`` once, after all its consumers; returns ``{leaf: summed gradient}``.

    Picks the walk: in order of recording for a plain backward (:func:`_propagate_in_order`), else counts each
    node's consumers first (pass 1) and runs Kahn's algorithm (:func:`_propagate`). With an ``observer``, hands
    it each node's gradients instead of running hooks and freeing saved arrays. ``owned``, if given, collects the
    walk's own sums: a leaf in it has a gradient array the walk allocated (``.grad`` may take it without a copy).
    With ``targets`` (a ``functions._Targets``), only the nodes on a path to one of them run (the returned leaves
    may include others: the caller filters). If the walk raises, ``finished`` (when given) holds the leaves whose
    gradient was complete, to accumulate as PyTorch has.
    """
    root_node = root._node
    stops: set | frozenset = _NO_STOPS
    if targets is not None:
        consumers, stops = targets.prepare(root_node)   # a `grad`'s stops run no prehook (stops.quiet), as torch
        if root_node not in consumers:
            return {}
    elif observer is None and not (WALK_BEGINS or _NodeHooks.registered or _UNORDERED or PROFILE_HOOK) \
            and _state.get().checks is not True:   # the usual backward: no pass 1 (see _propagate_in_order)
        global _LAST_ROOT
        recorded_since, _LAST_ROOT = root_node.seq - _LAST_ROOT, root_node.seq   # ~ the nodes this walk runs
        token = _freeing.set(not retain_graph)
        try:
            if recorded_since >= FRESH_CHUNK_NODES:
                return in_fresh_chunk(_propagate_in_order, root, grad, retain_graph, owned, finished)
            return _propagate_in_order(root, grad, retain_graph, owned, finished)
        finally:
            _freeing.reset(token)
    else:
        consumers = count_consumers(root_node)   # pass 1
    if WALK_BEGINS:   # register_multi_grad_hook (autograd.graph): which of its tensors this walk reaches
        for begin in WALK_BEGINS:
            begin(consumers, targets)
    ripe = None   # each leaf's consumers left, to accumulate it (run its hooks, in grad()) once complete
    captured = getattr(targets, "captured", None)
    if observer is None and captured is None:   # a backward: leaves accumulate once complete if user code runs there
        if _NodeHooks.registered and _runs_user_code(consumers):
            ripe = _Ripe(_leaf_consumers(consumers, stops, None if targets is None else targets.leaves))
    elif observer is None and any(leaf._hooks for leaf in targets.leaves):   # grad(): wanted leaves' hooks
        ripe = _Ripe(_leaf_consumers(consumers, stops, {leaf for leaf in targets.leaves if leaf._hooks}), captured)
    token = _freeing.set(not retain_graph and observer is None)
    try:
        if len(consumers) >= FRESH_CHUNK_NODES:   # pass 2 calls every node's backward: see minigrad.frames
            return in_fresh_chunk(_propagate, root, grad, retain_graph, observer, owned, consumers, stops, finished,
                                  ripe)
        return _propagate(root, grad, retain_graph, observer, owned, consumers, stops, finished, ripe)
    finally:
        _freeing.reset(token)


def _propagate_in_order(root: Tensor, grad: Any, retain_graph: bool, owned: set | None,
                        finished: dict | None) -> dict:
    """:func:`_propagate`'s order without its pass 1, for a backward with nothing watching (see :func:`_walk`).

    Every edge leads to a node recorded earlier (``Function.__call__`` numbers a node after its inputs exist; the
    few nodes made otherwise are :func:`mark_unordered` and take the counted walk). So the reachable node not yet
    run with the largest number has had all its consumers run: running nodes in decreasing numbers is the order
    the counted walk takes too. Each number is one node's, so the heap holds bare numbers.
    """
    root_node = node = root._node   # (node: the one running, which the error handler below names)
    pending: dict = {(root_node, root._index): grad}   # each op output's gradient so far, by its edge (node, index)
    leaves: dict = {}
    if owned is None:   # keys of sums this walk allocated, so adding into them in place is safe
        owned = set()
    ready: list = []   # a heap of -seq of the nodes reached and not yet run: the latest recorded comes out first
    ready_nodes: dict = {}   # -seq: node, for each number in `ready`
    epoch = INPLACE.epoch
    try:
        while True:
            if node.n_outputs == 1:   # (the usual node, inline; the others as _propagate runs them)
                g = pending.pop((node, 0), None)
                if node in owned:   # a LazyGradient came first into a slot of this node's: valued now
                    g = _dense(g)
                if node.saved is _FREED or node.epoch != epoch:
                    _check_saved(node)
                if node.hooks or node.retained or node.multiple:   # (retain_grad; the user's hooks take _propagate)
                    grads_in, epoch = _node_backward(node, [g], epoch)
                else:
                    grads_in = node.backward(g) if g is not None else (None,) * len(node.edges)
                    if type(grads_in) is not tuple:
                        grads_in = (grads_in,)
            else:
                grads_out = [pending.pop((node, index), None) for index in range(node.n_outputs)]
                if node in owned:
                    grads_out = [_dense(g) for g in grads_out]
                if node.saved is _FREED or node.epoch != epoch:
                    _check_saved(node)
                grads_in, epoch = _node_backward(node, grads_out, epoch)
            if not retain_graph and (node.saved or type(node.saved) is not tuple):   # PyTorch: a node that saved
                node.saved = _FREED                                                   # nothing can run again
            elif node.epoch < 0:   # saved_tensors_hooks: the packed values again, unpacked anew by a later backward
                node.saved = node.__dict__.pop("_packed", node.saved)
            for edge, g in zip(node.edges, grads_in):
                if type(edge) is tuple:
                    if g is not None:
                        if edge in pending:
                            pending[edge] = _sum(pending[edge], g, edge, owned)
                        else:
                            pending[edge] = g if type(g) is _NDARRAY else _sum(None, g, edge, owned)
                    key = -edge[0].seq
                    if key not in ready_nodes:   # (a node already run comes no more: its consumers all ran first)
                        ready_nodes[key] = edge[0]
                        heappush(ready, key)
                elif g is not None and edge is not None:   # (taken out and put back: `leaves` is in the order the
                    total = leaves.pop(edge, None)        # leaves were complete)
                    if total is None:
                        leaves[edge] = g
                    elif type(total) is type(g) is _NDARRAY and edge in owned and g.dtype is total.dtype:
                        total += g   # a weight used many times: add in place into the sum this walk made
                        leaves[edge] = total
                    else:
                        leaves[edge] = _sum(total, g, edge, owned)
            if not ready:
                break
            node = ready_nodes.pop(heappop(ready))
    except BaseException:   # PyTorch has added into each leaf whose every consumer ran before the error: so do we
        if finished is not None:
            finished.update(_finished_leaves(leaves, _not_run_in_order(root_node, node), {}, node))
        raise
    return leaves


def _not_run_in_order(root_node: Function, failed: Function) -> list:
    """The nodes :func:`_propagate_in_order` had not run when ``failed`` raised: those numbered at most its own.
    The root's node ran first whatever its number (several roots' node is numbered 0)."""
    reachable = count_consumers(root_node)
    if failed is root_node:
        return list(reachable)
    return [node for node in reachable if node.seq <= failed.seq and node is not root_node]


def _node_backward(node: Function, grads_out: list, epoch: int) -> tuple:
    """Run one node of :func:`_propagate_in_order` as :func:`_propagate` does, for the rare node with hooks
    (``retain_grad``) or several outputs: its tensor hooks, its backward, its ``grad_fn.register_hook`` hooks.
    Returns the gradients it sends along its edges and the in-place epoch after the hooks."""
    after = None
    if node.hooks or node.retained:
        mode = _state.get()   # a hook changes grad mode for its node only, as in PyTorch: restored after
        after = _run_node_hooks(node, grads_out)
        if INPLACE.epoch != epoch:   # a hook wrote an array in place: check this node and later ones anew
            epoch = INPLACE.epoch
            if node.epoch >= 0:   # (saved_tensors_hooks' values: unpacked, no check)
                _check_saved(node)
        if after is None:   # (with grad_fn hooks: after them, below)
            restore_state(mode)
    if node.multiple:
        grads_in = _multi_backward(node, grads_out)
    else:
        grads_in = node.backward(grads_out[0]) if grads_out[0] is not None else (None,) * len(node.edges)
        if type(grads_in) is not tuple:
            grads_in = (grads_in,)
    if after is not None:   # grad_fn.register_hook
        grads_in = _after_backward(node, after, grads_in, grads_out)
        restore_state(mode)
        epoch = INPLACE.epoch
    return grads_in, epoch


def _runs_user_code(consumers: dict) -> bool:
    """Whether a node of a walk (``consumers``' keys) may run user code mid-walk (``Function.user_code``)."""
    for node in consumers:
        if node.user_code:
            return True
    return False


def _leaf_consumers(consumers: dict, stops: set | frozenset, wanted: set | None) -> dict:
    """How many edges of the nodes a walk runs (``consumers``, less the ``stops`` whose backward does not run) lead
    to each leaf (each of ``wanted`` only, when given: ``backward(inputs=)``)."""
    counts: dict = {}
    for node in consumers:
        if node not in stops:
            for edge in node.edges:
                if edge is not None and type(edge) is not tuple and (wanted is None or edge in wanted):
                    counts[edge] = counts.get(edge, 0) + 1
    return counts


class _Ripe(dict):
    """Each leaf's consumers left in a walk (:func:`_leaf_consumers`); ``captured``: ``grad()``'s dict, where a
    complete leaf's gradient goes after its tensor hooks (None: a backward, which accumulates it)."""

    def __init__(self, counts: dict, captured: dict | None = None) -> None:
        super().__init__(counts)
        self.captured = captured


def _accumulate_ripe(node: Function, ripe: _Ripe, leaves: dict, owned: set) -> None:
    """After ``node`` sent its gradients: accumulate each leaf whose last consumer it was (its hooks, ``.grad +=``,
    post-accumulate hooks), at once, as PyTorch runs a leaf's AccumulateGrad (the largest sequence number) before
    any other ready node. It leaves ``leaves`` (the walk's caller adds the rest), before its hooks run: a hook
    that raises leaves it unaccumulated, as torch's. In ``grad()`` (``ripe.captured``) the leaf's tensor hooks
    run instead (not its AccumulateGrad's prehooks, as PyTorch's grad runs no AccumulateGrad) and its hooked
    gradient goes to ``captured[leaf]``."""
    complete = []
    for edge in node.edges:
        left = ripe.get(edge) if edge is not None and type(edge) is not tuple else None
        if left is not None:
            ripe[edge] = left - 1
            if left == 1 and edge in leaves:
                complete.append((edge, _shares_gradient(edge, leaves)))
    captured = ripe.captured
    for leaf, shared in complete:
        if captured is None:
            _accumulate({leaf: leaves.pop(leaf)}, owned, shared)
        else:
            mode = _state.get()   # a hook changes grad mode for its leaf only
            hooks = [hook for hook in tuple(leaf._hooks) if not _is_prehook(hook)]   # a snapshot (HOOKS_LOCK)
            captured[leaf] = _apply_hooks(hooks, _dense(leaves.pop(leaf)), _leaf_label(leaf))
            restore_state(mode)


def _propagate(root: Tensor, grad: Any, retain_graph: bool, observer: Callable | None, owned: set | None,
               consumers: dict, stops: set | frozenset = _NO_STOPS, finished: dict | None = None,
               ripe: _Ripe | None = None) -> dict:
    """Pass 2 of :func:`_walk`: a node runs once every consumer has sent its gradient.

    In a restricted walk, a parent missing from ``consumers`` is off every path to the targets and
    gets nothing; a node in ``stops`` (a target's, with hooks that capture its gradient) runs its
    hooks but not its backward, as PyTorch runs no op beyond what the inputs need. If a node (its
    backward or a hook) raises, ``finished`` (when given) gets the leaves whose every consumer had run. With
    ``ripe`` (each leaf's consumers left, :func:`_leaf_consumers`), a leaf complete is accumulated at once
    (:func:`_accumulate_ripe`) and left out of the result.
    """
    root_node = node = root._node   # (node: the one running, which the error handler below names)
    pending: dict = {(root_node, root._index): grad}   # each op output's gradient so far, by its edge (node, index)
    leaves: dict = {}
    if owned is None:   # keys of sums this walk allocated, so adding into them in place is safe
        owned = set()
    # Nodes whose consumers have all run wait in `ready`, a heap of (-seq, push count, node): the one recorded last
    # runs first, as PyTorch's ready queue orders nodes by sequence number (equal seqs, e.g. 0 for nodes made outside
    # Function.__call__: the one pushed last first). `just_ready`, the first node the last node made ready, runs
    # next without going through the heap when it would come out first anyway (the heap is empty, or holds no later
    # recorded node), else it joins the heap: a chain never touches the heap.
    ready: list = []
    just_ready = root_node
    pushed = 0   # counts down, so that a later push sorts first among equal seqs
    checking = _state.get().checks is True   # anomaly checks
    profiler = PROFILE_HOOK
    special = observer is not None or checking or profiler is not None   # an observer, anomaly checks, a profiler
    epoch = INPLACE.epoch
    try:
        while True:
            if just_ready is not None and (not ready or ready[0][0] >= -just_ready.seq):
                node = just_ready
            else:
                if just_ready is not None:
                    pushed -= 1
                    heappush(ready, (-just_ready.seq, pushed, just_ready))
                if not ready:
                    break
                node = heappop(ready)[2]
            just_ready = None
            if node.n_outputs == 1:
                grads_out = [pending.pop((node, 0), None)]
            else:
                grads_out = [pending.pop((node, index), None) for index in range(node.n_outputs)]
            if node in owned:   # a LazyGradient came first into a slot of this node's: valued now
                grads_out = [_dense(g) for g in grads_out]
            if (node.saved is _FREED or node.epoch != epoch) and node not in stops:
                _check_saved(node)
            after = None
            if (node.hooks or node.retained) and observer is None:
                mode = _state.get()   # a hook changes grad mode for its node only, as in PyTorch: restored after
                after = _run_node_hooks(node, grads_out, node in stops and getattr(stops, "quiet", False))
                if INPLACE.epoch != epoch:   # a hook wrote an array in place: check this node and later ones anew
                    epoch = INPLACE.epoch
                    if node not in stops and node.epoch >= 0:   # (saved_tensors_hooks' values: unpacked, no check)
                        _check_saved(node)
                if node in stops:
                    if after is not None and not stops.quiet:   # backward(inputs=): PyTorch runs the node for nothing
                        _after_backward(node, after, (None,) * len(node.edges), grads_out)
                    restore_state(mode)
                    continue
                if after is None:   # (with grad_fn hooks: after them, below)
                    restore_state(mode)
            if special and profiler is not None:   # the node's backward as two timed events (autograd.profiler)
                timed = profiler.begin_backward(node)
            if node.multiple:
                grads_in = _multi_backward(node, grads_out)
            else:
                grads_in = node.backward(grads_out[0]) if grads_out[0] is not None else (None,) * len(node.edges)
                if type(grads_in) is not tuple:
                    grads_in = (grads_in,)
            if after is not None:   # grad_fn.register_hook
                if getattr(stops, "leaves", None) is not None:   # a restricted walk (grad(), backward(inputs=))
                    grads_in = _on_paths_only(node, grads_in, consumers, stops.leaves)
                grads_in = _after_backward(node, after, grads_in, grads_out)
                restore_state(mode)
                epoch = INPLACE.epoch
            if special:
                if profiler is not None:
                    profiler.end_backward(timed)
                if observer is not None:
                    grads_in = tuple([_dense(g) for g in grads_in])
                    observer(node, grads_out, grads_in)
                elif checking:
                    anomaly.check_backward(node.name, node.scope, [_dense(g) for g in grads_in], grads_out)
            if not retain_graph and (node.saved or type(node.saved) is not tuple):   # PyTorch: a node that saved
                node.saved = _FREED                                                   # nothing can run again
            elif node.epoch < 0:   # saved_tensors_hooks: the packed values again, unpacked anew by a later backward
                node.saved = node.__dict__.pop("_packed", node.saved)
            for edge, g in zip(node.edges, grads_in):
                if edge is None:
                    continue
                if type(edge) is tuple:
                    parent = edge[0]
                    try:
                        count = consumers[parent] = consumers[parent] - 1
                    except KeyError:   # a restricted walk: no target lies beyond this parent
                        continue
                    if g is not None:
                        total = pending.get(edge)
                        pending[edge] = g if total is None and type(g) is _NDARRAY else _sum(total, g, edge, owned)
                    if count == 0:
                        if just_ready is None:
                            just_ready = parent
                        else:
                            pushed -= 1
                            heappush(ready, (-parent.seq, pushed, parent))
                elif g is not None:   # (taken out and put back: `leaves` is in the order the leaves were complete)
                    total = leaves.pop(edge, None)
                    if total is None:
                        leaves[edge] = g
                    elif type(total) is type(g) is _NDARRAY and edge in owned and g.dtype is total.dtype:
                        total += g   # a weight used many times: add in place into the sum this walk made
                        leaves[edge] = total
                    else:
                        leaves[edge] = _sum(total, g, edge, owned)
            if ripe is not None:
                _accumulate_ripe(node, ripe, leaves, owned)
    except BaseException:   # PyTorch has added into each leaf whose every consumer ran before the error: so do we
        if finished is not None:
            waiting = [edge[0] for edge in pending] + [entry[2] for entry in ready]   # (ready: some got no gradient)
            if just_ready is not None:
                waiting.append(just_ready)
            finished.update(_finished_leaves(leaves, waiting, consumers, node))
        raise
    return leaves


def _on_paths_only(node: Function, grads_in: tuple, consumers: dict, wanted: Any) -> tuple:
    """``node``'s gradients with None for each input off every path to a restricted walk's targets (a parent
    outside ``consumers``, a leaf not ``wanted``), as PyTorch's ``grad_fn.register_hook`` hooks see them."""
    return tuple(None if edge is None or (edge[0] not in consumers if type(edge) is tuple else edge not in wanted)
                 else g for edge, g in zip(node.edges, grads_in))


def _finished_leaves(leaves: dict, pending: Iterable, consumers: dict, failed: Function) -> dict:
    """After node ``failed`` raised: the leaves of ``leaves`` that no node left to run (``failed``, the ones
    waiting in ``pending`` and those still counting consumers) sends a gradient to. PyTorch's engine has already
    added these into their ``.grad`` (a leaf's AccumulateGrad runs as soon as its last consumer has). A node's
    ``outer_edges``, where it has them (a reentrant checkpoint's: torch's node adds the rest itself), are the
    edges torch's graph has."""
    unrun = [failed, *pending, *(node for node, count in consumers.items() if count > 0)]
    waiting = {id(edge) for node in unrun for edge in getattr(node, "outer_edges", node.edges)
               if edge is not None and type(edge) is not tuple}
    return {leaf: g for leaf, g in leaves.items() if id(leaf) not in waiting}


def _after_backward(node: Function, hooks: list, grads_in: tuple, grads_out: list) -> tuple:
    """``grad_fn.register_hook``'s hooks on a node's gradients, as Tensors; returns the arrays sent on."""
    def tensor(g: Any) -> Tensor | None:
        if g is None:
            return None
        g = _dense(g)
        return Tensor._make(g if backend.is_array(g) else numpy.asarray(g), False, None, 0)
    sent = run_after_backward(node, hooks, tuple(map(tensor, grads_in)), tuple(map(tensor, grads_out)),
                              pytorch_slots(node, len(grads_in)))
    return tuple(None if g is None else g.data for g in sent)


def _sum(total: Any, g: Any, key: Any, owned: set) -> Any:
    """``total + g`` for one gradient slot, in place when this walk allocated ``total``.

    The first gradient may be shared (ops pass ``gy`` through), so the first
    sum goes into a new array. A :class:`LazyGradient` adds itself; a node
    whose slot holds one is marked (``key[0]`` in ``owned``) to be valued
    before its backward.
    """
    if total is None:
        if isinstance(g, LazyGradient) and type(key) is tuple:
            owned.add(key[0])
        return g
    if key in owned and type(g) is type(total) and g.dtype is total.dtype:   # `is`: builtin dtypes are singletons
        total += g
        return total
    owned.add(key)
    return total + g


def _multi_backward(node: Function, grads_out: list) -> tuple:
    """One gradient (or None) per edge of a node with several outputs (None for those that got none)."""
    if node.runs_user_hooks and _observing.get():   # an observed walk runs no user code: gradients pass through
        return tuple(grads_out)
    grads_in = node.backward(*grads_out) if any(g is not None for g in grads_out) else None
    return (None,) * len(node.edges) if grads_in is None else grads_in if type(grads_in) is tuple else (grads_in,)


def _check_saved(node: Function) -> None:
    """Refuse a node whose saved arrays were freed, or changed in place since it was recorded."""
    where = f"'{node.name}'" + (f" in scope {node.scope!r}" if node.scope else "")
    if node.saved is _FREED:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time (op {where}); its saved arrays "
            "were freed by the first backward. Pass retain_graph=True to the first backward() to keep them."
        )
    if node.epoch < 0:   # packed by saved_tensors_hooks: unpacked here; no version check with hooks, as torch's
        if not node.unpacks_lazily:
            _UNPACK(node)
        return
    INPLACE.refuse_changed(node.kept_for_backward(), node.epoch, where)


class GradDeviceError(DeviceMismatchError):
    """``y.backward(grad)`` with ``grad`` on another device than ``y``: the ValueError of an op on two devices, and
    PyTorch's RuntimeError ("invalid gradient ... expected device")."""


def _root_grad(root: Tensor, grad: Any, name: str = "backward") -> Any:
    """The gradient to start from, as an array of the root's shape and dtype."""
    if not root.requires_grad:
        raise RuntimeError(
            f"{name}: this tensor does not require grad and has no grad_fn "
            "(was it created under no_grad, or from inputs without requires_grad=True?)"
        )
    if grad is None:
        if root.data.dtype.kind == "c":
            raise RuntimeError(f"{name}: grad can be implicitly created only for real scalar outputs; this one is "
                               f"{root.dtype} (take .real, .abs() … of it, or pass its gradient, as in PyTorch)")
        if root.data.size != 1:
            raise RuntimeError(
                f"{name}: grad can be implicitly created only for a one-element tensor; "
                f"this one has shape {tuple(root.shape)}: pass its gradient (gradient=, grad=) of that shape"
            )
        return backend.array_module(root.data).ones_like(root.data)
    data = grad.data if isinstance(grad, Tensor) else grad
    if type(data) is numpy.ndarray and type(root.data) is numpy.ndarray and data.dtype is root.data.dtype \
            and data.shape == root.data.shape:   # the usual case: a host array fit as it is (the checks below pass)
        return data
    if isinstance(grad, Tensor) and grad.device != root.device:
        if grad.ndim != 0:   # PyTorch moves a 0-dim gradient and refuses any other on another device
            raise GradDeviceError(f"{name}: grad is on {grad.device} but the tensor is on {root.device} (shape "
                                  f"{tuple(root.shape)}); move it with .to(device) first")
        grad = grad.to(root.device)
    grad = grad.data if isinstance(grad, Tensor) else grad
    if backend.is_array(grad) and (grad.dtype.kind == "c") != (root.data.dtype.kind == "c"):
        raise RuntimeError(f"{name}: for complex tensors, both grad and output must be complex or both real (as in "
                           f"PyTorch): grad has dtype {grad.dtype} and the output {root.dtype} (a complex gradient for "
                           "a real output would lose its imaginary part)")
    try:
        grad = backend.make_array(grad, root.dtype, root.device) if not backend.is_array(grad) \
            else backend.to_device(grad, root.device).astype(root.dtype, copy=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: grad must be a Tensor or an array of shape {tuple(root.shape)}, "
                        f"got {type(grad).__name__} ({error})") from error
    if grad.shape != root.data.shape:
        raise GradShapeError(f"{name}: grad has shape {tuple(grad.shape)} but the tensor has shape "
                             f"{tuple(root.shape)}")
    return grad


# --- hooks as Tensor methods (the register_hook above marks a non-leaf's node as running user code) ---------------

Tensor.register_hook = register_hook   # type: ignore[attr-defined]
Tensor.retain_grad = retain_grad   # type: ignore[attr-defined]
Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook   # type: ignore[attr-defined]


# --- PyTorch's graph introspection: grad_fn.name(), next_functions' AccumulateGrad -------------------------------

class AccumulateGrad:
    """What PyTorch's ``grad_fn.next_functions`` holds for a leaf that requires grad: ``variable`` is the leaf.

    minigrad's graph has no node there (the walk adds into ``.grad`` itself); this
    object exists for introspection, one per leaf while someone holds it, as
    PyTorch's (``a.grad_fn.next_functions[0][0] is b.grad_fn.next_functions[0][0]``
    when both use the leaf).
    """

    name = OpName("accumulate_grad", "torch::autograd::AccumulateGrad")
    next_functions: tuple = ()
    metadata = Function.metadata
    _of: weakref.WeakValueDictionary = weakref.WeakValueDictionary()   # id(leaf) -> its AccumulateGrad

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    @classmethod
    def of(cls, leaf: Tensor) -> AccumulateGrad:
        """The leaf's AccumulateGrad: the one alive, else a new one (it holds the leaf, so the id stays the leaf's)."""
        accumulator = cls._of.get(id(leaf))
        if accumulator is None or accumulator.variable is not leaf:
            accumulator = cls._of[id(leaf)] = cls(leaf)
        return accumulator

    def _sequence_nr(self) -> int:
        """2**64 - 1, as PyTorch's AccumulateGrad (a leaf's gradient is accumulated as soon as it is complete)."""
        return 2**64 - 1

    def register_prehook(self, hook: Callable[[tuple], Any]) -> RemovableHandle:
        """``hook(grad_outputs)`` on the leaf's gradient before it is added into ``.grad``; returns None or a
        tuple of 1 replacement. Kept among the leaf's own hooks (``variable.register_hook``), after them all, as
        PyTorch runs the tensor hooks first; as PyTorch's, it runs in a backward, not in ``autograd.grad`` (which
        runs no AccumulateGrad)."""
        leaf = weakref.ref(self.variable)   # the hook lives on the leaf: holding it (or self) would be a cycle

        def on_gradient(grad: Tensor) -> Any:
            result = hook((grad,))
            if result is not None and (not isinstance(result, (tuple, list)) or len(result) != 1):
                raise HookError(f"register_prehook: the hook {getattr(hook, '__name__', hook)!r} on "
                                f"{_leaf_label(leaf())} must return None or a tuple of 1 gradient")
            return None if result is None else result[0]
        on_gradient.prehook = True   # after the tensor hooks; grad() skips it (hooks.register_hook, _tensor_hooks)
        return register_hook(self.variable, on_gradient)

    def register_hook(self, hook: Callable) -> RemovableHandle:
        """PyTorch's AccumulateGrad post-hook: not supported (use ``variable.register_post_accumulate_grad_hook``)."""
        raise NotImplementedError("AccumulateGrad.register_hook: not supported by minigrad's engine; use "
                                  "leaf.register_post_accumulate_grad_hook(hook) (after .grad is accumulated) or "
                                  "leaf.register_hook(hook) (on the gradient before)")

    def __repr__(self) -> str:
        return f"<AccumulateGrad for {_leaf_label(self.variable)}>"


def _grad_fn(tensor: Tensor) -> Function | None:
    """The op node that made ``tensor`` (None for a leaf), as PyTorch's ``grad_fn``; ``grad_fn.name()`` gives
    PyTorch's name of the node (``names.named`` fits it to this call on first access)."""
    node = tensor._node
    return node if node is None else named(node)


Tensor.grad_fn = property(_grad_fn)   # type: ignore[assignment]   # replaces tensor.py's plain `return self._node`
