"""Module hooks, as PyTorch's: forward pre-hooks, forward hooks, backward pre-hooks and full backward hooks.

A module keeps its hooks in one dict of four ordered tables (``_hooks_of``); a call
with any hook goes through :func:`call_with_hooks`, a call without through the plain
path of ``Module.__call__``. Backward hooks see gradients through two identity ops
around the call, as PyTorch's ``BackwardHook`` does: one on the tensor outputs, whose
backward sees ``grad_output`` first, and one on the tensor positional inputs, whose
backward sees ``grad_input`` and calls the hooks with both::

    inputs ─► [InputGrads] ─► forward ─► [OutputGrads] ─► outputs
                  ▲ backward: hook(module, grad_input, grad_output)   ▲ backward: pre-hook(module, grad_output)

As PyTorch's, only a Tensor output or the Tensors of a tuple output that require grad are watched, the hooks run
without recording unless ``create_graph=True``, and an input that gets no gradient is handed zeros. With backward
pre-hooks, the output op also takes the watched inputs (an edge to the input op, handed through as outputs no one
uses), so that the input side still runs, with zeros, when the pre-hooks return None for every output.

A hook registered or removed is counted (``_compile_state.reregistered``), so a compiled
call through the module is captured again, eagerly while a hook exists: a replay
would skip Python side effects.
"""

from __future__ import annotations

import itertools
import threading
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any, Callable

import minigrad as mg
from minigrad import Function, RemovableHandle, Tensor

from ._compile_state import reregistered

KINDS = ("forward_pre", "forward", "backward_pre", "backward")
STATE_KINDS = ("state_dict_pre", "state_dict", "load_pre", "load_post")   # in ``_state_hooks``: calls stay plain
_IDS = itertools.count()


# every module's hooks, run before each module's own (PyTorch's global hooks)
_GLOBAL: dict = {kind: {} for kind in KINDS}
# how many hooks _GLOBAL holds: has_hooks reads this one number on every module call; changed under the lock
_global_count = 0
_GLOBAL_LOCK = threading.Lock()
_NO_HOOKS: dict = {kind: {} for kind in KINDS}
# a module's own tables (add_hook, HookTable) change under this lock: two threads' first hooks made two sets of
# tables (one hook lost). A call reads a table whole (``[*table.values()]``), so a prepended hook makes a new table
# put in at once: emptying one to reorder it hid every hook from another thread's call meanwhile.
_TABLES_LOCK = threading.Lock()
# hook(module, name, value) when a module, parameter or buffer is registered on any module (PyTorch's
# register_module_*_registration_hook); a non-None result is registered instead
REGISTRATION: dict = {"module": {}, "parameter": {}, "buffer": {}}


def has_hooks(module: Any) -> bool:
    """Whether a call of ``module`` goes through :func:`call_with_hooks` (a global hook, or one of its own)."""
    if _global_count:
        return True
    hooks = module.__dict__.get("_hooks")
    return hooks is not None and any(hooks.values())


def _add_global(kind: str, hook: Any, **options: Any) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"a global module hook must be callable, got {type(hook).__name__}")
    global _global_count
    table, key = _GLOBAL[kind], next(_IDS)
    with _GLOBAL_LOCK:
        table[key] = (hook, options)
        _global_count += 1
    reregistered()

    def remove() -> None:
        global _global_count
        with _GLOBAL_LOCK:
            removed = table.pop(key, None) is not None
            _global_count -= removed
        if removed:
            reregistered()
    return RemovableHandle(remove)


def register_module_forward_pre_hook(hook: Any) -> RemovableHandle:
    """``hook(module, args)`` before the ``forward`` of every module (before its own pre-hooks), as PyTorch's
    ``torch.nn.modules.module.register_module_forward_pre_hook``; it may return new args."""
    return _add_global("forward_pre", hook, with_kwargs=False)


def register_module_forward_hook(hook: Any, *, with_kwargs: bool = False, always_call: bool = False) -> RemovableHandle:
    """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) after the ``forward`` of every
    module (before its own forward hooks), as PyTorch's ``register_module_forward_hook``."""
    return _add_global("forward", hook, with_kwargs=with_kwargs, always_call=always_call)


def register_module_full_backward_pre_hook(hook: Any) -> RemovableHandle:
    """``hook(module, grad_output)`` for every module's outputs (before its own backward pre-hooks), as PyTorch's
    ``register_module_full_backward_pre_hook``; it may return new ``grad_output``."""
    return _add_global("backward_pre", hook)


