"""The gamma distribution by ``concentration`` (shape α) and ``rate`` (β), as torch.distributions.Gamma."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..ops.gamma import standard_gamma
from ..tensor import Tensor
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, is_number, value_like

__all__ = ["Gamma"]


class Gamma(ExponentialFamily):
    """density β^α x^(α-1) e^(-βx) / Γ(α) for x ≥ 0, elementwise over the broadcast shape of
    ``concentration`` and ``rate``.

    ``rsample`` draws x ~ Gamma(α, 1) and returns x / β; the gradient to α is the implicit
    reparameterisation dx/dα = -(∂P/∂α)/(∂P/∂x) of the gamma CDF P (see ``mg.ops.gamma.standard_gamma``).
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration: Tensor | float, rate: Tensor | float, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        batch_shape = () if is_number(concentration) and is_number(rate) else self.concentration.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Gamma:
        return self._expanded(Gamma, batch_shape, _instance, ("concentration", "rate"))

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        return standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)

    def log_prob(self, value: Tensor | float) -> Tensor:
        # in rate's dtype, numbers and tensors alike (PyTorch's torch.as_tensor(value, dtype=rate.dtype))
        value = (value.astype(self.rate.dtype) if isinstance(value, Tensor)
                 else mg.tensor(value, dtype=self.rate.dtype, device=self.rate.device))
        if self._validate_args:
            self._validate_sample(value)
        return (mg.xlogy(self.concentration, self.rate) + mg.xlogy(self.concentration - 1, value)
                - self.rate * value - special.gammaln(self.concentration))

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.rate)
        return special.gammainc(self.concentration, self.rate * value)

    _mean_carrier_measure = 0

    @property
    def _natural_params(self) -> tuple:
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        return special.gammaln(x + 1) + (x + 1) * (-y.reciprocal()).log()

    def entropy(self) -> Tensor:
        return (self.concentration - self.rate.log() + special.gammaln(self.concentration)
                + (1.0 - self.concentration) * special.digamma(self.concentration))
