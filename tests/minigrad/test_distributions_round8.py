"""The round-8 distributions and transforms against ``torch.distributions`` 2.13: TransformedDistribution and the
transforms (values, inverses, log-determinants, caching, shapes), biject_to / transform_to, the new constraints,
LogNormal … LowRankMultivariateNormal (log_prob, cdf/icdf, entropy, moments; values and parameter gradients in
float64), rsample gradients (gradcheck with a fixed noise draw), sample shapes and statistics, expand, KL pairs
and validate_args' errors.

Tolerances: 1e-10 relative against torch, except gradients through digamma (3e-8: torch's trigamma), VonMises
(1e-6: torch's log I₀ is a polynomial fit good to ~1e-7; minigrad's uses the exact i0e) and Multinomial's entropy
(torch takes lgamma(n + 1) of an int64 tensor, i.e. in float32). Sample statistics use 20,000 draws from a fixed
seed and bounds of several standard errors (deterministic, not flaky).
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
    check_pit,
    check_sample_shapes,
    evaluate,
    expand_both,
    gradcheck_rsample,
    gradcheck_scores,
)
from helpers import assert_close, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(8)
REAL = RNG.standard_normal((3, 2))
POS = RNG.uniform(0.5, 3.0, (3, 2))
POS2 = RNG.uniform(0.5, 3.0, (3, 2))
PROB = RNG.uniform(0.1, 0.9, (3, 2))
SIMPLEX = PROB / PROB.sum(-1, keepdims=True)
SIMPLEX3 = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [1 / 3, 1 / 3, 1 / 3]])
COUNTS = np.array([[2.0, 3.0], [5.0, 0.0], [1.0, 4.0]])
FACTOR = np.array([[0.7], [-0.4]])
TRIL = np.array([[1.5, 0.0], [0.3, 0.8]])
TEMPERATURE = np.array(0.7)


def _td(t: Any, base: Any, *transforms: Any) -> Any:
    return t.distributions.TransformedDistribution(base, list(transforms))


# name → (make(lib, *leaves), parameter arrays (leaves that require grad), a value to score)
CASES: dict[str, tuple[Callable, tuple, np.ndarray]] = {
    "LogNormal": (lambda t, loc, scale: t.distributions.LogNormal(loc, scale), (REAL, POS), POS2),
    "HalfNormal": (lambda t, scale: t.distributions.HalfNormal(scale), (POS,), POS2),
    "HalfCauchy": (lambda t, scale: t.distributions.HalfCauchy(scale), (POS,), POS2),
    "Cauchy": (lambda t, loc, scale: t.distributions.Cauchy(loc, scale), (REAL, POS), REAL * 2),
    "Gumbel": (lambda t, loc, scale: t.distributions.Gumbel(loc, scale), (REAL, POS), REAL * 2),
    "StudentT": (lambda t, df, loc, scale: t.distributions.StudentT(df, loc, scale), (POS * 2, REAL, POS), REAL * 2),
    "StudentT_small_df": (lambda t, df: t.distributions.StudentT(df * 0.6), (POS,), REAL),
    "Chi2": (lambda t, df: t.distributions.Chi2(df), (POS,), POS2),
    "Geometric_probs": (lambda t, p: t.distributions.Geometric(probs=p), (PROB,), np.floor(POS2 * 2)),
    "Geometric_logits": (lambda t, x: t.distributions.Geometric(logits=x), (REAL,), np.floor(POS2 * 2)),
    "NegativeBinomial_probs": (lambda t, n, p: t.distributions.NegativeBinomial(n * 3, probs=p), (POS, PROB),
                               np.floor(POS2 * 3)),
    "NegativeBinomial_logits": (lambda t, n, x: t.distributions.NegativeBinomial(n, logits=x), (POS, REAL),
                                np.floor(POS2 * 3)),
    "Multinomial": (lambda t, p: t.distributions.Multinomial(5, probs=p), (POS,), COUNTS),
    "Multinomial_logits": (lambda t, x: t.distributions.Multinomial(5, logits=x), (REAL,), COUNTS),
    "MixtureSameFamily": (lambda t, logits, loc, scale: t.distributions.MixtureSameFamily(
        t.distributions.Categorical(logits=logits), t.distributions.Normal(loc, scale)), (REAL[0], REAL, POS),
        REAL[:, 0] * 2),
    "MixtureSameFamily_vectors": (lambda t, logits, loc, scale: t.distributions.MixtureSameFamily(
        t.distributions.Categorical(logits=logits), t.distributions.Independent(t.distributions.Normal(loc, scale), 1)),
        (REAL[:, 0], REAL, POS), REAL[0] * 2),
    "RelaxedBernoulli": (lambda t, temp, p: t.distributions.RelaxedBernoulli(temp, probs=p), (TEMPERATURE, PROB),
                         PROB[::-1]),
    "RelaxedBernoulli_logits": (lambda t, temp, x: t.distributions.RelaxedBernoulli(temp, logits=x),
                                (TEMPERATURE, REAL), PROB),
    "RelaxedOneHotCategorical": (lambda t, temp, x: t.distributions.RelaxedOneHotCategorical(temp, logits=x),
                                 (TEMPERATURE, REAL), SIMPLEX),
    "Kumaraswamy": (lambda t, a, b: t.distributions.Kumaraswamy(a, b), (POS, POS2), PROB),
    "Weibull": (lambda t, scale, k: t.distributions.Weibull(scale, k), (POS, POS2), POS2),
    "Pareto": (lambda t, scale, alpha: t.distributions.Pareto(scale, alpha * 2), (POS, POS2), POS + POS2),
    "LogisticNormal": (lambda t, loc, scale: t.distributions.LogisticNormal(loc, scale), (REAL, POS), SIMPLEX3),
    "VonMises": (lambda t, loc, k: t.distributions.VonMises(loc, k), (REAL, POS), REAL * 2),
    "LowRankMultivariateNormal": (lambda t, loc, w, d: t.distributions.LowRankMultivariateNormal(loc, w, d),
                                  (REAL, FACTOR, POS), REAL[::-1] * 0.5),
    "Tanh_squashed_normal": (lambda t, loc, scale: _td(t, t.distributions.Normal(loc, scale),
                                                       t.distributions.TanhTransform()), (REAL, POS), np.tanh(REAL)),
    "Affine_exp": (lambda t, loc, scale, a: _td(t, t.distributions.Normal(loc, scale),
                                                t.distributions.AffineTransform(a, 2.0),
                                                t.distributions.ExpTransform()),
                   (REAL, POS, REAL[0]), POS2),
    "Sigmoid_inverse_power": (lambda t, a, b, k: _td(t, t.distributions.Beta(a, b),
                                                     t.distributions.SigmoidTransform().inv,
                                                     t.distributions.ExpTransform(), t.distributions.PowerTransform(k)),
                              (POS, POS2, POS2), POS),
    "StickBreaking_of_normal": (lambda t, loc, scale: _td(t, t.distributions.Normal(loc, scale),
                                                          t.distributions.StickBreakingTransform()), (REAL, POS),
                                SIMPLEX3),
    "Softplus_affine_vector": (lambda t, loc, scale, s: _td(
        t, t.distributions.Independent(t.distributions.Normal(loc, scale), 1), t.distributions.SoftplusTransform(),
        t.distributions.AffineTransform(0.5, s, event_dim=1)), (REAL, POS, POS2[0]), POS + 0.5),
}
DIGAMMA = {"StudentT", "StudentT_small_df", "Kumaraswamy", "Sigmoid_inverse_power", "Chi2"}
ATTRIBUTES = ("log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf")


def _evaluate(dist: Any, attribute: str, lib: Any, value: np.ndarray) -> Any:
    return evaluate(dist, attribute, lib, value, PROB if dist.batch_shape == (3, 2) else PROB[:, 0])


def _rtol(name: str, attribute: str) -> float:
    if name.startswith("VonMises"):
        return 1e-6
    if name.startswith("Multinomial") and attribute == "entropy":
        return 1e-6
    return 3e-8 if name in DIGAMMA else 1e-10


@pytest.mark.parametrize("attribute", ATTRIBUTES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_torch(name: str, attribute: str, torch: Any) -> None:
    if name == "Softplus_affine_vector" and attribute == "icdf":
        pytest.skip("an icdf of a vector event: torch raises a shape error")
    make, arrays, value = CASES[name]
    torch_leaves, leaves = as_leaves(torch, arrays), as_leaves(mg, arrays)
    try:
        theirs = _evaluate(make(torch, *torch_leaves), attribute, torch, value)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            _evaluate(make(mg, *leaves), attribute, mg, value)
        return
    ours = _evaluate(make(mg, *leaves), attribute, mg, value)
    if name == "Chi2" and attribute == "cdf":   # neither library differentiates gammainc in a
        theirs, ours = theirs.detach(), ours.detach()
    agree(torch, ours, theirs, leaves, torch_leaves, _rtol(name, attribute), f"{name}.{attribute}")


NO_ENTROPY = {"VonMises", "Affine_exp", "Sigmoid_inverse_power", "StickBreaking_of_normal", "Softplus_affine_vector",
              "Tanh_squashed_normal", "LogisticNormal", "Multinomial", "Multinomial_logits", "MixtureSameFamily",
              "MixtureSameFamily_vectors", "NegativeBinomial_probs", "NegativeBinomial_logits", "RelaxedBernoulli",
              "RelaxedBernoulli_logits", "RelaxedOneHotCategorical"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_log_prob_and_entropy(name: str) -> None:
    """Finite differences of log_prob (and entropy where it exists) in the parameters, without PyTorch."""
    make, arrays, value = CASES[name]
    gradcheck_scores(make, arrays, value, with_entropy=name not in NO_ENTROPY)


# --- rsample: gradients with a fixed noise draw, shapes, statistics ------------------------------------------------

REPARAMETERISED = ["LogNormal", "HalfNormal", "HalfCauchy", "Cauchy", "Gumbel", "RelaxedBernoulli",
                   "RelaxedOneHotCategorical", "Kumaraswamy", "Weibull", "Pareto", "LogisticNormal",
                   "LowRankMultivariateNormal", "Tanh_squashed_normal", "Affine_exp", "Softplus_affine_vector",
                   "StickBreaking_of_normal"]


@pytest.mark.parametrize("name", REPARAMETERISED)
def test_gradcheck_rsample_with_fixed_noise(name: str) -> None:
    """rsample is a smooth function of the parameters once the noise is fixed (the same seed in every call).
    (StudentT and Chi2 draw through the gamma sampler, whose implicit gradient is checked by statistics.)"""
    make, arrays, _ = CASES[name]
    gradcheck_rsample(make, arrays)


# name → (make(lib), batch_shape, event_shape, how to check statistics: "moments" or "pit" (the cdf of the draws is
# uniform: mean ½, variance 1/12 — for heavy tails) or "frequencies" for discrete ones)
SAMPLED: dict[str, tuple[Callable, tuple, tuple, str]] = {
    "LogNormal": (lambda t: t.distributions.LogNormal(t.tensor(REAL * 0.3), t.tensor(POS * 0.2)), (3, 2), (),
                  "moments"),
    "HalfNormal": (lambda t: t.distributions.HalfNormal(t.tensor(POS)), (3, 2), (), "moments"),
    "HalfCauchy": (lambda t: t.distributions.HalfCauchy(t.tensor(POS)), (3, 2), (), "pit"),
    "Cauchy": (lambda t: t.distributions.Cauchy(t.tensor(REAL), t.tensor(POS)), (3, 2), (), "pit"),
    "Gumbel": (lambda t: t.distributions.Gumbel(t.tensor(REAL), t.tensor(POS)), (3, 2), (), "moments"),
    "StudentT": (lambda t: t.distributions.StudentT(t.tensor(POS + 4), t.tensor(REAL), t.tensor(POS)), (3, 2), (),
                 "moments"),
    "StudentT_heavy": (lambda t: t.distributions.StudentT(t.tensor([0.7, 1.5])), (2,), (), "student"),
    "Chi2": (lambda t: t.distributions.Chi2(t.tensor(POS)), (3, 2), (), "moments"),
    "Geometric": (lambda t: t.distributions.Geometric(t.tensor(PROB)), (3, 2), (), "moments"),
    "NegativeBinomial": (lambda t: t.distributions.NegativeBinomial(t.tensor(POS * 3), t.tensor(PROB * 0.8)), (3, 2),
                         (), "moments"),
    "Multinomial": (lambda t: t.distributions.Multinomial(7, t.tensor(POS)), (3,), (2,), "moments"),
    "MixtureSameFamily": (lambda t: t.distributions.MixtureSameFamily(t.distributions.Categorical(t.tensor(POS)),
                                                                      t.distributions.Normal(t.tensor(REAL * 3),
                                                                                             t.tensor(POS))),
                          (3,), (), "moments"),
    "RelaxedBernoulli": (lambda t: t.distributions.RelaxedBernoulli(t.tensor(0.5), t.tensor(PROB)), (3, 2), (),
                         "mean_probs"),
    "RelaxedOneHotCategorical": (lambda t: t.distributions.RelaxedOneHotCategorical(t.tensor(0.5), t.tensor(POS)),
                                 (3,), (2,), "simplex"),
    "Kumaraswamy": (lambda t: t.distributions.Kumaraswamy(t.tensor(POS), t.tensor(POS2)), (3, 2), (), "moments"),
    "Weibull": (lambda t: t.distributions.Weibull(t.tensor(POS), t.tensor(POS2 + 0.5)), (3, 2), (), "moments"),
    "Pareto": (lambda t: t.distributions.Pareto(t.tensor(POS), t.tensor(POS2 + 5)), (3, 2), (), "moments"),
    "LogisticNormal": (lambda t: t.distributions.LogisticNormal(t.tensor(REAL), t.tensor(POS)), (3,), (3,),
                       "stick_breaking"),
    "VonMises": (lambda t: t.distributions.VonMises(t.tensor(REAL),
                                                    t.tensor(np.concatenate([POS[:2], [[1e-6, 40.0]]]))),
                 (3, 2), (), "circular"),
    "LowRankMultivariateNormal": (lambda t: t.distributions.LowRankMultivariateNormal(
        t.tensor(REAL), t.tensor(FACTOR), t.tensor(POS)), (3,), (2,), "moments"),
    "Tanh_squashed_normal": (lambda t: _td(t, t.distributions.Normal(t.tensor(REAL), t.tensor(POS)),
                                           t.distributions.TanhTransform(cache_size=1)), (3, 2), (), "pit"),
    "LogNormal_scalar": (lambda t: t.distributions.LogNormal(0.5, 0.25), (), (), "moments"),
}


@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_sample_shapes_as_torch(name: str, sample_shape: tuple, torch: Any) -> None:
    make, batch_shape, event_shape, _ = SAMPLED[name]
    check_sample_shapes(make(mg), make(torch), batch_shape, event_shape, sample_shape)


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_sample_statistics(name: str) -> None:
    """20,000 seeded draws: their moments (or the uniformity of their cdf values) match the distribution's."""
    make, batch_shape, event_shape, check = SAMPLED[name]
    dist = make(mg)
    mg.manual_seed(1)
    draws = dist.sample((20_000,))
    assert bool(mg.all(dist.support.check(draws[:200])).item()), name
    x = draws.numpy().astype(np.float64)
    if check == "moments":
        check_moments(dist, x, name)
    elif check == "pit":
        check_pit(dist, draws)
    elif check == "mean_probs":   # a relaxed Bernoulli at temperature ½ puts P(x > ½) = p
        np.testing.assert_allclose((x > 0.5).mean(0), dist.probs.numpy(), atol=0.015)
    elif check == "student":   # df / (df + T²) ~ Beta(df / 2, ½)
        df = dist.df.numpy()
        b = df / (df + x ** 2)
        a, total = df / 2, df / 2 + 0.5
        standard_error = np.sqrt(a * 0.5 / (total ** 2 * (total + 1)) / x.shape[0])
        assert (np.abs(b.mean(0) - a / total) < 5 * standard_error).all()
    elif check == "stick_breaking":   # the inverse transform gives back the Normal draws
        z = dist.transforms[0].inv(draws).numpy()
        assert (np.abs(z.mean(0) - dist.loc.numpy()) < 5 * dist.scale.numpy() / np.sqrt(20_000)).all()
        np.testing.assert_allclose(z.std(0), dist.scale.numpy(), rtol=0.05)
    elif check == "simplex":   # E[log y_k - log y_K] = (logits_k - logits_K) / τ (Gumbel differences have mean 0)
        np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-12)
        logits = dist.logits.numpy()
        np.testing.assert_allclose(np.log(x).mean(0)[..., :-1] - np.log(x).mean(0)[..., -1:],
                                   (logits[..., :-1] - logits[..., -1:]) / dist.temperature.item(), atol=0.1)
    else:   # circular: the mean resultant length is I₁(κ)/I₀(κ) = 1 - variance, its direction is loc
        assert (np.abs(x) <= math.pi).all()
        resultant = np.exp(1j * x).mean(0)
        np.testing.assert_allclose(np.abs(resultant), 1 - dist.variance.numpy(), atol=0.015)
        concentrated = np.abs(resultant) > 0.2
        np.testing.assert_allclose(np.angle(resultant)[concentrated], dist.loc.numpy()[concentrated], atol=0.05)


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_manual_seed_repeats_samples(name: str) -> None:
    check_manual_seed_repeats(SAMPLED[name][0](mg))


