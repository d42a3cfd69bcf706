"""``layer.compile`` of the recurrent layers (``nn/recurrent.py``): both the ``compile=`` option and
``Module.compile``.

A layer built with ``compile=True`` replays each loop over time through ``mg.compile``; PyTorch code also calls
``model.compile()``. A plain bool attribute named ``compile`` would hide the method ("'bool' object is not
callable"), so the attribute is a descriptor whose value is truthy like the option and callable like the method.
"""

from __future__ import annotations

from typing import Any

from .module import Module


class CompileSwitch:
    """The descriptor: setting ``layer.compile`` stores the option, reading it gives a :class:`BoundCompile`."""

    def __get__(self, layer: Any, owner: Any = None) -> Any:
        return self if layer is None else BoundCompile(layer)

    def __set__(self, layer: Any, value: Any) -> None:
        layer.__dict__["_compile_loops"] = bool(value)


class BoundCompile:
    """What ``layer.compile`` reads as: truthy when ``compile=True`` was set, and callable as ``Module.compile``."""

    __slots__ = ("_layer",)

    def __init__(self, layer: Module) -> None:
        self._layer = layer

    def __bool__(self) -> bool:
        return self._layer.__dict__.get("_compile_loops", False)

    def __eq__(self, other: Any) -> bool:
        return bool(self) == other

    def __hash__(self) -> int:
        return hash(bool(self))

    def __repr__(self) -> str:
        return repr(bool(self))

    def __call__(self, **kwargs: Any) -> None:
        """``Module.compile(**kwargs)``: the whole module's calls through ``mg.compile``."""
        Module.compile(self._layer, **kwargs)
