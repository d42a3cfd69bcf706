"""``mg.distributions`` against ``torch.distributions`` 2.13: log_prob, entropy, moments, cdf/icdf and KL
divergences (values and parameter gradients, float64), shapes of sample/rsample, sample statistics
and seeding, gradients through rsample, expand, enumerate_support and validate_args' errors.

Tolerances: 1e-10 relative against torch, except gradients through digamma (Gamma, Beta and Dirichlet
entropies and KLs): torch's trigamma is good to ~1e-9, so those compare at 1e-8. Sample statistics
use 20,000 seeded draws and bounds of several standard errors (deterministic, not flaky).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from distribution_helpers import (
    agree,
    as_leaves,
    check_manual_seed_repeats,
    check_moments,
    check_sample_shapes,
    evaluate,
    expand_both,
    gradcheck_scores,
)
from helpers import assert_close, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(21)
REAL = RNG.standard_normal((3, 2))
POS = RNG.uniform(0.5, 3.0, (3, 2))
POS2 = RNG.uniform(0.5, 3.0, (3, 2))
PROB = RNG.uniform(0.1, 0.9, (3, 2))
TRIL = np.array([[1.5, 0.0], [0.3, 0.8]])
COV = np.array([[1.5, 0.2], [0.2, 0.8]])
TRILS = np.stack([TRIL, TRIL * 0.7 + np.eye(2) * 0.3, np.array([[0.9, 0.0], [-0.4, 1.2]])])
SIMPLEX = PROB / PROB.sum(-1, keepdims=True)

# name → (make(lib, *leaves) → distribution, parameter arrays (leaves that require grad), a value to score)
CASES: dict[str, tuple[Callable, tuple, np.ndarray]] = {
    "Normal": (lambda t, loc, scale: t.distributions.Normal(loc, scale), (REAL, POS), REAL * 2),
    "Normal_numbers": (lambda t: t.distributions.Normal(0.5, 2.0), (), REAL),
    "Laplace": (lambda t, loc, scale: t.distributions.Laplace(loc, scale), (REAL, POS), REAL * 2),
    "Uniform": (lambda t, low, width: t.distributions.Uniform(low - 3, low + width), (REAL, POS), REAL * 0.1),
    "Exponential": (lambda t, rate: t.distributions.Exponential(rate), (POS,), POS2),
    "Gamma": (lambda t, a, b: t.distributions.Gamma(a, b), (POS, POS2), POS2),
    "Beta": (lambda t, a, b: t.distributions.Beta(a, b), (POS, POS2), PROB),
    "Beta_numbers": (lambda t: t.distributions.Beta(2.0, 3.5), (), PROB),
    "Dirichlet": (lambda t, a: t.distributions.Dirichlet(a), (POS,), SIMPLEX),
    "Bernoulli_probs": (lambda t, p: t.distributions.Bernoulli(probs=p), (PROB,), np.round(PROB)),
    "Bernoulli_logits": (lambda t, x: t.distributions.Bernoulli(logits=x), (REAL,), np.round(PROB)),
    "Poisson": (lambda t, rate: t.distributions.Poisson(rate), (POS,), np.floor(POS2 * 2)),
    "Binomial_probs": (lambda t, p: t.distributions.Binomial(t.tensor(np.full((3, 2), 5.0)), probs=p), (PROB,),
                       np.floor(PROB * 5)),
    "Binomial_logits": (lambda t, x: t.distributions.Binomial(5, logits=x), (REAL,), np.floor(PROB * 5)),
    "Categorical_probs": (lambda t, p: t.distributions.Categorical(probs=p), (POS,), np.array([0, 1, 1])),
    "Categorical_logits": (lambda t, x: t.distributions.Categorical(logits=x), (REAL,), np.array([[0, 1, 1]])),
    "OneHotCategorical": (lambda t, x: t.distributions.OneHotCategorical(logits=x), (REAL,), np.eye(2)[[0, 1, 1]]),
    "MultivariateNormal_scale_tril": (lambda t, loc, tril: t.distributions.MultivariateNormal(
        loc, scale_tril=tril.tril()), (REAL, TRIL), REAL * 0.5),
    "MultivariateNormal_covariance": (lambda t, loc, cov: t.distributions.MultivariateNormal(
        loc, covariance_matrix=(cov + cov.mT) / 2), (REAL, COV), REAL[:1] * 0.5),
    "MultivariateNormal_precision": (lambda t, loc, prec: t.distributions.MultivariateNormal(
        loc, precision_matrix=(prec + prec.mT) / 2), (REAL[0], COV), REAL * 0.5),
    "MultivariateNormal_batched_trils": (lambda t, loc, trils: t.distributions.MultivariateNormal(
        loc, scale_tril=trils.tril()), (REAL, TRILS), REAL * 0.5),
    "Independent_Normal": (lambda t, loc, scale: t.distributions.Independent(t.distributions.Normal(loc, scale), 1),
                           (REAL, POS), REAL * 0.3),
}
DIGAMMA_GRADIENTS = {"Gamma", "Beta", "Dirichlet"}
DIGAMMA_RTOL = 3e-8   # torch's trigamma
ATTRIBUTES = ("log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf", "perplexity")


@pytest.mark.parametrize("attribute", ATTRIBUTES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_torch(name: str, attribute: str, torch: Any) -> None:
    make, arrays, value = CASES[name]
    torch_leaves, leaves = as_leaves(torch, arrays), as_leaves(mg, arrays)
    try:
        theirs = evaluate(make(torch, *torch_leaves), attribute, torch, value, PROB)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            evaluate(make(mg, *leaves), attribute, mg, value, PROB)
        return
    ours = evaluate(make(mg, *leaves), attribute, mg, value, PROB)
    rtol = DIGAMMA_RTOL if name.split("_")[0] in DIGAMMA_GRADIENTS else 1e-10
    if name.endswith("_numbers"):   # float32 parameters (the default dtype): float32 special functions
        rtol = 1e-5
    if name.startswith("Gamma") and attribute == "cdf":   # neither library differentiates gammainc in a
        theirs, ours = theirs.detach(), ours.detach()
    agree(torch, ours, theirs, leaves, torch_leaves, rtol, f"{name}.{attribute}")


@pytest.mark.parametrize("name", ["Normal", "Gamma", "Beta", "Dirichlet", "Bernoulli_logits", "Binomial_probs",
                                  "Categorical_logits", "MultivariateNormal_covariance",
                                  "MultivariateNormal_precision", "Uniform", "Laplace"])
def test_gradcheck_log_prob_and_entropy(name: str) -> None:
    """Finite differences of log_prob (and entropy where it exists), in the parameters, without PyTorch."""
    make, arrays, value = CASES[name]
    gradcheck_scores(make, arrays, value, with_entropy=name != "Binomial_probs" and not name.startswith("Categorical"))


def _scores(dist: Any, value: Any) -> list:
    return [dist.log_prob(value), dist.entropy(), dist.mean, dist.variance]


GPU_CASES: dict[str, tuple[Callable, tuple]] = {   # log_prob, entropy and moments on cuda equal the cpu's
    "Normal": (lambda t, loc, scale, x: _scores(t.distributions.Normal(loc, scale), x), (REAL, POS, REAL * 2)),
    "Gamma": (lambda t, a, b, x: _scores(t.distributions.Gamma(a, b), x), (POS, POS2, POS2)),
    "Beta": (lambda t, a, b, x: _scores(t.distributions.Beta(a, b), x), (POS, POS2, PROB)),
    "Dirichlet": (lambda t, a, x: _scores(t.distributions.Dirichlet(a), x), (POS, SIMPLEX)),
    "Laplace": (lambda t, loc, scale, x: _scores(t.distributions.Laplace(loc, scale), x), (REAL, POS, REAL)),
    "Bernoulli": (lambda t, logits, x: _scores(t.distributions.Bernoulli(logits=logits), x), (REAL, np.round(PROB))),
    "Categorical": (lambda t, logits: [t.distributions.Categorical(logits=logits).entropy()], (REAL,)),
    "Exponential": (lambda t, rate, x: _scores(t.distributions.Exponential(rate), x), (POS, POS2)),
    "Uniform": (lambda t, low, width, x: _scores(t.distributions.Uniform(low - 3, low + width), x),
                (REAL, POS, REAL * 0.1)),
}
test_same_on_gpu_as_on_cpu = gpu_case_tests(GPU_CASES)


# --- KL divergences ------------------------------------------------------------------------------------------

def _pair(kind: str, *params: Any) -> Callable:
    return lambda t, *xs: t.distributions.kl_divergence(
        getattr(t.distributions, kind)(*xs[:len(xs) // 2]), getattr(t.distributions, kind)(*xs[len(xs) // 2:]))


KL_CASES: dict[str, tuple[Callable, tuple]] = {
    "Normal": (_pair("Normal"), (REAL, POS, REAL[::-1], POS2)),
    "Laplace": (_pair("Laplace"), (REAL, POS, REAL[::-1], POS2)),
    "Exponential": (_pair("Exponential"), (POS, POS2)),
    "Gamma": (_pair("Gamma"), (POS, POS2, POS2, POS)),
    "Beta": (_pair("Beta"), (POS, POS2, POS2[::-1], POS)),
    "Dirichlet": (_pair("Dirichlet"), (POS, POS2)),
    "Poisson": (_pair("Poisson"), (POS, POS2)),
    "Bernoulli": (lambda t, p, q: t.distributions.kl_divergence(t.distributions.Bernoulli(probs=p),
                                                                t.distributions.Bernoulli(logits=q)), (PROB, REAL)),
    "Bernoulli_certain": (lambda t, p, q: t.distributions.kl_divergence(
        t.distributions.Bernoulli(probs=p * t.tensor([[0.0, 1.0]])), t.distributions.Bernoulli(probs=q)),
        (PROB, PROB[::-1])),
    "Bernoulli_infinite": (lambda t, p, q: t.distributions.kl_divergence(
        t.distributions.Bernoulli(probs=p), t.distributions.Bernoulli(probs=q * t.tensor([[0.0, 1.0]]))),
        (PROB, PROB[::-1])),
    "Categorical": (lambda t, p, q: t.distributions.kl_divergence(t.distributions.Categorical(probs=p),
                                                                  t.distributions.Categorical(logits=q)), (POS, REAL)),
    "Categorical_zeros": (lambda t, p, q: t.distributions.kl_divergence(
        t.distributions.Categorical(probs=p * t.tensor([0.0, 1.0])), t.distributions.Categorical(probs=q)),
        (POS, POS2)),
    "Categorical_infinite": (lambda t, p, q: t.distributions.kl_divergence(
        t.distributions.Categorical(probs=p), t.distributions.Categorical(probs=q * t.tensor([0.0, 1.0]))),
        (POS, POS2)),
    "OneHotCategorical": (lambda t, p, q: t.distributions.kl_divergence(
        t.distributions.OneHotCategorical(logits=p), t.distributions.OneHotCategorical(logits=q)), (REAL, REAL[::-1])),
    "Binomial": (lambda t, p, q: t.distributions.kl_divergence(t.distributions.Binomial(7, probs=p),
                                                               t.distributions.Binomial(7, logits=q)), (PROB, REAL)),
    "Uniform": (lambda t, a, b: t.distributions.kl_divergence(t.distributions.Uniform(a, a + b),
                                                              t.distributions.Uniform(a - b, a + 2 * b)), (REAL, POS)),
    "Uniform_infinite": (lambda t, a, b: t.distributions.kl_divergence(t.distributions.Uniform(a - b, a + b),
                                                                       t.distributions.Uniform(a, a + 2 * b)),
                         (REAL, POS)),
    "MultivariateNormal": (lambda t, m1, l1, m2, c2: t.distributions.kl_divergence(
        t.distributions.MultivariateNormal(m1, scale_tril=l1.tril()),
        t.distributions.MultivariateNormal(m2, covariance_matrix=(c2 + c2.mT) / 2)), (REAL, TRILS, REAL[::-1], COV)),
    "Independent": (lambda t, a, b, c, d: t.distributions.kl_divergence(
        t.distributions.Independent(t.distributions.Normal(a, b), 1),
        t.distributions.Independent(t.distributions.Normal(c, d), 1)), (REAL, POS, REAL[::-1], POS2)),
}
NO_KL_GRADCHECK = {"Bernoulli_infinite", "Categorical_infinite", "Uniform_infinite"}


@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_same_as_torch(name: str, torch: Any) -> None:
    fn, arrays = KL_CASES[name]
    torch_leaves, leaves = as_leaves(torch, arrays), as_leaves(mg, arrays)
    rtol = DIGAMMA_RTOL if name in DIGAMMA_GRADIENTS else 1e-10
    agree(torch, fn(mg, *leaves), fn(torch, *torch_leaves), leaves, torch_leaves, rtol, f"KL {name}")


@pytest.mark.parametrize("name", sorted(set(KL_CASES) - NO_KL_GRADCHECK))
def test_kl_gradcheck(name: str) -> None:
    fn, arrays = KL_CASES[name]
    assert mg.gradcheck(lambda *xs: fn(mg, *xs), as_leaves(mg, arrays))


def test_kl_infinities_and_missing_pairs() -> None:
    D = mg.distributions
    kl = D.kl_divergence(D.Uniform(mg.tensor([0.0, 0.0]), mg.tensor([1.0, 1.0])),
                         D.Uniform(mg.tensor([0.5, -1.0]), mg.tensor([2.0, 2.0])))
    assert np.isposinf(kl.numpy()[0]) and np.isclose(kl.numpy()[1], math.log(3))
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Cauchy and q type "
                                                  "Bernoulli"):   # (Normal and Bernoulli: both exponential families)
        D.kl_divergence(D.Cauchy(0.0, 1.0), D.Bernoulli(0.5))
    with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
        D.kl_divergence(D.Binomial(3, probs=mg.tensor(0.5)), D.Binomial(5, probs=mg.tensor(0.5)))


def test_register_kl_picks_the_most_specific(monkeypatch: pytest.MonkeyPatch) -> None:
    D = mg.distributions
    from minigrad.distributions import kl
    # a registry of its own, so Wide → Normal does not outlive this test (test_kl_registry_covers_torch reads it)
    monkeypatch.setattr(kl, "_KL_REGISTRY", dict(kl._KL_REGISTRY))
    monkeypatch.setattr(kl, "_KL_MEMOIZE", {})

    class Wide(D.Normal):
        pass

    @D.register_kl(Wide, D.Normal)
    def _kl_wide(p: Any, q: Any) -> mg.Tensor:
        return mg.tensor(42.0)

    assert D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 42.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), Wide(0.0, 1.0)).item() == 0.0
    with pytest.raises(TypeError, match="Distribution subclass"):
        D.register_kl(int, D.Normal)


# --- sampling ----------------------------------------------------------------------------------------------------

SAMPLED: dict[str, tuple[Callable, tuple, tuple]] = {   # name → (make(lib), batch_shape, event_shape)
    "Normal": (lambda t: t.distributions.Normal(t.tensor(REAL), t.tensor(POS)), (3, 2), ()),
    "Laplace": (lambda t: t.distributions.Laplace(t.tensor(REAL), t.tensor(POS)), (3, 2), ()),
    "Uniform": (lambda t: t.distributions.Uniform(t.tensor(REAL), t.tensor(REAL + POS)), (3, 2), ()),
    "Exponential": (lambda t: t.distributions.Exponential(t.tensor(POS)), (3, 2), ()),
    "Gamma": (lambda t: t.distributions.Gamma(t.tensor(POS), t.tensor(POS2)), (3, 2), ()),
    "Gamma_small_concentration": (lambda t: t.distributions.Gamma(t.tensor([0.05, 0.3]), t.tensor([1.0, 2.0])),
                                  (2,), ()),
    "Beta": (lambda t: t.distributions.Beta(t.tensor(POS), t.tensor(POS2)), (3, 2), ()),
    "Dirichlet": (lambda t: t.distributions.Dirichlet(t.tensor(POS)), (3,), (2,)),
    "Bernoulli": (lambda t: t.distributions.Bernoulli(t.tensor(PROB)), (3, 2), ()),
    "Poisson": (lambda t: t.distributions.Poisson(t.tensor(POS * 3)), (3, 2), ()),
    "Binomial": (lambda t: t.distributions.Binomial(t.tensor([[4.0], [9.0], [20.0]]), t.tensor(PROB)), (3, 2), ()),
    "Categorical": (lambda t: t.distributions.Categorical(t.tensor(np.abs(TRILS).sum(-1))), (3,), ()),
    "OneHotCategorical": (lambda t: t.distributions.OneHotCategorical(t.tensor(POS)), (3,), (2,)),
    "MultivariateNormal": (lambda t: t.distributions.MultivariateNormal(t.tensor(REAL), scale_tril=t.tensor(TRILS)),
                           (3,), (2,)),
    "Independent": (lambda t: t.distributions.Independent(t.distributions.Normal(t.tensor(REAL), t.tensor(POS)), 2),
                    (), (3, 2)),
    "Normal_scalar": (lambda t: t.distributions.Normal(1.0, 2.0), (), ()),
}


@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_sample_shapes_as_torch(name: str, sample_shape: tuple, torch: Any) -> None:
    make, batch_shape, event_shape = SAMPLED[name]
    check_sample_shapes(make(mg), make(torch), batch_shape, event_shape, sample_shape)


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_sample_statistics(name: str) -> None:
    """20,000 seeded draws: mean and variance match the distribution's (several standard errors)."""
    make, batch_shape, event_shape = SAMPLED[name]
    dist = make(mg)
    mg.manual_seed(1)
    draws = dist.sample((20_000,)).numpy().astype(np.float64)
    if name == "Categorical":   # mean/variance are NaN (as PyTorch); check the frequencies instead
        frequencies = np.stack([(draws == k).mean(0) for k in range(2)], -1)
        np.testing.assert_allclose(frequencies, dist.probs.numpy(), atol=0.02)
        return
    check_moments(dist, draws, name, variance_rtol=0.15 if name != "Gamma_small_concentration" else 0.3)
    support = dist.support
    assert bool(mg.all(support.check(mg.tensor(draws[:100]))).item())


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_manual_seed_repeats_samples(name: str) -> None:
    check_manual_seed_repeats(SAMPLED[name][0](mg))


