"""Complex inputs against torch 2.13, the leftovers: ops torch computes on complex that minigrad refused
(F.silu, logaddexp, logcumsumexp, dist; log1p lost the real part of a small complex input), ops torch refuses
that minigrad computed (logit, xlogy, jacrev), and refusals of another class than torch's (now an instance of
torch's RuntimeError or NotImplementedError, and still a TypeError).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")

INF, NAN = float("inf"), float("nan")
Z = np.array([[1 + 2j, -0.5 + 0.3j, 0.2 - 1j], [3 - 4j, -2 + 0.1j, 0.7 + 2.5j]])
G = np.array([[0.3 - 0.7j, 1 + 0j, -2 + 0.5j], [0.1 + 0.2j, -1 - 1j, 0.4 + 0j]])   # a complex output's gradient


def _both(values, dtype="complex128", requires_grad=False):
    values = np.asarray(values).astype(dtype)
    return (mg.tensor(values, requires_grad=requires_grad),
            torch.tensor(values).requires_grad_(requires_grad))


def _close(ours, theirs, tol):
    theirs = theirs.detach().resolve_conj().numpy()
    ours = ours.detach().numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if ours.dtype.kind == "c":   # parts apart: NaN + 0j is not NaN + NaNj
        ours, theirs = np.stack([ours.real, ours.imag]), np.stack([theirs.real, theirs.imag])
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [("complex128", 1e-12), ("complex64", 1e-5)])
def test_values_as_torch(dtype, tol):
    m, t = _both(Z, dtype)
    _close(F.silu(m), torch.nn.functional.silu(t), tol)
    _close(mg.logaddexp(m, 2 * m + 1), torch.logaddexp(t, 2 * t + 1), tol)
    for dim in (0, 1):
        _close(mg.logcumsumexp(m, dim), torch.logcumsumexp(t, dim), tol)
    for p in (0, 0.5, 1, 2, 3, INF):
        _close(mg.dist(m, m * 0.5 + 1, p), torch.dist(t, t * 0.5 + 1, p), tol)
    # log1p of a small complex number keeps its real part (NumPy's gave 0 for 1e-20 + 1e-21j)
    small = np.array([1e-20 + 1e-21j, -0.5 + 1e-3j, 3 + 4j, 1e-5 - 2e-6j, -1e-300 + 0j])
    ms, ts = _both(small, dtype)
    _close(mg.log1p(ms), torch.log1p(ts), tol)
    # a real operand of another width promotes as torch's
    real = np.array([0.5, -1.0, 2.0])
    _close(mg.logaddexp(m, mg.tensor(real)), torch.logaddexp(t, torch.tensor(real)), tol)
    _close(mg.dist(m, mg.tensor(real)), torch.dist(t, torch.tensor(real)), tol)


def test_logaddexp_logcumsumexp_special_values_as_torch():
    points = [complex(-INF, 1), complex(-INF, 2), complex(INF, 1), complex(INF, 2), complex(INF, 0), complex(-INF, 0),
              complex(NAN, 0), complex(1, NAN), complex(1, INF), 1 + 1j, 0j, complex(1, 3.1), complex(1, -3.1)]
    a, b = np.meshgrid(np.array(points), np.array(points))
    (ma, ta), (mb, tb) = _both(a), _both(b)
    _close(mg.logaddexp(ma, mb), torch.logaddexp(ta, tb), 1e-12)
    line = np.array([complex(-INF, 1), 1000 + 1j, 1001 + 3j, complex(-INF, 0), 2 - 1j, complex(INF, 0), 5 + 0j])
    m, t = _both(line)
    _close(mg.logcumsumexp(m, 0), torch.logcumsumexp(t, 0), 1e-12)


@pytest.mark.parametrize("dtype, tol", [("complex128", 1e-12), ("complex64", 1e-5)])
def test_gradients_as_torch(dtype, tol):
    cases = {
        "logaddexp": lambda L, x, y: L.logaddexp(x, y),
        "logcumsumexp0": lambda L, x, y: L.logcumsumexp(x * y, 0),
        "logcumsumexp1": lambda L, x, y: L.logcumsumexp(x - y, 1),
        "dist2": lambda L, x, y: L.dist(x, y), "dist1": lambda L, x, y: L.dist(x, y, 1),
        "dist3": lambda L, x, y: L.dist(x, y, 3), "dist_inf": lambda L, x, y: L.dist(x, y, INF),
    }
    for name, fn in cases.items():
        (mx, tx), (my, ty) = _both(Z, dtype, True), _both(Z[::-1] * 0.5 + 1j, dtype, True)
        out_m, out_t = fn(mg, mx, my), fn(torch, tx, ty)
        assert out_m.shape == tuple(out_t.shape), name
        _close(out_m, out_t, tol)
        grad = G.astype(dtype) if out_t.is_complex() else np.ones(out_t.shape, out_t.detach().numpy().dtype)
        expected = torch.autograd.grad(out_t, (tx, ty), torch.tensor(grad))
        out_m.backward(mg.tensor(grad))
        for ours, theirs in zip((mx.grad, my.grad), expected):
            _close(ours, theirs, tol)


def test_gradcheck_through_real_and_imaginary_parts():
    rng = np.random.default_rng(0)
    re, im = (mg.tensor(rng.normal(size=(2, 3)), requires_grad=True) for _ in range(2))
    other = mg.tensor(rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3)))

    def parts(z):
        return mg.stack([z.real, z.imag])

    assert mg.gradcheck(lambda a, b: parts(mg.logaddexp(mg.complex(a, b), other)), (re, im))
    assert mg.gradcheck(lambda a, b: parts(mg.logaddexp(other, mg.complex(a, b))), (re, im))
    assert mg.gradcheck(lambda a, b: parts(mg.logcumsumexp(mg.complex(a, b), 1)), (re, im))
    assert mg.gradcheck(lambda a, b: parts(mg.logcumsumexp(mg.complex(a, b), 0)), (re, im))
    for p in (1, 2, 3):
        assert mg.gradcheck(lambda a, b, p=p: mg.dist(mg.complex(a, b), other, p), (re, im))


def test_silu_complex_forward_only_as_torch():
    m, t = _both(Z, requires_grad=True)
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.silu(t)
    with pytest.raises(RuntimeError, match="silu.*complex"):
        F.silu(m)
    assert theirs.type is RuntimeError
    with mg.no_grad(), torch.no_grad():
        _close(F.silu(m), torch.nn.functional.silu(t), 1e-12)
    _close(nn_silu(m.detach()), torch.nn.SiLU()(t.detach()), 1e-12)
    special = np.array([-1000 + 1j, 1000 + 1j, complex(INF, 0), 0j, -50 + 3j, 20 - 700j])
    ms, ts = _both(special)
    _close(F.silu(ms), torch.nn.functional.silu(ts), 1e-12)


def nn_silu(x):
    import nn
    return nn.SiLU()(x)


REFUSED = {   # name: (torch's class, the call on either library)
    "logit": lambda L, z: L.logit(z), "logit_eps": lambda L, z: L.logit(z, 1e-3), "xlogy": lambda L, z: L.xlogy(z, z),
    "xlogy_real_x": lambda L, z: L.xlogy(z.real, z), "signbit": lambda L, z: L.signbit(z),
    "isposinf": lambda L, z: L.isposinf(z), "isneginf": lambda L, z: L.isneginf(z),
    "copysign": lambda L, z: L.copysign(z, z.real), "nextafter": lambda L, z: L.nextafter(z, z),
    "nanmean": lambda L, z: L.nanmean(z), "nansum": lambda L, z: L.nansum(z, 0),
    "cdist": lambda L, z: L.cdist(z, z), "erf": lambda L, z: L.erf(z), "atan2": lambda L, z: L.atan2(z, z.real),
    "hypot": lambda L, z: L.hypot(z, z), "frexp": lambda L, z: L.frexp(z), "gcd": lambda L, z: L.gcd(z, z),
    "lcm": lambda L, z: L.lcm(z, z), "histogram": lambda L, z: L.histogram(z), "erfc": lambda L, z: L.erfc(z),
    "logaddexp2": lambda L, z: L.logaddexp2(z, z), "xlog1py": lambda L, z: L.special.xlog1py(z, z),
    "vecdot_dtypes": lambda L, z: L.linalg.vecdot(z, z.real),
    "jacrev_input": lambda L, z: L.func.jacrev(L.sin)(z),
    "jacrev_other_input": lambda L, z: L.func.jacrev(lambda a, b: (a * b).real, argnums=1)(z, z.real),
    "jacrev_output": lambda L, z: L.func.jacrev(lambda a: a * 1j)(z.real),
}


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_refusals_are_torch_classes(dtype):
    for name, call in REFUSED.items():
        m, t = _both(Z, dtype)
        with pytest.raises(Exception) as theirs:
            call(torch, t)
        assert theirs.type in (RuntimeError, NotImplementedError), name
        with pytest.raises(theirs.type) as ours:
            call(mg, m)
        if not name.startswith(("jacrev", "xlog1py")):   # plain RuntimeError/NotImplementedError; the others also
            # TypeErrors, as minigrad's refusals of a dtype
            assert isinstance(ours.value, TypeError), name
        assert name.split("_")[0] in str(ours.value) or "vecdot" in str(ours.value), (name, ours.value)
    # real inputs still compute
    r = mg.tensor(np.array([0.25, 0.5]))
    assert mg.logit(r).shape == (2,) and mg.isposinf(r).shape == (2,) and mg.erf(r).shape == (2,)
    np.testing.assert_allclose(mg.func.jacrev(mg.sin)(r).numpy(), np.diag(np.cos([0.25, 0.5])))
