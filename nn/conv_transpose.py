"""Transposed convolutions, ``Conv3d`` and the sliding-block layers, as ``torch.nn``'s: ``ConvTranspose1d``/``2d``/
``3d``, ``Conv3d``, ``Fold`` and ``Unfold``.

Each holds its options (a transposed convolution its ``weight`` (in, out/groups, *kernel) and ``bias`` (out,),
named and initialised as PyTorch's) and calls the function of the same name in :mod:`nn.functional`.
"""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg
from minigrad import Tensor

from . import functional as F  # its float16 paths of the convolutions (float32, rounded once)
from . import init
from ._conv import _module_ints, _python_tuple, _unspread
from ._errors import InputShapeError
from ._fold import fold, unfold
from ._parameters import float_dtype
from .conv import _ConvNd, check_channels
from .module import Module, Parameter

__all__ = ["Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Fold", "Unfold"]


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W) → (N, C_out, D_out, H_out, W_out), as
    ``torch.nn.Conv3d``; ``weight``: (C_out, C_in/groups, kD, kH, kW). Arguments as ``Conv1d``'s, each an int or a
    triple."""

    dims = 3
    _function = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    """What the transposed convolutions share; a ``_ConvNd`` as in PyTorch (``transposed=True``), so
    ``isinstance(m, nn.modules.conv._ConvNd)`` in weight-initialisation code finds them too."""

    dims = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        Module.__init__(self)   # its own options: _ConvNd.__init__ takes the forward convolution's
        name = type(self).__name__
        in_channels, out_channels = check_channels(name, in_channels, out_channels, groups, transposed=True)
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        _unspread(_python_tuple(kernel_size, name, "kernel_size"), self.dims, name, "kernel_size")
        self.kernel_size = _module_ints(kernel_size, self.dims, name, "kernel_size", 1, weight_shape=True)
        self.stride = _module_ints(stride, self.dims, name, "stride", 1)
        self.padding = _module_ints(padding, self.dims, name, "padding", 0)
        self.output_padding = _module_ints(output_padding, self.dims, name, "output_padding", 0)
        self.dilation = _module_ints(dilation, self.dims, name, "dilation", 1)
        self.transposed, self.padding_mode = True, padding_mode
        dt = float_dtype(dtype, name, complex_ok=True)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(mg.empty(*shape, dtype=dt, device=device))
        if bias:
            self.bias = Parameter(mg.empty(self.out_channels, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: weight kaiming-uniform with a=√5, bias U(-1/√fan_in, 1/√fan_in), fan_in = the weight's
        dim 1 times ∏k = out/groups·∏k."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple:
        """The output padding that gives ``output_size`` (PyTorch's ``_output_padding``), or the layer's."""
        if output_size is None:
            return self.output_padding
        dims, name = self.dims, type(self).__name__
        leading = 2 if x.ndim == dims + 2 else 1
        size = list(output_size)
        if len(size) == leading + dims:
            size = size[leading:]
        if len(size) != dims:
            raise ValueError(f"ConvTranspose{dims}D: for {x.ndim}D input, output_size must have {dims} or "
                             f"{leading + dims} elements (got {len(size)})")
        smallest = [(x.shape[leading + d] - 1) * self.stride[d] - 2 * self.padding[d]
                    + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(dims)]
        largest = [low + s - 1 for low, s in zip(smallest, self.stride)]
        if any(not low <= s <= high for s, low, high in zip(size, smallest, largest)):
            raise ValueError(f"{name}: requested an output size of {tuple(size)}, but valid sizes range from "
                             f"{smallest} to {largest} (for an input of {tuple(x.shape[leading:])})")
        return tuple(s - low for s, low in zip(size, smallest))

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C_in, *S) or (C_in, *S) → (N, C_out, *S_out) or (C_out, *S_out); ``output_size`` picks S_out where
        the stride leaves a choice."""
        if not isinstance(input, Tensor) or input.ndim not in (self.dims + 1, self.dims + 2):
            got = getattr(input, "shape", type(input).__name__)
            raise InputShapeError(f"{type(self).__name__}: expected a {self.dims + 1}-D (unbatched) or "
                                  f"{self.dims + 2}-D (batched) input, got {got}")
        output_padding = self._output_padding(input, output_size)
        return self._function(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                              self.dilation)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the gradient of ``Conv1d`` with respect to its input), as
    ``torch.nn.ConvTranspose1d``: (N, C_in, L) or (C_in, L) → (N, C_out, L_out),
    L_out = (L - 1)·stride - 2·padding + dilation·(k - 1) + output_padding + 1.

    ``weight``: (C_in, C_out/groups, k), ``bias``: (C_out,). ``forward(x, output_size=…)`` picks the output
    padding that gives that size, as PyTorch's. Only ``padding_mode='zeros'``, as PyTorch.
    """

    dims = 1
    _function = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``: (N, C_in, H, W) or (C_in, H, W) →
    (N, C_out, H_out, W_out), sizes as :class:`ConvTranspose1d`'s; ``weight``: (C_in, C_out/groups, kH, kW)."""

    dims = 2
    _function = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution, as ``torch.nn.ConvTranspose3d``: (N, C_in, D, H, W) or (C_in, D, H, W) →
    (N, C_out, D_out, H_out, W_out); ``weight``: (C_in, C_out/groups, kD, kH, kW)."""

    dims = 3
    _function = staticmethod(F.conv_transpose3d)


class Unfold(Module):
    """Sliding blocks as columns, (N, C, H, W) → (N, C·∏k, L), as ``torch.nn.Unfold`` (see ``F.unfold``)."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (N, C, H, W) or (C, H, W) → (N, C·∏kernel_size, L) or (C·∏kernel_size, L), L = the block count."""
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Columns of sliding blocks summed into an image, (N, C·∏k, L) → (N, C, *output_size), as ``torch.nn.Fold``
    (see ``F.fold``)."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (N, C·∏kernel_size, L) or (C·∏kernel_size, L) → (N, C, *output_size) or (C, *output_size)."""
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
