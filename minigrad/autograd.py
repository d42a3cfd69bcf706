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

:meth:`Tensor.backward` walks the nodes reachable from the root in an order where
every node comes after all its consumers (Kahn's algorithm with an explicit
stack: no recursion, so a 50,000-op chain is fine), calls each node's
``backward`` once with the summed gradient of its outputs and frees its saved
arrays unless ``retain_graph`` is set. :func:`observe_backward` runs the same
walk for an observer (the visualiser's gradient norms) and changes nothing.
PyTorch's :func:`grad` and :func:`backward` over several tensors (``inputs=``)
run the same walk from one node standing for all their roots, restricted to
the ops on a path to the wanted inputs.

The recording state this reads once per op (grad mode, anomaly mode, name
scope) and its switches (``no_grad`` …) are in :mod:`minigrad.recording`.
"""

from __future__ import annotations

import warnings
from contextvars import ContextVar
from typing import Any, Callable, Sequence

import numpy

from . import anomaly, backend
from .anomaly import AnomalyError
from .arguments import AxisError, constant_array, with_op_context
from .frames import in_fresh_chunk
from .hooks import (
    HookError,
    _add_to_grad,
    _apply_hooks,
    _leaf_label,
    _PostHooks,
    _run_node_hooks,
    register_hook,
    register_post_accumulate_grad_hook,
    retain_grad,
    run_post_accumulate_hooks,
)
from .recording import _state, current_scope, is_grad_enabled
from .tensor import Tensor
from .versions import INPLACE

__all__ = ["AnomalyError", "AxisError", "Function", "HookError", "LazyGradient", "backward", "current_scope", "grad",
           "is_grad_enabled", "observe_backward", "register_hook", "register_post_accumulate_grad_hook",
           "retain_grad", "tag", "tensor_backward"]

_new_tensor = object.__new__
_FREED = object()     # marks a node whose saved arrays were released


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

    name = "function"
    n_outputs = 1
    multiple = False   # True for ops returning a tuple of outputs (split, unbind)
    # set when recorded
    saved: Any = ()
    edges: tuple = ()
    needs_grad: tuple = ()
    scope = ""
    epoch = 0          # INPLACE.epoch when recorded: saved arrays changed in place after it are refused
    tag: str | None = None
    hooks: dict | None = None
    retained: dict | None = None
    out_meta: tuple = ()   # ((shape, dtype), ...) per output, for the visualiser

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    def forward(self, *arrays: Any) -> Any:
        raise NotImplementedError

    def backward(self, *grads: Any) -> Any:
        raise NotImplementedError

    def __call__(self, *inputs: Any) -> Any:
        arrays, edges, needs_grad = [], [], []
        record = False
        on_host = True
        for x in inputs:
            if isinstance(x, Tensor):
                data = x.data
                arrays.append(data)
                if type(data) is not numpy.ndarray:
                    on_host = False
                if x.requires_grad:
                    record = True
                    node = x._node
                    edges.append(x if node is None else (node, x._index))
                    needs_grad.append(True)
                    continue
            else:
                arrays.append(x if isinstance(x, (int, float)) or backend.is_array(x)
                              else constant_array(self.name, x))
            edges.append(None)
            needs_grad.append(False)
        self.xp = numpy if on_host else _common_module(self.name, inputs, arrays)
        try:
            out = self.forward(*arrays)
        except (ValueError, TypeError, IndexError, ZeroDivisionError) as error:
            raise with_op_context(self.name, inputs, error) from error
        state = _state.get()
        checks = state.checks   # False; True under detect_anomaly; a Tracer while mg.compile captures
        if record and state.grad:
            self.edges = tuple(edges)
            self.needs_grad = tuple(needs_grad)
            if state.scope:   # the class default is "": most ops record outside any name scope
                self.scope = state.scope
            self.epoch = INPLACE.epoch
            node = self
        else:
            record, node = False, None
        if not self.multiple:
            if type(out) is not numpy.ndarray and isinstance(out, (numpy.generic, int, float)):
                out = numpy.asarray(out)   # NumPy gives scalars for 0-d results
            if record:
                meta = _meta_cache.get(out.shape)   # keyed by shape, checked for dtype: cheaper to hash
                self.out_meta = meta if meta is not None and meta[0][1] is out.dtype else _shared_meta((out,))
            result = _new_tensor(Tensor)   # Tensor._make, inline: this runs once per op
            result.data = out
            result.requires_grad = record
            result.grad = result._hooks = result.name = None
            result._node = node
            result._index = 0
        else:
            if record:
                self.out_meta = _shared_meta(out)
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


_meta_cache: dict = {}


def _shared_meta(outs: Sequence[Any]) -> tuple:
    """``((shape, dtype), ...)`` per output; for one output, one shared tuple per distinct shape and dtype.

    A long unroll has thousands of nodes with the same few output shapes;
    sharing their metadata keeps three objects per node away from Python's
    cycle collector, which otherwise runs noticeably more often.
    """
    if len(outs) != 1:
        return tuple([(y.shape, y.dtype) for y in outs])
    shape = outs[0].shape
    if len(_meta_cache) > 10_000:
        _meta_cache.clear()
    meta = _meta_cache[shape] = ((shape, outs[0].dtype),)   # by shape: Function.__call__ checks the dtype
    return meta


def _common_module(name: str, inputs: Sequence[Any], arrays: list) -> Any:
    """The array module shared by all Tensor inputs; raise if devices differ."""
    devices = [x.device for x in inputs if isinstance(x, Tensor)]
    first = devices[0]
    for dev in devices[1:]:
        if dev != first:
            raise ValueError(
                f"{name}: tensors are on different devices ({first} and {dev}); "
                "move them with .to(device) first"
            )
    # raw (non-Tensor) arrays follow the tensors' device
    for i, (x, a) in enumerate(zip(inputs, arrays)):
        if not isinstance(x, Tensor) and backend.is_array(a):
            arrays[i] = backend.to_device(a, first)
    return backend.module_for(first)


# --- the backward pass ------------------------------------------------------

def tensor_backward(self: Tensor, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                    inputs: Any = None, *, grad: Any = None) -> None:
    """``x.backward()``: accumulate d(x)/d(leaf) into every leaf's ``.grad``, as PyTorch's ``Tensor.backward``.

    ``gradient`` (or minigrad's earlier keyword ``grad``) is the gradient of some scalar loss w.r.t.
    ``x`` (defaults to 1 for a one-element ``x``). ``retain_graph`` keeps the saved arrays so a
    second backward (or :func:`observe_backward`) can run. ``inputs``: accumulate only into these
    tensors (see :func:`backward`). Hooks run and ``.grad`` changes only after every node's
    gradient was computed, so an error in the walk leaves every ``.grad`` as it was.
    """
    if grad is not None:
        if gradient is not None:
            raise TypeError("backward: give the gradient once, as gradient= (PyTorch's name) or grad=")
        gradient = grad
    if inputs is not None or create_graph:
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)
        return
    gradient = _root_grad(self, gradient)
    owned: set = set()   # the walk's sums, leaves' among them: arrays no other tensor can hold
    leaves = {self: gradient} if self._node is None else _walk(self, gradient, retain_graph, None, owned)
    _accumulate(leaves, owned)


def _accumulate(leaves: dict, owned: set) -> None:
    """Each leaf's hooks on its summed gradient, then ``leaf.grad += gradient``, then post-accumulate hooks."""
    for leaf, g in leaves.items():   # a leaf's hooks see its gradient summed over all its uses, as in PyTorch
        if leaf._hooks:
            leaves[leaf] = _apply_hooks(leaf._hooks, _dense(g), _leaf_label(leaf))
            owned.discard(leaf)
    for leaf, g in leaves.items():
        total = leaf.grad
        if total is None or type(g) is not type(total.data):   # a product sum is valued into a new array
            _add_to_grad(leaf, _dense(g), leaf in owned or isinstance(g, LazyGradient))
        else:
            total.data += g   # the common case, inline
    if _state.get().checks is True:
        anomaly.check_leaves(leaves)
    if _PostHooks.registered:
        run_post_accumulate_hooks(leaves)


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
        _walk(root, grad, True, observer)


# a walk over this many nodes or more runs its second pass in a fresh frame-stack chunk (minigrad.frames)
FRESH_CHUNK_NODES = 500


def _walk(root: Tensor, grad: Any, retain_graph: bool, observer: Callable | None, owned: set | None = None,
          targets: _Targets | None = None) -> dict:
    """Kahn's algorithm from ``root``: run each node's backward once, after all its consumers.

    Returns ``{leaf: summed gradient}``. With an observer, hands it each
    node's gradients instead of running hooks and freeing saved arrays.
    ``owned``, if given, is the set the walk records its own sums in: a leaf
    in it has a gradient array the walk allocated (``.grad`` may take it
    without a copy). With ``targets``, only the nodes on a path to one of
    them run (the returned leaves may include others: the caller filters).
    """
    root_node = root._node
    stops: set | frozenset = _NO_STOPS
    if targets is not None:
        consumers, stops = targets.prepare(root_node)
        if root_node not in consumers:
            return {}
    else:
        consumers = {root_node: 0}   # pass 1: how many consumers each node has inside this graph
        stack = [root_node]
        while stack:
            for edge in stack.pop().edges:
                if type(edge) is tuple:
                    parent = edge[0]
                    if parent in consumers:
                        consumers[parent] += 1
                    else:
                        consumers[parent] = 1
                        stack.append(parent)
    token = _freeing.set(not retain_graph and observer is None)
    try:
        if len(consumers) >= FRESH_CHUNK_NODES:   # pass 2 calls every node's backward: see minigrad.frames
            return in_fresh_chunk(_propagate, root, grad, retain_graph, observer, owned, consumers, stops)
        return _propagate(root, grad, retain_graph, observer, owned, consumers, stops)
    finally:
        _freeing.reset(token)


_NO_STOPS: frozenset = frozenset()


# True while a backward walk runs that frees each node's saved arrays after its backward (no
# retain_graph, no observer). A node whose saved state is many ops' (a compiled call's) may then
# free each op's arrays as soon as that op's backward is done, as the walk does node by node.
_freeing: ContextVar[bool] = ContextVar("minigrad_freeing", default=False)  # noqa: B039


def frees_saved() -> bool:
    """Whether the backward now running frees saved arrays after each node (``retain_graph=False``)."""
    return _freeing.get()


def _propagate(root: Tensor, grad: Any, retain_graph: bool, observer: Callable | None, owned: set | None,
               consumers: dict, stops: set | frozenset = _NO_STOPS) -> dict:
    """Pass 2 of :func:`_walk`: a node runs once every consumer has sent its gradient.

    In a restricted walk, a parent missing from ``consumers`` is off every path to the targets and
    gets nothing; a node in ``stops`` (a target's, with hooks that capture its gradient) runs its
    hooks but not its backward, as PyTorch runs no op beyond what the inputs need.
    """
    root_node = root._node
    pending: dict = {root_node: [None] * root_node.n_outputs}
    pending[root_node][root._index] = grad
    leaves: dict = {}
    if owned is None:   # keys of sums this walk allocated, so adding into them in place is safe
        owned = set()
    ready = [root_node]
    special = observer is not None or _state.get().checks is True   # an observer, or anomaly checks
    epoch = INPLACE.epoch
    while ready:
        node = ready.pop()
        grads_out = [_dense(g) for g in pending.pop(node)] if node in owned else pending.pop(node)
        if (node.saved is _FREED or node.epoch != epoch) and node not in stops:
            _check_saved(node)
        if (node.hooks or node.retained) and observer is None:
            _run_node_hooks(node, grads_out)
            epoch = INPLACE.epoch   # a hook may have changed an array in place: later nodes check again
            if node in stops:
                continue
        if node.multiple:
            grads_in = _multi_backward(node, grads_out)
        else:
            grads_in = node.backward(grads_out[0]) if grads_out[0] is not None else (None,) * len(node.edges)
            if type(grads_in) is not tuple:
                grads_in = (grads_in,)
        if special:
            if observer is not None:
                grads_in = tuple([_dense(g) for g in grads_in])
                observer(node, grads_out, grads_in)
            else:
                anomaly.check_backward(node.name, node.scope, [_dense(g) for g in grads_in], grads_out)
        if not retain_graph:
            node.saved = _FREED
        for edge, g in zip(node.edges, grads_in):
            if edge is None:
                continue
            if type(edge) is tuple:
                parent, index = edge
                try:
                    count = consumers[parent] = consumers[parent] - 1
                except KeyError:   # a restricted walk: no target lies beyond this parent
                    continue
                slot = pending.get(parent)
                if slot is None:
                    slot = pending[parent] = [None] * parent.n_outputs
                if g is not None:
                    total = slot[index]
                    slot[index] = g if total is None and type(g) is numpy.ndarray else _sum(total, g, edge, owned)
                if count == 0:
                    ready.append(parent)
            elif g is not None:
                total = leaves.get(edge)
                if total is None:
                    leaves[edge] = g
                elif type(total) is type(g) is numpy.ndarray and edge in owned and g.dtype is total.dtype:
                    total += g   # a weight used many times: add in place into the sum this walk made
                else:
                    leaves[edge] = _sum(total, g, edge, owned)
    return leaves


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
    INPLACE.refuse_changed(node.saved, node.epoch, where)


def _root_grad(root: Tensor, grad: Any, name: str = "backward") -> Any:
    """The gradient to start from, as an array of the root's shape and dtype."""
    if not root.requires_grad:
        raise RuntimeError(
            f"{name}: this tensor does not require grad and has no grad_fn "
            "(was it created under no_grad, or from inputs without requires_grad=True?)"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{name}: grad can be implicitly created only for a one-element tensor; "
                f"this one has shape {tuple(root.shape)}: pass its gradient (gradient=, grad=) of that shape"
            )
        return backend.array_module(root.data).ones_like(root.data)
    grad = grad.data if isinstance(grad, Tensor) else grad
    try:
        grad = backend.make_array(grad, root.dtype, root.device) if not backend.is_array(grad) \
            else grad.astype(root.dtype, copy=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: grad must be a Tensor or an array of shape {tuple(root.shape)}, "
                        f"got {type(grad).__name__} ({error})") from error
    if grad.shape != root.data.shape:
        raise ValueError(f"{name}: grad has shape {tuple(grad.shape)} but the tensor has shape {tuple(root.shape)}")
    return grad


# --- PyTorch's autograd functions: grad, and backward over several tensors or for some inputs only ---------------

def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables: Any = None, inputs: Any = None) -> None:
    """Accumulate the gradient of ``tensors`` into the leaves' ``.grad``, as ``torch.autograd.backward``.

    ``tensors``: a Tensor or a sequence of them; ``grad_tensors``: one gradient per tensor (a
    Tensor, array or None; None means 1 for a one-element tensor), the same shape as it. Their
    gradients add up: ``backward([a, b], [ga, gb])`` is the backward of ``(a * ga).sum() + (b *
    gb).sum()``. ``retain_graph`` defaults to ``create_graph``. ``inputs`` (a Tensor, a sequence or a
    dict of them): accumulate into these tensors' ``.grad`` only, running only the ops on a path to
    them; a non-leaf among them keeps its ``.grad`` from then on (``retain_grad()``), as in PyTorch.
    ``grad_variables`` is PyTorch's deprecated name of ``grad_tensors``.
    """
    if grad_variables is not None:
        warnings.warn("backward: grad_variables is deprecated; use grad_tensors", FutureWarning, stacklevel=2)
        if grad_tensors is not None:
            raise RuntimeError("backward: grad_tensors and grad_variables (deprecated) were both given; "
                               "give only grad_tensors")
        grad_tensors = grad_variables
    _refuse_create_graph(create_graph, "backward")
    roots = _tensor_list(tensors, "backward", "tensors")
    grads = _given_grads(roots, grad_tensors, "backward", "grad_tensors")
    targets = None
    if inputs is not None:
        wanted = _tensor_list(inputs, "backward", "inputs")
        if not wanted:
            raise RuntimeError("backward: `inputs` cannot be empty (leave it out to accumulate into every leaf)")
        for t in wanted:
            retain_grad(t)   # a non-leaf input keeps its .grad, as torch's backward(inputs=) makes it
        targets = _Targets(wanted)
    if not roots:
        return
    owned: set = set()
    leaves = _walk_roots(roots, grads, create_graph if retain_graph is None else retain_graph, owned, targets)
    if targets is not None:
        leaves = {leaf: g for leaf, g in leaves.items() if leaf in targets.leaves}
    _accumulate(leaves, owned)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> Any:
    """The gradients of ``outputs`` w.r.t. ``inputs``, as ``torch.autograd.grad``; no ``.grad`` changes.

    ``outputs``: a Tensor or a sequence, with ``grad_outputs`` as in :func:`backward`'s
    ``grad_tensors``. ``inputs``: a Tensor, a sequence (leaves or not) or a dict of them; returns a
    tuple with one gradient Tensor per input, each of its shape and dtype (a dict for a dict). Only
    the ops on a path to an input run; hooks on the tensors they pass run, as in PyTorch (and a
    ``retain_grad()`` tensor among them gets its ``.grad``, as in PyTorch); leaves' ``.grad`` and
    post-accumulate hooks are left alone. An input the outputs do not depend on raises a
    RuntimeError, unless ``allow_unused`` (then its gradient is None, or zeros with
    ``materialize_grads``, which implies ``allow_unused``). ``retain_graph`` defaults to
    ``create_graph``. ``create_graph=True`` (higher-order gradients) and ``is_grads_batched`` raise
    NotImplementedError; ``only_inputs`` is deprecated in PyTorch and ignored.
    """
    _refuse_create_graph(create_graph, "grad")
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True (vmap over grad_outputs) is not supported by "
                                  "minigrad; call grad once per row of grad_outputs")
    if not only_inputs:
        warnings.warn("grad: only_inputs is deprecated and ignored (it is always True); use mg.autograd.backward "
                      "to accumulate into other tensors' .grad", FutureWarning, stacklevel=2)
    if materialize_grads and allow_unused is False:
        raise ValueError("grad: expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False")
    names = list(inputs) if isinstance(inputs, dict) else None
    wanted = _tensor_list(inputs, "grad", "inputs")
    if not wanted:
        raise RuntimeError("grad: `inputs` cannot be empty")
    for i, t in enumerate(wanted):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) does not require grad; "
                               "only tensors that require grad can be differentiated against")
    roots = _tensor_list(outputs, "grad", "outputs")
    grads = _given_grads(roots, grad_outputs, "grad", "grad_outputs")
    captured: dict = {}
    targets = _Targets(wanted, captured)
    owned: set = set()
    try:
        leaves = _walk_roots(roots, grads, create_graph if retain_graph is None else retain_graph, owned,
                             targets) if roots else {}
    finally:
        targets.release()
    result = []
    for i, t in enumerate(wanted):
        g = _input_grad(t, leaves, captured, owned)
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) appears to not have been used in "
                                   "the graph of the outputs; pass allow_unused=True if this is expected")
            if materialize_grads:
                g = backend.array_module(t.data).zeros_like(t.data)
        result.append(None if g is None else Tensor._make(g, False, None, 0))
    return dict(zip(names, result)) if names is not None else tuple(result)


