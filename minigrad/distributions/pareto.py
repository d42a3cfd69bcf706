"""The Pareto (type I) distribution, as torch.distributions.Pareto (scale · e^E, E ~ Exponential(alpha))."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .exponential import Exponential
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform
from .utils import broadcast_all

__all__ = ["Pareto"]


class Pareto(TransformedDistribution):
    """density α scale^α / x^(α+1) for x ≥ ``scale``, α = ``alpha``, elementwise over their broadcast shape
    (mean and variance where finite: α clamped to > 1 and > 2 as PyTorch)."""

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale: Tensor | float, alpha: Tensor | float, validate_args: bool | None = None) -> None:
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base_dist = Exponential(self.alpha, validate_args=validate_args)
        super().__init__(base_dist, [ExpTransform(), AffineTransform(loc=0, scale=self.scale)],
                         validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Pareto:
        new = self._get_checked_instance(Pareto, _instance)
        new.scale, new.alpha = self.scale.expand(tuple(batch_shape)), self.alpha.expand(tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self) -> Tensor:
        """α scale / (α - 1); +inf where α ≤ 1 (quietly, as PyTorch)."""
        a = self.alpha.clamp(min=1)
        with mg.errstate(mg.array_module(a.data), divide="ignore", invalid="ignore"):
            return a * self.scale / (a - 1)

    @property
    def mode(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        """scale² α / ((α - 1)² (α - 2)); +inf where α ≤ 2 (quietly, as PyTorch)."""
        a = self.alpha.clamp(min=2)
        with mg.errstate(mg.array_module(a.data), divide="ignore", invalid="ignore"):
            return self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> Any:
        return constraints.greater_than_eq(self.scale)

    def entropy(self) -> Tensor:
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())
