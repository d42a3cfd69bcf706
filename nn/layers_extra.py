"""``nn.Dropout1d``, ``nn.AlphaDropout``, ``nn.LazyLinear`` and ``nn.Bilinear``, as ``torch.nn``'s.

Parameters are named and initialised as PyTorch's, from the engine's generator (``mg.manual_seed``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from minigrad import Tensor

from . import functional as F
from . import init
from ._parameters import float_dtype, size_arg, weight_and_bias
from ._state_dict import keep_lazy_module
from .layers import Linear, _DropoutNd
from .module import Module
from .parameter import SavesPlaceholders, UninitializedParameter, is_lazy

__all__ = ["AlphaDropout", "Bilinear", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout", "LazyLinear"]


class Dropout1d(_DropoutNd):
    """Zero whole channels in training: each (sample, channel) of (N, C, L) or (C, L) with probability p, the
    rest scaled by 1/(1-p); the identity in ``eval()``. As ``torch.nn.Dropout1d``."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, L) or (C, L) → the same shape."""
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels in training: each (sample, channel) of (N, C, H, W) or (C, H, W) with probability p,
    the rest scaled by 1/(1-p); the identity in ``eval()``. As ``torch.nn.Dropout2d``."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, H, W) or (C, H, W) → the same shape."""
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """``Dropout2d`` for (N, C, D, H, W) or (C, D, H, W) input, as ``torch.nn.Dropout3d``."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, D, H, W) or (C, D, H, W) → the same shape."""
        return F.dropout3d(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(_DropoutNd):
    """``AlphaDropout`` of whole channels (see ``F.feature_alpha_dropout``); the identity in ``eval()``.
    As ``torch.nn.FeatureAlphaDropout``."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *) or (C, *) → the same shape."""
        return F.feature_alpha_dropout(input, self.p, self.training)   # not self.inplace: PyTorch's ignores it


class AlphaDropout(_DropoutNd):
    """Dropout that keeps a SELU network's zero mean and unit variance (see ``F.alpha_dropout``); the identity
    in ``eval()``. Any shape. As ``torch.nn.AlphaDropout``."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape."""
        return F.alpha_dropout(input, self.p, self.training)   # not self.inplace: PyTorch's ignores it


class LazyLinear(SavesPlaceholders, Linear):
    """A :class:`Linear` whose ``in_features`` is the last dim of its first input, as ``torch.nn.LazyLinear``.

    Until then ``weight`` and ``bias`` are placeholders (``nn.parameter.UninitializedParameter``); the first call
    gives them their shapes (out_features, in_features) and (out_features,) in place and initialises them as
    Linear's, so an optimizer built before still holds them; the module then becomes a plain :class:`Linear`,
    as PyTorch's.
    ``load_state_dict`` before the first call takes the shapes from the state dict.
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        Module.__init__(self)
        self.in_features, self.out_features = 0, size_arg(out_features, "LazyLinear", "out_features", position=0)
        dtype = float_dtype(dtype, "LazyLinear")
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self) -> bool:
        """Whether the parameters are still the placeholders (no input seen yet)."""
        return is_lazy(self.weight)

    def initialize_parameters(self, x: Tensor) -> None:
        """Shape the parameters for inputs (*, in_features) like ``x`` and initialise them as Linear's."""
        if not self.has_uninitialized_params():
            return
        if not isinstance(x, Tensor) or x.ndim == 0:
            raise ValueError(f"LazyLinear: the first input must be a Tensor (*, in_features), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        self._materialize(x.shape[-1])

    def _materialize(self, in_features: int) -> None:
        self.in_features = int(in_features)
        self.weight.materialize((self.out_features, self.in_features))   # the same objects, of their real shapes
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()
        object.__setattr__(self, "__class__", self.cls_to_become)

    def reset_parameters(self) -> None:
        """As ``Linear``'s once ``in_features`` is known; before that, nothing."""
        if not self.has_uninitialized_params():
            super().reset_parameters()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (*, in_features) → (*, out_features); the first call sets in_features."""
        self.initialize_parameters(input)
        return F.linear(input, self.weight, self.bias)

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """PyTorch's lazy load hook: a (out_features, in_features) weight in the state dict gives the shapes
        (also when this module sits inside a container that is loading)."""
        weight = state_dict.get(prefix + "weight")
        if self.has_uninitialized_params() and not is_lazy(weight) and len(getattr(weight, "shape", ())) == 2:
            keep_lazy_module(self)   # a load that fails puts the placeholders back
            self._materialize(weight.shape[1])
        Module._load_from_state_dict(self, state_dict, prefix, local_metadata, strict,   # self is a Linear now
                                     missing_keys, unexpected_keys, error_msgs)


class Bilinear(Module):
    """y = x1ᵀ A x2 + b per output feature: x1 (*, in1_features), x2 (*, in2_features) → (*, out_features), as
    ``torch.nn.Bilinear``. ``weight`` A: (out, in1, in2) and ``bias`` (out,), both U(-1/√in1, 1/√in1)."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        sizes = [size_arg(n, "Bilinear", what, position=at) for n, what, at in   # weight (out, in1, in2)
                 ((in1_features, "in1_features", 1), (in2_features, "in2_features", 2),
                  (out_features, "out_features", 0))]
        if in1_features <= 0:
            raise ValueError(f"Bilinear: in1_features must be > 0, but got (in1_features={in1_features})")
        self.in1_features, self.in2_features, self.out_features = (int(n) for n in sizes)
        dt = float_dtype(dtype, "Bilinear", complex_ok=True)   # complex too, as PyTorch's
        weight_and_bias(self, (out_features, in1_features, in2_features), bias, dt, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw ``weight`` and ``bias`` from U(-1/√in1_features, 1/√in1_features)."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        """input1: (*, in1_features), input2: (*, in2_features) → (*, out_features)."""
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
