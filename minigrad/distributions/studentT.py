"""Student's t distribution, as torch.distributions.StudentT."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .chi2 import Chi2
from .distribution import Distribution
from .utils import broadcast_all, standard_normal, value_like

__all__ = ["StudentT"]


class StudentT(Distribution):
    """loc + scale · T, T with ``df`` degrees of freedom, elementwise over the broadcast shape of df, loc and
    scale; ``rsample`` is loc + scale · X / sqrt(Z / df), X ~ N(0, 1), Z ~ Chi2(df) (gradients reach df through
    the gamma draw). The mean is NaN for df ≤ 1, the variance inf for 1 < df ≤ 2 and NaN for df ≤ 1."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df: Tensor | float, loc: Tensor | float = 0.0, scale: Tensor | float = 1.0,
                 validate_args: bool | None = None) -> None:
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> StudentT:
        new = self._expanded(StudentT, batch_shape, _instance, ("df", "loc", "scale"))
        new._chi2 = self._chi2.expand(batch_shape)
        return new

    @property
    def mean(self) -> Tensor:
        return mg.where(self.df <= 1, math.nan, self.loc)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        df = mg.where(self.df > 2, self.df, 3.0).astype(self.df.dtype)   # a safe df where the formula is unused
        variance = self.scale.pow(2) * df / (df - 2)
        undefined = mg.where(self.df > 1, math.inf, math.nan).astype(variance.dtype)   # not the default dtype
        return mg.where(self.df > 2, variance, undefined)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        x = standard_normal(self._extended_shape(sample_shape), self.df)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * (x * (z / self.df).rsqrt())

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        y = (value_like(value, self.loc) - self.loc) / self.scale
        z = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + special.gammaln(0.5 * self.df)
             - special.gammaln(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * (y ** 2.0 / self.df).log1p() - z

    def entropy(self) -> Tensor:
        lbeta = special.gammaln(0.5 * self.df) + math.lgamma(0.5) - special.gammaln(0.5 * (self.df + 1))
        return (self.scale.log()
                + 0.5 * (self.df + 1) * (special.digamma(0.5 * (self.df + 1)) - special.digamma(0.5 * self.df))
                + 0.5 * self.df.log() + lbeta)
