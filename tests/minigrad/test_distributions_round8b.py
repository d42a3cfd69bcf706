"""Round 8b of the distributions against ``torch.distributions`` 2.13: ContinuousBernoulli, FisherSnedecor,
InverseGamma, GeneralizedPareto, LKJCholesky, Wishart and CorrCholeskyTransform (values and parameter gradients in
float64, gradcheck, sample shapes and seeded statistics, expand, validate_args' errors), the ExponentialFamily base
(generic entropy and Bregman KL), every KL pair torch registers among the families minigrad has (checked by
enumerating torch's registry), and the quiet inf/NaN moments (no NumPy RuntimeWarning).

Tolerances as the round-8 file: 1e-10 relative, 3e-8 where digamma's gradient (torch's trigamma) enters.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

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

RNG = np.random.default_rng(81)
REAL = RNG.standard_normal((3, 2))
POS = RNG.uniform(0.5, 3.0, (3, 2))
POS2 = RNG.uniform(0.5, 3.0, (3, 2))
PROB = RNG.uniform(0.1, 0.9, (3, 2))
PROB_CB = PROB.copy()
PROB_CB[0, 0] = 0.4995   # inside (0.499, 0.501]: the Taylor series
LOGITS_CB = REAL * 2
LOGITS_CB[1, 1] = 0.001
CONCENTRATION_GP = np.array([[0.3, -0.2], [0.0, 0.6], [-0.4, 0.1]])
SQUARE = RNG.standard_normal((3, 2, 2))
SPD = SQUARE @ SQUARE.transpose(0, 2, 1) + np.eye(2)
ETA = np.array([0.5, 1.0, 2.5])
CORR_TRIL = mg.distributions.CorrCholeskyTransform()(mg.tensor(RNG.standard_normal((3, 3)))).numpy()


def _spd(t: Any, a: Any) -> Any:
    return a @ a.transpose(-1, -2) + t.eye(2, dtype=a.dtype, device=a.device)


# name → (make(lib, *leaves), parameter arrays (leaves that require grad), a value to score)
CASES: dict[str, tuple[Callable, tuple, np.ndarray]] = {
    "ContinuousBernoulli_probs": (lambda t, p: t.distributions.ContinuousBernoulli(probs=p), (PROB_CB,), PROB[::-1]),
    "ContinuousBernoulli_logits": (lambda t, x: t.distributions.ContinuousBernoulli(logits=x), (LOGITS_CB,), PROB),
    "FisherSnedecor": (lambda t, a, b: t.distributions.FisherSnedecor(a * 3, b * 3), (POS, POS2), POS2),
    "InverseGamma": (lambda t, a, b: t.distributions.InverseGamma(a, b), (POS, POS2), POS2),
    "GeneralizedPareto": (lambda t, loc, scale, c: t.distributions.GeneralizedPareto(loc, scale, c),
                          (REAL, POS, CONCENTRATION_GP), REAL + 0.3 * POS),
    "LKJCholesky": (lambda t, eta: t.distributions.LKJCholesky(3, eta), (ETA,), CORR_TRIL),
    "Wishart_covariance": (lambda t, df, a: t.distributions.Wishart(df + 1.5, covariance_matrix=_spd(t, a)),
                           (POS[:, 0], SQUARE), SPD[::-1]),
    "Wishart_scale_tril": (lambda t, df, a: t.distributions.Wishart(df * 3 + 1, scale_tril=a.tril() + 2 * t.eye(
        2, dtype=a.dtype, device=a.device)), (POS[:, 1], SQUARE), SPD),
    "Wishart_precision": (lambda t, df, a: t.distributions.Wishart(df + 2, precision_matrix=_spd(t, a)),
                          (POS2[:, 0], SQUARE), SPD),
}
DIGAMMA = {"InverseGamma", "Wishart_covariance", "Wishart_scale_tril", "Wishart_precision"}
ATTRIBUTES = ("log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf")


@contextlib.contextmanager
def _float64_default(torch: Any) -> Iterator[None]:
    """torch 2.13's GeneralizedPareto.log_prob compares float64 parameters with a default-dtype torch.tensor(0.0)
    ("Double did not match Float"); minigrad's has no such limit."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


