"""Activations as modules, for ``Sequential`` and for PyTorch programs that build them as layers.

None has parameters but ``PReLU``; each accepts the factory keywords ``device``/``dtype``
(keyword-only, except PReLU's, which come in PyTorch's positions) for uniformity with the other
modules. Constructor arguments come in PyTorch's positional order; ``inplace=True`` writes the result into
the input and returns the input itself, as PyTorch's (nn/_in_place.py). Any shape in, the same shape out
(``GLU`` halves ``dim``).
"""

from __future__ import annotations

import warnings
from typing import Any

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from ._arguments import _implicit_dim
from ._errors import ArgumentAssertionError
from ._parameters import size_arg
from .module import Module, Parameter

__all__ = [
    "CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid",
    "LogSoftmax", "Mish", "PReLU", "RReLU", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax", "Softmin",
    "Softmax2d", "Softplus", "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold",
]


class _Elementwise(Module):
    """An activation as a module: no parameters; ``device``/``dtype`` are accepted for uniformity."""

    def __init__(self, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()


def _not_a_tensor(module: Module, value: Any) -> TypeError:
    """The TypeError for a module given something other than a Tensor (PyTorch's class for it)."""
    return TypeError(f"{type(module).__name__}: input must be a Tensor, got {type(value).__name__}")


class Tanh(_Elementwise):
    """tanh elementwise, as a module for ``Sequential``."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        try:
            return input.tanh()
        except AttributeError:   # not a Tensor: say so rather than "'str' object has no attribute 'tanh'"
            if isinstance(input, Tensor):
                raise
            raise _not_a_tensor(self, input) from None




class Sigmoid(_Elementwise):
    """1 / (1 + e^{-x}) elementwise, as a module for ``Sequential``."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        try:
            return input.sigmoid()
        except AttributeError:   # not a Tensor
            if isinstance(input, Tensor):
                raise
            raise _not_a_tensor(self, input) from None


class GELU(_Elementwise):
    """x · Φ(x) elementwise (``approximate="tanh"``: the tanh approximation), as ``torch.nn.GELU``."""

    def __init__(self, approximate: str = "none", *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.approximate = approximate   # checked by F.gelu at the call, as PyTorch's (nn.GELU("erf") constructs)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _AlongDim(_Elementwise):
    """A normalisation along one ``dim`` (PyTorch's implicit choice, with a warning, when it is None)."""

    function = staticmethod(F.softmax)

    def __init__(self, dim: int | None = None, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, normalised along ``dim``."""
        if self.dim is None and not isinstance(input, Tensor):   # (the function checks it when dim is given)
            raise _not_a_tensor(self, input)
        dim = self.dim if self.dim is not None else _implicit_dim(type(self).__name__, input.ndim, stacklevel=4)
        return self.function(input, dim=dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """exp(x) / Σ exp(x) along ``dim``: every slice along ``dim`` sums to 1."""

    function = staticmethod(F.softmax)


class Softmax2d(_Elementwise):
    """softmax over the channels at each location: (N, C, H, W) or (C, H, W) → the same shape, as
    ``torch.nn.Softmax2d`` (softmax along dim -3)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, H, W) or (C, H, W) → the same shape, softmax over C."""
        if not isinstance(input, Tensor):
            raise _not_a_tensor(self, input)
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected an input of shape (C, H, W) or (N, C, H, W), got {input.shape}")
        return F.softmax(input, dim=-3)


class LogSoftmax(_AlongDim):
    """x - logsumexp(x) along ``dim`` (log-probabilities; pair with ``NLLLoss``)."""

    function = staticmethod(F.log_softmax)


class Softmin(_AlongDim):
    """softmax(-x) along ``dim``: every slice along ``dim`` sums to 1, the smallest entry weighs most."""

    function = staticmethod(F.softmin)


def _inplace(inplace: bool) -> str:
    """The tail PyTorch's ``extra_repr`` adds for ``inplace=True``."""
    return ", inplace=True" if inplace else ""


class _WithInplace(_Elementwise):
    """An activation whose only option is PyTorch's ``inplace`` (the result written into the input, returned)."""

    function = staticmethod(F.silu)
    shows_inplace = True   # in its repr, as PyTorch's (Hardsigmoid and Hardswish show nothing)

    def __init__(self, inplace: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise. ``inplace``: written into ``input``, which is returned."""
        return self.function(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)[2:] if self.shows_inplace else ""


class ReLU(_WithInplace):
    """max(x, 0) elementwise, as a module for ``Sequential``; ``ReLU(inplace=True)`` (PyTorch's idiom) writes the
    result into the input and returns it, as PyTorch's, and shows in the repr."""

    function = staticmethod(F.relu)


class _Plain(_Elementwise):
    """An activation without options."""

    function = staticmethod(F.softsign)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return self.function(input)


class _WithAlpha(_Elementwise):
    """ELU and CELU: the scale α of the exponential piece, and ``inplace``."""

    function = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return self.function(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace(self.inplace)}"


class ELU(_WithAlpha):
    """x for x > 0, α·(eˣ - 1) otherwise."""

    function = staticmethod(F.elu)


class CELU(_WithAlpha):
    """max(0, x) + min(0, α·(e^{x/α} - 1)); α must not be 0 (the call raises, as PyTorch's)."""

    function = staticmethod(F.celu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(alpha, inplace)   # alpha = 0 is refused by the call, as PyTorch's


class SELU(_WithInplace):
    """scale · ELU(x, α) with the self-normalising constants α ≈ 1.6733, scale ≈ 1.0507."""

    function = staticmethod(F.selu)


class LeakyReLU(_Elementwise):
    """x for x > 0, negative_slope · x otherwise."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace(self.inplace)}"



class RReLU(_Elementwise):
    """Randomized leaky ReLU: x for x > 0, a·x otherwise, a ~ U(lower, upper) per element in training mode and
    (lower + upper)/2 in eval mode, as ``torch.nn.RReLU`` (see ``F.rrelu``)."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False, *,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_inplace(self.inplace)}"

class Hardtanh(_Elementwise):
    """x clamped to [min_val, max_val] (min_val < max_val); gradient 0 at the bounds."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        # PyTorch's deprecated spellings, in its positions: they override, with its FutureWarning
        if min_value is not None:
            warnings.warn("Hardtanh: keyword argument `min_value` is deprecated and renamed to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("Hardtanh: keyword argument `max_value` is deprecated and renamed to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        if max_val <= min_val:
            raise ArgumentAssertionError(f"{type(self).__name__}: max_val ({max_val}) must be greater than min_val "
                                         f"({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace(self.inplace)}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)[2:]


class Hardsigmoid(_WithInplace):
    """0 for x <= -3, 1 for x >= 3, x/6 + 1/2 between."""

    function = staticmethod(F.hardsigmoid)
    shows_inplace = False


class Hardswish(_WithInplace):
    """x · hardsigmoid(x)."""

    function = staticmethod(F.hardswish)
    shows_inplace = False


class SiLU(_WithInplace):
    """x · σ(x) (swish)."""

    function = staticmethod(F.silu)


class Mish(_WithInplace):
    """x · tanh(softplus(x))."""

    function = staticmethod(F.mish)


class _Shrink(_Elementwise):
    """Hardshrink and Softshrink: zero the band |x| <= λ."""

    function = staticmethod(F.hardshrink)

    def __init__(self, lambd: float = 0.5, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return self.function(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """0 where |x| <= λ, else x."""

    function = staticmethod(F.hardshrink)


class Softshrink(_Shrink):
    """0 where |x| <= λ, else x shrunk towards 0 by λ (λ >= 0)."""

    function = staticmethod(F.softshrink)

    def __init__(self, lambd: float = 0.5, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(lambd)
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be non-negative, got {lambd}")


class Tanhshrink(_Plain):
    """x - tanh(x)."""

    function = staticmethod(F.tanhshrink)


class Softsign(_Plain):
    """x / (1 + |x|)."""

    function = staticmethod(F.softsign)


class LogSigmoid(_Plain):
    """log σ(x), stable in both tails."""

    function = staticmethod(F.logsigmoid)


class Threshold(_Elementwise):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False, *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace(self.inplace)}"


class Softplus(_Elementwise):
    """log(1 + e^{βx}) / β, and x where βx > threshold (β = 0 gives ±inf, as PyTorch's)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape, elementwise."""
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GLU(_Elementwise):
    """a · σ(b) for the two halves a, b of the input along ``dim``: (*, 2n, *) → (*, n, *)."""

    def __init__(self, dim: int = -1, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (*, 2n, *) with 2n at ``dim`` → (*, n, *)."""
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x for x > 0, a·x otherwise, with learned slopes ``weight`` a: (num_parameters,), all ``init`` at first.

    ``num_parameters`` is 1 (one slope shared by all channels) or the number of channels C (dim 1 of
    an input (N, C, *)), as PyTorch's.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters, self.init = size_arg(num_parameters, "PReLU", "num_parameters", 1), init
        dt = mg.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(mg.full((num_parameters,), init, dtype=dt, device=device))

    def reset_parameters(self) -> None:
        """Set every slope in ``weight`` back to ``init``."""
        self.weight.data[...] = self.init

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *) (or any shape with one shared slope) → the same shape."""
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
