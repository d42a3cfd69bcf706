"""``torch.jit`` as training programs call it: ``mg.jit.script``, ``mg.jit.trace`` and the decorators.

minigrad has no TorchScript: no compiler, no graph IR, no archive. Programs script or trace a model to run it
faster or to save it for a runtime without Python; the training they do through the result is what must
give the same numbers, and here it does:

* ``script(obj)`` returns ``obj`` itself: a scripted module keeps its parameters (torch's shares them too),
  its ``train()``/``eval()``, its submodules and its results; a scripted function is the function.
* ``trace(func, example_inputs)`` runs ``func`` once on the example without recording (torch's tracing run;
  its ``check_trace`` runs it twice more, so a forward that updates buffers in training mode, BatchNorm's
  running statistics, moves them once here and more often in torch: trace in ``eval()`` mode, or with
  ``check_trace=False``, to get the same buffers) and returns ``func`` itself. Unlike torch's trace, Python
  control flow on tensor values stays live: torch freezes the branch the example took (with a
  ``TracerWarning``) and gives other inputs the example's path; here each call takes its own. For a captured,
  replayed graph use ``mg.compile``.
* ``save``/``load`` raise ``NotImplementedError``: a TorchScript archive holds the model's code, which
  minigrad cannot write or run. Save the weights with ``mg.save(model.state_dict(), path)`` and load them into
  a model built from its class (``model.load_state_dict(mg.load(path))``).
* ``ignore``, ``unused``, ``export``, ``annotate``, ``Final``, ``is_scripting()``/``is_tracing()`` (False) are
  torch's no-ops for eager Python.

``script`` and ``trace`` warn with torch 2.13's ``DeprecationWarning`` (TorchScript is deprecated there).
"""

from __future__ import annotations

import warnings
from typing import Any, Final, TypeVar  # Final: torch.jit.Final[int] in a class body is typing's

from .recording import no_grad
from .tensor import Tensor

__all__ = ["Final", "annotate", "export", "ignore", "is_scripting", "is_tracing", "load", "save", "script",
           "trace", "unused"]

F = TypeVar("F")

_NO_ARCHIVE = ("minigrad has no TorchScript archive (it holds the model's code, which minigrad cannot write or "
               "run); save the weights with mg.save(model.state_dict(), path) and load them into a model built "
               "from its class with model.load_state_dict(mg.load(path))")


def _deprecated(name: str) -> None:
    warnings.warn(f"`torch.jit.{name}` is deprecated. Please switch to `torch.compile` or `torch.export`.",
                  DeprecationWarning, stacklevel=3)


def script(obj: F, optimize: Any = None, _frames_up: int = 0, _rcb: Any = None,
           example_inputs: Any = None) -> F:
    """torch.jit.script: ``obj`` itself (a module, function or class), run eagerly."""
    _deprecated("script")
    return obj


def trace(func: F, example_inputs: Any = None, optimize: Any = None, check_trace: bool = True,
          check_inputs: Any = None, check_tolerance: float = 1e-5, strict: bool = True,
          _force_outplace: bool = False, _module_class: Any = None, _compilation_unit: Any = None,
          example_kwarg_inputs: dict | None = None, _store_inputs: bool = True) -> F:
    """torch.jit.trace: runs ``func(*example_inputs, **example_kwarg_inputs)`` once without recording (a
    tensor example is one argument), then returns ``func`` itself, run eagerly (module docstring)."""
    _deprecated("trace")
    if example_inputs is None and example_kwarg_inputs is None:
        raise RuntimeError("trace: give example_inputs (a tensor or a tuple of them) or example_kwarg_inputs")
    args = (example_inputs,) if isinstance(example_inputs, Tensor) else tuple(example_inputs or ())
    with no_grad():
        func(*args, **(example_kwarg_inputs or {}))   # type: ignore[operator]
    return func


def save(m: Any, f: Any, _extra_files: Any = None) -> None:
    """torch.jit.save: not supported (module docstring)."""
    raise NotImplementedError(f"mg.jit.save: {_NO_ARCHIVE}")


def load(f: Any, map_location: Any = None, _extra_files: Any = None, _restore_shapes: bool = False) -> Any:
    """torch.jit.load: not supported (module docstring)."""
    raise NotImplementedError(f"mg.jit.load: {_NO_ARCHIVE}")


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    """@torch.jit.ignore and @torch.jit.ignore(drop=...): the function itself."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: F) -> F:
    """@torch.jit.unused: the function itself."""
    return fn


def export(fn: F) -> F:
    """@torch.jit.export: the method itself."""
    return fn


def annotate(the_type: Any, the_value: F) -> F:
    """torch.jit.annotate: the value."""
    return the_value


def is_scripting() -> bool:
    """False: nothing is ever compiled by TorchScript here."""
    return False


def is_tracing() -> bool:
    """False: ``trace`` runs its function eagerly."""
    return False