@pytest.mark.parametrize("attribute", ATTRIBUTES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_torch(name: str, attribute: str, torch: Any) -> None:
    make, arrays, value = CASES[name]
    torch_leaves, leaves = as_leaves(torch, arrays), as_leaves(mg, arrays)
    try:
        with _float64_default(torch):
            theirs = evaluate(make(torch, *torch_leaves), attribute, torch, value, PROB)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            evaluate(make(mg, *leaves), attribute, mg, value, PROB)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # NaN and inf moments come quietly
        ours = evaluate(make(mg, *leaves), attribute, mg, value, PROB)
    if name == "InverseGamma" and attribute == "cdf":   # neither library differentiates gammainc in a
        theirs, ours = theirs.detach(), ours.detach()
    agree(torch, ours, theirs, leaves, torch_leaves, 3e-8 if name in DIGAMMA else 1e-10, f"{name}.{attribute}")


GRADCHECK_CASES = dict(CASES, GeneralizedPareto=(CASES["GeneralizedPareto"][0], (REAL, POS, CONCENTRATION_GP + 0.05),
                                                 CASES["GeneralizedPareto"][2]))   # ξ = 0 is a branch point


NO_ENTROPY = {"LKJCholesky", "FisherSnedecor"}   # none in torch either


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck_log_prob_and_entropy(name: str) -> None:
    make, arrays, value = GRADCHECK_CASES[name]
    gradcheck_scores(make, arrays, value, with_entropy=name not in NO_ENTROPY)


@pytest.mark.parametrize("name", ["ContinuousBernoulli_probs", "ContinuousBernoulli_logits", "GeneralizedPareto"])
def test_gradcheck_rsample_with_fixed_noise(name: str) -> None:
    """(FisherSnedecor, InverseGamma and Wishart draw through the implicitly reparameterised gamma, checked by the
    round-8 file's statistics.)"""
    make, arrays, _ = GRADCHECK_CASES[name]
    gradcheck_rsample(make, arrays)


# --- samples -------------------------------------------------------------------------------------------------------

SAMPLED: dict[str, tuple[Callable, tuple, tuple, str]] = {
    "ContinuousBernoulli": (lambda t: t.distributions.ContinuousBernoulli(t.tensor(PROB_CB)), (3, 2), (), "moments"),
    "FisherSnedecor": (lambda t: t.distributions.FisherSnedecor(t.tensor(POS * 3), t.tensor(POS2 + 30)), (3, 2), (),
                       "moments"),
    "InverseGamma": (lambda t: t.distributions.InverseGamma(t.tensor(POS + 8), t.tensor(POS2)), (3, 2), (),
                     "moments"),
    "GeneralizedPareto": (lambda t: t.distributions.GeneralizedPareto(t.tensor(REAL), t.tensor(POS),
                                                                      t.tensor(CONCENTRATION_GP)), (3, 2), (), "pit"),
    "LKJCholesky": (lambda t: t.distributions.LKJCholesky(3, t.tensor(ETA)), (3,), (3, 3), "lkj"),
    "Wishart": (lambda t: t.distributions.Wishart(t.tensor(POS[:, 0] + 3), covariance_matrix=t.tensor(SPD)), (3,),
                (2, 2), "moments"),
}


@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_sample_shapes_as_torch(name: str, sample_shape: tuple, torch: Any) -> None:
    make, batch_shape, event_shape, _ = SAMPLED[name]
    check_sample_shapes(make(mg), make(torch), batch_shape, event_shape, sample_shape)


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_sample_statistics(name: str) -> None:
    """20,000 seeded draws: moments, the uniformity of their cdf values, or LKJ's correlation marginals
    ((r + 1)/2 ~ Beta(η - 1 + d/2, η - 1 + d/2): mean 0, variance 1/(2η + d - 1), for every pair — torch 2.13's
    draws have it for the first pair only)."""
    make, _, _, check = SAMPLED[name]
    dist = make(mg)
    mg.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no "Singular sample detected." for a well-conditioned Wishart
        draws = dist.sample((20_000,))
    assert bool(mg.all(dist.support.check(draws[:200])).item()), name
    x = draws.numpy()
    if check == "moments":
        check_moments(dist, x, name)
    elif check == "pit":
        check_pit(dist, draws)
    else:
        corr = x @ x.transpose(0, 1, 3, 2)
        np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, rtol=1e-12)
        off = corr[..., [1, 2, 2], [0, 0, 1]]
        expected_var = 1 / (2 * ETA + 3 - 1)
        assert (np.abs(off.mean(0)) < 5 * np.sqrt(expected_var[:, None] / 20_000)).all()
        np.testing.assert_allclose(off.var(0), np.broadcast_to(expected_var[:, None], (3, 3)), rtol=0.05)


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_manual_seed_repeats_samples(name: str) -> None:
    check_manual_seed_repeats(SAMPLED[name][0](mg))


