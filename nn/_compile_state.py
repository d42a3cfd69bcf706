"""What ``mg.compile`` reads from nn to tell whether a capture still fits: the train/eval flags a capture read
(part of the signatures of that function's calls) and how many times a registration changed (a guard).

Modes: ``Module.training`` is a :class:`TrainingFlag`, which tells ``mg.compile`` of every read
(``mg.compiler.mode_read``: a capture running in this thread then puts that module's flag in the signature of
the calls it stands for) and every change (``mg.compiler.mode_changed``). So a function captured with dropout
on is captured again after ``model.eval()`` instead of being replayed, also for modules reached through
containers, a functional ``F.dropout(x, training=self.training)`` and a flag read without calling its module,
while a module the function never looks at (another model, ``copy.deepcopy(model).eval()``) changes nothing.

Re-registrations: a parameter, child module or buffer replaced or removed after it was registered, or a hook
added or removed. A capture holds the tensor objects it read, so after ``model.fc = nn.Linear(...)`` every
compiled call is captured again. A first registration counts only into a module already called (or in the tree
of one: a ModuleList is never called itself), where a capture may have iterated over the children that were
there (``self.layers.append(...)``, ``model.extra = nn.Linear(...)``); building a module counts nothing, so a
compiled function that builds an ``nn.Dropout`` inline keeps replaying.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable

import minigrad as mg

_SERIALS = itertools.count()
_REREGISTRATIONS = [0]
_mode_read = mg.compiler.mode_read
_mode_changed = mg.compiler.mode_changed


def reregistered() -> None:
    """Count a registered parameter, module or buffer replaced or removed, or a hook added or removed
    (``Module``, the containers that edit ``_modules`` directly, and nn.hooks call it)."""
    _REREGISTRATIONS[0] += 1


def first_registration(owner: Any) -> None:
    """A parameter, module or buffer registered into ``owner`` under a new name: a re-registration if ``owner``
    was called (see :func:`mark_called`), nothing while it is being built."""
    if "_called" in owner.__dict__:
        _REREGISTRATIONS[0] += 1


def mark_called(modules: Iterable[Any]) -> None:
    """Mark ``modules`` called (a root's first call marks its whole tree; a module registered into a called one
    is marked too): from then on a first registration into any of them is counted."""
    for module in modules:
        module.__dict__["_called"] = True


def give_serial(module: Any) -> None:
    """A new module's (or a copy's) own serial number (ids are reused, serials never)."""
    object.__setattr__(module, "_serial", next(_SERIALS))


class TrainingFlag:
    """``Module.training``: kept in the module's ``__dict__``; each read is told to a capture running in this
    thread (~0.1 µs: a forward reads it once or twice), and an assignment is :func:`set_mode`."""

    def __get__(self, module: Any, owner: type | None = None) -> Any:
        if module is None:
            return self
        try:
            flag = module.__dict__["training"]
        except KeyError:
            raise AttributeError(f"{type(module).__name__} has no attribute 'training' (Module.__init__() "
                                 "not called yet?)") from None
        _mode_read(module, flag)
        return flag

    def __set__(self, module: Any, value: Any) -> None:
        set_mode(module, bool(value))


def set_mode(module: Any, training: bool) -> None:
    """``module.training = training``, told to ``mg.compile`` when it changes (after the flag is set)."""
    before = module.__dict__.get("training")
    if before is not training:
        module.__dict__["training"] = training
        _mode_changed(module, before)


mg.compiler.add_guard(lambda: _REREGISTRATIONS[0])
