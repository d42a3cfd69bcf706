"""PyTorch's top-level spellings of functional ops (``torch.conv2d``, ``torch.dropout``, ``torch.layer_norm`` …) as
``mg.conv2d`` …, with torch's top-level signatures, which are ATen's and sometimes differ from ``F``'s:
``torch.dropout(input, p, train)`` has no defaults, ``torch.batch_norm`` takes ``weight, bias`` before the running
statistics and every argument, ``torch.embedding(weight, indices)`` takes the table first, the losses take
``reduction`` as torch's enum (0 none, 1 mean, 2 sum; the names work too) and, called without it, do not reduce
(torch 2.13's Python bindings default it to 0, though ATen's schemas say 1), ``torch.max_pool1d(..., stride=[])``
means the kernel size, ``torch.adaptive_max_pool1d`` returns (values, indices).

Only names torch has at its top level are here, and only those minigrad lacks (``mg.relu``, ``mg.softmax`` …
exist already). ``minigrad`` never imports ``nn`` (the layers contract), so ``nn`` puts these on the ``minigrad``
module when it loads (:func:`install`, called by ``nn/__init__.py``), and ``minigrad.__getattr__`` loads ``nn`` on
the first use of one of these names, by the same lazy path as ``from minigrad import nn``: ``mg.conv2d`` works
right after ``import minigrad``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Sequence

import minigrad as mg
from minigrad import Tensor
from minigrad._nn_functions import NAMES
from minigrad.outputs import OutRule, takes_out

from . import functional as F
from ._arguments import _floating, _number, _tensor
from ._cell_functions import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell  # noqa: F401 - in __all__
from ._dropout import _inverted_dropout, _probability
from ._embedding import _renorm_rows
from ._errors import InputShapeError
from ._flags import flag
from ._functional_more import _channel_mask_shape
from ._in_place import written_in_place
from ._toplevel_native import (  # noqa: F401 - in __all__
    convolution,
    native_batch_norm,
    native_dropout,
    native_group_norm,
    native_layer_norm,
    norm_except_dim,
)

# the names minigrad lists too (it loads nn on the first use of one of them: minigrad/_nn_functions.py)
__all__ = sorted(NAMES)

# the same functions as F's (in PyTorch too, F's are these)
adaptive_avg_pool1d = F.adaptive_avg_pool1d
bilinear = F.bilinear
celu_ = F.celu_
conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d, conv_transpose3d = F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d
cosine_similarity = F.cosine_similarity
pairwise_distance = F.pairwise_distance
pdist = F.pdist
prelu = F.prelu
relu_ = F.relu_
selu_ = F.selu_
threshold_ = F.threshold_

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum", "none": "none", "mean": "mean", "sum": "sum"}


def _reduction(reduction: Any, name: str) -> str:
    """torch's reduction enum (0 none, 1 mean, 2 sum) or its name, as F's string."""
    if isinstance(reduction, bool) or reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 0 (none), 1 (mean) or 2 (sum), got {reduction!r}")
    return _REDUCTIONS[reduction]


def _stride(stride: Any) -> Any:
    """ATen's ``stride=[]`` (the default) means the kernel size: F's None."""
    return None if isinstance(stride, (list, tuple)) and len(stride) == 0 else stride


# --- activations --------------------------------------------------------------------------------------------

def celu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002 - PyTorch's name
    """``torch.celu``: max(0, x) + min(0, α(e^(x/α) - 1)). Any shape."""
    return F.celu(input, alpha)


def selu(input: Tensor) -> Tensor:  # noqa: A002
    """``torch.selu``. Any shape."""
    return F.selu(input)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002 - PyTorch's name
    """``torch.hardshrink``: x where |x| > lambd, else 0. Any shape; ``out=`` of the result's dtype."""
    return F.hardshrink(input, lambd)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """``torch.threshold``: x where x > threshold, else ``value``. Any shape; ``out=`` takes a cast."""
    return F.threshold(input, threshold, value)


