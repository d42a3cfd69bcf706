"""Higher-order gradients: the backward walk of ``create_graph=True``.

The ordinary backward (:mod:`.engine`) runs each op's ``backward`` on raw arrays and records nothing. This
module runs only when a caller asks for ``create_graph=True``: the same walk (Kahn's algorithm from the roots,
each node once after all its consumers), but the gradients are Tensors and each node's gradient is computed
by a *rule* written with minigrad's own differentiable ops, so the gradient has a graph of its own and can be
differentiated again (a gradient penalty, a MAML inner step, d²u/dx² of a physics-informed net, a Hessian).

A rule ``rule(node, g)`` gets the node and the Tensor gradient of its output (of each output, a list with
None where none arrived, for a node with several outputs) and returns one gradient Tensor (or None) per
edge, as ``Function.backward`` returns arrays. It reaches the node's inputs and outputs as Tensors without
the node keeping them alive: an input is rebuilt from the node's edge (``(parent, index)`` or a leaf) and the
array the node saved for its backward, an output from the node itself (``Tensor._make(y, True, node, 0)``),
so a derivative through ``tanh``'s output runs through the same ``tanh`` node again. Nothing is added to the
ordinary path: the rules are looked up here, by the op's class, only when this walk runs.

An op without a rule raises ``NotImplementedError`` naming it; a gradient is never silently detached. The rules of
the arithmetic, activations, matrix products, reductions and shapes are here; :mod:`minigrad.higher_order_rules`
adds statistics, scans, index ops, nn's embedding and pad, and custom Functions. A node marked ``reads_input``
(nn marks leaky_relu, hardtanh, max-pool …) ties each gradient to its input with a zero derivative, as PyTorch's
backward of those ops reads the input (:class:`ReadsInput`); marked ``"unused"`` (nn's convolutions and
grid_sample), with no derivative (None), as PyTorch's convolution and grid sampler double backward.
"""

from __future__ import annotations

import math
import sys
import threading
import warnings
from heapq import heappop, heappush
from typing import Any, Callable