def test_rsample_gradients_through_the_gamma_draws() -> None:
    """d/dθ of sample means match the exact derivatives: E[1/X] for InverseGamma(α, β) is β/(α - 1);
    E[W] = ν Σ for Wishart (d/dν = Σ)."""
    mg.manual_seed(3)
    rate = mg.tensor([2.0, 5.0], requires_grad=True)
    mg.distributions.InverseGamma(mg.tensor([4.0, 6.0]), rate).rsample((20_000,)).mean(0).sum().backward()
    np.testing.assert_allclose(rate.grad.numpy(), [1 / 3, 1 / 5], rtol=0.03)
    df = mg.tensor(5.0, requires_grad=True)
    mg.manual_seed(4)
    mg.distributions.Wishart(df, covariance_matrix=mg.tensor(SPD[0])).rsample((20_000,)).mean(0).sum().backward()
    np.testing.assert_allclose(df.grad.numpy(), SPD[0].sum(), rtol=0.05)


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_expand_as_torch(name: str, torch: Any) -> None:
    make, batch_shape, event_shape, _ = SAMPLED[name]
    ours, theirs = expand_both(make, batch_shape, event_shape, torch)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = theirs.sample()
    rtol = 1e-8 if name == "Wishart" else 1e-10
    with _float64_default(torch):
        expected = theirs.log_prob(value)
    assert_close(ours.log_prob(mg.tensor(value.numpy())), expected, rtol=rtol, what=name)


# --- CorrCholeskyTransform ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 3, 6])
def test_corr_cholesky_transform_as_torch(size: int, torch: Any) -> None:
    array = RNG.standard_normal((2, size)) * 1.5
    ours, theirs = mg.distributions.CorrCholeskyTransform(), torch.distributions.CorrCholeskyTransform()
    x_ours, x_theirs = as_leaves(mg, (array,))[0], as_leaves(torch, (array,))[0]
    agree(torch, ours(x_ours), theirs(x_theirs), [x_ours], [x_theirs], 1e-10, "forward")
    x_ours, x_theirs = as_leaves(mg, (array,))[0], as_leaves(torch, (array,))[0]
    agree(torch, ours.log_abs_det_jacobian(x_ours, ours(x_ours)),
          theirs.log_abs_det_jacobian(x_theirs, theirs(x_theirs)), [x_ours], [x_theirs], 1e-10, "log_abs_det_jacobian")
    y = ours(mg.tensor(array))
    assert_close(ours.inv(y), array, 1e-8, 1e-10, "inverse")
    assert bool(mg.all(mg.distributions.constraints.corr_cholesky.check(y)).item())
    assert tuple(ours.forward_shape((2, size))) == tuple(theirs.forward_shape(torch.Size((2, size))))
    assert tuple(ours.inverse_shape(tuple(y.shape))) == (2, size)
    # torch 2.13: CorrCholeskyTransform defines no __eq__, so two instances differ (only the same one is equal)
    assert ours.bijective and ours == ours and ours != mg.distributions.CorrCholeskyTransform()
    assert repr(ours.domain) == repr(theirs.domain) and repr(ours.codomain) == repr(theirs.codomain)
    assert mg.gradcheck(lambda v: [ours(v), ours.log_abs_det_jacobian(v, ours(v))], as_leaves(mg, (array,)))
    for registry in ("biject_to", "transform_to"):
        transform = getattr(mg.distributions, registry)(mg.distributions.constraints.corr_cholesky)
        assert type(transform).__name__ == type(getattr(torch.distributions, registry)(
            torch.distributions.constraints.corr_cholesky)).__name__
    with pytest.raises(ValueError, match="Input is not a flattened lower-diagonal number"):
        ours.forward_shape((2, 4))


