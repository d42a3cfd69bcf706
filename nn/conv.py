"""Convolution, pooling and padding layers, as ``torch.nn``'s: ``Conv1d``, ``Conv2d``, ``MaxPool1d``/``2d``,
``AvgPool1d``/``2d``, ``AdaptiveAvgPool1d``, ``AdaptiveMaxPool1d`` and the 1-D padding layers.

Each holds its options (and a convolution its ``weight`` (out, in/groups, *kernel) and ``bias`` (out,), named
and initialised as PyTorch's) and calls the function of the same name in :mod:`nn.functional`. A causal
convolution is ``Conv1d(..., padding=k - 1)`` followed by ``y[..., :-(k - 1)]``, or ``ConstantPad1d((k - 1, 0),
0)`` before an unpadded ``Conv1d``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from minigrad import Tensor

from . import functional as F
from . import init
from ._conv import _module_ints, _python_tuple, _unspread
from ._errors import InputShapeError
from ._padding import check_pad_input, pad_amounts
from ._parameters import float_dtype, size_arg, weight_and_bias
from .module import Module

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d",
           "AvgPool2d", "CircularPad1d", "ConstantPad1d",
           "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "ReflectionPad1d", "ReplicationPad1d", "ZeroPad1d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_channels(name: str, in_channels: Any, out_channels: Any, groups: Any, transposed: bool = False) -> tuple:
    """PyTorch's checks of a convolution's channel counts (plain or transposed): ints, groups ≥ 1 dividing both;
    returned as ints. The channels are read as its weight's ``torch.empty`` sizes read them (a 0-d integer tensor
    or array too; a bool only after the first dim: the output channels of a convolution, the input channels of a
    transposed one); groups as an int (a non-integer is PyTorch's TypeError from its comparison)."""
    for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not isinstance(value, (int, numpy.integer, numpy.ndarray, Tensor)):   # PyTorch's `% groups` first
            raise TypeError(f"{name}: {what} must be a non-negative int, got {type(value).__name__} {value!r:.40}")
    in_channels = size_arg(in_channels, name, "in_channels", position=0 if transposed else 1)
    out_channels = size_arg(out_channels, name, "out_channels", position=1 if transposed else 0)
    if isinstance(groups, bool) or not isinstance(groups, (int, numpy.integer)):
        raise TypeError(f"{name}: groups must be a positive int, got {type(groups).__name__} {groups!r:.40}")
    if groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                         f"divisible by groups ({groups})")
    return in_channels, out_channels


