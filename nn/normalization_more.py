"""``nn.GroupNorm`` and ``nn.InstanceNorm1d``, as ``torch.nn``'s: a learned scale and shift per channel,
PyTorch's parameter and buffer names."""

from __future__ import annotations

import warnings
from typing import Any, Mapping

from minigrad import Tensor

from . import functional as F
from ._errors import InputShapeError
from ._parameters import affine_parameters, reset_affine, size_arg
from .module import Module
from .normalization import _NormBase

__all__ = ["GroupNorm", "InstanceNorm1d"]


def _channels(value: Any, what: str, name: str) -> int:
    """A channel count (0 too, as PyTorch) or a group count (positive): see :func:`size_arg`."""
    return size_arg(value, name, what, 1 if what == "num_groups" else 0)


class GroupNorm(Module):
    """Normalise each group of channels of each sample: (N, C, *) → same shape, as ``torch.nn.GroupNorm``.

    The C channels split into ``num_groups`` groups; each group of each sample gets mean 0 and biased variance 1
    over its channels and all other dims, then ``weight`` (ones) and ``bias`` (zeros), both (C,), scale and
    shift each channel (``affine=False``: neither; ``bias=False``: no shift).
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_groups = _channels(num_groups, "num_groups", "GroupNorm")
        self.num_channels = _channels(num_channels, "num_channels", "GroupNorm")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.eps, self.affine = eps, bool(affine)
        affine_parameters(self, self.num_channels, self.affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        """``weight`` back to ones and ``bias`` to zeros."""
        reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *) → the same shape."""
        # without affine parameters torch normalises any channel count divisible by num_groups, so only with them
        affine = self.weight is not None or self.bias is not None
        if affine and isinstance(input, Tensor) and input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise InputShapeError(f"GroupNorm: expected an input with num_channels={self.num_channels} channels "
                                  f"(dim 1), got shape {input.shape}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNormNd(_NormBase):
    """Normalise each channel of each sample over its ``dims`` spatial dims: (N, C, *S) or (C, *S), as PyTorch's
    ``InstanceNorm{dims}d``; see :class:`InstanceNorm1d` for ``affine``, ``track_running_stats`` and momentum."""

    dims = 0
    # torch's instance_norm moves the running estimates inside its batch_norm kernel, unseen by torch.func: its
    # grad/jvp/vjp let the buffers change in place (vmap refuses), read by mg.func.functional_call
    _writes_buffers_under_grad = True

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_features = _channels(num_features, "num_features", type(self).__name__)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self._add_parameters_and_buffers(bias, dtype, device)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """input: (N, C, *S) or (C, *S), len(S) = ``dims`` → the same shape."""
        name, dims = type(self).__name__, self.dims
        if not isinstance(input, Tensor) or input.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"{name}: expected {dims + 1}D or {dims + 2}D input (got "
                             f"{getattr(input, 'ndim', type(input).__name__)}D input)")
        channels = input.shape[-dims - 1]
        if channels != self.num_features:
            if self.affine:
                raise ValueError(f"{name}: expected input's size at dim={input.ndim - dims - 1} to match num_features "
                                 f"({self.num_features}), but got: {channels}.")
            warnings.warn(f"{name}: input's size at dim={input.ndim - dims - 1} does not match num_features. You can "
                          "silence this warning by not passing in num_features, which is not used because "
                          "affine=False", stacklevel=2)
        batched = input if input.ndim == dims + 2 else input.unsqueeze(0)
        out = F.instance_norm(batched, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out if input.ndim == dims + 2 else out.squeeze(0)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """As torch's: a state dict without a version (saved before 0.4, or a plain dict) that has running
        statistics for a norm without them is refused, also with ``strict=False`` (an error, not unexpected keys)."""
        found = [prefix + name for name in ("running_mean", "running_var") if prefix + name in state_dict]
        if local_metadata.get("version") is None and not self.track_running_stats and found:
            klass = type(self).__name__
            names = " and ".join(f'"{key}"' for key in found)
            error_msgs.append(f"Unexpected running stats buffer(s) {names} for {klass} with track_running_stats="
                              f"False. If state_dict is a checkpoint saved before 0.4.0, this may be expected "
                              f"because {klass} does not track running stats by default since 0.4.0. Please remove "
                              f"these keys from state_dict. If the running stats are actually needed, instead set "
                              f"track_running_stats=True in {klass} to enable them. See the documentation of "
                              f"{klass} for details.")
            for key in found:
                state_dict.pop(key)   # type: ignore[attr-defined]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class InstanceNorm1d(_InstanceNormNd):
    """Normalise each channel of each sample over its length: (N, C, L) or (C, L) → same shape, as
    ``torch.nn.InstanceNorm1d``.

    ``affine=True`` adds ``weight`` (ones) and ``bias`` (zeros), (C,). ``track_running_stats=True`` keeps
    buffers ``running_mean``, ``running_var`` (C,) and ``num_batches_tracked``, moved by ``momentum`` in
    training and used in ``eval()`` instead of each instance's statistics.
    """

    dims = 1
