"""The exponential-family base class, as torch.distributions.ExponentialFamily.

A family whose density is exp(⟨t(x), θ⟩ - F(θ) + k(x)) gives its natural parameters θ (``_natural_params``), its
log normaliser F (``_log_normalizer``) and E[k(x)] (``_mean_carrier_measure``); the entropy and the KL between two
members of one family then follow from F and its gradient (Bregman divergences, Nielsen and Nock). The families
here override ``entropy`` and register their own KLs where PyTorch does; the generic ones serve the rest (Wishart's
KL, a user's subclass).

Gradients: as in PyTorch, where θ enters through ∇F it is taken as a constant (PyTorch differentiates ∇F from a
detached copy of θ): the generic entropy has no gradient to the parameters, the generic KL only to q's.
"""

from __future__ import annotations

from typing import Any

import minigrad as mg

from ..recording import record_grad
from ..tensor import Tensor
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


def log_normalizer_and_gradients(dist: ExponentialFamily) -> tuple:
    """(θ detached, F(θ) without gradient, ∇F(θ) as constants) for ``dist``'s natural parameters θ."""
    params = [p.detach().requires_grad_() for p in dist._natural_params]
    with record_grad():   # inside inference_mode too
        log_normalizer = dist._log_normalizer(*params)
        gradients = mg.autograd.grad(log_normalizer.sum(), params)
    return [p.detach() for p in params], log_normalizer.detach(), gradients


class ExponentialFamily(Distribution):
    """Base of the exponential families: entropy = F(θ) - ⟨θ, ∇F(θ)⟩ - E[k(x)] (batch_shape)."""

    @property
    def _natural_params(self) -> tuple:
        """The natural parameters θ, a tuple of tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params: Tensor) -> Tensor:
        """F(θ): batch_shape."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self) -> Any:
        """E[k(x)], the expected carrier measure (a number or a batch_shape tensor)."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """The entropy from the log normaliser (no gradient to the parameters, as PyTorch's): batch_shape."""
        carrier = self._mean_carrier_measure
        params, log_normalizer, gradients = log_normalizer_and_gradients(self)
        result = log_normalizer - carrier
        for param, gradient in zip(params, gradients):
            result = result - (param * gradient).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
