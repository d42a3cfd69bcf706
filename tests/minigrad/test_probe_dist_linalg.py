"""Regression tests for what an adversarial probe of ``mg.distributions``, ``mg.linalg`` and ``mg.special``
against torch 2.13 found: silent wrong values, gradients and dtypes at the edges the main suites do not visit.

- linalg.solve_triangular read a B of A's batch shape + (n,) as a batch of vectors (linalg.solve's rule; PyTorch's
  solve_triangular takes matrices only): a batch of n matrices of order n against eye(n) was solved wrongly, and
  with it MultivariateNormal(precision_matrix=batch) and the precision_matrix of a batched covariance.
- Bernoulli log_prob / entropy / KL had a gradient 1 instead of ½ through max(l, 0) at logits = 0 (probs ½).
- log_prob / cdf / icdf of integer values beside float32 parameters were float64 (NumPy's promotion; PyTorch:
  float32); Bernoulli and Poisson cast float64 values down to float32; Gamma.log_prob did not; a float64 value
  for a float32 MultivariateNormal raised.
- float32 polygamma (n ≥ 2) at negative x was far off (the wrong sign for n = 4 at -171.5), float64 lost 1e-5 at
  the negative half-integers for even n, and ψ⁽ⁿ⁾(+inf) was NaN; float32 gammainc was 7% off at a = x = 1e5;
  gammaincc lost every digit for tiny a; zeta(inf, q) gave ζ(2, q); float32 zeta gave NaN where it underflows;
  zeta/gammainc(2.0, float32 tensor) was float64; float32 ndtri was 5e-4 off at p = 1e-12; erfcx's gradient
  cancelled for large x (14% off in float32 at x = 700).

References marked "mpmath" were computed with mpmath at 40 digits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import assert_close, gpu_case_tests

import minigrad as mg

INF, NAN = math.inf, math.nan
PRECISIONS = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 3.0]]])   # a batch of 2 matrices of order 2


def _leaf(lib: Any, array: Any, dtype: Any = None) -> Any:
    return lib.tensor(np.array(array, dtype=np.float64 if dtype is None else dtype), requires_grad=True)


# --- linalg.solve_triangular and MultivariateNormal ----------------------------------------------------------

@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("upper", [True, False])
def test_solve_triangular_reads_b_as_matrices(left: bool, upper: bool, torch: Any) -> None:
    """A (n, n, n) and B (n, n): B is one matrix broadcast over A's batch, never a batch of vectors."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3, 3))
    ours = mg.linalg.solve_triangular(mg.tensor(a), mg.tensor(b), upper=upper, left=left)
    theirs = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=upper, left=left)
    assert_close(ours, theirs, 1e-12, 1e-12)
    assert mg.gradcheck(lambda x, y: mg.linalg.solve_triangular(x, y, upper=upper, left=left),
                        [_leaf(mg, a), _leaf(mg, b)])


def test_solve_triangular_refuses_vectors(torch: Any) -> None:
    a = np.eye(3) * 2
    with pytest.raises(RuntimeError):
        torch.linalg.solve_triangular(torch.tensor(a), torch.ones(3, dtype=torch.float64), upper=True)
    with pytest.raises(ValueError, match="B must have at least 2 dims"):
        mg.linalg.solve_triangular(mg.tensor(a), mg.ones(3, dtype=mg.float64), upper=True)
    with pytest.raises(ValueError, match="incompatible shapes"):   # A's batch shape + (n,): still not a vector
        mg.linalg.solve_triangular(mg.tensor(np.stack([a, a])), mg.ones(2, 3, dtype=mg.float64), upper=True)


@pytest.mark.parametrize("attribute", ["log_prob", "entropy", "variance", "covariance_matrix", "scale_tril",
                                       "precision_matrix"])
def test_multivariate_normal_batched_precision(attribute: str, torch: Any) -> None:
    results = []
    for lib in (mg, torch):
        precision = _leaf(lib, PRECISIONS)
        dist = lib.distributions.MultivariateNormal(lib.zeros(2, dtype=lib.float64), precision_matrix=precision)
        member = getattr(dist, attribute)
        value = (member(lib.tensor([[0.5, 1.0], [2.0, 3.0]], dtype=lib.float64)) if attribute == "log_prob"
                 else member() if callable(member) else member)
        weights = lib.tensor(np.linspace(-1, 1, value.numel()).reshape(tuple(value.shape)))
        (value * weights).sum().backward()
        results.append((value, precision.grad))
    assert_close(results[0][0], results[1][0], 1e-10, 1e-12, attribute)
    assert_close(results[0][1], results[1][1], 1e-9, 1e-12, f"{attribute}: gradient")