def test_categorical_normalises_and_handles_minus_infinity(torch: Any) -> None:
    D, TD = mg.distributions, torch.distributions
    probs = np.array([[1.0, 2.0, 3.0], [0.0, 5.0, 5.0]])
    ours, theirs = D.Categorical(probs=mg.tensor(probs)), TD.Categorical(probs=torch.tensor(probs))
    assert_close(ours.probs, theirs.probs)
    assert_close(ours.logits, theirs.logits)
    logits = np.array([0.0, -np.inf, 1.0])
    ours, theirs = D.Categorical(logits=mg.tensor(logits)), TD.Categorical(logits=torch.tensor(logits))
    assert_close(ours.logits, theirs.logits)
    assert_close(ours.probs, theirs.probs)
    assert_close(ours.entropy(), theirs.entropy())
    assert np.isneginf(ours.log_prob(mg.tensor(1)).item())
    mg.manual_seed(2)
    assert not (ours.sample((20_000,)).numpy() == 1).any()
    assert ours.sample((20_000,)).dtype == mg.int64


# --- gradients through rsample ---------------------------------------------------------------------------------

def _estimate(dist_fn: Callable, params: list, statistic: Callable, n: int = 20_000) -> list:
    mg.manual_seed(3)
    statistic(dist_fn(*params).rsample((n,))).backward()
    return [p.grad.numpy() for p in params]


