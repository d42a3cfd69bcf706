"""Extreme arguments of the special functions, where PyTorch's op_db ``reference_inputs`` sweep found minigrad and
torch apart: each case is pinned to an independent reference (a float128 series or asymptotic expansion, worked
in /tmp probes with numpy.longdouble), and to torch where torch is right."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="compares with PyTorch")


def _grad(fn, x: np.ndarray, *args) -> tuple:
    t = mg.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = fn(*args, t) if args else fn(t)
        y.sum().backward()
    return y.numpy(), t.grad.numpy()


# P(a, a) from Temme's expansion 1/2 - Σ d_k0 a^-k / √(2πa) (and the float128 series for a ≤ 1001.2);
# the Gamma(a) density at x = a: exp(-Stirling tail(a)) / √(2πa)
_A = np.array([501.0, 1001.2, 4988429.2])
_P = np.array([0.50594120779988095883, 0.50420272327441145776, 0.5000595397360789129])
_DENSITY = np.array([0.01782046224282043733, 0.012607050646191492609, 0.00017861920505392054669])


def test_gammainc_at_large_equal_arguments_matches_the_reference() -> None:
    p, dp = _grad(mg.special.gammainc, _A.copy(), mg.tensor(_A))
    np.testing.assert_allclose(p, _P, rtol=1e-13)   # the plain prefactor lost 1e-8 at a = 5e6
    np.testing.assert_allclose(dp, _DENSITY, rtol=1e-13)   # torch: 1.5e-8 off at a = 5e6
    q, dq = _grad(mg.special.gammaincc, _A.copy(), mg.tensor(_A))
    np.testing.assert_allclose(q, 1 - _P, rtol=1e-13)
    np.testing.assert_allclose(dq, -_DENSITY, rtol=1e-13)
    t = torch.tensor(_A, requires_grad=True)
    torch.special.gammainc(torch.tensor(_A), t).sum().backward()
    np.testing.assert_allclose(dp, t.grad.numpy(), rtol=1e-7)


def test_gamma_density_at_huge_equal_arguments_is_finite() -> None:
    # the Gamma(a) density at a = x = 1e20 is 1/√(2π·1e20) = 3.989e-11 (torch's gammainc gradient: inf; the
    # plain exp((a-1) log x - x - lgamma(a)) gave 1.0). gammainc's own value there: the test below.
    from minigrad.ops.gamma import _log_gamma_density

    big = np.array([1e20])
    np.testing.assert_allclose(np.exp(_log_gamma_density(np, big, big, 1)), [3.9894228040143267745e-11], rtol=1e-12)


def test_trigamma_keeps_full_precision() -> None:
    # ψ'(1) = π²/6; torch's trigamma is 4.8e-10 off (its asymptotic series starts at x = 6)
    value, slope = _grad(mg.digamma, np.array([1.0]))
    one = mg.tensor([1.0], dtype=mg.float64)
    np.testing.assert_allclose(mg.polygamma(1, one).numpy(), [np.pi ** 2 / 6], rtol=1e-15)
    np.testing.assert_allclose(slope, [np.pi ** 2 / 6], rtol=1e-15)
    assert abs(torch.polygamma(1, torch.tensor([1.0], dtype=torch.float64)).item() - np.pi ** 2 / 6) > 1e-10


def test_polygamma_at_infinity_is_zero() -> None:
    # ψ^(n)(x) ~ (-1)^(n+1) (n-1)! / x^n → 0 (torch: NaN for n = 4)
    value, slope = _grad(lambda t: mg.polygamma(4, t), np.array([np.inf]))
    assert value[0] == 0 and slope[0] == 0


def test_sinc_gradient_near_zero() -> None:
    # sinc'(x) = -π²x/3 + O(x³) near 0; torch's quotient cancels (4e-5 relative off at x = -5.4e-7)
    x = -5.388553743213009e-07
    _, slope = _grad(mg.sinc, np.array([x]))
    np.testing.assert_allclose(slope, [-np.pi ** 2 * x / 3 * (1 - (np.pi * x) ** 2 / 10)], rtol=1e-9)


def test_erfcx_and_ndtr_far_left_do_not_give_nan() -> None:
    # exp(h²) · exp((x - h)(x + h)) was inf · 0 at x = -5e6: erfcx there is +inf (gradient -inf), as torch's,
    # and ndtr's gradient (the normal density) is 0
    x = np.array([-4988429.2, -40.0, -np.inf])
    value, slope = _grad(mg.special.erfcx, x)
    assert np.all(value == np.inf) and np.all(slope == -np.inf)
    _, density = _grad(mg.special.ndtr, x)
    assert np.all(density == 0)


def test_exponential_activations_give_nan_gradient_at_nan() -> None:
    # a NaN input takes ELU's exponential piece, so its gradient is NaN, as torch's vectorised CPU kernel
    # (its scalar tail and CUDA kernel give the slope, 1 or SELU's scale); ±0, ±inf and huge negatives unchanged
    import minigrad.nn.functional as F

    x = np.array([np.nan] * 16 + [0.0, -0.0, np.inf, -np.inf, -1e300, -800.0, 2.0])
    for name, kwargs in (("elu", {"alpha": 0.8}), ("selu", {}), ("celu", {"alpha": 1.5})):
        value, slope = _grad(functools.partial(getattr(F, name), **kwargs), x.copy())
        t = torch.tensor(x, requires_grad=True)
        getattr(torch.nn.functional, name)(t, **kwargs).sum().backward()
        assert np.isnan(slope[:16]).all(), name
        np.testing.assert_allclose(value, getattr(torch.nn.functional, name)(torch.tensor(x), **kwargs).numpy(),
                                   rtol=1e-7)   # torch's celu works 1/α in float32
        np.testing.assert_allclose(slope, t.grad.numpy(), rtol=1e-7)


def test_polygamma_at_minus_infinity_is_nan() -> None:
    # ψ⁽ⁿ⁾ has no limit at -inf (poles at every negative integer): NaN, as torch's digamma and trigamma
    # (torch's polygamma for n ≥ 2 gives ±inf there, as at a pole)
    value, slope = _grad(mg.digamma, np.array([-np.inf, -3.0]))
    t = torch.tensor([-np.inf, -3.0], dtype=torch.float64, requires_grad=True)
    torch.digamma(t).sum().backward()
    assert np.isnan(value).all() and np.isnan(slope[0]) and np.isnan(t.grad[0].item())
    assert slope[1] == t.grad[1].item()   # a pole of trigamma: torch's π²/sin²(πx) in float64, 7.3e31
    for n in (2, 3):
        assert np.isnan(mg.polygamma(n, mg.tensor([-np.inf], dtype=mg.float32)).item())


def test_gammainc_at_huge_arguments_uses_temme_expansion() -> None:
    # a ≥ 1000 with |x/a - 1| ≤ 0.3: Temme's uniform expansion (the series gave NaN at a = x = 1e20 and took
    # 4 s for 1000 elements at a = 1e8). References: P(a, a) = ½ + (1/3 + 1/(540a)) / √(2πa) + O(a^-5/2);
    # off a: ½ erfc(z) + exp(-z²) (-1/3 + η/12) / √(2πa), z = η √(a/2), η = μ (1 - μ/3 + 7μ²/36), μ = x/a - 1
    # (x - a exact: 1e20 + 1e10 is not representable, μ = 1.0000007168e-10)
    import math

    a = np.array([1e20, 1e20, 1e20, 1e15])
    x = np.array([1e20, 1e20 + 1e10, 1e20 - 3e10, 1e15 + 3e7])
    mu = (x - a) / a
    eta = mu * (1 - mu / 3 + 7 * mu * mu / 36)
    z = eta * np.sqrt(a / 2)
    q_ref = np.array([0.5 * math.erfc(v) for v in z]) + np.exp(-z * z) * (-1 / 3 + eta / 12) / np.sqrt(2 * np.pi * a)
    q_ref[0] = 0.5 - (1 / 3 + 1 / (540 * a[0])) / math.sqrt(2 * math.pi * a[0])
    p, dp = _grad(mg.special.gammainc, x.copy(), mg.tensor(a))
    q, dq = _grad(mg.special.gammaincc, x.copy(), mg.tensor(a))
    np.testing.assert_allclose(q, q_ref, rtol=1e-14)
    np.testing.assert_allclose(p[:2], 1 - q_ref[:2], rtol=1e-14)
    np.testing.assert_allclose(p[2], 0.0013498957613437, rtol=1e-12)   # 1 - q_ref keeps 1e-13 of it
    density = np.exp(-z * z) / np.sqrt(2 * np.pi * a) / (1 + mu)   # x^(a-1) e^-x / Γ(a), Stirling's 1/(12a) aside
    np.testing.assert_allclose(dp, density, rtol=1e-13)
    np.testing.assert_allclose(dq, -density, rtol=1e-13)
    t = torch.special.gammainc(torch.tensor(a), torch.tensor(x)).numpy()   # torch is right at a = x = 1e20
    np.testing.assert_allclose(p[0], t[0], rtol=1e-15)                      # (1.4e-11 off at a = 1e15)


@pytest.mark.gpu
@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the stand-in's NumPy ignores the ops' errstate
def test_extreme_paths_same_on_gpu_as_on_cpu() -> None:
    import minigrad.nn.functional as F

    a = np.array([1e20, 1e20, 5e3, 30.0])
    x = np.array([1e20, 1e20 + 1e10, 4e3, 31.0])
    for fn in (mg.special.gammainc, mg.special.gammaincc):
        cpu = fn(mg.tensor(a), mg.tensor(x)).numpy()
        gpu = fn(mg.tensor(a, device="cuda"), mg.tensor(x, device="cuda")).cpu().numpy()
        np.testing.assert_allclose(gpu, cpu, rtol=1e-15)
    t = np.array([-4988429.2, np.nan, -1.0])
    for fn in (mg.special.erfcx, F.elu, mg.digamma):
        leaf = mg.tensor(t, device="cuda", requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(leaf).sum().backward()
        np.testing.assert_array_equal(leaf.grad.cpu().numpy(), _grad(fn, t.copy())[1])
