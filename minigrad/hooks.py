"""Gradient hooks and ``retain_grad``: the user's code that backward calls, checked.

A hook may look at a gradient and return None, or a replacement of the same
shape, dtype and device; anything else raises :class:`HookError` naming the
hook's tensor before any ``.grad`` changes. A post-accumulate-grad hook
(``register_post_accumulate_grad_hook``) runs on a leaf after its ``.grad``
was accumulated, and returns None.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator

import numpy

from . import backend
from .tensor import Tensor
from .versions import INPLACE


class HookError(RuntimeError, TypeError, ValueError):
    """A gradient hook returned something that is not a gradient of the right shape, dtype and device."""


# Threads share graphs: HOOKS_LOCK guards adding and removing the entries of a node's ``hooks`` table (dict and
# lists) and of a leaf's hook lists, and a walk reads a snapshot of them, so another thread's hook never breaks or
# doubles a walk's hooks.
# CAPTURING.walk: the ``captured`` dict of the ``autograd.grad`` walk this thread runs now (its capture hooks
# store only then, never another thread's or an inner walk's gradients). CAPTURING.batched: this thread runs the
# per-row walks of ``autograd.grad(..., is_grads_batched=True)`` (a ``retain_grad``
# tensor they reach keeps its ``.grad``). CAPTURING.forward: this thread runs a walk of forward AD's double-vjp
# trick (the tangents of jvp, jacfwd, linearize): the user's hooks and retain_grad are for reverse-mode gradients
# and do not run there, as PyTorch's forward AD never calls them (grad's own capture hooks do run).
# CAPTURING.level: the torch.func transform level (see :func:`transform_level`) whose function or walk runs now.
HOOKS_LOCK = threading.Lock()
CAPTURING = threading.local()


@contextlib.contextmanager
def forward_walk() -> Iterator[None]:
    """Around a walk of forward AD's double-vjp trick: the user's hooks on op outputs are not run inside."""
    outer, CAPTURING.forward = getattr(CAPTURING, "forward", False), True
    try:
        yield
    finally:
        CAPTURING.forward = outer


def current_level() -> object | None:
    """The transform level whose function or walk this thread runs now (None outside every transform)."""
    return getattr(CAPTURING, "level", None)


@contextlib.contextmanager
def transform_level(level: object) -> Iterator[None]:
    """Around a ``mg.func`` transform's call of the user's function and around its own walks. ``register_hook``
    on an op's output inside asks ``level.hook_owner(tensor)``: a level (the tensor is one of that level's, computed
    from its inputs: the hook runs only in walks under that level, as torch.func's levels, so a later backward
    outside or an enclosing transform's walk passes it), False (an ordinary hook: a tensor from outside every
    transform), or None (torch's tensor does not require grad at the level it belongs to, where torch's
    ``register_hook`` raises and ``if t.requires_grad:`` skips it: the hook is not registered)."""
    outer, CAPTURING.level = current_level(), level
    try:
        yield
    finally:
        CAPTURING.level = outer


class _LevelHook:
    """A tensor hook registered inside a transform level: the user's ``hook`` runs in that level's walks only."""

    def __init__(self, hook: Callable, level: object) -> None:
        self.hook, self.level = hook, weakref.ref(level)   # weak: the level keeps graph nodes (no cycle)
        self.__name__ = getattr(hook, "__name__", repr(hook))

    def __call__(self, grad: Tensor) -> Any:
        level = current_level()
        return self.hook(grad) if level is not None and self.level() is level else None


def _leaf_label(leaf: Tensor) -> str:
    name = f"'{leaf.name}' " if leaf.name else ""
    return f"tensor {name}of shape {tuple(leaf.shape)}"


def _apply_hooks(hooks: list, g: Any, label: str) -> Any:
    """Call each hook with the gradient (as a Tensor); a hook may return a replacement of the same kind."""
    for hook in tuple(hooks):   # a snapshot: another thread may add or remove one meanwhile
        result = hook(Tensor._make(g, False, None, 0))
        if result is None:
            continue
        new = result.data if isinstance(result, Tensor) else result
        if not backend.is_array(new):
            raise HookError(f"register_hook: the hook {getattr(hook, '__name__', hook)!r} on {label} returned "
                            f"a {type(result).__name__}; a hook returns None or a Tensor/array gradient")
        if new.shape != g.shape or new.dtype != g.dtype or backend.device_of(new) != backend.device_of(g):
            raise HookError(
                f"register_hook: the hook {getattr(hook, '__name__', hook)!r} on {label} returned a gradient "
                f"of shape {tuple(new.shape)}, dtype {new.dtype} on {backend.device_of(new)}; it must keep the "
                f"gradient's shape {tuple(g.shape)}, dtype {g.dtype} and device {backend.device_of(g)}"
            )
        g = new
    return g


def dense_layout(array: Any) -> bool:
    """Whether ``array``'s elements lie without gaps or overlaps, in any order (PyTorch's
    ``is_non_overlapping_and_dense``): not an expanded or a stepped slice's."""
    step = array.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(array.strides, array.shape) if n != 1):
        if stride != step:
            return False
        step *= n
    return True


