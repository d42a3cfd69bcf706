"""Bayesian deep learning programs, run unchanged on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls in the same roles, with our own names,
structure and comments, tiny sizes, a few steps and generated data. The plain Bayes-by-backprop classifier with a
``Normal(0, 1)`` prior and ``kl_divergence`` lives in tests/test_pytorch_programs_classic.py; this file has the
paper's other form.

* ``BAYES_BY_BACKPROP`` follows Blundell et al. 2015 as the well-known blog rewrite (nitarshan's "Weight
  Uncertainty in Neural Networks") writes it: ``BayesianLinear`` with ``mu``/``rho`` parameters, ``sigma =
  F.softplus(rho)`` for the weights and ``torch.log1p(torch.exp(rho))`` for the bias, ``w = mu + sigma * eps`` with
  ``eps = torch.randn(rho.size())``, the posterior's log density from ``Normal(mu, sigma).log_prob(w).sum()`` and
  the scale-mixture prior written by hand (``torch.logsumexp`` over two ``Normal(0, s).log_prob`` plus the log
  weights); the Monte Carlo KL ``log q - log p`` scaled by the minibatch weight ``2**(M - i) / (2**M - 1)``, a
  Gaussian likelihood ``Normal(out, noise).log_prob(y).sum()``, several samples per step, Adam; predictions from
  the posterior means in ``eval()`` and from samples in ``train()``;
* ``MC_DROPOUT`` follows Gal & Ghahramani's MC dropout as PyTorch programs write it: a classifier with
  ``BatchNorm1d`` and ``nn.Dropout`` trained with dropout, then ``model.eval()`` with only the dropout modules put
  back in ``train()`` (picked by ``m.__class__.__name__.startswith('Dropout')``), N stochastic passes under
  ``torch.no_grad()`` stacked, the predictive mean and variance, the predictive entropy and the mutual information
  (BALD) with ``torch.log(p + 1e-10)``;
* ``DEEP_ENSEMBLE`` follows Lakshminarayanan et al. 2017 as PyTorch rewrites write it: members whose head gives a
  mean and ``F.softplus(raw) + 1e-6`` variance, ``nn.GaussianNLLLoss`` with ``full=True`` and ``full=False`` and its
  ``eps``, adversarial training by the fast gradient sign (``torch.autograd.grad`` w.r.t. the input,
  ``.sign()``), one Adam per member, the mixture's mean and variance; beside it a heteroscedastic regressor with a
  log-variance head and ``-Normal(mu, torch.exp(0.5 * log_var)).log_prob(y).mean()``;
* ``LAST_LAYER_LAPLACE`` follows the last-layer Laplace approximation (Kristiadi et al. 2020; the laplace-torch
  library's ``LLLaplace``) written by hand: MAP training with weight decay, the features detached, the last
  layer's weight and bias flattened with ``torch.cat``, the Hessian of the loss in those weights from
  ``torch.autograd.functional.hessian`` and the generalised Gauss-Newton from
  ``torch.autograd.functional.jacobian``, the posterior covariance from ``torch.linalg.inv``,
  ``torch.linalg.cholesky`` + ``torch.cholesky_inverse`` and ``torch.cholesky_solve``, the log determinant from
  ``torch.linalg.slogdet``, and the probit (MacKay) predictive ``sigmoid(f / sqrt(1 + pi / 8 * var))``;
* ``EVIDENTIAL_SWAG`` has two programs: deep evidential regression (Amini et al. 2020, as its PyTorch ports write
  it), a Normal-Inverse-Gamma head split with ``torch.split`` and made positive with ``F.softplus``, the NIG
  negative log-likelihood with ``torch.lgamma`` and its evidence regulariser, the aleatoric and epistemic
  variances; and SWAG-diagonal (Maddox et al. 2019, as its PyTorch code writes it): SGD, then the running first and
  second moments of ``torch.nn.utils.parameters_to_vector(model.parameters())``, the variance clamped at
  ``1e-30``, samples ``mean + sqrt(var) * torch.randn_like(var)`` loaded with
  ``torch.nn.utils.vector_to_parameters``, the Bayesian model average of their predictions.

Random draws: the two engines' generators differ, so both read the same numbers: ``torch.randn``/``randn_like``
read one NumPy stream each (``_shared_noise``, tests/test_pytorch_programs_more.py) and ``F.dropout`` keeps what
one NumPy stream picks (``_shared_dropout``, tests/test_pytorch_programs_gnn.py). Losses are compared step by step
and the final weights at the end, float32 to 1e-5; Bayes by backprop also ``.double()``d (1e-10), the Laplace algebra
in float64 from the float32 MAP (1e-5) and SWAG in float64 (1e-9 after the training's 1e-12): its variance
``E[w^2] - E[w]^2`` is a small difference of two moments, and in float32 a one-ulp difference in the moments moved
the sampled weights by 2e-5.

What the programs found: they ran and agreed with torch as written, and so did the probes around them (the
``GaussianNLLLoss`` shapes, reductions and errors, ``hessian``/``jacobian``/``hvp``/``vhp`` and ``torch.func``'s
``jacrev``/``hessian``/``vmap`` over ``functional_call``, Hessians by double backward, the Cholesky family,
``MultivariateNormal``/``MixtureSameFamily``/``StudentT``/``InverseGamma``, ``swa_utils`` with ``momentum=None`` batch
norms), so no regression test is added here. Left as they are (documented choices): a NumPy float64 scalar times a
float32 tensor is float64 (DESIGN §3; torch reads it as a Python number), and ``vector_to_parameters`` refuses a
vector longer than the parameters where torch ignores the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_gnn import _shared_dropout
from tests.test_pytorch_programs_more import _shared_noise

TORCH_IMPORTS_BAYES = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal
"""

