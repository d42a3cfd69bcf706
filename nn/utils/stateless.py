"""``nn.utils.stateless``, as ``torch.nn.utils.stateless``: :func:`functional_call`, PyTorch's deprecated
spelling of ``minigrad.func.functional_call`` (one dict only; same result, with PyTorch's FutureWarning)."""

from __future__ import annotations

import warnings
from typing import Any

from minigrad.func.functional_call import call_with

__all__ = ["functional_call"]


def functional_call(module: Any, parameters_and_buffers: dict, args: Any = None, kwargs: dict | None = None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the tensors of ``parameters_and_buffers`` (``{dotted name: Tensor}``) in
    place of its parameters and buffers, restored afterwards; see ``minigrad.func.functional_call``."""
    warnings.warn("`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will be removed "
                  "in a future version of PyTorch. Please use `torch.func.functional_call` instead which is a "
                  "drop-in replacement.", FutureWarning, stacklevel=2)
    return call_with(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict)
