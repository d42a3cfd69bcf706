"""Sliding blocks and transposed convolution, as ``torch.nn.functional``'s: ``unfold`` (im2col), ``fold``
(col2im), ``conv_transpose1d``/``2d``/``3d`` and ``conv3d`` (re-exported by ``nn.functional``).

:class:`Fold` is the adjoint of ``nn._conv``'s :class:`Unfold`: its forward adds each kernel offset's block of
columns into one strided slice of the (padded) output, its backward reads the same slices back. A real transposed
convolution is one op, ``nn._conv.ConvTranspose`` (PyTorch's ConvolutionBackward0): the input gradient of a
convolution, one matmul of the weight with the input per kernel offset or per group, added into the output's
slices (col2im), so no zeros are inserted and nothing is multiplied by them; a complex one is that matmul and
:class:`Fold` as ops.
"""

from __future__ import annotations

import math
from typing import Any

from minigrad import Tensor, float32, float64
from minigrad._nn_support import fresh_memory

from ._arguments import _dtype_error, _floating_or_complex, _tensor
from ._conv import (
    ConvTranspose,
    Unfold,
    _backward_takes_inputs,
    _batched,
    _conv,
    _conv_arguments,
    _ints,
    _python_tuple,
    _uses_mkldnn,
)
from ._errors import ArgumentFormError, InputDtypeError, InputShapeError
from ._gradient_layout import channels_last_as, channels_last_format

