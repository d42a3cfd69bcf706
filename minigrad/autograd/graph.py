"""PyTorch's ``torch.autograd.graph``: saved-tensor hooks, multi-grad hooks, gradient edges, ``Node``.

- :class:`saved_tensors_hooks` ``(pack_hook, unpack_hook)``: while it is on (in this thread; nested, the
  innermost pair applies), every op recorded for backward hands each array it saves for its backward to
  ``pack_hook`` (as a Tensor: the input Tensor itself where the op saves an input, else a Tensor without a
  graph) and keeps what the hook returns instead; its backward calls ``unpack_hook`` on that and must get
  back a Tensor of the same shape, dtype and device (else a RuntimeError naming the op). minigrad's ops
  save arrays, not always the tensors PyTorch's ops save (``exp`` keeps its output as both do, but a fused
  or compiled op keeps its own set), so *how many* times the hooks run may differ from PyTorch; the
  gradients do not. A custom ``autograd.Function`` packs each tensor given to ``ctx.save_for_backward`` once
  and unpacks at each read of ``ctx.saved_tensors``, as PyTorch's. As in PyTorch, the version check of
  in-place ops is skipped for saved values that went through hooks, ops run under ``no_grad`` (nothing
  recorded) call no hook, and a backward with
  ``retain_graph=True`` unpacks again on each backward. A call of a function compiled with ``mg.compile``
  is one node: its hooks see every array its captured ops keep (more than eager ops would).
- :class:`save_on_cpu`: those hooks with the saved arrays of CUDA tensors kept on the host until backward.
- :func:`disable_saved_tensors_hooks`: entering hooks inside it raises RuntimeError with its message.
- :func:`allow_mutation_on_saved_tensors`: inside it, backward reads saved tensors as they were saved, even if
  an in-place op changed them since (those hooks, keeping a copy).
- :func:`register_multi_grad_hook`: ``fn`` once per backward, after all (``mode="all"``: with the list of
  gradients, None for the tensors this backward does not reach) or the first (``"any"``: with that
  gradient) of the tensors got its gradient.
- :func:`get_gradient_edge` / :class:`GradientEdge` (``autograd.grad(y, inputs=edge)``), :class:`Node`
  (``isinstance(t.grad_fn, Node)``), :func:`increment_version`.

The engine pays one check per recorded op for the saved-tensor hooks (``engine._PACK`` is None until hooks
are entered in some thread) and one per backward for the multi-grad hooks (``engine.WALK_BEGINS``).
"""

from __future__ import annotations

import abc
import contextlib
import threading
import weakref
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from .. import backend
from ..hooks import RemovableHandle
from ..recording import _state
from ..tensor import Tensor
from ..versions import INPLACE
from . import engine
from .engine import AccumulateGrad, Function
from .names import named

__all__ = ["GradientEdge", "Node", "allow_mutation_on_saved_tensors", "disable_saved_tensors_hooks",
           "get_gradient_edge", "increment_version", "register_multi_grad_hook", "save_on_cpu", "saved_tensors_hooks"]


# --- Node: what grad_fn is -------------------------------------------------------------------------------------

class Node(abc.ABC):
    """What ``tensor.grad_fn`` is, as PyTorch's ``torch.autograd.graph.Node``: every op node (a
    :class:`~minigrad.autograd.engine.Function`) and a leaf's ``AccumulateGrad`` are instances.

    They have ``name()``, ``next_functions``, ``metadata``, ``register_hook`` and ``register_prehook``.
    """

    @abc.abstractmethod
    def name(self) -> str:
        """The node's PyTorch name, e.g. ``"MulBackward0"``."""
        raise NotImplementedError


Node.register(Function)
Node.register(AccumulateGrad)


# --- saved-tensor hooks -----------------------------------------------------------------------------------------

class _ThreadHooks(threading.local):
    """This thread's stack of ``(pack_hook, unpack_hook)`` pairs and ``disable_saved_tensors_hooks``'s message."""

    def __init__(self) -> None:
        self.stack: list = []
        self.disabled: str | None = None
        self.packing = False   # a pack hook is running: the ops it runs save their arrays as they are


