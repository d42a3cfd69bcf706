"""The multinomial distribution: counts of ``total_count`` categorical draws, as
torch.distributions.Multinomial."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution, _size_arg
from .utils import CategoricalParameters, broadcast_all, one_hot, value_like

__all__ = ["Multinomial"]


class Multinomial(CategoricalParameters, Distribution):
    """Counts (..., K) of ``total_count`` (an int, the same for the whole batch) draws from K categories with
    ``probs`` (normalised over the last dim) or ``logits``: P(x) = n! / ∏ x_k! ∏ p_k^x_k; event_shape (K,).
    ``log_prob`` does not need total_count (as PyTorch: any counts score)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count: int = 1, probs: Tensor | None = None, logits: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Multinomial:
        new = self._expanded(Multinomial, batch_shape, _instance, ())
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs)
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self) -> Any:
        return constraints.multinomial(self.total_count)

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Counts in probs' dtype: sample_shape + batch_shape + (K,)."""
        indices = self._categorical.sample((self.total_count,) + _size_arg(sample_shape))   # (n, *sample, *batch)
        return one_hot(indices, self._categorical._num_events, self.probs.dtype).sum(0)

    def entropy(self) -> Tensor:
        """The entropy, batch_shape. PyTorch's ``lgamma(n + 1)`` is a 0-d tensor of the default dtype: an
        unbatched (0-d) entropy promotes with it (float32 probs give float64 under ``set_default_dtype(float64)``),
        a batched one keeps the probs' dtype."""
        cat_entropy = self._categorical.entropy()
        dtype = cat_entropy.dtype if cat_entropy.ndim else mg.promote_types(cat_entropy.dtype, mg.get_default_dtype())
        log_factorial = float(mg.get_default_dtype().type(math.lgamma(self.total_count + 1)))   # in that dtype
        term1 = (self.total_count * cat_entropy).to(dtype) - log_factorial
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = special.gammaln(support + 1)
        return term1 + (binomial_probs * weights).sum((0, -1))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value_like(value, self.logits))   # int counts: logits' dtype
        log_factorial_n = special.gammaln(value.sum(-1) + 1)
        log_factorial_xs = special.gammaln(value + 1).sum(-1)
        logits = mg.where((value == 0) & (logits == -math.inf), 0.0, logits).astype(logits.dtype)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)
