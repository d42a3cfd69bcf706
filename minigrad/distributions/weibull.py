"""The Weibull distribution, as torch.distributions.Weibull (scale · E^(1/k), E ~ Exponential(1))."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .exponential import Exponential
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .utils import broadcast_all, euler_constant

__all__ = ["Weibull"]


class Weibull(TransformedDistribution):
    """density (k/λ) (x/λ)^(k-1) exp(-(x/λ)^k) for x > 0, λ = ``scale``, k = ``concentration``, elementwise over
    their broadcast shape; reparameterised through the exponential draw."""

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale: Tensor | float, concentration: Tensor | float,
                 validate_args: bool | None = None) -> None:
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base_dist = Exponential(mg.ones_like(self.scale), validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration_reciprocal), AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Weibull:
        new = self._get_checked_instance(Weibull, _instance)
        shape = tuple(batch_shape)
        new.scale, new.concentration = self.scale.expand(shape), self.concentration.expand(shape)
        new.concentration_reciprocal = new.concentration.reciprocal()
        transforms = [PowerTransform(exponent=new.concentration_reciprocal), AffineTransform(loc=0, scale=new.scale)]
        TransformedDistribution.__init__(new, self.base_dist.expand(shape), transforms, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.scale * special.gammaln(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self) -> Tensor:
        """scale ((k - 1)/k)^(1/k); NaN where a negative base meets a fractional power (k < 1), quietly, as PyTorch."""
        base = (self.concentration - 1) / self.concentration
        with mg.errstate(mg.array_module(base.data), invalid="ignore"):
            return self.scale * base ** self.concentration.reciprocal()

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2) * (special.gammaln(1 + 2 * self.concentration_reciprocal).exp()
                                    - (2 * special.gammaln(1 + self.concentration_reciprocal)).exp())

    def entropy(self) -> Tensor:
        return (euler_constant * (1 - self.concentration_reciprocal)
                + (self.scale * self.concentration_reciprocal).log() + 1)
