"""The Fisher–Snedecor (F) distribution, as torch.distributions.FisherSnedecor."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .gamma import Gamma
from .utils import broadcast_all, is_number, value_like

__all__ = ["FisherSnedecor"]

_NAN = float("nan")


class FisherSnedecor(Distribution):
    """F(d1, d2): the ratio (X1 / d1) / (X2 / d2) of independent χ² draws with ``df1`` and ``df2`` degrees of
    freedom, elementwise over their broadcast shape; reparameterised through the two gamma draws. The mean (d2 > 2),
    mode (d1 > 2) and variance (d2 > 4) are NaN where they do not exist, as PyTorch's."""

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1: Tensor | float, df2: Tensor | float, validate_args: bool | None = None) -> None:
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        super().__init__(() if is_number(df1) and is_number(df2) else self.df1.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> FisherSnedecor:
        new = self._get_checked_instance(FisherSnedecor, _instance)
        shape = tuple(batch_shape)
        new.df1, new.df2 = self.df1.expand(shape), self.df2.expand(shape)
        new._gamma1, new._gamma2 = self._gamma1.expand(shape), self._gamma2.expand(shape)
        Distribution.__init__(new, shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        df2 = mg.where(self.df2 <= 2, _NAN, self.df2)
        return df2 / (df2 - 2)

    @property
    def mode(self) -> Tensor:
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return mg.where(self.df1 <= 2, _NAN, mode)

    @property
    def variance(self) -> Tensor:
        df2 = mg.where(self.df2 <= 4, _NAN, self.df2)
        return 2 * df2.pow(2) * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        tiny = float(mg.finfo(self.df1.dtype).tiny)
        x1 = self._gamma1.rsample(sample_shape)
        x2 = self._gamma2.rsample(sample_shape).clamp(min=tiny)
        return (x1 / x2).clamp(min=tiny)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.df1)
        ct1, ct2, ct3 = self.df1 * 0.5, self.df2 * 0.5, self.df1 / self.df2
        t1 = special.gammaln(ct1 + ct2) - special.gammaln(ct1) - special.gammaln(ct2)
        t2 = ct1 * ct3.log() + (ct1 - 1) * value.log()
        t3 = (ct1 + ct2) * (ct3 * value).log1p()
        return t1 + t2 - t3
