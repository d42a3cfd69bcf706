"""The autograd engine: op nodes, the backward pass, and recording switches.

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

``backward`` walks the nodes reachable from the root in an order where every
node comes after all its consumers (Kahn's algorithm with an explicit stack:
no recursion, so a 50,000-op chain is fine), calls each node's ``backward``
once with the summed gradient of its outputs and frees its saved arrays unless
``retain_graph`` is set.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Iterable, Sequence

import numpy

from . import backend

Tensor: Any = None  # set by minigrad.tensor (which imports this module first)

_grad_enabled = True
_scope = ""            # current name scope, e.g. "encoder/l0/t3"
_scope_stack: list[str] = []
_anomaly = False

_FREED = object()     # marks a node whose saved arrays were released


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared in a forward output or a gradient under detect_anomaly."""


class Function:
    """One differentiable op: ``forward`` and ``backward`` on raw arrays.

    Subclasses implement ``forward(*arrays) -> array | tuple[array, ...]`` and
    ``backward(*grad_outputs) -> array | None | tuple``, returning one gradient
    per input (``None`` where no gradient flows). Arrays needed by backward go
    in ``self.saved``; ``self.xp`` is the array module of the inputs and
    ``self.needs_grad[i]`` says whether input ``i`` wants a gradient.
    Multi-output ops set ``n_outputs`` and receive ``None`` for outputs that
    got no gradient.
    """

    name = "function"
    n_outputs = 1
    multiple = False   # True for ops returning a tuple of outputs (split, unbind)
    # set when recorded
    saved: Any = ()
    edges: tuple = ()
    needs_grad: tuple = ()
    scope = ""
    tag: str | None = None
    hooks: dict | None = None
    retained: dict | None = None
    grad_norms: list | None = None
    input_grad_norms: tuple | None = None
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
        arrays = []
        edges = []
        needs_grad = []
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
                if not isinstance(x, (int, float)) and not backend.is_array(x):
                    x = _constant_array(self.name, x)
                arrays.append(x)
            edges.append(None)
            needs_grad.append(False)
        if on_host:
            self.xp = numpy
        else:
            self.xp = _common_module(self.name, inputs, arrays)
        try:
            out = self.forward(*arrays)
        except (ValueError, TypeError, IndexError, ZeroDivisionError) as error:
            raise _with_op_context(self.name, inputs, error) from error
        if record and _grad_enabled:
            self.edges = tuple(edges)
            self.needs_grad = tuple(needs_grad)
            self.scope = _scope
            node = self
        else:
            record = False
            node = None
        if not self.multiple:
            if type(out) is not numpy.ndarray and on_host:
                out = numpy.asarray(out)  # NumPy returns scalars for 0-d results
            if _anomaly:
                _check_forward(self, out, arrays)
            if record:
                meta = _meta_cache.get((out.shape, out.dtype))
                self.out_meta = meta if meta is not None else _shared_meta(out)
            return Tensor._make(out, record, node, 0)
        if _anomaly:
            _check_forward(self, out, arrays)
        # list comprehensions: faster than generators for these few outputs
        if record:
            self.out_meta = tuple([(y.shape, y.dtype) for y in out])
        return tuple([Tensor._make(y, record, node, i) for i, y in enumerate(out)])

    # --- the recorded node ---

    def release(self) -> None:
        """Drop the arrays kept for backward (called after backward)."""
        self.saved = _FREED

    def __repr__(self) -> str:
        scope = f" in {self.scope!r}" if self.scope else ""
        return f"<{self.name} node{scope}>"


_meta_cache: dict = {}


def _shared_meta(out: Any) -> tuple:
    """``((shape, dtype),)`` for a single output, one shared tuple per distinct shape and dtype.

    A long unroll has thousands of nodes with the same few output shapes;
    sharing their metadata keeps three objects per node away from Python's
    cycle collector, which otherwise runs noticeably more often.
    """
    key = (out.shape, out.dtype)
    meta = _meta_cache.get(key)
    if meta is None:
        if len(_meta_cache) > 10_000:
            _meta_cache.clear()
        meta = _meta_cache[key] = (key,)
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


