"""PyTorch's ``torch.autograd`` functions on the engine's walk: ``Tensor.backward``, :func:`backward` over
several tensors and :func:`grad`.

``x.backward()`` runs the walk of :mod:`minigrad.autograd.engine` from ``x``. With ``inputs=``, or for
:func:`grad`, the roots become one node (:class:`_Roots`) and the walk is restricted to the ops on a
path to the wanted tensors (:class:`_Targets`); :func:`grad` hands back their gradients instead of
adding them into ``.grad``.
"""

from __future__ import annotations

import contextvars
import warnings
from typing import Any

import numpy

from .. import backend
from ..hooks import (
    CAPTURING,
    HOOKS_LOCK,
    _apply_hooks,
    _is_prehook,
    _leaf_label,
    refuse_checkpointed,
    retain_grad,
)
from ..recording import _state, refuse_backward_in_transform
from ..tensor import Tensor
from ..versions import INPLACE
from .engine import (
    Function,
    GradShapeError,
    LazyGradient,
    _accumulate,
    _dense,
    _root_grad,
    _walk,
    refuse_unwritable_grad,
)

__all__ = ["backward", "grad", "tensor_backward"]


# The walk of create_graph=True is written with the ops (its rules are Tensor-level backwards), a layer above
# this one: minigrad.higher_order registers itself here when minigrad is imported.
_CREATE_GRAPH: list = []


def register_create_graph_walk(module: Any) -> None:
    """Called by :mod:`minigrad.higher_order`: the module whose ``backward``/``grad`` run ``create_graph=True``."""
    _CREATE_GRAPH[:] = [module]


def create_graph_walk() -> Any:
    """The registered :mod:`minigrad.higher_order` (its ``backward``, ``grad``, ``view_of`` and ``stack_tensors``)."""
    if not _CREATE_GRAPH:
        raise NotImplementedError("create_graph=True: import minigrad (it registers the higher-order walk)")
    return _CREATE_GRAPH[0]


# While a forward-AD dual level is open (minigrad.autograd.forward_ad sets it): [a callable telling whether a
# backward from these roots reaches a dual tensor, one handing gradients out as PyTorch's first-order ones (not
# requiring grad, carrying their tangents), two around a backward reaching none that adds into .grad carrying a
# tangent (which keeps it)]. A grad() or backward() reaching one runs the graph-keeping walk for the tangents, its
# gradients (hooks', .grad) handed out first-order, and keeps the saved arrays (retain_graph), which the tangents,
# computed on demand from the graph, read (PyTorch computed them with the ops).
DUAL_LEVEL: list = []


def tensor_backward(self: Tensor, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                    inputs: Any = None, *, grad: Any = None) -> None:
    """``x.backward()``: accumulate d(x)/d(leaf) into every leaf's ``.grad``, as PyTorch's ``Tensor.backward``.

    ``gradient`` (or minigrad's earlier keyword ``grad``) is the gradient of some scalar loss w.r.t.
    ``x`` (defaults to 1 for a one-element ``x``). ``retain_graph`` keeps the saved arrays so a
    second backward (or :func:`observe_backward`) can run. ``inputs``: accumulate only into these
    tensors (see :func:`backward`). Leaves' hooks run and ``.grad`` changes after every node's gradient was
    computed, or, where user code can run mid-walk (the graph has a hook on a non-leaf or a node, a custom Function,
    a module's backward hooks: see ``engine._NodeHooks``), as soon as each leaf's gradient is complete, as
    PyTorch's. If a node (its backward or a hook) raises, the leaves whose every consumer had run get their
    gradient first, as PyTorch's engine has added those. Inside a ``mg.func`` transform (``vmap``, ``grad`` …) it
    raises torch's RuntimeError.
    """
    refuse_backward_in_transform()
    if grad is not None:
        if gradient is not None:
            raise TypeError("backward: give the gradient once, as gradient= (PyTorch's name) or grad=")
        gradient = grad
    if inputs is not None or create_graph or DUAL_LEVEL:
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)
        return
    gradient = _root_grad(self, gradient)
    owned: set = set()   # the walk's sums, leaves' among them: arrays no other tensor can hold
    finished: dict = {}   # if the walk raises: the leaves whose gradient was complete
    token = _grad_off()
    try:
        leaves = {self: gradient} if self._node is None else _walk(self, gradient, retain_graph, None, owned,
                                                                   finished=finished)
        _accumulate(leaves, owned)   # (in the try: an add into a read-only .grad raises PyTorch's error, below)
    except BaseException as error:
        _accumulate_finished(finished, owned, error)   # as PyTorch's engine, which had added these before the error
        raise
    finally:
        if token is not None:
            _state.reset(token)