def test_rsample_gradients_through_the_gamma_draw() -> None:
    """StudentT and Chi2 draw through the implicitly reparameterised gamma: d/dθ of sample means match the
    exact derivatives (E[χ²] = df; E[|T|²] = scale² df / (df - 2))."""
    mg.manual_seed(3)
    df = mg.tensor([2.0, 5.0], requires_grad=True)
    mg.distributions.Chi2(df).rsample((20_000,)).mean(0).sum().backward()
    np.testing.assert_allclose(df.grad.numpy(), [1.0, 1.0], rtol=0.04)
    df, scale = mg.tensor([8.0], requires_grad=True), mg.tensor([1.5], requires_grad=True)
    mg.manual_seed(4)
    (mg.distributions.StudentT(df, 0.0, scale).rsample((40_000,)) ** 2).mean().backward()
    np.testing.assert_allclose(scale.grad.numpy(), 2 * 1.5 * 8 / 6, rtol=0.05)
    np.testing.assert_allclose(df.grad.numpy(), -2 * 1.5 ** 2 / 36, rtol=0.3)


# --- expand ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(set(SAMPLED) - {"LogNormal_scalar"}))
def test_expand_as_torch(name: str, torch: Any) -> None:
    make, batch_shape, event_shape, _ = SAMPLED[name]
    ours, theirs = expand_both(make, batch_shape, event_shape, torch)
    torch.manual_seed(0)
    value = theirs.sample()
    rtol = 1e-6 if name.startswith("VonMises") or value.dtype == torch.float32 else 1e-10   # torch's float32 lgamma
    assert_close(ours.log_prob(mg.tensor(value.numpy())), theirs.log_prob(value), rtol=rtol, what=name)


