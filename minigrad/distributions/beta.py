"""The beta distribution on [0, 1], as torch.distributions.Beta (a two-category Dirichlet)."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .utils import broadcast_all, is_number, value_like

__all__ = ["Beta"]


class Beta(ExponentialFamily):
    """density x^(a-1) (1-x)^(b-1) / B(a, b) with a = ``concentration1``, b = ``concentration0``,
    elementwise over their broadcast shape; ``rsample`` is X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b)."""

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1: Tensor | float, concentration0: Tensor | float,
                 validate_args: bool | None = None) -> None:
        if is_number(concentration1) and is_number(concentration0):
            pair = mg.tensor([float(concentration1), float(concentration0)], dtype=mg.get_default_dtype())
        else:
            concentration1, concentration0 = broadcast_all(concentration1, concentration0)
            pair = mg.stack([concentration1, concentration0], -1)
        self._dirichlet = Dirichlet(pair, validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Beta:
        new = self._get_checked_instance(Beta, _instance)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self) -> Tensor:
        """a, the exponent of x: batch_shape."""
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self) -> Tensor:
        """b, the exponent of 1 - x: batch_shape."""
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self._dirichlet.concentration)
        return self._dirichlet.log_prob(mg.stack([value, 1.0 - value], -1))

    @property
    def _natural_params(self) -> tuple:
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        return special.gammaln(x) + special.gammaln(y) - special.gammaln(x + y)

    def entropy(self) -> Tensor:
        return self._dirichlet.entropy()
