"""Fractional max pooling layers, as ``torch.nn.FractionalMaxPool2d``/``3d``: each holds its options (and the
optional ``_random_samples`` buffer) and calls :func:`nn.functional.fractional_max_pool2d`/``3d``."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from ._fractional_pool import fractional_max_pool2d, fractional_max_pool3d
from .module import Module

__all__ = ["FractionalMaxPool2d", "FractionalMaxPool3d"]


class _FractionalMaxPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                 return_indices: bool = False, _random_samples: Tensor | None = None) -> None:
        super().__init__()
        name, dims = type(self).__name__, self.dims

        def spread(value: Any) -> tuple:   # torch's _pair/_triple
            return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims

        self.kernel_size = spread(kernel_size)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = spread(output_size) if output_size is not None else None
        self.output_ratio = spread(output_ratio) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling over (H, W) (Graham 2014): (N, C, H, W) or (C, H, W) → (N, C, oH, oW) with
    ``output_size`` or ``output_ratio`` (in (0, 1)); fresh pseudo-random window starts per call unless
    ``_random_samples`` (N, C, 2) is given. ``return_indices``: also the positions in the H·W plane."""

    dims = 2

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        """input: (N, C, H, W) or (C, H, W) → (N, C, oH, oW) or (C, oH, oW); (values, indices) with
        ``return_indices``."""
        return fractional_max_pool2d(input, self.kernel_size, self.output_size, self.output_ratio,
                                     self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """:class:`FractionalMaxPool2d` over (T, H, W): (N, C, T, H, W) or (C, T, H, W) → (N, C, oT, oH, oW);
    ``_random_samples`` (N, C, 3)."""

    dims = 3

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        """input: (N, C, T, H, W) or (C, T, H, W) → (N, C, oT, oH, oW) or (C, oT, oH, oW); (values, indices) with
        ``return_indices``."""
        return fractional_max_pool3d(input, self.kernel_size, self.output_size, self.output_ratio,
                                     self.return_indices, _random_samples=self._random_samples)
