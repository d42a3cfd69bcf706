"""``torch.nn.grad``: the gradients of a convolution with respect to its input or its weight, given the gradient
of its output (``conv2d_input(input.shape, weight, grad_output)`` is ``autograd.grad(conv2d(input, weight),
input, grad_output)``), also as ``nn.functional.grad``.

No new arithmetic: each runs the convolution (``F.conv1d/2d/3d``) on zeros of the given size and asks autograd
for the gradient, so the convolution's own backward computes it. A convolution is linear in each argument, so
the zeros' values do not matter; their size picks the input length that several lengths could give with a
stride (``input_size``), as PyTorch's.
"""

from __future__ import annotations

from typing import Any, Callable

import minigrad as mg
from minigrad import Tensor

from ._conv import conv1d, conv2d
from ._fold import conv3d

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input", "conv3d_weight"]


def _gradient(name: str, conv: Callable, wrt: str, size: Any, input: Tensor | None,  # noqa: A002
              weight: Tensor | None, grad_output: Tensor, options: tuple) -> Tensor:
    """d(conv)/d(``wrt``) · grad_output, where ``wrt`` ("input" or "weight") is zeros of ``size`` in place of
    that argument (given as None). A graph is recorded (for a double backward) when grad mode is on and the
    other argument or grad_output requires grad."""
    other = weight if wrt == "input" else input
    for argument, what in ((other, "weight" if wrt == "input" else "input"), (grad_output, "grad_output")):
        if not isinstance(argument, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(argument).__name__}")
    if not isinstance(size, (tuple, list)) or not all(isinstance(n, int) for n in size):
        raise TypeError(f"{name}: {wrt}_size must be a tuple of ints (a shape), got {size!r}")
    recording = mg.is_grad_enabled() and not mg.is_inference_mode_enabled()
    create_graph = recording and (other.requires_grad or grad_output.requires_grad)
    zeros = mg.zeros(*size, dtype=grad_output.dtype, device=grad_output.device, requires_grad=True)
    # under no_grad and inference_mode too, as PyTorch's: the gradient comes from the convolution's backward
    with mg.inference_mode(False), mg.enable_grad():
        output = conv(zeros, weight, None, *options) if wrt == "input" else conv(input, zeros, None, *options)
        if output.shape != grad_output.shape:
            raise RuntimeError(f"{name}: grad_output has shape {tuple(grad_output.shape)}, but the convolution of "
                               f"an input of shape {tuple(zeros.shape if wrt == 'input' else input.shape)} with a "
                               f"weight of shape {tuple(weight.shape if wrt == 'input' else zeros.shape)} gives "
                               f"{tuple(output.shape)}")
        (gradient,) = mg.autograd.grad(output, zeros, grad_output, create_graph=create_graph)
    return gradient


def conv1d_input(input_size: Any, weight: Tensor, grad_output: Tensor, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1) -> Tensor:
    """The gradient of ``conv1d`` with respect to its input of shape ``input_size`` (N, C_in, L): weight
    (C_out, C_in/groups, k), grad_output (N, C_out, L_out) → ``input_size``."""
    return _gradient("conv1d_input", conv1d, "input", tuple(input_size), None, weight, grad_output,
                     (stride, padding, dilation, groups))


def conv1d_weight(input: Tensor, weight_size: Any, grad_output: Tensor, stride: Any = 1,  # noqa: A002
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """The gradient of ``conv1d`` with respect to its weight of shape ``weight_size`` (C_out, C_in/groups, k):
    input (N, C_in, L), grad_output (N, C_out, L_out) → ``weight_size``."""
    return _gradient("conv1d_weight", conv1d, "weight", tuple(weight_size), input, None, grad_output,
                     (stride, padding, dilation, groups))


def conv2d_input(input_size: Any, weight: Tensor, grad_output: Tensor, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1) -> Tensor:
    """The gradient of ``conv2d`` with respect to its input of shape ``input_size`` (N, C_in, H, W): weight
    (C_out, C_in/groups, kH, kW), grad_output (N, C_out, H_out, W_out) → ``input_size``."""
    return _gradient("conv2d_input", conv2d, "input", tuple(input_size), None, weight, grad_output,
                     (stride, padding, dilation, groups))


def conv2d_weight(input: Tensor, weight_size: Any, grad_output: Tensor, stride: Any = 1,  # noqa: A002
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """The gradient of ``conv2d`` with respect to its weight of shape ``weight_size`` (C_out, C_in/groups, kH,
    kW): input (N, C_in, H, W), grad_output (N, C_out, H_out, W_out) → ``weight_size``."""
    return _gradient("conv2d_weight", conv2d, "weight", tuple(weight_size), input, None, grad_output,
                     (stride, padding, dilation, groups))


def conv3d_input(input_size: Any, weight: Tensor, grad_output: Tensor, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1) -> Tensor:
    """The gradient of ``conv3d`` with respect to its input of shape ``input_size`` (N, C_in, D, H, W): weight
    (C_out, C_in/groups, kD, kH, kW), grad_output (N, C_out, D_out, H_out, W_out) → ``input_size``."""
    return _gradient("conv3d_input", conv3d, "input", tuple(input_size), None, weight, grad_output,
                     (stride, padding, dilation, groups))


def conv3d_weight(input: Tensor, weight_size: Any, grad_output: Tensor, stride: Any = 1,  # noqa: A002
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """The gradient of ``conv3d`` with respect to its weight of shape ``weight_size`` (C_out, C_in/groups, kD,
    kH, kW): input (N, C_in, D, H, W), grad_output (N, C_out, D_out, H_out, W_out) → ``weight_size``."""
    return _gradient("conv3d_weight", conv3d, "weight", tuple(weight_size), input, None, grad_output,
                     (stride, padding, dilation, groups))
