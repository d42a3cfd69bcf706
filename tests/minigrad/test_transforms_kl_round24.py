"""Differential fuzzing of mg.distributions' transforms, KL registry, constraints and rsample gradients against
torch.distributions 2.13 (round 24): the cases that differed, and compact sweeps that pin what agreed."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as md


def _same(ours: Any, theirs: Any, what: str, rtol: float = 1e-10) -> None:
    """Equal shape, dtype and values (NaN and inf where torch has them)."""
    expected = theirs.detach().numpy()
    got = np.asarray(ours.detach().numpy())
    assert got.shape == expected.shape, f"{what}: {got.shape} vs {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: {got.dtype} vs {expected.dtype}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-12, equal_nan=True, err_msg=what)


def _geometric_entropy(p: float) -> float:
    """H(Geometric(p)) = -log p - (1 - p) log(1 - p) / p, in float64."""
    return 0.0 if p == 1 else -math.log(p) - (1 - p) * math.log1p(-p) / p


@pytest.mark.parametrize("dtype, probs", [("float64", [1e-300, 1e-200, 1e-20, 1e-10, 1e-5, 0.3, 1 - 1e-10, 1.0]),
                                          ("float32", [1e-30, 1e-20, 1e-10, 1e-7, 1e-5, 0.3, 0.9999986, 1.0])])
def test_geometric_entropy_below_eps_probs(dtype: str, probs: list) -> None:
    """Geometric(probs).entropy() divided the binary entropy of the clamped logits by p: below eps that is
    eps-sized over p (float32 p = 1e-10 gave 1208 for 24.03, float64 p = 1e-300 gave 2e284 for 691.8; PyTorch's
    give 0). The entropy now comes from p itself, two positive terms."""
    given = np.array(probs, dtype=dtype)
    ours = md.Geometric(mg.tensor(given)).entropy()
    assert ours.dtype == getattr(mg, dtype)
    expected = [_geometric_entropy(float(p)) for p in given]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-13 if dtype == "float64" else 2e-6, atol=1e-30)


def test_geometric_entropy_gradients_match_torch(torch: Any) -> None:
    """The new entropies' values and gradients w.r.t. probs and w.r.t. logits are PyTorch's (float64) where
    PyTorch's are right."""
    probs = np.array([0.01, 0.3, 0.5, 0.9, 0.999])
    logits = np.array([-3.0, 0.0, 3.0])
    for kind, values in (("probs", probs), ("logits", logits)):
        ours, theirs = mg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
        ours_entropy = md.Geometric(**{kind: ours}).entropy()
        theirs_entropy = torch.distributions.Geometric(**{kind: theirs}).entropy()
        _same(ours_entropy, theirs_entropy, f"Geometric({kind}).entropy", rtol=1e-12)
        ours_entropy.sum().backward()
        theirs_entropy.sum().backward()
        _same(ours.grad, theirs.grad, f"Geometric({kind}).entropy gradient", rtol=1e-12)


def test_geometric_entropy_at_probs_zero_and_one() -> None:
    """p = 0 is +inf (the limit; PyTorch: NaN) and p = 1 is 0, with finite gradients at p = 1 and inside."""
    probs = mg.tensor([0.0, 1.0, 0.5], requires_grad=True)
    entropy = md.Geometric(probs, validate_args=False).entropy()
    assert entropy.tolist() == [math.inf, 0.0, pytest.approx(2 * math.log(2))]
    entropy[1:].sum().backward()
    assert np.isfinite(probs.grad.numpy()[1:]).all()


@pytest.mark.parametrize("make", [
    lambda d, x: d.Independent(d.Normal(x, x.new_ones(x.shape)), 1),
    lambda d, x: d.Independent(d.Normal(x, x.new_ones(x.shape)), 2),
    lambda d, x: d.TransformedDistribution(d.Normal(x, x.new_ones(x.shape)), [d.StickBreakingTransform()]),
], ids=["independent1", "independent2", "stick_breaking"])
def test_log_prob_over_an_empty_batch(make: Any) -> None:
    """sum_rightmost reshaped to (..., -1), which has no size to infer once the batch is empty: an Independent or
    event-dim TransformedDistribution over a (0, 2) batch raised a shape error in log_prob (PyTorch 2.13 raises
    the same from its reshape). It sums over the dims now: an empty result of the batch shape."""
    dist = make(md, mg.zeros((0, 2, 3)))
    value = dist.sample()
    assert value.shape == tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert dist.log_prob(value).shape == tuple(dist.batch_shape)
    expanded = make(md, mg.zeros((2, 3))).expand((0,) + tuple(make(md, mg.zeros((2, 3))).batch_shape))
    assert expanded.log_prob(expanded.sample()).shape == tuple(expanded.batch_shape)


