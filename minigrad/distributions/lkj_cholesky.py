"""The LKJ distribution over Cholesky factors of correlation matrices, as torch.distributions.LKJCholesky."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import broadcast_all, standard_normal

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """Lower Cholesky factors L (event (dim, dim)) of correlation matrices M = L Lᵀ with density ∝ det(M)^(η-1),
    η = ``concentration`` (batch_shape its shape); η = 1 is uniform over correlation matrices.

    ``sample`` is the onion method of Lewandowski, Kurowicka and Joe (2009), vectorised as PyTorch's: row i is
    √y_i · u_i with y_i ~ Beta(i/2, η + (dim - 2)/2 - (i - 1)/2) and u_i uniform on the sphere, the diagonal fills
    each row to unit length. No rsample (as in PyTorch). PyTorch 2.13 draws y_i ~ Beta(i - ½, …), which spreads the
    correlations of rows past the second (for dim ≥ 3 its draws are not LKJ); these are, with every off-diagonal
    correlation r having (r + 1)/2 ~ Beta(η - 1 + dim/2, η - 1 + dim/2).
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration: Tensor | float = 1.0, validate_args: bool | None = None) -> None:
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = mg.arange(self.dim - 1, dtype=self.concentration.dtype, device=self.concentration.device)
        offset = mg.cat([offset.new_zeros((1,)), offset])
        # row i ≥ 1 has i entries below the diagonal: y_i ~ Beta(i/2, η + (dim - 2)/2 - (i - 1)/2); PyTorch 2.13 takes
        # i - ½ for the first (right for i = 1 only), so its correlations past the second row are too spread
        self._beta = Beta(0.5 * (offset + 1), marginal_conc.unsqueeze(-1) - 0.5 * offset)
        super().__init__(self.concentration.shape, (dim, dim), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> LKJCholesky:
        new = self._get_checked_instance(LKJCholesky, _instance)
        shape = tuple(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(shape)
        new._beta = self._beta.expand(shape + (self.dim,))
        Distribution.__init__(new, shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with mg.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u_normal = standard_normal(tuple(self._extended_shape(sample_shape)), y).tril(-1)
            norm = u_normal.norm(dim=-1, keepdim=True)
            u_hypersphere = u_normal / mg.where(norm == 0, 1.0, norm)   # row 0 is all zeros: 0, not 0/0
            w = y.sqrt() * u_hypersphere
            tiny = float(mg.finfo(w.dtype).tiny)
            return w + mg.diag_embed((1 - (w ** 2).sum(-1)).clamp(min=tiny).sqrt())

    def log_prob(self, value: Tensor) -> Tensor:
        """log density of a Cholesky factor (..., dim, dim) → (...): Σ_i (2(η - 1) + dim - i) log L_ii over
        i = 2 … dim, less the normaliser (Stan's cholesky LKJ density)."""
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = mg.arange(2, self.dim + 1, dtype=self.concentration.dtype, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = (order * diag_elems.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = special.gammaln(alpha) * dm1
        numerator = special.multigammaln(alpha - 0.5, dm1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)   # the reference's D(D-1)/4 log π less multigammaln's own
        return unnormalized_log_pdf - (pi_constant + numerator - denominator)