hardshrink = takes_out(hardshrink, "hardshrink", OutRule("exact", broadcast=True))   # (F's take no out=, as torch's)
threshold = takes_out(threshold, "threshold", OutRule(broadcast=True))


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,  # noqa: A002
          generator: Any = None) -> Tensor:
    """``torch.rrelu``: F.rrelu, the training slopes drawn from ``generator`` (an ``mg.Generator``) if given."""
    if generator is None or not flag(training, "rrelu", "training"):
        return F.rrelu(input, lower, upper, training)
    x = _floating(input, "rrelu")
    lower, upper = _number(lower, "rrelu", "lower"), _number(upper, "rrelu", "upper")
    if lower > upper:
        raise InputShapeError(f"rrelu: lower bound {lower} should be less than or equal to the upper bound {upper}")
    slopes = mg.rand(x.shape, dtype=x.dtype, device=x.device, generator=generator) * (upper - lower) + lower
    return mg.where(x > 0, x, x * slopes)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,  # noqa: A002
           generator: Any = None) -> Tensor:
    """:func:`rrelu` written into ``input`` (any shape), which is returned."""
    return written_in_place("rrelu_", input, lambda x: rrelu(x, lower, upper, training, generator))


# --- dropout: (input, p, train), all required, as ATen's ------------------------------------------------------

def dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``torch.dropout(input, p, train)``: F.dropout(input, p, training=train)."""
    return F.dropout(input, p, flag(train, "dropout", "train"))


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """:func:`dropout` written into ``input``, which is returned."""
    return written_in_place("dropout_", input, lambda x: dropout(x, p, train))


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``torch.alpha_dropout(input, p, train)``: F.alpha_dropout."""
    return F.alpha_dropout(input, p, flag(train, "alpha_dropout", "train"))


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """:func:`alpha_dropout` written into ``input``, which is returned."""
    return written_in_place("alpha_dropout_", input, lambda x: alpha_dropout(x, p, train))


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``torch.feature_dropout``: zero whole channels of (N, C, *) (each (sample, channel) with probability p),
    scale the rest by 1/(1 - p); the identity when not ``train``."""
    name = "feature_dropout"
    p, x = _probability(p, name), _tensor(input, name)
    mask_shape = _channel_mask_shape(x, name)
    if not flag(train, name, "train") or x.numel() == 0:
        return x
    return _inverted_dropout(x, p, mask_shape)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """:func:`feature_dropout` written into ``input``, which is returned."""
    return written_in_place("feature_dropout_", input, lambda x: feature_dropout(x, p, train))


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``torch.feature_alpha_dropout(input, p, train)``: F.feature_alpha_dropout."""
    return F.feature_alpha_dropout(input, p, flag(train, "feature_alpha_dropout", "train"))


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """:func:`feature_alpha_dropout` written into ``input``, which is returned."""
    return written_in_place("feature_alpha_dropout_", input, lambda x: feature_alpha_dropout(x, p, train))


# --- normalisation ------------------------------------------------------------------------------------------

def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,  # noqa: A002
               running_mean: Tensor | None, running_var: Tensor | None, training: bool, momentum: float,
               eps: float, cudnn_enabled: bool) -> Tensor:
    """``torch.batch_norm``, every argument required, as ATen's (``cudnn_enabled`` changes nothing):
    F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps). input (N, C, *)."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,  # noqa: A002
                  running_mean: Tensor | None, running_var: Tensor | None, use_input_stats: bool, momentum: float,
                  eps: float, cudnn_enabled: bool) -> Tensor:
    """``torch.instance_norm``, every argument required, as ATen's: F.instance_norm with ``weight, bias``
    first. input (N, C, *)."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5, cudnn_enable: bool = True) -> Tensor:
    """``torch.layer_norm``: F.layer_norm (``cudnn_enable`` changes nothing)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5, cudnn_enabled: bool = True) -> Tensor:
    """``torch.group_norm``: F.group_norm (``cudnn_enabled`` changes nothing). input (N, C, *)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,  # noqa: A002
             eps: float | None = None) -> Tensor:
    """``torch.rms_norm``: F.rms_norm."""
    return F.rms_norm(input, normalized_shape, weight, eps)


# --- pooling, padding, convolution, sampling --------------------------------------------------------------

