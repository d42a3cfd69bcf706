"""The 2-D and 3-D padding layers, as ``torch.nn``'s: ``ZeroPad2d``/``3d``, ``ConstantPad2d``/``3d``,
``ReflectionPad2d``/``3d``, ``ReplicationPad2d``/``3d`` and ``CircularPad2d``/``3d`` (the 1-D ones are in
``nn/conv.py``). Each calls ``F.pad``; a negative amount crops, as PyTorch's."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from ._errors import InputShapeError
from ._padding import check_pad_input, pad_amounts
from .functional import pad
from .module import Module

__all__ = ["CircularPad2d", "CircularPad3d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad2d", "ReplicationPad3d", "ZeroPad2d", "ZeroPad3d"]


class _PadNd(Module):
    """Pad the last ``dims`` dims by ``padding``: an int for every side, or (left, right, top, bottom[, front,
    back]) starting from the last dim, as ``F.pad``'s amounts (see :func:`pad_amounts`)."""

    dims = 0
    mode = "constant"

    def __init__(self, padding: Any, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.padding = pad_amounts(padding, self.dims, type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        if self.mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        padded = len(self.padding) // 2
        check_pad_input(type(self).__name__, self.mode, input, self.dims, padded)
        # torch's 2-D/3-D kernels give an empty dim where the amounts crop exactly all of it (the 1-D ones refuse);
        # F.pad refuses any size <= 0, so such a dim is left unpadded and emptied after F.pad (which, as torch's
        # kernels, refuses an input with an empty non-batch dim). Otherwise F.pad's order, as torch's (circular
        # crops first, reflect reads past the crop, replicate copies input[clamp(j - before)]).
        amounts, emptied = list(self.padding), []
        for k in range(padded if padded > 1 else 0):
            axis, (before, after) = input.ndim - 1 - k, amounts[2 * k:2 * k + 2]
            if self.mode != "circular" and input.shape[axis] + before + after == 0:
                if self.mode == "reflect" and max(before, after) >= input.shape[axis]:
                    raise InputShapeError(f"{type(self).__name__}: padding size should be less than the "
                                          f"corresponding input dimension, but got padding ({before}, {after}) "
                                          f"of dim {axis} of an input of shape {input.shape}")
                amounts[2 * k:2 * k + 2] = (0, 0)
                emptied.append(axis)
        if emptied and len(emptied) == padded:
            raise InputShapeError(f"{type(self).__name__}: input of shape {input.shape} is too small: padding "
                                  f"{self.padding} leaves each of its last {padded} dims empty")
        out = pad(input, tuple(amounts), self.mode)
        for axis in emptied:
            out = out.narrow(axis, 0, 0)
        return out.clone() if emptied else out   # never a view, as F.pad's result

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: (*, H, W) → (*, top + H + bottom, left + W + right), as
    ``torch.nn.ConstantPad2d``; ``padding`` an int or (left, right, top, bottom)."""

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``, as ``torch.nn.ConstantPad3d``; ``padding`` an int or
    (left, right, top, bottom, front, back)."""

    dims = 3


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros, as ``torch.nn.ZeroPad2d``; ``padding`` an int or (left, right, top,
    bottom)."""

    def __init__(self, padding: Any, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dims with zeros, as ``torch.nn.ZeroPad3d``."""

    def __init__(self, padding: Any, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims about their edge entries (not repeating them): (C, H, W) or (N, C, H, W), as
    ``torch.nn.ReflectionPad2d``; each amount smaller than its dim."""

    dims, mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirror the last three dims about their edge entries: (C, D, H, W) or (N, C, D, H, W), as
    ``torch.nn.ReflectionPad3d``."""

    dims, mode = 3, "reflect"


class ReplicationPad2d(_PadNd):
    """Repeat the edge entries of the last two dims: (C, H, W) or (N, C, H, W), as ``torch.nn.ReplicationPad2d``."""

    dims, mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeat the edge entries of the last three dims: (C, D, H, W) or (N, C, D, H, W), as
    ``torch.nn.ReplicationPad3d``."""

    dims, mode = 3, "replicate"


class CircularPad2d(_PadNd):
    """Wrap the last two dims around: (C, H, W) or (N, C, H, W), as ``torch.nn.CircularPad2d``; each amount at
    most its dim."""

    dims, mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Wrap the last three dims around: (C, D, H, W) or (N, C, D, H, W), as ``torch.nn.CircularPad3d``."""

    dims, mode = 3, "circular"