_HOOKS = _ThreadHooks()
_ACTIVE = [0]   # pairs entered and not left, over all threads: the engine's check is on while > 0
_ACTIVE_LOCK = threading.Lock()


def _activate(delta: int) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE[0] += delta
        engine._PACK = _pack if _ACTIVE[0] > 0 else None


class _Slot:
    """One saved array after ``pack_hook``: what it returned, and the array's shape, dtype and device."""

    __slots__ = ("packed", "shape", "dtype", "device")

    def __init__(self, packed: Any, shape: tuple, dtype: Any, device: Any) -> None:
        self.packed, self.shape, self.dtype, self.device = packed, shape, dtype, device


class _Packed:
    """A node's ``saved`` with each array replaced by a :class:`_Slot`, and the unpack hook to undo it."""

    __slots__ = ("saved", "unpack_hook")

    def __init__(self, saved: Any, unpack_hook: Callable) -> None:
        self.saved, self.unpack_hook = saved, unpack_hook


def _map_arrays(value: Any, fn: Callable, kind: Callable[[Any], bool]) -> Any:
    """``value`` (arrays, nested in tuples, lists and dicts) with ``fn`` applied to each item ``kind`` accepts."""
    if kind(value):
        return fn(value)
    t = type(value)
    if t is tuple or t is list:
        return t([_map_arrays(v, fn, kind) for v in value])
    if t is dict:
        return {k: _map_arrays(v, fn, kind) for k, v in value.items()}
    return value


def _outside_capture(hook: Callable, value: Any) -> Any:
    """``hook(value)``; while ``mg.compile`` captures a call, the ops the hook runs are not part of the capture
    (a replayed call is one node, whose saved arrays the hooks see then)."""
    state = _state.get()
    if state.checks is False or state.checks is True:
        return hook(value)
    token = _state.set(state.but("checks", False))
    try:
        return hook(value)
    finally:
        _state.reset(token)


def _pack(node: Function, inputs: tuple) -> None:
    """Called by the engine for each recorded op while hooks are on in some thread: pack ``node.saved``."""
    local = _HOOKS
    if not local.stack or local.packing:
        return
    pack_hook, unpack_hook = local.stack[-1]
    saved = node.saved
    if saved is None or (type(saved) is tuple and not saved):
        return
    by_array = {id(x.data): x for x in inputs if isinstance(x, Tensor)}

    def pack(array: Any) -> _Slot:
        tensor = by_array.get(id(array))
        if tensor is None or tensor.data is not array:
            tensor = Tensor._make(array, False, None, 0)
        local.packing = True
        token = _state.set(_state.get().but("grad", False))   # as PyTorch's, the pack hook runs without recording
        try:
            packed = _outside_capture(pack_hook, tensor)
        finally:
            _state.reset(token)
            local.packing = False
        return _Slot(packed, tuple(array.shape), array.dtype, tensor.device)

    node.saved = _Packed(_map_arrays(saved, pack, backend.is_array), unpack_hook)
    node.epoch = -1   # the walks then call engine._check_saved on it, which unpacks
    # its backward runs the unpack hook, user code that may read a leaf's .grad: the walk accumulates each leaf
    # once complete, as PyTorch's (see engine._NodeHooks)
    engine._NodeHooks.registered = node.user_code = True


def _unpack(node: Function) -> None:
    """Called by the engine before a packed node's backward: ``node.saved`` unpacked (the packed values are
    kept for a later backward unless this one frees the node's saved values)."""
    packed = node.saved if type(node.saved) is _Packed else node.__dict__.get("_packed")
    if packed is None:
        return
    node.saved = unpacked(node, packed)
    if engine.frees_saved():
        node.__dict__.pop("_packed", None)
    else:
        node.__dict__["_packed"] = packed