def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``torch.max_pool1d`` (``stride=()``: the kernel size). input (N, C, L) or (C, L)."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``torch.max_pool2d`` (``stride=()``: the kernel size). input (N, C, H, W) or (C, H, W)."""
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``torch.max_pool3d`` (``stride=()``: the kernel size). input (N, C, D, H, W) or (C, D, H, W)."""
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,  # noqa: A002
                            dilation: Any = 1, ceil_mode: bool = False) -> tuple:
    """``torch.max_pool1d_with_indices``: (values, indices)."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode, return_indices=True)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """``torch.avg_pool1d`` (``stride=()``: the kernel size). input (N, C, L) or (C, L)."""
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode, count_include_pad)


def adaptive_max_pool1d(input: Tensor, output_size: Any) -> tuple:  # noqa: A002
    """``torch.adaptive_max_pool1d``: (values, indices), always (F's returns the indices on request)."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def constant_pad_nd(input: Tensor, pad: Sequence[int], value: float = 0) -> Tensor:  # noqa: A002
    """``torch.constant_pad_nd``: F.pad(input, pad, "constant", value); negative amounts crop."""
    return F.pad(input, pad, "constant", value)


def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:  # noqa: A002
    """``torch.conv_tbc``: a 1-D convolution of time-batch-channel input (T, B, C_in) with weight (k, C_in, C_out)
    and bias (C_out,), ``pad`` zeros at both ends of T → (T + 2·pad - k + 1, B, C_out)."""
    x, w = _tensor(input, "conv_tbc"), _tensor(weight, "conv_tbc")
    if x.ndim != 3 or w.ndim != 3 or getattr(bias, "ndim", None) != 1:
        raise InputShapeError(f"conv_tbc: expected input (T, B, C_in), weight (k, C_in, C_out) and bias (C_out,), got "
                         f"{x.shape}, {w.shape} and {getattr(bias, 'shape', type(bias).__name__)}")
    if w.shape[1] != x.shape[2] or bias.shape[0] != w.shape[2]:
        raise InputShapeError(f"conv_tbc: input {x.shape}, weight {w.shape} and bias {bias.shape} do not fit "
                         "(input (T, B, C_in), weight (k, C_in, C_out), bias (C_out,))")
    out = F.conv1d(x.permute(1, 2, 0), w.permute(2, 1, 0), bias, padding=pad)   # (B, C_out, T')
    return out.permute(2, 0, 1)


_SAMPLING_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDING_MODES = {0: "zeros", 1: "border", 2: "reflection"}


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,  # noqa: A002
                 align_corners: bool) -> Tensor:
    """``torch.grid_sampler``: F.grid_sample with ATen's enums (interpolation 0 bilinear, 1 nearest,
    2 bicubic; padding 0 zeros, 1 border, 2 reflection)."""
    if interpolation_mode not in _SAMPLING_MODES or isinstance(interpolation_mode, bool):
        raise ValueError(f"grid_sampler: interpolation_mode must be 0, 1 or 2, got {interpolation_mode!r}")
    if padding_mode not in _PADDING_MODES or isinstance(padding_mode, bool):
        raise ValueError(f"grid_sampler: padding_mode must be 0, 1 or 2, got {padding_mode!r}")
    return F.grid_sample(input, grid, _SAMPLING_MODES[interpolation_mode], _PADDING_MODES[padding_mode],
                         align_corners)


def grid_sampler_2d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,  # noqa: A002
                    align_corners: bool) -> Tensor:
    """``torch.grid_sampler_2d``: :func:`grid_sampler` of a 4-D input (N, C, H, W) and grid (N, H', W', 2) only."""
    _sampler_dims(input, grid, 4, "grid_sampler_2d")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,  # noqa: A002
                    align_corners: bool) -> Tensor:
    """``torch.grid_sampler_3d``: :func:`grid_sampler` of a 5-D input (N, C, D, H, W) and grid (N, D', H', W', 3)
    only."""
    _sampler_dims(input, grid, 5, "grid_sampler_3d")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def _sampler_dims(input: Tensor, grid: Tensor, dims: int, name: str) -> None:  # noqa: A002
    x, g = _tensor(input, name), _tensor(grid, name, "grid")
    if x.ndim != dims or g.ndim != dims:
        raise RuntimeError(f"{name}(): expected {dims}D input and grid with same number of dimensions, but got input "
                           f"with sizes {list(x.shape)} and grid with sizes {list(g.shape)}")


