"""``torch.nn.utils.memory_format``: lay out the weights of a model's convolutions in another memory format.

``convert_conv2d_weight_memory_format(model, mg.channels_last)`` gives every ``Conv2d``/``ConvTranspose2d`` weight
(out, in, kh, kw) NHWC strides (the same values and shape, the same Parameter objects); the 3-d form does the same
for ``Conv3d``/``ConvTranspose3d`` with ``mg.channels_last_3d``. The layout changes no result here (NumPy and CuPy pick
their kernels by dtype, not by strides); it is kept for PyTorch programs that call it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import minigrad as mg

from ..conv import Conv2d
from ..conv_transpose import Conv3d, ConvTranspose2d, ConvTranspose3d
from ..module import Module

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]

M = TypeVar("M", bound=Module)


def _convert(module: M, memory_format: Any, kinds: tuple) -> M:
    """``module`` and its descendants: each weight of a module of ``kinds`` re-laid out in ``memory_format``."""
    if isinstance(module, kinds):
        if memory_format is mg.preserve_format:   # PyTorch's resize_ refuses it
            raise RuntimeError(f"convert_conv_weight_memory_format: unsupported memory format {memory_format} for "
                               f"the weight of {type(module).__name__}")
        module.weight.data = module.weight.detach().clone(memory_format=memory_format).data
    for child in module.children():
        _convert(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module: M, memory_format: Any) -> M:
    """The weights of ``module``'s ``Conv2d``/``ConvTranspose2d`` layers (``module`` included, recursively) in
    ``memory_format`` (e.g. ``mg.channels_last``), in place, as PyTorch's. Returns ``module``."""
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: M, memory_format: Any) -> M:
    """The weights of ``module``'s ``Conv3d``/``ConvTranspose3d`` layers (``module`` included, recursively) in
    ``memory_format`` (e.g. ``mg.channels_last_3d``), in place, as PyTorch's. Returns ``module``."""
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
