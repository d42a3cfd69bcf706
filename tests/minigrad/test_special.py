"""``mg.special`` (torch.special) and the gamma-family ops: values and gradients against PyTorch 2.13,
finite differences, edge values, accuracy against mpmath, dtypes, and the GPU code path.

Tolerances: 1e-10 relative against torch, except where torch itself is less accurate than minigrad:
torch's trigamma (polygamma(1, x), and so digamma's gradient) is good to about 1e-9 only, so those
compare at 1e-8; the accuracy tests against mpmath hold minigrad to its stated bounds.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, assert_ieee_close, gpu_case_tests

import minigrad as mg
from minigrad.ops.gamma import _incomplete_gamma, standard_gamma

RNG = np.random.default_rng(11)

POS = RNG.uniform(0.05, 8.0, (4, 5))
NEG = -RNG.uniform(0.05, 6.0, (3, 4)) + 0.013       # no negative integers
X = RNG.standard_normal((4, 5)) * 3
U = RNG.uniform(-0.99, 0.99, (4, 5))
P = RNG.uniform(0.001, 0.999, (4, 5))
NEAR_ZEROS = np.array([1 + 1e-9, 1 - 1e-7, 1.001, 0.999, 2 + 1e-9, 2 - 1e-6, 2.001, 1.999, 1.4616321])
LARGE = np.exp(RNG.uniform(2.5, 30.0, (6,)))
TAILS = np.array([1 - 1e-3, 1 - 1e-8, 1 - 1e-12, -1 + 1e-15, 1e-10, -0.3])
A_CONST = RNG.uniform(0.3, 6.0, (4, 5))
S_CONST = RNG.uniform(1.2, 6.0, (1, 5))

# name → (fn(lib, *tensors) in PyTorch's spelling, arrays); float arrays become leaves that require grad
CASES: dict[str, tuple[Callable, tuple]] = {
    "gammaln": (lambda t, x: t.special.gammaln(x), (POS,)),
    "gammaln_negative": (lambda t, x: t.special.gammaln(x), (NEG,)),
    "gammaln_near_its_zeros": (lambda t, x: t.special.gammaln(x), (NEAR_ZEROS,)),
    "gammaln_large": (lambda t, x: t.special.gammaln(x), (LARGE,)),
    "digamma": (lambda t, x: t.special.digamma(x), (POS,)),
    "digamma_negative": (lambda t, x: t.special.digamma(x), (NEG,)),
    "psi_large": (lambda t, x: t.special.psi(x), (LARGE,)),
    "polygamma_0": (lambda t, x: t.special.polygamma(0, x), (POS,)),
    "polygamma_1": (lambda t, x: t.special.polygamma(1, x), (POS,)),
    "polygamma_1_negative": (lambda t, x: t.special.polygamma(1, x), (NEG,)),
    "polygamma_2": (lambda t, x: t.special.polygamma(2, x), (POS,)),
    "polygamma_3_negative": (lambda t, x: t.special.polygamma(3, x), (NEG,)),
    "multigammaln": (lambda t, x: t.special.multigammaln(x + 1.5, 4), (POS,)),
    "erfinv": (lambda t, x: t.special.erfinv(x), (U,)),
    "erfinv_tails": (lambda t, x: t.special.erfinv(x), (TAILS,)),
    "erfcx": (lambda t, x: t.special.erfcx(x * 4), (X,)),
    "erfcx_moderate": (lambda t, x: t.special.erfcx(x / 2), (X,)),
    "ndtr": (lambda t, x: t.special.ndtr(x), (X,)),
    "ndtri": (lambda t, x: t.special.ndtri(x), (P,)),
    "log_ndtr": (lambda t, x: t.special.log_ndtr(x * 5), (X,)),
    "i0": (lambda t, x: t.special.i0(x * 5), (X,)),
    "i0e": (lambda t, x: t.special.i0e(x * 20), (X,)),
    "i1": (lambda t, x: t.special.i1(x * 5), (X,)),
    "i1e": (lambda t, x: t.special.i1e(x * 20), (X,)),
    "i0_i1_moderate": (lambda t, x: t.special.i0(x) * t.special.i1(x), (X,)),
    "entr": (lambda t, x: t.special.entr(x), (POS,)),
    "xlog1py": (lambda t, x, y: t.special.xlog1py(x, y), (X, P[:1] - 0.5)),
    "gammainc": (lambda t, x: t.special.gammainc(t.tensor(A_CONST, device=x.device), x), (POS,)),
    "gammaincc": (lambda t, x: t.special.gammaincc(t.tensor(A_CONST, device=x.device), x * 3), (POS,)),
    "zeta": (lambda t, q: t.special.zeta(t.tensor(S_CONST, device=q.device), q), (POS,)),
    # the functions reused from minigrad's pointwise ops, under torch.special's names
    "expit_logit": (lambda t, x: t.special.logit(t.special.expit(x)), (X,)),
    "erf_erfc": (lambda t, x: t.special.erf(x) * t.special.erfc(x), (X,)),
    "xlogy_sinc": (lambda t, x, y: t.special.xlogy(x, y) + t.special.sinc(x), (X, POS)),
    "log1p_expm1_exp2": (lambda t, x: t.special.log1p(x) + t.special.expm1(x) + t.special.exp2(x), (POS,)),
    "softmax": (lambda t, x: t.special.softmax(x, 1), (X,)),
    "log_softmax_dtype": (lambda t, x: t.special.log_softmax(x, 0, dtype=t.float32).double(), (X,)),
    "logsumexp": (lambda t, x: t.special.logsumexp(x, (0, 1)) + t.special.logsumexp(x, 1, keepdim=True), (X,)),
    "round": (lambda t, x: t.special.round(x * 10, decimals=1) * x, (X,)),
}
# torch's trigamma is accurate to ~1e-9 only
TOLERANCE = {"digamma": 1e-8, "digamma_negative": 1e-8, "psi_large": 1e-8, "polygamma_0": 1e-8, "polygamma_1": 1e-8,
             "polygamma_1_negative": 1e-8, "gammaln_near_its_zeros": 1e-8, "log_softmax_dtype": 1e-6}
# finite differences need well-scaled values: huge outputs (i0(15) ...), x = 1e13, steps that leave the domain
NO_GRADCHECK = {"round", "log_softmax_dtype", "erfcx", "i0", "i1", "gammaln_large", "erfinv_tails"}


def _leaves(lib: Any, arrays: tuple) -> list:
    return [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]


def agree_with_torch(torch: Any, fn: Callable, arrays: tuple, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """``fn(mg, ...)`` and ``fn(torch, ...)``: equal values, dtypes and input gradients, to ``rtol``."""
    ours_in, theirs_in = _leaves(mg, arrays), _leaves(torch, arrays)
    ours, theirs = fn(mg, *ours_in), fn(torch, *theirs_in)
    assert_close(ours, theirs, rtol, atol, "value")
    assert ours.dtype == theirs.detach().numpy().dtype
    if theirs.requires_grad:
        weights = np.random.default_rng(3).standard_normal(ours.shape)
        (ours * mg.tensor(weights)).sum().backward()
        (theirs * torch.from_numpy(weights)).sum().backward()
        for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
            if t.grad is not None:
                assert_close(o.grad, t.grad, rtol, atol, f"gradient of input {i}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_torch(name: str, torch: Any) -> None:
    fn, arrays = CASES[name]
    agree_with_torch(torch, fn, arrays, rtol=TOLERANCE.get(name, 1e-10))


@pytest.mark.parametrize("name", sorted(set(CASES) - NO_GRADCHECK))
def test_gradcheck(name: str) -> None:
    """Finite differences in float64, without PyTorch."""
    fn, arrays = CASES[name]
    assert mg.gradcheck(lambda *xs: fn(mg, *xs), _leaves(mg, arrays))


GPU_CASES = {name: CASES[name] for name in ("gammaln_negative", "digamma_negative", "polygamma_3_negative", "erfinv",
                                            "erfinv_tails", "ndtri", "log_ndtr", "erfcx", "ndtr", "i0e", "i1",
                                            "entr", "xlog1py", "gammainc", "gammaincc", "zeta", "multigammaln")}
test_same_on_gpu_as_on_cpu = gpu_case_tests(GPU_CASES)


# --- edge values ---------------------------------------------------------------------------------------

INF, NAN = float("inf"), float("nan")
EDGES: dict[str, tuple[Callable, list]] = {
    "gammaln": (lambda t, x: t.special.gammaln(x), [0.0, -0.0, -1.0, -2.0, -1e20, INF, -INF, NAN, 1.0, 2.0, 1e-300,
                                                    1e306]),
    "digamma": (lambda t, x: t.special.digamma(x), [0.0, -0.0, -1.0, -3.0, INF, -INF, NAN, 1.0, 10.0]),
    "polygamma_2": (lambda t, x: t.special.polygamma(2, x), [0.0, -1.0, -4.0, NAN, 1.0]),
    "polygamma_3": (lambda t, x: t.special.polygamma(3, x), [0.0, -1.0, NAN, 1.0]),
    "erfinv": (lambda t, x: t.special.erfinv(x), [1.0, -1.0, 1.5, -2.0, 0.0, -0.0, NAN]),
    "ndtri": (lambda t, x: t.special.ndtri(x), [0.0, 1.0, 1.5, -0.1, 0.5, NAN, 1e-300]),
    "log_ndtr": (lambda t, x: t.special.log_ndtr(x), [-INF, INF, 0.0, -40.0, 40.0, NAN]),
    "erfcx": (lambda t, x: t.special.erfcx(x), [INF, 0.0, 30.0, 1e10, NAN]),
    "entr": (lambda t, x: t.special.entr(x), [0.0, -1.0, 1.0, INF, NAN]),
    "i0_i1": (lambda t, x: t.special.i0(x) + t.special.i1e(x), [0.0, -0.0, 700.0, -700.0, NAN]),
    "gammainc": (lambda t, x: t.special.gammainc(t.tensor([0.0, 0.0, 1.0, -1.0, INF, 2.0, 3.0], dtype=t.float64), x),
                 [0.0, 1.0, 0.0, 1.0, INF, INF, NAN]),
    "zeta": (lambda t, x: t.special.zeta(t.tensor([2.0, 2.0, 2.0, 1.0, 0.5, 3.0, 2.0], dtype=t.float64), x),
             [1.0, -1.5, -2.0, 1.0, 1.0, 0.0, INF]),
    "xlog1py": (lambda t, x: t.special.xlog1py(x, t.tensor([-1.0, -2.0, 0.5, -1.0, 1.0], dtype=t.float64)),
                [0.0, -1.0, -2.5, 1.0, NAN]),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_values_as_torch(name: str, torch: Any) -> None:
    fn, values = EDGES[name]
    with np.errstate(all="ignore"):
        ours = fn(mg, mg.tensor(np.array(values)))
    assert_ieee_close(ours, fn(torch, torch.tensor(values, dtype=torch.float64)), name)


def test_poles_of_trigamma_as_torch(torch: Any) -> None:
    """polygamma(1, ·) is +inf at 0; at the negative integers torch's π²/sin²(πx), rounded in the dtype (1.3e15)."""
    out = mg.special.polygamma(1, mg.tensor([0.0, -1.0, -2.0]))
    assert np.isposinf(out.numpy()[0])
    np.testing.assert_allclose(out.numpy(), torch.special.polygamma(1, torch.tensor([0.0, -1.0, -2.0])).numpy(),
                               rtol=1e-6)