def _accumulate_finished(finished: dict, owned: set, error: BaseException) -> None:
    """After a backward raised ``error``: the leaves whose gradient was complete (``finished``) get it, as PyTorch's
    engine had added those before the error. An add into a ``.grad`` that cannot be written (an expanded view)
    raises PyTorch's RuntimeError, whether it is ``error`` or comes now (NumPy's ValueError otherwise)."""
    try:
        _accumulate(finished, owned)
    except ValueError as late:
        refuse_unwritable_grad(late)
        raise
    refuse_unwritable_grad(error)


_OFF: tuple = (None, None)   # _grad_off's cache of the last state it turned grad off in


def _grad_off() -> Any:
    """Grad mode off for one backward without ``create_graph``, as PyTorch runs it: the hooks' ops (tensor,
    ``grad_fn`` and post-accumulate hooks) record nothing. Returns the token that gives the caller's mode back
    (``_state.reset``), None where it was off already. One switch per backward call, none per node."""
    global _OFF
    state = _state.get()
    if not state.grad:
        return None
    last = _OFF   # (a state, its copy with grad off): most backward calls start from the same state
    if last[0] is state:
        return _state.set(last[1])
    off = state.but("grad", False)
    if state.checks is False:   # kept for the next call; never one holding an mg.compile tracer alive
        _OFF = (state, off)
    return _state.set(off)


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables: Any = None, inputs: Any = None) -> None:
    """Accumulate the gradient of ``tensors`` into the leaves' ``.grad``, as ``torch.autograd.backward``.

    ``tensors``: a Tensor or a sequence of them; ``grad_tensors``: one gradient per tensor (a
    Tensor, array or None; None means 1 for a one-element tensor), the same shape as it. Their
    gradients add up: ``backward([a, b], [ga, gb])`` is the backward of ``(a * ga).sum() + (b *
    gb).sum()``. ``retain_graph`` defaults to ``create_graph``; ``create_graph=True`` makes each ``.grad`` a
    Tensor with a graph (``.grad + gradient``, out of place, as PyTorch), see :mod:`minigrad.higher_order`.
    ``inputs`` (a Tensor, a sequence or a dict of them): accumulate into these tensors' ``.grad`` only,
    running only the ops on a path to them; a non-leaf among them keeps its ``.grad`` from then on
    (``retain_grad()``), as in PyTorch.
    ``grad_variables`` is PyTorch's deprecated name of ``grad_tensors``. Inside a ``mg.func`` transform it
    raises torch's RuntimeError.
    """
    refuse_backward_in_transform()
    if grad_variables is not None:
        warnings.warn("backward: grad_variables is deprecated; use grad_tensors", FutureWarning, stacklevel=2)
        if grad_tensors is not None:
            raise RuntimeError("backward: grad_tensors and grad_variables (deprecated) were both given; "
                               "give only grad_tensors")
        grad_tensors = grad_variables
    roots = _tensor_list(tensors, "backward", "tensors")
    first_order = not create_graph and DUAL_LEVEL and DUAL_LEVEL[0](roots)   # forward-over-reverse: see forward_ad
    if first_order and retain_graph is None:   # tangents read the graph later: kept
        retain_graph = True
    if not create_graph:
        grads = _given_grads(roots, grad_tensors, "backward", "grad_tensors")
    targets = None
    if inputs is not None:
        wanted = _tensor_list(inputs, "backward", "inputs")
        if create_graph:
            for i, t in enumerate(wanted):
                refuse_checkpointed(t, f"backward(create_graph=True): inputs[{i}]")
        if not wanted:
            raise RuntimeError("backward: `inputs` cannot be empty (leave it out to accumulate into every leaf)")
        for t in wanted:
            retain_grad(t)   # a non-leaf input keeps its .grad, as torch's backward(inputs=) makes it
        targets = _Targets(wanted)
    if not roots:
        return
    if create_graph or first_order:   # a differentiable backward: its own walk (minigrad.higher_order), not this hot
        # path; first-order (inside a forward-AD level) where its gradients carry tangents
        create_graph_walk().backward(roots, grad_tensors, True if retain_graph is None else retain_graph, targets,
                                     DUAL_LEVEL[1] if first_order else None)
        return
    owned: set = set()
    finished: dict = {}   # if the walk raises: the leaves whose gradient was complete
    if targets is not None:   # (for utils.checkpoint: a non-leaf input its function computed)
        outer_targets, CAPTURING.targets = getattr(CAPTURING, "targets", None), targets
    token = _grad_off()
    try:
        leaves = _walk_roots(roots, grads, False if retain_graph is None else retain_graph, owned, targets, finished)
        if targets is not None:
            leaves = {leaf: g for leaf, g in leaves.items() if leaf in targets.leaves}
        carried = DUAL_LEVEL[2](leaves) if DUAL_LEVEL else None   # .grad carrying tangents (forward_ad)
        _accumulate(leaves, owned)   # (in the try: an add into a read-only .grad raises PyTorch's error, below)
        if carried:
            DUAL_LEVEL[3](carried)
    except BaseException as error:   # as PyTorch's engine, which had added these before the error
        _accumulate_finished({leaf: g for leaf, g in finished.items() if targets is None or leaf in targets.leaves},
                             owned, error)
        raise
    finally:
        if targets is not None:
            CAPTURING.targets = outer_targets
        if token is not None:
            _state.reset(token)