# --- transforms ---------------------------------------------------------------------------------------------------

def _transforms(t: Any) -> dict:
    D = t.distributions
    scale = t.tensor(POS2)
    return {
        "Exp": (D.ExpTransform(), REAL), "Sigmoid": (D.SigmoidTransform(), REAL), "Tanh": (D.TanhTransform(), REAL),
        "Softplus": (D.SoftplusTransform(), REAL * 10), "Power": (D.PowerTransform(t.tensor(POS2)), POS),
        "Power_number": (D.PowerTransform(2.5), POS), "Affine": (D.AffineTransform(t.tensor(REAL), scale), REAL),
        "Affine_numbers": (D.AffineTransform(1.0, -2.0), REAL),
        "Affine_event": (D.AffineTransform(0.5, scale, event_dim=1), REAL),
        "Abs": (D.AbsTransform(), REAL), "Softmax": (D.SoftmaxTransform(), REAL),
        "StickBreaking": (D.StickBreakingTransform(), REAL),
        "Compose": (D.ComposeTransform([D.AffineTransform(0.0, scale), D.TanhTransform(),
                                        D.AffineTransform(1.0, 0.5), D.PowerTransform(1.5)]), REAL),
        "Compose_event": (D.ComposeTransform([D.ExpTransform(), D.StickBreakingTransform()]), REAL),
        "Inverse_sigmoid": (D.SigmoidTransform().inv, PROB), "Inverse_tanh": (D.TanhTransform().inv, PROB - 0.5),
        "Independent": (D.IndependentTransform(D.ExpTransform(), 1), REAL),
        "Reshape": (D.transforms.ReshapeTransform((3, 2), (6,)), REAL),
        "LowerCholesky": (D.transforms.LowerCholeskyTransform(), np.stack([TRIL, TRIL.T, -TRIL])),
        "Stack": (D.StackTransform([D.ExpTransform(), D.TanhTransform()], dim=1), REAL),
        "Cat": (D.CatTransform([D.ExpTransform(), D.AffineTransform(0.0, 3.0)], dim=0, lengths=[1, 2]), REAL),
        "Cat_last_dim": (D.CatTransform([D.SigmoidTransform(), D.ExpTransform()], dim=-1, lengths=[1, 1]), REAL),
        "CumulativeDistribution": (D.transforms.CumulativeDistributionTransform(D.Normal(0.5, 2.0)), REAL),
        "identity": (D.transforms.identity_transform, REAL),
    }


