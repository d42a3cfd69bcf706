"""``group_norm`` and ``instance_norm`` as ``torch.nn.functional``'s (re-exported by ``nn.functional``),
composed of engine ops: the mean and the biased variance over each group or instance, then the scale and
shift per channel."""

from __future__ import annotations

import math
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._arguments import _floating, _number, _tensor
from ._flags import flag

__all__ = ["group_norm", "instance_norm"]


def _per_channel(tensor: Any, channels: int, ndim: int, name: str, what: str) -> Tensor:
    """A (C,) weight, bias or running statistic, shaped (1, C, 1, …) to broadcast over an input of ``ndim`` dims."""
    tensor = _tensor(tensor, name, what)
    if tensor.shape != (channels,):
        raise ValueError(f"{name}: {what} must have shape ({channels},) (one per channel), got {tensor.shape}")
    return tensor.reshape((1, channels) + (1,) * (ndim - 2))


def _affine(out: Tensor, weight: Any, bias: Any, name: str) -> Tensor:
    channels = out.shape[1]
    if weight is not None:
        out = out * _per_channel(weight, channels, out.ndim, name, "weight")
    if bias is not None:
        out = out + _per_channel(bias, channels, out.ndim, name, "bias")
    return out


def _normalized(x: Tensor, axes: tuple, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mean) / √(var + eps) over ``axes`` (biased variance), with the mean and variance kept."""
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    return centered / (variance + eps).sqrt(), mean, variance


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002 - PyTorch's name
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of C/num_groups channels of each sample over the group's channels and every
    other dim (mean 0, biased variance 1), then times ``weight`` and plus ``bias`` (C,), as PyTorch's.

    input: (N, C, *) → same shape; C divisible by ``num_groups``.
    """
    name = "group_norm"
    x, eps = _floating(input, name), _number(eps, name, "eps")
    if x.ndim < 2:
        raise ValueError(f"{name}: expected at least 2 dims (N, C, *) for the input, got shape {x.shape}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, numpy.integer)) or num_groups < 1 \
            or x.shape[1] % num_groups:
        raise ValueError(f"{name}: expected the number of channels of the input of shape {x.shape} to be divisible "
                         f"by num_groups, got num_groups={num_groups!r}")
    batch, channels = x.shape[:2]
    if batch * channels // num_groups * math.prod(x.shape[2:]) == 1:
        raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of shape "
                         f"{x.shape} with num_groups={num_groups}")
    grouped = x.reshape(batch, num_groups, channels // num_groups * math.prod(x.shape[2:]))
    out, _, _ = _normalized(grouped, (2,), eps)
    return _affine(out.reshape(x.shape), weight, bias, name)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,  # noqa: A002
                  running_var: Tensor | None = None, weight: Tensor | None = None, bias: Tensor | None = None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its other dims, as ``torch.nn.functional.instance_norm``.

    input: (N, C, *) → same shape. ``use_input_stats``: with each instance's mean and biased variance, and
    the running estimates (C,) (if given) moved in place by ``momentum`` towards the batch's average of the
    instances' means and unbiased variances; else with the running estimates. Then times ``weight`` and plus
    ``bias`` (C,).
    """
    name = "instance_norm"
    x, eps = _floating(input, name), _number(eps, name, "eps")
    if x.ndim < 3:
        raise ValueError(f"{name}: expected an input of at least 3 dims (N, C, *), got shape {x.shape}")
    channels, count = x.shape[1], math.prod(x.shape[2:])
    if not flag(use_input_stats, name, "use_input_stats"):
        if running_mean is None or running_var is None:
            raise ValueError(f"{name}: running_mean and running_var are needed when use_input_stats is False")
        mean = _per_channel(running_mean, channels, x.ndim, name, "running_mean")
        variance = _per_channel(running_var, channels, x.ndim, name, "running_var")
        return _affine((x - mean) / (variance + eps).sqrt(), weight, bias, name)
    if count == 1:
        raise ValueError(f"{name}: expected more than 1 spatial element when training, got input of shape {x.shape}")
    out, mean, variance = _normalized(x, tuple(range(2, x.ndim)), eps)
    unbiased = variance * (count / (count - 1)) if count > 1 else variance
    momentum = _number(momentum, name, "momentum")
    with mg.no_grad():
        for running, batch_value in ((running_mean, mean), (running_var, unbiased)):
            if running is not None:
                _per_channel(running, channels, x.ndim, name, "running statistics")
                average = batch_value.detach().reshape(x.shape[0], channels).mean(axis=0)
                running.mul_(1 - momentum).add_(average.astype(running.dtype) * momentum)
    return _affine(out, weight, bias, name)