# True while vmap's loop (minigrad.func.vmap) runs an example that is not the last: there a grad() with the default
# retain_graph keeps the graph, as PyTorch's one batched backward frees it once (torch.vmap's docstring example:
# ``vmap(lambda v: autograd.grad(y, x, v))(I_N)`` gives the Jacobian of a y recorded outside).
LOOP_KEEPS_GRAPH: contextvars.ContextVar[bool] = contextvars.ContextVar("loop_keeps_graph", default=False)


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
    ``create_graph``. ``create_graph=True`` gives gradients with a graph of their own (higher-order
    gradients, :mod:`minigrad.higher_order`; an op without a higher-order rule raises NotImplementedError naming
    it); ``is_grads_batched``: each grad_output has a leading batch dim, and each gradient gets one (B, *input
    shape), one backward per row (PyTorch vmaps one backward), so tensor and ``grad_fn`` hooks on the way run once
    per row, each seeing that row's gradient (PyTorch's run once, on a batched gradient of the same logical shape),
    and a ``retain_grad()`` tensor on the way keeps its ``.grad`` (PyTorch's gets a batched tensor that any use
    refuses; the rows summed would be no gradient at all); ``only_inputs`` is deprecated in PyTorch and
    ignored.
    """
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                             materialize_grads)
    if retain_graph is None and LOOP_KEEPS_GRAPH.get():
        retain_graph = True
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
    first_order = not create_graph and DUAL_LEVEL and DUAL_LEVEL[0](roots)   # forward-over-reverse: see forward_ad
    if first_order:   # the graph is kept for the gradients' tangents (H·t), handed out as first-order gradients
        create_graph, retain_graph = True, True
    if create_graph:   # a differentiable backward: its own walk (minigrad.higher_order)
        for i, t in enumerate(wanted):
            refuse_checkpointed(t, f"grad(create_graph=True): inputs[{i}]")
        walk = create_graph_walk()
        args = (roots, grad_outputs, wanted, True if retain_graph is None else retain_graph, allow_unused,
                materialize_grads)
        result = walk.first_order_grad(DUAL_LEVEL[1], *args) if first_order else walk.grad(*args)
        return dict(zip(names, result)) if names is not None else tuple(result)
    grads = _given_grads(roots, grad_outputs, "grad", "grad_outputs")
    captured: dict = {}
    targets = _Targets(wanted, captured)
    owned: set = set()
    outer, CAPTURING.walk = getattr(CAPTURING, "walk", None), captured
    outer_targets, CAPTURING.targets = getattr(CAPTURING, "targets", None), targets   # for utils.checkpoint
    token = _grad_off()
    try:
        leaves = _walk_roots(roots, grads, False if retain_graph is None else retain_graph, owned,
                             targets) if roots else {}
        result = _grad_results(wanted, leaves, captured, owned, allow_unused, materialize_grads)
    finally:
        CAPTURING.walk, CAPTURING.targets = outer, outer_targets
        targets.release()
        if token is not None:
            _state.reset(token)
    return dict(zip(names, result)) if names is not None else tuple(result)


def _grad_results(wanted: list, leaves: dict, captured: dict, owned: set, allow_unused: bool | None,
                  materialize_grads: bool) -> list:
    """:func:`grad`'s gradient Tensor (or None) per wanted input, after the leaves' hooks."""
    result = []
    done: dict = {}   # id(input) -> its gradient: an input given twice runs its leaf hooks once, as PyTorch
    for i, t in enumerate(wanted):
        if id(t) in done:   # (a copy of) the same gradient
            result.append(None if done[id(t)] is None else Tensor._make(done[id(t)].data.copy(), False, None, 0))
            continue
        g = _input_grad(t, leaves, captured, owned)
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) appears to not have been used in "
                                   "the graph of the outputs; pass allow_unused=True if this is expected")
            if materialize_grads:
                g = backend.array_module(t.data).zeros_like(t.data)
        result.append(None if g is None else Tensor._make(g, False, None, 0))
        done[id(t)] = result[-1]
    return result


def _batched_grad(outputs: Any, inputs: Any, grad_outputs: Any, retain_graph: bool | None, create_graph: bool,
                  allow_unused: bool | None, materialize_grads: bool) -> Any:
    """:func:`grad` with ``is_grads_batched=True``: row b of every grad_output (B, *output shape) gives the
    gradients' row b; each gradient (B, *input shape), None where an input is unused (with ``allow_unused``)."""
    rows = [] if grad_outputs is None else _tensor_list(grad_outputs, "grad", "grad_outputs")
    shapes = [tuple(getattr(r, "shape", ())) for r in rows]
    if not rows:   # PyTorch's classes: no grad_output to take a batch dim from
        if any(out.numel() != 1 for out in _tensor_list(outputs, "grad", "outputs")):
            raise RuntimeError("grad: grad can be implicitly created only for scalar outputs; is_grads_batched=True "
                               "needs grad_outputs, each (B, *output shape)")
        raise GradShapeError("grad: is_grads_batched=True needs grad_outputs, each (B, *output shape) with a "
                             "leading batch dim B; none were given")   # PyTorch: ValueError (from vmap)
    if any(not isinstance(r, Tensor) or r.ndim == 0 or r.shape[0] == 0 for r in rows):
        raise IndexError("grad: is_grads_batched=True takes dim 0 of each grad_output as the batch dim, so each "
                         f"must be a Tensor with at least one row (got shapes {shapes})")
    sizes = {r.shape[0] for r in rows}
    if len(sizes) != 1:
        raise RuntimeError("grad: is_grads_batched=True needs grad_outputs with the same leading batch dim "
                           f"(got shapes {shapes})")
    (size,) = sizes
    names = list(inputs) if isinstance(inputs, dict) else None
    wanted = _tensor_list(inputs, "grad", "inputs")
    keep = create_graph if retain_graph is None else retain_graph
    outer, CAPTURING.batched = getattr(CAPTURING, "batched", False), True
    try:
        per_row = [grad(outputs, wanted, [r[b] for r in rows], retain_graph=keep or b < size - 1,
                        create_graph=create_graph, allow_unused=allow_unused, materialize_grads=materialize_grads)
                   for b in range(size)]
    finally:
        CAPTURING.batched = outer
    stack = create_graph_walk().stack_tensors
    result = [None if column[0] is None else stack(list(column)) for column in zip(*per_row)]
    return dict(zip(names, result)) if names is not None else tuple(result)