def test_multivariate_normal_precision_of_batched_covariance(torch: Any) -> None:
    ours = mg.distributions.MultivariateNormal(mg.zeros(2, dtype=mg.float64),
                                               covariance_matrix=mg.tensor(PRECISIONS)).precision_matrix
    theirs = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                                    covariance_matrix=torch.tensor(PRECISIONS)).precision_matrix
    assert_close(ours, theirs, 1e-12, 1e-12)


def test_kl_multivariate_normal_batched_precision(torch: Any) -> None:
    values = []
    for lib in (mg, torch):
        precision = lib.tensor(PRECISIONS)
        p = lib.distributions.MultivariateNormal(lib.zeros(2, dtype=lib.float64), precision_matrix=precision)
        q = lib.distributions.MultivariateNormal(lib.ones(2, dtype=lib.float64), covariance_matrix=precision[0])
        values.append(lib.distributions.kl_divergence(p, q))
    assert_close(values[0], values[1], 1e-12, 1e-12)


# --- Bernoulli at logits 0 -----------------------------------------------------------------------------------

BERNOULLI_AT_ZERO = {
    "log_prob_logits": lambda lib, x: lib.distributions.Bernoulli(logits=x).log_prob(
        lib.tensor([1.0, 0.0, 1.0], dtype=lib.float64)),
    "log_prob_probs": lambda lib, x: lib.distributions.Bernoulli(probs=x.sigmoid()).log_prob(
        lib.tensor([1.0, 0.0, 1.0], dtype=lib.float64)),
    "entropy": lambda lib, x: lib.distributions.Bernoulli(logits=x).entropy(),
    "kl": lambda lib, x: lib.distributions.kl_divergence(lib.distributions.Bernoulli(logits=x),
                                                          lib.distributions.Bernoulli(logits=x.flip(0) * 0.5)),
    "binomial_log_prob": lambda lib, x: lib.distributions.Binomial(4, logits=x).log_prob(
        lib.tensor([1.0, 0.0, 4.0], dtype=lib.float64)),
}


@pytest.mark.parametrize("name", sorted(BERNOULLI_AT_ZERO))
def test_bernoulli_gradient_at_logits_zero(name: str, torch: Any) -> None:
    fn = BERNOULLI_AT_ZERO[name]
    logits = [0.0, 0.0, 0.3]
    grads = []
    for lib in (mg, torch):
        x = _leaf(lib, logits)
        (fn(lib, x) * lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64)).sum().backward()
        grads.append(x.grad)
    assert_close(grads[0], grads[1], 1e-12, 1e-12, name)
    assert mg.gradcheck(lambda x: fn(mg, x), [_leaf(mg, logits)])


def test_bernoulli_log_prob_gradient_is_sigmoid_minus_target() -> None:
    x = _leaf(mg, [0.0, 0.0])
    mg.distributions.Bernoulli(logits=x).log_prob(mg.tensor([1.0, 0.0], dtype=mg.float64)).sum().backward()
    assert x.grad.numpy().tolist() == [0.5, -0.5]


# --- dtypes of scored values ---------------------------------------------------------------------------------

F32 = np.float32
SCORED = {   # name → (make(lib), value list, methods)
    "Normal": (lambda d, t: d.Normal(t([0.0, 1.0]), 2.0), [1, 2], ("log_prob", "cdf", "icdf")),
    "Laplace": (lambda d, t: d.Laplace(t([0.0, 1.0]), 2.0), [1, 2], ("log_prob", "cdf", "icdf")),
    "Exponential": (lambda d, t: d.Exponential(t([0.5, 2.0])), [0, 1], ("log_prob", "cdf", "icdf")),
    "Uniform": (lambda d, t: d.Uniform(t([0.0, 0.5]), 3.0), [1, 2], ("log_prob", "cdf", "icdf")),
    "Gamma": (lambda d, t: d.Gamma(t([0.5, 2.0]), 1.0), [1, 2], ("log_prob", "cdf")),
    "Beta": (lambda d, t: d.Beta(t([0.5, 2.0]), 1.5), [0, 1], ("log_prob",)),
    "Binomial": (lambda d, t: d.Binomial(10, probs=t([0.5, 0.2])), [3, 4], ("log_prob",)),
    "Poisson": (lambda d, t: d.Poisson(t([0.5, 2.0])), [0, 3], ("log_prob",)),
    "Dirichlet": (lambda d, t: d.Dirichlet(t([0.5, 2.0])), [0, 1], ("log_prob",)),
}


