"""Lazy convolution and normalisation modules, as ``torch.nn``'s: ``LazyConv1d/2d/3d``, ``LazyConvTranspose1d/2d/3d``,
``LazyBatchNorm1d/2d/3d`` and ``LazyInstanceNorm1d/2d/3d``.

Built like ``nn.LazyLinear``: the channel count (``in_channels``, ``num_features``) comes from the first input.
Until then the lazy parameters and buffers are placeholders (``nn.parameter.UninitializedParameter`` and
``UninitializedBuffer``, as PyTorch's; ``has_uninitialized_params()`` is True, and the state dict already has their
keys).
The first call gives the same Parameter objects their real shapes in place (an optimizer built before still
holds them), initialises them as the plain module does, and turns the module into that plain module
(``cls_to_become``: ``LazyConv2d`` → ``Conv2d``), as PyTorch's. ``load_state_dict`` before the first call takes
the shapes from the state dict (PyTorch's load hook), also when the lazy module sits inside another.

Where minigrad differs, on purpose: the channel count is also set when the shapes come from a state dict
(PyTorch leaves ``in_channels`` at 0 then); an instance norm's channels are read from dim -(d+1), so an unbatched
input counts right (PyTorch reads dim 1); a norm with nothing lazy (no affine, no running stats) still records
``num_features`` from its first input (PyTorch leaves 0, which a minigrad layer's shape check would refuse).
"""

from __future__ import annotations

from typing import Any, Mapping

from minigrad import Tensor

from ._errors import InputShapeError
from ._state_dict import keep_lazy_module
from .conv import Conv1d, Conv2d
from .conv_transpose import Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .normalization import BatchNorm1d
from .normalization_more import InstanceNorm1d
from .normalization_nd import BatchNorm2d, BatchNorm3d, InstanceNorm2d, InstanceNorm3d
from .parameter import SavesPlaceholders, UninitializedBuffer, UninitializedParameter, is_lazy

__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class _LazyMixin(SavesPlaceholders):
    """What every lazy module shares: the placeholders, ``has_uninitialized_params``, the first call and the
    state-dict hook. A subclass says how a channel count shapes each lazy tensor (``_shapes``) and where an input
    holds its channels (``_channels_of``)."""

    cls_to_become: type
    _parameters: dict
    _buffers: dict

    def _make_lazy(self, names: tuple) -> None:
        """Replace the parameters and buffers ``names`` (those not None) with placeholders of shape (0,)."""
        lazy = []
        for name in names:
            old = getattr(self, name)
            if old is None:
                continue
            if name in self._parameters:
                setattr(self, name, UninitializedParameter(old.requires_grad, old.device, old.dtype))
            else:   # a buffer stays a buffer
                setattr(self, name, UninitializedBuffer(old.requires_grad, old.device, old.dtype))
            lazy.append(name)
        object.__setattr__(self, "_uninitialized", set(lazy))
        object.__setattr__(self, "_lazy_names", tuple(lazy))

    def has_uninitialized_params(self) -> bool:
        """Whether some parameter or buffer is still a placeholder (no input, nor state dict, seen yet)."""
        return bool(self.__dict__.get("_uninitialized"))

    def reset_parameters(self) -> None:
        if "_uninitialized" in self.__dict__ and not self._uninitialized:   # nothing to reset while lazy
            super().reset_parameters()  # type: ignore[misc]

    def _materialize(self, name: str, shape: tuple) -> None:
        getattr(self, name).materialize(shape)   # the same object, given an array of its real shape
        self._uninitialized.discard(name)

    def initialize_parameters(self, input: Tensor) -> None:  # noqa: A002 - PyTorch's name
        """Shape the lazy tensors for ``input``'s channel count and initialise them as the plain module does."""
        channels = self._channels_of(input)
        if not self.has_uninitialized_params():
            self._set_channels(channels, from_input=True)
            return
        if self._uninitialized != set(self._lazy_names):
            loaded = sorted(set(self._lazy_names) - self._uninitialized)
            raise RuntimeError(f"{type(self).__name__}: the state dict gave {loaded} but not "
                               f"{sorted(self._uninitialized)}; load all or none of a lazy module's tensors")
        self._set_channels(channels, from_input=True)
        for name, shape in self._shapes().items():
            if name in self._uninitialized:
                self._materialize(name, shape)
        self.reset_parameters()

    def forward(self, input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        self.initialize_parameters(input)
        self.__dict__.pop("_uninitialized", None)
        self.__dict__.pop("_lazy_names", None)
        object.__setattr__(self, "__class__", self.cls_to_become)
        return self.forward(input, *args, **kwargs)   # the plain module's forward from now on

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """PyTorch's lazy load hook: each placeholder whose key holds a (non-empty) tensor takes its shape."""
        for name in sorted(self.__dict__.get("_uninitialized", ())):
            value = state_dict.get(prefix + name)
            shape = () if is_lazy(value) else tuple(getattr(value, "shape", ()))   # a placeholder: none yet
            if value is not None and shape and 0 not in shape:
                keep_lazy_module(self)   # a load that fails puts the placeholders back
                self._materialize(name, shape)
                self._channels_from_state(name, shape)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,  # type: ignore[misc]
                                      missing_keys, unexpected_keys, error_msgs)

    # --- per kind ---

    def _channels_of(self, input: Tensor) -> int:
        raise NotImplementedError

    def _set_channels(self, channels: int, from_input: bool) -> None:
        raise NotImplementedError

    def _shapes(self) -> dict:
        raise NotImplementedError

    def _channels_from_state(self, name: str, shape: tuple) -> None:
        raise NotImplementedError