def _transform_cases(d: Any, lib: Any) -> list:
    """(name, transform, domain sampler, input shape): transforms of every kind, composed and stacked."""
    real = lambda rng, s: rng.standard_normal(s) * 2   # noqa: E731
    positive = lambda rng, s: np.exp(rng.standard_normal(s))   # noqa: E731
    return [
        ("compose_event", d.ComposeTransform([d.ExpTransform(), d.AffineTransform(0.0, 2.0, event_dim=1)]), real,
         (2, 3)),
        ("compose_reshape_stick", d.ComposeTransform([d.SigmoidTransform(), d.ReshapeTransform((2, 3), (6,)),
                                                      d.StickBreakingTransform()]), real, (4, 2, 3)),
        ("cat", d.CatTransform([d.ExpTransform(), d.AffineTransform(1.0, -2.0)], dim=-1, lengths=[1, 2]), real,
         (2, 3)),
        ("cat_event", d.CatTransform([d.IndependentTransform(d.ExpTransform(), 1),
                                      d.IndependentTransform(d.SigmoidTransform(), 1)], dim=0, lengths=[1, 2]), real,
         (3, 4)),
        ("stack", d.StackTransform([d.ExpTransform(), d.TanhTransform(), d.SoftplusTransform()], dim=-1), real,
         (4, 3)),
        ("independent", d.IndependentTransform(d.SigmoidTransform(), 2), real, (3, 2, 3)),
        ("power_tensor", d.PowerTransform(lib.tensor(np.array([1.5, -2.0, 0.3]))), positive, (2, 3)),
        ("affine_tensor", d.AffineTransform(lib.tensor(np.array([1.0, 2.0, 3.0])),
                                            lib.tensor(np.array([0.5, -1.0, 2.0])), event_dim=1), real, (2, 3)),
        ("corr_cholesky", d.CorrCholeskyTransform(), real, (2, 6)),
        ("softplus_inv", d.SoftplusTransform().inv, positive, (2, 3)),
        ("inverse_compose", d.ComposeTransform([d.ReshapeTransform((6,), (2, 3)), d.ExpTransform()]).inv, positive,
         (4, 2, 3)),
    ]


@pytest.mark.parametrize("index", range(11))
@pytest.mark.parametrize("cache_size", [0, 1])
def test_transforms_match_torch(index: int, cache_size: int, torch: Any) -> None:
    """Forward, inverse, log|det J| (both ways), their float64 gradients, event dims, shapes and the cache agree
    with PyTorch's (round 24 fuzz: 13,978 cases over 41 transforms, all agreeing but float32 dtypes of tensor
    parameters, NumPy's promotion)."""
    name, ours, sampler, shape = _transform_cases(md, mg)[index]
    _, theirs, _, _ = _transform_cases(torch.distributions, torch)[index]
    ours, theirs = ours.with_cache(cache_size), theirs.with_cache(cache_size)
    x = sampler(np.random.default_rng(index), shape)
    assert (ours.domain.event_dim, ours.codomain.event_dim) == (theirs.domain.event_dim, theirs.codomain.event_dim)
    assert tuple(ours.forward_shape(shape)) == tuple(theirs.forward_shape(shape)), name
    forward_shape = ours.forward_shape(shape)
    assert tuple(ours.inverse_shape(forward_shape)) == tuple(theirs.inverse_shape(forward_shape))
    assert ours.bijective == theirs.bijective
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ym, yt = ours(xm), theirs(xt)
    _same(ym, yt, f"{name} forward")
    _same(ours.log_abs_det_jacobian(xm, ym), theirs.log_abs_det_jacobian(xt, yt), f"{name} log|det J|", rtol=1e-9)
    assert (ours.inv(ym) is xm) == (theirs.inv(yt) is xt) == (cache_size == 1), name
    weights = np.cos(np.arange(ym.numel())).reshape(tuple(ym.shape))
    for lib, t, xv, yv in ((mg, ours, xm, ym), (torch, theirs, xt, yt)):
        ((yv * lib.tensor(weights)).sum() + t.log_abs_det_jacobian(xv, yv).sum()).backward()
    _same(xm.grad, xt.grad, f"{name} gradient", rtol=1e-9)
    y = yt.detach().numpy()   # the inverse of a fresh tensor (no cache hit)
    _same(ours.inv(mg.tensor(y)), theirs.inv(torch.tensor(y)), f"{name} inverse", rtol=1e-8)
    assert (ours == _transform_cases(md, mg)[index][1]) == (theirs == _transform_cases(torch.distributions,
                                                                                          torch)[index][1])