MINIGRAD_IMPORTS_BAYES = """\
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.distributions import Normal
"""


BAYES_BY_BACKPROP = '''
class ScaleMixturePrior:
    """log p(w) = sum log(pi N(w; 0, s1^2) + (1 - pi) N(w; 0, s2^2)), the sum taken over every element of w."""

    def __init__(self, pi, sigma1, sigma2):
        self.log_weights = (math.log(pi), math.log(1 - pi))
        self.wide = Normal(0.0, sigma1)
        self.narrow = Normal(0.0, sigma2)

    def log_prob(self, w):
        parts = torch.stack([self.wide.log_prob(w) + self.log_weights[0],
                             self.narrow.log_prob(w) + self.log_weights[1]])
        return torch.logsumexp(parts, dim=0).sum()


class BayesianLinear(nn.Module):
    """x (B, in) -> (B, out) through weights drawn from q(w) = N(mu, softplus(rho)^2); the call leaves
    log q(w) and log p(w) of the draw in self.log_variational_posterior and self.log_prior."""

    def __init__(self, in_features, out_features, prior):
        super().__init__()
        self.weight_mu = nn.Parameter(torch.Tensor(out_features, in_features).uniform_(-0.2, 0.2))
        self.weight_rho = nn.Parameter(torch.Tensor(out_features, in_features).uniform_(-5, -4))
        self.bias_mu = nn.Parameter(torch.Tensor(out_features).uniform_(-0.2, 0.2))
        self.bias_rho = nn.Parameter(torch.Tensor(out_features).uniform_(-5, -4))
        self.prior = prior
        self.log_prior = 0
        self.log_variational_posterior = 0

    def forward(self, input, sample=False):
        if self.training or sample:
            weight_sigma = F.softplus(self.weight_rho)
            bias_sigma = torch.log1p(torch.exp(self.bias_rho))
            weight = self.weight_mu + weight_sigma * torch.randn(self.weight_rho.size())
            bias = self.bias_mu + bias_sigma * torch.randn(self.bias_rho.size())
            self.log_prior = self.prior.log_prob(weight) + self.prior.log_prob(bias)
            self.log_variational_posterior = (Normal(self.weight_mu, weight_sigma).log_prob(weight).sum()
                                              + Normal(self.bias_mu, bias_sigma).log_prob(bias).sum())
        else:
            weight, bias = self.weight_mu, self.bias_mu
            self.log_prior, self.log_variational_posterior = 0, 0
        return F.linear(input, weight, bias)


class BayesianRegressor(nn.Module):
    def __init__(self, hidden=12, noise=0.1):
        super().__init__()
        prior = ScaleMixturePrior(0.5, math.exp(-0), math.exp(-6))
        self.l1 = BayesianLinear(1, hidden, prior)
        self.l2 = BayesianLinear(hidden, 1, prior)
        self.noise = noise

    def forward(self, x, sample=False):
        return self.l2(torch.tanh(self.l1(x, sample)), sample)

    def log_prior(self):
        return self.l1.log_prior + self.l2.log_prior

    def log_variational_posterior(self):
        return self.l1.log_variational_posterior + self.l2.log_variational_posterior

    def sample_elbo(self, x, y, kl_weight, samples=2):
        log_priors, log_posteriors, log_likelihoods = [], [], []
        for _ in range(samples):
            out = self(x, sample=True)
            log_priors.append(self.log_prior())
            log_posteriors.append(self.log_variational_posterior())
            log_likelihoods.append(Normal(out, self.noise).log_prob(y).sum())
        log_prior = torch.stack(log_priors).mean()
        log_posterior = torch.stack(log_posteriors).mean()
        log_likelihood = torch.stack(log_likelihoods).mean()
        loss = kl_weight * (log_posterior - log_prior) - log_likelihood
        return loss, log_prior, log_posterior, log_likelihood


def make_model(double=False):
    model = BayesianRegressor()
    return model.double() if double else model


def train(model, x, y, epochs=3, batch_size=8, lr=0.01):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = math.ceil(len(x) / batch_size)
    model.train()
    history = []
    for _ in range(epochs):
        for index, start in enumerate(range(0, len(x), batch_size)):
            kl_weight = 2 ** (batches - index - 1) / (2 ** batches - 1)   # Blundell et al.'s minibatch weights
            optimizer.zero_grad()
            loss, log_prior, log_posterior, log_likelihood = model.sample_elbo(
                x[start:start + batch_size], y[start:start + batch_size], kl_weight)
            loss.backward()
            optimizer.step()
            history.append([loss.item(), log_prior.item(), log_posterior.item(), log_likelihood.item()])
    return history


def predict(model, x, samples=4):
    model.eval()
    with torch.no_grad():
        at_means = model(x)
        draws = torch.stack([model(x, sample=True) for _ in range(samples)])
    return at_means.numpy(), draws.mean(0).numpy(), draws.std(0).numpy()
'''