@pytest.mark.parametrize("name", sorted(SCORED))
def test_integer_values_score_in_the_parameters_dtype(name: str, torch: Any) -> None:
    make, value, methods = SCORED[name]
    for method in methods:
        results = []
        for lib in (mg, torch):
            dist = make(lib.distributions, lambda v, lib=lib: lib.tensor(np.array(v, dtype=F32)))
            results.append(getattr(dist, method)(lib.tensor(np.array(value, dtype=np.int64))))
        assert results[0].dtype == mg.float32, f"{name}.{method}"
        assert_close(results[0], results[1], 1e-6, 1e-6, f"{name}.{method}")


@pytest.mark.parametrize("name, make", [
    ("Bernoulli", lambda d, t: d.Bernoulli(logits=t([0.5, 2.0]))),
    ("Bernoulli_probs", lambda d, t: d.Bernoulli(probs=t([0.5, 0.2]))),
    ("Poisson", lambda d, t: d.Poisson(t([0.5, 2.0]))),
    ("Normal", lambda d, t: d.Normal(t([0.5, 2.0]), 1.0)),
    ("Gamma", lambda d, t: d.Gamma(t([0.5, 2.0]), 1.0)),   # torch casts the value to rate's dtype: float32
    ("MultivariateNormal", lambda d, t: d.MultivariateNormal(t([0.5, 2.0]), scale_tril=t([[1.0, 0.0], [0.5, 2.0]]))),
])
def test_float64_values_beside_float32_parameters(name: str, make: Any, torch: Any) -> None:
    results = []
    for lib in (mg, torch):
        dist = make(lib.distributions, lambda v, lib=lib: lib.tensor(np.array(v, dtype=F32)))
        results.append(dist.log_prob(lib.tensor(np.array([0.0, 1.0]))))
    assert str(results[0].dtype) == str(results[1].dtype).replace("torch.", ""), name
    assert_close(results[0], results[1], 1e-6, 1e-6, name)


# --- special: polygamma --------------------------------------------------------------------------------------

POLYGAMMA_MPMATH = [(2, -171.5, -3.3801769525852779e-5), (4, -171.5, -6.8552805006624836e-9),
                    (4, -10.5, -0.00040701383905697659), (3, -2.5, 194.74787621918762)]


@pytest.mark.parametrize("n, x, expected", POLYGAMMA_MPMATH)
def test_polygamma_at_negative_half_integers(n: int, x: float, expected: float) -> None:
    """mpmath's values; even n (P_n(cot πx) vanishes there) lost 1e-5 in float64 and everything in float32."""
    assert mg.special.polygamma(n, mg.tensor([x], dtype=mg.float64)).item() == pytest.approx(expected, rel=1e-14)
    assert mg.special.polygamma(n, mg.tensor([x], dtype=mg.float32)).item() == pytest.approx(expected, rel=1e-6)


def test_polygamma_float32_at_negative_x_as_float64() -> None:
    x = -np.linspace(0.05, 180.0, 997) + 0.013   # no negative integers
    for n in (1, 2, 3, 4):
        ours32 = mg.special.polygamma(n, mg.tensor(x.astype(np.float32))).numpy().astype(np.float64)
        ours64 = mg.special.polygamma(n, mg.tensor(x.astype(np.float32).astype(np.float64))).numpy()
        np.testing.assert_allclose(ours32, ours64, rtol=3e-6, err_msg=f"n={n}")


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_polygamma_at_infinity(dtype: Any, torch: Any) -> None:
    for n in (1, 2, 3):
        assert mg.special.polygamma(n, mg.tensor([INF], dtype=dtype)).item() == 0.0   # torch: 0 for n = 1, else NaN
    assert torch.special.polygamma(1, torch.tensor([INF])).item() == 0.0
    assert mg.special.digamma(mg.tensor([INF], dtype=dtype)).item() == INF
    x = mg.tensor([INF], dtype=dtype, requires_grad=True)
    mg.special.digamma(x).backward()
    assert x.grad.item() == 0.0