def _add_to_grad(tensor: Tensor, g: Any, fresh: bool = False) -> None:
    """``tensor.grad += g``; the first time, ``.grad`` becomes a copy of ``g`` in the tensor's dtype and layout.

    A copy, because the same array may reach several tensors (e.g. both inputs
    of an add); NumPy ops give scalars, not arrays, for 0-d results. A
    ``fresh`` array (one the backward walk allocated for this tensor alone: a
    sum, a weight's product-sum value) is taken as it is, when its dtype fits.
    Adding into an existing ``.grad`` is an in-place change (its version moves
    on, as PyTorch's): a graph that saved that ``.grad`` then refuses to backward.
    """
    if tensor._grad is None:
        data = tensor.data
        if backend.is_array(g) and g.strides != data.strides and g.shape == data.shape and g.size > 1:
            # PyTorch's layout contract: a first .grad takes its tensor's strides (a gradient of `a.t() @ b` is
            # transposed; `a.grad.view(-1)` must work as in PyTorch) where its elements are dense, else C order
            xp = backend.array_module(g)
            out = xp.empty_like(data) if dense_layout(data) else xp.empty(data.shape, data.dtype)
            out[...] = g
            g = out
        elif not (fresh and backend.is_array(g) and g.dtype == data.dtype):
            g = g.astype(data.dtype, copy=True)
        tensor._grad = Tensor._make(g if backend.is_array(g) else numpy.asarray(g), False, None, 0)
    else:
        tensor._grad.data += g
        INPLACE.bump(tensor._grad.data)


# the key under which a node's ``hooks`` keep ``grad_fn.register_hook``'s hooks (the others: output indices)
AFTER_BACKWARD = "after backward"


def _is_prehook(hook: Callable) -> bool:
    """Whether ``hook`` is a ``grad_fn.register_prehook`` hook (kept among the output's tensor hooks, after them)."""
    return getattr(hook, "prehook", False)


def _run_node_hooks(node: Any, grads_out: list, stop: bool = False) -> list | None:
    """The hooks on ``node``'s output gradients (arrays, replaced in ``grads_out``): see :func:`run_node_hooks`."""
    return run_node_hooks(node, grads_out, stop, _apply_hooks, _add_to_retained, _shaped_label)


def _shaped_label(node: Any, index: int) -> str:
    shape, _ = node.out_meta[index]
    return f"output {index} of op '{node.name}' (shape {tuple(shape)})"


