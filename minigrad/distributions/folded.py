"""|X| for X symmetric about 0: the shared part of HalfNormal and HalfCauchy."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform

__all__ = ["FoldedDistribution"]


class FoldedDistribution(TransformedDistribution):
    """|X| for X ~ ``base_dist``, a distribution symmetric about 0 with a ``scale``: density 2 p(y), cdf
    2 F(y) - 1 for y ≥ 0, entropy that of X less log 2. Subclasses give ``expand``, ``mean`` and ``variance``."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, base_dist: Distribution, validate_args: bool | None = None) -> None:
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    @property
    def scale(self) -> Tensor:
        """The scale of X: batch_shape."""
        return self.base_dist.scale

    @property
    def mode(self) -> Tensor:
        return mg.zeros_like(self.scale)

    def _as_value(self, value: Any) -> Any:
        """The value ``log_prob`` reads: as given (HalfCauchy reads it in the scale's dtype, as torch's does)."""
        return value

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = self._as_value(value)
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return mg.where(value >= 0, log_prob, -math.inf)

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob: Tensor) -> Tensor:
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() - math.log(2)
