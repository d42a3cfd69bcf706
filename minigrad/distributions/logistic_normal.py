"""The logistic-normal distribution on the simplex, as torch.distributions.LogisticNormal."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    """StickBreakingTransform(X), X ~ Normal(``loc``, ``scale``) over vectors of length K-1: a point on the
    K-simplex, event_shape (K,). loc, scale: (..., K-1) (a scalar pair gives K = 2)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: bool | None = None) -> None:
        base_dist = Normal(loc, scale, validate_args=validate_args)
        if not base_dist.batch_shape:
            base_dist = base_dist.expand([1])
        super().__init__(base_dist, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> LogisticNormal:
        return super().expand(batch_shape, _instance=self._get_checked_instance(LogisticNormal, _instance))

    @property
    def loc(self) -> Tensor:
        """The Normal's loc: (..., K-1)."""
        return self.base_dist.base_dist.loc

    @property
    def scale(self) -> Tensor:
        """The Normal's scale: (..., K-1)."""
        return self.base_dist.base_dist.scale
