"""The generalised Pareto distribution, as torch.distributions.GeneralizedPareto."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, is_number, uniform, value_like

__all__ = ["GeneralizedPareto"]

_NAN, _INF = float("nan"), float("inf")


class GeneralizedPareto(Distribution):
    """density (1/σ) (1 + ξ z)^(-1/ξ - 1), z = (x - μ)/σ, with μ = ``loc``, σ = ``scale``, ξ = ``concentration``
    (ξ = 0: the exponential e^(-z) / σ), on x ≥ μ (and x ≤ μ - σ/ξ for ξ < 0), elementwise over the broadcast
    shape. ξ counts as 0 where |ξ| ≤ 1e-8 (PyTorch's isclose). ``rsample`` is the inverse CDF of a uniform draw;
    mean (ξ < 1) and variance (ξ < ½) are NaN where they do not exist."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc: Tensor | float, scale: Tensor | float, concentration: Tensor | float,
                 validate_args: bool | None = None) -> None:
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        numbers = is_number(loc) and is_number(scale) and is_number(concentration)
        super().__init__(() if numbers else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> GeneralizedPareto:
        return self._expanded(GeneralizedPareto, batch_shape, _instance, ("loc", "scale", "concentration"))

    def _zero_and_safe(self) -> tuple:
        """(where ξ counts as 0, ξ with 1 there)."""
        eq_zero = self.concentration.abs() <= 1e-8
        return eq_zero, mg.where(eq_zero, mg.ones_like(self.concentration), self.concentration)

    def _z(self, x: Tensor) -> Tensor:
        return (value_like(x, self.loc) - self.loc) / self.scale

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        return self.icdf(uniform(self._extended_shape(sample_shape), self.loc))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._zero_and_safe()
        y = 1 / safe_conc + mg.ones_like(z)
        where_nonzero = mg.where(y == 0, y, y * (safe_conc * z).log1p())
        return -self.scale.log() - mg.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value: Tensor) -> Tensor:
        """log P(X > value): value's broadcast shape."""
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._zero_and_safe()
        return mg.where(eq_zero, -z, -(safe_conc * z).log1p() / safe_conc)

    def log_cdf(self, value: Tensor) -> Tensor:
        """log P(X ≤ value): value's broadcast shape."""
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value: Tensor) -> Tensor:
        return self.log_cdf(value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        eq_zero, safe_conc = self._zero_and_safe()
        logu = (-value_like(value, self.loc)).log1p()
        where_nonzero = self.loc + self.scale / safe_conc * (-safe_conc * logu).expm1()
        return mg.where(eq_zero, self.loc - self.scale * logu, where_nonzero)

    @property
    def mean(self) -> Tensor:
        valid = self.concentration < 1
        safe_conc = mg.where(valid, self.concentration, 0.5)
        return mg.where(valid, self.loc + self.scale / (1 - safe_conc), _NAN)

    @property
    def variance(self) -> Tensor:
        valid = self.concentration < 0.5
        safe_conc = mg.where(valid, self.concentration, 0.25)
        return mg.where(valid, self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc)), _NAN)

    @property
    def mode(self) -> Tensor:
        return self.loc

    def entropy(self) -> Tensor:
        return mg.broadcast_to(self.scale.log() + self.concentration + 1, tuple(self._batch_shape))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> Any:
        negative = self.concentration < 0
        safe_conc = mg.where(negative, self.concentration, -1.0)
        return constraints.interval(self.loc, mg.where(negative, self.loc - self.scale / safe_conc, _INF))