def _kl_params(rng: np.random.Generator, kind: str, shape: tuple) -> np.ndarray:
    if kind == "prob":
        return rng.uniform(0.05, 0.95, shape)
    if kind == "positive":
        return np.exp(rng.uniform(-1.5, 1.5, shape))
    if kind == "low":
        return rng.uniform(-1.0, 0.5, shape)
    if kind == "high":
        return rng.uniform(0.6, 2.0, shape)
    return rng.standard_normal(shape) * 2


_KL_FAMILIES = {   # name → (parameter kinds, constructor); every family torch.distributions.kl registers
    "Bernoulli": (["prob"], lambda d, p: d.Bernoulli(p)),
    "Beta": (["positive", "positive"], lambda d, a, b: d.Beta(a, b)),
    "Binomial": (["prob"], lambda d, p: d.Binomial(5, p)),
    "Cauchy": (["real", "positive"], lambda d, a, b: d.Cauchy(a, b)),
    "ContinuousBernoulli": (["prob"], lambda d, p: d.ContinuousBernoulli(p)),
    "Exponential": (["positive"], lambda d, r: d.Exponential(r)),
    "Gamma": (["positive", "positive"], lambda d, a, b: d.Gamma(a, b)),
    "Geometric": (["prob"], lambda d, p: d.Geometric(p)),
    "Gumbel": (["real", "positive"], lambda d, a, b: d.Gumbel(a, b)),
    "HalfNormal": (["positive"], lambda d, s: d.HalfNormal(s)),
    "Laplace": (["real", "positive"], lambda d, a, b: d.Laplace(a, b)),
    "Normal": (["real", "positive"], lambda d, a, b: d.Normal(a, b)),
    "Pareto": (["positive", "positive"], lambda d, a, b: d.Pareto(a, b)),
    "Poisson": (["positive"], lambda d, r: d.Poisson(r)),
    "Uniform": (["low", "high"], lambda d, a, b: d.Uniform(a, b)),
    "LogNormal": (["real", "positive"], lambda d, a, b: d.LogNormal(a, b)),
    "StudentT": (["positive"], lambda d, a: d.StudentT(a)),
}


