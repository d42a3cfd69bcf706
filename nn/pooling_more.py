"""More pooling layers, as ``torch.nn``'s: ``MaxPool3d``, ``AvgPool3d``, ``AdaptiveAvgPool3d``,
``AdaptiveMaxPool3d``, ``LPPool1d``/``2d``/``3d`` and ``MaxUnpool1d``/``2d``/``3d``. Each holds its options and
calls the function of the same name in :mod:`nn.functional`."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from . import functional as F  # its float16 paths of the average pools (float32, rounded once)
from ._conv import _ints
from ._pool_more import (
    adaptive_max_pool3d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from .conv import _AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd, _AvgPoolNd, _MaxPoolNd
from .module import Module

__all__ = ["AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AvgPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


class MaxPool3d(_MaxPoolNd):
    """Largest entry of each window: (N, C, D, H, W) or (C, D, H, W) → (N, C, D_out, H_out, W_out), as
    ``torch.nn.MaxPool3d``; ``return_indices=True`` also gives each maximum's position in the D·H·W volume."""

    _function = staticmethod(max_pool3d)


class AvgPool3d(_AvgPoolNd):
    """Mean of each window: (N, C, D, H, W) or (C, D, H, W) → (N, C, D_out, H_out, W_out), as ``torch.nn.AvgPool3d``."""

    _function = staticmethod(F.avg_pool3d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Mean over ``output_size`` (an int or a triple; None keeps a dim) windows tiling the last three dims:
    (N, C, D, H, W) or (C, D, H, W) → (N, C, D_out, H_out, W_out), as ``torch.nn.AdaptiveAvgPool3d``."""

    _function = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Largest entry of ``output_size`` windows tiling the last three dims, as ``torch.nn.AdaptiveMaxPool3d``;
    ``return_indices=True`` also gives each maximum's position in the D·H·W volume."""

    _function = staticmethod(adaptive_max_pool3d)


class _LPPoolNd(Module):
    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False, *,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return self._function(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """(Σ_window x^p)^(1/p) over windows of the last dim, as ``torch.nn.LPPool1d`` (see ``F.lp_pool1d``)."""

    _function = staticmethod(lp_pool1d)


class LPPool2d(_LPPoolNd):
    """(Σ_window x^p)^(1/p) over windows of the last two dims, as ``torch.nn.LPPool2d``."""

    _function = staticmethod(lp_pool2d)


class LPPool3d(_LPPoolNd):
    """(Σ_window x^p)^(1/p) over windows of the last three dims, as ``torch.nn.LPPool3d``."""

    _function = staticmethod(lp_pool3d)


class _MaxUnpoolNd(Module):
    dims = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _ints(kernel_size, self.dims, name, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _ints(stride, self.dims, name, "stride", 1)
        self.padding = _ints(padding, self.dims, name, "padding", 0)

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:  # noqa: A002
        return self._function(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The inverse of ``MaxPool1d``'s selection: ``forward(x, indices, output_size=None)`` puts each value at its
    index in a zero output, as ``torch.nn.MaxUnpool1d`` (see ``F.max_unpool1d``)."""

    dims = 1
    _function = staticmethod(max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """The inverse of ``MaxPool2d``'s selection, as ``torch.nn.MaxUnpool2d`` (see ``F.max_unpool2d``)."""

    dims = 2
    _function = staticmethod(max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """The inverse of ``MaxPool3d``'s selection, as ``torch.nn.MaxUnpool3d`` (see ``F.max_unpool3d``)."""

    dims = 3
    _function = staticmethod(max_unpool3d)