def _input_grad(t: Tensor, leaves: dict, captured: dict, owned: set) -> Any:
    """``grad``'s array for input ``t`` (None if none reached it): a leaf's sum after its hooks, or the
    gradient captured at a non-leaf; a copy unless the walk allocated it for ``t`` alone."""
    if t._node is not None:
        g = captured.get((t._node, t._index))
        return None if g is None else g.astype(t.data.dtype, copy=True)
    if t in captured:   # its hooks ran in the walk once its gradient was complete, as PyTorch's (engine._Ripe)
        g, fresh = captured[t], False
    else:
        g = leaves.get(t)
        if g is None:
            return None
        fresh = t in owned or isinstance(g, LazyGradient)
        g = _dense(g)
        if t._hooks:   # leaves' hooks run in grad() too, as in PyTorch (not their AccumulateGrad's prehooks)
            g, fresh = _apply_hooks(_tensor_hooks(t._hooks), g, _leaf_label(t)), False
    if not backend.is_array(g):
        g = backend.array_module(t.data).asarray(g)
    return g if fresh and g.dtype == t.data.dtype else g.astype(t.data.dtype, copy=True)


def _tensor_hooks(hooks: list) -> list:
    """A leaf's hooks that :func:`grad` runs: its tensor hooks, not its AccumulateGrad's prehooks (PyTorch's grad
    runs no AccumulateGrad node)."""
    return [hook for hook in hooks if not _is_prehook(hook)]