__all__ = ["conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "fold", "unfold"]


class FoldRankError(NotImplementedError, IndexError):
    """fold/unfold given an input of the wrong number of dims: PyTorch raises RuntimeError (an IndexError from
    its dim check for a 2-D unfold input); NotImplementedError is minigrad's first class for it (both are
    RuntimeErrors)."""


class Fold(Unfold):
    """col2im: blocks (N, C, *K, *B) summed into (N, C, *output_size), as ``torch.nn.functional.fold``.

    Block b of kernel offset k lands on padded position b·stride + k·dilation along each dim; the padding
    ((before, after) per dim) is cut off at the end. Forward is :class:`Unfold`'s backward and backward its
    forward: K slice-adds, then K slices.
    """

    name = "fold"

    def __init__(self, kernel: tuple, stride: tuple, dilation: tuple, padding: tuple, blocks: tuple,
                 output_size: tuple) -> None:
        super().__init__(kernel, stride, dilation, padding, 0.0, blocks)
        self.output_size = output_size

    def forward(self, columns: Any) -> Any:
        self.padded_shape = columns.shape[:2] + tuple(
            size + before + after for size, (before, after) in zip(self.output_size, self.padding))
        # C order, as PyTorch's col2im (and so fold's and conv_transpose's results): Unfold's backward copies the
        # padded sum's inner part out (its strides made `.view(n, -1)` raise)
        out = Unfold.backward(self, columns)
        if out.base is not None and out.shape == out.base.shape:   # no padding: the whole sum, not a view of it
            return out.base   # (a view of the op's temporary read as another tensor's: y.add_(1) was refused)
        return out

    def backward(self, gy: Any) -> Any:
        return Unfold.forward(self, gy)


def _blocks(name: str, sizes: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> tuple:
    """The number of sliding blocks along each dim: ⌊(size + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1."""
    blocks = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                   for n, k, d, p, s in zip(sizes, kernel, dilation, padding, stride))
    if any(b < 1 for b in blocks):
        raise InputShapeError(f"{name}: given input with spatial size {sizes}, kernel_size={kernel}, "
                              f"dilation={dilation}, "
                              f"padding={padding}, stride={stride}, calculated shape of the array of sliding blocks as "
                              f"{blocks}, but its components must be at least one.")
    return blocks


def _pair(value: Any, name: str, what: str, low: int) -> tuple:
    """An int or exactly two ints: PyTorch's im2col/col2im refuse the one-element sequence its convolutions take
    for every dim (RuntimeError "It is expected kernel_size equals to 2")."""
    value = _python_tuple(value, name, what)   # (F.unfold/F.fold pass each through PyTorch's Python _pair)
    if isinstance(value, (tuple, list)) and len(value) == 1:
        raise ArgumentFormError(f"{name}: {what} must be an int or a tuple of 2 ints, got {value!r}")
    return _ints(value, 2, name, what, low, int_list=True)   # (im2col/col2im's int[2]: a bool tensor is 0 or 1)


def _not_integer(x: Tensor, name: str) -> Tensor:
    """``x`` unless it holds integers: PyTorch's im2col and col2im take floats, complex and bool only
    (NotImplementedError)."""
    if x.dtype.kind in "iu":
        raise _dtype_error(x.dtype, f"{name}: not implemented for {x.dtype} (shape {x.shape}), as in PyTorch")
    return x


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:  # noqa: A002
    """The sliding blocks of a batched (N, C, H, W) or unbatched (C, H, W) input as columns, as
    ``torch.nn.functional.unfold`` (im2col): → (N, C·kH·kW, L), L = the number of blocks
    ∏ ⌊(size + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1; row c·kH·kW + i·kW + j holds kernel offset (i, j)
    of channel c. Zero padding. Each argument an int or a pair."""
    name = "unfold"
    x = _not_integer(_tensor(input, name), name)
    if x.ndim not in (3, 4):
        raise FoldRankError(f"unfold: Input Error: Only 3D or 4D input Tensors are supported (got {x.ndim}D: shape "
                            f"{x.shape}); expected (C, H, W) or (N, C, H, W)")
    x, unbatched = _batched(x.contiguous(), 2, name)   # as PyTorch's im2col: its columns are C-contiguous
    if 0 in x.shape[1:]:   # PyTorch's im2col: only the batch dim may be empty
        raise InputShapeError(f"{name}: expected a 3D or 4D (batch mode) input with possibly 0 batch size and other "
                              f"non-zero dimensions, got shape {tuple(input.shape)}")
    kernel = _pair(kernel_size, name, "kernel_size", 1)
    dilation, stride = _pair(dilation, name, "dilation", 1), _pair(stride, name, "stride", 1)
    padding = _pair(padding, name, "padding", 0)
    blocks = _blocks(name, x.shape[2:], kernel, dilation, padding, stride)
    columns = Unfold(kernel, stride, dilation, tuple((p, p) for p in padding), 0.0, blocks)(x)
    columns = columns.reshape(x.shape[0], x.shape[1] * math.prod(kernel), math.prod(blocks))
    return columns.squeeze(0) if unbatched else columns


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,  # noqa: A002
         stride: Any = 1) -> Tensor:
    """Sum the columns of sliding blocks back into an image, as ``torch.nn.functional.fold`` (col2im, the
    adjoint of :func:`unfold`): (N, C·kH·kW, L) or unbatched (C·kH·kW, L) → (N, C, *output_size); overlapping
    blocks add up, the padding is cut off. L must be the number of blocks :func:`unfold` would give."""
    name = "fold"
    x = _not_integer(_tensor(input, name), name)
    if x.ndim not in (2, 3):
        raise FoldRankError(f"fold: Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                            f"(got {x.ndim}D: shape {x.shape}); expected (C·kH·kW, L) or (N, C·kH·kW, L)")
    x, unbatched = (x.unsqueeze(0), True) if x.ndim == 2 else (x, False)
    if 0 in x.shape[1:]:   # PyTorch's col2im: only the batch dim may be empty
        raise InputShapeError(f"{name}: expected a 2D or 3D (batch mode) input with possibly 0 batch size and "
                              f"non-zero dimensions, got shape {tuple(input.shape)}")
    size = _pair(output_size, name, "output_size", 1)
    kernel = _pair(kernel_size, name, "kernel_size", 1)
    dilation, stride = _pair(dilation, name, "dilation", 1), _pair(stride, name, "stride", 1)
    padding = _pair(padding, name, "padding", 0)
    if x.shape[1] % math.prod(kernel):
        raise InputShapeError(f"{name}: expected size of input's dimension 1 to be divisible by the product of "
                              f"kernel_size, but got input.size(1)={x.shape[1]} and kernel_size={kernel}")
    blocks = _blocks(name, size, kernel, dilation, padding, stride)
    if x.shape[2] != math.prod(blocks):
        raise InputShapeError(f"{name}: given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                              f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match "
                              f"the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
                              f"{math.prod(blocks)}, but got input.size(2)={x.shape[2]}")
    channels = x.shape[1] // math.prod(kernel)
    columns = x.reshape(x.shape[0], channels, *kernel, *blocks)
    out = Fold(kernel, stride, dilation, tuple((p, p) for p in padding), blocks, size)(columns)
    return out.squeeze(0) if unbatched else out


# --- convolutions ------------------------------------------------------------------------------------------

def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D cross-correlation, as ``torch.nn.functional.conv3d``: (N, C_in, D, H, W) or (C_in, D, H, W) with
    weight (C_out, C_in/groups, kD, kH, kW) → (N, C_out, D_out, H_out, W_out), each size as ``conv1d``'s.
    ``stride``, ``padding``, ``dilation``: an int or a triple; ``padding`` also ``'valid'`` or ``'same'``."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(name: str, dims: int, input: Any, weight: Any, bias: Any, stride: Any,  # noqa: A002
                    padding: Any, output_padding: Any, groups: Any, dilation: Any) -> Tensor:
    x, weight = _floating_or_complex(input, name), _tensor(weight, name, "weight")
    if isinstance(padding, str):
        raise TypeError(f"{name}: padding must be an int or a tuple of {dims} ints (no 'same'/'valid' for a "
                        f"transposed convolution), got {padding!r}")
    stride, dilation = _conv_arguments(name, dims, stride, padding, dilation, groups)
    padding = _ints(padding, dims, name, "padding", 0)
    output_padding = _ints(output_padding, dims, name, "output_padding", 0)
    x, unbatched = _batched(x, dims, name)
    if weight.ndim != dims + 2:
        raise InputShapeError(f"{name}: weight must be {dims + 2}-D (in_channels, out_channels/groups, *kernel), "
                              f"got shape {weight.shape}")
    if bias is not None:
        bias = _tensor(bias, name, "bias")
    # PyTorch's 1-d and 2-d CPU kernels add a real bias of any float dtype into a float32 or float64 output (its
    # oneDNN one, for a float32 batch of more than one, refuses: minigrad takes that bias too)
    other_bias = dims < 3 and x.dtype in (float32, float64) and getattr(bias, "dtype", x.dtype).kind == "f"
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype and not other_bias):   # RuntimeError
        raise InputDtypeError(f"{name}: input ({x.dtype}), weight ({weight.dtype}) and bias "
                              f"({getattr(bias, 'dtype', None)}) must have the same dtype")
    in_channels, per_group, *kernel = weight.shape
    kernel = tuple(kernel)
    if in_channels == 0:   # PyTorch's RuntimeError, whatever the input
        raise InputShapeError(f"{name}: expected weight to be at least 1 at dimension 0, but got weight of shape "
                              f"{weight.shape}")
    if x.shape[1] != in_channels or in_channels % groups:
        raise InputShapeError(f"{name}: weight of shape {weight.shape} expects an input with {in_channels} channels "
                              f"(dim 1), divisible by groups={groups}; got input of shape {x.shape}")
    out_channels = per_group * groups
    if bias is not None and bias.shape != (out_channels,):
        raise InputShapeError(f"{name}: bias must have shape ({out_channels},), got {bias.shape}")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise InputShapeError(f"{name}: output padding must be smaller than either stride or dilation, but got "
                              f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    sizes = x.shape[2:]
    if 0 in sizes and x.shape[0] and x.shape[1]:   # PyTorch's kernels take an empty batch or no channels only
        raise InputShapeError(f"{name}: only zero batch or zero channel inputs are supported, but got input of shape "
                              f"{x.shape} (an empty spatial dim)")
    out_size = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1
                     for n, s, p, d, k, op in zip(sizes, stride, padding, dilation, kernel, output_padding))
    # RuntimeError as PyTorch's shape check ("Output size is too small"; its float32 mkldnn path gives an empty result
    # for a size 0, its other kernels raise: minigrad raises)
    if any(o < 1 for o in out_size):
        raise InputShapeError(f"{name}: the output size {out_size} of an input of shape {x.shape} with weight "
                              f"{weight.shape} is too small (stride {stride}, padding {padding}, dilation {dilation})")
    pads = tuple((p, p) for p in padding)
    if x.dtype.kind == "f":
        # one op, PyTorch's ConvolutionBackward0, laid out as its kernels: a 3-D one by dtype, as conv3d's (mkldnn's
        # float32 follows a channels-last operand where PyTorch takes it, never for an output padding as large as
        # the stride; float64 and its native kernel: C order)
        layout = None if unbatched or (dims == 3 and x.dtype != float32) else channels_last_format(dims + 2, x, weight)
        if layout is not None and dims == 3 and (any(op >= s for op, s in zip(output_padding, stride)) or
                                                 not _uses_mkldnn(x.shape, weight.shape, stride, dilation, groups)):
            layout = None
        operands = (x, weight) if bias is None else (x, weight, bias)
        y = ConvTranspose(groups, kernel, stride, dilation, pads, tuple(sizes), out_size, layout)(*operands)
        y = _backward_takes_inputs(fresh_memory(y))   # (its result may view the op's own padded temporary)
        return y.squeeze(0) if unbatched else y
    # complex values: each input position spreads weightᵀ·x over a kernel-sized block of the output,
    # (N, G, C_out/G·∏k, ∏I), folded (col2im), as ops (their complex rules)
    batch = x.shape[0]
    columns = _backward_takes_inputs(weight.reshape(groups, in_channels // groups, -1).mT @ x.reshape(
        batch, groups, in_channels // groups, math.prod(sizes)))
    columns = columns.reshape(batch, out_channels, *kernel, *sizes)
    y = Fold(kernel, stride, dilation, pads, tuple(sizes), out_size)(columns)
    if bias is not None:
        y = (y + bias.reshape(out_channels, *(1,) * dims)).to(x.dtype)   # in the wider dtype, rounded once
    if unbatched:
        return y.squeeze(0)
    return channels_last_as(y, x, weight) if dims == 2 else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """1-D transposed convolution (the gradient of ``conv1d`` with respect to its input), as
    ``torch.nn.functional.conv_transpose1d``.

    input: (N, C_in, L) or (C_in, L); weight: (C_in, C_out/groups, k); bias: (C_out,) → (N, C_out, L_out),
    L_out = (L - 1)·stride - 2·padding + dilation·(k - 1) + output_padding + 1 (output_padding < stride or
    < dilation picks among the sizes a strided ``conv1d`` maps to L).
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``: (N, C_in, H, W) or (C_in, H, W)
    with weight (C_in, C_out/groups, kH, kW) → (N, C_out, H_out, W_out), each size as in
    :func:`conv_transpose1d`; each argument an int or a pair."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``: (N, C_in, D, H, W) with weight
    (C_in, C_out/groups, kD, kH, kW) → (N, C_out, D_out, H_out, W_out), sizes as in :func:`conv_transpose1d`."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)

