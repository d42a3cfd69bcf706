"""The normal (Gaussian) distribution N(loc, scale²), as torch.distributions.Normal."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from .exp_family import ExponentialFamily
from .utils import Located, LocationScale, standard_normal, value_like

__all__ = ["Normal"]


class Normal(LocationScale, Located, ExponentialFamily):
    """N(loc, scale²), elementwise over the broadcast shape of ``loc`` and ``scale`` (the batch shape).

    density: exp(-(x - loc)² / (2 scale²)) / (scale √(2π)); ``rsample`` is loc + scale · ε, ε ~ N(0, 1).
    """

    def expand(self, batch_shape: Any, _instance: Any = None) -> Normal:
        return self._expanded(Normal, batch_shape, _instance, ("loc", "scale"))

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale ** 2

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A draw without gradient in loc's dtype (PyTorch's torch.normal: float32 loc and float64 scale draw
        float32, where rsample gives float64): sample_shape + batch_shape."""
        with mg.no_grad():
            return self.rsample(sample_shape).astype(self.loc.dtype)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        eps = standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.loc)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.loc)
        return 0.5 * (1 + mg.erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value: Tensor) -> Tensor:
        value = value_like(value, self.loc)
        return self.loc + self.scale * special.erfinv(2 * value - 1) * math.sqrt(2)

    _mean_carrier_measure = 0

    @property
    def _natural_params(self) -> tuple:
        return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(2).reciprocal())

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        return -0.25 * x.pow(2) / y + 0.5 * (-math.pi / y).log()

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
