"""The binomial distribution: successes in ``total_count`` trials, as torch.distributions.Binomial."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..ops.gamma import binomial
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import BinaryParameters, clamp_by_zero, value_like

__all__ = ["Binomial"]


class Binomial(BinaryParameters, Distribution):
    """P(k) = C(n, k) p^k (1-p)^(n-k) for k = 0 … n, elementwise over the broadcast shape of
    ``total_count`` (n) and ``probs`` (or ``logits``); give exactly one of probs and logits."""

    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count: Tensor | int = 1, probs: Tensor | None = None, logits: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        self._set_probs_or_logits(probs, logits, total_count)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Binomial:
        return self._expanded(Binomial, batch_shape, _instance, ("total_count", "probs", "logits"))

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> Any:
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.probs

    @property
    def mode(self) -> Tensor:
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)   # ties: no gradient to n

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Successes in probs' dtype: sample_shape + batch_shape."""
        shape = tuple(self._extended_shape(sample_shape))
        with mg.no_grad():
            return binomial(self.total_count.detach().expand(shape), self.probs.detach().expand(shape))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.total_count)
        n, logits = self.total_count, self.logits
        normalize = n * clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p() - special.gammaln(n + 1)
        return value * logits - special.gammaln(value + 1) - special.gammaln(n - value + 1) - normalize

    def _homogeneous_count(self, what: str) -> int:
        total = int(self.total_count.max().item())
        if self.total_count.min().item() != total:
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return total

    def entropy(self) -> Tensor:
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        total = self._homogeneous_count("enumerate_support")
        values = mg.arange(1 + total, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((1 + total,) + tuple(self._batch_shape)) if expand else values