def test_rsample_gradients_normal_laplace_exponential_uniform() -> None:
    loc, scale = mg.tensor([0.5, -1.0], requires_grad=True), mg.tensor([1.5, 0.7], requires_grad=True)
    d_loc, d_scale = _estimate(mg.distributions.Normal, [loc, scale], lambda x: (x ** 2).mean(0).sum())
    np.testing.assert_allclose(d_loc, 2 * loc.numpy(), atol=0.05)      # E[x²] = loc² + scale²
    np.testing.assert_allclose(d_scale, 2 * scale.numpy(), rtol=0.03)
    loc, scale = mg.tensor([0.5], requires_grad=True), mg.tensor([2.0], requires_grad=True)
    d_loc, d_scale = _estimate(mg.distributions.Laplace, [loc, scale], lambda x: (x - 0.5).abs().mean())
    np.testing.assert_allclose(d_scale, [1.0], rtol=0.03)              # E|x - loc| = scale
    rate = mg.tensor([0.5, 2.0], requires_grad=True)
    (d_rate,) = _estimate(mg.distributions.Exponential, [rate], lambda x: x.mean(0).sum())
    np.testing.assert_allclose(d_rate, -1 / rate.numpy() ** 2, rtol=0.03)   # E[x] = 1/rate
    low, high = mg.tensor([0.0], requires_grad=True), mg.tensor([3.0], requires_grad=True)
    d_low, d_high = _estimate(mg.distributions.Uniform, [low, high], lambda x: x.mean())
    np.testing.assert_allclose([d_low[0], d_high[0]], [0.5, 0.5], rtol=0.02)