def test_tril_vector_helpers() -> None:
    from minigrad.distributions.utils import tril_matrix_to_vec, vec_to_tril_matrix
    mat = mg.tensor(RNG.standard_normal((2, 4, 4)))
    for diag in (-2, -1, 0):
        expected = np.stack([m[np.tril_indices(4, diag)] for m in mat.numpy()])
        vec = tril_matrix_to_vec(mat, diag)
        assert_close(vec, expected)
        assert_close(vec_to_tril_matrix(vec, diag), np.tril(mat.numpy(), diag))
    for size in (4, 5):   # torch lets 4 through to a shape error
        with pytest.raises(ValueError, match="cannot be expressed as the lower triangular part"):
            vec_to_tril_matrix(mg.zeros(size))


# --- KL divergences ------------------------------------------------------------------------------------------------

def _kl(p: Callable, q: Callable) -> Callable:
    return lambda t, *xs: t.distributions.kl_divergence(p(t, *xs), q(t, *xs))


def _d(name: str, *positions: int, **keywords: int) -> Callable:
    """A maker of ``name`` from the leaves at ``positions`` (and keyword leaves)."""
    return lambda t, *xs: getattr(t.distributions, name)(*(xs[i] for i in positions),
                                                        **{k: xs[i] for k, i in keywords.items()})