from . import backend, memory_formats
from .autograd import engine as engine_module
from .autograd.engine import (
    _FREED,
    WALK_BEGINS,
    Function,
    LazyGradient,
    _check_saved,
    _dense,
    _finished_leaves,
    _in_leaf_shape,
    _leaf_consumers,
    count_consumers,
    in_input_dtypes,
    plain_class,
)
from .autograd.functions import register_create_graph_walk
from .autograd.names import pytorch_slots, respelled
from .hooks import (
    HookError,
    _add_to_grad,
    _is_prehook,
    _leaf_label,
    _PostHooks,
    dense_layout,
    run_after_backward,
    run_node_hooks,
    run_post_accumulate_hooks,
)
from .ops.elementwise import (
    Abs,
    Add,
    AddCDiv,
    AddCMul,
    AddCMulBy,
    Clip,
    Cos,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sin,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from .ops.join import Concat, Split, Stack, Unbind
from .ops.join import stack as stack_tensors  # noqa: F401  # autograd.functional's jacobian(create_graph=True)
from .ops.linalg import MatMul, StepAddMatMul, StepMatMul, _column_major, _transposed_gradient
from .ops.math import Binary, Unary
from .ops.reduce import LogSoftmax, LogSumExp, Max, Mean, Norm, Softmax, Sum, _count
from .ops.shape import AsType, BroadcastTo, Clone, GetItem, Repeat, Reshape, Transpose, _is_basic
from .recording import _state, no_grad, record_grad, restore_state
from .tensor import Tensor
from .versions import INPLACE

__all__ = ["BINARY", "LATE_RULES", "RULES", "UNARY_OF_NODE", "rule", "walk"]

Rule = Callable[[Function, Any], Any]
RULES: dict[type, Rule] = {}
# rules for ops defined above minigrad (nn's), by "module.Class", so that minigrad never imports nn
LATE_RULES: dict[str, Rule] = {}


def rule(*classes: type) -> Callable[[Rule], Rule]:
    """Register the decorated function as the Tensor-level backward of ``classes``."""
    def register(fn: Rule) -> Rule:
        for cls in classes:
            RULES[cls] = fn
        return fn
    return register


def rule_for(node: Function) -> Rule:
    """The rule of ``node``'s op; NotImplementedError naming the op where there is none."""
    cls = type(node)
    cls = cls.__dict__.get("_casts_for", cls)   # (autograd.engine._casting_variant: _node_grads casts as it does)
    found = RULES.get(cls) or LATE_RULES.get(f"{cls.__module__}.{cls.__qualname__}")
    if found is None:
        raise _no_rule(node)
    return found


def _no_rule(node: Function) -> NotImplementedError:
    scope = f" in scope {node.scope!r}" if node.scope else ""
    return NotImplementedError(
        f"create_graph=True: no higher-order gradient for {node.name} yet (op class {type(node).__qualname__}"
        f"{scope}); its first-order backward works: leave create_graph=False")


# --- the walk ---------------------------------------------------------------------------------------------------

def walk(start: Function, targets: Any = None, quiet: bool = False, finished: dict | None = None,
         on_leaf: Callable | None = None) -> tuple[dict, dict, list]:
    """Run the rules from ``start`` (a ``functions._Roots`` node whose saved values are the roots' gradient Tensors).

    Returns ``({leaf: gradient Tensor}, {(node, index): gradient Tensor}, nodes run)``; the second holds
    the gradients of ``targets``' non-leaf tensors (``targets``: a ``functions._Targets`` restricting
    the walk to the ops on a path to them, or None for every op). ``quiet`` (``grad``'s walk): the targets'
    nodes it stops at run no ``grad_fn`` prehook, as PyTorch's. Runs with gradient recording on. The leaves
    come in the order they were complete; if a node raises, ``finished`` (when given) gets those complete then.
    ``on_leaf(leaf, gradient)``, when given, runs (in the walk's state) as soon as a leaf's gradient is complete, as
    PyTorch runs a leaf's AccumulateGrad before any other ready node; the leaf's entry becomes what it returns (None:
    none, the leaf is done).
    """
    leaves: dict = {}
    captured: dict = {}
    visited: list = []
    if targets is not None:
        consumers, stops = targets.prepare(start)
        if start not in consumers:
            return leaves, captured, visited
        wanted = targets.outputs
    else:
        consumers, stops, wanted = count_consumers(start), frozenset(), {}
    ripe = None if on_leaf is None else _leaf_consumers(consumers, stops, None)   # each leaf's consumers left
    for begin in WALK_BEGINS:   # register_multi_grad_hook (autograd.graph)
        begin(consumers, targets)
    pending: dict = {start: [None] * start.n_outputs}
    ready = [(0, 0, start)]   # a heap: the node recorded last runs first, as the ordinary walk (engine._propagate)
    pushed = 0
    with record_grad():   # PyTorch: a create_graph backward records, even under no_grad
        mode = _state.get()
        node = start
        try:
            while ready:
                node = heappop(ready)[2]
                restore_state(mode)   # each node runs in the walk's state (the last node's hooks may have changed it)
                grads_out = pending.pop(node)
                stop = node in stops
                if node is not start and (node.saved is _FREED or node.epoch != INPLACE.epoch) and not stop:
                    _check_saved(node)
                if node in wanted and not stop:   # a target that leads on: its gradient before its hooks, as torch
                    _capture(captured, node, wanted[node], grads_out)
                after = None
                if node.hooks or node.retained:
                    epoch = INPLACE.epoch
                    after = _run_hooks(node, grads_out, stop and quiet)
                    if INPLACE.epoch != epoch and node is not start and not stop and node.epoch >= 0:
                        _check_saved(node)   # a hook changed an array in place: this node's saved ones again
                if stop:
                    _capture(captured, node, wanted[node], grads_out)
                    if after is not None and not quiet:   # backward(inputs=): PyTorch runs the node, for nothing
                        run_after_backward(node, after, (None,) * len(node.edges), grads_out,
                                           pytorch_slots(node, len(node.edges)))
                    continue
                grads_in = node.saved if node is start else _node_grads(node, grads_out)   # start: the roots' grads
                if after is not None:   # grad_fn.register_hook
                    if targets is not None:   # as PyTorch, the hooks see None for an input off every path to a target
                        grads_in = tuple(None if edge is None or (edge[0] not in consumers if type(edge) is tuple
                                                                  else edge not in targets.leaves) else g
                                         for edge, g in zip(node.edges, grads_in))
                    grads_in = run_after_backward(node, after, tuple(grads_in), grads_out,
                                                  pytorch_slots(node, len(node.edges))) \
                        if SHOWN.first_order is None else _after_backward_shown(node, after, grads_in, grads_out)
                visited.append(node)
                for edge, g in zip(node.edges, grads_in):
                    if edge is None:
                        continue
                    if type(edge) is tuple:
                        parent, index = edge
                        if parent not in consumers:   # a restricted walk: no target beyond this parent
                            continue
                        count = consumers[parent] = consumers[parent] - 1
                        slot = pending.get(parent)
                        if slot is None:
                            slot = pending[parent] = [None] * parent.n_outputs
                        if g is not None:
                            g = _dense(g)   # a lazy placeholder (igamma's a) that an op on a target's path needs: raise
                            slot[index] = g if slot[index] is None else Add()(slot[index], g)
                        if count == 0:
                            pushed -= 1
                            heappush(ready, (-parent.seq, pushed, parent))
                    elif g is not None:   # (taken out and put back: `leaves` is in the order the leaves were complete)
                        total = leaves.pop(edge, None)
                        leaves[edge] = g if total is None else _add_leaf(total, g)
                if ripe is not None:
                    _ripe_leaves(node, ripe, leaves, on_leaf, mode)
        except BaseException:   # PyTorch has accumulated each leaf whose every consumer ran before the error
            if finished is not None:
                finished.update(_finished_leaves(leaves, pending, consumers, node))
            raise
        restore_state(mode)
    return leaves, captured, visited


def _ripe_leaves(node: Function, ripe: dict, leaves: dict, on_leaf: Callable, mode: Any) -> None:
    """:func:`walk`'s ``on_leaf`` on each leaf whose last consumer ``node`` was (taken out of ``leaves`` first: one
    whose hooks raise is not complete, as in PyTorch), in the walk's state ``mode``."""
    for edge in node.edges:
        if edge is not None and type(edge) is not tuple and edge in ripe:
            ripe[edge] -= 1
            if ripe[edge] == 0 and edge in leaves:
                restore_state(mode)
                done = on_leaf(edge, leaves.pop(edge))
                if done is not None:
                    leaves[edge] = done


def _add_leaf(total: Any, g: Any) -> Any:
    """Two gradients of one leaf summed; a lazy placeholder (a gradient a rule does not have) absorbs the other,
    to be valued (raise) only where the leaf's gradient is read."""
    if isinstance(total, LazyGradient):
        return total
    return g if isinstance(g, LazyGradient) else Add()(total, g)


def _node_grads(node: Function, grads_out: list) -> tuple:
    """One gradient Tensor (or None) per edge of ``node``, from its rule."""
    if node.multiple:
        if all(g is None for g in grads_out):
            return (None,) * len(node.edges)
        grads = rule_for(node)(node, grads_out)
    else:
        if grads_out[0] is None:
            return (None,) * len(node.edges)
        grads = rule_for(node)(node, grads_out[0])
    grads = grads if type(grads) is tuple else (grads,)
    dtypes = getattr(node, "grad_dtypes", None)
    if dtypes is not None:   # mixed dtypes: each input's gradient in its dtype, as the first-order backward's
        grads = in_input_dtypes(grads, dtypes)
    marked = getattr(node, "reads_input", False)
    if marked:   # marked by nn (leaky_relu, hardtanh, max-pool …; "unused": conv, grid_sample): see ReadsInput
        again = plain_class(node) is Where   # an activation's where (not max-pool's or nll's selection): see ReadsInput
        grads = tuple(reads_input(node, i, g, again=again, unused=marked == "unused") for i, g in enumerate(grads))
    return grads


def _capture(captured: dict, node: Function, indices: set, grads_out: list) -> None:
    for index in indices:
        if grads_out[index] is not None:
            captured[(node, index)] = grads_out[index]


def _run_hooks(node: Function, grads_out: list, stop: bool = False) -> list | None:
    """The hooks on ``node``'s output gradient Tensors (with their graphs), in PyTorch's order, as the
    first-order engine runs them (``hooks.run_node_hooks``)."""
    return run_node_hooks(node, grads_out, stop, apply_hooks, accumulate if SHOWN.first_order is None else _retain,
                          _label)


def _retain(tensor: Tensor, g: Tensor) -> None:
    """A ``retain_grad()`` tensor's ``.grad`` while a first-order ``grad`` runs (:data:`SHOWN`): PyTorch's, carrying
    its tangent."""
    accumulate(tensor, g)
    tensor._grad = _shown(tensor._grad)


def _label(node: Function, index: int) -> str:
    return f"output {index} of op '{node.name}'"


class _Shown(threading.local):
    """While a ``grad`` without ``create_graph`` inside a forward-AD dual level runs this walk (its gradients keep
    their graph for their tangents, H·t): ``first_order``, the level's callable handing gradients out as PyTorch's
    first-order ones (not requiring grad, carrying their tangent); the hooks see those, as PyTorch's."""

    first_order: Any = None


SHOWN = _Shown()


def _shown(g: Tensor) -> Tensor:
    """``g`` as a hook sees it: the first-order gradient carrying its tangent while a first-order ``grad`` runs."""
    first_order = SHOWN.first_order
    return g if first_order is None or not g._requires_grad else first_order([g])[0]


def _taken_back(result: Tensor, shown: Tensor, g: Tensor) -> Tensor:
    """A hook's gradient ``result`` (given ``shown``, standing for ``g``) as the walk goes on with it: ``g`` itself,
    or for one computed from first-order gradients, the tensor that carries its tangent (with the graph)."""
    if result is shown:
        return g
    carrier = None if SHOWN.first_order is None or result._requires_grad else engine_module.FORWARD_AD.carrier(result)
    return result if carrier is None else carrier


def _after_backward_shown(node: Function, after: list, grads_in: Any, grads_out: list) -> tuple:
    """``grad_fn.register_hook``'s hooks while a first-order walk runs (:data:`SHOWN`): they see the gradients as
    PyTorch's first-order ones, carrying their tangents; what they return goes on as :func:`_taken_back` says."""
    grads_in = tuple(grads_in)
    shown_in = tuple(None if g is None else _shown(g) for g in grads_in)
    shown_out = [None if g is None else _shown(g) for g in grads_out]
    with no_grad():   # as PyTorch's first-order backward
        results = run_after_backward(node, after, shown_in, shown_out, pytorch_slots(node, len(node.edges)))
    return tuple(r if r is None else _taken_back(r, s, r if g is None else g)
                 for r, s, g in zip(results, shown_in, grads_in))


def apply_hooks(hooks: list, g: Tensor, label: str) -> Tensor:
    """Each hook on the gradient Tensor ``g`` (with its graph); a hook may return a replacement of its shape."""
    for hook in tuple(hooks):
        shown = _shown(g)
        if SHOWN.first_order is None:
            result = hook(shown)
        else:   # with grad mode off, as PyTorch's first-order backward (ops on `shown` still carry its tangent)
            with no_grad():
                result = hook(shown)
        if result is None:
            continue
        if not isinstance(result, Tensor) and backend.is_array(result):
            result = Tensor._make(result, False, None, 0)
        if not isinstance(result, Tensor) or result.shape != g.shape or result.dtype != g.dtype:
            got = f"shape {tuple(result.shape)}, dtype {result.dtype}" if isinstance(result, Tensor) \
                else f"a {type(result).__name__}"
            raise HookError(f"register_hook: the hook {getattr(hook, '__name__', hook)!r} on {label} returned "
                            f"{got}; it must return None or a Tensor of the gradient's shape {tuple(g.shape)} "
                            f"and dtype {g.dtype}")
        g = _taken_back(result, shown, g)
    return g


def accumulate(tensor: Tensor, g: Tensor) -> None:
    """``tensor.grad += g`` as PyTorch does with ``create_graph=True``: the first time a (differentiable) copy
    of ``g`` in ``tensor``'s dtype, then ``tensor.grad = tensor.grad + g``, out of place, graph kept."""
    if g.dtype != tensor.dtype:
        g = AsType(tensor.dtype)(g)
    if tensor._grad is None and g.shape != tensor.shape:   # changed in place since the forward: as PyTorch's
        _in_leaf_shape(tensor, g.data, shared=True)         # AccumulateGrad under grad mode, broadcast, or raise
        g = BroadcastTo(tuple(tensor.shape))(g)
    if tensor._grad is not None:
        old = tensor._grad.data
        total = tensor._grad = Add()(tensor._grad, g)
        if total.data.strides != old.strides and total.data.size > 1 and dense_layout(old):
            # PyTorch's grad + new_grad takes the first operand's layout: .grad keeps its strides
            total.data = memory_formats.lay_out(total.data, memory_formats.preserve_format, "grad", old)
            total._view = ()
        return
    first = tensor._grad = Clone()(g)
    if not tensor.is_leaf:   # retain_grad(): PyTorch's hook clones in C order (grad.clone(MemoryFormat::Contiguous))
        if first.data.size > 1 and not first.data.flags.c_contiguous:
            first.data = backend.array_module(first.data).ascontiguousarray(first.data)
            first._view = ()
        return
    # PyTorch's AccumulateGrad copies into a new tensor
    respelled(first, g, "clone", "torch::autograd::CopyBackwards")
    data = tensor.data   # PyTorch's layout contract: the tensor's strides where its elements are dense (a transposed
    # or channels-last leaf), else C order
    if first.data.strides != data.strides and first.data.size > 1 and dense_layout(data):
        first.data = memory_formats.lay_out(first.data, memory_formats.preserve_format, "grad", data)
        first._view = ()   # a transposed view of a new array: memory of its own (p.grad += g records, as torch's)


def leaf_grad(leaf: Tensor, g: Tensor, in_grad: bool = False) -> Tensor:
    """A leaf's gradient after its own hooks (they run in ``grad`` and ``backward`` alike; its AccumulateGrad's
    prehooks in ``backward`` only, ``in_grad`` False)."""
    if not leaf._hooks:
        return g
    hooks = [hook for hook in tuple(leaf._hooks) if not _is_prehook(hook)] if in_grad else leaf._hooks   # (HOOKS_LOCK)
    return apply_hooks(hooks, g, _leaf_label(leaf))


# --- the entry points: backward and grad with create_graph=True (called by .functions) -------------------------

REFERENCE_CYCLE = ("Using backward() with create_graph=True will create a reference cycle between the parameter and "
                   "its gradient which can cause a memory leak. We recommend using autograd.grad when creating the "
                   "graph to avoid this. If you have to use this function, make sure to reset the .grad fields of "
                   "your parameters to None after use to break the cycle and avoid the leak.")


def root_grads(roots: list, given: Any, name: str, what: str) -> list:
    """One starting gradient Tensor per root: a given Tensor that requires grad is kept (the result is then
    differentiable w.r.t. it too, as in PyTorch); anything else is checked as the ordinary backward checks it."""
    from .autograd.functions import _given_grads
    arrays = _given_grads(roots, given, name, what)
    items = given if isinstance(given, (list, tuple)) else [given] * len(roots)
    grads = []
    for root, g, array in zip(roots, items, arrays):
        if isinstance(g, Tensor) and g.requires_grad:
            grads.append(g if g.dtype == root.dtype else AsType(root.dtype)(g))
        else:
            grads.append(Tensor._make(array, False, None, 0))
    return grads


def backward(roots: list, given: Any, retain_graph: bool, targets: Any, first_order: Callable | None = None) -> None:
    """``backward(create_graph=True)``: each leaf's ``.grad`` becomes ``.grad + gradient`` (a Tensor with its graph).
    All of it records, the leaves' hooks and the additions into ``.grad`` too, even under ``no_grad``, as PyTorch's.

    ``first_order`` (``functions.backward`` without ``create_graph`` inside a forward-AD dual level, from roots that
    reach a dual): the walk keeps the graph for the tangents only; the hooks and ``retain_grad()``'s ``.grad`` see
    gradients as ``first_order`` hands them out (not requiring grad, carrying their tangents), and each leaf's
    ``.grad`` is PyTorch's first-order one: the first accumulation a plain copy without a tangent, a later one an
    in-place add after which ``.grad`` carries the tangent of what was added (plus its own), as PyTorch's."""
    outer, SHOWN.first_order = SHOWN.first_order, first_order
    try:
        with record_grad():
            _backward(roots, given, retain_graph, targets)
    finally:
        SHOWN.first_order = outer


def _backward(roots: list, given: Any, retain_graph: bool, targets: Any) -> None:
    from .autograd.functions import _Roots
    grads = root_grads(roots, given, "backward", "grad_tensors")
    finished: dict = {}
    try:
        leaves, _, visited = walk(_Roots(roots, grads), targets, finished=finished,
                                  on_leaf=lambda leaf, g: _accumulate_leaves({leaf: g}, targets))
    except BaseException:   # as PyTorch's engine, which had accumulated these before the error
        _accumulate_leaves(finished, targets)
        raise
    _accumulate_leaves(leaves, targets)   # (none left: each was accumulated once complete)
    _release(visited, retain_graph)


def _accumulate_leaves(leaves: dict, targets: Any) -> None:
    """Leaf after leaf, in the order they were complete, as PyTorch's AccumulateGrad nodes: the leaf's hooks (in the
    walk's state), ``.grad + gradient`` and its post-accumulate hooks (in the state its hooks left); a hook that
    raises leaves the leaves before it done and the rest untouched. ``targets``: only their leaves."""
    mode = _state.get()
    try:
        for leaf, g in leaves.items():
            if targets is not None and leaf not in targets.leaves:
                continue
            restore_state(mode)
            g = leaf_grad(leaf, _dense(g))
            if SHOWN.first_order is not None:
                if leaf._requires_grad:
                    _first_order_accumulate(leaf, g)
            else:
                if g.requires_grad:
                    warnings.warn(REFERENCE_CYCLE, UserWarning, stacklevel=5)
                if leaf._requires_grad:   # else detach_() or requires_grad_(False) since the forward: PyTorch's
                    accumulate(leaf, g)   # AccumulateGrad adds nothing (its hooks still run), as without create_graph
            if _PostHooks.registered:
                run_post_accumulate_hooks((leaf,))
    finally:
        restore_state(mode)


def _first_order_accumulate(leaf: Tensor, g: Tensor) -> None:
    """``leaf.grad += g`` for a plain backward inside a forward-AD dual level (:func:`backward`'s ``first_order``), as
    PyTorch's AccumulateGrad: the first time a copy without a tangent (PyTorch detaches it), then an add in place,
    after which ``.grad`` carries its tangent plus ``g``'s."""
    forward_ad = engine_module.FORWARD_AD
    old = leaf._grad
    array = g.data
    if old is None and array.shape != leaf.data.shape:
        array = _in_leaf_shape(leaf, array, True)
    carried = None if old is None else forward_ad.carrier(old)
    with engine_module._ACCUMULATING:
        _add_to_grad(leaf, array.astype(leaf.data.dtype, copy=False) if old is not None else array)
    if old is not None and g._requires_grad:
        shadow = g if g.dtype == leaf.dtype else AsType(leaf.dtype)(g)
        forward_ad.carry(leaf._grad, shadow if carried is None else Add()(carried, shadow), True)


def grad(roots: list, given: Any, wanted: list, retain_graph: bool, allow_unused: Any,
         materialize_grads: bool) -> list:
    """``grad(create_graph=True)``: one gradient Tensor (with its graph) or None per tensor of ``wanted``; it all
    records (the leaves' hooks too), even under ``no_grad``, as PyTorch's."""
    with record_grad():
        return _grad(roots, given, wanted, retain_graph, allow_unused, materialize_grads)


def first_order_grad(first_order: Callable, *args: Any) -> list:
    """:func:`grad` for a ``grad`` without ``create_graph`` inside a forward-AD dual level (``functions.grad``): the
    walk keeps the graph for the gradients' tangents, the hooks see them as ``first_order`` hands them out (PyTorch's
    first-order gradients, carrying their tangents), and so do the results."""
    outer, SHOWN.first_order = SHOWN.first_order, first_order
    try:
        return first_order(grad(*args))
    finally:
        SHOWN.first_order = outer


def _grad(roots: list, given: Any, wanted: list, retain_graph: bool, allow_unused: Any,
          materialize_grads: bool) -> list:
    from .autograd.functions import _Roots, _Targets
    grads = root_grads(roots, given, "grad", "grad_outputs")
    targets = _Targets(wanted)

    def hooked(leaf: Tensor, g: Any) -> Any:   # a wanted leaf's hooks run once its gradient is complete, as torch's
        return leaf_grad(leaf, _dense(g), in_grad=True) if leaf in targets.leaves else g

    leaves, captured, visited = walk(_Roots(roots, grads), targets, quiet=True, on_leaf=hooked) if roots \
        else ({}, {}, [])
    _release(visited, retain_graph)   # before the unused-input check: PyTorch's engine has run (and freed) by then
    result = []
    for i, t in enumerate(wanted):
        g = captured.get((t._node, t._index)) if t._node is not None else leaves.get(t)
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) appears to not have been used in "
                                   "the graph of the outputs; pass allow_unused=True if this is expected")
            if materialize_grads:   # PyTorch: zeros_like(input, requires_grad=create_graph), a leaf
                g = _zeros(tuple(t.shape), t).requires_grad_()
        elif g.dtype != t.dtype:
            g = AsType(t.dtype)(g)
        result.append(g)
    return result