NON_BIJECTIVE = {"Abs", "Softmax", "LowerCholesky"}


@pytest.mark.parametrize("name", sorted(_transforms(mg)))
def test_transform_as_torch(name: str, torch: Any) -> None:
    """y = t(x), t.inv(y), log |dy/dx| (values and gradients to x), domain/codomain, event_dim, bijective, sign,
    forward/inverse shapes — as torch's."""
    ours, array = _transforms(mg)[name]
    theirs, _ = _transforms(torch)[name]
    x_ours, x_theirs = as_leaves(mg, (array,))[0], as_leaves(torch, (array,))[0]
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    agree(torch, y_ours, y_theirs, [x_ours], [x_theirs], 1e-10, f"{name}: forward")
    y_ours, y_theirs = ours(x_ours.detach()), theirs(x_theirs.detach())
    assert_close(ours.inv(y_ours), theirs.inv(y_theirs), 1e-9, 1e-12, f"{name}: inverse")
    if name not in NON_BIJECTIVE:
        x_ours, x_theirs = as_leaves(mg, (array,))[0], as_leaves(torch, (array,))[0]
        agree(torch, ours.log_abs_det_jacobian(x_ours, ours(x_ours)),
              theirs.log_abs_det_jacobian(x_theirs, theirs(x_theirs)), [x_ours], [x_theirs], 1e-10,
              f"{name}: log_abs_det_jacobian")
    assert ours.bijective == theirs.bijective
    assert repr(ours.domain) == repr(theirs.domain).replace("torch.", "") or name.startswith(("Cat", "Stack"))
    assert ours.domain.event_dim == theirs.domain.event_dim
    assert ours.codomain.event_dim == theirs.codomain.event_dim
    shape = tuple(array.shape)
    assert tuple(ours.forward_shape(shape)) == tuple(theirs.forward_shape(torch.Size(shape)))
    assert tuple(ours.inv.inverse_shape(shape)) == tuple(theirs.inv.inverse_shape(torch.Size(shape)))
    try:
        sign = theirs.sign
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            ours.sign  # noqa: B018
    else:
        assert_close(np.asarray(ours.sign.numpy() if isinstance(ours.sign, mg.Tensor) else ours.sign),
                     np.asarray(sign.numpy() if isinstance(sign, torch.Tensor) else sign))
    assert ours.inv.inv is ours
    assert ours == _transforms(mg)[name][0] or name in ("CumulativeDistribution", "Stack", "Cat", "Cat_last_dim",
                                                        "Independent", "Reshape", "Inverse_sigmoid", "Inverse_tanh")


