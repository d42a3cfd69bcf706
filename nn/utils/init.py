"""``torch.nn.utils.init``: :func:`skip_init`, a module built without drawing its initial weights."""

from __future__ import annotations

import inspect
from typing import Any

import minigrad as mg

from ..module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args: Any, **kwargs: Any) -> Any:
    """``module_cls(*args, **kwargs)`` whose parameters are to be set by the caller (torch.nn.utils.skip_init).

    PyTorch builds the module on its meta device and leaves the memory uninitialised. Here the module is built
    as usual, inside ``mg.random.fork_rng()``: its values are its own initialisation, which the caller overwrites,
    and the global random streams are left as they were, as PyTorch's skip_init draws nothing from them. As
    PyTorch's: ``module_cls`` must be a Module class whose constructor takes ``device``.
    """
    if not isinstance(module_cls, type):   # a module instance, a function: PyTorch's issubclass TypeError
        raise TypeError(f"skip_init: module_cls must be a Module class, got {type(module_cls).__name__} {module_cls!r}")
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs.setdefault("device", "cpu")
    with mg.random.fork_rng():
        return module_cls(*args, **kwargs)