def test_gradients_that_torch_does_not_have() -> None:
    """gammainc/gammaincc/zeta: the derivative in the first argument raises, as in PyTorch."""
    a, x = mg.tensor([1.5], requires_grad=True), mg.tensor([2.0], requires_grad=True)
    for fn in (mg.special.gammainc, mg.special.gammaincc, mg.special.zeta):
        with pytest.raises(NotImplementedError, match="not implemented"):
            fn(a, x).sum().backward()


# --- accuracy against mpmath ------------------------------------------------------------------------------

def _relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference) / np.abs(reference)))


@pytest.fixture
def mpmath() -> Any:
    mp = pytest.importorskip("mpmath", reason="mpmath is not installed (it comes with torch's sympy)")
    mp.mp.dps = 40
    return mp


def test_lgamma_accuracy(mpmath: Any) -> None:
    rng = np.random.default_rng(5)
    positive = np.concatenate([rng.uniform(1e-8, 4, 200), NEAR_ZEROS, np.exp(rng.uniform(1, 300, 50))])
    reference = np.array([float(mpmath.loggamma(mpmath.mpf(x))) for x in positive])
    assert _relative_error(mg.special.gammaln(mg.tensor(positive)).numpy(), reference) < 1e-14
    negative = -rng.uniform(0.01, 30, 200)
    reference = np.array([float(mpmath.log(abs(mpmath.gamma(mpmath.mpf(x))))) for x in negative])
    ours = mg.special.gammaln(mg.tensor(negative)).numpy()
    assert np.max(np.abs(ours - reference) / np.maximum(1, np.abs(reference))) < 1e-13   # absolute near its zeros