def test_polygamma_gradcheck_at_negative_x() -> None:
    x = _leaf(mg, [-171.5, -10.5, -2.5, -0.3, -7.25])
    for n in (0, 1, 2):
        assert mg.gradcheck(lambda t, n=n: mg.special.polygamma(n, t), [x], rtol=1e-5)


# --- special: gammainc, gammaincc ----------------------------------------------------------------------------

GAMMAINC_MPMATH = [   # (upper, a, x, value)
    (True, 1e-300, 1e-300, 6.9019831223331219e-298), (True, 1e-300, 1e-3, 6.3315393641361495e-300),
    (True, 1e-8, 1e-8, 1.7843463505329364e-7), (True, 0.3, 0.9, 0.097747351970330455),
    (True, 1.2, 1.1, 0.41455302041587631), (False, 1e5, 1e5, 0.50042052211036518),
    (False, 30.0, 31.0, 0.59534782096561088), (False, 0.5, 3.0, 0.98569412156457036)]


@pytest.mark.parametrize("upper, a, x, expected", GAMMAINC_MPMATH)
def test_gammainc_accuracy(upper: bool, a: float, x: float, expected: float) -> None:
    fn = mg.special.gammaincc if upper else mg.special.gammainc
    ours64 = fn(mg.tensor([a], dtype=mg.float64), mg.tensor([x], dtype=mg.float64)).item()
    assert ours64 == pytest.approx(expected, rel=1e-9)
    if a > 1e-30:   # float32 can hold the inputs
        ours32 = fn(mg.tensor([a], dtype=mg.float32), mg.tensor([x], dtype=mg.float32))
        assert ours32.dtype == mg.float32
        assert ours32.item() == pytest.approx(expected, rel=2e-6)


def test_gammainc_edge_values_as_torch(torch: Any) -> None:
    pairs = [(NAN, 0.0), (NAN, 1.0), (0.0, 0.0), (0.0, 1.0), (1.0, NAN), (INF, INF), (INF, 1.0), (1.0, INF),
             (-1.0, 0.0), (0.0, -1.0), (0.0, NAN), (2.0, 0.0), (0.0, INF)]
    a, x = (np.array(v) for v in zip(*pairs))
    for name in ("gammainc", "gammaincc"):
        ours = getattr(mg.special, name)(mg.tensor(a), mg.tensor(x))
        theirs = getattr(torch.special, name)(torch.tensor(a), torch.tensor(x))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def test_gammaincc_gradcheck_where_x_and_a_are_small() -> None:
    a = mg.tensor([0.05, 0.3, 1.0, 0.5, 2.0], dtype=mg.float64)
    x = _leaf(mg, [0.01, 0.4, 0.9, 1.05, 3.0])
    assert mg.gradcheck(lambda t: mg.special.gammaincc(a, t), [x])
    assert mg.gradcheck(lambda t: mg.special.gammainc(a, t), [x])


# --- special: zeta -------------------------------------------------------------------------------------------

def test_zeta_edge_values_as_torch(torch: Any) -> None:
    pairs = [(INF, 0.5), (INF, 1.0), (INF, -1.0), (INF, -0.5), (INF, 0.0), (2.0, INF), (2.0, -INF), (2.0, NAN),
             (NAN, 0.0), (1.0, NAN), (NAN, -0.5), (0.5, -1.0), (1.5, -3.0), (1.5, -2.5), (2.0, -2.5), (1.0, 2.0),
             (2.0, -1e10)]
    s, q = (np.array(v) for v in zip(*pairs))
    ours = mg.special.zeta(mg.tensor(s), mg.tensor(q)).numpy()
    theirs = torch.special.zeta(torch.tensor(s), torch.tensor(q)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    # where torch's cephes loop gives NaN, the limit: ζ(inf, q) = 0 for q > 1
    assert mg.special.zeta(mg.tensor([INF, INF]), mg.tensor([2.0, 10.0])).numpy().tolist() == [0.0, 0.0]


def test_zeta_float32_underflows_to_zero() -> None:
    out = mg.special.zeta(mg.tensor([1000.0, 100.0], dtype=mg.float32), mg.tensor([10.0, 1e10], dtype=mg.float32))
    assert out.dtype == mg.float32 and out.numpy().tolist() == [0.0, 0.0]
    assert mg.special.zeta(mg.tensor([2.0], dtype=mg.float32), mg.tensor([0.5], dtype=mg.float32)).item() \
        == pytest.approx(4.9348022005446793, rel=1e-6)


@pytest.mark.parametrize("name", ["zeta", "gammainc", "gammaincc"])
def test_python_numbers_take_the_tensors_dtype(name: str) -> None:
    fn = getattr(mg.special, name)
    t32 = mg.tensor([1.0, 2.0], dtype=mg.float32)
    assert fn(2.0, t32).dtype == mg.float32
    assert fn(t32, 2.0).dtype == mg.float32
    assert fn(2.0, mg.tensor([1.0, 2.0], dtype=mg.float64)).dtype == mg.float64
    assert fn(mg.tensor([2, 3]), t32).dtype == mg.float32   # integers become float32, as PyTorch's


def test_zeta_gradcheck() -> None:
    s = mg.tensor([2.0, 3.5, 4.0], dtype=mg.float64)
    assert mg.gradcheck(lambda q: mg.special.zeta(s, q), [_leaf(mg, [0.5, 3.0, -2.5])])


# --- special: ndtri, erfcx ----------------------------------------------------------------------------------

def test_ndtri_float32_tail() -> None:
    out = mg.special.ndtri(mg.tensor([1e-12, 1e-10], dtype=mg.float32))
    assert out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), [-7.0344838253011319, -6.3613409024040562], rtol=2e-7)   # mpmath
    assert mg.gradcheck(mg.special.ndtri, [_leaf(mg, [1e-3, 0.3, 0.999])])


