"""The von Mises (circular normal) distribution, as torch.distributions.VonMises."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, lazy_property, uniform, value_like

__all__ = ["VonMises"]


def _log_i0(x: Tensor) -> Tensor:
    """log I₀(x) = log I₀(|x|) (I₀ is even), from the scaled Bessel function (exact; PyTorch uses a 1e-7
    polynomial fit). The |x| gives a concentration < 0 (allowed with validate_args=False) PyTorch's value."""
    x = x.abs()
    return special.i0e(x).log() + x


def _log_i1(x: Tensor) -> Tensor:
    """log |I₁(x)| = log I₁(|x|) (I₁ is odd), as PyTorch's."""
    x = x.abs()
    return special.i1e(x).log() + x


class VonMises(Distribution):
    """density exp(κ cos(x - loc)) / (2π I₀(κ)) on the circle, κ = ``concentration``, elementwise over the
    broadcast shape of loc and concentration; values are angles in [-π, π) when drawn (log_prob takes any
    real). Draws use Best and Fisher's rejection sampler in float64 (no rsample, as PyTorch)."""

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc: Tensor | float, concentration: Tensor | float, validate_args: bool | None = None) -> None:
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, (), validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> VonMises:
        return self._expanded(VonMises, batch_shape, _instance, ("loc", "concentration"))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.loc)
        return self.concentration * (value - self.loc).cos() - math.log(2 * math.pi) - _log_i0(self.concentration)

    @lazy_property
    def _proposal_r(self) -> Tensor:
        kappa = self.concentration.detach().double()
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        return mg.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))   # a Taylor step at tiny κ

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Angles in [-π, π) in loc's dtype: sample_shape + batch_shape."""
        shape = tuple(self._extended_shape(sample_shape))
        with mg.no_grad():
            loc, kappa = self.loc.detach().double(), self.concentration.detach().double()
            proposal_r = self._proposal_r.detach()
            x = mg.zeros(shape, dtype=mg.float64, device=loc.device)
            done = mg.zeros(shape, dtype=mg.bool_, device=loc.device)
            while not bool(done.all()):
                u1, u2, u3 = uniform((3,) + shape, x).unbind()
                z = (math.pi * u1).cos()
                f = (1 + proposal_r * z) / (proposal_r + z)
                c = kappa * (proposal_r - f)
                u2 = u2.clamp(min=float(mg.finfo(mg.float64).tiny))   # c ≥ 0, so c / u2 is finite and ≥ 0
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                x = mg.where(accept & ~done, (u3 - 0.5).sign() * f.acos(), x)
                done = done | accept
            return ((x + math.pi + loc) % (2 * math.pi) - math.pi).astype(self.loc.dtype)

    @property
    def mean(self) -> Tensor:
        """loc (the circular mean)."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @lazy_property
    def variance(self) -> Tensor:  # type: ignore[override]
        """The circular variance 1 - I₁(κ) / I₀(κ)."""
        return 1 - (_log_i1(self.concentration) - _log_i0(self.concentration)).exp()