def _constant_array(name: str, value: Any) -> Any:
    """A non-Tensor input that is not a number or an array: a numeric array, or a TypeError naming the op."""
    try:
        array = numpy.asarray(value)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype.kind not in "biufc":
        raise TypeError(f"{name}: an input must be a Tensor, an array or a number, got {type(value).__name__}"
                        + (f" ({value!r:.60})" if isinstance(value, (str, list, tuple)) else ""))
    return array


def _shape_of(x: Any) -> Any:
    shape = getattr(x, "shape", None)
    return shape if shape is not None else type(x).__name__


class AxisError(ValueError, IndexError):
    """An axis argument out of range (both a ValueError and an IndexError, as NumPy's)."""


def _with_op_context(name: str, inputs: Sequence[Any], error: Exception) -> Exception:
    """Re-raise a NumPy error with the op name and the input shapes in front."""
    message = str(error)
    if message.startswith(f"{name}:"):
        return error
    shapes = " and ".join(str(_shape_of(x)) for x in inputs)
    text = f"{name}: {message} (input shapes {shapes})"
    if isinstance(error, ValueError) and isinstance(error, IndexError):
        return AxisError(text)
    for kind in (IndexError, ValueError, TypeError):
        if isinstance(error, kind):
            return kind(text)
    return ValueError(text)   # ZeroDivisionError from two Python numbers


# --- recording switches -----------------------------------------------------