@pytest.mark.parametrize("name", ["Exp", "Sigmoid", "Tanh", "Power", "Affine", "Affine_event", "StickBreaking",
                                  "Compose", "Compose_event", "Stack", "Cat", "Cat_last_dim", "Softplus"])
def test_transform_gradcheck(name: str) -> None:
    transform, array = _transforms(mg)[name]
    x = as_leaves(mg, (array,))[0]
    assert mg.gradcheck(lambda v: [transform(v), transform.log_abs_det_jacobian(v, transform(v))], [x])


def test_transform_cache() -> None:
    """cache_size=1 gives back the very x for y = t(x) (tanh's inverse is infinite at ±1), and the very y for the
    last x; cache_size=0 recomputes; with_cache; only 0 and 1 are allowed."""
    D = mg.distributions
    x = mg.tensor([0.5, 30.0], dtype=mg.float64)
    cached = D.TanhTransform(cache_size=1)
    y = cached(x)
    assert cached.inv(y) is x and cached(x) is y
    assert np.isinf(D.TanhTransform().inv(y).numpy()[1])
    assert D.TanhTransform().with_cache(1)._cache_size == 1
    compose = D.ComposeTransform([D.ExpTransform(), D.TanhTransform()], cache_size=1)
    assert all(part._cache_size == 1 for part in compose.parts)
    assert compose.inv(compose(x)) is x
    assert D.AffineTransform(1.0, 2.0).with_cache(1)._cache_size == 1
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        D.ExpTransform(cache_size=2)


def test_squashed_gaussian_as_in_sac(torch: Any) -> None:
    """SAC's policy: a = tanh(u), u ~ N(μ, σ); log π(a) = log N(u) - Σ log(1 - tanh²u) with the cached u, finite
    where tanh rounds to ±1; gradients reach μ and σ through rsample and log_prob."""
    mu, sigma = mg.tensor(REAL * 5, requires_grad=True), mg.tensor(POS, requires_grad=True)
    policy = mg.distributions.TransformedDistribution(mg.distributions.Normal(mu, sigma),
                                                      [mg.distributions.TanhTransform(cache_size=1)])
    mg.manual_seed(0)
    action = policy.rsample()
    log_prob = policy.log_prob(action)
    assert np.isfinite(log_prob.numpy()).all()
    (log_prob.sum() + action.sum()).backward()
    assert mu.grad is not None and sigma.grad is not None
    u = policy.transforms[0]._cached_x_y[0]
    expected = torch.distributions.Normal(torch.tensor(REAL * 5), torch.tensor(POS)).log_prob(torch.tensor(u.numpy()))
    expected = expected - 2 * (math.log(2) - torch.tensor(u.numpy()) - torch.nn.functional.softplus(
        -2 * torch.tensor(u.numpy())))
    assert_close(log_prob, expected)


def test_transformed_distribution_shapes_and_errors(torch: Any) -> None:
    D, TD = mg.distributions, torch.distributions
    for lib, dists in ((mg, D), (torch, TD)):   # a transform parameter broadcasts the base; an event transform
        base = dists.Normal(lib.zeros(2, dtype=lib.float64), 1.0)
        d = dists.TransformedDistribution(base, [dists.AffineTransform(lib.zeros(3, 1, dtype=lib.float64), 2.0)])
        assert tuple(d.batch_shape) == (3, 2) and tuple(d.event_shape) == ()
        d = dists.TransformedDistribution(base, dists.StickBreakingTransform())
        assert tuple(d.batch_shape) == () and tuple(d.event_shape) == (3,)
        assert repr(d.support) == "Simplex()"
    assert repr(D.LogNormal(0.0, 1.0)) == repr(TD.LogNormal(0.0, 1.0))
    assert repr(D.Gumbel(0.0, 1.0)) == repr(TD.Gumbel(0.0, 1.0))
    for fn in (lambda d: d.TransformedDistribution(d.Normal(0.0, 1.0), "exp"),
               lambda d: d.TransformedDistribution(d.Normal(0.0, 1.0), [lambda x: x]),
               lambda d: d.TransformedDistribution(d.Normal(0.0, 1.0), [d.StickBreakingTransform()])):
        with pytest.raises(ValueError) as theirs:
            fn(TD)
        with pytest.raises(ValueError) as ours:
            fn(D)
        assert str(ours.value).replace("mg.Size", "torch.Size").split(" but was")[0] == \
            str(theirs.value).split(" but was")[0]


# --- biject_to / transform_to and the new constraints ------------------------------------------------------------

