"""Optimizer hooks, as ``torch.optim.Optimizer``'s: around ``step`` and around the state-dict calls.

- ``register_step_pre_hook(hook)``: ``hook(optimizer, args, kwargs)`` before each ``step``, where ``args``
  starts with the optimizer itself, as PyTorch's; it may return ``(new_args, new_kwargs)``.
  ``register_step_post_hook(hook)``: ``hook(optimizer, args, kwargs)`` after a ``step`` that returned
  (not after one that raised).
- ``register_state_dict_pre_hook(hook)``: ``hook(optimizer)``; ``register_state_dict_post_hook(hook)``:
  ``hook(optimizer, state_dict)``, may return a new state dict.
- ``register_load_state_dict_pre_hook(hook)``: ``hook(optimizer, state_dict)`` on a shallow copy of the
  state dict, may return a new one; ``register_load_state_dict_post_hook(hook)``: ``hook(optimizer)``.
  The four state-dict ones take ``prepend=True`` to run first, as PyTorch's.

Each returns a handle whose ``remove()`` removes the hook. Every
optimizer class's ``step`` (a user's subclass too) is wrapped by :func:`with_step_hooks` when the class is
made; a ``step`` that calls ``super().step()`` runs the hooks once.
"""

from __future__ import annotations

import functools
import itertools
import threading
from typing import Any, Callable

from minigrad import RemovableHandle

__all__ = ["OptimizerHooks", "with_step_hooks"]

_IDS = itertools.count()
_KINDS = ("step_pre", "step_post", "state_dict_pre", "state_dict_post", "load_state_dict_pre",
          "load_state_dict_post")


# the tables change under this lock (two threads' first hooks made two sets of tables: one hook lost); a call reads
# a table whole (hooks_of), so a prepended hook makes a new table put in at once (emptying one to reorder it hid
# every hook from another thread's call meanwhile)
_LOCK = threading.Lock()


def _tables(optimizer: Any) -> dict:
    """``optimizer``'s tables of hooks, kind -> {key: hook}, made on first use (call under ``_LOCK``)."""
    hooks = optimizer.__dict__.get("_optimizer_hooks")
    if hooks is None:
        hooks = {name: {} for name in _KINDS}
        optimizer.__dict__["_optimizer_hooks"] = hooks
    return hooks


def hooks_of(optimizer: Any, kind: str) -> list[Callable]:
    """The hooks of ``kind``, in calling order (a copy: a hook may remove itself)."""
    hooks = optimizer.__dict__.get("_optimizer_hooks")
    return list(hooks[kind].values()) if hooks else []


def _add(optimizer: Any, kind: str, hook: Callable, prepend: bool) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"{type(optimizer).__name__}: a hook must be callable, got {type(hook).__name__}")
    with _LOCK:
        hooks, key = _tables(optimizer), next(_IDS)
        if prepend:
            hooks[kind] = {key: hook, **hooks[kind]}
        else:
            hooks[kind][key] = hook

    def remove() -> None:
        with _LOCK:
            hooks[kind].pop(key, None)
    return RemovableHandle(remove)


def with_step_hooks(step: Callable) -> Callable:
    """``step`` that runs the optimizer's step pre-hooks before and post-hooks after (once, however many
    ``super().step()`` calls it makes)."""
    if getattr(step, "_runs_step_hooks", False):
        return step

    @functools.wraps(step)
    def hooked_step(*args: Any, **kwargs: Any) -> Any:
        # as PyTorch's wrapper, the hooks see ``args`` with the optimizer first: (optimizer, closure) or (optimizer,)
        self = args[0]
        if self.__dict__.get("_stepping") or not self.__dict__.get("_optimizer_hooks"):
            return step(*args, **kwargs)
        for hook in hooks_of(self, "step_pre"):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{type(self).__name__}.step: a step pre-hook must return None or a tuple "
                                       f"(new_args, new_kwargs), got {result!r}")
                args, kwargs = result
        self.__dict__["_stepping"] = True
        try:
            out = step(*args, **kwargs)
        finally:
            self.__dict__["_stepping"] = False
        for hook in hooks_of(self, "step_post"):
            hook(self, args, kwargs)
        return out

    hooked_step._runs_step_hooks = True  # type: ignore[attr-defined]
    return hooked_step


class OptimizerHooks:
    """The hook registrations of an optimizer (see the module doc); ``Optimizer`` inherits them."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = with_step_hooks(cls.__dict__["step"])

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` before each ``step``; may return ``(new_args, new_kwargs)``."""
        return _add(self, "step_pre", hook, False)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` after each ``step`` that returned."""
        return _add(self, "step_post", hook, False)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` before ``state_dict`` builds the dict."""
        return _add(self, "state_dict_pre", hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` after ``state_dict``; a non-None result replaces the dict."""
        return _add(self, "state_dict_post", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` before ``load_state_dict`` reads it (a shallow copy of the caller's);
        a non-None result is loaded instead."""
        return _add(self, "load_state_dict_pre", hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` after ``load_state_dict`` has loaded."""
        return _add(self, "load_state_dict_post", hook, prepend)