MC_DROPOUT = '''
class MCDropoutNet(nn.Module):
    def __init__(self, features, hidden, classes, p=0.3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(p),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p),
            nn.Linear(hidden, classes))

    def forward(self, x):
        return self.net(x)


def make_model(features, hidden, classes):
    return MCDropoutNet(features, hidden, classes)


def enable_dropout(model):
    """Dropout on at test time, everything else (the batch norm's running statistics) in eval mode."""
    for m in model.modules():
        if m.__class__.__name__.startswith('Dropout'):
            m.train()


def train(model, x, y, steps, batch_size=8):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    criterion = nn.CrossEntropyLoss()
    history = []
    model.train()
    for step in range(steps):
        start = (step * batch_size) % len(x)
        optimizer.zero_grad()
        loss = criterion(model(x[start:start + batch_size]), y[start:start + batch_size])
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history


def mc_predict(model, x, passes=5):
    """(passes, N, C) softmax samples -> predictive mean and variance (N, C), entropy and mutual information (N,)."""
    model.eval()
    enable_dropout(model)
    with torch.no_grad():
        probs = torch.stack([F.softmax(model(x), dim=1) for _ in range(passes)])
    mean = probs.mean(dim=0)
    variance = probs.var(dim=0)
    entropy = -torch.sum(mean * torch.log(mean + 1e-10), dim=-1)
    expected_entropy = -torch.mean(torch.sum(probs * torch.log(probs + 1e-10), dim=-1), dim=0)
    mutual_information = entropy - expected_entropy
    assert model.net[1].training is False and model.net[3].training is True
    return mean.numpy(), variance.numpy(), entropy.numpy(), mutual_information.numpy()
'''


