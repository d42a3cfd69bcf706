"""minigrad's neural-network library: modules, layers, recurrent cells, losses, optimizers.

``import nn`` or ``from minigrad import nn`` (the same module object).
"""

from __future__ import annotations

from . import functional, init, utils
from .module import LoadResult, Module, Parameter, StateDictError

__all__ = ["LoadResult", "Module", "Parameter", "StateDictError", "functional", "init", "utils"]
