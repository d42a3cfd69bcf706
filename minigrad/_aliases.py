"""``import minigrad.nn`` and ``import minigrad.optim``: the top-level ``nn`` package under the engine's name.

``nn`` is a package of its own that depends on ``minigrad`` (the engine never
imports it when loaded). PyTorch users write ``import torch.nn`` and
``from torch import optim``, so the same spellings must work here and give the
very same module objects as ``import nn`` and ``nn.optim`` (two copies of
``nn.functional`` would mean two ``Module`` classes that ``isinstance`` tells
apart). A finder at the front of ``sys.meta_path`` answers for the aliased
names by importing the real module on first use and handing it back as is.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any, Sequence

# alias prefix → real prefix; submodules follow (minigrad.nn.functional → nn.functional)
ALIASES = {"minigrad.nn": "nn", "minigrad.optim": "nn.optim"}


def real_name(fullname: str) -> str | None:
    """The real module's name for an aliased ``fullname``, or None if it is not an alias."""
    for alias, real in ALIASES.items():
        if fullname == alias or fullname.startswith(alias + "."):
            return real + fullname[len(alias):]
    return None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real: str) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # the import system keeps the real module's __name__ and __spec__ (it only fills missing ones)
        return importlib.import_module(self.real)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the real module was executed when it was imported."""


class AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``minigrad.nn[.x]`` and ``minigrad.optim[.x]`` as the real ``nn[.x]`` / ``nn.optim[.x]``."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: Any = None) -> importlib.machinery.ModuleSpec | None:
        real = real_name(fullname)
        if real is None:
            return None
        if importlib.util.find_spec(real) is None:
            return None   # let the usual ModuleNotFoundError name the alias
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real))


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once), before the path finder could load a second copy."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