def test_kl_registry_matches_torch(torch: Any) -> None:
    """kl_divergence for every pair of the families above, with p (2, 1) and q (1, 3) parameters broadcasting:
    values, dtype, shape and float64 gradients of all parameters are PyTorch's (given the broadcast parameters:
    PyTorch 2.13's boolean masks refuse to broadcast, an IndexError), and the pairs PyTorch leaves
    unregistered raise NotImplementedError in both (round 24 fuzz: 13,824 pairs and shapes over 48 families;
    the differences were PyTorch raising: masks that do not broadcast, reshapes of empty batches)."""
    names = list(_KL_FAMILIES)
    for i, p_name in enumerate(names):
        for j, q_name in enumerate(names):
            rng = np.random.default_rng(100 * i + j)
            (p_kinds, p_make), (q_kinds, q_make) = _KL_FAMILIES[p_name], _KL_FAMILIES[q_name]
            p_arrays = [_kl_params(rng, k, (2, 1)) for k in p_kinds]
            q_arrays = [_kl_params(rng, k, (1, 3)) for k in q_kinds]
            results, leaves = [], []
            for lib, d in ((mg, md), (torch, torch.distributions)):
                # torch's masks (t1[q.probs == 0] = inf) do not broadcast: give it the parameters broadcast
                full = (lambda a: a) if lib is mg else (lambda a: np.broadcast_to(a, (2, 3)).copy())
                p_leaves = [lib.tensor(full(a), requires_grad=True) for a in p_arrays]
                q_leaves = [lib.tensor(full(a), requires_grad=True) for a in q_arrays]
                try:
                    results.append(d.kl_divergence(p_make(d, *p_leaves), q_make(d, *q_leaves)))
                except NotImplementedError:
                    results.append(None)
                leaves.append(p_leaves + q_leaves)
            what = f"KL({p_name} || {q_name})"
            ours, theirs = results
            assert (ours is None) == (theirs is None), what
            if ours is None:
                continue
            _same(ours, theirs, what, rtol=1e-9)
            finite = np.isfinite(theirs.detach().numpy())
            if not theirs.requires_grad or not finite.any():
                continue
            weights = np.random.default_rng(7).standard_normal(finite.shape)
            (mg.where(mg.tensor(finite), ours, 0.0) * mg.tensor(weights)).sum().backward()
            (torch.where(torch.tensor(finite), theirs, 0.0) * torch.tensor(weights)).sum().backward()
            for k, (o, t) in enumerate(zip(*leaves)):
                if t.grad is None:
                    assert o.grad is None or not o.grad.numpy().any(), f"{what}: leaf {k}"
                else:
                    summed = t.grad.sum(dim=tuple(i for i, n in enumerate(o.shape) if n == 1), keepdim=True)
                    _same(o.grad, summed, f"{what}: gradient of leaf {k}", rtol=1e-7)


@pytest.mark.parametrize("family, params", [
    ("Normal", (0.3, 1.7)), ("Laplace", (-0.4, 0.8)), ("Cauchy", (0.2, 1.3)), ("Gumbel", (0.5, 2.0)),
    ("Exponential", (1.7,)), ("HalfNormal", (0.6,)), ("HalfCauchy", (1.4,)), ("LogNormal", (0.2, 0.9)),
    ("Pareto", (1.3, 2.2)), ("Weibull", (1.5, 0.7)), ("Kumaraswamy", (0.8, 2.5)), ("ContinuousBernoulli", (0.3,)),
    ("Uniform", (-0.5, 1.5)),
])
def test_rsample_gradients_are_the_implicit_reparameterisation(family: str, params: tuple, torch: Any) -> None:
    """For a univariate x = rsample(θ) with cdf F, the pathwise gradient is dx/dθ = -∂F(x; θ)/∂θ / p(x; θ) at
    the very x drawn: each of 500 draws' gradients agrees with PyTorch's cdf and density at that x (round 24:
    17 families × 3 parameter draws × 2,000 samples, all within 1e-6; GeneralizedPareto agreed too, but
    PyTorch 2.13's float64 GeneralizedPareto.cdf raises "Double did not match Float" unless float64 is the
    default dtype)."""
    n = 500
    ours_leaves = [mg.tensor(np.full(n, float(v)), requires_grad=True) for v in params]
    mg.manual_seed(3)
    x = getattr(md, family)(*ours_leaves).rsample()
    gradients = mg.autograd.grad(x.sum(), ours_leaves)
    theirs_leaves = [torch.tensor(np.full(n, float(v)), requires_grad=True) for v in params]
    theirs = getattr(torch.distributions, family)(*theirs_leaves)
    xt = torch.tensor(x.detach().numpy())
    cdf_gradients = torch.autograd.grad(theirs.cdf(xt).sum(), theirs_leaves, allow_unused=True)
    density = theirs.log_prob(xt).exp().detach().numpy()
    for k, (ours, cdf_gradient) in enumerate(zip(gradients, cdf_gradients)):
        implicit = -cdf_gradient.numpy() / density
        finite = np.isfinite(implicit)
        assert finite.sum() > n // 2
        np.testing.assert_allclose(ours.numpy()[finite], implicit[finite], rtol=1e-6, atol=1e-9,
                                   err_msg=f"{family} d rsample / d param {k}")