DEEP_ENSEMBLE = '''
class GaussianMLP(nn.Module):
    """x (B, 1) -> mean (B, 1) and variance (B, 1) > 0."""

    def __init__(self, hidden=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        mean, raw = self.head(self.body(x)).chunk(2, dim=-1)
        return mean, F.softplus(raw) + 1e-6


class HeteroscedasticMLP(nn.Module):
    """x (B, 1) -> mean and log-variance (B, 1)."""

    def __init__(self, hidden=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.Tanh())
        self.mu = nn.Linear(hidden, 1)
        self.log_var = nn.Linear(hidden, 1)

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.log_var(h)


def make_model(members=3):
    return tuple(GaussianMLP() for _ in range(members)) + (HeteroscedasticMLP(),)


def adversarial(x, y, model, criterion, epsilon):
    """The fast gradient sign example around x."""
    x = x.clone().requires_grad_(True)
    mean, var = model(x)
    grad, = torch.autograd.grad(criterion(mean, y, var), x)
    return (x + epsilon * grad.sign()).detach()


def train_ensemble(members, x, y, steps, batch_size=8, epsilon=0.01):
    criteria = [nn.GaussianNLLLoss(full=True), nn.GaussianNLLLoss(), nn.GaussianNLLLoss(full=True, eps=1e-2)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=0.01) for m in members]
    history = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        losses = []
        for model, criterion, optimizer in zip(members, criteria, optimizers):
            x_adv = adversarial(xb, yb, model, criterion, epsilon)
            optimizer.zero_grad()
            mean, var = model(xb)
            adv_mean, adv_var = model(x_adv)
            loss = criterion(mean, yb, var) + criterion(adv_mean, yb, adv_var)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(losses)
    return history


@torch.no_grad()
def ensemble_predict(members, x):
    means, variances = zip(*(m(x) for m in members))
    means, variances = torch.stack(means), torch.stack(variances)
    mixture_mean = means.mean(dim=0)
    mixture_var = (variances + means.pow(2)).mean(dim=0) - mixture_mean.pow(2)
    return mixture_mean.numpy(), mixture_var.numpy()


def train_heteroscedastic(model, x, y, steps, batch_size=8):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        mu, log_var = model(x[start:start + batch_size])
        loss = -Normal(mu, torch.exp(0.5 * log_var)).log_prob(y[start:start + batch_size]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history
'''


