"""What ``mg.compile`` reads from nn to tell whether a capture still fits: which modules are in eval mode
(part of every compiled call's signature) and how many times a registration changed (a guard).

Modes: every compiled call's signature includes which modules are in eval mode (by serial number: ids are
reused, serials never), so a function captured with dropout on is captured again after ``model.eval()``
instead of replaying it. The set changes only in ``train()``/``eval()`` and on assigning ``.training``; its
frozen copy is made once per change.

Re-registrations: a parameter, child module or buffer replaced or removed after it was registered, or a hook
added or removed. A capture holds the tensor objects it read, so after ``model.fc = nn.Linear(...)`` every
compiled call is captured again. First assignments do not count.
"""

from __future__ import annotations

import itertools
from typing import Any

import minigrad as mg

_SERIALS = itertools.count()
_IN_EVAL: set[int] = set()
_modes_key: list = [frozenset()]   # the frozen copy of _IN_EVAL (None: stale)
_REREGISTRATIONS = [0]


def reregistered() -> None:
    """Count a registered parameter, module or buffer replaced or removed, or a hook added or removed
    (``Module``, the containers that edit ``_modules`` directly, and nn.hooks call it)."""
    _REREGISTRATIONS[0] += 1


def give_serial(module: Any) -> None:
    """A new module's (or a copy's) own serial number, counted in eval mode if the module is."""
    object.__setattr__(module, "_serial", next(_SERIALS))
    if not module.__dict__.get("training", True):
        _IN_EVAL.add(module._serial)
        _modes_key[0] = None


def set_mode(module: Any, training: bool) -> None:
    """``module.training = training``, recorded for the signature."""
    if module.__dict__.get("training") is not training:
        object.__setattr__(module, "training", training)
        if training:
            _IN_EVAL.discard(module._serial)
        else:
            _IN_EVAL.add(module._serial)
        _modes_key[0] = None


def _modes() -> frozenset:
    """The serial numbers of the modules in eval mode, frozen: part of every mg.compile signature."""
    key = _modes_key[0]
    if key is None:
        key = _modes_key[0] = frozenset(_IN_EVAL)
    return key


mg.compiler.add_signature_part(_modes)
mg.compiler.add_guard(lambda: _REREGISTRATIONS[0])