def _release(visited: list, retain_graph: bool) -> None:
    """``retain_graph=False`` given with ``create_graph=True``: free the saved arrays of the nodes the walk ran, as
    the ordinary backward does (a later backward through them then raises)."""
    if not retain_graph:
        for node in visited[1:]:   # visited[0] is the start node; one that saved nothing can run again
            if node.saved or type(node.saved) is not tuple:
                node.saved = _FREED


# --- helpers: a node's inputs and outputs as Tensors ------------------------------------------------------------

def _input(node: Function, i: int, value: Any) -> Any:
    """Input ``i`` of ``node`` as a Tensor on the graph, from the array ``value`` the node saved; a constant
    input (edge None) stays the number or array it was."""
    edge = node.edges[i]
    if edge is None:
        return value
    if type(edge) is tuple:
        return Tensor._make(value, True, edge[0], edge[1])
    if node.epoch < 0 and value is not edge.data and backend.is_array(value):
        # saved_tensors_hooks gave back another array (allow_mutation_on_saved_tensors' copy of a leaf changed in
        # place since): that value on the leaf's graph, as torch's unpacked saved tensor (a Clone links them)
        return Tensor._make(value, True, Clone()(edge)._node, 0)
    return edge   # a leaf: the Tensor itself


def _output(node: Function, value: Any, index: int = 0) -> Tensor:
    """Output ``index`` of ``node`` (array ``value``) as a Tensor whose gradient flows into ``node`` again."""
    return Tensor._make(value, True, node, index)