def test_rsample_gradients_gamma_beta_dirichlet() -> None:
    """The implicit reparameterisation: gradients of sample means match d/dα of the exact means."""
    a, b = mg.tensor([0.4, 2.5, 9.0], requires_grad=True), mg.tensor([1.0, 0.5, 3.0], requires_grad=True)
    d_a, d_b = _estimate(mg.distributions.Gamma, [a, b], lambda x: x.mean(0).sum())
    np.testing.assert_allclose(d_a, 1 / b.numpy(), rtol=0.04)                  # E[x] = a / b
    np.testing.assert_allclose(d_b, -a.numpy() / b.numpy() ** 2, rtol=0.04)
    a, b = mg.tensor([0.7, 3.0], requires_grad=True), mg.tensor([2.0, 1.5], requires_grad=True)
    d_a, d_b = _estimate(mg.distributions.Beta, [a, b], lambda x: x.mean(0).sum())
    total = a.numpy() + b.numpy()
    np.testing.assert_allclose(d_a, b.numpy() / total ** 2, rtol=0.05)         # E[x] = a / (a + b)
    np.testing.assert_allclose(d_b, -a.numpy() / total ** 2, rtol=0.05)
    alpha = mg.tensor([1.0, 2.0, 4.0], requires_grad=True)
    (d_alpha,) = _estimate(mg.distributions.Dirichlet, [alpha], lambda x: x[:, 0].mean())
    total = alpha.numpy().sum()
    np.testing.assert_allclose(d_alpha, [(total - 1) / total ** 2, -1 / total ** 2, -1 / total ** 2], rtol=0.06)