def _constraints(t: Any) -> dict:
    C = t.distributions.constraints
    return {"real": C.real, "positive": C.positive, "nonnegative": C.nonnegative, "greater_than": C.greater_than(-1.5),
            "greater_than_eq": C.greater_than_eq(2.0), "less_than": C.less_than(0.5), "unit_interval": C.unit_interval,
            "interval": C.interval(-2.0, 3.0), "half_open_interval": C.half_open_interval(1.0, 2.0),
            "simplex": C.simplex, "real_vector": C.real_vector, "independent_positive": C.independent(C.positive, 1),
            "lower_cholesky": C.lower_cholesky, "positive_definite": C.positive_definite,
            "cat": C.cat([C.positive, C.interval(0.0, 2.0)], 0, [1, 2]), "stack": C.stack([C.positive, C.real], 1)}


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name", sorted(_constraints(mg)))
def test_biject_to_and_transform_to_as_torch(registry: str, name: str, torch: Any) -> None:
    """The transform onto each constraint: same values (in the region) and log-determinants as torch's, or the same
    NotImplementedError where none is registered."""
    x_array = np.stack([REAL[:2], REAL[1:]]) if name in ("lower_cholesky", "positive_definite") else REAL
    constraint = _constraints(mg)[name]
    theirs_registry = getattr(torch.distributions, registry)
    try:
        theirs = theirs_registry(_constraints(torch)[name])
    except NotImplementedError as error:
        with pytest.raises(NotImplementedError, match=str(error)):
            getattr(mg.distributions, registry)(constraint)
        return
    ours = getattr(mg.distributions, registry)(constraint)
    assert type(ours).__name__ == type(theirs).__name__
    x_ours, x_theirs = as_leaves(mg, (x_array,))[0], as_leaves(torch, (x_array,))[0]
    y_ours = ours(x_ours)
    assert_close(y_ours, theirs(x_theirs), what=f"{registry}({name})")
    assert bool(mg.all(constraint.check(y_ours)).item())
    if ours.bijective and name not in ("lower_cholesky", "positive_definite"):
        assert_close(ours.log_abs_det_jacobian(x_ours, y_ours), theirs.log_abs_det_jacobian(x_theirs, theirs(x_theirs)),
                     what=f"{registry}({name}).log_abs_det_jacobian")
        assert_close(ours.inv(y_ours.detach()), x_array, 1e-8, 1e-10, f"{registry}({name}).inv")


def test_registry_errors_and_custom_registration() -> None:
    D = mg.distributions
    with pytest.raises(NotImplementedError, match="Cannot transform _IntegerInterval constraints"):
        D.biject_to(D.constraints.integer_interval(0, 3))
    with pytest.raises(TypeError, match="Expected constraint to be either a Constraint subclass or instance"):
        D.biject_to.register(int, lambda c: None)
    registry = D.constraint_registry.ConstraintRegistry()

    @registry.register(D.constraints.positive)
    def _softplus(constraint: Any) -> Any:
        return D.SoftplusTransform()
    assert isinstance(registry(D.constraints.greater_than(3.0)), D.SoftplusTransform)


def test_new_constraints_as_torch(torch: Any) -> None:
    C, TC = mg.distributions.constraints, torch.distributions.constraints
    counts = np.array([[1.0, 2.0, 0.0], [4.0, 0.0, 1.0], [-1.0, 1.0, 1.0]])
    for ours, theirs in ((C.multinomial(3), TC.multinomial(3)),
                         (C.cat([C.positive, C.real], -1, [1, 2]), TC.cat([TC.positive, TC.real], -1, [1, 2])),
                         (C.stack([C.positive, C.real, C.nonnegative], 1),
                          TC.stack([TC.positive, TC.real, TC.nonnegative], 1)),
                         (C.MixtureSameFamilyConstraint(C.positive), TC.MixtureSameFamilyConstraint(TC.positive))):
        np.testing.assert_array_equal(ours.check(mg.tensor(counts)).numpy(), theirs.check(torch.tensor(counts)).numpy())
        assert ours.event_dim == theirs.event_dim and ours.is_discrete == theirs.is_discrete
    matrices = np.stack([np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0, 0.0], [0.0, 0.0]]),
                         np.array([[1.0, 2.0], [2.0, 1.0]])])
    for name in ("square", "symmetric", "positive_semidefinite", "positive_definite"):
        np.testing.assert_array_equal(getattr(C, name).check(mg.tensor(matrices)).numpy(),
                                      getattr(TC, name).check(torch.tensor(matrices)).numpy(), err_msg=name)
    factor = np.array([[[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.6, 0.7]]])
    np.testing.assert_array_equal(C.corr_cholesky.check(mg.tensor(factor)).numpy(),
                                  TC.corr_cholesky.check(torch.tensor(factor)).numpy())


# --- KL divergences ------------------------------------------------------------------------------------------------

def _kl(p: Callable, q: Callable) -> Callable:
    return lambda t, *xs: t.distributions.kl_divergence(p(t, *xs), q(t, *xs))