def test_polygamma_accuracy(mpmath: Any) -> None:
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.uniform(1e-4, 20, 150), -rng.uniform(0.01, 10, 50)])
    digamma = np.array([float(mpmath.digamma(mpmath.mpf(v))) for v in x])
    ours = mg.special.digamma(mg.tensor(x)).numpy()
    assert np.max(np.abs(ours - digamma) / np.maximum(1, np.abs(digamma))) < 1e-14
    for n in (1, 2, 4):
        reference = np.array([float(mpmath.polygamma(n, mpmath.mpf(v))) for v in x])
        assert _relative_error(mg.special.polygamma(n, mg.tensor(x)).numpy(), reference) < 1e-13, n


def test_error_function_accuracy(mpmath: Any) -> None:
    rng = np.random.default_rng(7)
    u = np.concatenate([rng.uniform(-1, 1, 200), 1 - np.exp(-rng.uniform(1, 36, 50))])
    reference = np.array([float(mpmath.erfinv(mpmath.mpf(v))) for v in u])
    assert _relative_error(mg.special.erfinv(mg.tensor(u)).numpy(), reference) < 1e-14
    x = rng.uniform(-26, 35, 200)   # erfcx overflows below -26.6
    reference = np.array([float(mpmath.erfc(mpmath.mpf(v)) * mpmath.exp(mpmath.mpf(v) ** 2)) for v in x])
    assert _relative_error(mg.special.erfcx(mg.tensor(x)).numpy(), reference) < 1e-14
    reference = np.array([float(mpmath.ncdf(mpmath.mpf(v))) for v in x])
    assert _relative_error(mg.special.ndtr(mg.tensor(x)).numpy(), reference) < 1e-14
    reference = np.array([float(mpmath.log(mpmath.ncdf(v)) if v < 0 else mpmath.log1p(-mpmath.ncdf(-v)))
                          for v in map(mpmath.mpf, x)])   # log Φ(35) = -1e-268
    assert _relative_error(mg.special.log_ndtr(mg.tensor(x)).numpy(), reference) < 1e-14
    p = rng.uniform(0, 1, 100)
    reference = np.array([float(mpmath.sqrt(2) * mpmath.erfinv(2 * mpmath.mpf(v) - 1)) for v in p])
    assert _relative_error(mg.special.ndtri(mg.tensor(p)).numpy(), reference) < 1e-14
    # down to p = 1e-300, by the round trip: Φ(ndtri(p)) = p, where dp/p = y φ(y)/Φ(y) · dy/y ≈ y² dy/y
    tiny = np.exp(-rng.uniform(1, 690, 100))
    quantiles = mg.special.ndtri(mg.tensor(tiny)).numpy()
    round_trip = np.array([float(mpmath.ncdf(mpmath.mpf(y))) for y in quantiles])
    assert np.max(np.abs(round_trip / tiny - 1) / np.maximum(1, quantiles ** 2)) < 1e-14