def unpacked(node: Function, packed: Any) -> Any:
    """The arrays ``packed`` (a node's ``saved`` after pack hooks) holds, each through the unpack hook (once per
    call); ``packed`` itself when it is not packed. A custom Function's ctx.saved_tensors calls it on each read,
    as PyTorch unpacks on each access."""
    if type(packed) is not _Packed:
        return packed
    unpack_hook = packed.unpack_hook

    def unpack(slot: _Slot) -> Any:
        tensor = _outside_capture(unpack_hook, slot.packed)
        if not isinstance(tensor, Tensor):
            raise TypeError(f"saved_tensors_hooks: the unpack_hook {getattr(unpack_hook, '__name__', unpack_hook)!r} "
                            f"returned a {type(tensor).__name__} for op '{node.name}'; it must return a Tensor "
                            "(the one given to pack_hook, or its copy)")
        array = tensor.data
        if tuple(array.shape) != slot.shape or array.dtype != slot.dtype or tensor.device != slot.device:
            raise RuntimeError(
                f"saved_tensors_hooks: the unpack_hook returned a {array.dtype}{tuple(array.shape)} tensor on "
                f"{tensor.device} for op '{node.name}', which saved a {slot.dtype}{slot.shape} one on {slot.device}; "
                "unpack_hook(pack_hook(t)) must have t's shape, dtype and device")
        return array

    return _map_arrays(packed.saved, unpack, lambda v: type(v) is _Slot)


engine._UNPACK = _unpack


class saved_tensors_hooks:  # noqa: N801 - PyTorch's name
    """Context manager: ``pack_hook(tensor) -> Any`` on each array an op saves for backward, ``unpack_hook(packed)
    -> Tensor`` when its backward needs it, as PyTorch's ``torch.autograd.graph.saved_tensors_hooks``.

    Per thread; nested pairs: the innermost applies. ``unpack_hook(pack_hook(t))`` must be a Tensor of ``t``'s
    shape, dtype and device (a RuntimeError naming the op otherwise; TypeError for a non-Tensor). See the
    module's docstring for how minigrad's saved arrays differ from PyTorch's saved tensors.
    """

    def __init__(self, pack_hook: Callable[[Tensor], Any], unpack_hook: Callable[[Any], Tensor]) -> None:
        if not callable(pack_hook) or not callable(unpack_hook):
            raise TypeError("saved_tensors_hooks: pack_hook and unpack_hook must be callable, got "
                            f"{type(pack_hook).__name__} and {type(unpack_hook).__name__}")
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> None:
        local = _HOOKS
        if local.disabled is not None:
            raise RuntimeError(local.disabled)
        local.stack.append((self.pack_hook, self.unpack_hook))
        _activate(1)

    def __exit__(self, *exc: object) -> None:
        _HOOKS.stack.pop()
        _activate(-1)


class save_on_cpu(saved_tensors_hooks):  # noqa: N801 - PyTorch's name
    """Saved arrays of CUDA tensors kept on the host (a copy) and brought back to their device for backward, as
    PyTorch's ``save_on_cpu``; the arrays of CPU tensors are kept as they are (no copy).

    ``pin_memory``: the host copies in page-locked memory (where the tensor has ``pin_memory()``);
    ``device_type``: PyTorch's argument (the device whose tensors are moved; only ``"cuda"`` exists here).
    """

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        if not isinstance(device_type, str):
            raise TypeError(f"save_on_cpu: device_type must be a string, got {type(device_type).__name__}")

        def pack_to_cpu(tensor: Tensor) -> tuple:
            if tensor.device.type == "cpu":
                return (tensor.device, tensor)
            host = tensor.detach().cpu()
            if pin_memory and hasattr(host, "pin_memory"):
                host = host.pin_memory()
            return (tensor.device, host)

        def unpack_from_cpu(packed: tuple) -> Tensor:
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


# --- allow_mutation_on_saved_tensors -------------------------------------------------------------------------

