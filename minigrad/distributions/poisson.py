"""The Poisson distribution with a ``rate``, as torch.distributions.Poisson."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..ops.gamma import poisson
from ..tensor import Tensor
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, is_number, value_like

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """P(k) = rate^k e^-rate / k! for k = 0, 1, …, elementwise over ``rate``'s shape.

    ``entropy`` is not available (as in PyTorch, which has no closed form either).
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate: Tensor | float, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_all(rate)
        super().__init__(() if is_number(rate) else self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Poisson:
        return self._expanded(Poisson, batch_shape, _instance, ("rate",))

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Counts in rate's dtype: sample_shape + batch_shape."""
        with mg.no_grad():
            return poisson(self.rate.detach().expand(tuple(self._extended_shape(sample_shape))))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.rate)
        rate, value = broadcast_all(self.rate, value)   # float64 counts next to float32 rates: float64, as PyTorch
        return mg.xlogy(value, rate) - rate - special.gammaln(value + 1)

    @property
    def _natural_params(self) -> tuple:
        return (self.rate.log(),)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return x.exp()

    def entropy(self) -> Tensor:
        raise NotImplementedError("Poisson.entropy: not implemented (nor in PyTorch)")
