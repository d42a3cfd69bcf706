"""The geometric distribution (failures before the first success), as torch.distributions.Geometric."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import BinaryParameters, broadcast_all, softplus, uniform, value_like

__all__ = ["Geometric"]


class Geometric(BinaryParameters, Distribution):
    """P(k) = (1 - p)^k p for k = 0, 1, 2 …, p = ``probs`` (in (0, 1]) or sigmoid(``logits``); batch shape the
    parameter's. Draws are floor(log u / log(1 - p)), u ~ U(tiny, 1)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs: Tensor | float | None = None, logits: Tensor | float | None = None,
                 validate_args: bool | None = None) -> None:
        self._set_probs_or_logits(probs, logits)
        super().__init__(self._param.shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            valid = self.probs > 0
            if not bool(valid.all()):
                raise ValueError(f"Expected parameter probs ({type(self.probs).__name__} of shape "
                                 f"{tuple(self.probs.shape)}) of distribution {self!r} to be positive but found "
                                 f"invalid values:\n{self.probs.detach()[~valid]}")

    def expand(self, batch_shape: Any, _instance: Any = None) -> Geometric:
        return self._expanded(Geometric, batch_shape, _instance, ("probs", "logits"))

    @property
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        return mg.zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Counts in probs' dtype: sample_shape + batch_shape."""
        shape = tuple(self._extended_shape(sample_shape))
        with mg.no_grad():
            probs = self.probs.detach()
            u = uniform(shape, probs).clamp(min=float(mg.finfo(probs.dtype).tiny))
            return (u.log() / (-probs).log1p()).floor()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value_like(value, self.probs), self.probs)
        probs = mg.where((probs == 1) & (value == 0), 0.0, probs).astype(probs.dtype)   # 0 · log 0 = 0 at p = 1
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self) -> Tensor:
        """H(p) / p, the binary entropy of one trial over p, as two positive terms: neither end cancels (a
        difference such as softplus(l) - l p loses float32's digits near p = 1: 4% at p = 1 - 1.4e-6).

        Given ``probs``: -log p - (1 - p) log1p(-p) / p, from p itself, not from the logits: those are p's clamped
        to [eps, 1 - eps], so a quotient of them is eps-sized over p below eps (float32 p = 1e-10: 1208 for 24.03).
        Given ``logits`` l: softplus(-l) + e^-l softplus(l), whose second term is 1 to double precision below
        l = -30 and is taken as 1 there (e^-l overflows further down, and p = sigmoid(l) underflows, so no division
        by p). PyTorch's give 0 below eps and from l = -37 down."""
        if self._param is self.__dict__.get("probs"):
            p = self.probs
            inside = (p > 0) & (p < 1)
            safe = mg.where(inside, p, 0.5)   # no 0 · inf in the branch not taken (nor in its gradient)
            limit = (p == 0).astype(p.dtype)   # p = 0: the tail's limit 1 (p's dtype whatever the default)
            tail = mg.where(inside, (1 - safe) * -(-safe).log1p() / safe, limit)
            return tail - p.log()
        logits = self.logits
        far = logits < -30   # e^-l would overflow further down; the term is 1 - e^l / 2 there
        safe = mg.where(far, mg.zeros_like(logits), logits.clamp(max=1000.0))   # l = +inf: 0 · inf otherwise
        return softplus(-logits) + mg.where(far, mg.ones_like(logits), (-safe).exp() * softplus(safe))