# --- convolutions ---------------------------------------------------------------------------------------

class _LazyConvMixin(_LazyMixin):
    dims: int
    groups: int
    in_channels: int
    out_channels: int
    kernel_size: tuple
    transposed: bool

    def _channels_of(self, input: Tensor) -> int:  # noqa: A002
        name, dims = type(self).__name__, self.dims
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (dims + 1, dims + 2):   # PyTorch's RuntimeError (a ValueError too)
            raise InputShapeError(f"{name}: expected a {dims + 1}-D (unbatched) or {dims + 2}-D (batched) input, got "
                                  f"{input.shape}")
        return input.shape[1] if input.ndim == dims + 2 else input.shape[0]

    def _set_channels(self, channels: int, from_input: bool) -> None:
        if from_input and not self.has_uninitialized_params():
            return   # shaped by a state dict: the weight says the channels
        if channels % self.groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({channels}) must be divisible by groups "
                             f"({self.groups})")
        self.in_channels = int(channels)

    def _shapes(self) -> dict:
        if self.transposed:
            weight = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            weight = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        return {"weight": weight, "bias": (self.out_channels,)}

    def _channels_from_state(self, name: str, shape: tuple) -> None:
        if name == "weight":
            self.in_channels = shape[0] if self.transposed else shape[1] * self.groups

    def _lazy_init(self, out_channels: int) -> None:
        if isinstance(out_channels, bool) or not isinstance(out_channels, int) or out_channels < 0:
            raise ValueError(f"{type(self).__name__}: out_channels must be a non-negative int, got {out_channels!r}")
        if out_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: out_channels ({out_channels}) must be divisible by groups "
                             f"({self.groups})")
        self.out_channels = int(out_channels)
        self._make_lazy(("weight", "bias"))


class _LazyConvNd(_LazyConvMixin):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        # the plain module's checks with no channels yet (PyTorch's 0, 0); the bias is made so it can be lazy
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, bias, padding_mode,  # type: ignore
                         device, dtype)
        self._lazy_init(out_channels)


class _LazyConvTransposeNd(_LazyConvMixin):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, bias,  # type: ignore[call-arg]
                         dilation, padding_mode, device, dtype)
        self._lazy_init(out_channels)


