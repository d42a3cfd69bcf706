"""Differential fuzzing of mg.distributions against torch.distributions (round 14): the cases that differed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as md


def _same(ours: mg.Tensor, theirs: Any, what: str, rtol: float = 1e-5) -> None:
    """Equal shape, dtype and values (NaN and inf where torch has them)."""
    expected = theirs.detach().numpy()
    got = np.asarray(ours.numpy())
    assert got.shape == expected.shape, what
    assert got.dtype == expected.dtype, f"{what}: {got.dtype} vs {expected.dtype}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("concentration", [1.5, [1.5, 0.7]])
def test_lkj_cholesky_float32_log_prob_stays_float32(concentration: Any, torch: Any) -> None:
    """LKJCholesky(3, float32).log_prob was float64 (an int64 arange promoted the float32 concentration)."""
    ours = md.LKJCholesky(3, mg.tensor(concentration, dtype=mg.float32))
    theirs = torch.distributions.LKJCholesky(3, torch.tensor(concentration, dtype=torch.float32))
    value = np.linalg.cholesky(np.array([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.0]])).astype(np.float32)
    _same(ours.log_prob(mg.tensor(value)), theirs.log_prob(torch.tensor(value)), "LKJCholesky.log_prob")


@pytest.mark.parametrize("logits", [False, True])
def test_bernoulli_float32_value_with_float64_parameter_scores_in_float32(logits: bool, torch: Any) -> None:
    """PyTorch's Bernoulli.log_prob takes a float value's dtype (float64 probs, float32 value → float32); ours gave
    float64."""
    param = np.array([0.3, 0.6, 0.9]) if not logits else np.array([-1.0, 0.5, 2.0])
    value = np.array([0.0, 1.0, 1.0], dtype=np.float32)
    key = "logits" if logits else "probs"
    ours = md.Bernoulli(**{key: mg.tensor(param)}).log_prob(mg.tensor(value))
    theirs = torch.distributions.Bernoulli(**{key: torch.tensor(param)}).log_prob(torch.tensor(value))
    _same(ours, theirs, "Bernoulli.log_prob")
    wide = md.Bernoulli(**{key: mg.tensor(param, dtype=mg.float32)}).log_prob(mg.tensor(value.astype(np.float64)))
    _same(wide, torch.distributions.Bernoulli(**{key: torch.tensor(param, dtype=torch.float32)}).log_prob(
        torch.tensor(value.astype(np.float64))), "Bernoulli.log_prob float64 value")


_INT_CASES = {
    "Gumbel": (lambda D, a, b: D.Gumbel(a, b), ("cdf", "icdf", "log_prob")),
    "Weibull": (lambda D, a, b: D.Weibull(a, b), ("cdf", "icdf", "log_prob")),
    "Kumaraswamy": (lambda D, a, b: D.Kumaraswamy(a, b), ("cdf", "icdf", "log_prob")),
    "Pareto": (lambda D, a, b: D.Pareto(a, b), ("icdf",)),
    "InverseGamma": (lambda D, a, b: D.InverseGamma(a, b), ("cdf",)),
    "VonMises": (lambda D, a, b: D.VonMises(a, b), ("log_prob",)),
    "ContinuousBernoulli": (lambda D, a, b: D.ContinuousBernoulli(a / 4), ("cdf", "icdf")),
}


@pytest.mark.parametrize("name", sorted(_INT_CASES))
def test_integer_values_score_in_the_float32_parameters_dtype(name: str, torch: Any) -> None:
    """An int64 value scored by float32 parameters gives float32, as PyTorch; the transformed distributions
    (Gumbel, Weibull, Kumaraswamy, Pareto, InverseGamma), VonMises and ContinuousBernoulli gave float64."""
    make, methods = _INT_CASES[name]
    a, b = np.array([0.5, 1.0, 2.0], dtype=np.float32), np.array([1.0, 2.0, 3.0], dtype=np.float32)
    ours = make(md, mg.tensor(a), mg.tensor(b))
    theirs = make(torch.distributions, torch.tensor(a), torch.tensor(b))
    values = {"cdf": np.array([3, 4, 5]), "log_prob": np.array([3, 4, 5]), "icdf": np.array([0, 0, 0])}
    if name in ("Kumaraswamy", "ContinuousBernoulli"):
        values["cdf"] = values["log_prob"] = np.array([0, 1, 1])
    for method in methods:
        got = getattr(ours, method)(mg.tensor(values[method]))
        _same(got, getattr(theirs, method)(torch.tensor(values[method])), f"{name}.{method}")


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
def test_positive_definite_check_of_non_square_matrices_is_false(shape: tuple, torch: Any) -> None:
    """constraints.positive_definite.check of non-square matrices raised NumPy's broadcast ValueError; PyTorch
    gives False for each matrix."""
    ours = md.constraints.positive_definite.check(mg.ones(shape))
    theirs = torch.distributions.constraints.positive_definite.check(torch.ones(shape))
    assert ours.shape == tuple(theirs.shape) and not bool(ours.any())


def test_von_mises_negative_concentration_without_validation_as_torch(torch: Any) -> None:
    """VonMises(loc, κ < 0, validate_args=False): log_prob used log I₀(κ) = log i0e(κ) + κ (off by 2|κ|, I₀ is even)
    and the variance was NaN; PyTorch takes |κ| in both. Gradients as PyTorch's too."""
    kappa = np.array([-1.0, -5.0, 0.5, 2.0])
    ours_k, theirs_k = mg.tensor(kappa, requires_grad=True), torch.tensor(kappa, requires_grad=True)
    ours = md.VonMises(mg.zeros(4, dtype=mg.float64), ours_k, validate_args=False)
    theirs = torch.distributions.VonMises(torch.zeros(4, dtype=torch.float64), theirs_k, validate_args=False)
    value = np.array([0.3, -1.0, 2.0, 0.0])
    _same(ours.variance, theirs.variance, "VonMises.variance", rtol=1e-3)   # PyTorch fits I1/I0 by a polynomial
    ours_lp, theirs_lp = ours.log_prob(mg.tensor(value)), theirs.log_prob(torch.tensor(value))
    _same(ours_lp, theirs_lp, "VonMises.log_prob", rtol=1e-4)
    ours_lp.sum().backward()
    theirs_lp.sum().backward()
    np.testing.assert_allclose(ours_k.grad.numpy(), theirs_k.grad.numpy(), rtol=1e-3)