def affine_grid_generator(theta: Tensor, size: Sequence[int], align_corners: bool) -> Tensor:
    """``torch.affine_grid_generator``: F.affine_grid(theta, size, align_corners)."""
    return F.affine_grid(theta, size, align_corners)


# --- embeddings ---------------------------------------------------------------------------------------------

def embedding(weight: Tensor, indices: Any, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """``torch.embedding(weight, indices, ...)``: the table first, as ATen's; a negative ``padding_idx`` means
    none (F.embedding, which counts negative ones from the end, converts them before calling this)."""
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int):
        raise TypeError(f"embedding: padding_idx must be an int, got {padding_idx!r}")
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def embedding_renorm_(input: Tensor, indices: Any, max_norm: float, norm_type: float) -> Tensor:  # noqa: A002
    """``torch.embedding_renorm_``: each row of the table ``input`` that ``indices`` names and whose
    ``norm_type``-norm exceeds ``max_norm`` scaled to max_norm / (norm + 1e-7), in place; returns ``input``."""
    weight = _tensor(input, "embedding_renorm_")
    if weight.ndim != 2:
        raise ValueError(f"embedding_renorm_: the table must be 2-D (num_embeddings, dim), got {weight.shape}")
    if mg.is_grad_enabled() and weight.requires_grad and weight.is_leaf:
        raise RuntimeError("embedding_renorm_: a leaf Variable that requires grad is being used in an in-place "
                           "operation. Call it under `with mg.no_grad():`.")
    index = _tensor(indices if isinstance(indices, Tensor) else mg.as_tensor(indices), "embedding_renorm_")
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding_renorm_: indices must be integers, got {index.dtype}")
    _renorm_rows(weight, index.data, _number(max_norm, "embedding_renorm_", "max_norm"),
                 _number(norm_type, "embedding_renorm_", "norm_type"))
    return weight


# --- losses: reduction as torch's enum --------------------------------------------------------------------------

def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     pos_weight: Any = None, reduction: Any = 0) -> Tensor:
    """``torch.binary_cross_entropy_with_logits`` (``pos_weight`` before ``reduction``, an enum)."""
    name = "binary_cross_entropy_with_logits"
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction, name),
                                              pos_weight=pos_weight)


def kl_div(input: Tensor, target: Any, reduction: Any = 0, *, log_target: bool = False) -> Tensor:  # noqa: A002
    """``torch.kl_div``: pointwise KL divergence, not reduced unless ``reduction`` says (1: the elementwise mean,
    without F.kl_div's warning, as ATen's; F.kl_div's 'batchmean' has no enum)."""
    loss = F.kl_div(input, target, reduction="none", log_target=log_target)
    reduction = _reduction(reduction, "kl_div")
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                          reduction: Any = 0) -> Tensor:
    """``torch.cosine_embedding_loss`` (``reduction`` an enum)."""
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction, "cosine_embedding_loss"))


def hinge_embedding_loss(input: Tensor, target: Any, margin: float = 1.0, reduction: Any = 0) -> Tensor:  # noqa: A002
    """``torch.hinge_embedding_loss`` (``reduction`` an enum)."""
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction, "hinge_embedding_loss"))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                        reduction: Any = 0) -> Tensor:
    """``torch.margin_ranking_loss`` (``reduction`` an enum)."""
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction, "margin_ranking_loss"))


def poisson_nll_loss(input: Tensor, target: Any, log_input: bool, full: bool, eps: float,  # noqa: A002
                     reduction: Any) -> Tensor:
    """``torch.poisson_nll_loss``, every argument required (``reduction`` an enum)."""
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction(reduction, "poisson_nll_loss"))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: Any = 0) -> Tensor:
    """``torch.triplet_margin_loss`` (``reduction`` an enum)."""
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction(reduction, "triplet_margin_loss"))


def install(module: ModuleType = mg) -> None:
    """Put each function above on ``module`` (``minigrad``) under its name, unless it has that name already."""
    names = vars(module)
    for name in __all__:
        if name not in names:
            setattr(module, name, globals()[name])