class _AllowMutationOnSavedContext:
    """What :func:`allow_mutation_on_saved_tensors` yields: whether its block is still open (a backward through
    the graph recorded in it raises once it closed, as PyTorch's)."""

    def __init__(self) -> None:
        self.open = True

    def pack(self, tensor: Tensor) -> Any:
        """The saved array's copy (same layout), taken as it is saved: no later in-place op can reach it."""
        return backend.array_module(tensor.data).array(tensor.data, copy=True, order="K")

    def unpack(self, copy: Any) -> Tensor:
        """The copy :meth:`pack` took, as a Tensor; AssertionError once the block closed, as PyTorch's."""
        if not self.open:
            raise AssertionError("allow_mutation_on_saved_tensors: trying to backward outside of the "
                                 "'allow_mutation_on_saved_tensors' context in which the graph was originally "
                                 "recorded; run the forward and the backward inside the same block")
        return Tensor._make(copy, False, None, 0)

    def result_written(self, array: Any) -> None:
        """An in-place op whose PyTorch twin saves its result (relu_, exp_ …) just wrote it into ``array``:
        PyTorch packs that tensor now, after the write (ours packed a copy before). Nothing to do here; a
        checkpoint's recomputation checks."""


def result_saved_after_write(array: Any) -> None:
    """Tell the innermost :func:`allow_mutation_on_saved_tensors`-style hooks (a checkpoint's recomputation) that
    an in-place op's saved result was just written (ops/inplace.py's ``saved_output_is``)."""
    if _HOOKS.stack and not _HOOKS.packing:
        context = getattr(_HOOKS.stack[-1][0], "__self__", None)
        if isinstance(context, _AllowMutationOnSavedContext):
            context.result_written(array)


_MUTATION_CONTEXT_OPEN = [False]   # one block at a time in the process, as PyTorch's


def saves_copies() -> bool:
    """Whether the ops recorded now (in this thread) keep copies of the arrays they save: the innermost hooks are
    :func:`allow_mutation_on_saved_tensors`'. An in-place op's result then needs no version check
    (``ops.inplace.keep_result``): a later in-place change cannot reach what its node saved."""
    if not _HOOKS.stack or _HOOKS.packing:
        return False
    pack_hook, _ = _HOOKS.stack[-1]
    return isinstance(getattr(pack_hook, "__self__", None), _AllowMutationOnSavedContext)


@contextlib.contextmanager
def allow_mutation_on_saved_tensors() -> Iterator[_AllowMutationOnSavedContext]:
    """Inside it, a tensor saved for backward may be changed in place: backward reads its value as it was saved
    (PyTorch's ``torch.autograd.graph.allow_mutation_on_saved_tensors``), instead of raising the in-place
    RuntimeError. Run the forward and the backward inside the same block (a backward after it raises
    AssertionError, as PyTorch's); blocks do not nest (RuntimeError).

    Built on :class:`saved_tensors_hooks`: the pack hook keeps a copy of each array saved inside the block (torch
    clones a saved tensor when an in-place op first writes it; minigrad copies as it saves, so any in-place write
    is covered, at the cost of one copy per saved array inside the block; nothing outside it). So backward
    always reads the values as saved, also where torch's clone misses a write (through a view that starts at
    another element than the saved tensor: torch then reads the changed values). As with any hooks,
    saved_tensors_hooks entered inside the block apply instead for the ops they see."""
    if _MUTATION_CONTEXT_OPEN[0]:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    ctx = _AllowMutationOnSavedContext()
    with saved_tensors_hooks(ctx.pack, ctx.unpack):
        _MUTATION_CONTEXT_OPEN[0] = True
        try:
            yield ctx
        finally:
            ctx.open = False
            _MUTATION_CONTEXT_OPEN[0] = False


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str) -> Iterator[None]:
    """Inside it, entering :class:`saved_tensors_hooks` (or with them on already, entering this) raises
    RuntimeError(error_message), as PyTorch's ``disable_saved_tensors_hooks``. Per thread; nests."""
    if not isinstance(error_message, str):
        raise TypeError(f"disable_saved_tensors_hooks: error_message must be a str, got {type(error_message).__name__}")
    local = _HOOKS
    if local.stack:
        raise RuntimeError(error_message)
    previous = local.disabled
    local.disabled = error_message
    try:
        yield
    finally:
        local.disabled = previous