@pytest.mark.parametrize("name", ["Normal", "LogNormal"])
def test_normal_sample_takes_loc_dtype(name: str, torch: Any) -> None:
    """Normal(float32 loc, float64 scale).sample() is float32 in PyTorch (torch.normal), rsample float64; ours
    sampled float64."""
    loc, scale = np.zeros(3, dtype=np.float32), np.ones(3)
    ours = getattr(md, name)(mg.tensor(loc), mg.tensor(scale))
    theirs = getattr(torch.distributions, name)(torch.tensor(loc), torch.tensor(scale))
    for sample_shape in [(), (2,)]:
        assert ours.sample(sample_shape).dtype == theirs.sample(sample_shape).numpy().dtype
        assert ours.rsample(sample_shape).dtype == theirs.rsample(sample_shape).detach().numpy().dtype
    assert ours.sample((2,)).shape == (2, 3)


def test_geometric_float32_entropy_near_probs_one_keeps_its_digits(torch: Any) -> None:
    """Geometric(p ≈ 1, float32).entropy() was (softplus(l) - l p) / p, which cancels (4% off at p = 1 - 1.4e-6);
    PyTorch's float32 binary_cross_entropy_with_logits keeps the digits, and so do we now."""
    probs = np.array([0.9999986, 0.99999, 0.9999, 0.5, 1e-3], dtype=np.float32)
    ours = md.Geometric(mg.tensor(probs)).entropy()
    reference = torch.distributions.Geometric(torch.tensor(probs.astype(np.float64))).entropy()
    _same(ours, reference.float(), "Geometric.entropy", rtol=2e-3)
    _same(ours, torch.distributions.Geometric(torch.tensor(probs)).entropy(), "Geometric.entropy float32", rtol=2e-3)


def test_exponential_float32_cdf_near_zero_keeps_its_digits(torch: Any) -> None:
    """Exponential(float32).cdf at small rate·x was 1 - exp(-rate x) (0.1% off at 5.8e-5); -expm1 keeps the
    digits (PyTorch's float32 is within 1e-4 of the float64 value there)."""
    rate, value = np.array([0.0373318, 1.0, 2.0], dtype=np.float32), np.array([0.00155371, 1e-6, 3.0], dtype=np.float32)
    ours = md.Exponential(mg.tensor(rate)).cdf(mg.tensor(value))
    reference = torch.distributions.Exponential(torch.tensor(rate.astype(np.float64))).cdf(
        torch.tensor(value.astype(np.float64)))
    _same(ours, reference.float(), "Exponential.cdf", rtol=1e-5)
    outside = np.array([0.0, np.inf, -1.0], np.float32)
    edges = md.Exponential(mg.tensor(rate), validate_args=False).cdf(mg.tensor(outside))
    theirs = torch.distributions.Exponential(torch.tensor(rate), validate_args=False).cdf(torch.tensor(outside))
    _same(edges, theirs, "Exponential.cdf at 0, inf and below the support")
