"""The half-Cauchy distribution, |X| for X ~ Cauchy(0, scale), as torch.distributions.HalfCauchy."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from ..tensor import Tensor
from .cauchy import Cauchy
from .folded import FoldedDistribution

__all__ = ["HalfCauchy"]


class HalfCauchy(FoldedDistribution):
    """|X|, X ~ Cauchy(0, ``scale``): density 2 / (π scale (1 + (y / scale)²)) for y ≥ 0 (a common prior for
    scales); the mean is infinite."""

    def __init__(self, scale: Tensor | float, validate_args: bool | None = None) -> None:
        super().__init__(Cauchy(0, scale, validate_args=False), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> HalfCauchy:
        return super().expand(batch_shape, _instance=self._get_checked_instance(HalfCauchy, _instance))

    @property
    def mean(self) -> Tensor:
        return mg.full(tuple(self._extended_shape()), math.inf, dtype=self.scale.dtype, device=self.scale.device)

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

    def _as_value(self, value: Any) -> Tensor:
        scale = self.scale
        return (value.astype(scale.dtype) if isinstance(value, Tensor)
                else mg.tensor(value, dtype=scale.dtype, device=scale.device))