UNIT = RNG.uniform(0.05, 0.45, (3, 2))
KL_CASES: dict[str, tuple[Callable, tuple]] = {
    "Beta_Normal": (_kl(_d("Beta", 0, 1), _d("Normal", 2, 3)), (POS, POS2, REAL, POS)),
    "Beta_Exponential": (_kl(_d("Beta", 0, 1), _d("Exponential", 2)), (POS, POS2, POS)),
    "Beta_Gamma": (_kl(_d("Beta", 0, 1), _d("Gamma", 2, 3)), (POS, POS2, POS, POS2)),
    "Beta_Uniform": (_kl(_d("Beta", 0, 1), lambda t, a, b, lo, w: t.distributions.Uniform(lo * t.tensor(
        [[-1.0, 0.0]]), 1 + w * t.tensor([[1.0, -0.5]]))), (POS, POS2, UNIT, UNIT)),
    "Beta_ContinuousBernoulli": (_kl(_d("Beta", 0, 1), _d("ContinuousBernoulli", 2)), (POS, POS2, PROB_CB)),
    "Exponential_Gamma": (_kl(_d("Exponential", 0), _d("Gamma", 1, 2)), (POS, POS2, POS)),
    "Exponential_Normal": (_kl(_d("Exponential", 0), _d("Normal", 1, 2)), (POS, REAL, POS2)),
    "Gamma_Exponential": (_kl(_d("Gamma", 0, 1), _d("Exponential", 2)), (POS, POS2, POS)),
    "Gamma_Normal": (_kl(_d("Gamma", 0, 1), _d("Normal", 2, 3)), (POS, POS2, REAL, POS)),
    "Laplace_Normal": (_kl(_d("Laplace", 0, 1), _d("Normal", 2, 3)), (REAL, POS, REAL[::-1], POS2)),
    "Normal_Laplace": (_kl(_d("Normal", 0, 1), _d("Laplace", 2, 3)), (REAL, POS, REAL[::-1], POS2)),
    "Uniform_Normal": (_kl(lambda t, a, w, m, s: t.distributions.Uniform(a, a + w), _d("Normal", 2, 3)),
                       (REAL, POS, REAL[::-1], POS2)),
    "Uniform_Beta": (_kl(lambda t, a, w, c1, c0: t.distributions.Uniform(a, a + w * t.tensor([[1.0], [1.0], [5.0]])),
                         _d("Beta", 2, 3)), (UNIT, UNIT, POS, POS2)),
    "Uniform_Exponential": (_kl(lambda t, a, w, r: t.distributions.Uniform(a, a + w), _d("Exponential", 2)),
                            (REAL, POS, POS2)),
    "Uniform_Gamma": (_kl(lambda t, a, w, c, r: t.distributions.Uniform(a, a + w), _d("Gamma", 2, 3)),
                      (REAL, POS, POS, POS2)),
    "Uniform_ContinuousBernoulli": (_kl(lambda t, a, w, p: t.distributions.Uniform(a, a + w),
                                        _d("ContinuousBernoulli", 2)), (UNIT, UNIT, PROB_CB)),
    "Bernoulli_Poisson": (_kl(_d("Bernoulli", 0), _d("Poisson", 1)), (PROB, POS)),
    "ContinuousBernoulli": (_kl(_d("ContinuousBernoulli", 0), lambda t, p, x: t.distributions.ContinuousBernoulli(
        logits=x)), (PROB_CB, LOGITS_CB)),
    "ContinuousBernoulli_Exponential": (_kl(_d("ContinuousBernoulli", 0), _d("Exponential", 1)), (PROB_CB, POS)),
    "ContinuousBernoulli_Normal": (_kl(_d("ContinuousBernoulli", 0), _d("Normal", 1, 2)), (PROB_CB, REAL, POS)),
    "ContinuousBernoulli_Uniform": (_kl(_d("ContinuousBernoulli", 0), lambda t, p, lo, w: t.distributions.Uniform(
        -lo, 1 + w * t.tensor([[1.0, -0.5]]))), (PROB_CB, UNIT, UNIT)),
    "Wishart_Bregman": (_kl(lambda t, df, a, df2, b: t.distributions.Wishart(df + 1.5, covariance_matrix=_spd(t, a)),
                            lambda t, df, a, df2, b: t.distributions.Wishart(df2 + 2, covariance_matrix=_spd(t, b))),
                        (POS[0, 0], SQUARE[0], POS2[0, 0], SQUARE[1])),
}
INFINITE_PAIRS = [("ContinuousBernoulli", "Pareto"), ("Exponential", "Beta"), ("Exponential", "ContinuousBernoulli"),
                  ("Exponential", "Uniform"), ("Gamma", "Beta"), ("Gamma", "ContinuousBernoulli"), ("Gamma", "Uniform"),
                  ("Gumbel", "ContinuousBernoulli"), ("Laplace", "Beta"), ("Laplace", "ContinuousBernoulli"),
                  ("Laplace", "Exponential"), ("Laplace", "Gamma"), ("Laplace", "Uniform"), ("Normal", "Beta"),
                  ("Normal", "ContinuousBernoulli"), ("Normal", "Exponential"), ("Normal", "Gamma"),
                  ("Normal", "Uniform"), ("Pareto", "ContinuousBernoulli"), ("Poisson", "Bernoulli"),
                  ("Poisson", "Binomial")]
_MAKERS = {"Beta": _d("Beta", 0, 1), "ContinuousBernoulli": lambda t, a, b: t.distributions.ContinuousBernoulli(
    a / (a + b)), "Exponential": _d("Exponential", 0), "Gamma": _d("Gamma", 0, 1), "Gumbel": _d("Gumbel", 0, 1),
    "Laplace": _d("Laplace", 0, 1), "Normal": _d("Normal", 0, 1), "Pareto": _d("Pareto", 0, 1),
    "Poisson": _d("Poisson", 0), "Bernoulli": lambda t, a, b: t.distributions.Bernoulli(a / (a + b)),
    "Binomial": lambda t, a, b: t.distributions.Binomial(3, a / (a + b)),
    "Uniform": lambda t, a, b: t.distributions.Uniform(a, a + b)}
for _p, _q in INFINITE_PAIRS:
    KL_CASES[f"{_p}_{_q}_infinite"] = (_kl(_MAKERS[_p], _MAKERS[_q]), (POS, POS2))
NO_KL_GRADCHECK = {name for name in KL_CASES if name.endswith("_infinite")} | {"Wishart_Bregman", "Beta_Uniform",
                                                                                "ContinuousBernoulli_Uniform",
                                                                                "Uniform_Beta", "Uniform_Exponential",
                                                                                "Uniform_Gamma"}   # partly +inf