def test_rsample_gradients_multivariate_normal() -> None:
    """E[(aᵀx)²] = aᵀ L Lᵀ a + (aᵀμ)²: gradients 2 a aᵀ L (lower part) and 2 (aᵀμ) a."""
    loc = mg.tensor([0.3, -0.2], requires_grad=True)
    tril = mg.tensor(TRIL, requires_grad=True)
    direction = np.array([1.0, 2.0])
    d_loc, d_tril = _estimate(lambda m, s: mg.distributions.MultivariateNormal(m, scale_tril=s), [loc, tril],
                              lambda x: ((x @ mg.tensor(direction)) ** 2).mean())
    np.testing.assert_allclose(d_loc, 2 * (direction @ loc.numpy()) * direction, atol=0.1)
    np.testing.assert_allclose(np.tril(d_tril), np.tril(2 * np.outer(direction, direction) @ TRIL), rtol=0.05)


def test_straight_through_rsample_passes_gradients_to_probs() -> None:
    probs = mg.tensor([0.2, 0.8], requires_grad=True)
    sample = mg.distributions.OneHotCategoricalStraightThrough(probs=probs).rsample((3,))
    (sample * mg.tensor([1.0, 2.0])).sum().backward()
    assert probs.grad is not None and sample.shape == (3, 2)