def _tensor_list(value: Any, name: str, what: str) -> list:
    """``value`` (a Tensor, any iterable of them as torch's ``tuple(inputs)`` takes, e.g. ``model.parameters()``
    or a ``ParameterList``, or a dict's values) as a list of Tensors."""
    if isinstance(value, Tensor):
        return [value]
    if type(value).__name__ == "GradientEdge":   # one edge (a tuple itself)
        value = [value]
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeError(f"{name}: {what} must be a Tensor or a sequence of Tensors, got {type(value).__name__}")
        value = list(value)
    for i, t in enumerate(value):
        if not isinstance(t, Tensor):
            from .graph import GradientEdge, edge_tensor  # noqa: PLC0415 - only when given one
            if isinstance(t, GradientEdge):   # autograd.grad(y, get_gradient_edge(x)), as torch's
                value = list(value)
                value[i] = edge_tensor(t)
                continue
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


def _walk_roots(roots: list, grads: list, retain_graph: Any, owned: set, targets: _Targets | None,
                finished: dict | None = None) -> dict:
    """:func:`_walk` from several roots at once (through a :class:`_Roots` node); ``{leaf: summed gradient}``."""
    start = Tensor._make(numpy.ones(()), True, _Roots(roots, grads), 0)
    return _walk(start, start.data, retain_graph, None, owned, targets, finished)


class _Stops(set):
    """The targets' nodes a restricted walk does not run on from; ``quiet``: their prehooks do not run either;
    ``leaves``: the walk's target leaves."""

    quiet = False
    leaves: set = set()