KL_CASES.update({   # finite everywhere, for gradcheck
    "Beta_Uniform_finite": (_kl(_d("Beta", 0, 1), lambda t, a, b, lo, w: t.distributions.Uniform(-lo, 1 + w)),
                            (POS, POS2, UNIT, UNIT)),
    "ContinuousBernoulli_Uniform_finite": (_kl(_d("ContinuousBernoulli", 0), lambda t, p, lo, w: t.distributions.
                                               Uniform(-lo, 1 + w)), (PROB_CB, UNIT, UNIT)),
    "Uniform_Beta_finite": (_kl(lambda t, a, w, c1, c0: t.distributions.Uniform(a, a + w), _d("Beta", 2, 3)),
                            (UNIT, UNIT, POS, POS2)),
    "Uniform_Exponential_finite": (_kl(lambda t, a, w, r: t.distributions.Uniform(a, a + w), _d("Exponential", 2)),
                                   (POS, POS, POS2)),
    "Uniform_Gamma_finite": (_kl(lambda t, a, w, c, r: t.distributions.Uniform(a, a + w), _d("Gamma", 2, 3)),
                             (POS, POS2, POS, POS2)),
})


@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_same_as_torch(name: str, torch: Any) -> None:
    fn, arrays = KL_CASES[name]
    torch_leaves, leaves = as_leaves(torch, arrays), as_leaves(mg, arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ours = fn(mg, *leaves)
    theirs = fn(torch, *torch_leaves)
    rtol = 3e-8 if any(family in name for family in ("Gamma", "Wishart", "Beta")) else 1e-10   # digamma
    agree(torch, ours, theirs, leaves, torch_leaves, rtol, f"KL {name}")
    if name.endswith("_infinite"):
        assert np.isposinf(ours.numpy()).all()


@pytest.mark.parametrize("name", sorted(set(KL_CASES) - NO_KL_GRADCHECK))
def test_kl_gradcheck(name: str) -> None:
    fn, arrays = KL_CASES[name]
    assert mg.gradcheck(lambda *xs: fn(mg, *xs), as_leaves(mg, arrays))


def test_kl_registry_covers_torch(torch: Any) -> None:
    """Every pair torch 2.13 registers between families minigrad has is registered here, and nothing more."""
    from torch.distributions.kl import _KL_REGISTRY as THEIRS

    from minigrad.distributions.kl import _KL_REGISTRY as OURS
    ours = {(p.__name__, q.__name__) for p, q in OURS}
    ours_names = set(mg.distributions.__all__)
    theirs = {(p.__name__, q.__name__) for p, q in THEIRS}
    wanted = {(p, q) for p, q in theirs if p in ours_names and q in ours_names}
    assert not wanted - ours, f"torch registers these, minigrad does not: {sorted(wanted - ours)}"
    assert not ours - theirs, f"minigrad registers these, torch does not: {sorted(ours - theirs)}"
    assert not {n for pair in theirs for n in pair} - ours_names   # every family torch pairs is here


def test_kl_uniform_and_continuous_bernoulli_at_the_edges() -> None:
    """Supports that end exactly at 0 or 1 give a finite KL (PyTorch 2.13's tests use ≥/≤ and give +inf)."""
    D = mg.distributions
    cb, uniform = D.ContinuousBernoulli(mg.tensor([0.3])), D.Uniform(mg.tensor([0.0]), mg.tensor([1.0]))
    assert_close(D.kl_divergence(cb, uniform), -cb.entropy().numpy())
    assert np.isfinite(D.kl_divergence(D.Uniform(mg.tensor([0.0]), mg.tensor([0.5])), cb).numpy()).all()
    assert np.isposinf(D.kl_divergence(D.Uniform(mg.tensor([-0.1]), mg.tensor([0.5])), cb).numpy()).all()


# --- ExponentialFamily ------------------------------------------------------------------------------------------

FAMILIES: dict[str, Callable] = {
    "Bernoulli": lambda t: t.distributions.Bernoulli(t.tensor(PROB)),
    "ContinuousBernoulli": lambda t: t.distributions.ContinuousBernoulli(t.tensor(PROB_CB)),
    "Exponential": lambda t: t.distributions.Exponential(t.tensor(POS)),
    "Gamma": lambda t: t.distributions.Gamma(t.tensor(POS), t.tensor(POS2)),
    "Normal": lambda t: t.distributions.Normal(t.tensor(REAL), t.tensor(POS)),
    "Wishart": lambda t: t.distributions.Wishart(t.tensor(POS[:, 0] + 1.5), covariance_matrix=t.tensor(SPD)),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_exponential_family_entropy_as_torch(name: str, torch: Any) -> None:
    """The generic entropy F(θ) - ⟨θ, ∇F(θ)⟩ - E[k] equals torch's generic one and the family's closed form."""
    ours, theirs = FAMILIES[name](mg), FAMILIES[name](torch)
    assert isinstance(ours, mg.distributions.ExponentialFamily)
    generic = mg.distributions.ExponentialFamily.entropy(ours)
    assert_close(generic, torch.distributions.ExponentialFamily.entropy(theirs), rtol=1e-9, what=name)
    assert_close(generic, ours.entropy().numpy(), rtol=1e-9, what=name)


def test_exponential_family_kl() -> None:
    """The Bregman KL between two Normals equals the closed form, with its gradients to q's parameters (none to
    p's, as torch's); different families are refused with torch's message; Beta and Dirichlet are members; a batch
    of Wisharts gives each element's KL (torch 2.13 sums the df term over the batch)."""
    D = mg.distributions
    from minigrad.distributions.kl import _kl_expfamily_expfamily
    loc, scale = as_leaves(mg, (REAL[::-1], POS2))
    p, q = D.Normal(mg.tensor(REAL), mg.tensor(POS)), D.Normal(loc, scale)
    bregman = _kl_expfamily_expfamily(p, q)
    assert_close(bregman, D.kl_divergence(p, q).detach().numpy())
    bregman.sum().backward()
    loc2, scale2 = as_leaves(mg, (REAL[::-1], POS2))
    D.kl_divergence(p, D.Normal(loc2, scale2)).sum().backward()
    assert_close(loc.grad, loc2.grad.numpy())
    assert_close(scale.grad, scale2.grad.numpy())
    with pytest.raises(NotImplementedError, match="cannot be computed using Bregman divergences"):
        D.kl_divergence(D.Bernoulli(mg.tensor(PROB)), D.Beta(mg.tensor(POS), mg.tensor(POS2)))
    assert all(issubclass(c, D.ExponentialFamily) for c in (D.Beta, D.Dirichlet, D.Poisson, D.Chi2))
    df, cov = mg.tensor(POS[:, 0] + 1.5), mg.tensor(SPD)
    batched = D.kl_divergence(D.Wishart(df, covariance_matrix=cov), D.Wishart(df + 1, covariance_matrix=cov.flip(0)))
    each = [D.kl_divergence(D.Wishart(df[i], covariance_matrix=cov[i]),
                            D.Wishart(df[i] + 1, covariance_matrix=cov[2 - i])).item() for i in range(3)]
    assert_close(batched, np.array(each))


# --- validate_args and quiet inf / NaN -----------------------------------------------------------------------------

ERRORS: dict[str, Callable] = {
    "continuous_bernoulli_probs": lambda t: t.distributions.ContinuousBernoulli(t.tensor([1.5]), validate_args=True),
    "continuous_bernoulli_value": lambda t: t.distributions.ContinuousBernoulli(t.tensor([0.3])).log_prob(
        t.tensor([1.5])),
    "fisher_snedecor_df": lambda t: t.distributions.FisherSnedecor(t.tensor([-1.0]), t.tensor([1.0])),
    "inverse_gamma_value": lambda t: t.distributions.InverseGamma(t.tensor([1.0]), 1.0).log_prob(t.tensor([-1.0])),
    "generalized_pareto_scale": lambda t: t.distributions.GeneralizedPareto(0.0, t.tensor([0.0]), 0.5),
    "generalized_pareto_value": lambda t: t.distributions.GeneralizedPareto(0.0, 1.0, -0.5).log_prob(
        t.tensor([2.5])),
    "lkj_dim": lambda t: t.distributions.LKJCholesky(1, 1.0),
    "lkj_value": lambda t: t.distributions.LKJCholesky(2, 1.0).log_prob(t.eye(2) * 2),
    "wishart_df": lambda t: t.distributions.Wishart(0.5, t.eye(2)),
    "wishart_value": lambda t: t.distributions.Wishart(3.0, t.eye(2)).log_prob(-t.eye(2)),
    "wishart_covariance": lambda t: t.distributions.Wishart(3.0, t.tensor([[1.0, 2.0], [2.0, 1.0]])),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_validation_errors_as_torch(name: str, torch: Any) -> None:
    fn = ERRORS[name]
    with pytest.raises(ValueError) as theirs:
        fn(torch)
    with pytest.raises(ValueError) as ours:
        fn(mg)
    assert str(ours.value).split("\n")[0] == str(theirs.value).replace("torch.Size", "mg.Size").split("\n")[0]


def test_wishart_refusals_and_low_df_warning(torch: Any) -> None:
    for lib in (torch, mg):
        with pytest.raises(AssertionError, match="Exactly one of covariance_matrix"):
            lib.distributions.Wishart(3.0)
        with pytest.warns(UserWarning, match="Low df values detected"):
            lib.distributions.Wishart(1.5, lib.eye(2, dtype=lib.float64))


@pytest.mark.parametrize("case", ["pareto_mean", "pareto_variance", "weibull_mode", "fisher_mean", "fisher_variance",
                                  "fisher_mode", "inverse_gamma", "generalized_pareto"])
def test_undefined_moments_are_quiet(case: str, torch: Any) -> None:
    """inf / NaN where torch has them, without a NumPy RuntimeWarning."""
    makers = {"pareto_mean": lambda t: t.distributions.Pareto(t.tensor([1.0, 2.0]), t.tensor([1.0, 0.5])).mean,
              "pareto_variance": lambda t: t.distributions.Pareto(t.tensor([1.0, 2.0]), t.tensor([2.0, 1.5])).variance,
              "weibull_mode": lambda t: t.distributions.Weibull(t.tensor([1.0, 2.0]), t.tensor([0.3, 3.0])).mode,
              "fisher_mean": lambda t: t.distributions.FisherSnedecor(t.tensor([1.0, 2.0]), t.tensor([2.0, 1.0])).mean,
              "fisher_variance": lambda t: t.distributions.FisherSnedecor(t.tensor([1.0]), t.tensor([4.0])).variance,
              "fisher_mode": lambda t: t.distributions.FisherSnedecor(t.tensor([2.0, 0.0 + 1]), t.tensor([4.0])).mode,
              "inverse_gamma": lambda t: t.stack([t.distributions.InverseGamma(t.tensor([1.0, 2.0]), 1.0).mean,
                                                  t.distributions.InverseGamma(t.tensor([1.0, 2.0]), 1.0).variance]),
              "generalized_pareto": lambda t: t.stack([
                  t.distributions.GeneralizedPareto(0.0, 1.0, t.tensor([1.0, 0.5])).mean,
                  t.distributions.GeneralizedPareto(0.0, 1.0, t.tensor([1.0, 0.5])).variance])}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ours = makers[case](mg)
    assert_close(ours, makers[case](torch), rtol=1e-6, what=case)   # float32: pow may differ by an ulp


GPU_CASES: dict[str, tuple[Callable, tuple]] = {   # log_prob and moments on cuda equal the cpu's
    name: (lambda t, *xs, _name=name: [getattr(CASES[_name][0](t, *xs[:-1]), a) for a in ("mean", "variance")]
           + [CASES[_name][0](t, *xs[:-1]).log_prob(xs[-1])], CASES[name][1] + (CASES[name][2],))
    for name in ("ContinuousBernoulli_probs", "FisherSnedecor", "InverseGamma", "GeneralizedPareto",
                 "Wishart_covariance")
}
test_same_on_gpu_as_on_cpu = gpu_case_tests(GPU_CASES)
