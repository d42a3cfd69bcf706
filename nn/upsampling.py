"""Resizing and rearranging layers, as ``torch.nn``'s: ``Upsample``, ``UpsamplingNearest2d``,
``UpsamplingBilinear2d``, ``PixelShuffle``, ``PixelUnshuffle`` and ``ChannelShuffle``. Each holds its options
and calls ``F.interpolate`` or ``mg.pixel_shuffle``/``pixel_unshuffle``/``channel_shuffle``."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor, channel_shuffle, pixel_shuffle, pixel_unshuffle

from . import functional as F  # its float16 path (float32, rounded once)
from .module import Module

__all__ = ["ChannelShuffle", "PixelShuffle", "PixelUnshuffle", "Upsample", "UpsamplingBilinear2d",
           "UpsamplingNearest2d"]


class Upsample(Module):
    """Resize (N, C, *S) to ``size`` or by ``scale_factor``, as ``torch.nn.Upsample`` (see ``F.interpolate`` for
    ``mode``, ``align_corners`` and ``recompute_scale_factor``). ``scale_factor`` is kept as a float (or a tuple of
    floats), as PyTorch's."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None, *,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: Any = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *S) → (N, C, *size), or (N, C, *⌊S·scale_factor⌋)."""
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        text = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return text + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour resizing of (N, C, H, W), as ``torch.nn.UpsamplingNearest2d`` (deprecated there in favour
    of ``Upsample``/``F.interpolate``)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear resizing of (N, C, H, W) with ``align_corners=True``, as ``torch.nn.UpsamplingBilinear2d``."""

    def __init__(self, size: Any = None, scale_factor: Any = None, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r), r = ``upscale_factor``, as ``torch.nn.PixelShuffle`` (see
    ``mg.pixel_shuffle``)."""

    def __init__(self, upscale_factor: int, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (*, C·r², H, W) → (*, C, H·r, W·r)."""
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W), r = ``downscale_factor``, as ``torch.nn.PixelUnshuffle``."""

    def __init__(self, downscale_factor: int, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (*, C, H·r, W·r) → (*, C·r², H, W)."""
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Deal the channels of (N, C, *) out group by group, as ``torch.nn.ChannelShuffle`` (ShuffleNet's)."""

    def __init__(self, groups: int, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (N, C, *) → the same shape, channels reordered."""
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
