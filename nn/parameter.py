"""``torch.nn.parameter``'s names, where older programs import them from: ``from torch.nn.parameter import
Parameter`` (tkipf/pygcn's layers) becomes ``from minigrad.nn.parameter import Parameter``.

The same classes as ``nn.Parameter`` and ``nn.Buffer``; PyTorch's ``UninitializedParameter`` has no class here
(lazy modules hold empty placeholders, nn/_lazy_more.py).
"""

from __future__ import annotations

from ._buffer import Buffer
from .module import Parameter

__all__ = ["Buffer", "Parameter"]
