"""``nn.LayerNorm`` and ``nn.RMSNorm`` (over the last dims) and ``nn.BatchNorm1d`` (over the batch), with a
learned scale and shift."""

from __future__ import annotations

from typing import Any, Mapping

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from ._arguments import _number
from ._errors import InputShapeError
from ._normalization import _normalized_shape, count_batch
from ._parameters import affine_parameters, reset_affine, size_arg
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "LayerNorm", "RMSNorm"]


class LayerNorm(Module):
    """y = (x - E[x]) / √(Var[x] + eps) · weight + bias over the last ``len(normalized_shape)`` dims.

    x: (*, *normalized_shape) → same shape. ``weight`` (ones) and ``bias``
    (zeros) have shape ``normalized_shape``; ``elementwise_affine=False``
    drops both, ``bias=False`` only the shift (as PyTorch).
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        if _number(eps, "LayerNorm", "eps") < 0:   # (a bool, NumPy number or 0-d tensor is a number, as PyTorch's)
            raise ValueError(f"LayerNorm: eps must be a non-negative number, got {eps!r}")
        self.eps = eps   # as given, as PyTorch (an int prints eps=1)
        self.elementwise_affine = bool(elementwise_affine)
        affine_parameters(self, self.normalized_shape, self.elementwise_affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        """``weight`` back to ones and ``bias`` to zeros."""
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (*, *normalized_shape) → the same shape."""
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """y = x / √(mean(x²) + eps) · weight over the last ``len(normalized_shape)`` dims, as ``torch.nn.RMSNorm``.

    x: (*, *normalized_shape) → same shape. ``weight`` (ones) has shape ``normalized_shape``;
    ``elementwise_affine=False`` drops it. ``eps=None``: the input dtype's machine epsilon.
    """

    def __init__(self, normalized_shape: Any, eps: float | None = None, elementwise_affine: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "RMSNorm")
        if eps is not None and _number(eps, "RMSNorm", "eps") < 0:
            raise ValueError(f"RMSNorm: eps must be a non-negative number or None, got {eps!r}")
        self.eps = eps
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            dt = mg.get_default_dtype() if dtype is None else dtype
            self.weight = Parameter(mg.ones(self.normalized_shape, dtype=dt, device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """``weight`` back to ones."""
        if self.weight is not None:
            self.weight.data[...] = 1

    def forward(self, x: Tensor) -> Tensor:
        """x: (*, *normalized_shape) → the same shape."""
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _NormBase(Module):
    """What BatchNorm1d and InstanceNorm1d share, as PyTorch's ``_NormBase``: ``weight`` (ones) and ``bias``
    (zeros), both (C,), with ``affine``, and with ``track_running_stats`` the buffers ``running_mean`` (zeros),
    ``running_var`` (ones), both (C,), and ``num_batches_tracked``; else None for each, as PyTorch's."""

    num_features: int
    affine: bool
    track_running_stats: bool
    _version = 2   # torch's: version 2 added num_batches_tracked

    def _add_parameters_and_buffers(self, bias: bool, dtype: Any, device: Any) -> None:
        """The parameters and buffers above, for ``self.num_features``, ``affine`` and ``track_running_stats``
        (``bias=False``: no bias even when affine)."""
        affine_parameters(self, self.num_features, self.affine, bias, dtype, device)
        if self.track_running_stats:
            dt = mg.get_default_dtype() if dtype is None else dtype
            self.register_buffer("running_mean", mg.zeros(self.num_features, dtype=dt, device=device))
            self.register_buffer("running_var", mg.ones(self.num_features, dtype=dt, device=device))
            self.register_buffer("num_batches_tracked", mg.tensor(0, dtype=mg.int64, device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with mg.no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Running statistics back to mean 0, variance 1, count 0; ``weight`` ones, ``bias`` zeros."""
        self.reset_running_stats()
        reset_affine(self)

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """As torch's: a state dict without a version (a plain dict, or one saved before version 2) may lack
        ``num_batches_tracked``; the module's own count is kept then."""
        key = prefix + "num_batches_tracked"
        if local_metadata.get("version") is None or local_metadata["version"] < 2:
            if self.track_running_stats and key not in state_dict:
                state_dict[key] = self.num_batches_tracked
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


def batch_norm_forward(module: Module, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """A batch norm module's forward of input (N, C, *) as PyTorch's ``_BatchNorm.forward`` decides it, read from
    the module's current attributes (``training``, ``track_running_stats`` and ``momentum`` may be changed after
    construction): batch statistics in training, and in eval only when the running buffers are None; the buffers
    are passed (and so moved in training) unless training without ``track_running_stats``, so eval uses them
    whenever they exist; ``momentum=None`` is a cumulative moving average (1 / batches seen, this one included).
    The batch is counted in ``num_batches_tracked`` (if it exists) only once the forward went through, so a refused
    input leaves the count (PyTorch counts it)."""
    count = module.training and module.track_running_stats and module.num_batches_tracked is not None
    momentum = 0.0 if module.momentum is None else module.momentum
    if count and module.momentum is None:
        momentum = 1.0 / (float(module.num_batches_tracked.item()) + 1.0)
    use_batch = module.training or (module.running_mean is None and module.running_var is None)
    pass_buffers = not module.training or module.track_running_stats
    out = F.batch_norm(input, module.running_mean if pass_buffers else None,
                       module.running_var if pass_buffers else None, module.weight, module.bias, use_batch,
                       momentum, module.eps)
    if count:
        count_batch(module.num_batches_tracked)   # (add_(1) under no_grad)
    return out


class _BatchNorm(_NormBase):
    """PyTorch's base of the batch norms, so that ``isinstance(m, nn.modules.batchnorm._BatchNorm)`` (how freezing
    and weight-decay code finds them) holds for BatchNorm1d/2d/3d, SyncBatchNorm and the lazy ones."""


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over the batch (and length) dims of (N, C) or (N, C, L), as ``torch.nn.BatchNorm1d``.

    Training: y = (x - mean) / √(var + eps) · weight + bias with the batch's mean and biased variance per
    channel, and the running estimates move by ``momentum`` (``None``: a cumulative average) towards the
    batch's mean and unbiased variance. Eval (or ``track_running_stats=False`` never): the running ones.
    Buffers ``running_mean``, ``running_var`` (C,) and ``num_batches_tracked`` as PyTorch's state dict.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        # 0 too, as PyTorch; read as torch.empty's size (an __index__ object or a 0-d integer tensor too)
        num_features = size_arg(num_features, type(self).__name__, "num_features", position=0)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.use_bias = bool(bias) and self.affine   # PyTorch's keyword: without it, a scale and no shift
        self._add_parameters_and_buffers(self.use_bias, dtype, device)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C) or (N, C, L) → the same shape."""
        if not isinstance(input, Tensor):   # else an AttributeError (no .ndim) from here
            raise TypeError(f"BatchNorm1d: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected a 2-D (N, C) or 3-D (N, C, L) input, got shape {input.shape}")
        if input.shape[1] != self.num_features:
            raise InputShapeError(f"BatchNorm1d: input has {input.shape[1]} channels (dim 1), "
                                  f"expected {self.num_features}")
        return batch_norm_forward(self, input)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.use_bias}, track_running_stats={self.track_running_stats}")