def test_gamma_family_rsample_gradient_in_expectation() -> None:
    """Beta, Dirichlet, Chi2, InverseGamma: E[d rsample / dθ] = d E[x] / dθ, from 20,000 seeded draws (one per
    copy of the parameters, so one backward gives every draw's gradient); the tolerance is 5 standard errors of
    the mean of those gradients (a false alarm about once in 3 million)."""
    n = 20_000

    def check(make: Any, params: list, exact: list, reduce: Any = lambda x: x) -> None:
        leaves = [mg.tensor(np.broadcast_to(np.asarray(p, dtype=float), (n,) + np.shape(p)).copy(),
                            requires_grad=True) for p in params]
        mg.manual_seed(11)
        grads = mg.autograd.grad(reduce(make(*leaves).rsample()).sum(), leaves)
        per_draw = np.concatenate([g.numpy().reshape(n, -1) for g in grads], axis=1)
        error = np.abs(per_draw.mean(0) - np.concatenate([np.ravel(e) for e in exact]))
        assert (error <= 5 * per_draw.std(0, ddof=1) / np.sqrt(n)).all(), (per_draw.mean(0), exact)

    a, b = 0.3, 2.0
    check(md.Beta, [a, b], [b / (a + b) ** 2, -a / (a + b) ** 2])
    alpha, w = np.array([0.5, 1.0, 3.0]), np.array([1.0, -2.0, 0.5])
    check(md.Dirichlet, [alpha], [w / alpha.sum() - (w * alpha).sum() / alpha.sum() ** 2],
          reduce=lambda x: (x * mg.tensor(w)).sum(-1))
    check(md.Chi2, [0.5], [1.0])
    check(md.InverseGamma, [3.0, 2.0], [-2.0 / 4.0, 1.0 / 2.0])