def run_node_hooks(node: Any, grads_out: list, stop: bool, apply: Callable, retain: Callable,
                   label: Callable) -> list | None:
    """The hooks on ``node``'s output gradients (replacing them in ``grads_out``), in PyTorch's order: the
    output tensors' hooks, then ``retain_grad``'s ``.grad``, then ``grad_fn.register_prehook``'s hooks (not
    at a node an ``autograd.grad`` stops at, whose backward does not run: ``stop``). Returns the node's
    ``grad_fn.register_hook`` hooks, for after its backward (or None). The engine's walk and the
    ``create_graph`` walk share it: ``apply(hooks, g, name)`` runs hooks on one gradient, ``retain(tensor, g)``
    gives a ``retain_grad`` tensor its gradient, and ``label(node, index)`` names an output in errors."""
    after = None
    prehooks = []
    forward = getattr(CAPTURING, "forward", False)   # forward AD's walk: only grad's capture hooks run
    for index, hooks in tuple((node.hooks or {}).items()):   # a snapshot (see HOOKS_LOCK)
        hooks = tuple(hooks)   # of each list too: another thread's remove() would shift it, skipping a later hook
        if forward:
            hooks = [hook for hook in hooks if hasattr(hook, "walk")] if index != AFTER_BACKWARD else []
        if index == AFTER_BACKWARD:
            after = hooks or None
        elif grads_out[index] is not None:
            name = label(node, index)
            pre = [hook for hook in hooks if _is_prehook(hook)]
            if pre:
                hooks = [hook for hook in hooks if not _is_prehook(hook)]
                if not stop:
                    prehooks.append((index, pre, name))
            grads_out[index] = apply(hooks, grads_out[index], name)
    for index, ref in tuple((node.retained or {}).items()) if not forward else ():   # a snapshot (HOOKS_LOCK)
        tensor = ref()
        if tensor is not None and grads_out[index] is not None and not getattr(CAPTURING, "batched", False):
            retain(tensor, grads_out[index])   # (a batched walk's rows: PyTorch's .grad gets an unusable batch)
    for index, pre, name in prehooks:
        grads_out[index] = apply(pre, grads_out[index], name)
    return after


def run_after_backward(node: Any, hooks: list, grads_in: tuple, grads_out: list | tuple,
                       slots: tuple | None = None) -> tuple:
    """``grad_fn.register_hook``'s hooks, ``hook(grad_inputs, grad_outputs)``, after ``node``'s backward.

    Both are tuples of Tensors (None where a gradient is missing), one per input and one per output; a hook
    returns None or a tuple of replacements for ``grad_inputs`` (None where the input gets none), each
    of the input's shape and dtype. ``slots``: PyTorch's inputs of the node, where they differ from ours
    (``names.pytorch_slots``: ``x ** 2`` has one, a convolution without bias three), for the hooks'
    ``grad_inputs``. Returns the gradients the node sends on (Tensors or None), one per input of ours. A node's
    ``pytorch_outputs``, where it has one, is how many outputs PyTorch's node has a gradient for (nn's batch norm:
    1 of 3, the batch's statistics being outputs without a derivative; group norm: 3 where ours has 1, the others
    None), the ``grad_outputs`` its hooks get.
    """
    wanted = getattr(node, "pytorch_outputs", None)
    grads_out = tuple(grads_out)[:wanted]
    if wanted is not None and len(grads_out) < wanted:
        grads_out += (None,) * (wanted - len(grads_out))
    ours, edges = grads_in, node.edges
    if slots is not None:
        grads_in = tuple(None if at is None else grads_in[at] for at in slots)
        edges = tuple(None if at is None else edges[at] for at in slots)
    for hook in tuple(hooks):
        result = hook(grads_in, grads_out)
        if result is None:
            continue
        name = getattr(hook, "__name__", hook)
        if not isinstance(result, (tuple, list)) or len(result) != len(grads_in):
            count = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
            raise HookError(f"grad_fn.register_hook: the hook {name!r} on op '{node.name}' returned {count}; it must "
                            f"return None or a tuple of {len(grads_in)} (one gradient or None per input)")
        new = []
        for k, (g, edge) in enumerate(zip(result, edges)):
            if g is not None and not isinstance(g, Tensor):
                if not backend.is_array(g):
                    raise HookError(f"grad_fn.register_hook: the hook {name!r} on op '{node.name}' returned a "
                                    f"{type(g).__name__} for input {k}; a gradient is a Tensor or None")
                g = Tensor._make(g, False, None, 0)
            if g is not None:
                if edge is None:
                    raise HookError(f"grad_fn.register_hook: the hook {name!r} on op '{node.name}' returned a "
                                    f"gradient for input {k}, which takes none (it does not require grad)")
                shape, dtype = edge[0].out_meta[edge[1]] if type(edge) is tuple else (edge.shape, edge.dtype)
                if tuple(g.shape) != tuple(shape) or g.dtype != dtype:
                    raise HookError(f"grad_fn.register_hook: the hook {name!r} on op '{node.name}' returned a "
                                    f"gradient of shape {tuple(g.shape)}, dtype {g.dtype} for input {k}; it must "
                                    f"be the input's shape {tuple(shape)}, dtype {dtype}")
            new.append(g)
        grads_in = tuple(new)
    if slots is None:
        return grads_in
    ours = list(ours)   # the inputs PyTorch's node lacks keep their gradients (None: a mask, a number)
    for at, g in zip(slots, grads_in):
        if at is not None:
            ours[at] = g
    return tuple(ours)


