"""The inverse-gamma distribution, as torch.distributions.InverseGamma (1 / X, X ~ Gamma)."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .gamma import Gamma
from .transformed_distribution import TransformedDistribution
from .transforms import PowerTransform

__all__ = ["InverseGamma"]

_INF = float("inf")


class InverseGamma(TransformedDistribution):
    """density β^α x^(-α-1) e^(-β/x) / Γ(α) for x > 0, α = ``concentration``, β = ``rate``, elementwise over
    their broadcast shape; reparameterised through the gamma draw. Mean (α > 1) and variance (α > 2) are +inf
    where they do not exist, as PyTorch's."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration: Tensor | float, rate: Tensor | float, validate_args: bool | None = None) -> None:
        base_dist = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -base_dist.rate.new_ones(())
        super().__init__(base_dist, PowerTransform(neg_one), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> InverseGamma:
        new = self._get_checked_instance(InverseGamma, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def concentration(self) -> Tensor:
        """α: batch_shape."""
        return self.base_dist.concentration

    @property
    def rate(self) -> Tensor:
        """β: batch_shape."""
        return self.base_dist.rate

    @property
    def mean(self) -> Tensor:
        exists = self.concentration > 1
        return mg.where(exists, self.rate / mg.where(exists, self.concentration - 1, 1.0), _INF)

    @property
    def mode(self) -> Tensor:
        return self.rate / (self.concentration + 1)

    @property
    def variance(self) -> Tensor:
        exists = self.concentration > 2
        denominator = (self.concentration - 1).square() * (self.concentration - 2)
        return mg.where(exists, self.rate.square() / mg.where(exists, denominator, 1.0), _INF)

    def entropy(self) -> Tensor:
        return (self.concentration + self.rate.log() + special.gammaln(self.concentration)
                - (1 + self.concentration) * special.digamma(self.concentration))
