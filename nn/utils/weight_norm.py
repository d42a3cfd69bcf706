"""The legacy weight normalisation, as ``torch.nn.utils.weight_norm`` (deprecated there in favour of
:func:`nn.utils.parametrizations.weight_norm`, with the same FutureWarning here).

``weight_norm(module, "weight")`` replaces the parameter ``weight`` by ``weight_g`` (the norm of each slice
along ``dim``) and ``weight_v`` (the direction), and a forward pre-hook sets the plain attribute
``module.weight = weight_g · weight_v / ‖weight_v‖`` before every call (so under ``mg.compile`` the module's
calls run eagerly, as for any module with hooks).
"""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

from minigrad import Tensor

from .._compile_state import reregistered
from ..module import Module, Parameter
from .parametrizations import _weight_norm, norm_except_dim

__all__ = ["WeightNorm", "remove_weight_norm", "weight_norm"]

T_module = TypeVar("T_module", bound=Module)


def _forward_pre_hooks(module: Module) -> dict:
    """``module``'s forward pre-hooks by key (``(hook, options)`` values), as nn.hooks keeps them."""
    hooks = module.__dict__.get("_hooks")
    return hooks["forward_pre"] if hooks else {}


class WeightNorm:
    """The forward pre-hook of :func:`weight_norm`: ``module.<name> = g · v / ‖v‖`` from ``<name>_g``, ``<name>_v``."""

    name: str
    dim: int

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return _weight_norm(v, g, self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int | None) -> WeightNorm:
        warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                      "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=3)
        for hook, _ in _forward_pre_hooks(module).values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if name not in module._parameters:   # a buffer, a plain or a parametrized tensor: PyTorch's KeyError
            raise KeyError(f"weight_norm: {type(module).__name__}.{name} is a {type(weight).__name__}, not a "
                           "parameter of the module")
        if not isinstance(weight, Parameter):
            raise TypeError(f"weight_norm: {type(module).__name__}.{name} is a {type(weight).__name__}, not a "
                            "Parameter")
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        delattr(module, self.name + "_g")
        delattr(module, self.name + "_v")
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Weight normalisation w = g · v / ‖v‖ of ``module.<name>`` by a forward pre-hook, as PyTorch's legacy
    ``nn.utils.weight_norm`` (a FutureWarning points to :func:`nn.utils.parametrizations.weight_norm`).

    Parameters ``<name>_g`` (the norm of each slice along ``dim``: the weight's shape with 1 in every other
    dim; ``dim=None`` or ``-1``: the whole tensor's, shape ()) and ``<name>_v`` (the weight's shape) replace
    ``<name>``, which becomes a plain attribute recomputed before each call. Returns ``module``.
    """
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Undo :func:`weight_norm`: ``<name>`` is a Parameter again holding g · v / ‖v‖. Returns ``module``."""
    hooks = _forward_pre_hooks(module)
    for key, (hook, _) in list(hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del hooks[key]
            reregistered()
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