def _add_to_retained(tensor: Tensor, g: Any) -> None:
    """A ``retain_grad`` non-leaf's ``.grad`` accumulates over backward calls out of place, as PyTorch's
    retain_grad hook (``grad = grad + new``): a ``.grad`` held from an earlier backward keeps its value."""
    if tensor._grad is None:
        if backend.is_array(g) and g.size > 1:
            # a contiguous clone, as PyTorch's hook (grad.clone(MemoryFormat::Contiguous)): C order whatever the
            # tensor's layout (a leaf's first .grad takes the leaf's strides instead: _add_to_grad)
            g = backend.array_module(g).array(g, dtype=tensor.data.dtype, order="C", copy=True)
            tensor._grad = Tensor._make(g, False, None, 0)
            return
        _add_to_grad(tensor, g)
        return
    total = tensor._grad.data + g
    if not backend.is_array(total):   # NumPy gives a scalar for 0-d arrays
        total = numpy.asarray(total)
    tensor._grad = Tensor._make(total.astype(tensor.data.dtype, copy=False), False, None, 0)


_HANDLE_IDS = itertools.count()


class RemovableHandle:
    """What a ``register_*hook`` returns, as PyTorch's handle: ``handle.remove()`` (or ``handle()``, or
    leaving a ``with handle:`` block) removes the hook. ``remove``: the function that does it (once)."""

    def __init__(self, remove: Callable[[], None]) -> None:
        self._remove, self._removed = remove, False
        self.id = next(_HANDLE_IDS)   # as PyTorch's handle.id: an int, increasing

    def remove(self) -> None:
        """Remove the hook; removing it again does nothing."""
        if not self._removed:
            self._removed = True
            self._remove()

    __call__ = remove   # the earlier API returned a function that removes the hook

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def refuse_checkpointed(tensor: Tensor, what: str) -> None:
    """Refuse a tensor that a function run under ``utils.checkpoint`` computed (its op is marked ``checkpointed``)
    as an input of a ``create_graph=True`` backward or grad: that graph was replaced by the checkpoint node's,
    recomputed in backward, and the create_graph walk does not reach into it (torch's non-reentrant checkpoint
    keeps it). ``what`` names the call, e.g. ``"grad(create_graph=True): inputs[0]"``."""
    node = tensor._node
    if node is not None and getattr(node, "checkpointed", False):
        raise NotImplementedError(
            f"{what} (shape {tuple(tensor.shape)}) was computed inside a function run under checkpoint(), whose "
            "graph backward recomputes: minigrad's create_graph=True walk does not reach the forward's tensors "
            "there (torch's checkpoint(use_reentrant=False) keeps that graph and does). Without create_graph, "
            "autograd.grad(outputs, tensor), backward(inputs=[tensor]) and .retain_grad() work; or return it from "
            "the function, or compute it outside checkpoint().")


