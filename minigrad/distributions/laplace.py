"""The Laplace (double exponential) distribution, as torch.distributions.Laplace."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ..tensor import Tensor
from .distribution import Distribution
from .utils import Located, LocationScale, uniform, value_like

__all__ = ["Laplace"]


class Laplace(LocationScale, Located, Distribution):
    """density exp(-|x - loc| / scale) / (2 scale), elementwise over the broadcast shape of ``loc`` and
    ``scale``; ``rsample`` is loc - scale · sign(u) · log(1 - |u|), u ~ U[eps - 1, 1)."""

    def expand(self, batch_shape: Any, _instance: Any = None) -> Laplace:
        return self._expanded(Laplace, batch_shape, _instance, ("loc", "scale"))

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale ** 2

    @property
    def stddev(self) -> Tensor:
        return 2 ** 0.5 * self.scale

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        eps = float(mg.finfo(self.loc.dtype).eps)
        u = uniform(self._extended_shape(sample_shape), self.loc) * (2 - eps) + (eps - 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.loc)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.loc)
        return 0.5 - 0.5 * (value - self.loc).sign() * (-(value - self.loc).abs() / self.scale).expm1()

    def icdf(self, value: Tensor) -> Tensor:
        value = value_like(value, self.loc)
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self) -> Tensor:
        return 1 + (2 * self.scale).log()