# --- gradient edges -----------------------------------------------------------------------------------------------

class GradientEdge(NamedTuple):
    """Where the gradient of a tensor is computed: ``(node, output_nr)``, as PyTorch's ``GradientEdge``
    (``node``: the op that made the tensor, or a leaf's ``AccumulateGrad`` with ``output_nr`` 0)."""

    node: Any
    output_nr: int
    ownership_token: Any = None


def get_gradient_edge(tensor: Tensor) -> GradientEdge:
    """The :class:`GradientEdge` of ``tensor``: ``autograd.grad(loss, get_gradient_edge(x))`` is
    ``autograd.grad(loss, x)``, as PyTorch's ``get_gradient_edge``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"get_gradient_edge: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    node = tensor._node
    if node is None:
        return GradientEdge(AccumulateGrad.of(tensor), 0)
    return GradientEdge(named(node), tensor._index)


def edge_tensor(edge: GradientEdge) -> Tensor:
    """A Tensor whose gradient is ``edge``'s (for ``autograd.grad(inputs=)``): the leaf itself, or a stand-in
    output of the node (its values are not read; its shape and dtype are the output's)."""
    node, index = edge[0], edge[1]
    if isinstance(node, AccumulateGrad):
        return node.variable
    if not isinstance(node, Function) or not 0 <= index < len(node.out_meta):
        raise TypeError(f"GradientEdge: expected the edge of a tensor (get_gradient_edge(t)), got {edge!r}")
    shape, dtype = node.out_meta[index]
    xp = node.xp
    return Tensor._make(xp.broadcast_to(xp.zeros((), dtype), shape), True, node, index)


# --- multi-grad hooks ---------------------------------------------------------------------------------------------

# the backward now running in this thread (one object per walk, kept after it: a leaf's hooks run just after it).
# It keeps ids, not the nodes: a kept node would keep the last backward's graph alive until the next backward.
_WALK: ContextVar[Any] = ContextVar("minigrad_multi_grad_walk", default=None)  # noqa: B039


class _Walk:
    """One backward walk: the ids of the nodes it runs, of the leaves they send gradients to, and of its
    ``inputs=`` leaves (None without ``inputs=``), for which tensors it reaches."""

    __slots__ = ("nodes", "leaves", "targets", "__weakref__")

    def __init__(self, consumers: dict, targets: Any) -> None:
        self.nodes = {id(n) for n in consumers}
        self.leaves = {id(e) for n in consumers for e in n.edges if e is not None and type(e) is not tuple}
        self.targets = None if targets is None else {id(t) for t in targets.leaves}

    def reaches_source(self, source: Function | Tensor | None) -> bool:
        """Whether this walk computes the gradient of a tensor made by op node ``source`` (or of ``source``, a
        leaf), as PyTorch's ``_will_engine_execute_node``; None (a source that died) is reached by no walk."""
        if source is None:
            return False
        if isinstance(source, Function):
            return id(source) in self.nodes
        if self.targets is not None and id(source) not in self.targets:
            return False
        return id(source) in self.leaves


def _walk_begins(consumers: dict, targets: Any) -> None:
    _WALK.set(_Walk(consumers, targets))


class _MultiHandle(RemovableHandle):
    """The handle of :func:`register_multi_grad_hook`: ``remove()`` removes the hook from every tensor."""

    def __init__(self, handles: tuple) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class _Gathering:
    """One backward's gradients for a ``mode="all"`` hook, until the last one it brings arrives."""

    __slots__ = ("grads", "arrived", "expected")

    def __init__(self, size: int, expected: int) -> None:
        self.grads: list = [None] * size   # one per registered tensor; None until (unless) it arrives
        self.arrived = 0
        self.expected = expected


class _AllGrads:
    """``mode="all"``: the gradients of one backward, until the last this backward reaches arrives.

    It keeps weak references to where each tensor's gradient comes from (its op node, or the leaf): its hooks
    live on those, so strong ones would make a reference cycle that only the garbage collector frees (PyTorch's
    keeps none either)."""

    def __init__(self, tensors: list, fn: Callable) -> None:
        self.sources = [weakref.ref(t if t._node is None else t._node) for t in tensors]
        self.fn = fn
        # a _Gathering per backward walk: threads' backwards run at once, as PyTorch keys its state by graph task
        self.walks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    def hook(self, index: int) -> Callable:
        def inner_hook(grad: Tensor) -> None:
            walk = _WALK.get()
            with self.lock:
                gathering = None if walk is None else self.walks.get(walk)
                if gathering is None:
                    expected = sum(walk.reaches_source(source()) for source in self.sources) \
                        if walk is not None else 1
                    gathering = _Gathering(len(self.sources), expected)
                    if walk is not None:
                        self.walks[walk] = gathering
                gathering.grads[index] = grad
                gathering.arrived += 1
                done = gathering.arrived == gathering.expected
                if done and walk is not None:
                    del self.walks[walk]
            if done:
                self.fn(gathering.grads)
        inner_hook.__name__ = f"multi_grad_hook_{index}"
        return inner_hook


def register_multi_grad_hook(tensors: Sequence[Tensor], fn: Callable, *, mode: str = "all") -> RemovableHandle:
    """Call ``fn`` once per backward after the gradients of ``tensors`` are computed, as PyTorch's
    ``register_multi_grad_hook``; returns a handle whose ``remove()`` removes it.

    ``mode="all"``: after every tensor this backward reaches got its gradient, ``fn(grads)`` with one entry
    per tensor (a Tensor, or None for a tensor outside this backward's graph or not needed for its
    ``inputs=``). ``mode="any"``: ``fn(grad)`` with the first gradient computed. ``fn`` returns None (it
    does not change gradients). A backward with ``create_graph=True`` counts as one call each.
    """
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    if not callable(fn):
        raise TypeError(f"register_multi_grad_hook: fn must be callable, got {type(fn).__name__}")
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"register_multi_grad_hook: tensors[{i}] is a {type(t).__name__}, not a Tensor")
    if mode == "all":
        for t in tensors:
            if not t.requires_grad:
                raise AssertionError("Expected gradient function to be set")
        registration = _AllGrads(tensors, fn)
        handles = tuple(t.register_hook(registration.hook(i)) for i, t in enumerate(tensors))
    else:
        lock = threading.Lock()
        ran_for: weakref.WeakSet = weakref.WeakSet()   # the walks fn ran for (threads' backwards run at once)

        def wrapped_fn(grad: Tensor) -> None:
            walk = _WALK.get()
            with lock:
                ran = walk is not None and walk in ran_for
                if walk is not None:
                    ran_for.add(walk)
            if not ran:
                fn(grad)
        wrapped_fn.__name__ = getattr(fn, "__name__", "multi_grad_hook")
        handles = tuple(t.register_hook(wrapped_fn) for t in tensors if t.requires_grad)
    if _walk_begins not in engine.WALK_BEGINS:
        engine.WALK_BEGINS.append(_walk_begins)
    return _MultiHandle(handles)


# --- versions -----------------------------------------------------------------------------------------------------

def increment_version(tensor: Tensor | Iterable[Tensor]) -> None:
    """Count an in-place change of ``tensor`` (or of each tensor of an iterable) made behind autograd's back
    (e.g. by writing its ``.data``), as PyTorch's ``increment_version``: a backward then refuses the arrays
    ops saved from it before."""
    tensors = (tensor,) if isinstance(tensor, Tensor) else tuple(tensor)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"increment_version: expected Tensors, got {type(t).__name__}")
        INPLACE.bump(t.data)
