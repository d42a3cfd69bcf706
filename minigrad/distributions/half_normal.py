"""The half-normal distribution, |X| for X ~ N(0, scale²), as torch.distributions.HalfNormal."""

from __future__ import annotations

import math
from typing import Any

from ..tensor import Tensor
from .folded import FoldedDistribution
from .normal import Normal

__all__ = ["HalfNormal"]


class HalfNormal(FoldedDistribution):
    """|X|, X ~ N(0, ``scale``²): density 2 φ(y / scale) / scale for y ≥ 0; batch shape the scale's."""

    def __init__(self, scale: Tensor | float, validate_args: bool | None = None) -> None:
        super().__init__(Normal(0, scale, validate_args=False), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> HalfNormal:
        return super().expand(batch_shape, _instance=self._get_checked_instance(HalfNormal, _instance))

    @property
    def mean(self) -> Tensor:
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2) * (1 - 2 / math.pi)