def register_hook(tensor: Tensor, hook: Callable) -> RemovableHandle:
    """Call ``hook(grad)`` when the gradient of ``tensor`` is computed; returns a handle whose ``remove()`` removes it.

    The hook may return a replacement gradient: None, or a Tensor/array of the
    gradient's shape, dtype and device (anything else raises :class:`HookError`).
    """
    if not tensor.requires_grad:
        raise RuntimeError("register_hook: this tensor does not require grad")
    node = tensor._node
    level = current_level()
    if level is not None and node is not None and not _is_prehook(hook) and not hasattr(hook, "walk"):
        owner = level.hook_owner(tensor)
        if owner is None:   # torch's tensor does not require grad at its level: `if t.requires_grad:` skips it
            return RemovableHandle(lambda: None)
        if owner is not False:
            hook = _LevelHook(hook, owner)   # on a tensor of a transform's level: for that level's walks only
    with HOOKS_LOCK:   # another thread may be adding a hook here too (both would make the list: one lost)
        if node is None:
            hooks = tensor._hooks
            if hooks is None:
                hooks = tensor._hooks = []
        else:
            if node.hooks is None:
                node.hooks = {}
            hooks = node.hooks.setdefault(tensor._index, [])
        # a tensor hook goes before the first prehook (a node's, or a leaf's AccumulateGrad's), which run after
        # every tensor hook (PyTorch's order); a prehook last
        if _is_prehook(hook) and node is None:
            hooks.append(hook)
        else:
            hooks.insert(next((i for i, h in enumerate(hooks) if _is_prehook(h)), len(hooks)), hook)

    def remove() -> None:
        with HOOKS_LOCK:
            if hook in hooks:
                hooks.remove(hook)
    return RemovableHandle(remove)


def retain_grad(tensor: Tensor) -> None:
    """Make a non-leaf ``tensor`` keep its ``.grad`` after backward (a leaf keeps it anyway)."""
    if not tensor.requires_grad:
        raise RuntimeError("retain_grad: can't retain_grad on a tensor that has requires_grad=False")
    node = tensor._node
    if node is None:
        return
    level = current_level()
    if level is not None:   # inside a mg.func transform: as torch.func's levels (see register_hook)
        owner = level.hook_owner(tensor)
        if owner is None:   # torch's does not require grad there: `if t.requires_grad:` skips it
            return
        if owner is not False:
            raise RuntimeError("You are attempting to call Tensor.retain_grad() inside of a function being "
                               "transformed by a functorch transform. This is unsupported, please attempt to use the "
                               "functorch transforms (e.g. grad, vjp, jacrev, jacfwd, hessian) or call retain_grad() "
                               "outside of a function being transformed instead.")
    with HOOKS_LOCK:   # as register_hook's: another thread may be retaining another output of this node
        if node.retained is None:
            node.retained = {}
        node.retained[tensor._index] = weakref.ref(tensor)


class _PostHooks:
    """Whether any post-accumulate-grad hook was ever registered: until then backward looks for none."""

    registered = False


def register_post_accumulate_grad_hook(tensor: Tensor, hook: Callable[[Tensor], None]) -> RemovableHandle:
    """Call ``hook(tensor)`` after backward accumulated this leaf's ``.grad`` (an optimizer step per parameter,
    as PyTorch's); the hook returns None. Only a leaf that requires grad takes one; ``autograd.grad`` runs none.
    """
    if not tensor.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                           "doesn't require gradient")
    if tensor._node is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered "
                           "on non-leaf tensors")
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: the hook must be callable, got {type(hook).__name__}")
    with HOOKS_LOCK:   # as register_hook's
        hooks = getattr(tensor, "_post_hooks", None)
        if hooks is None:
            hooks = tensor._post_hooks = []
        hooks.append(hook)
    _PostHooks.registered = True

    def remove() -> None:
        with HOOKS_LOCK:
            if hook in hooks:
                hooks.remove(hook)
    return RemovableHandle(remove)


def run_post_accumulate_hooks(leaves: Iterable[Tensor]) -> None:
    """Each leaf's post-accumulate-grad hooks, in order of registration, once its ``.grad`` was accumulated (the
    backward walks call it leaf by leaf, as PyTorch runs them in each leaf's AccumulateGrad node).

    A hook returns None, or the leaf itself as PyTorch accepts (``lambda p: p.add_(p.grad, alpha=-lr)``, the
    example in PyTorch's docstring)."""
    for leaf in leaves:
        for hook in list(getattr(leaf, "_post_hooks", None) or ()):
            result = hook(leaf)
            if result is not None and result is not leaf:
                raise HookError(f"register_post_accumulate_grad_hook: the hook {getattr(hook, '__name__', hook)!r} "
                                f"on {_leaf_label(leaf)} returned a {type(result).__name__}; it must return None")