def _shape(value: Any) -> tuple:
    return tuple(getattr(value, "shape", ()))


def sum_to(g: Tensor, shape: tuple) -> Tensor:
    """``g`` summed down to ``shape`` (the inverse of broadcasting), differentiably: ``ops._util.sum_to``'s twin."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    if g.data.size == math.prod(shape):
        return Reshape(shape)(g)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and g.shape[lead + i] != 1)
    out = Sum(axes, True)(g)
    return Reshape(shape)(out) if lead else out


def _unreduce(g: Tensor, in_shape: tuple, axes: Any, keepdims: bool) -> Tensor:
    """The gradient of a reduction's result broadcast back to the input's shape: ``reduce._expand`` then a
    broadcast, as Tensors."""
    if axes is None:
        shape: Any = (1,) * len(in_shape)
    elif keepdims:
        shape = tuple(g.shape)
    else:
        shape = list(g.shape)
        for a in sorted(axes):
            shape.insert(a, 1)
        shape = tuple(shape)
    if tuple(g.shape) != shape:
        g = Reshape(shape)(g)
    return BroadcastTo(tuple(in_shape))(g) if shape != tuple(in_shape) else g


def _zero(g: Tensor) -> Any:
    return g.dtype.type(0)


def _select(mask: Any, g: Tensor, other: Any = None) -> Tensor:
    """``g`` where ``mask`` (an array), else ``other`` (0 by default): a selection, so that 0 stays 0."""
    return Where()(mask, g, _zero(g) if other is None else other)


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    xp = backend.array_module(like.data)
    return Tensor._make(xp.zeros(shape, dtype=like.dtype), False, None, 0)


class ReadsInput(Function):
    """``g`` unchanged, with a zero gradient for ``x``: the gradient of a piecewise-linear op (relu, leaky_relu,
    hardtanh, abs, the 1- and inf-norms) reads its input only to pick a piece. PyTorch's backward of these ops
    takes the input and differentiates to ``zeros_like``, so a tensor that reaches a gradient only through such
    a mask gets zeros from ``create_graph=True``, not None; this op gives it the same zeros.

    ``again``: the derivative with respect to ``g`` reads x again, as PyTorch's double backward of the activations
    does (``threshold_backward(gg, self)``, ``gg * sgn(self)``), so it requires grad too and a mixed third
    derivative through it is zeros, not an error; False where PyTorch's reads only indices (max-pool, nll_loss).

    ``unused``: x gets no gradient (None) instead of zeros, as from PyTorch's double backward of a convolution or
    grid_sample: their first-order gradients take the input and weight, so they require grad even where the op is
    linear in what is differentiated, and a second derivative with respect to the input is "not used" (None with
    ``allow_unused=True``, else RuntimeError), not "does not require grad"."""

    name = "reads_input"
    unused = False
    complex_grad = True   # g passes unchanged; x's gradient is 0 or None (autograd.engine._complex_gate)

    def __init__(self, again: bool = False, unused: bool = False) -> None:
        self.again, self.unused = again, unused

    def forward(self, g: Any, x: Any) -> Any:
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return g

    def backward(self, gg: Any) -> tuple:
        return (gg if self.needs_grad[0] else None,
                self.xp.zeros(self.x_shape, dtype=self.x_dtype) if self.needs_grad[1] and not self.unused else None)


def reads_input(node: Function, i: int, g: Any, value: Any = None, again: bool = False, unused: bool = False) -> Any:
    """The gradient ``g`` for input ``i`` of ``node``, tied to that input by :class:`ReadsInput` (``value``: an
    array of its shape and dtype; ``g``'s own array where None; ``again``, ``unused``: see ReadsInput)."""
    edge = node.edges[i]
    if g is None or edge is None:
        return g
    return ReadsInput(again, unused)(g, _input(node, i, g.data if value is None else value))


# --- rules: arithmetic ---------------------------------------------------------------------------------------------

def _shapes(node: Function, g: Tensor) -> tuple:
    return node.shapes if node.shapes is not None else (tuple(g.shape), tuple(g.shape))


@rule(Add)
def _add(node: Function, g: Tensor) -> tuple:
    shape_a, shape_b = _shapes(node, g)
    return (sum_to(g, shape_a) if node.edges[0] is not None else None,
            sum_to(g, shape_b) if node.edges[1] is not None else None)


@rule(Sub)
def _sub(node: Function, g: Tensor) -> tuple:
    shape_a, shape_b = _shapes(node, g)
    return (sum_to(g, shape_a) if node.edges[0] is not None else None,
            sum_to(Neg()(g), shape_b) if node.edges[1] is not None else None)


@rule(AddCMul)
def _addcmul(node: Function, g: Tensor) -> tuple:   # a + b * c as one op
    b, c = node.saved
    shape_b, shape_c = node.shapes if node.shapes is not None else (node.shape_y, node.shape_y)
    product = sum_to(g, node.shape_y)
    return (sum_to(g, node.shape_a) if node.edges[0] is not None else None,
            sum_to(Mul()(product, _input(node, 2, c)), shape_b) if node.edges[1] is not None else None,
            sum_to(Mul()(product, _input(node, 1, b)), shape_c) if node.edges[2] is not None else None)


def _own_dtype(node: Function, g: Tensor, t: Tensor, i: int) -> Tensor:
    """addcmul's/addcdiv's tensor1 (i = 1) or tensor2 (i = 2) in its own dtype, as their first-order backward reads
    it (a float16 or float32 tensor beside float64 ones: its products with the value rounded in its dtype); complex
    gradients (the holomorphic variant) keep the common dtype."""
    dtype = node.dtypes[i]
    return t if g.dtype.kind == "c" or t.dtype == dtype else AsType(dtype)(t)


@rule(AddCMulBy)
def _addcmul_by(node: Function, g: Tensor) -> tuple:   # a + value * b * c as one op, PyTorch's formulas
    b, c = node.saved
    shape_b, shape_c = node.shapes if node.shapes is not None else (tuple(g.shape),) * 2
    gb = gc = None
    if node.edges[1] is not None:
        gb = sum_to(Mul()(g, Mul()(_own_dtype(node, g, _input(node, 2, c), 2), node.value)), shape_b)
    if node.edges[2] is not None:
        gc = sum_to(Mul()(g, Mul()(_own_dtype(node, g, _input(node, 1, b), 1), node.value)), shape_c)
    return sum_to(g, node.shape_a) if node.edges[0] is not None else None, gb, gc


@rule(AddCDiv)
def _addcdiv(node: Function, g: Tensor) -> tuple:   # a + value * b / c as one op, PyTorch's formulas
    b, c = node.saved
    shape_b, shape_c = node.shapes if node.shapes is not None else (tuple(g.shape),) * 2
    c_t = _own_dtype(node, g, _input(node, 2, c), 2)
    value = node.value if g.dtype.kind == "c" else c_t.dtype.type(node.value)   # (the value in c's dtype first)
    gb = sum_to(Mul()(g, Div()(value, c_t)), shape_b) if node.edges[1] is not None else None
    gc = None
    if node.edges[2] is not None:
        scaled = Mul()(_own_dtype(node, g, _input(node, 1, b), 1), node.value)
        gc = sum_to(Mul()(Neg()(g), Div()(scaled, Mul()(c_t, c_t))), shape_c)
    return sum_to(g, node.shape_a) if node.edges[0] is not None else None, gb, gc


@rule(Mul)
def _mul(node: Function, g: Tensor) -> tuple:
    a, b = node.saved   # (None for an operand only a constant's gradient would read: see Mul.forward)
    shape_a, shape_b = node.shapes if node.shapes is not None else (tuple(g.shape),) * 2
    return (sum_to(Mul()(g, _input(node, 1, b)), shape_a) if node.edges[0] is not None else None,
            sum_to(Mul()(g, _input(node, 0, a)), shape_b) if node.edges[1] is not None else None)


def _quotient_grads(node: Function, g: Tensor, b: Any, y: Any, shape_a: tuple) -> tuple:
    """d(a / b): ``g / b`` and ``-g * (y / b)`` (PyTorch's grouping), ``y`` the quotient: a Tensor, or the
    node's own output array."""
    b_t = _input(node, 1, b)
    ga = sum_to(Div()(g, b_t), shape_a) if node.edges[0] is not None else None
    if node.edges[1] is None:
        return ga, None
    y_t = y if isinstance(y, Tensor) else _output(node, y)
    return ga, sum_to(Mul()(Neg()(g), Div()(y_t, b_t)), _shape(b))


@rule(Div)
def _div(node: Function, g: Tensor) -> tuple:
    b = node.saved[0]   # and the dividend a when b is not a Python number (ops.elementwise.Div)
    y = Div()(_input(node, 0, node.saved[1]), _input(node, 1, b)) if node.edges[1] is not None else None
    return _quotient_grads(node, g, b, y, node.shape_a)


@rule(Neg)
def _neg(node: Function, g: Tensor) -> Tensor:
    return Neg()(g)


@rule(Pow)
def _pow(node: Function, g: Tensor) -> tuple:
    a, b, y = node.saved
    xp = node.xp
    base, exponent = _input(node, 0, a), _input(node, 1, b)
    ga = gb = None
    if node.edges[0] is not None:
        if isinstance(b, (int, float)):
            if b == 0:
                ga = _zeros(_shape(a), g)
            else:
                # PyTorch's b * x ** (b - 1) for b == 2 too: 2 * x ** 1 stays a function of x, so the third
                # derivative of x ** 2 is zeros through x ** 0, not a constant that cannot be differentiated
                local = Mul()(b, Pow()(base, b - 1))
                ga = Mul()(g, local)
        else:
            local = Mul()(exponent, Pow()(base, Sub()(exponent, 1)))
            ga = sum_to(Where()(b == 0, _zero(g), Mul()(g, local)), _shape(a))
    if node.edges[1] is not None:
        flat = (a == 0) & (b >= 0)   # d/db is 0 there (0 * log 0), as PyTorch's
        if isinstance(base, Tensor):
            log_a = Log()(Where()(flat, 1, base))   # log(1) = 0 where masked, so no 0 * inf below
        else:
            log_a = xp.log(xp.where(flat, 1, xp.asarray(a, dtype=y.dtype)))
        local = Where()(flat, _zero(g), Mul()(_output(node, y), log_a))
        gb = sum_to(Mul()(g, local), _shape(b))
    return ga, gb


# --- rules: unary math ---------------------------------------------------------------------------------------------

@rule(Exp)
def _exp(node: Function, g: Tensor) -> Tensor:
    return Mul()(g, _output(node, node.saved[0]))


@rule(Log)
def _log(node: Function, g: Tensor) -> Tensor:
    return Div()(g, _input(node, 0, node.saved[0]))


@rule(Sqrt)
def _sqrt(node: Function, g: Tensor) -> Tensor:
    return Div()(g, Mul()(2, _output(node, node.saved[0])))


@rule(Tanh)
def _tanh(node: Function, g: Tensor) -> Tensor:
    y = _output(node, node.saved[0])
    return Mul()(g, Sub()(1, Mul()(y, y)))


@rule(Sigmoid)
def _sigmoid(node: Function, g: Tensor) -> Tensor:
    y = _output(node, node.saved[0])
    return Mul()(Mul()(g, y), Sub()(1, y))


@rule(Relu)
def _relu(node: Function, g: Tensor) -> Tensor:
    (y,) = node.saved   # `<= 0`: a NaN input passes its gradient, as the engine's
    # PyTorch's threshold_backward(grad, result, 0) reads relu's output: the zero it gives that output runs back
    # through relu, so x's second derivative is zeros that require grad (a third derivative is zeros, not an error)
    return ReadsInput(again=True)(Where()(y <= 0, _zero(g), g), _output(node, y))


@rule(Abs)
def _abs(node: Function, g: Tensor) -> Tensor:
    (x,) = node.saved
    # g · 0 where x is 0 or NaN (PyTorch's g · sgn(x)): NaN there for an inf or NaN g, as the first-order backward
    return reads_input(node, 0, Where()(x > 0, g, Where()(x < 0, Neg()(g), Mul()(g, _zero(g)))), x, again=True)


@rule(Sin)
def _sin(node: Function, g: Tensor) -> Tensor:
    return Mul()(g, Cos()(_input(node, 0, node.saved[0])))


@rule(Cos)
def _cos(node: Function, g: Tensor) -> Tensor:
    return Mul()(Neg()(g), Sin()(_input(node, 0, node.saved[0])))


_SQRT_PI = math.sqrt(math.pi)
# math.Unary ops by name: dy/dx from the input x and the output y, as Tensors
_UNARY: dict[str, Callable[[Any, Tensor], Tensor]] = {
    "rsqrt": lambda x, y: Mul()(-0.5, Mul()(y, Mul()(y, y))),
    "reciprocal": lambda x, y: Neg()(Mul()(y, y)),
    "expm1": lambda x, y: Exp()(x),
    "log1p": lambda x, y: Div()(1, Add()(1, x)),
    "log2": lambda x, y: Div()(1 / math.log(2.0), x),
    "log10": lambda x, y: Div()(1 / math.log(10.0), x),
    "exp2": lambda x, y: Mul()(y, math.log(2.0)),
    "erf": lambda x, y: Mul()(2 / _SQRT_PI, Exp()(Neg()(Mul()(x, x)))),
}


# math.Unary ops whose derivative needs the node too (polygamma's order): dy/dx from the node, x and y
UNARY_OF_NODE: dict[str, Callable[[Function, Any, Tensor], Tensor]] = {}


@rule(Unary)
def _unary(node: Function, g: Tensor) -> Tensor:
    derivative = _UNARY.get(node.name)
    x, y = node.saved
    if derivative is None:
        of_node = UNARY_OF_NODE.get(node.name)
        if of_node is None:
            raise _no_rule(node)
        return Mul()(g, of_node(node, _input(node, 0, x), _output(node, y)))
    return Mul()(g, derivative(_input(node, 0, x), _output(node, y)))


# math.Binary ops by name: (node, g) -> (gradient of a, gradient of b), None for a constant
BINARY: dict[str, Rule] = {}


@rule(Binary)
def _binary(node: Function, g: Tensor) -> tuple:
    found = BINARY.get(node.name)
    if found is None:
        raise _no_rule(node)
    return found(node, g)


def _logaddexp(node: Function, g: Tensor) -> tuple:
    a, b, _ = node.saved
    a_t, b_t = _input(node, 0, a), _input(node, 1, b)
    # PyTorch's formulas: 1 / (1 + exp(b - a)) and 1 / (1 + exp(a - b))
    return (sum_to(Div()(g, Add()(1, Exp()(Sub()(b_t, a_t)))), _shape(a)) if node.edges[0] is not None else None,
            sum_to(Div()(g, Add()(1, Exp()(Sub()(a_t, b_t)))), _shape(b)) if node.edges[1] is not None else None)


BINARY["logaddexp"] = _logaddexp


# --- rules: selections (masks computed from the saved arrays, constants of the gradient's graph) ------------------

def _winner(g: Tensor, x: Any, other: Any, x_loses: Any, shape: tuple) -> Tensor:
    """maximum/minimum's share of ``g`` for ``x``: all where it wins, half at a tie, 0 where it loses."""
    return sum_to(Where()(x_loses, _zero(g), Where()(x == other, Div()(g, 2), g)), shape)


@rule(Maximum)
def _maximum(node: Function, g: Tensor) -> tuple:
    a, b = node.saved
    return (_winner(g, a, b, a < b, _shape(a)) if node.edges[0] is not None else None,
            _winner(g, b, a, b < a, _shape(b)) if node.edges[1] is not None else None)


@rule(Minimum)
def _minimum(node: Function, g: Tensor) -> tuple:
    a, b = node.saved
    return (_winner(g, a, b, a > b, _shape(a)) if node.edges[0] is not None else None,
            _winner(g, b, a, b > a, _shape(b)) if node.edges[1] is not None else None)


@rule(Where)
def _where(node: Function, g: Tensor) -> tuple:
    (condition,) = node.saved
    return (None,
            sum_to(_select(condition, g), node.shapes[0]) if node.edges[1] is not None else None,
            sum_to(Where()(condition, _zero(g), g), node.shapes[1]) if node.edges[2] is not None else None)


@rule(Clip)
def _clip(node: Function, g: Tensor) -> tuple:
    x, low, high = node.saved
    passes: Any = True
    if low is not None:
        passes = passes & (x >= low)
    if high is not None:
        passes = passes & (x <= high)
    grads = [sum_to(_select(passes, g), _shape(x)) if node.edges[0] is not None else None]
    if low is not None:
        wins = x < low if high is None else (x < low) & (low < high)
        grads.append(sum_to(_select(wins, g), _shape(low)) if node.edges[1] is not None else None)
    if high is not None:
        wins = x > high if low is None else (x > high) | (high < low)
        grads.append(sum_to(_select(wins, g), _shape(high)) if node.edges[-1] is not None else None)
    return tuple(grads)


# --- rules: matrix products ------------------------------------------------------------------------------------------

def _swap_last(x: Any) -> Any:
    n = len(_shape(x))
    return Transpose(tuple(range(n - 2)) + (n - 1, n - 2))(x)


@rule(MatMul)
def _matmul(node: Function, g: Tensor) -> tuple:
    a, b = node.saved   # (None where no gradient reads it: see MatMul.keep)
    shape_a, shape_b = node.meta[:2] if node.meta is not None else (a.shape, b.shape)
    ga = gb = None
    if len(shape_a) >= 2 and len(shape_b) == 2:   # matrices, or a stack of them times one matrix: no sums back
        if node.edges[0] is not None:
            if len(shape_a) == 2 and (node.meta[3] if node.meta is not None else _column_major(a)):
                # a column-major (x.T @ W): (b gᵀ)ᵀ, in a's layout, as PyTorch's mm_mat1_backward (x's gradient is
                # then row-major)
                ga = _swap_last(MatMul()(_input(node, 1, b), _swap_last(g)))
            else:
                ga = MatMul()(g, _swap_last(_input(node, 1, b)))
        if node.edges[1] is not None:
            rows = math.prod(shape_a[:-1])
            a_rows = Reshape((rows, shape_a[-1]))(_input(node, 0, a))
            g_rows = Reshape((rows, shape_b[1]))(g)
            if node.meta[2] if node.meta is not None else _column_major(b):
                # b column-major (W.T of a weight): (gᵀ a)ᵀ, in b's layout, as PyTorch's mm_mat2_backward, so the
                # weight's gradient comes back row-major (autograd.grad(..., create_graph=True)'s g.view(-1))
                gb = _swap_last(MatMul()(_swap_last(g_rows), a_rows))
            else:
                gb = MatMul()(_swap_last(a_rows), g_rows)
        return ga, gb
    # 1-D operands become matrices, as matmul does; gy gets the axes they lost (b's first, then a's)
    shape_a2 = (1, *shape_a) if len(shape_a) == 1 else shape_a
    shape_b2 = (*shape_b, 1) if len(shape_b) == 1 else shape_b
    g2 = Reshape(tuple(g.shape) + (1,))(g) if len(shape_b) == 1 else g
    g2 = Reshape(tuple(g2.shape[:-1]) + (1,) + tuple(g2.shape[-1:]))(g2) if len(shape_a) == 1 else g2
    # a column-major matrix times a stack, a vector times a column-major matrix: the gradient of that operand in
    # its layout, as PyTorch's
    if node.edges[0] is not None:
        b_t = _input(node, 1, b)
        b2 = Reshape(shape_b2)(b_t) if len(shape_b) == 1 else b_t
        if len(shape_a) == 2 and len(shape_b) > 2 and (node.meta[3] if node.meta is not None else _column_major(a)):
            ga = _swap_last(sum_to(MatMul()(b2, _swap_last(g2)), shape_a[::-1]))
        else:
            ga = Reshape(shape_a)(sum_to(MatMul()(g2, _swap_last(b2)), shape_a2))
    if node.edges[1] is not None:
        a_t = _input(node, 0, a)
        a2 = Reshape(shape_a2)(a_t) if len(shape_a) == 1 else a_t
        column_major = node.meta[2] if node.meta is not None else len(shape_b) > 1 and _column_major(b)
        if _transposed_gradient(shape_a, shape_b, column_major):
            gb = _swap_last(sum_to(MatMul()(_swap_last(g2), a2), (*shape_b[:-2], *shape_b[:-3:-1])))
        else:
            gb = Reshape(shape_b)(sum_to(MatMul()(_swap_last(a2), g2), shape_b2))
    return ga, gb


@rule(StepMatMul)
def _step_matmul(node: Function, g: Tensor) -> tuple:
    return (*_matmul(node, g), None)


@rule(StepAddMatMul)
def _step_add_matmul(node: Function, g: Tensor) -> tuple:   # c + h @ Wᵀ of a recurrent step, as one op
    return (*_matmul(node, g), None, sum_to(g, node.addend_shape) if node.edges[3] is not None else None)


# --- rules: reductions and softmax -----------------------------------------------------------------------------------

@rule(Sum)
def _sum(node: Function, g: Tensor) -> Tensor:
    return _unreduce(g, node.in_shape, node.axis, node.keepdims)


@rule(Mean)
def _mean(node: Function, g: Tensor) -> Tensor:
    count = _count(node.in_shape, node.axis)
    if count == 0:
        return _zeros(node.in_shape, g)
    # broadcast, then divided (PyTorch's sum_backward(...) / numel): a gradient with memory of its own, not a
    # broadcast view (``autograd.grad(x.mean(-1).sum(), x, create_graph=True)[0].mul_(2)`` works, as PyTorch's)
    return Div()(_unreduce(g, node.in_shape, node.axis, node.keepdims), count)


def _kept(node: Function, y: Any) -> Tensor:
    """A reduction's output (saved with its reduced axes kept, ``y``) as a Tensor of that keepdims shape."""
    out = y if node.keepdims else y.reshape(()) if node.axis is None else y.squeeze(axis=node.axis)
    out_t = _output(node, out)
    return out_t if out.shape == y.shape else Reshape(y.shape)(out_t)


@rule(Max)
def _max(node: Function, g: Tensor) -> Tensor:
    x, y = node.saved
    xp = node.xp
    ties = x == y if not node.nan_shares else (x == y) | (xp.isnan(x) & xp.isnan(y))
    count = ties.sum(axis=node.axis, keepdims=True).astype(g.dtype)
    share = Div()(_unreduce(g, x.shape, node.axis, node.keepdims), xp.maximum(count, 1))
    if node.nan_shares:
        return _select(ties, share)
    # amax/amin: NaN times g on a NaN result's line (not a NaN constant), so a tangent through it (forward AD, the
    # double-vjp) is NaN there too, as PyTorch's (x == y matches nothing: its jvp divides by a count of 0)
    nan_line = xp.broadcast_to(count == 0, x.shape)
    return _select(ties | nan_line, Mul()(share, xp.where(nan_line, g.dtype.type("nan"), g.dtype.type(1))))


@rule(LogSumExp)
def _logsumexp(node: Function, g: Tensor) -> Tensor:
    x, y = node.saved
    return Mul()(Exp()(Sub()(_input(node, 0, x), _kept(node, y))), _unreduce(g, x.shape, node.axis, node.keepdims))


@rule(Norm)
def _norm(node: Function, g: Tensor) -> Tensor:
    # PyTorch's norm_backward term by term, as the engine's Norm.backward; sgn(x) reads x (a zero derivative)
    x, y = node.saved
    xp, p = node.xp, node.p
    if p == 0:   # a count of non-zeros: no gradient, as the engine's Norm.backward and PyTorch
        return None
    g_x = _unreduce(g, x.shape, node.axis, node.keepdims)
    sign = (x > 0).astype(x.dtype) - (x < 0)
    if p == 1.0:
        return reads_input(node, 0, Mul()(g_x, sign), x)
    zero = y == 0   # a zero norm: gradient 0, as PyTorch's (x / y would be 0 / 0)
    y_t = Where()(zero, 1, _kept(node, y))   # 1 where masked: no 0 * inf in the derivatives of the masked branch
    x_t = _input(node, 0, x)
    if p == 2.0:   # x / y itself, masked: at a zero norm its derivatives are 0/0, NaN, as PyTorch's (‖x‖'s Hessian
        # is unbounded at x = 0; y_t's 1 gave a finite second derivative there)
        return Mul()(g_x, Where()(zero, _zero(g), Div()(x_t, _kept(node, y))))
    abs_x = xp.abs(x)
    if p in (math.inf, -math.inf):   # the max (min) |x| and the NaNs share the gradient
        ties = (abs_x == y) | xp.isnan(abs_x)
        count = ties.sum(axis=node.axis, keepdims=True).astype(g.dtype)
        return reads_input(node, 0, Mul()(Div()(g_x, count), sign * ties), x)
    abs_t = Abs()(x_t)
    if p < 1:
        at_zero = x == 0
        scaled = Where()(at_zero, _zero(g), Mul()(sign, Pow()(Where()(at_zero, 1, abs_t), p - 1)))
        return Mul()(Mul()(scaled, g_x), Pow()(_kept(node, y), 1 - p))   # y itself: 0 where an x is 0 (p < 0)
    scaled = Mul()(sign, Pow()(abs_t, p - 1)) if p < 2 else Mul()(x_t, Pow()(abs_t, p - 2))
    return Mul()(scaled, Where()(zero, _zero(g), Div()(g_x, Pow()(y_t, p - 1))))


def _sum_along(x: Tensor, axis: int) -> Tensor:
    return Sum((axis,), True)(x)


@rule(Softmax)
def _softmax(node: Function, g: Tensor) -> Tensor:
    y = _output(node, node.saved[0])
    gy = Mul()(g, y)
    return Sub()(gy, Mul()(y, _sum_along(gy, node.axis)))


@rule(LogSoftmax)
def _log_softmax(node: Function, g: Tensor) -> Tensor:
    xp = node.xp
    if node.narrow:   # a float16 input: the node kept its output, log_softmax(x) itself
        (z,) = node.saved
    else:
        e, total = node.saved
        if not e.size:
            return _zeros(e.shape, g)
        with backend.errstate(xp, divide="ignore"):   # e may underflow to 0: log gives -inf, exp gives back 0
            z = xp.log(e) - xp.log(total)
    softmax = Exp()(_output(node, z))   # exp(log_softmax(x)): differentiable through this node
    return Sub()(g, Mul()(softmax, _sum_along(g, node.axis)))


# --- rules: shapes, indexing, joining ------------------------------------------------------------------------------

@rule(Reshape)
def _reshape(node: Function, g: Tensor) -> Tensor:
    return Reshape(node.in_shape)(g)


@rule(Transpose)
def _transpose(node: Function, g: Tensor) -> Tensor:
    if node.axes is None:
        return Transpose(None)(g)
    inverse = [0] * len(node.axes)
    for i, a in enumerate(node.axes):
        inverse[a] = i
    return Transpose(tuple(inverse))(g)


@rule(BroadcastTo)
def _broadcast_to(node: Function, g: Tensor) -> Tensor:
    return sum_to(g, node.in_shape)


@rule(Repeat)
def _repeat(node: Function, g: Tensor) -> Tensor:
    # g viewed as (r0, s0, r1, s1, ...), the copies (the r axes) summed back onto one, as Repeat's backward
    shape = (1,) * (len(node.repeats) - len(node.in_shape)) + tuple(node.in_shape)
    split = tuple(n for pair in zip(node.repeats, shape) for n in pair)
    summed = Sum(tuple(range(0, len(split), 2)), False)(Reshape(split)(g))
    return Reshape(tuple(node.in_shape))(summed)


@rule(Clone)
def _clone(node: Function, g: Tensor) -> Tensor:
    return g


@rule(ReadsInput)
def _reads_input(node: Function, g: Tensor) -> tuple:
    if node.again and node.edges[1] is not None:   # x read again: its shape and dtype are all ReadsInput takes
        shape_of_x = node.xp.broadcast_to(node.xp.zeros((), node.x_dtype), node.x_shape)
        g = ReadsInput(again=True)(g, _input(node, 1, shape_of_x))
    return g, (_zeros(node.x_shape, g) if node.edges[1] is not None and not node.unused else None)


@rule(AsType)
def _astype(node: Function, g: Tensor) -> Tensor:
    return AsType(node.in_dtype)(g) if g.dtype != node.in_dtype else g


class IndexBackward(Function):
    """``x[index]``'s backward as an op: zeros of the input's shape with ``gy`` added at ``index`` (repeated
    indices accumulate). Its own backward is ``x[index]`` again, so it can be differentiated any number of times."""

    name = "getitem_backward"
    complex_grad = True   # linear, real coefficients (a scatter): the same backward; see autograd.engine._complex_gate

    def __init__(self, in_shape: tuple, index: Any) -> None:
        self.in_shape, self.index = in_shape, index

    def forward(self, gy: Any) -> Any:
        gx = self.xp.zeros(self.in_shape, dtype=gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy
        else:
            backend.scatter_add(self.xp, gx, self.index, gy)
        return gx

    def backward(self, gg: Any) -> Any:
        return gg[self.index]


@rule(GetItem)
def _getitem(node: Function, g: Tensor) -> Tensor:
    return IndexBackward(node.in_shape, node.index)(g)


@rule(IndexBackward)
def _index_backward(node: Function, g: Tensor) -> Tensor:
    return GetItem(node.index)(g)


@rule(Concat)
def _concat(node: Function, g: Tensor) -> tuple:
    axis = node.axis % g.ndim
    points, total = [], 0
    for size in node.sizes[:-1]:
        total += size
        points.append(total)
    return Split(points, axis, len(node.sizes))(g)


@rule(Stack)
def _stack(node: Function, g: Tensor) -> tuple:
    axis = node.axis % g.ndim
    return Unbind(axis, len(node.edges))(g)


def _filled(node: Function, grads: list) -> list:
    """The gradients of a multi-output node's parts, zeros (constants) where none arrived."""
    like = next(g for g in grads if g is not None)
    return [g if g is not None else _zeros(node.out_meta[i][0], like) for i, g in enumerate(grads)]


@rule(Split)
def _split(node: Function, grads: list) -> Tensor:
    parts = _filled(node, grads)
    if node.sorted_end is not None:   # sorted points from 0 up: the parts tile the input in order (empty past its end)
        return Concat(node.axis)(*parts)
    # points out of order or negative (Python's slice rules, as the forward's): each part's gradient between zeros
    # that fill the rest of the axis, summed (parts may overlap; an empty part still ties its gradient, as torch's)
    axis, shape = node.axis, node.in_shape
    size, total = shape[axis], None
    for lo, hi, part in zip([0, *node.points], [*node.points, None], parts):
        start, stop, _ = slice(lo, hi).indices(size)
        stop = max(start, stop)
        before = _zeros(shape[:axis] + (start,) + shape[axis + 1:], part)
        after = _zeros(shape[:axis] + (size - stop,) + shape[axis + 1:], part)
        placed = Concat(axis)(before, part, after)
        total = placed if total is None else Add()(total, placed)
    return total if total is not None else _zeros(shape, parts[0])


@rule(Unbind)
def _unbind(node: Function, grads: list) -> Tensor:
    return Stack(node.axis)(*_filled(node, grads))


# --- rules: ops defined in nn (registered by name: minigrad never imports nn) ----------------------------------------

def _weighted_mean(node: Function, g: Tensor) -> tuple:
    denominator, total, empty = node.saved   # the inputs (the denominator 1 where it is 0), not the quotient
    if empty:   # a zero denominator: the total's gradient is g / 0 (±inf, NaN for 0), as the engine's
        return g * math.inf, _zeros((), g)
    y = Div()(_input(node, 0, total), _input(node, 1, denominator)) if node.edges[1] is not None else None
    return _quotient_grads(node, g, denominator, y, ())


LATE_RULES["nn._targets.WeightedMean"] = _weighted_mean


class UnfoldBackward(Function):
    """The backward of ``nn._conv.Unfold`` (im2col) as an op: each kernel offset's gradient added back into its
    slice of the padded input (col2im). Linear; its own backward is ``Unfold`` padded with zeros."""

    name = "unfold_backward"
    complex_grad = True   # linear, real coefficients (col2im): the same backward for complex values (engine's gate)

    def __init__(self, unfold: Function) -> None:
        self.unfold = unfold   # the forward op, for its sizes (kernel, stride, padding …)

    def forward(self, gy: Any) -> Any:
        # C-contiguous: the first-order backward's inner slice of the padded gradient is a strided view, where
        # PyTorch's convolution, pooling and col2im gradients are contiguous (a WGAN-GP penalty's
        # ``grad.view(n, -1)`` through a padded Conv2d raised)
        return self.xp.ascontiguousarray(type(self.unfold).backward(self.unfold, gy))

    def backward(self, gg: Any) -> Any:
        op = self._zero_padded()
        op.xp = self.xp
        return op.forward(gg)

    def _zero_padded(self) -> Function:
        u = self.unfold
        return type(u)(u.kernel, u.stride, u.dilation, u.padding, 0.0, u.out_size)


def _unfold(node: Function, g: Tensor) -> Tensor:
    return UnfoldBackward(node)(g)


@rule(UnfoldBackward)
def _unfold_backward(node: Function, g: Tensor) -> Tensor:
    return node._zero_padded()(g)


LATE_RULES["nn._conv.Unfold"] = _unfold


def _convolution(node: Function, g: Tensor) -> tuple:
    """nn's Convolution (x (N, C, *S) ⋆ weight (O, C/G, *K) + bias) as ops, the way its matmul path's backward
    computes them: the weight times the gradient folded back (col2im) for x, the gradient times x's windows (im2col)
    summed over the batch for the weight, the gradient summed over the batch and positions for the bias."""
    x, weight = node.saved   # (None where no gradient reads it)
    batch, groups, inner, per_group, positions = node._shapes()
    unfold = node.unfold
    gx = gw = None
    grouped = Reshape((batch, groups, per_group, positions))(g)
    if node.edges[0] is not None:
        kernel = Reshape((groups, per_group, inner))(_input(node, 1, weight))
        columns = Reshape(tuple(node.x_shape[:2]) + unfold.kernel + unfold.out_size)(MatMul()(_swap_last(kernel),
                                                                                             grouped))
        gx = UnfoldBackward(unfold)(columns)
    if node.edges[1] is not None:
        gw = _convolution_weight_grad(node, grouped, _input(node, 0, x))
    return _conv_laid_out(node, gx, gw) + _convolution_bias_grad(node, g)


def _conv_laid_out(node: Function, gx: Tensor | None, gw: Tensor | None) -> tuple:
    """(gx, gw) of nn's Convolution or ConvTranspose ``node`` in its result's channels-last ``layout`` where it has
    one, as its first-order backward (PyTorch's kernels allocate both so)."""
    layout = node.layout
    if layout is None:
        return gx, gw
    return (None if gx is None else gx.contiguous(memory_format=layout),
            None if gw is None else gw.contiguous(memory_format=layout))


def _convolution_weight_grad(node: Function, grouped: Tensor, x: Tensor) -> Tensor:
    """The weight's gradient of nn's Convolution ``node`` from its output's gradient, ``grouped`` (N, G, O/G, P), and
    its input ``x`` (N, C, *S): the gradient times x's windows (im2col), summed over the batch."""
    batch, groups, inner, per_group, positions = node._shapes()
    unfold = node.unfold
    # a fresh nn._conv.Unfold (this module cannot import nn) to run as an op on x
    windows = type(unfold)(unfold.kernel, unfold.stride, unfold.dilation, unfold.padding, 0.0, unfold.out_size)
    columns = Reshape((batch, groups, inner, positions))(windows(x))
    products = MatMul()(grouped, _swap_last(columns))                           # (N, G, O/G, C/G·∏K)
    return Reshape(tuple(node.weight_shape))(sum_to(products, (groups, per_group, inner)))


def _convolution_bias_grad(node: Function, g: Tensor) -> tuple:
    """(the bias's gradient,) of nn's Convolution or ConvTranspose ``node`` (None where it needs none): g (N, O, *S)
    summed over the batch and the positions; () without a bias."""
    if len(node.edges) < 3:
        return ()
    if node.edges[2] is None:
        return (None,)
    channels = g.shape[1]
    return (Reshape((channels,))(sum_to(g, (channels,) + (1,) * (g.ndim - 2))),)


LATE_RULES["nn._conv.Convolution"] = _convolution


def _conv_transpose(node: Function, g: Tensor) -> tuple:
    """nn's ConvTranspose (a convolution's input gradient: x (N, C_in, *I) of weight (C_in, C_out/G, *K) spread over
    (N, C_out, *S), + bias) as ops, as its first-order backward computes them: x's gradient the convolution of g (a
    recorded Convolution op, which differentiates again by its own rule), the weight's the convolution's weight
    gradient with the roles swapped (g as the input, x as the output's gradient)."""
    x, weight = node.saved   # (None where no gradient reads it)
    batch, groups, _, per_group, positions = node._shapes()
    gx = node.convolution()(g, _input(node, 1, weight)) if node.edges[0] is not None else None
    gw = None
    if node.edges[1] is not None:
        grouped = Reshape((batch, groups, per_group, positions))(_input(node, 0, x))
        gw = _convolution_weight_grad(node, grouped, g)
    return _conv_laid_out(node, gx, gw) + _convolution_bias_grad(node, g)


LATE_RULES["nn._conv.ConvTranspose"] = _conv_transpose


def _max_pool(node: Function, g: Tensor) -> Tensor:
    """nn's MaxPool: each window's gradient to the entry it chose, as im2col's adjoint (col2im) of the gradient
    spread over the kernel offsets by a 0/1 mask of the choices."""
    (choice,) = node.saved
    unfold = node.unfold
    xp = backend.array_module(choice)
    size = math.prod(unfold.kernel)
    offsets = xp.arange(size).reshape((1, 1, size) + (1,) * (choice.ndim - 2))
    spread = (choice[:, :, None] == offsets).astype(g.dtype)                                # (N, C, ∏K, *O)
    columns = Mul()(spread, Reshape((choice.shape[0], choice.shape[1], 1) + tuple(choice.shape[2:]))(g))
    return UnfoldBackward(unfold)(Reshape(tuple(choice.shape[:2]) + unfold.kernel + unfold.out_size)(columns))


LATE_RULES["nn._conv.MaxPool"] = _max_pool


def _window_sum(node: Function, g: Tensor) -> Tensor:
    """nn's WindowSum (an average pool's numerator): each window's gradient to all its entries, col2im of the
    gradient broadcast over the kernel offsets."""
    unfold = node.unfold
    shape = tuple(g.shape)
    spread = Reshape(shape[:2] + (1,) * len(unfold.kernel) + shape[2:])(g)
    return UnfoldBackward(unfold)(BroadcastTo(shape[:2] + unfold.kernel + shape[2:])(spread))


LATE_RULES["nn._conv.WindowSum"] = _window_sum


def _avg_pool(node: Function, g: Tensor) -> Tensor:
    """nn's AvgPool: the gradient divided by each window's count (or the divisor), then as :func:`_window_sum`."""
    divisor = node.divisor
    if not isinstance(divisor, float):
        divisor = Tensor._make(backend.array_module(g.data).asarray(divisor), False, None, 0)
    return _window_sum(node, Div()(g, divisor))


LATE_RULES["nn._conv.AvgPool"] = _avg_pool


def view_of(x: Tensor) -> Tensor:
    """``x`` through a view of itself (PyTorch's ``view_as``): results computed from it keep their graph to x."""
    return Reshape(tuple(x.shape))(x)


register_create_graph_walk(sys.modules[__name__])
