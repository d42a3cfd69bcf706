"""PyTorch's deprecated module classes that older programs still construct: ``nn.NLLLoss2d`` (``NLLLoss``, which
takes (N, C, H, W) inputs itself) and ``nn.Container`` (a Module holding the modules given as keywords). Each warns
as PyTorch's does (FutureWarning) when constructed."""

from __future__ import annotations

import warnings
from typing import Any

from .loss import NLLLoss
from .module import Module

__all__ = ["Container", "NLLLoss2d"]


class NLLLoss2d(NLLLoss):
    """Deprecated: :class:`NLLLoss` (with PyTorch's FutureWarning)."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                 reduction: str = "mean") -> None:
        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in replacement and see "
                      "https://pytorch.org/docs/main/nn.html#torch.nn.NLLLoss for more details.", FutureWarning,
                      stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class Container(Module):
    """Deprecated: a :class:`Module` with the modules given as keywords as its children (PyTorch's warning)."""

    def __init__(self, **kwargs: Any) -> None:
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. "
                      "Subclass that instead.", FutureWarning, stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