KL_CASES: dict[str, tuple[Callable, tuple]] = {
    "Cauchy": (_kl(lambda t, a, b, c, d: t.distributions.Cauchy(a, b),
                   lambda t, a, b, c, d: t.distributions.Cauchy(c, d)), (REAL, POS, REAL[::-1], POS2)),
    "Gumbel": (_kl(lambda t, a, b, c, d: t.distributions.Gumbel(a, b),
                   lambda t, a, b, c, d: t.distributions.Gumbel(c, d)), (REAL, POS, REAL[::-1], POS2)),
    "Geometric": (_kl(lambda t, p, x: t.distributions.Geometric(probs=p), lambda t, p, x: t.distributions.Geometric(
        logits=x)), (PROB, REAL)),
    "HalfNormal": (_kl(lambda t, a, b: t.distributions.HalfNormal(a), lambda t, a, b: t.distributions.HalfNormal(b)),
                   (POS, POS2)),
    "Pareto": (_kl(lambda t, a, b, c: t.distributions.Pareto(a, b), lambda t, a, b, c: t.distributions.Pareto(
        a * t.tensor([[1.0, 0.5]]), c)), (POS, POS2, POS[::-1])),
    "Pareto_infinite": (_kl(lambda t, a, b: t.distributions.Pareto(a, b),
                            lambda t, a, b: t.distributions.Pareto(a + 1, b)), (POS, POS2)),
    "LogNormal": (_kl(lambda t, a, b, c, d: t.distributions.LogNormal(a, b),
                      lambda t, a, b, c, d: t.distributions.LogNormal(c, d)), (REAL, POS, REAL[::-1], POS2)),
    "Chi2": (_kl(lambda t, a, b: t.distributions.Chi2(a), lambda t, a, b: t.distributions.Chi2(b)), (POS, POS2)),
    "Chi2_Gamma": (_kl(lambda t, a, b: t.distributions.Chi2(a), lambda t, a, b: t.distributions.Gamma(b, a)),
                   (POS, POS2)),
    "LowRank_LowRank": (_kl(lambda t, m, w, d, m2, w2, d2: t.distributions.LowRankMultivariateNormal(m, w, d),
                            lambda t, m, w, d, m2, w2, d2: t.distributions.LowRankMultivariateNormal(m2, w2, d2)),
                        (REAL, FACTOR, POS, REAL[::-1], np.hstack([FACTOR, FACTOR[::-1]]), POS2)),
    "MVN_LowRank": (_kl(lambda t, m, l, m2, w2, d2: t.distributions.MultivariateNormal(m, scale_tril=l.tril()),
                        lambda t, m, l, m2, w2, d2: t.distributions.LowRankMultivariateNormal(m2, w2, d2)),
                    (REAL, TRIL, REAL[::-1], FACTOR, POS2)),
    "LowRank_MVN": (_kl(lambda t, m2, w2, d2, m, l: t.distributions.LowRankMultivariateNormal(m2, w2, d2),
                        lambda t, m2, w2, d2, m, l: t.distributions.MultivariateNormal(m, scale_tril=l.tril())),
                    (REAL[::-1], np.stack([FACTOR, FACTOR * 2, -FACTOR]), POS2, REAL, TRIL)),
    "Exponential_Gumbel": (_kl(lambda t, r, a, b: t.distributions.Exponential(r),
                               lambda t, r, a, b: t.distributions.Gumbel(a, b)), (POS, REAL, POS2)),
    "Gamma_Gumbel": (_kl(lambda t, c, r, a, b: t.distributions.Gamma(c, r),
                         lambda t, c, r, a, b: t.distributions.Gumbel(a, b)), (POS, POS2, REAL, POS2)),
    "Gumbel_Normal": (_kl(lambda t, a, b, c, d: t.distributions.Gumbel(a, b),
                          lambda t, a, b, c, d: t.distributions.Normal(c, d)), (REAL, POS, REAL[::-1], POS2)),
    "Normal_Gumbel": (_kl(lambda t, a, b, c, d: t.distributions.Normal(a, b),
                          lambda t, a, b, c, d: t.distributions.Gumbel(c, d)), (REAL, POS, REAL[::-1], POS2)),
    "Uniform_Gumbel": (_kl(lambda t, a, w, c, d: t.distributions.Uniform(a, a + w),
                           lambda t, a, w, c, d: t.distributions.Gumbel(c, d)), (REAL, POS, REAL[::-1], POS2)),
    "Pareto_Exponential": (_kl(lambda t, s, a, r: t.distributions.Pareto(s, a), lambda t, s, a, r: t.distributions.
                               Exponential(r)), (POS, POS2 + 0.5, POS)),
    "Pareto_Gamma": (_kl(lambda t, s, a, c, r: t.distributions.Pareto(s, a), lambda t, s, a, c, r: t.distributions.
                         Gamma(c, r)), (POS, POS2 + 0.5, POS, POS2)),
    "Pareto_Normal": (_kl(lambda t, s, a, m, d: t.distributions.Pareto(s, a), lambda t, s, a, m, d: t.distributions.
                          Normal(m, d)), (POS, POS2 + 2.5, REAL, POS2)),
    "Pareto_Normal_infinite": (_kl(lambda t, s, a, m, d: t.distributions.Pareto(s, a),
                                   lambda t, s, a, m, d: t.distributions.Normal(m, d)), (POS, POS2 * 1.2, REAL, POS2)),
    "Uniform_Pareto": (_kl(lambda t, a, w, s, al: t.distributions.Uniform(s + a, s + a + w),
                           lambda t, a, w, s, al: t.distributions.Pareto(s, al)), (POS, POS2, POS[::-1] * 0.7, POS2)),
    "Uniform_Pareto_infinite": (_kl(lambda t, a, w, s, al: t.distributions.Uniform(a, a + w),
                                    lambda t, a, w, s, al: t.distributions.Pareto(s, al)),
                                (POS, POS2, POS[::-1], POS2)),
    "Gumbel_Uniform": (_kl(lambda t, a, b: t.distributions.Gumbel(a, b),
                           lambda t, a, b: t.distributions.Uniform(a, a + b)), (REAL, POS)),
    "Normal_Pareto": (_kl(lambda t, a, b: t.distributions.Normal(a, b), lambda t, a, b: t.distributions.Pareto(b, b)),
                      (REAL, POS)),
    "Beta_Pareto": (_kl(lambda t, a, b: t.distributions.Beta(a, b), lambda t, a, b: t.distributions.Pareto(b, a)),
                    (POS, POS2)),
}
NO_KL_GRADCHECK = {"Pareto_infinite", "Gumbel_Uniform", "Normal_Pareto", "Beta_Pareto", "Pareto_Normal_infinite",
                   "Uniform_Pareto_infinite"}


@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_same_as_torch(name: str, torch: Any) -> None:
    fn, arrays = KL_CASES[name]
    torch_leaves, leaves = as_leaves(torch, arrays), as_leaves(mg, arrays)
    rtol = 3e-8 if name.startswith(("Gamma", "Chi2", "Gumbel", "Pareto_Gamma")) else 1e-10
    agree(torch, fn(mg, *leaves), fn(torch, *torch_leaves), leaves, torch_leaves, rtol, f"KL {name}")


@pytest.mark.parametrize("name", sorted(set(KL_CASES) - NO_KL_GRADCHECK))
def test_kl_gradcheck(name: str) -> None:
    fn, arrays = KL_CASES[name]
    assert mg.gradcheck(lambda *xs: fn(mg, *xs), as_leaves(mg, arrays))


def test_kl_lowrank_to_full_with_batched_cov_diag() -> None:
    """cov_diag with more batch dims than cov_factor (PyTorch 2.13 fails to expand there): the KL equals the one
    between full-covariance MultivariateNormals."""
    D = mg.distributions
    p = D.LowRankMultivariateNormal(mg.tensor(REAL), mg.tensor(FACTOR), mg.tensor(POS))
    q = D.MultivariateNormal(mg.tensor(REAL[::-1]), scale_tril=mg.tensor(TRIL))
    full = D.MultivariateNormal(p.loc, covariance_matrix=p.covariance_matrix)
    assert_close(D.kl_divergence(p, q), D.kl_divergence(full, q).numpy())
    assert_close(D.kl_divergence(q, p), D.kl_divergence(q, full).numpy())


