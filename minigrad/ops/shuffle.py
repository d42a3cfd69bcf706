"""PyTorch's channel-to-space rearrangements: ``pixel_shuffle``, ``pixel_unshuffle`` and ``channel_shuffle``
(``torch.X`` and ``torch.nn.functional.X``; ``nn.functional`` re-exports them).

Each is one reshape, one permute and one reshape, so the gradient is the inverse rearrangement the engine
already knows, and the graph shows the three ops.
"""

from __future__ import annotations

from typing import Any

from .. import memory_formats
from ..tensor import Tensor
from ._util import ShapeMismatchError, int_arg, tensor_arg
from .shape import permute, reshape

__all__ = ["channel_shuffle", "native_channel_shuffle", "pixel_shuffle", "pixel_unshuffle"]


def _factor(value: Any, name: str, what: str) -> int:
    factor = int_arg(value, name, what)
    if factor <= 0:
        raise ShapeMismatchError(f"{name} expects a positive {what}, but got {factor}")
    return factor


def _new(result: Tensor, x: Tensor) -> Tensor:
    """``result`` as a tensor of its own, as PyTorch's rearrangements return: where the permute moves nothing
    (a factor of 1, one group, size-1 dims) the reshapes give a view of the input, which is copied; in the layout
    ``x`` suggests, as PyTorch's kernels allocate it (a channels-last or channels-last-3d x: a result so laid out)."""
    result = result.clone() if getattr(result, "_view", None) else result
    if result.ndim not in (4, 5) or memory_formats.suggests_c_order(x.data):   # (the usual case: one flags check)
        # C order, as PyTorch's: where the permute moved only size-1 dims, the reshapes kept its strides
        # (pixel_unshuffle of a (1, H, W) input), and `.view(-1)` raised
        return result if result.data.flags.c_contiguous else result.contiguous()
    return result.contiguous(memory_format=memory_formats.suggest(tuple(x.shape), x.data.strides))


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002 - PyTorch's name
    """(*, C·r², H, W) → (*, C, H·r, W·r), r = ``upscale_factor``: output pixel (h·r + i, w·r + j) of channel c
    is input channel c·r² + i·r + j at (h, w), as ``torch.pixel_shuffle`` (sub-pixel convolution's upsampling)."""
    name = "pixel_shuffle"
    x = tensor_arg(input, name)
    r = _factor(upscale_factor, name, "upscale_factor")
    if x.ndim < 3:
        raise ShapeMismatchError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                                 f"{x.ndim} dimension(s)")
    *batch, channels, height, width = x.shape
    if channels % (r * r):
        raise ShapeMismatchError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
                                 f"square of upscale_factor, but input.size(-3)={channels} is not divisible by {r * r}")
    lead = len(batch)
    blocks = reshape(x, (*batch, channels // (r * r), r, r, height, width))
    order = tuple(range(lead)) + tuple(lead + k for k in (0, 3, 1, 4, 2))   # (*, C, H, r, W, r)
    return _new(reshape(permute(blocks, order), (*batch, channels // (r * r), height * r, width * r)), x)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C, H·r, W·r) → (*, C·r², H, W), the inverse of :func:`pixel_shuffle`, as ``torch.pixel_unshuffle``."""
    name = "pixel_unshuffle"
    x = tensor_arg(input, name)
    r = _factor(downscale_factor, name, "downscale_factor")
    if x.ndim < 3:
        raise ShapeMismatchError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                                 f"{x.ndim} dimension(s)")
    *batch, channels, height, width = x.shape
    for what, size, axis in (("height", height, -2), ("width", width, -1)):
        if size % r:
            raise ShapeMismatchError(f"pixel_unshuffle expects {what} to be divisible by downscale_factor, but "
                                     f"input.size({axis})={size} is not divisible by {r}")
    lead = len(batch)
    blocks = reshape(x, (*batch, channels, height // r, r, width // r, r))
    order = tuple(range(lead)) + tuple(lead + k for k in (0, 2, 4, 1, 3))   # (*, C, r, r, H, W)
    return _new(reshape(permute(blocks, order), (*batch, channels * r * r, height // r, width // r)), x)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:  # noqa: A002
    """(N, C, *) with the channels dealt out group by group: channel g·(C/groups) + k moves to k·groups + g, as
    ``torch.nn.functional.channel_shuffle`` (ShuffleNet's)."""
    name = "channel_shuffle"
    x = tensor_arg(input, name)
    groups = int_arg(groups, name, "groups", one_element=True)   # PyTorch's SymInt: tensor([2]) too
    if x.ndim <= 2:
        raise ShapeMismatchError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                                 f"{list(x.shape)}")
    if groups <= 0:
        raise ShapeMismatchError(f"channel_shuffle: Number of groups to divide channels in must be positive. "
                                 f"Value of groups:{groups}")
    batch, channels, *rest = x.shape
    if channels % groups:
        raise ShapeMismatchError(f"channel_shuffle: Number of channels must be divisible by groups. Got {channels} "
                                 f"channels and {groups} groups (input of shape {x.shape}).")
    grouped = reshape(x, (batch, groups, channels // groups, *rest))
    order = (0, 2, 1) + tuple(range(3, x.ndim + 1))
    return _new(reshape(permute(grouped, order), x.shape), x)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:  # noqa: A002
    """``torch.native_channel_shuffle``: :func:`channel_shuffle`; input (N, C, *) → (N, C, *)."""
    return channel_shuffle(input, groups)