def _input_grad(t: Tensor, leaves: dict, captured: dict, owned: set) -> Any:
    """``grad``'s array for input ``t`` (None if none reached it): a leaf's sum after its hooks, or the
    gradient captured at a non-leaf; a copy unless the walk allocated it for ``t`` alone."""
    if t._node is not None:
        g = captured.get((t._node, t._index))
        return None if g is None else g.astype(t.data.dtype, copy=True)
    g = leaves.get(t)
    if g is None:
        return None
    fresh = t in owned or isinstance(g, LazyGradient)
    g = _dense(g)
    if t._hooks:   # leaves' hooks run in grad() too, as in PyTorch
        g, fresh = _apply_hooks(t._hooks, g, _leaf_label(t)), False
    if not backend.is_array(g):
        g = backend.array_module(t.data).asarray(g)
    return g if fresh and g.dtype == t.data.dtype else g.astype(t.data.dtype, copy=True)


def _refuse_create_graph(create_graph: Any, name: str) -> None:
    if create_graph:
        raise NotImplementedError(
            f"{name}: create_graph=True (a differentiable backward, for higher-order gradients) is not supported: "
            "minigrad's backward runs each op's backward on raw arrays and records no graph of it"
        )


def _tensor_list(value: Any, name: str, what: str) -> list:
    """``value`` (a Tensor, a sequence of them, or a dict's values) as a list of Tensors."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: {what} must be a Tensor or a sequence of Tensors, got {type(value).__name__}")
    for i, t in enumerate(value):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must all be Tensors, but {what}[{i}] is a {type(t).__name__}")
    return list(value)


def _given_grads(roots: list, given: Any, name: str, what: str) -> list:
    """One starting gradient array per root, from ``given`` (None, one gradient, or a sequence of them)."""
    if given is None or isinstance(given, Tensor) or backend.is_array(given) or isinstance(given, (int, float)):
        given = [given] * len(roots) if given is None else [given]
    elif not isinstance(given, (list, tuple)):
        raise TypeError(f"{name}: {what} must be a Tensor, a sequence of Tensors or None, got {type(given).__name__}")
    if len(given) != len(roots):
        raise RuntimeError(f"{name}: got {len(roots)} tensors and {len(given)} gradients ({what})")
    grads = []
    for i, (root, g) in enumerate(zip(roots, given)):
        if not root.requires_grad:
            raise RuntimeError(f"{name}: element {i} of the tensors does not require grad and has no grad_fn "
                               "(was it made under no_grad, or from inputs without requires_grad=True?)")
        grads.append(_root_grad(root, g, name))
    return grads


class _Roots(Function):
    """The tensors one backward starts from, as one node: its edges are theirs, and its backward
    hands each the gradient given for it (so several roots are one walk, their gradients summed)."""

    name = "given gradients"

    def __init__(self, roots: list, grads: list) -> None:
        self.edges = tuple([t if t._node is None else (t._node, t._index) for t in roots])
        self.needs_grad = (True,) * len(roots)
        self.saved = tuple(grads)
        self.epoch = INPLACE.epoch

    def backward(self, _unused: Any) -> tuple:
        return self.saved


def _walk_roots(roots: list, grads: list, retain_graph: Any, owned: set, targets: _Targets | None) -> dict:
    """:func:`_walk` from several roots at once (through a :class:`_Roots` node); ``{leaf: summed gradient}``."""
    start = Tensor._make(numpy.ones(()), True, _Roots(roots, grads), 0)
    return _walk(start, start.data, retain_graph, None, owned, targets)


class _Targets:
    """The tensors a restricted backward is for (``grad``'s inputs, ``backward(inputs=)``): leaves by
    identity, non-leaves by ``(node, output index)``. With ``captured`` (a dict), :meth:`prepare` also
    puts a hook on each non-leaf target that stores its gradient there, until :meth:`release`."""

    def __init__(self, tensors: list, captured: dict | None = None) -> None:
        self.leaves = {t for t in tensors if t._node is None}
        self.outputs: dict = {}
        for t in tensors:
            if t._node is not None:
                self.outputs.setdefault(t._node, set()).add(t._index)
        self.captured = captured
        self.installed: list = []

    def prepare(self, root_node: Function) -> tuple[dict, set]:
        """Pass 1 of a restricted walk: consumers counted among the nodes on a path to a target only, and
        the targets' nodes that lead to no other target (their hooks run, their backward does not).

        First an iterative depth-first pass finds, for each node, whether a target lies beyond it.
        """
        outputs, leaves = self.outputs, self.leaves
        beyond: dict = {}   # node -> whether its backward leads to a target (None while its parents are visited)
        stack = [root_node]
        while stack:
            node = stack[-1]
            if node not in beyond:
                beyond[node] = None
                stack.extend([edge[0] for edge in node.edges if type(edge) is tuple and edge[0] not in beyond])
                continue
            stack.pop()
            if beyond[node] is None:
                beyond[node] = any(edge[0] in outputs or beyond[edge[0]] if type(edge) is tuple
                                   else edge is not None and edge in leaves for edge in node.edges)
        consumers = {root_node: 0} if beyond[root_node] or root_node in outputs else {}
        stops = {node for node in outputs if node in beyond and not beyond[node]}
        for node, leads in beyond.items():
            if leads:
                for edge in node.edges:
                    if type(edge) is tuple and (beyond[edge[0]] or edge[0] in outputs):
                        consumers[edge[0]] = consumers.get(edge[0], 0) + 1
        if self.captured is not None:
            for node in outputs:
                if node in consumers:
                    self._capture(node, node in stops)
        return consumers, stops

    def _capture(self, node: Function, stop: bool) -> None:
        """Hook each target output of ``node`` to store its gradient: after the user's hooks at a node that
        does not run on (what PyTorch returns there), before them at one that does (PyTorch's too)."""
        captured = self.captured
        assert captured is not None
        for index in self.outputs[node]:
            def capture(g: Tensor, key: tuple = (node, index)) -> None:
                captured[key] = g.data
            if node.hooks is None:
                node.hooks = {}
            hooks = node.hooks.setdefault(index, [])
            hooks.insert(len(hooks) if stop else 0, capture)
            self.installed.append((node, index, capture))

    def release(self) -> None:
        """Remove the capturing hooks :meth:`prepare` added."""
        for node, index, capture in self.installed:
            hooks = node.hooks[index]
            hooks.remove(capture)
            if not hooks:
                del node.hooks[index]
            if not node.hooks:
                node.hooks = None
        self.installed = []


Tensor.backward = tensor_backward   # type: ignore[attr-defined]   # x.backward(gradient, retain_graph): root is self
Tensor.register_hook = register_hook   # type: ignore[attr-defined]
Tensor.retain_grad = retain_grad   # type: ignore[attr-defined]
Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook   # type: ignore[attr-defined]