def _read_inside(node: Function, indices: set) -> bool:
    """Whether a replayed ``mg.compile`` call's ops read one of its outputs ``indices`` themselves."""
    program = getattr(node, "program", None)
    return program is not None and any(j in program.read_inside for j in indices)


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
        self.per_output: dict = {}   # set by prepare
        self.beyond: dict = {}   # set by prepare: whether a node's backward leads to a target
        # targets a function run under utils.checkpoint computed (their ops are out of the graph): the checkpoint
        # node whose backward recomputes them -> [(op, output index)], which that backward gives grad() (captured)
        self.inside: dict = {}
        for node, indices in self.outputs.items():
            owner = getattr(node, "checkpointed", None)
            owner = owner() if owner is not None else None
            if owner is not None:
                self.inside.setdefault(owner, []).extend((node, i) for i in indices)

    def prepare(self, root_node: Function) -> tuple[dict, set]:
        """Pass 1 of a restricted walk: consumers counted among the nodes on a path to a target only, and
        the targets' nodes that lead to no other target (their hooks run, their backward does not).

        First an iterative depth-first pass finds, for each node, whether a target lies beyond it.
        """
        outputs, leaves, inside = self.outputs, self.leaves, self.inside
        beyond: dict = {}   # node -> whether its backward leads to a target (None while its parents are visited)
        self.beyond = beyond
        # a replayed mg.compile call -> whether each output leads to a target (through the inputs it was computed
        # from, as eager's node for it would)
        split: dict = {}
        self.per_output = split
        finished: list = []   # the nodes, each after the nodes it reads

        def leads(edge: Any) -> bool:
            if type(edge) is not tuple:
                return edge is not None and edge in leaves
            parent = edge[0]
            return parent in outputs or parent in inside or (
                beyond[parent] if parent not in split else split[parent][edge[1]])

        stack = [root_node]
        while stack:
            node = stack[-1]
            if node not in beyond:
                beyond[node] = None
                stack.extend([edge[0] for edge in node.edges if type(edge) is tuple and edge[0] not in beyond])
                continue
            stack.pop()
            if beyond[node] is None:
                reaches = getattr(getattr(node, "program", None), "reaches", None)
                if reaches is None:
                    beyond[node] = any(leads(edge) for edge in node.edges)
                else:
                    split[node] = [any(leads(node.edges[i]) for i in inputs) for inputs in reaches]
                    beyond[node] = any(split[node])
                finished.append(node)
        if split:   # a replayed call runs on when an output a gradient comes to leads on (consumers first)
            used: dict = {node: set() for node in split}
            for node in reversed(finished):
                if node in split and node is not root_node:
                    beyond[node] = any(split[node][i] for i in used[node])
                if beyond[node]:
                    for edge in node.edges:
                        if type(edge) is tuple and edge[0] in used:
                            used[edge[0]].add(edge[1])
        consumers = {root_node: 0} if beyond[root_node] or root_node in outputs or root_node in inside else {}
        # a replayed mg.compile call whose target output its own ops read (return loss, logits) runs on: the
        # target's gradient is made inside its backward
        stops = _Stops(node for node in outputs if node in beyond and not beyond[node]
                       and not _read_inside(node, outputs[node]))
        stops.quiet = self.captured is not None   # grad's: their grad_fn prehooks do not run, as PyTorch's
        stops.leaves = leaves
        for node, runs in beyond.items():
            if runs:
                for edge in node.edges:
                    if type(edge) is tuple and (beyond[edge[0]] or edge[0] in outputs or edge[0] in inside):
                        consumers[edge[0]] = consumers.get(edge[0], 0) + 1
        if self.captured is not None:
            for node in outputs:
                if node in consumers:
                    self._capture(node, node in stops)
        return consumers, stops

    def reaches(self, edge: Any) -> bool:
        """Whether a gradient sent along ``edge`` (a leaf, or ``(node, index)``) reaches a target (after
        :meth:`prepare`)."""
        if type(edge) is not tuple:
            return edge in self.leaves
        return edge[0] in self.outputs or edge[0] in self.inside or bool(self.beyond.get(edge[0]))

    def _runs_on(self, node: Function, index: int) -> bool:
        """Whether eager's node for output ``index`` of ``node`` would run on to a target. A replayed mg.compile
        call answers per output: through the inputs that output was computed from only."""
        split = self.per_output.get(node)
        return True if split is None else split[index]

    def _capture(self, node: Function, stop: bool) -> None:
        """Hook each target output of ``node`` to store its gradient: after the user's hooks at a node that
        does not run on (what PyTorch returns there), before them at one that does (PyTorch's too)."""
        captured = self.captured
        assert captured is not None
        for index in self.outputs[node]:
            stop_here = stop or not self._runs_on(node, index)
            def capture(g: Tensor, key: tuple = (node, index)) -> None:
                if getattr(CAPTURING, "walk", None) is captured:   # this grad's walk, not another thread's
                    captured[key] = g.data
            capture.walk = captured   # a replayed call's taps skip another walk's (capture.Replay._taps)
            with HOOKS_LOCK:
                if node.hooks is None:
                    node.hooks = {}
                hooks = node.hooks.setdefault(index, [])   # at a stop: after the tensor hooks, before prehooks
                hooks.insert(next((i for i, h in enumerate(hooks) if getattr(h, "prehook", False)), len(hooks))
                             if stop_here else 0, capture)
            self.installed.append((node, index, capture))

    def release(self) -> None:
        """Remove the capturing hooks :meth:`prepare` added."""
        with HOOKS_LOCK:   # threads may share these nodes: each removes its own hooks, one at a time
            for node, index, capture in self.installed:
                hooks = node.hooks[index]
                hooks.remove(capture)
                if not hooks:
                    del node.hooks[index]
                if not node.hooks:
                    node.hooks = None
        self.installed = []


Tensor.backward = tensor_backward   # type: ignore[attr-defined]   # x.backward(gradient, retain_graph): root is self
