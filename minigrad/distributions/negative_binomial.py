"""The negative binomial distribution, as torch.distributions.NegativeBinomial."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .gamma import Gamma
from .utils import BinaryParameters, lazy_property, softplus, value_like

__all__ = ["NegativeBinomial"]


class NegativeBinomial(BinaryParameters, Distribution):
    """Successes before ``total_count`` (r > 0, real) failures, each trial a success with probability p:
    P(k) = Γ(k + r) / (k! Γ(r)) p^k (1 - p)^r, elementwise over the broadcast shape of total_count and
    ``probs`` (or ``logits``; exactly one). Drawn as Poisson(Gamma(r, rate (1 - p) / p))."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count: Tensor | float, probs: Tensor | None = None, logits: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        self._set_probs_or_logits(probs, logits, total_count)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> NegativeBinomial:
        return self._expanded(NegativeBinomial, batch_shape, _instance, ("total_count", "probs", "logits"))

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.logits.exp()

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / (-self.logits).sigmoid()

    @lazy_property
    def _gamma(self) -> Gamma:
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(), validate_args=False)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Counts in the parameters' dtype: sample_shape + batch_shape."""
        with mg.no_grad():
            return mg.poisson(self._gamma.sample(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.total_count)
        # r log σ(-l) + k log σ(l), with log σ(x) = -softplus(-x)
        log_unnormalized_prob = -self.total_count * softplus(self.logits) - value * softplus(-self.logits)
        log_normalization = (-special.gammaln(self.total_count + value) + special.gammaln(1.0 + value)
                             + special.gammaln(self.total_count))
        log_normalization = mg.where(self.total_count + value == 0.0, 0.0, log_normalization)
        return log_unnormalized_prob - log_normalization
