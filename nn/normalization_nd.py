"""Batch and instance normalisation of images and volumes, and local response normalisation, as ``torch.nn``'s:
``BatchNorm2d``, ``BatchNorm3d``, ``InstanceNorm2d``, ``InstanceNorm3d``, ``LocalResponseNorm`` and the legacy
``CrossMapLRN2d``.

They share ``_NormBase`` with ``BatchNorm1d``/``InstanceNorm1d`` (the same parameters, buffers and state-dict
names as PyTorch's) and call ``F.batch_norm``/``F.instance_norm``, which normalise (N, C, *) over any number
of trailing dims.
"""

from __future__ import annotations

from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from ._errors import InputDtypeError, InputShapeError
from .module import Module
from .normalization import _BatchNorm, batch_norm_forward
from .normalization_more import _channels, _InstanceNormNd

__all__ = ["BatchNorm2d", "BatchNorm3d", "CrossMapLRN2d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm"]


class _BatchNormNd(_BatchNorm):
    """Batch normalisation over the batch and spatial dims of (N, C, *S), ``dims`` = len(S), as PyTorch's
    ``BatchNorm{dims}d``; see ``nn.BatchNorm1d`` for training, eval, momentum and the buffers."""

    dims = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_features = _channels(num_features, "num_features", type(self).__name__)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.use_bias = bool(bias) and self.affine   # PyTorch's keyword: without it, a scale and no shift
        self._add_parameters_and_buffers(self.use_bias, dtype, device)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *S), len(S) = ``dims`` → the same shape."""
        name, wanted = type(self).__name__, self.dims + 2
        if not isinstance(input, Tensor) or input.ndim != wanted:
            got = f"{input.ndim}D input" if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{name}: expected {wanted}D input (got {got})")
        if input.shape[1] != self.num_features:
            raise InputShapeError(f"{name}: input has {input.shape[1]} channels (dim 1), expected {self.num_features}")
        return batch_norm_forward(self, input)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.use_bias}, track_running_stats={self.track_running_stats}")


class BatchNorm2d(_BatchNormNd):
    """Batch normalisation of images (N, C, H, W), per channel over N, H and W, as ``torch.nn.BatchNorm2d``:
    y = (x - mean) / √(var + eps) · weight + bias, with the batch's statistics in training (moving the
    running ones by ``momentum``) and the running ones in eval. ``weight``, ``bias``, ``running_mean``,
    ``running_var``: (C,); ``num_batches_tracked``; names as PyTorch's state dict."""

    dims = 2


class BatchNorm3d(_BatchNormNd):
    """Batch normalisation of volumes (N, C, D, H, W), per channel, as ``torch.nn.BatchNorm3d`` (see
    :class:`BatchNorm2d`)."""

    dims = 3


class InstanceNorm2d(_InstanceNormNd):
    """Normalise each channel of each image over H and W: (N, C, H, W) or (C, H, W), as ``torch.nn.InstanceNorm2d``
    (style transfer's); ``affine=False`` and ``track_running_stats=False`` by default, as PyTorch's."""

    dims = 2


class InstanceNorm3d(_InstanceNormNd):
    """Normalise each channel of each volume over D, H and W: (N, C, D, H, W) or (C, D, H, W), as
    ``torch.nn.InstanceNorm3d``."""

    dims = 3


class LocalResponseNorm(Module):
    """x / (k + α/n · Σ x²)^β over the ``size`` = n neighbouring channels, as ``torch.nn.LocalResponseNorm``
    (see ``F.local_response_norm``): (N, C, *) → same shape."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (N, C, *) → the same shape (F's: float16 through PyTorch's steps, refused on the CPU from 4-D)."""
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(Module):
    """PyTorch's legacy local response normalisation of (N, C, H, W) → the same shape (``torch.nn.CrossMapLRN2d``,
    from Lua Torch): x · (k + α/size · Σ x²)^-β, the sum over channels c - h … c + h, h = ⌊(size - 1) / 2⌋.

    Its values and gradients are PyTorch's, quirks included (``nn.LocalResponseNorm`` is the usual layer): PyTorch's
    running sum never drops channel 0, so from channel h + 1 on every sum also holds x₀²; and its backward is a
    formula of its own, summing over channels c - s … c + size - 1 - s, s = ⌊size - (size - 1) / 2⌋, not the
    derivative of the forward (a gradcheck fails on PyTorch's too). ``size=1`` has no backward (PyTorch's raises).
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (N, C, H, W) → the same shape."""
        if not isinstance(input, Tensor) or input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {getattr(input, 'ndim', '?')}D instead.")
        if input.dtype.kind in "biu":   # its float scale cannot be written into an integer result
            raise InputDtypeError(f"CrossMapLRN2d: result type float can't be cast to the input's dtype {input.dtype} "
                                  f"(shape {input.shape}), as in PyTorch")
        if self.size < 1 and self.size != 0:   # (0 divides by zero, as PyTorch's ZeroDivisionError)
            raise ValueError(f"CrossMapLRN2d: size must be at least 1, got {self.size} (PyTorch's running sum gives "
                             "no window sum for it)")
        return _CrossMapLRN2d.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _window(channels: int, low: int, high: int, like: Tensor, with_first: bool = False) -> Tensor:
    """(C, C) 0/1 matrix M, M[c', c] = 1 where c + low ≤ c' ≤ c + high: the channels c' of channel c's sum
    (and channel 0 in every sum, ``with_first``)."""
    c_from, c_to = numpy.arange(channels)[:, None], numpy.arange(channels)[None, :]
    inside = (c_from >= c_to + low) & (c_from <= c_to + high) | (with_first & (c_from == 0))
    return mg.tensor(inside.astype(numpy.dtype(like.dtype)), device=like.device)


class _CrossMapLRN2d(mg.autograd.Function):
    """PyTorch's forward and backward of CrossMapLRN2d (torch/nn/modules/_functions.py), each a sum over a
    window of channels, written as a product with a (C, C) window matrix."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
        pre_pad = int((size - 1) / 2 + 1)   # channel 0 stays in every sum: PyTorch's running sum never drops it
        window = _window(x.shape[1], 1 - pre_pad, pre_pad - 1, x, with_first=True)
        scale = mg.einsum("nchw,cd->ndhw", x * x, window) * (alpha / size) + k
        output = x * scale ** -beta
        ctx.save_for_backward(x, output, scale)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        return output

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple:
        x, output, scale = ctx.saved_tensors
        if ctx.size < 2:
            raise RuntimeError(f"CrossMapLRN2d: no backward for size {ctx.size} (PyTorch's raises: start (1) + length "
                               f"({x.shape[1]}) exceeds dimension size ({x.shape[1]}))")
        shift = int(ctx.size - (ctx.size - 1) / 2)
        window = _window(x.shape[1], -shift, ctx.size - 1 - shift, x)
        accumulated = mg.einsum("nchw,cd->ndhw", grad_output * output / scale, window)
        grad = scale ** -ctx.beta * grad_output - x * accumulated * (2 * ctx.alpha * ctx.beta / ctx.size)
        return grad, None, None, None, None