LAST_LAYER_LAPLACE = '''
class Classifier(nn.Module):
    """x (B, 2) -> one logit (B,); self.features gives the last layer's input (B, H)."""

    def __init__(self, hidden=6):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.last = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.last(self.features(x)).squeeze(-1)


def make_model():
    return Classifier()


def train_map(model, x, y, steps, prior_precision):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=prior_precision / len(x))
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history


def last_layer_laplace(model, x, y, x_test, prior_precision):
    """The Gaussian posterior over the last layer's (weight, bias) around the MAP, and its predictive."""
    model = model.double()
    x, y, x_test = x.double(), y.double(), x_test.double()
    with torch.no_grad():
        phi = model.features(x)
        phi_test = model.features(x_test)
    w_map = torch.cat([model.last.weight.detach().flatten(), model.last.bias.detach()])
    size = w_map.numel()

    def logits_of(w, features):
        return features @ w[:-1] + w[-1]

    def loss_of(w):
        nll = F.binary_cross_entropy_with_logits(logits_of(w, phi), y, reduction='sum')
        return nll + 0.5 * prior_precision * (w ** 2).sum()

    hessian = torch.autograd.functional.hessian(loss_of, w_map)                          # (D, D)
    J = torch.autograd.functional.jacobian(lambda w: logits_of(w, phi), w_map)          # (N, D)
    p = torch.sigmoid(logits_of(w_map, phi))
    ggn = J.T @ (J * (p * (1 - p)).unsqueeze(1)) + prior_precision * torch.eye(size, dtype=J.dtype)
    covariance = torch.linalg.inv(hessian)
    L = torch.linalg.cholesky(ggn)
    covariance_chol = torch.cholesky_inverse(L)
    covariance_solve = torch.cholesky_solve(torch.eye(size, dtype=L.dtype), L)
    sign, logdet = torch.linalg.slogdet(ggn)
    log_marginal = -loss_of(w_map) - 0.5 * logdet + 0.5 * size * math.log(prior_precision)

    J_test = torch.autograd.functional.jacobian(lambda w: logits_of(w, phi_test), w_map)
    f_mean = logits_of(w_map, phi_test)
    f_var = torch.einsum('nd,de,ne->n', J_test, covariance, J_test)
    kappa = 1 / torch.sqrt(1 + math.pi / 8 * f_var)
    probit = torch.sigmoid(kappa * f_mean)
    return {'hessian': hessian, 'ggn': ggn, 'covariance': covariance, 'covariance_chol': covariance_chol,
            'covariance_solve': covariance_solve, 'cholesky': L, 'sign': sign, 'log_marginal': log_marginal,
            'f_var': f_var, 'probit': probit, 'map': torch.sigmoid(f_mean)}
'''


EVIDENTIAL_SWAG = '''
class NormalInverseGamma(nn.Module):
    """h (B, H) -> gamma, v, alpha, beta (B, 1) each: v, beta > 0 and alpha > 1."""

    def __init__(self, in_features):
        super().__init__()
        self.linear = nn.Linear(in_features, 4)

    def forward(self, h):
        gamma, log_v, log_alpha, log_beta = torch.split(self.linear(h), 1, dim=-1)
        return gamma, F.softplus(log_v), F.softplus(log_alpha) + 1, F.softplus(log_beta)


class EvidentialRegressor(nn.Module):
    def __init__(self, hidden=12):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = NormalInverseGamma(hidden)

    def forward(self, x):
        return self.head(self.body(x))


class Regressor(nn.Module):
    def __init__(self, hidden=10):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)


def make_model():
    # SWAG's variance is a small difference of two large moments: float64 keeps its digits
    return EvidentialRegressor(), Regressor().double()


def nig_nll(y, gamma, v, alpha, beta):
    two_b_lambda = 2 * beta * (1 + v)
    nll = (0.5 * torch.log(math.pi / v)
           - alpha * torch.log(two_b_lambda)
           + (alpha + 0.5) * torch.log(v * (y - gamma) ** 2 + two_b_lambda)
           + torch.lgamma(alpha)
           - torch.lgamma(alpha + 0.5))
    return nll.mean()


def nig_regulariser(y, gamma, v, alpha):
    return (torch.abs(y - gamma) * (2 * v + alpha)).mean()


def train_evidential(model, x, y, steps, batch_size=8, coefficient=0.01):
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        gamma, v, alpha, beta = model(xb)
        nll = nig_nll(yb, gamma, v, alpha, beta)
        reg = nig_regulariser(yb, gamma, v, alpha)
        loss = nll + coefficient * reg
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append([loss.item(), nll.item(), reg.item()])
    with torch.no_grad():
        gamma, v, alpha, beta = model(x)
        aleatoric = beta / (alpha - 1)
        epistemic = beta / (v * (alpha - 1))
    return history, gamma.numpy(), aleatoric.numpy(), epistemic.numpy()


class SWAGDiagonal:
    """Running first and second moments of a model's flattened weights; draws w ~ N(mean, diag(var))."""

    def __init__(self, model):
        self.model = model
        self.mean = torch.zeros_like(torch.nn.utils.parameters_to_vector(model.parameters()))
        self.sq_mean = torch.zeros_like(self.mean)
        self.n_models = 0

    def collect_model(self):
        w = torch.nn.utils.parameters_to_vector(self.model.parameters()).detach()
        self.mean = self.mean * self.n_models / (self.n_models + 1.0) + w / (self.n_models + 1.0)
        self.sq_mean = self.sq_mean * self.n_models / (self.n_models + 1.0) + w ** 2 / (self.n_models + 1.0)
        self.n_models += 1

    def sample(self, scale=1.0):
        var = torch.clamp(self.sq_mean - self.mean ** 2, min=1e-30)
        w = self.mean + scale ** 0.5 * var.sqrt() * torch.randn_like(var)
        torch.nn.utils.vector_to_parameters(w, self.model.parameters())


def train_swag(model, x, y, steps, swa_start, batch_size=8, lr=0.05):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    swag = SWAGDiagonal(model)
    history = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        optimizer.zero_grad()
        loss = F.mse_loss(model(x[start:start + batch_size]), y[start:start + batch_size])
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        if step >= swa_start:
            swag.collect_model()
    return swag, history


def swag_predict(swag, x, samples=3):
    """The Bayesian model average of `samples` SWAG draws (N, 1), and each draw's first prediction."""
    predictions = []
    with torch.no_grad():
        for _ in range(samples):
            swag.sample()
            predictions.append(swag.model(x))
    predictions = torch.stack(predictions)
    return predictions.mean(0).numpy(), predictions[:, 0, 0].tolist(), swag.mean.numpy(), swag.sq_mean.numpy()
'''