# --- expand, enumerate_support, repr -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(set(SAMPLED) - {"Normal_scalar"}))
def test_expand_as_torch(name: str, torch: Any) -> None:
    make, batch_shape, event_shape = SAMPLED[name]
    ours, theirs = expand_both(make, batch_shape, event_shape, torch)
    torch.manual_seed(0)   # a fixed draw: the test must not depend on what ran before it
    value = theirs.sample()
    # float32: torch's own float32 lgamma is good to ~1e-5 relative (minigrad's computes it in float64)
    rtol = 1e-10 if value.dtype == torch.float64 else 1e-5
    assert_close(ours.log_prob(mg.tensor(value.numpy())), theirs.log_prob(value), rtol=rtol, what=name)


@pytest.mark.parametrize("name", ["Bernoulli", "Binomial_homogeneous", "Categorical", "OneHotCategorical"])
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support_as_torch(name: str, expand: bool, torch: Any) -> None:
    makers = {
        "Bernoulli": lambda t: t.distributions.Bernoulli(t.tensor(PROB)),
        "Binomial_homogeneous": lambda t: t.distributions.Binomial(4, t.tensor(PROB)),
        "Categorical": lambda t: t.distributions.Categorical(t.tensor(POS)),
        "OneHotCategorical": lambda t: t.distributions.OneHotCategorical(t.tensor(POS)),
    }
    ours, theirs = makers[name](mg).enumerate_support(expand), makers[name](torch).enumerate_support(expand)
    assert_close(ours, theirs)
    assert ours.dtype == theirs.numpy().dtype