def test_mixture_broadcasts_its_mixture_batch() -> None:
    """A mixture weight vector shared by a batch of component sets (PyTorch 2.13's sample fails to gather there)."""
    D = mg.distributions
    mixture = D.MixtureSameFamily(D.Categorical(mg.tensor([0.25, 0.75])),
                                  D.Normal(mg.tensor([[-3.0, 3.0], [0.0, 10.0]]), mg.tensor(0.5)))
    mg.manual_seed(2)
    draws = mixture.sample((20_000,))
    assert draws.shape == (20_000, 2)
    mean, variance = mixture.mean.numpy(), mixture.variance.numpy()
    assert (np.abs(draws.numpy().mean(0) - mean) < 5 * np.sqrt(variance / 20_000)).all()
    np.testing.assert_allclose(draws.numpy().var(0), variance, rtol=0.05)


def test_kl_transformed_needs_the_same_transforms() -> None:
    D = mg.distributions
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Weibull(mg.tensor([1.0]), mg.tensor([2.0])), D.Weibull(mg.tensor([1.0]), mg.tensor([3.0])))
    same = D.kl_divergence(D.Weibull(mg.tensor([1.0]), mg.tensor([2.0])), D.Weibull(mg.tensor([1.0]), mg.tensor([2.0])))
    assert same.item() == 0.0


# --- validate_args -------------------------------------------------------------------------------------------------

ERRORS: dict[str, Callable] = {
    "lognormal_scale": lambda t: t.distributions.LogNormal(t.tensor([0.0]), t.tensor([-1.0])),
    "lognormal_value": lambda t: t.distributions.LogNormal(0.0, 1.0).log_prob(t.tensor([-1.0])),
    "geometric_zero_probs": lambda t: t.distributions.Geometric(t.tensor([0.0, 0.5])),
    "geometric_value": lambda t: t.distributions.Geometric(t.tensor([0.5])).log_prob(t.tensor([1.5])),
    "pareto_below_scale": lambda t: t.distributions.Pareto(t.tensor([2.0]), t.tensor([1.0])).log_prob(t.tensor([1.0])),
    "studentT_df": lambda t: t.distributions.StudentT(t.tensor([-1.0])),
    "weibull_concentration": lambda t: t.distributions.Weibull(t.tensor([1.0]), t.tensor([0.0])),
    "kumaraswamy_value": lambda t: t.distributions.Kumaraswamy(t.tensor([1.0]), t.tensor([2.0])).log_prob(
        t.tensor([1.5])),
    "multinomial_value": lambda t: t.distributions.Multinomial(3, t.tensor([0.5, 0.5])).log_prob(t.tensor([4.0, 0.0])),
    "negative_binomial_probs": lambda t: t.distributions.NegativeBinomial(3.0, t.tensor([1.0])),
    "mixture_components": lambda t: t.distributions.MixtureSameFamily(t.distributions.Categorical(t.ones(3)),
                                                                      t.distributions.Normal(t.zeros(2), 1.0)),
    "mixture_not_categorical": lambda t: t.distributions.MixtureSameFamily(t.distributions.Normal(0.0, 1.0),
                                                                           t.distributions.Normal(t.zeros(2), 1.0)),
    "lowrank_factor": lambda t: t.distributions.LowRankMultivariateNormal(t.zeros(2), t.ones(3, 1), t.ones(2)),
    "lowrank_diag": lambda t: t.distributions.LowRankMultivariateNormal(t.zeros(2), t.ones(2, 1), t.ones(3)),
    "von_mises_value": lambda t: t.distributions.VonMises(0.0, 1.0).log_prob(t.tensor(float("nan"))),
    "relaxed_probs": lambda t: t.distributions.RelaxedBernoulli(t.tensor(0.5), t.tensor([1.5])),
    "logistic_normal_value": lambda t: t.distributions.LogisticNormal(t.zeros(2), 1.0).log_prob(t.ones(3)),
}


def _message(fn: Callable) -> str:
    with pytest.raises(ValueError) as error:
        fn()
    return str(error.value)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_validation_errors_as_torch(name: str, torch: Any) -> None:
    """The same ValueError messages (torch.Size printed as mg.Size); the invalid values that end a message are
    printed by each library's own tensor printing."""
    fn = ERRORS[name]
    theirs = _message(lambda: fn(torch)).replace("torch.Size", "mg.Size")
    ours = _message(lambda: fn(mg))
    assert ours.split("\n")[0] == theirs.split("\n")[0]


def test_multinomial_needs_an_int_count_and_validate_args_off() -> None:
    D = mg.distributions
    with pytest.raises(NotImplementedError, match="inhomogeneous total_count is not supported"):
        D.Multinomial(mg.tensor([3, 4]), mg.ones(2))
    assert D.Geometric(mg.tensor([0.0]), validate_args=False).batch_shape == (1,)
    with np.errstate(invalid="ignore", divide="ignore"):
        D.LogNormal(0.0, -1.0, validate_args=False).log_prob(mg.tensor(-1.0))


GPU_CASES: dict[str, tuple[Callable, tuple]] = {   # log_prob and moments on cuda equal the cpu's
    name: (lambda t, *xs, _name=name: [getattr(CASES[_name][0](t, *xs[:-1]), a) for a in ("mean", "variance")]
           + [CASES[_name][0](t, *xs[:-1]).log_prob(xs[-1])], CASES[name][1] + (CASES[name][2],))
    for name in ("LogNormal", "Gumbel", "StudentT", "Kumaraswamy", "Weibull", "LowRankMultivariateNormal",
                 "NegativeBinomial_logits", "MixtureSameFamily")
}
test_same_on_gpu_as_on_cpu = gpu_case_tests(GPU_CASES)