def test_constraints_and_bijections_match_torch(torch: Any) -> None:
    """check() on boundary values (0, -0, ±inf, NaN, 1 ± ulp, subnormals) and biject_to/transform_to's outputs
    agree with PyTorch's (round 24: 3,328 checks and 1,910 bijection cases; the differences were PyTorch's
    raising on empty input and its batched positive_definite check, which returns the symmetry test of the whole
    batch once one matrix is not symmetric)."""
    values = np.array([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 5e-324, -5e-324, np.inf, -np.inf, np.nan, 1 + 2.3e-16,
                       1 - 1.2e-16])
    pick = lambda c: [c.real, c.positive, c.nonnegative, c.unit_interval, c.greater_than(1.0),   # noqa: E731
                      c.greater_than_eq(-1.0), c.less_than(2.0), c.interval(-1.0, 2.0), c.half_open_interval(-1.0, 2.0),
                      c.nonnegative_integer, c.positive_integer, c.integer_interval(0, 2), c.boolean]
    for ours, theirs in zip(pick(md.constraints), pick(torch.distributions.constraints)):
        _same(ours.check(mg.tensor(values)), theirs.check(torch.tensor(values)), repr(theirs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for make in ("biject_to", "transform_to"):
                try:
                    theirs_t = getattr(torch.distributions, make)(theirs)
                except NotImplementedError:
                    continue
                ours_t = getattr(md, make)(ours)
                x = np.linspace(-3, 3, 7)
                xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
                ym, yt = ours_t(xm), theirs_t(xt)
                _same(ym, yt, f"{make}({theirs!r})")
                _same(ours_t.log_abs_det_jacobian(xm, ym), theirs_t.log_abs_det_jacobian(xt, yt),
                      f"{make}({theirs!r}) log|det J|")
                assert ours.check(ym).all() and theirs.check(yt).all()


@pytest.mark.parametrize("p_shape, q_shape", [((), (2, 3)), ((2, 1), (1, 3)), ((3,), ())])
def test_infinite_kl_has_the_broadcast_batch_shape(p_shape: tuple, q_shape: tuple) -> None:
    """The pairs whose KL is +inf everywhere (q's support misses part of p's: Beta ‖ Pareto, Normal ‖ Uniform,
    Poisson ‖ Binomial …) returned an inf of p's parameter's shape, as PyTorch 2.13 does: one inf for a scalar p
    against a (2, 3) batch of q. Now p and q's batch shapes broadcast, as every other KL."""
    full = lambda shape, v: mg.full(shape, v, dtype=mg.float64)   # noqa: E731
    pairs = [(md.Beta(full(p_shape, 2.0), full(p_shape, 3.0)), md.Pareto(full(q_shape, 1.0), full(q_shape, 2.0))),
             (md.Normal(full(p_shape, 0.0), full(p_shape, 1.0)), md.Uniform(full(q_shape, 0.0), full(q_shape, 1.0))),
             (md.Poisson(full(p_shape, 2.0)), md.Binomial(5, full(q_shape, 0.5)))]
    expected = np.broadcast_shapes(p_shape, q_shape)
    for p, q in pairs:
        kl = md.kl_divergence(p, q)
        assert kl.shape == expected and kl.dtype == mg.float64, (type(p).__name__, type(q).__name__)
        assert np.isposinf(kl.numpy()).all()


def test_continuous_bernoulli_float32_moments_near_one_half(torch: Any) -> None:
    """Outside the Taylor band (0.499, 0.501] the closed forms subtract near-equal terms of size 1/(2λ - 1)²: in
    float32 the variance at λ = 0.4985 was 4.6 times too large (PyTorch 2.13's float32: 0.246 at 0.4989, -1.6 at
    0.499), the mean 0.2 % off and log_prob 0.6 %. They are evaluated in float64 now and rounded once: float32
    results within a few ulps of PyTorch's float64 ones at the same λ, gradients flowing."""
    probs32 = np.array([0.42, 0.46, 0.49, 0.4985, 0.4988, 0.5015, 0.51, 0.56, 0.3], dtype=np.float32)
    value = np.full(probs32.shape, 0.3, dtype=np.float32)
    leaf = mg.tensor(probs32, requires_grad=True)
    ours = md.ContinuousBernoulli(leaf)
    reference = torch.distributions.ContinuousBernoulli(torch.tensor(probs32.astype(np.float64)))
    wide = torch.tensor(value.astype(np.float64))
    for name, mine, theirs, atol in (
            ("mean", ours.mean, reference.mean, 0.0), ("variance", ours.variance, reference.variance, 0.0),
            # log_prob is -bce + log C, two terms near log 2: an absolute float32 error of an ulp of those
            ("log_prob", ours.log_prob(mg.tensor(value)), reference.log_prob(wide), 2e-7),
            ("cdf", ours.cdf(mg.tensor(value)), reference.cdf(wide), 0.0),
            ("icdf", ours.icdf(mg.tensor(value)), reference.icdf(wide), 0.0)):
        assert mine.dtype == mg.float32, name
        np.testing.assert_allclose(mine.detach().numpy(), theirs.numpy(), rtol=1e-6, atol=atol, err_msg=name)
    ours.variance.sum().backward()
    assert leaf.grad.dtype == mg.float32 and np.isfinite(leaf.grad.numpy()).all()


def test_corr_cholesky_inverse_refuses_non_square_input(torch: Any) -> None:
    """CorrCholeskyTransform().inv of a (23, 3) tensor read a 3 x 3 corner of it as one matrix and returned a
    vector; PyTorch's (n, n) mask raises IndexError, and so does ours now, naming the shape."""
    y = np.random.default_rng(0).uniform(-0.5, 0.5, (23, 3))
    with pytest.raises(IndexError):
        torch.distributions.CorrCholeskyTransform().inv(torch.tensor(y))
    with pytest.raises(IndexError, match=r"\(23, 3\)"):
        md.CorrCholeskyTransform().inv(mg.tensor(y))
    square = md.CorrCholeskyTransform()(mg.tensor(np.array([0.3, -0.2, 0.5])))
    assert md.CorrCholeskyTransform().inv(square).shape == (3,)


def test_geometric_entropy_keeps_float32_under_a_float64_default() -> None:
    """With mg.set_default_dtype(mg.float64), a float32 Geometric's entropy (and so its KL) stays float32, as
    PyTorch's: the p = 0 limit is made in p's dtype, not from a Python number that takes the default dtype."""
    previous = mg.get_default_dtype()
    mg.set_default_dtype(mg.float64)
    try:
        p = md.Geometric(mg.tensor(np.array([0.3, 0.5], dtype=np.float32)))
        q = md.Geometric(mg.tensor(np.array([0.2, 0.6], dtype=np.float32)))
        assert p.entropy().dtype == mg.float32
        assert md.kl_divergence(p, q).dtype == mg.float32
    finally:
        mg.set_default_dtype(previous)


def _geometric_entropy_of_logits(logit: float) -> float:
    """softplus(-l) + e^-l softplus(l) in float64 (the second term is 1 - e^l/2 + … far below 0)."""
    def softplus(z: float) -> float:
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    return softplus(-logit) + (1.0 - math.exp(logit) / 2 if logit < -30 else math.exp(-logit) * softplus(logit))


@pytest.mark.parametrize("dtype, logits", [("float64", [-800.0, -740.0, -100.0, -31.0, -29.0, 0.0, 3.0, 25.0, 800.0]),
                                           ("float32", [-110.0, -90.0, -20.0, 0.0, 5.0, 14.0])])
def test_geometric_entropy_of_very_negative_logits(dtype: str, logits: list) -> None:
    """Geometric(logits=l).entropy() divided by p = sigmoid(l): once p underflowed that was NaN (l = -800) or
    inf (l = -740; float32 from l = -90) for 1 - l; PyTorch's are 0 from l = -37 down. It is softplus(-l) +
    e^-l softplus(l) now, both terms positive, the second 1 below l = -30."""
    given = np.array(logits, dtype=dtype)
    ours = md.Geometric(logits=mg.tensor(given)).entropy()
    assert ours.dtype == getattr(mg, dtype)
    expected = [_geometric_entropy_of_logits(float(v)) for v in given]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-13 if dtype == "float64" else 2e-6, atol=1e-300)
    ends = md.Geometric(logits=mg.tensor([-math.inf, math.inf]), validate_args=False).entropy()
    assert ends.tolist() == [math.inf, 0.0]


def test_log_det_of_an_input_smaller_than_the_event_sums_everything(torch: Any) -> None:
    """sum_rightmost over more dims than the value has sums all of them, as PyTorch's reshape(-1).sum(-1): the
    log|det J| of a composition whose event is 2-d, given a 1-d x, is a scalar (a sum over dims -2 and -1 of a
    1-d tensor raised an AxisError after the empty-batch fix)."""
    x = np.random.default_rng(0).standard_normal(6)
    results = []
    for lib, d in ((mg, md), (torch, torch.distributions)):
        transform = d.ComposeTransform([d.SigmoidTransform(), d.ReshapeTransform((2, 3), (6,)),
                                        d.StickBreakingTransform()])
        xs = lib.tensor(x)
        results.append(transform.log_abs_det_jacobian(xs, transform(xs)))
    _same(results[0], results[1], "log|det J| of a 1-d x, 2-d event", rtol=1e-12)


@pytest.mark.gpu
def test_round24_distribution_fixes_on_cuda() -> None:
    """The float64 closed forms of a float32 ContinuousBernoulli, both Geometric entropies and the broadcast
    infinite KL run on the device (CuPy, or the strict stand-in: no host copies) and equal the CPU's."""
    def program(device: str) -> list:
        probs = mg.tensor(np.array([0.4985, 0.3, 0.56], dtype=np.float32), device=device)
        cb = md.ContinuousBernoulli(probs)
        value = mg.tensor(np.full(3, 0.3, dtype=np.float32), device=device)
        geometric = md.Geometric(mg.tensor(np.array([1e-300, 0.3, 1.0]), device=device))
        by_logits = md.Geometric(logits=mg.tensor(np.array([-800.0, 0.0, 3.0]), device=device))
        beta = md.Beta(mg.tensor(2.0, device=device), mg.tensor(3.0, device=device))
        pareto = md.Pareto(mg.ones((2, 3), device=device), mg.ones((2, 3), device=device))
        return [cb.mean, cb.variance, cb.log_prob(value), cb.cdf(value), cb.icdf(value), geometric.entropy(),
                by_logits.entropy(), md.kl_divergence(beta, pareto)]

    cpu, gpu = program("cpu"), program("cuda")
    for k, (c, g) in enumerate(zip(cpu, gpu)):
        assert g.device.type == "cuda" and g.dtype == c.dtype and g.shape == c.shape, k
        np.testing.assert_allclose(g.cpu().numpy(), c.numpy(), rtol=1e-6, err_msg=f"item {k}")
