"""``mg.compiler``, as ``torch.compiler``: whether a capture is running, and what libraries need from one.

* :func:`is_compiling` — True while ``mg.compile`` captures a call.
* :func:`disable` — a function that makes any call capturing it run eagerly (PyTorch's graph break).
* :func:`reset` — forget every capture (``torch.compiler.reset``).
* :func:`run_eagerly` — the same from inside a function, with the reason to warn with (``nn`` calls it
  for a module with hooks: a replay would skip them).
* :func:`add_signature_part`, :func:`add_guard` — Python-level state a capture cannot see: a part joins
  every call's signature, a guard captures again when it changes (``nn``: a parameter or child module
  replaced, a hook added or removed).
* :func:`mode_read`, :func:`mode_changed` — ``nn`` tells of each read and change of a module's
  ``training`` flag: a call's signature holds the flags of the modules its captures read or set.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from .compile import add_guard, add_signature_part, is_compiling, mode_changed, mode_read, reset, run_eagerly

__all__ = ["add_guard", "add_signature_part", "disable", "is_compiling", "mode_changed", "mode_read", "reset",
           "run_eagerly"]


def disable(fn: Callable | None = None, recursive: bool = True) -> Any:
    """``fn`` as is, except that a call to it inside a capture makes that capture's signature run eagerly
    (as ``torch.compiler.disable``; ``recursive`` is accepted for its signature). Use as a decorator."""
    def wrap(f: Callable) -> Callable:
        @functools.wraps(f)
        def eager(*args: Any, **kwargs: Any) -> Any:
            run_eagerly(f"it calls {getattr(f, '__qualname__', 'a function')}, marked mg.compiler.disable")
            return f(*args, **kwargs)
        return eager
    return wrap if fn is None else wrap(fn)
