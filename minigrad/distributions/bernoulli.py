"""The Bernoulli distribution over {0, 1}, by ``probs`` or ``logits``, as torch.distributions.Bernoulli."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .exp_family import ExponentialFamily
from .utils import BinaryParameters, broadcast_all, softplus

__all__ = ["Bernoulli"]


def _bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """-[t log σ(l) + (1 - t) log(1 - σ(l))] = softplus(l) - l t, stable for any l; gradient σ(l) - t to l, also
    at l = 0 (probs ½). Written (1 - t) softplus(l) + t softplus(-l): l = +inf scores t = 0 as inf, as PyTorch
    (softplus(l) - l t is inf - inf there), l = -inf scores t = 1 as inf (PyTorch: NaN), and the gradient keeps
    its digits for hard targets on both sides (σ(l) for t = 0, -σ(-l) for t = 1). An infinite target (a value
    outside the support, scored with validation off) takes PyTorch's (1 - t) l + softplus(-l), ±inf by l's sign,
    where the two-term form is inf - inf."""
    scored = (1 - target) * softplus(logits) + target * softplus(-logits)
    return mg.where(target.isinf(), (1 - target) * logits + softplus(-logits), scored)


class Bernoulli(BinaryParameters, ExponentialFamily):
    """1 with probability ``probs`` (or sigmoid(``logits``)), else 0; the batch shape is the parameter's.

    Give exactly one of ``probs`` (in [0, 1]) and ``logits``; the other is computed on first use.
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs: Tensor | float | None = None, logits: Tensor | float | None = None,
                 validate_args: bool | None = None) -> None:
        self._set_probs_or_logits(probs, logits)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Bernoulli:
        return self._expanded(Bernoulli, batch_shape, _instance, ("probs", "logits"))

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where p > ½, 0 where p < ½, NaN at p = ½ (as PyTorch)."""
        mode = (self.probs >= 0.5).astype(self.probs.dtype)
        return mg.where(self.probs == 0.5, float("nan"), mode)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with mg.no_grad():
            return mg.bernoulli(self.probs.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # a float value scores in its own dtype (PyTorch's binary_cross_entropy_with_logits takes the target's:
        # float64 logits and float32 values give float32), an integer value in logits' dtype
        dtype = value.dtype if value.dtype.kind == "f" else logits.dtype
        return -_bce_with_logits(logits.astype(dtype), value.astype(dtype))

    def entropy(self) -> Tensor:
        return _bce_with_logits(self.logits, self.probs)

    _mean_carrier_measure = 0

    @property
    def _natural_params(self) -> tuple:
        return (mg.logit(self.probs),)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return x.exp().log1p()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = mg.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((2,) + tuple(self._batch_shape)) if expand else values
