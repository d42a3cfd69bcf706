"""``mg.distributions``: probability distributions with PyTorch's ``torch.distributions`` API.

Each distribution has a ``batch_shape`` and an ``event_shape`` (see ``distribution.py``), draws with
``sample(sample_shape)`` (no gradient) and, where PyTorch has one, ``rsample`` (reparameterised:
gradients flow to the parameters), scores values with ``log_prob``, and gives ``mean``, ``mode``,
``variance``, ``stddev``, ``entropy()`` and ``cdf``/``icdf`` where PyTorch does. Draws come from
the engine's generator, so ``mg.manual_seed`` makes them repeatable (the numbers are not PyTorch's).
``kl_divergence(p, q)`` covers the same-family pairs.

Not here (PyTorch 2.13 has them): Cauchy, Chi2, ContinuousBernoulli, FisherSnedecor, Geometric,
Gumbel, HalfCauchy, HalfNormal, InverseGamma, Kumaraswamy, LKJCholesky, LogNormal, LogisticNormal,
LowRankMultivariateNormal, MixtureSameFamily, Multinomial, NegativeBinomial, Pareto,
RelaxedBernoulli, RelaxedOneHotCategorical, StudentT, TransformedDistribution and the transforms,
VonMises, Weibull, Wishart, ExponentialFamily's generic entropy.
"""

from __future__ import annotations

from . import constraints
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical, OneHotCategorical, OneHotCategoricalStraightThrough
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .poisson import Poisson
from .uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Dirichlet", "Distribution", "Exponential", "Gamma",
           "Independent", "Laplace", "MultivariateNormal", "Normal", "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "Poisson", "Uniform", "constraints", "kl_divergence", "register_kl"]