def test_binomial_entropy_needs_one_total_count() -> None:
    dist = mg.distributions.Binomial(mg.tensor([3.0, 4.0]), mg.tensor([0.5, 0.5]))
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count not supported by `entropy`"):
        dist.entropy()


def test_bernoulli_mode_is_nan_at_one_half(torch: Any) -> None:
    probs = [0.2, 0.5, 0.7]
    assert_close(mg.distributions.Bernoulli(mg.tensor(probs)).mode,
                 torch.distributions.Bernoulli(torch.tensor(probs)).mode)


def _as_torch_text(text: str) -> str:
    return text.replace("torch.Size", "mg.Size")


def test_repr_as_torch(torch: Any) -> None:
    for make in (lambda t: t.distributions.Normal(t.zeros(3), 1.0), lambda t: t.distributions.Normal(0.0, 1.0),
                 lambda t: t.distributions.Bernoulli(logits=t.zeros(2)), lambda t: t.distributions.Beta(1.0, 2.0),
                 lambda t: t.distributions.Independent(t.distributions.Normal(t.zeros(3), 1.0), 1)):
        assert repr(make(mg)) == _as_torch_text(repr(make(torch)))


# --- validate_args ---------------------------------------------------------------------------------------------

def _message(fn: Callable) -> str:
    with pytest.raises(ValueError) as error:
        fn()
    return str(error.value)