PROGRAMS = (BAYES_BY_BACKPROP, MC_DROPOUT, DEEP_ENSEMBLE, LAST_LAYER_LAPLACE, EVIDENTIAL_SWAG)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_BAYES, MINIGRAD_IMPORTS_BAYES), **kwargs)


def _regression_data(count: int, seed: int) -> tuple:
    """(count, 1) float32 inputs in [-2, 2] and noisy sines at them whose noise grows with |x|."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (count, 1)).astype(np.float32)
    y = (np.sin(2 * x) + (0.05 + 0.1 * np.abs(x)) * rng.standard_normal((count, 1))).astype(np.float32)
    return x, y


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_BAYES.splitlines()[-1].replace("torch", "minigrad") == MINIGRAD_IMPORTS_BAYES.splitlines()[-1]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. Bayes by backprop


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bayes_by_backprop_with_a_scale_mixture_prior(dtype: str, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = (a.astype(dtype) for a in _regression_data(24, seed=0))
    torch_program, torch_model, mg_program, mg_model, initial = _twins(BAYES_BY_BACKPROP, dtype == "float64")
    results = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        _shared_noise(monkeypatch, torch, seed=1)
        lib = program["torch"]
        history = program["train"](model, lib.from_numpy(x), lib.from_numpy(y))
        results.append((history, program["predict"](model, lib.from_numpy(x[:5]))))
    (expected, expected_prediction), (history, prediction) = results
    rtol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(history, expected, rtol=rtol, atol=10 * rtol)
    for ours, theirs in zip(prediction, expected_prediction):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol / 10)
    _assert_same_weights(torch_model, mg_model, initial)
    for name, value in mg_model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), torch_model.state_dict()[name].numpy(), rtol=rtol, atol=rtol / 10)


# ----------------------------------------------------------------------------- 2. MC dropout


def test_mc_dropout_prediction(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MC_DROPOUT, 5, 16, 3)
    results = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        _shared_dropout(monkeypatch, torch, seed=3)
        lib = program["torch"]
        history = program["train"](model, lib.from_numpy(x), lib.from_numpy(y), steps=8)
        results.append((history, program["mc_predict"](model, lib.from_numpy(x[:6]))))
    (expected, expected_prediction), (history, prediction) = results
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(prediction, expected_prediction):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert prediction[1].max() > 0   # the passes differ: dropout was on
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. deep ensemble


def test_deep_ensemble_and_heteroscedastic_regression(torch: Any) -> None:
    x, y = _regression_data(24, seed=4)
    torch_program, torch_models, mg_program, mg_models, initials = _twins(DEEP_ENSEMBLE)
    results = []
    for program, models in ((torch_program, torch_models), (mg_program, mg_models)):
        lib = program["torch"]
        xs, ys = lib.from_numpy(x), lib.from_numpy(y)
        ensemble = program["train_ensemble"](models[:3], xs, ys, steps=6)
        mixture = program["ensemble_predict"](models[:3], xs[:6])
        results.append((ensemble, mixture, program["train_heteroscedastic"](models[3], xs, ys, steps=6)))
    (expected, expected_mixture, expected_single), (ensemble, mixture, single) = results
    np.testing.assert_allclose(ensemble, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(single, expected_single, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(mixture, expected_mixture):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 4. last-layer Laplace


def test_last_layer_laplace_with_probit_predictive(torch: Any) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((24, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] + 0.3 * rng.standard_normal(24) > 0).astype(np.float32)
    x_test = rng.standard_normal((5, 2)).astype(np.float32) * 3
    torch_program, torch_model, mg_program, mg_model, initial = _twins(LAST_LAYER_LAPLACE)
    results = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        lib = program["torch"]
        history = program["train_map"](model, lib.from_numpy(x), lib.from_numpy(y), steps=8, prior_precision=1.0)
        results.append((history, program["last_layer_laplace"](
            model, lib.from_numpy(x), lib.from_numpy(y), lib.from_numpy(x_test), prior_precision=1.0)))
    (expected, expected_laplace), (history, laplace) = results
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    assert laplace.keys() == expected_laplace.keys()
    for name, value in laplace.items():
        # the MAP weights agree to float32 training's 1e-6; the algebra from there on is float64 in both
        assert value.dtype == np.float64, name
        np.testing.assert_allclose(value.numpy(), expected_laplace[name].detach().numpy(), rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    np.testing.assert_allclose(laplace["hessian"].numpy(), laplace["ggn"].numpy(), rtol=1e-10, atol=1e-12)
    for name in ("covariance_chol", "covariance_solve"):
        np.testing.assert_allclose(laplace[name].numpy(), laplace["covariance"].numpy(), rtol=1e-9, atol=1e-12)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 5. evidential regression, SWAG


def test_evidential_regression_and_swag_diagonal(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _regression_data(24, seed=6)
    torch_program, torch_models, mg_program, mg_models, initials = _twins(EVIDENTIAL_SWAG)
    results = []
    for program, (evidential, regressor) in ((torch_program, torch_models), (mg_program, mg_models)):
        _shared_noise(monkeypatch, torch, seed=7)
        lib = program["torch"]
        xs, ys = lib.from_numpy(x), lib.from_numpy(y)
        evidence = program["train_evidential"](evidential, xs, ys, steps=6)
        swag, history = program["train_swag"](regressor, xs.double(), ys.double(), steps=8, swa_start=4)
        final = {k: v.detach().numpy().copy() for k, v in regressor.state_dict().items()}
        results.append((evidence, history, final, program["swag_predict"](swag, xs[:5].double())))
    (expected_evidence, expected_history, expected_final, expected_swag), (evidence, history, final, swag) = results
    np.testing.assert_allclose(evidence[0], expected_evidence[0], rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(evidence[1:], expected_evidence[1:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history, expected_history, rtol=1e-12)
    for name in final:
        np.testing.assert_allclose(final[name], expected_final[name], rtol=1e-12, err_msg=name)
    for ours, theirs in zip(swag, expected_swag):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    _assert_same_weights(torch_models[0], mg_models[0], initials[0])