ERFCX_SLOPE_MPMATH = [(9.5, -0.0061502783967986477), (10.5, -0.0050492724176661227),
                      (50.0, -0.00022554056313532388), (700.0, -1.1514037886644857e-6),
                      (1e4, -5.6418957508491275e-9), (1e8, -5.641895835477562e-17)]


@pytest.mark.parametrize("dtype, rtol", [(mg.float64, 1e-13), (mg.float32, 1e-6)])
def test_erfcx_gradient_for_large_x(dtype: Any, rtol: float) -> None:
    xs, expected = zip(*ERFCX_SLOPE_MPMATH)
    x = mg.tensor(np.array(xs), dtype=dtype, requires_grad=True)
    mg.special.erfcx(x).sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=rtol)
    assert mg.gradcheck(mg.special.erfcx, [_leaf(mg, [9.99, 10.0, 10.01, 50.0, -3.0])])


# --- the same on the GPU (a real one, or the strict CuPy stand-in) ------------------------------------------

GPU_CASES = {
    "solve_triangular_square_b": (lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=False),
                                  (np.tril(np.ones((3, 3, 3))) + np.eye(3), np.arange(9.0).reshape(3, 3))),
    "mvn_batched_precision": (lambda lib, p: lib.distributions.MultivariateNormal(
        lib.zeros(2, dtype=lib.float64, device=p.device), precision_matrix=p).log_prob(
        lib.tensor([[0.5, 1.0], [2.0, 3.0]], dtype=lib.float64, device=p.device)), (PRECISIONS,)),
    "bernoulli_at_zero": (lambda lib, x: lib.distributions.Bernoulli(logits=x).entropy(), (np.array([0.0, 0.3]),)),
    "polygamma_negative": (lambda lib, x: lib.special.polygamma(2, x), (np.array([-171.5, -2.5, -0.3, np.inf]),)),
    "polygamma_float32": (lambda lib, x: lib.special.polygamma(4, x.float()), (np.array([-10.5, -0.3]),)),
    "gammaincc_small": (lambda lib, x: lib.special.gammaincc(x.detach() * 0.5, x),
                        (np.array([1e-3, 0.3, 0.9, 1.05, 3.0, 0.0]),)),
    "gammainc_number": (lambda lib, x: lib.special.gammainc(2.0, x.float()), (np.array([0.5, 1.0, 3.0]),)),
    "zeta_edges": (lambda lib, q: lib.special.zeta(lib.tensor([np.inf, 2.0, 1.5, 3.0], device=q.device).double(), q),
                   (np.array([2.0, 0.5, -2.5, 10.0]),)),
    "erfcx_large": (lambda lib, x: lib.special.erfcx(x), (np.array([9.5, 10.5, 700.0, -2.0]),)),
    "ndtri_float32": (lambda lib, p: lib.special.ndtri(p.float()), (np.array([1e-12, 0.3, 0.999]),)),
}
test_same_on_gpu_as_on_cpu = gpu_case_tests(GPU_CASES, rtol=1e-9)