ERRORS: dict[str, Callable] = {
    "negative_scale": lambda t: t.distributions.Normal(t.tensor([0.0, 1.0]), t.tensor([1.0, -1.0])),
    "probs_outside": lambda t: t.distributions.Bernoulli(probs=t.tensor([0.5, 1.5])),
    "value_outside_support": lambda t: t.distributions.Bernoulli(0.3).log_prob(t.tensor(0.5)),
    "value_not_a_tensor": lambda t: t.distributions.Normal(0.0, 1.0).log_prob(1.0),
    "value_shape": lambda t: t.distributions.Normal(t.zeros(3), 1.0).log_prob(t.zeros(2)),
    "event_shape": lambda t: t.distributions.Dirichlet(t.ones(3)).log_prob(t.ones(2) / 2),
    "negative_value": lambda t: t.distributions.Exponential(t.tensor([1.0])).log_prob(t.tensor([-1.0])),
    "both_probs_and_logits": lambda t: t.distributions.Categorical(probs=t.ones(2), logits=t.ones(2)),
    "neither_probs_nor_logits": lambda t: t.distributions.Bernoulli(),
    "scalar_probs": lambda t: t.distributions.Categorical(probs=t.tensor(1.0)),
    "two_matrices": lambda t: t.distributions.MultivariateNormal(t.zeros(2), covariance_matrix=t.eye(2),
                                                                 scale_tril=t.eye(2)),
    "not_positive_definite": lambda t: t.distributions.MultivariateNormal(
        t.zeros(2), covariance_matrix=t.tensor([[1.0, 2.0], [2.0, 1.0]])),
    "not_lower_cholesky": lambda t: t.distributions.MultivariateNormal(t.zeros(2), scale_tril=t.ones(2, 2)),
    "independent_too_many_dims": lambda t: t.distributions.Independent(t.distributions.Normal(t.zeros(3), 1.0), 2),
    "gamma_rate": lambda t: t.distributions.Gamma(t.tensor([1.0]), t.tensor([0.0])),
    "poisson_count": lambda t: t.distributions.Poisson(t.tensor([2.0])).log_prob(t.tensor([1.5])),
    "simplex": lambda t: t.distributions.Categorical(probs=t.ones(3)).log_prob(t.tensor(3)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_validation_errors_as_torch(name: str, torch: Any) -> None:
    """The same ValueError messages (torch.Size printed as mg.Size); the invalid values that end a message
    are printed by each library's own tensor printing."""
    fn = ERRORS[name]
    theirs = _as_torch_text(_message(lambda: fn(torch)))
    ours = _message(lambda: fn(mg))
    assert ours.split("\n")[0] == theirs.split("\n")[0]
    assert ours.count("\n") == theirs.count("\n")


def test_validate_args_can_be_turned_off() -> None:
    D = mg.distributions
    dist = D.Normal(0.0, -1.0, validate_args=False)
    assert not dist._validate_args
    with np.errstate(invalid="ignore"):   # log(-1)
        assert np.isnan(dist.log_prob(mg.tensor(0.0)).item())
    assert D.Bernoulli(0.3, validate_args=False).log_prob(mg.tensor(0.5)).shape == ()
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0)
        with np.errstate(invalid="ignore"):   # log(high - low) of a negative width
            D.Uniform(1.0, 0.0).log_prob(mg.tensor(5.0))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")


def test_constraints_as_torch(torch: Any) -> None:
    C, TC = mg.distributions.constraints, torch.distributions.constraints
    values = np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, np.nan]])
    for name in ("real", "positive", "nonnegative", "unit_interval", "boolean", "nonnegative_integer",
                 "positive_integer", "simplex", "one_hot", "real_vector"):
        ours, theirs = getattr(C, name), getattr(TC, name)
        assert repr(ours) == repr(theirs) and ours.event_dim == theirs.event_dim
        assert ours.is_discrete == theirs.is_discrete
        np.testing.assert_array_equal(ours.check(mg.tensor(values)).numpy(), theirs.check(torch.tensor(values)).numpy())
    for ours, theirs in ((C.interval(0.0, 1.0), TC.interval(0.0, 1.0)), (C.greater_than(1.0), TC.greater_than(1.0)),
                         (C.integer_interval(0, 3), TC.integer_interval(0, 3)), (C.less_than(0.5), TC.less_than(0.5))):
        assert repr(ours) == repr(theirs)
        np.testing.assert_array_equal(ours.check(mg.tensor(values)).numpy(), theirs.check(torch.tensor(values)).numpy())
    matrices = np.stack([COV, TRIL, -TRIL.T, -COV])
    for name in ("lower_cholesky", "lower_triangular"):
        np.testing.assert_array_equal(getattr(C, name).check(mg.tensor(matrices)).numpy(),
                                      getattr(TC, name).check(torch.tensor(matrices)).numpy())
    symmetric = np.stack([COV, -COV, 2 * COV])   # torch checks definiteness only once all are symmetric
    np.testing.assert_array_equal(C.positive_definite.check(mg.tensor(symmetric)).numpy(),
                                  TC.positive_definite.check(torch.tensor(symmetric)).numpy())
    assert not C.positive_definite.check(mg.tensor(TRIL)).item()