class LazyConv1d(_LazyConvNd, Conv1d):
    """A :class:`Conv1d` whose ``in_channels`` is the channel dim of its first input, (N, C_in, L) or (C_in, L),
    as ``torch.nn.LazyConv1d``; the other arguments are Conv1d's. Becomes a Conv1d on the first call."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    """A :class:`Conv2d` whose ``in_channels`` comes from its first input (N, C_in, H, W) or (C_in, H, W), as
    ``torch.nn.LazyConv2d``. Becomes a Conv2d on the first call."""

    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd, Conv3d):
    """A :class:`Conv3d` whose ``in_channels`` comes from its first input (N, C_in, D, H, W) or (C_in, D, H, W),
    as ``torch.nn.LazyConv3d``. Becomes a Conv3d on the first call."""

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTransposeNd, ConvTranspose1d):
    """A :class:`ConvTranspose1d` whose ``in_channels`` comes from its first input (N, C_in, L) or (C_in, L), as
    ``torch.nn.LazyConvTranspose1d``; ``weight`` (C_in, C_out/groups, k). Becomes a ConvTranspose1d on the first
    call."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeNd, ConvTranspose2d):
    """A :class:`ConvTranspose2d` whose ``in_channels`` comes from its first input, as
    ``torch.nn.LazyConvTranspose2d``."""

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeNd, ConvTranspose3d):
    """A :class:`ConvTranspose3d` whose ``in_channels`` comes from its first input, as
    ``torch.nn.LazyConvTranspose3d``."""

    cls_to_become = ConvTranspose3d


# --- normalisation --------------------------------------------------------------------------------------

class _LazyNormMixin(_LazyMixin):
    num_features: int
    dims: int

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        # the plain module built for one channel (it refuses 0), then its per-channel tensors made lazy
        super().__init__(1, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)  # type: ignore
        self.num_features = 0
        self._make_lazy(("weight", "bias", "running_mean", "running_var"))

    def _channels_of(self, input: Tensor) -> int:  # noqa: A002
        name, dims = type(self).__name__, self._input_dims()
        if not isinstance(input, Tensor) or input.ndim not in dims:
            raise ValueError(f"{name}: expected a {' or '.join(f'{d}-D' for d in dims)} input, got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        return input.shape[self._channel_dim(input)]

    def _set_channels(self, channels: int, from_input: bool) -> None:
        if from_input and not self.has_uninitialized_params() and self._lazy_names:
            return   # shaped by a state dict
        self.num_features = int(channels)

    def _shapes(self) -> dict:
        return {name: (self.num_features,) for name in self._lazy_names}

    def _channels_from_state(self, name: str, shape: tuple) -> None:
        self.num_features = shape[0]

    def _input_dims(self) -> tuple:
        raise NotImplementedError

    def _channel_dim(self, input: Tensor) -> int:  # noqa: A002
        return 1


class _LazyBatchNorm(_LazyNormMixin):
    def _input_dims(self) -> tuple:
        return (2, 3) if self.cls_to_become is BatchNorm1d else (self.cls_to_become.dims + 2,)


class _LazyInstanceNorm(_LazyNormMixin):
    def _input_dims(self) -> tuple:
        dims = 1 if self.cls_to_become is InstanceNorm1d else self.cls_to_become.dims
        return (dims + 1, dims + 2)

    def _channel_dim(self, input: Tensor) -> int:  # noqa: A002
        dims = 1 if self.cls_to_become is InstanceNorm1d else self.cls_to_become.dims
        return -dims - 1   # (N, C, *S) or unbatched (C, *S)


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """A :class:`BatchNorm1d` whose ``num_features`` is dim 1 of its first input (N, C) or (N, C, L), as
    ``torch.nn.LazyBatchNorm1d(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``; ``weight``,
    ``bias``, ``running_mean`` and ``running_var`` lazy. Becomes a BatchNorm1d on the first call."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """A :class:`BatchNorm2d` whose ``num_features`` comes from its first input (N, C, H, W), as
    ``torch.nn.LazyBatchNorm2d``."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    """A :class:`BatchNorm3d` whose ``num_features`` comes from its first input (N, C, D, H, W), as
    ``torch.nn.LazyBatchNorm3d``."""

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    """An :class:`InstanceNorm1d` whose ``num_features`` comes from its first input (N, C, L) or (C, L), as
    ``torch.nn.LazyInstanceNorm1d`` — whose defaults are ``affine=True, track_running_stats=True`` (not
    InstanceNorm1d's). Becomes an InstanceNorm1d on the first call."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    """An :class:`InstanceNorm2d` whose ``num_features`` comes from its first input (N, C, H, W) or (C, H, W), as
    ``torch.nn.LazyInstanceNorm2d`` (``affine=True, track_running_stats=True`` by default, as PyTorch's)."""

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    """An :class:`InstanceNorm3d` whose ``num_features`` comes from its first input, as
    ``torch.nn.LazyInstanceNorm3d`` (``affine=True, track_running_stats=True`` by default)."""

    cls_to_become = InstanceNorm3d
