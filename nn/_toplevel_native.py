"""ATen's lower-level functions that PyTorch also shows at its top level (``torch.convolution``,
``torch.native_layer_norm`` …), used by code written against ATen (decompositions, custom layers reading the saved
statistics): each is built from ``F``'s function and returns what ATen's does, the statistics (``mean``, ``rstd`` /
``invstd``) without a gradient, as PyTorch's. Installed on ``minigrad`` with nn/_toplevel.py's names.
"""

from __future__ import annotations

from typing import Any, Sequence

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from ._arguments import _tensor
from ._dropout import _probability
from ._flags import flag

_CONVOLUTIONS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_TRANSPOSED = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,  # noqa: A002
                dilation: Any, transposed: bool, output_padding: Any, groups: int) -> Tensor:
    """``torch.convolution``: F.conv1d/2d/3d (``transposed``: F.conv_transpose1d/2d/3d with ``output_padding``),
    chosen by the weight's number of spatial dims; every argument required, as ATen's."""
    w = _tensor(weight, "convolution")
    convolutions = _TRANSPOSED if flag(transposed, "convolution", "transposed") else _CONVOLUTIONS
    if w.ndim - 2 not in convolutions:
        raise RuntimeError(f"convolution: expected a weight of 3, 4 or 5 dims (1d, 2d or 3d), got shape {w.shape}")
    if convolutions is _TRANSPOSED:
        return convolutions[w.ndim - 2](input, w, bias, stride, padding, output_padding, groups, dilation)
    return convolutions[w.ndim - 2](input, w, bias, stride, padding, dilation, groups)


def _statistics(x: Tensor, dims: tuple, eps: float) -> tuple[Tensor, Tensor]:
    """The mean and 1/sqrt(biased variance + eps) of ``x`` over ``dims`` (kept), without a gradient."""
    with mg.no_grad():
        x = x.detach()
        mean = x.mean(dim=dims, keepdim=True)
        return mean, (x.var(dim=dims, correction=0, keepdim=True) + eps).rsqrt()


def native_layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None,  # noqa: A002
                      bias: Tensor | None, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``torch.native_layer_norm``: (F.layer_norm's result, mean, rstd), the statistics (…, 1, …, 1) over the
    normalized (last) dims."""
    out = F.layer_norm(input, normalized_shape, weight, bias, eps)
    x = _tensor(input, "native_layer_norm")
    count = len(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else 1
    return (out, *_statistics(x, tuple(range(x.ndim - count, x.ndim)), eps))


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,  # noqa: A002
                      running_mean: Tensor | None, running_var: Tensor | None, training: bool, momentum: float,
                      eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``torch.native_batch_norm``: (F.batch_norm's result, save_mean, save_invstd), the batch statistics (C,) in
    training (the running ones move as F's), empty (0,) tensors otherwise, as ATen's."""
    x = _tensor(input, "native_batch_norm")
    if flag(training, "native_batch_norm", "training"):
        mean, invstd = (s.reshape(-1) for s in _statistics(x, (0, *range(2, x.ndim)), eps))
    else:
        mean = invstd = mg.empty(0, dtype=x.dtype, device=x.device)
    out = F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return out, mean, invstd


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int, C: int,  # noqa: A002, N803
                      HxW: int, group: int, eps: float) -> tuple[Tensor, Tensor, Tensor]:  # noqa: N803
    """``torch.native_group_norm``: (F.group_norm's result, mean, rstd), the statistics (N, group)."""
    x = _tensor(input, "native_group_norm")
    if x.numel() != N * C * HxW:
        raise RuntimeError(f"native_group_norm: expected an input of N * C * HxW = {N} * {C} * {HxW} elements, got "
                           f"shape {x.shape}")
    out = F.group_norm(x, group, weight, bias, eps)
    mean, rstd = _statistics(x.reshape(N, group, -1), (2,), eps)
    return out, mean.reshape(N, group), rstd.reshape(N, group)


def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple[Tensor, Tensor]:  # noqa: A002
    """``torch.native_dropout``: (output, mask) with a bool mask of the kept entries, output = input · mask /
    (1 - p) (p = 1: input · 0); ``train=False``: (a copy of input, all True). ``train=None`` is training, as ATen's."""
    x, p = _tensor(input, "native_dropout"), _probability(p, "native_dropout")
    if train is not None and not flag(train, "native_dropout", "train"):
        return x * 1, mg.ones(x.shape, dtype=mg.bool, device=x.device)
    mask = mg.rand(x.shape, dtype=mg.float32, device=x.device) >= p
    return x * mask.to(x.dtype) * (0.0 if p == 1 else 1.0 / (1.0 - p)), mask


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:  # noqa: A002 - ATen's name
    """``torch.norm_except_dim`` (weight normalization's): the ``pow``-norm of ``v`` over every dim but ``dim``,
    kept as size 1 (``v``'s shape with 1 outside ``dim``); ``dim=-1``: the norm of all of ``v`` (0-d), as ATen's."""
    v = _tensor(v, "norm_except_dim")
    if dim == -1:
        return mg.norm(v, pow)
    others = tuple(d for d in range(v.ndim) if d != dim % v.ndim)
    return mg.norm(v, pow, dim=others, keepdim=True)
