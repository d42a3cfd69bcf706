"""The half-Cauchy distribution, |X| for X ~ Cauchy(0, scale), as torch.distributions.HalfCauchy."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .cauchy import Cauchy
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform

__all__ = ["HalfCauchy"]


class HalfCauchy(TransformedDistribution):
    """|X|, X ~ Cauchy(0, ``scale``): density 2 / (π scale (1 + (y / scale)²)) for y ≥ 0 (a common prior for
    scales); the mean is infinite."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale: Tensor | float, validate_args: bool | None = None) -> None:
        super().__init__(Cauchy(0, scale, validate_args=False), AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> HalfCauchy:
        return super().expand(batch_shape, _instance=self._get_checked_instance(HalfCauchy, _instance))

    @property
    def scale(self) -> Tensor:
        """The Cauchy's scale: batch_shape."""
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return mg.full(tuple(self._extended_shape()), math.inf, dtype=self.scale.dtype, device=self.scale.device)

    @property
    def mode(self) -> Tensor:
        return mg.zeros_like(self.scale)

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        scale = self.base_dist.scale
        value = (value.astype(scale.dtype) if isinstance(value, Tensor)
                 else mg.tensor(value, dtype=scale.dtype, device=scale.device))
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
