"""Module hooks, as PyTorch's: forward pre-hooks, forward hooks, backward pre-hooks and full backward hooks.

A module keeps its hooks in one dict of four ordered tables (``_hooks_of``); a call
with any hook goes through :func:`call_with_hooks`, a call without through the plain
path of ``Module.__call__``. Backward hooks see gradients through two identity ops
around the call, as PyTorch's ``BackwardHook`` does: one on the tensor outputs, whose
backward sees ``grad_output`` first, and one on the tensor positional inputs, whose
backward sees ``grad_input`` and calls the hooks with both::

    inputs ─► [InputGrads] ─► forward ─► [OutputGrads] ─► outputs
                  ▲ backward: hook(module, grad_input, grad_output)   ▲ backward: pre-hook(module, grad_output)

A hook registered or removed is counted (``_compile_state.reregistered``), so a compiled
call through the module is captured again, eagerly while a hook exists: a replay
would skip Python side effects.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import minigrad as mg
from minigrad import Function, RemovableHandle, Tensor

KINDS = ("forward_pre", "forward", "backward_pre", "backward")
_IDS = itertools.count()


def has_hooks(module: Any) -> bool:
    hooks = module.__dict__.get("_hooks")
    return hooks is not None and any(hooks.values())


def add_hook(module: Any, kind: str, hook: Any, prepend: bool, changed: Callable[[], None],
             **options: Any) -> RemovableHandle:
    """Register ``hook`` in ``module``'s table ``kind`` (first if ``prepend``); returns its handle."""
    if not callable(hook):
        raise TypeError(f"{type(module).__name__}: a hook must be callable, got {type(hook).__name__}")
    hooks = module.__dict__.get("_hooks")
    if hooks is None:
        hooks = {kind: {} for kind in KINDS}
        object.__setattr__(module, "_hooks", hooks)
    table, key = hooks[kind], next(_IDS)
    if prepend:
        rest = list(table.items())
        table.clear()
        table[key] = (hook, options)
        table.update(rest)
    else:
        table[key] = (hook, options)
    changed()

    def remove() -> None:
        if table.pop(key, None) is not None:
            changed()
    return RemovableHandle(remove)


def call_with_hooks(module: Any, args: tuple, kwargs: dict) -> Any:
    """``module(*args, **kwargs)`` with its hooks, in registration order, as PyTorch runs them."""
    hooks = module.__dict__["_hooks"]
    mg.compiler.run_eagerly(f"{type(module).__name__} {module._scope_name!r} has hooks (a replay would skip them)")
    for hook, options in hooks["forward_pre"].values():
        result = hook(module, args, kwargs) if options["with_kwargs"] else hook(module, args)
        if result is not None:
            if options["with_kwargs"]:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{type(module).__name__}: a forward pre-hook with kwargs must return "
                                       f"None or (args, kwargs), got {type(result).__name__}")
                args, kwargs = result
            else:
                args = result if isinstance(result, tuple) else (result,)
    backward = (hooks["backward"] or hooks["backward_pre"]) and mg.is_grad_enabled()
    grads: dict = {}   # what the output op's backward hands the input op's: grad_output
    if backward:
        args = _watch_inputs(module, args, grads)
    try:
        with mg.name_scope(module._scope_name):
            output = module.forward(*args, **kwargs)
    except Exception:
        for hook, options in hooks["forward"].values():
            if options["always_call"]:   # always_call=True: run even when forward raised (its output is None)
                hook(module, args, kwargs, None) if options["with_kwargs"] else hook(module, args, None)
        raise
    for hook, options in hooks["forward"].values():
        result = hook(module, args, kwargs, output) if options["with_kwargs"] else hook(module, args, output)
        if result is not None:
            output = result
    if backward:
        output = _watch_outputs(module, output, grads)
    return output


def _watch_inputs(module: Any, args: tuple, grads: dict) -> tuple:
    """``args`` with its tensors passed through an :class:`InputGrads` op (if one requires grad)."""
    places = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    grads["n_inputs"] = len(args)   # grad_input has an entry per positional argument (None: not a Tensor)
    if not any(args[i].requires_grad for i in places):
        return args
    outs = InputGrads(module, grads, places, len(args))(*[args[i] for i in places])
    args = list(args)
    for i, out in zip(places, outs):
        args[i] = out
    grads["inputs_watched"] = True
    return tuple(args)


def _watch_outputs(module: Any, output: Any, grads: dict) -> Any:
    """``output`` (a Tensor, or a tuple/list whose Tensors are watched) passed through an :class:`OutputGrads`
    op; ``grad_output`` then has an entry per item of the tuple (None for one that is not a Tensor)."""
    items = (output,) if isinstance(output, Tensor) else tuple(output) if isinstance(output, (tuple, list)) else ()
    places = [i for i, y in enumerate(items) if isinstance(y, Tensor)]
    if not any(items[i].requires_grad for i in places):
        return output
    outs = OutputGrads(module, grads, places, len(items))(*[items[i] for i in places])
    if isinstance(output, Tensor):
        return outs[0]
    watched = dict(zip(places, outs))
    return type(output)(watched.get(i, y) for i, y in enumerate(items))


class _Identity(Function):
    """Hands its inputs through unchanged (the same arrays); a subclass's backward sees their gradients."""

    multiple = True

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
        """Each hook of ``kind`` in turn, ``hook(module, grads, *extra)``; a non-None result replaces ``grads``."""
        for hook, _options in self.module.__dict__["_hooks"][kind].values():
            result = hook(self.module, grads, *extra)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grads):
                    raise RuntimeError(f"{type(self.module).__name__}: a {kind.replace('_', ' ')} hook returned "
                                       f"{len(result)} gradients for {len(grads)}")
                grads = tuple(g if g is None or isinstance(g, Tensor) else mg.tensor(g) for g in result)
        return grads


class OutputGrads(_Identity):
    """On the module's outputs: its backward runs the backward pre-hooks on ``grad_output`` and keeps it."""

    name = "backward_hook"

    def backward(self, *grads_out: Any) -> tuple:
        grad_output = self._run("backward_pre", self._spread(grads_out))
        self.grads["grad_output"] = grad_output
        if not self.grads.get("inputs_watched"):   # no input needs a gradient: the hooks run here
            self._run("backward", (None,) * self.grads["n_inputs"], grad_output)
        return self._gather(grad_output)


class InputGrads(_Identity):
    """On the module's tensor inputs: its backward runs the full backward hooks with ``grad_input``."""

    name = "backward_hook"

    def backward(self, *grads_in: Any) -> tuple:
        grad_input = self._run("backward", self._spread(grads_in), self.grads.get("grad_output", ()))
        return self._gather(grad_input)


def _tensors(arrays: Any) -> tuple:
    """Gradient arrays as Tensors for a hook (None stays None)."""
    return tuple(None if a is None else Tensor._make(a, False, None, 0) for a in arrays)


def _arrays(values: Any) -> list:
    return [v.data if isinstance(v, Tensor) else v for v in values]