class no_grad:
    """Context manager (and decorator) under which no op is recorded."""

    def __enter__(self) -> None:
        global _grad_enabled
        self.previous = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self.previous

    def __call__(self, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper


class enable_grad(no_grad):
    """Context manager that turns recording back on inside ``no_grad``."""

    def __enter__(self) -> None:
        global _grad_enabled
        self.previous = _grad_enabled
        _grad_enabled = True


def set_grad_enabled(mode: bool) -> None:
    global _grad_enabled
    _grad_enabled = bool(mode)


def is_grad_enabled() -> bool:
    return _grad_enabled


class name_scope:
    """``with name_scope("encoder"):`` labels every op recorded inside.

    Scopes nest with ``/``: ``encoder/l0/t3``. The visualiser groups by them.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name_scope: a scope name is a non-empty string without '/', got {name!r}")
        self.name = name

    def __enter__(self) -> str:
        global _scope
        _scope_stack.append(_scope)
        _scope = f"{_scope}/{self.name}" if _scope else self.name
        return _scope

    def __exit__(self, *exc: object) -> None:
        global _scope
        _scope = _scope_stack.pop()


def current_scope() -> str:
    return _scope


class detect_anomaly:
    """Check every forward output and backward gradient for NaN/Inf.

    Raises :class:`AnomalyError` at the first one, naming the op, its name
    scope (``lstm/l0/t37``) and statistics of its inputs. Off by default; when
    off the engine pays one flag test per op.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        global _anomaly
        self.previous = _anomaly
        _anomaly = self.enabled

    def __exit__(self, *exc: object) -> None:
        global _anomaly
        _anomaly = self.previous


def is_anomaly_enabled() -> bool:
    return _anomaly


def _stats(arrays: Sequence[Any]) -> str:
    parts = []
    for a in arrays:
        if not backend.is_array(a):
            parts.append(repr(a))
            continue
        if a.size == 0 or a.dtype.kind not in "fc":
            parts.append(f"{a.dtype}{tuple(a.shape)}")
            continue
        finite = a[backend.array_module(a).isfinite(a)]
        span = f"min={float(finite.min()):.4g} max={float(finite.max()):.4g}" if finite.size else "no finite values"
        bad = a.size - finite.size
        parts.append(f"{a.dtype}{tuple(a.shape)} {span} non-finite={bad}")
    return "; ".join(parts)


def _all_finite(a: Any) -> bool:
    if not backend.is_array(a) or a.dtype.kind not in "fc":
        return True
    return bool(backend.array_module(a).isfinite(a).all())


def _where(node: Function) -> str:
    return f"'{node.name}'" + (f" in scope '{node.scope}'" if node.scope else " (no name scope)")


def _check_forward(node: Function, out: Any, arrays: Sequence[Any]) -> None:
    outs = out if node.multiple else (out,)
    for y in outs:
        if not _all_finite(y):
            node.scope = _scope  # also name the scope of an op that was not recorded (no_grad)
            source = "" if all(_all_finite(a) for a in arrays) else " (an input already held NaN/Inf)"
            raise AnomalyError(
                f"detect_anomaly: forward of {_where(node)} produced NaN/Inf{source}; "
                f"inputs: {_stats(arrays)}"
            )


def _check_backward(node: Function, grads_in: Sequence[Any], grads_out: Sequence[Any]) -> None:
    for i, g in enumerate(grads_in):
        if g is not None and not _all_finite(g):
            incoming = [o for o in grads_out if o is not None]
            # each gradient was checked where it was made, so a bad incoming one is the sum over consumers
            source = "" if all(_all_finite(o) for o in incoming) else \
                " (its incoming gradient, the sum over its output's consumers, already held NaN/Inf)"
            raise AnomalyError(
                f"detect_anomaly: backward of {_where(node)} produced a NaN/Inf gradient for "
                f"input {i}{source}; incoming gradients: {_stats(incoming)}"
            )


def _check_leaves(nodes: Iterable[Function]) -> None:
    """After a backward under detect_anomaly: a leaf's ``.grad`` sums all its uses (and earlier
    backward calls), which can overflow although every op's own gradient was finite."""
    seen = set()
    for node in nodes:
        for edge in node.edges:
            if edge is None or type(edge) is tuple or id(edge) in seen:
                continue
            seen.add(id(edge))
            if edge.grad is not None and not _all_finite(edge.grad.data):
                name = f"'{edge.name}'" if edge.name else "(unnamed)"
                raise AnomalyError(
                    f"detect_anomaly: the gradient accumulated into leaf {name} of shape {edge.shape} holds "
                    f"NaN/Inf although each op's gradient was finite: the sum over its uses (e.g. a weight "
                    f"shared by many time steps) or over backward calls overflowed; grad: {_stats([edge.grad.data])}"
                )


# --- marks used by the visualiser -------------------------------------------

def tag(tensor: Any, label: str) -> Any:
    """Label the op that produced ``tensor`` (e.g. ``"h"`` for a hidden state)."""
    node = tensor._node
    if node is not None:
        node.tag = label
    return tensor


# --- the backward pass ------------------------------------------------------

class ProductSum:
    """A gradient Σᵢ aᵢᵀ gᵢ kept as its factors until its value is needed.

    ``matmul`` returns one for its right operand (typically a weight). A weight
    used at every step of an unrolled RNN then gets its gradient from one GEMM
    over all T·B rows, ``concat(a)ᵀ @ concat(g)``, when the backward pass
    reaches it, instead of T small GEMMs and T sums of full weight-sized arrays.
    """

    __slots__ = ("lefts", "rights")

    def __init__(self, left: Any, right: Any) -> None:
        self.lefts, self.rights = [left], [right]

    def value(self) -> Any:
        if len(self.lefts) == 1:
            return self.lefts[0].T @ self.rights[0]
        xp = backend.array_module(self.lefts[0])
        return xp.concatenate(self.lefts).T @ xp.concatenate(self.rights)


def _add_gradients(total: Any, g: Any) -> Any:
    """total + g where either may be a ProductSum (two of them merge without any arithmetic)."""
    if type(total) is ProductSum and type(g) is ProductSum:
        total.lefts += g.lefts
        total.rights += g.rights
        return total
    return (total.value() if type(total) is ProductSum else total) + (g.value() if type(g) is ProductSum else g)


def backward(root: Any, grad: Any = None, retain_graph: bool = False,
             retain_grads: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad``.

    ``grad`` is the gradient of some scalar loss w.r.t. ``root`` (defaults to
    1 for a one-element root). ``retain_graph`` keeps the saved arrays so a
    second backward can run; ``retain_grads`` also stores on every node the
    norm of the gradient of each output (``grad_norms``) and of each gradient
    it sent to its inputs (``input_grad_norms``) for the visualiser.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn "
            "(was it created under no_grad, or from inputs without requires_grad=True?)"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for a one-element tensor; "
                f"this one has shape {tuple(root.shape)}: pass grad= of that shape"
            )
        grad = backend.array_module(root.data).ones_like(root.data)
    else:
        grad = grad.data if isinstance(grad, Tensor) else grad
        dtype = root.data.dtype
        try:
            grad = backend.make_array(grad, dtype, root.device) if not backend.is_array(grad) \
                else grad.astype(dtype, copy=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"backward: grad must be a Tensor or an array of shape {tuple(root.shape)}, "
                            f"got {type(grad).__name__} ({error})") from error
        if grad.shape != root.data.shape:
            raise ValueError(
                f"backward: grad has shape {tuple(grad.shape)} but the tensor has shape {tuple(root.shape)}"
            )
    root_node = root._node
    if root_node is None:
        _accumulate_leaf(root, grad)
        return

    # Pass 1: how many consumers each node has inside this graph.
    consumers = {root_node: 0}
    stack = [root_node]
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if type(edge) is tuple:
                parent = edge[0]
                if parent in consumers:
                    consumers[parent] += 1
                else:
                    consumers[parent] = 1
                    stack.append(parent)

    # Pass 2: a node is ready once every consumer has sent its gradient.
    pending: dict = {root_node: [None] * root_node.n_outputs}
    owned: set = set()   # (node, output index) whose summed gradient array belongs to this loop
    deferred: set = set()   # nodes with a ProductSum among their pending gradients
    deferred_leaves: dict = {}   # leaf → ProductSum, added to .grad after the loop
    pending[root_node][root._index] = grad
    ready = [root_node]
    checking = _anomaly or retain_grads
    while ready:
        node = ready.pop()
        grads_out = pending.pop(node)
        if node in deferred:
            grads_out = [g.value() if type(g) is ProductSum else g for g in grads_out]
        if node.saved is _FREED:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (op '{node.name}'"
                f"{' in ' + repr(node.scope) if node.scope else ''}); its saved arrays were freed "
                "by the first backward. Pass retain_graph=True to the first backward() to keep them."
            )
        if node.hooks or node.retained:
            _run_node_hooks(node, grads_out)
        if retain_grads:
            node.grad_norms = [_norm(g) for g in grads_out]
        if node.multiple:
            grads_in = node.backward(*grads_out) if any(g is not None for g in grads_out) else None
        else:
            grads_in = node.backward(grads_out[0]) if grads_out[0] is not None else None
        if grads_in is None:
            grads_in = (None,) * len(node.edges)
        else:
            if type(grads_in) is not tuple:
                grads_in = (grads_in,)
            if checking:
                grads_in = tuple(g.value() if type(g) is ProductSum else g for g in grads_in)
                if _anomaly:
                    _check_backward(node, grads_in, grads_out)
        if retain_grads:
            node.input_grad_norms = tuple(_norm(g) for g in grads_in)
        if not retain_graph:
            node.saved = _FREED   # release(), inline
        for edge, g in zip(node.edges, grads_in):
            if edge is None:
                continue
            if type(edge) is tuple:
                parent, index = edge
                slot = pending.get(parent)
                if slot is None:
                    slot = pending[parent] = [None] * parent.n_outputs
                if g is not None:
                    total = slot[index]
                    if total is None:
                        slot[index] = g
                        if type(g) is ProductSum:
                            deferred.add(parent)
                    elif type(g) is ProductSum or type(total) is ProductSum:
                        slot[index] = _add_gradients(total, g)
                    elif (parent, index) in owned and total.dtype == g.dtype:
                        total += g   # an array this loop made: accumulate in place
                    else:
                        # the first gradient may be shared (ops pass gy through), so sum into a new array
                        total = slot[index] = total + g
                        if getattr(total, "ndim", 0):
                            owned.add((parent, index))
                count = consumers[parent] - 1
                consumers[parent] = count
                if count == 0:
                    ready.append(parent)
            elif g is not None:
                if type(g) is ProductSum:
                    if edge._hooks:
                        _accumulate_leaf(edge, g.value())
                    else:
                        earlier = deferred_leaves.get(edge)
                        deferred_leaves[edge] = g if earlier is None else _add_gradients(earlier, g)
                elif edge.grad is None or edge._hooks:
                    _accumulate_leaf(edge, g)
                else:
                    edge.grad.data += g   # the common case, inline
    for leaf, g in deferred_leaves.items():
        _accumulate_leaf(leaf, g.value())
    if _anomaly:
        _check_leaves(consumers)


def _norm(g: Any) -> float | None:
    if g is None:
        return None
    return float(math.sqrt(float((g.astype("float64") ** 2).sum())))


def _accumulate_leaf(leaf: Any, g: Any) -> None:
    if leaf._hooks:
        g = _apply_hooks(leaf._hooks, g)
    _add_to_grad(leaf, g)


def _apply_hooks(hooks: list, g: Any) -> Any:
    """Call each hook with the gradient (as a Tensor); a hook may return a replacement."""
    for hook in hooks:
        result = hook(Tensor._make(g, False, None, 0))
        if result is not None:
            g = result.data if isinstance(result, Tensor) else result
    return g


def _add_to_grad(tensor: Any, g: Any) -> None:
    """``tensor.grad += g``; the first time, ``.grad`` becomes a copy of ``g`` in the tensor's dtype.

    A copy, because the same array may reach several tensors (e.g. both inputs
    of an add); NumPy ops give scalars, not arrays, for 0-d results.
    """
    if tensor.grad is None:
        g = g.astype(tensor.data.dtype, copy=True)
        tensor.grad = Tensor._make(g if backend.is_array(g) else numpy.asarray(g), False, None, 0)
    else:
        tensor.grad.data += g


def _run_node_hooks(node: Function, grads_out: list) -> None:
    if node.hooks:
        for index, hooks in node.hooks.items():
            if grads_out[index] is not None:
                grads_out[index] = _apply_hooks(hooks, grads_out[index])
    if node.retained:
        for index, ref in node.retained.items():
            tensor = ref()
            g = grads_out[index]
            if tensor is not None and g is not None:
                _add_to_grad(tensor, g)   # accumulates over backward calls, as PyTorch's retain_grad


def register_hook(tensor: Any, hook: Callable) -> Callable[[], None]:
    """Call ``hook(grad)`` when the gradient of ``tensor`` is computed.

    The hook may return a replacement gradient. Returns a function that
    removes the hook.
    """
    node = tensor._node
    if node is None:
        hooks = tensor._hooks
        if hooks is None:
            hooks = tensor._hooks = []
    else:
        if node.hooks is None:
            node.hooks = {}
        hooks = node.hooks.setdefault(tensor._index, [])
    hooks.append(hook)

    def remove() -> None:
        if hook in hooks:
            hooks.remove(hook)

    return remove


def retain_grad(tensor: Any) -> None:
    """Make a non-leaf ``tensor`` keep its ``.grad`` after backward."""
    node = tensor._node
    if node is None:
        return
    if node.retained is None:
        node.retained = {}
    node.retained[tensor._index] = weakref.ref(tensor)