def test_bessel_accuracy(mpmath: Any) -> None:
    x = np.concatenate([np.random.default_rng(8).uniform(-60, 60, 200), [1e-9, 29.99, 30.01]])
    for order, fn, unscaled in ((0, mg.special.i0, True), (0, mg.special.i0e, False), (1, mg.special.i1, True),
                                (1, mg.special.i1e, False)):
        reference = np.array([float(mpmath.besseli(order, v) * (1 if unscaled else mpmath.exp(-abs(v)))) for v in x])
        assert _relative_error(fn(mg.tensor(x)).numpy(), reference) < 1e-14, fn.__name__


def test_incomplete_gamma_accuracy(mpmath: Any) -> None:
    rng = np.random.default_rng(9)
    a = np.exp(rng.uniform(np.log(0.01), np.log(300), 40))
    x = rng.standard_gamma(a) * rng.uniform(0.5, 2, 40)
    reference = np.array([float(mpmath.gammainc(mpmath.mpf(s), 0, mpmath.mpf(v), regularized=True))
                          for s, v in zip(a, x)])
    assert _relative_error(mg.special.gammainc(mg.tensor(a), mg.tensor(x)).numpy(), reference) < 1e-11


def _gamma_sample_slope(mpmath: Any, a: float, x: float) -> float:
    """dx/da of a Gamma(a, 1) sample x by the implicit function theorem on the CDF, in mpmath."""
    a, x = mpmath.mpf(a), mpmath.mpf(x)
    dp_da = mpmath.diff(lambda s: mpmath.gammainc(s, 0, x, regularized=True), a)
    dp_dx = mpmath.exp((a - 1) * mpmath.log(x) - x - mpmath.loggamma(a))
    return float(-dp_da / dp_dx)