def register_module_full_backward_hook(hook: Any) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` for every module's inputs (before its own full backward hooks),
    as PyTorch's ``register_module_full_backward_hook``; it may return new ``grad_input``."""
    return _add_global("backward", hook)


def register_module_backward_hook(hook: Any) -> RemovableHandle:
    """PyTorch's deprecated non-full global backward hook: not supported, as ``Module.register_backward_hook``
    (its gradients are those of each module's last op, not of its inputs); use
    :func:`register_module_full_backward_hook`."""
    raise NotImplementedError("register_module_backward_hook (deprecated in PyTorch) is not supported; use "
                              "register_module_full_backward_hook(hook), hook(module, grad_input, grad_output)")


def registered(kind: str, module: Any, name: str, value: Any) -> Any:
    """``value`` through the global registration hooks of ``kind`` (``module``, ``parameter``, ``buffer``)."""
    for hook in list(REGISTRATION[kind].values()):
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value


def _add_registration(kind: str, hook: Any) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"a global module registration hook must be callable, got {type(hook).__name__}")
    table, key = REGISTRATION[kind], next(_IDS)
    table[key] = hook
    return RemovableHandle(lambda: table.pop(key, None))


def register_module_module_registration_hook(hook: Any) -> RemovableHandle:
    """``hook(module, name, submodule)`` whenever a child module is registered on any module (``add_module``,
    attribute assignment), as PyTorch's; a non-None result is registered instead."""
    return _add_registration("module", hook)


def register_module_parameter_registration_hook(hook: Any) -> RemovableHandle:
    """``hook(module, name, param)`` whenever a Parameter is registered on any module (``register_parameter``,
    attribute assignment; not None), as PyTorch's; a non-None result is registered instead."""
    return _add_registration("parameter", hook)


def register_module_buffer_registration_hook(hook: Any) -> RemovableHandle:
    """``hook(module, name, buffer)`` whenever a buffer is registered or assigned on any module, as PyTorch's; a
    non-None result is registered instead."""
    return _add_registration("buffer", hook)


def _unchanged() -> None:
    """State-dict hooks do not change a call, so mg.compile's captures stay valid."""


def add_hook(module: Any, kind: str, hook: Any, prepend: bool, changed: Callable[[], None],
             **options: Any) -> RemovableHandle:
    """Register ``hook`` in ``module``'s table ``kind`` (first if ``prepend``); returns its handle."""
    if not callable(hook):
        raise TypeError(f"{type(module).__name__}: a hook must be callable, got {type(hook).__name__}")
    attribute, kinds = ("_state_hooks", STATE_KINDS) if kind in STATE_KINDS else ("_hooks", KINDS)
    with _TABLES_LOCK:
        hooks = module.__dict__.get(attribute)
        if hooks is None:
            hooks = {name: {} for name in kinds}
            object.__setattr__(module, attribute, hooks)
        key = next(_IDS)
        if prepend:
            hooks[kind] = {key: (hook, options), **hooks[kind]}
        else:
            hooks[kind][key] = (hook, options)
    changed()

    def remove() -> None:
        with _TABLES_LOCK:
            removed = hooks[kind].pop(key, None) is not None
        if removed:
            changed()
    return RemovableHandle(remove)


_DEFAULT_OPTIONS = {"forward_pre": {"with_kwargs": False}, "forward": {"with_kwargs": False, "always_call": False},
                    "backward_pre": {}, "backward": {}}


class HookTable(MutableMapping):
    """One of a module's hook tables as PyTorch's ordered dict ``module._forward_pre_hooks`` (and
    ``_forward_hooks``, ``_backward_pre_hooks``, ``_backward_hooks``) shows it: key -> hook, a live view of the
    ``(hook, options)`` table kept here. Programs read it (``for hook in module._forward_pre_hooks.values()``,
    the pruning tutorial's way to find a pruning method) and sometimes delete from it."""

    def __init__(self, module: Any, kind: str) -> None:
        self._module, self._kind = module, kind

    def _table(self) -> dict:
        hooks = self._module.__dict__.get("_hooks")
        return hooks[self._kind] if hooks else {}

    def __getitem__(self, key: int) -> Any:
        return self._table()[key][0]

    def __setitem__(self, key: int, hook: Any) -> None:
        with _TABLES_LOCK:
            if self._module.__dict__.get("_hooks") is None:
                object.__setattr__(self._module, "_hooks", {name: {} for name in KINDS})
            table = self._table()
            options = table[key][1] if key in table else dict(_DEFAULT_OPTIONS[self._kind])
            table[key] = (hook, options)
        reregistered()

    def __delitem__(self, key: int) -> None:
        with _TABLES_LOCK:
            del self._table()[key]
        reregistered()

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._table()))

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return f"OrderedDict({dict(self)!r})"


class ModuleHooks:
    """The hook registrations of ``nn.Module``, as PyTorch's; each returns a handle whose ``remove()`` removes
    the hook. A compiled call through a module with call hooks runs eagerly (a replay would skip them)."""

    @property
    def _forward_pre_hooks(self) -> HookTable:
        """The forward pre-hooks by key (PyTorch's private ordered dict), a live view."""
        return HookTable(self, "forward_pre")

    @property
    def _forward_hooks(self) -> HookTable:
        """The forward hooks by key (PyTorch's private ordered dict), a live view."""
        return HookTable(self, "forward")

    @property
    def _backward_pre_hooks(self) -> HookTable:
        """The full backward pre-hooks by key (PyTorch's private ordered dict), a live view."""
        return HookTable(self, "backward_pre")

    @property
    def _backward_hooks(self) -> HookTable:
        """The full backward hooks by key (PyTorch's private ordered dict), a live view."""
        return HookTable(self, "backward")

    def register_forward_pre_hook(self, hook: Any, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)``) before each ``forward``; it may return
        new args (or ``(args, kwargs)``)."""
        return add_hook(self, "forward_pre", hook, prepend, reregistered, with_kwargs=with_kwargs)

    def register_forward_hook(self, hook: Any, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) after each ``forward``;
        it may return a new output. ``always_call``: also when ``forward`` raised (output None)."""
        return add_hook(self, "forward", hook, prepend, reregistered, with_kwargs=with_kwargs,
                        always_call=always_call)

    def register_full_backward_pre_hook(self, hook: Any, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` when the gradients of the outputs are known; it may return new ones."""
        return add_hook(self, "backward_pre", hook, prepend, reregistered)

    def register_full_backward_hook(self, hook: Any, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` when the gradients of the tensor positional inputs are
        known (None for an input that needs none); it may return new ``grad_input``."""
        return add_hook(self, "backward", hook, prepend, reregistered)

    def register_backward_hook(self, hook: Any) -> RemovableHandle:
        """PyTorch's deprecated non-full backward hook: not supported (its gradients are those of the module's
        last op, not of its inputs); use ``register_full_backward_hook``."""
        raise NotImplementedError(f"{type(self).__name__}.register_backward_hook (deprecated in PyTorch) is not "
                                  "supported; use register_full_backward_hook(hook), hook(module, grad_input, "
                                  "grad_output)")

    # --- state dicts (nn/_state_dict.py calls them) ---

    def register_state_dict_pre_hook(self, hook: Any) -> RemovableHandle:
        """``hook(module, prefix, keep_vars)`` before this module's entries are saved by ``state_dict``."""
        return add_hook(self, "state_dict_pre", hook, False, _unchanged)

    def register_state_dict_post_hook(self, hook: Any) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` after this module's (and its children's)
        entries are saved; it may change ``state_dict`` in place and must return None."""
        return add_hook(self, "state_dict", hook, False, _unchanged, public=True)

    def _register_state_dict_hook(self, hook: Any) -> RemovableHandle:
        """PyTorch's private form of :meth:`register_state_dict_post_hook`: a non-None result replaces the
        state dict."""
        return add_hook(self, "state_dict", hook, False, _unchanged, public=False)

    def register_load_state_dict_pre_hook(self, hook: Any) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` before this module's keys are read by ``load_state_dict``; it may edit ``state_dict``
        (a copy of the caller's) in place, e.g. to rename old keys."""
        return add_hook(self, "load_pre", hook, False, _unchanged)

    def _register_load_state_dict_pre_hook(self, hook: Any, with_module: bool = False) -> RemovableHandle:
        """PyTorch's private form: ``hook(state_dict, prefix, ...)``, with the module first if ``with_module``."""
        call = hook if with_module else (lambda module, *args: hook(*args))
        return add_hook(self, "load_pre", call, False, _unchanged)

    def register_load_state_dict_post_hook(self, hook: Any) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` after the load (children's hooks first); it may edit
        ``incompatible_keys.missing_keys`` / ``.unexpected_keys`` in place (a strict load checks them after)."""
        return add_hook(self, "load_post", hook, False, _unchanged)


def call_with_hooks(module: Any, args: tuple, kwargs: dict) -> Any:
    """``module(*args, **kwargs)`` with its hooks, in registration order, as PyTorch runs them."""
    hooks = module.__dict__.get("_hooks") or _NO_HOOKS
    pre_hooks = [*_GLOBAL["forward_pre"].values(), *hooks["forward_pre"].values()]
    forward_hooks = [*_GLOBAL["forward"].values(), *hooks["forward"].values()]
    mg.compiler.run_eagerly(f"{type(module).__name__} {module._scope_name!r} has hooks (a replay would skip them)")
    output, called = None, set()   # called: the places of the always_call forward hooks already run
    try:
        for hook, options in pre_hooks:
            result = hook(module, args, kwargs) if options["with_kwargs"] else hook(module, args)
            if result is not None:
                if options["with_kwargs"]:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{type(module).__name__}: a forward pre-hook with kwargs must return "
                                           f"None or (args, kwargs), got {type(result).__name__}")
                    args, kwargs = result
                else:
                    args = result if isinstance(result, tuple) else (result,)
        backward = (hooks["backward"] or hooks["backward_pre"] or _GLOBAL["backward"] or _GLOBAL["backward_pre"]) \
            and mg.is_grad_enabled()
        grads: dict = {}   # what the output op's backward hands the input op's: grad_output
        if backward:   # the backward hooks as registered now, as PyTorch's (a later remove() or add changes nothing)
            grads["hooks"] = {kind: [*_GLOBAL[kind].values(), *hooks[kind].values()]
                              for kind in ("backward_pre", "backward")}
            args, links = _watch_inputs(module, args, grads)
            if not grads["hooks"]["backward_pre"]:   # only a pre-hook can leave every output without a gradient
                links = ()
        with mg.name_scope(module._scope_name):
            output = module.forward(*args, **kwargs)
        for i, (hook, options) in enumerate(forward_hooks):
            if options["always_call"]:
                called.add(i)
            result = hook(module, args, kwargs, output) if options["with_kwargs"] else hook(module, args, output)
            if result is not None:
                output = result
        if backward:
            if not isinstance(output, (Tensor, tuple)):   # PyTorch's warning: its hooks watch no list or dict
                warnings.warn(f"{type(module).__name__}: for backward hooks to be called, module output should be a "
                              f"Tensor or a tuple of Tensors but received {type(output).__name__}", stacklevel=4)
            output = _watch_outputs(module, output, grads, links)
        return output
    except Exception:
        # as PyTorch's: a pre-hook, forward or forward hook raised; the always_call hooks not yet run run now
        # (with the output so far, None if forward did not return), an error of theirs only warned of
        for i, (hook, options) in enumerate(forward_hooks):
            if options["always_call"] and i not in called:
                try:
                    result = hook(module, args, kwargs, output) if options["with_kwargs"] else \
                        hook(module, args, output)
                except Exception as error:  # noqa: BLE001 - the first error is the one raised
                    warnings.warn(f"{type(module).__name__}: a forward hook with always_call=True raised "
                                  f"{type(error).__name__}: {error}; it was silenced", stacklevel=2)
                    continue
                if result is not None:
                    output = result
        raise


def _watch_inputs(module: Any, args: tuple, grads: dict) -> tuple[tuple, tuple]:
    """(``args`` with its tensors passed through an :class:`InputGrads` op (if one requires grad), the op's outputs)."""
    places = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    grads["n_inputs"] = len(args)   # grad_input has an entry per positional argument (None: not a Tensor)
    if not places:
        return args, ()
    # a tensor that needs no gradient stays out of the op (none is computed for it); its grad_input is zeros,
    # as PyTorch's (whose hook op marks it non-differentiable and hands the hooks a zero gradient)
    grads["constants"] = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor) and not a.requires_grad]
    # an input that requires grad but gets none (forward did not use it) has zeros too, as PyTorch's (whose hook op
    # materialises a missing gradient): its place -> (shape, dtype, device)
    grads["blanks"] = {i: (tuple(args[i].shape), args[i].dtype, args[i].device) for i in places}
    outs = InputGrads(module, grads, places, len(args))(*[args[i] for i in places])
    args = list(args)
    for i, out in zip(places, outs):
        args[i] = out
    grads["inputs_watched"] = True
    return tuple(args), outs


def _watch_outputs(module: Any, output: Any, grads: dict, links: tuple) -> Any:
    """``output`` (a Tensor, or a tuple whose Tensors that require grad are watched) passed through an
    :class:`OutputGrads` op; ``grad_output`` then has an entry per item of the tuple (None for one that is not a
    Tensor, or needs no gradient). As PyTorch's, a list or dict output is not watched (no backward hook runs).
    ``links``: the watched inputs (:func:`_watch_inputs`), inputs of the op too, so that it can hand the input side
    zeros when the backward pre-hooks leave no gradient for any output (see :meth:`OutputGrads.backward`)."""
    items = (output,) if isinstance(output, Tensor) else tuple(output) if isinstance(output, tuple) else ()
    places = [i for i, y in enumerate(items) if isinstance(y, Tensor) and y.requires_grad]
    if not places:
        return output
    op = OutputGrads(module, grads, places, len(items), len(links))
    outs = op(*[items[i] for i in places], *links)[:len(places)]   # the links' outputs are not used
    if isinstance(output, Tensor):
        return outs[0]
    watched = dict(zip(places, outs))
    items = [watched.get(i, y) for i, y in enumerate(items)]
    return tuple(items) if type(output) is tuple else type(output)(*items)   # a namedtuple keeps its type


class _Identity(Function):
    """Hands its inputs through unchanged (the same arrays); a subclass's backward sees their gradients."""

    multiple = True
    runs_user_hooks = True   # the visualiser's observed backward (draw(show_grads=True)) skips this op's hooks
    user_code = True   # the module's backward hooks run at this node mid-walk: leaves accumulate once complete

    def __init__(self, module: Any, grads: dict, places: list, length: int) -> None:
        # ``places``: where the op's inputs sit among the module's ``length`` arguments (or outputs)
        self.module, self.grads, self.places, self.length = module, grads, places, length

    def _spread(self, arrays: tuple) -> tuple:
        """The op's gradients as Tensors, one per argument (output) of the module, None elsewhere."""
        full = [None] * self.length
        for i, g in zip(self.places, _tensors(arrays)):
            full[i] = g
        return tuple(full)

    def _gather(self, grads: tuple) -> tuple:
        """Back from :meth:`_spread`'s form to one array (or None) per input of the op."""
        return tuple(_arrays([grads[i] for i in self.places]))

    def forward(self, *arrays: Any) -> tuple:
        self.n_outputs = len(arrays)
        return arrays

    def _run(self, kind: str, grads: tuple, *extra: Any) -> tuple:
        """Each hook of ``kind`` in turn, ``hook(module, grads, *extra)``; a non-None result (a tuple or list of
        as many) replaces ``grads``, checked once the last hook ran, as PyTorch's (a Tensor for each Tensor, of its
        shape and dtype, or None)."""
        if kind == "backward" and not self.grads.get("inputs_watched"):
            return self._run_without_inputs(grads, *extra)
        if kind == "backward":
            blanks = self.grads["blanks"]
            grads = tuple(g if g is not None or i not in blanks else
                          mg.zeros(blanks[i][0], dtype=blanks[i][1], device=blanks[i][2]) for i, g in enumerate(grads))
        name = f"{type(self.module).__name__}: a {kind.replace('_', ' ')} hook"
        new = grads
        for hook, _options in self.grads["hooks"][kind]:   # those of the forward call (a snapshot)
            result = hook(self.module, new, *extra)
            if result is None:
                continue
            if not isinstance(result, (tuple, list)):   # PyTorch takes len() of it and indexes it, then fails
                error = RuntimeError if isinstance(result, Tensor) else TypeError
                raise error(f"{name} must return None or a tuple of {len(grads)} gradients (Tensor or None), got "
                            f"{type(result).__name__}")
            if len(result) != len(grads):
                raise RuntimeError(f"{name} returned an invalid number of gradients, got {len(result)}, but "
                                   f"expected {len(grads)}")
            new = tuple(result)
        if new is grads:   # no hook replaced them: the same tuple goes on (the full backward hooks see it)
            return grads
        return tuple(self._checked(name, g, old) for g, old in zip(new, grads))

    def _run_without_inputs(self, grad_input: tuple, grad_output: tuple) -> tuple:
        """The full backward hooks of a call whose inputs need no gradient, run from the output side: as
        PyTorch's, each must return None or a tuple of Nones (there is no input gradient to replace)."""
        for hook, _options in self.grads["hooks"]["backward"]:
            result = hook(self.module, grad_input, grad_output)
            if result is not None and not (isinstance(result, tuple) and all(g is None for g in result)):
                raise RuntimeError(f"{type(self.module).__name__}: a backward hook of a module whose inputs need no "
                                   "gradient should always return None or None for all gradients, got "
                                   f"{type(result).__name__}")
        return grad_input

    @staticmethod
    def _checked(name: str, g: Any, old: Any) -> Any:
        """A hook's replacement ``g`` for the gradient ``old``: PyTorch refuses a non-Tensor, another shape or dtype."""
        if g is None:
            return None
        if not isinstance(g, Tensor):
            raise TypeError(f"{name} returned a {type(g).__name__} as a gradient; expected a Tensor or None")
        if old is not None and (tuple(g.shape) != tuple(old.shape) or g.dtype != old.dtype):
            raise RuntimeError(f"{name} returned a gradient of shape {tuple(g.shape)}, dtype {g.dtype} for one of "
                               f"shape {tuple(old.shape)}, dtype {old.dtype}")
        return g


class OutputGrads(_Identity):
    """On the module's outputs: its backward runs the backward pre-hooks on ``grad_output`` and keeps it. Its last
    ``n_links`` inputs are the watched inputs (:class:`InputGrads`' outputs), handed through as outputs no one uses
    (so that a walk that hands each op's gradients through unchanged, ``draw(show_grads=True)``, reaches them)."""

    name = "backward_hook"

    def __init__(self, module: Any, grads: dict, places: list, length: int, n_links: int) -> None:
        super().__init__(module, grads, places, length)
        self.n_links = n_links

    def backward(self, *grads_out: Any) -> tuple:
        with mg.no_grad():   # as PyTorch's, hooks run without recording (create_graph=False: this backward)
            grad_output = self._run("backward_pre", self._spread(grads_out))
            if self.grads.get("inputs_watched"):   # for the input side, until its hooks ran
                self.grads["grad_output"] = grad_output
            else:   # no input needs a gradient: the hooks run here
                self._run("backward", (None,) * self.grads["n_inputs"], grad_output)
        return self._gather(grad_output) + tuple(_arrays(self.link_grads(grad_output)))

    def link_grads(self, grad_output: tuple) -> tuple:
        """The gradients for the watched inputs (Tensors): None, or zeros when the pre-hooks left no gradient for
        any output. None would then reach the inputs through forward's ops; PyTorch's input side still runs (its
        hook op materialises zeros): the full backward hooks see zeros, and so do the inputs' gradients."""
        if not self.n_links or any(g is not None for g in grad_output):
            return (None,) * self.n_links
        blanks = self.grads["blanks"].values()   # (shape, dtype, device) of each watched input, in order
        return tuple(mg.zeros(shape, dtype=dtype, device=device) for shape, dtype, device in blanks)


class InputGrads(_Identity):
    """On the module's tensor inputs: its backward runs the full backward hooks with ``grad_input`` and the
    ``grad_output`` the output side kept, once: as PyTorch's, a gradient that reaches the inputs without passing
    the module's outputs since (a double backward's, through the saved values) runs no hook and goes on as it is."""

    name = "backward_hook"

    def backward(self, *grads_in: Any) -> tuple:
        grad_output = self.grads.pop("grad_output", None)
        if grad_output is None:
            return grads_in
        grad_input = list(self._spread(grads_in))
        with mg.no_grad():   # as PyTorch's, hooks run without recording (create_graph=False: this backward)
            for i, tensor in self.grads.get("constants", ()):
                grad_input[i] = mg.zeros_like(tensor)
            grad_input = self._run("backward", tuple(grad_input), grad_output)
        return self._gather(grad_input)


def _tensors(arrays: Any) -> tuple:
    """Gradient arrays as Tensors for a hook (None stays None)."""
    return tuple(None if a is None else Tensor._make(a, False, None, 0) for a in arrays)


def _arrays(values: Any) -> list:
    return [v.data if isinstance(v, Tensor) else v for v in values]