class _ConvNd(Module):
    dims = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        in_channels, out_channels = check_channels(name, in_channels, out_channels, groups)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {', '.join(map(repr, _PADDING_MODES))}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        _unspread(_python_tuple(kernel_size, name, "kernel_size"), self.dims, name, "kernel_size")
        self.kernel_size = _module_ints(kernel_size, self.dims, name, "kernel_size", 1, weight_shape=True)
        self.stride = _module_ints(stride, self.dims, name, "stride", 1)
        self.dilation = _module_ints(dilation, self.dims, name, "dilation", 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _module_ints(padding, self.dims, name, "padding", 0)
        self.padding_mode = padding_mode
        self.transposed, self.output_padding = False, (0,) * self.dims
        # F.pad's amounts for the non-zero modes: (left, right) of the last dim first, as PyTorch's attribute
        self._reversed_padding_repeated_twice = []
        for k, d, p in reversed(list(zip(self.kernel_size, self.dilation, self._padding_amounts()))):
            total = d * (k - 1) if self.padding == "same" else 2 * p
            self._reversed_padding_repeated_twice += [total // 2, total - total // 2]
        if isinstance(padding, (tuple, list)) and len(padding) == 1 and self.dims > 1:
            # PyTorch's repeats a one-element padding as given: a non-zero padding_mode's F.pad then refuses the
            # 2 amounts for 2 or 3 dims (NotImplementedError), where the convolution itself spreads it
            self._reversed_padding_repeated_twice = [self.padding[0]] * 2
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        weight_and_bias(self, shape, bias, float_dtype(dtype, name, complex_ok=True), device)
        self.reset_parameters()

    def _padding_amounts(self) -> tuple:
        return (0,) * self.dims if isinstance(self.padding, str) else self.padding

    def reset_parameters(self) -> None:
        """PyTorch's: weight kaiming-uniform with a=√5, bias U(-1/√fan_in, 1/√fan_in), fan_in = in/groups·∏k."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C_in, *S) or (C_in, *S), len(S) = ``dims`` → (N, C_out, *S_out) or (C_out, *S_out)."""
        if isinstance(input, Tensor) and input.ndim not in (self.dims + 1, self.dims + 2):
            # checked here, before a non-zero padding_mode pads the input and the shape named is no longer its own
            raise InputShapeError(f"{type(self).__name__}: expected a {self.dims + 1}-D (unbatched) or "
                                  f"{self.dims + 2}-D (batched) input, got shape {input.shape}")
        if self.padding_mode == "zeros":
            return self._function(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return self._function(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over (N, C_in, L) or unbatched (C_in, L) → (N, C_out, L_out), as
    ``torch.nn.Conv1d``; L_out = ⌊(L + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1.

    ``weight``: (C_out, C_in/groups, k), ``bias``: (C_out,). ``padding``: an int, ``'valid'`` or ``'same'``;
    ``padding_mode``: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
    """

    dims = 1
    _function = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) → (N, C_out, H_out, W_out), as ``torch.nn.Conv2d``;
    ``weight``: (C_out, C_in/groups, kH, kW). Arguments as :class:`Conv1d`'s, each an int or a pair."""

    dims = 2
    _function = staticmethod(F.conv2d)


# --- pooling ------------------------------------------------------------------------------------------

class _MaxPoolNd(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:  # noqa: A002 - PyTorch's name
        """input: (N, C, *S) or (C, *S), len(S) = the pooled dims → (N, C, *S_out) or (C, *S_out); with
        ``return_indices``, (values, indices) of that shape."""
        return self._function(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                              self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Largest entry of each window: (N, C, L) or (C, L) → (N, C, L_out), as ``torch.nn.MaxPool1d`` (see
    ``F.max_pool1d``); ``return_indices=True`` also gives each maximum's position in L."""

    _function = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Largest entry of each window: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out), as ``torch.nn.MaxPool2d``."""

    _function = staticmethod(F.max_pool2d)


class _AvgPoolNd(Module):
    """What AvgPool2d and AvgPool3d share: PyTorch's options, and ``_function`` (the F. pool) applied with them."""

    _function: Any = None

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *S) or (C, *S), len(S) = the pooled dims → (N, C, *S_out) or (C, *S_out)."""
        return self._function(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Mean of each window: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out), as ``torch.nn.AvgPool2d``."""

    _function = staticmethod(F.avg_pool2d)


class AvgPool1d(_AvgPoolNd):
    """Mean of each window: (N, C, L) or (C, L) → (N, C, L_out), as ``torch.nn.AvgPool1d`` (see ``F.avg_pool1d``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # (avg_pool1d's int lists: a bool tensor is 0 or 1)
        self.kernel_size = _module_ints(kernel_size, 1, "AvgPool1d", "kernel_size", 1, int_list=True)
        self.stride = self.kernel_size if stride is None else _module_ints(stride, 1, "AvgPool1d", "stride", 1, True)
        self.padding = _module_ints(padding, 1, "AvgPool1d", "padding", 0, int_list=True)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, L) or (C, L) → (N, C, L_out) or (C, L_out)."""
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class _AdaptiveAvgPoolNd(Module):
    """What the adaptive average pools share, as PyTorch's ``_AdaptiveAvgPoolNd``: ``output_size`` (an int, or
    one per pooled dim, None keeping that dim), and ``_function`` (the F. pool) applied with it."""

    _function: Any = None

    def __init__(self, output_size: Any, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *S) or (C, *S) → (N, C, *output_size) or (C, *output_size)."""
        return self._function(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(Module):
    """What the adaptive max pools share, as PyTorch's ``_AdaptiveMaxPoolNd``: ``output_size`` and
    ``return_indices`` (also give each maximum's flat position in the pooled dims)."""

    _function: Any = None

    def __init__(self, output_size: Any, return_indices: bool = False, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Any:  # noqa: A002 - PyTorch's name
        """input: (N, C, *S) or (C, *S) → (N, C, *output_size) or (C, *output_size); (values, indices) with
        ``return_indices``."""
        return self._function(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean over ``output_size`` windows tiling the last dim: (N, C, L) or (C, L) → (N, C, output_size)."""

    _function = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Largest entry of ``output_size`` windows tiling the last dim: (N, C, L) or (C, L) → (N, C, output_size);
    ``return_indices=True`` also gives each maximum's position in L."""

    _function = staticmethod(F.adaptive_max_pool1d)


# --- padding ---------------------------------------------------------------------------------------

class _Pad1d(Module):
    """Pad the last dim by ``padding`` (an int, or (left, right)); a negative amount crops, as PyTorch's."""

    mode = "constant"

    def __init__(self, padding: Any, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.padding = pad_amounts(padding, 1, type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, L) or (C, L) → (N, C, left + L + right) or (C, left + L + right)."""
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        check_pad_input(type(self).__name__, self.mode, input, 1, len(self.padding) // 2)
        return F.pad(input, self.padding, self.mode)   # a negative amount crops, in F.pad's order (PyTorch's)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_Pad1d):
    """Pad the last dim with ``value``: (*, L) → (*, left + L + right), as ``torch.nn.ConstantPad1d``."""

    def __init__(self, padding: Any, value: float, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros: (*, L) → (*, left + L + right), as ``torch.nn.ZeroPad1d``."""

    def __init__(self, padding: Any, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_Pad1d):
    """Mirror the last dim about its end entries (not repeating them): (C, L) or (N, C, L) → (…, left + L +
    right); each amount < L. As ``torch.nn.ReflectionPad1d``."""

    mode = "reflect"


class ReplicationPad1d(_Pad1d):
    """Repeat the end entries of the last dim: (C, L) or (N, C, L) → (…, left + L + right), as
    ``torch.nn.ReplicationPad1d``."""

    mode = "replicate"


class CircularPad1d(_Pad1d):
    """Wrap the last dim around: (C, L) or (N, C, L) → (…, left + L + right); each amount <= L. As
    ``torch.nn.CircularPad1d``."""

    mode = "circular"


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Mean over ``output_size`` (an int or a pair; None keeps a dim) windows tiling the last two dims:
    (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out). ``AdaptiveAvgPool2d(1)`` is a global average pool."""

    _function = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Largest entry of ``output_size`` windows tiling the last two dims: (N, C, H, W) or (C, H, W) →
    (N, C, H_out, W_out); ``return_indices=True`` also gives each maximum's position in the H·W plane."""

    _function = staticmethod(F.adaptive_max_pool2d)