def test_standard_gamma_gradient_is_the_implicit_derivative(mpmath: Any, torch: Any) -> None:
    """The gradient of a reparameterised gamma draw: dx/dα = -(∂P/∂α)/(∂P/∂x), to 1e-10 (PyTorch's
    approximation is good to ~1e-3)."""
    mg.manual_seed(4)
    alpha = mg.tensor(np.array([0.01, 0.3, 1.0, 2.5, 9.0, 60.0, 1500.0]), requires_grad=True)
    sample = standard_gamma(alpha)
    sample.sum().backward()
    reference = np.array([_gamma_sample_slope(mpmath, a, x) for a, x in zip(alpha.numpy(), sample.numpy())])
    assert _relative_error(alpha.grad.numpy(), reference) < 1e-10
    theirs = torch._standard_gamma_grad(torch.tensor(alpha.numpy()), torch.tensor(sample.numpy())).numpy()
    np.testing.assert_allclose(alpha.grad.numpy(), theirs, rtol=3e-3)


def test_standard_gamma_gradient_in_both_branches(mpmath: Any) -> None:
    """Points on both sides of x = α + 1 (series and continued fraction), far tails included."""
    a = np.array([0.5, 0.5, 4.0, 4.0, 4.0, 100.0, 100.0])
    x = np.array([1e-6, 9.0, 0.3, 5.2, 25.0, 80.0, 130.0])
    with np.errstate(all="ignore"):
        _, _, slope = _incomplete_gamma(np, a, x)
    reference = np.array([_gamma_sample_slope(mpmath, s, v) for s, v in zip(a, x)])
    assert _relative_error(slope, reference) < 1e-10


# --- dtypes, names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gammaln", "digamma", "erfinv", "erfcx", "ndtr", "ndtri", "log_ndtr", "i0", "i0e",
                                  "i1", "i1e", "entr"])
def test_dtypes_as_torch(name: str, torch: Any) -> None:
    """float32 stays float32 (close to the float64 value); integers become float32, as PyTorch's."""
    values = np.array([0.25, 0.5, 0.75])
    ours32 = getattr(mg.special, name)(mg.tensor(values, dtype=mg.float32))
    assert ours32.dtype == mg.float32
    np.testing.assert_allclose(ours32.numpy(), getattr(mg.special, name)(mg.tensor(values)).numpy(), rtol=1e-5)
    ints = getattr(mg.special, name)(mg.tensor([1, 2, 3]) if name != "ndtri" else mg.tensor([0, 1, 1]))
    assert ints.dtype == getattr(torch.special, name)(torch.tensor([1, 2, 3])).numpy().dtype == np.float32


def test_polygamma_and_multigammaln_refuse_bad_orders() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        mg.special.polygamma(-1, mg.tensor([1.0]))
    with pytest.raises(TypeError, match="n must be an int"):
        mg.special.polygamma(1.5, mg.tensor([1.0]))
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        mg.special.multigammaln(mg.tensor([0.9]), 0)


def test_multigammaln_outside_its_domain_is_the_unchecked_sum_as_torch(torch: Any) -> None:
    """torch 2.13 no longer refuses x <= (p-1)/2: it sums the lgamma terms (inf at a term's pole)."""
    x = np.array([0.5, 0.2, 3.0, -0.3])
    ours = mg.special.multigammaln(mg.tensor(x), 2).numpy()
    np.testing.assert_allclose(ours, torch.special.multigammaln(torch.tensor(x), 2).numpy(), rtol=1e-12)


def test_names_as_torch_special(torch: Any) -> None:
    """Every name of torch.special is here, or raises a NotImplementedError that says it is missing."""
    names = [n for n in dir(torch.special) if not n.startswith("_") and callable(getattr(torch.special, n))
             and n not in ("Tensor",)]
    for name in names:
        try:
            assert callable(getattr(mg.special, name)), name
        except NotImplementedError as error:
            assert "not implemented in minigrad" in str(error)
    assert mg.special.psi is mg.special.digamma
    assert mg.special.expit is mg.sigmoid


def test_float32_lgamma_is_accurate_near_its_zeros_and_erfinv_keeps_the_sign_of_zero() -> None:
    # float32 lgamma is computed in float64: near its zeros the float32 series lost up to 1e-2 of the value
    x = np.concatenate([np.linspace(-3, -2, 2001)[1:-1], np.linspace(0.9, 2.1, 1001), [-2.5, -0.5]])
    ours = mg.lgamma(mg.tensor(x.astype(np.float32))).numpy()
    truth = mg.lgamma(mg.tensor(x.astype(np.float32).astype(np.float64))).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, truth, rtol=2e-7, atol=1e-30)
    zeros = mg.erfinv(mg.tensor([-0.0, 0.0], dtype=mg.float32)).numpy()
    assert list(np.signbit(zeros)) == [True, False]
