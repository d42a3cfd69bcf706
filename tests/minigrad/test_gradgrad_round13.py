"""create_graph=True through complex values: the FFT family, abs/angle/sgn, the complex parts and views, and the
holomorphic arithmetic they lead to; pinned against PyTorch's first gradients and Hessian-vector products, and
checked by finite differences (gradgradcheck) on real inputs. The linear-algebra rules first written for real
values take complex inputs too (conjugate transposes, as PyTorch's formulas)."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _values(shape, complex_, rng):
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if complex_ else a


def _loss(y, kind, lib):
    if kind == "abs":
        return y.abs().sum()
    if kind == "abs2":
        return (y.abs() ** 2).sum()
    return (lib.real(y) if y.dtype in (torch.complex128, np.complex128) or str(y.dtype).startswith("complex")
            else y).sum()


def _grad_and_hvp(lib, grad, x, f, kind, v):
    y = f(x)
    g, = grad(_loss(y, kind, lib), x, create_graph=True)
    s = (g * lib.tensor(v)).sum()
    s = lib.real(s) if "complex" in str(s.dtype) else s
    hv, = grad(s, x)
    return g, hv


F, T = mg.fft, torch.fft
CASES = [   # (name, torch f, minigrad f, shape, complex inputs too, loss)
    ("fft", lambda x: T.fft(x), lambda x: F.fft(x), (6,), True, "abs"),
    ("fft n", lambda x: T.fft(x, n=8), lambda x: F.fft(x, n=8), (6,), True, "abs"),
    ("ifft ortho crop", lambda x: T.ifft(x, n=4, norm="ortho"), lambda x: F.ifft(x, n=4, norm="ortho"), (6,), True,
     "abs"),
    ("fft2", lambda x: T.fft2(x), lambda x: F.fft2(x), (3, 4), True, "abs"),
    ("fftn s", lambda x: T.fftn(x, s=(2, 5)), lambda x: F.fftn(x, s=(2, 5)), (3, 4), True, "abs"),
    ("rfft", lambda x: T.rfft(x), lambda x: F.rfft(x), (7,), False, "abs"),
    ("rfft2 forward", lambda x: T.rfft2(x, norm="forward"), lambda x: F.rfft2(x, norm="forward"), (3, 6), False,
     "abs"),
    ("rfftn s", lambda x: T.rfftn(x, s=(4, 5)), lambda x: F.rfftn(x, s=(4, 5)), (3, 6), False, "abs"),
    ("ihfft", lambda x: T.ihfft(x), lambda x: F.ihfft(x), (7,), False, "abs"),
    ("irfft", lambda x: T.irfft(x), lambda x: F.irfft(x), (5,), True, "abs2"),
    ("irfft n", lambda x: T.irfft(x, n=7), lambda x: F.irfft(x, n=7), (5,), True, "abs2"),
    ("irfftn s ortho", lambda x: T.irfftn(x, s=(3, 6), norm="ortho"), lambda x: F.irfftn(x, s=(3, 6), norm="ortho"),
     (3, 4), True, "abs2"),
    ("hfft", lambda x: T.hfft(x), lambda x: F.hfft(x), (5,), False, "abs2"),
    ("abs", lambda x: x.abs() ** 3, lambda x: x.abs() ** 3, (5,), True, "real"),
    ("angle", lambda x: torch.angle(x) * x.abs(), lambda x: mg.angle(x) * x.abs(), (5,), True, "real"),
    ("sgn", lambda x: torch.sgn(x) * x, lambda x: mg.sgn(x) * x, (5,), True, "abs2"),
    ("conj exp", lambda x: torch.exp(x.conj()) / (x + 3), lambda x: mg.exp(mg.conj(x)) / (x + 3), (5,), True, "abs"),
    ("view_as_real", lambda x: torch.view_as_real(x) ** 3, lambda x: mg.view_as_real(x) ** 3, (5,), True, "real"),
    ("real imag", lambda x: torch.real(x) * torch.imag(x) ** 2, lambda x: mg.real(x) * mg.imag(x) ** 2, (5,), True,
     "real"),
    ("polar", lambda x: torch.polar(x * x + 1, x), lambda x: mg.polar(x * x + 1, x), (5,), False, "abs2"),
    ("complex sin", lambda x: torch.sin(torch.complex(x, x * x)), lambda x: mg.sin(mg.complex(x, x * x)), (5,), False,
     "abs"),
    ("matmul sqrt log", lambda x: torch.log(torch.sqrt(x @ x.T + 5)), lambda x: mg.log(mg.sqrt(x @ x.T + 5)), (3, 3),
     True, "abs"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_first_gradient_and_hvp_match_torch(case):
    name, ft, fm, shape, with_complex, kind = case
    rng = np.random.default_rng(len(name))
    for complex_ in (False, True) if with_complex else (False,):
        if name in ("abs", "angle", "sgn", "view_as_real", "real imag") and not complex_:
            continue   # their real case is the ordinary rule (or PyTorch's zero tensor)
        a, v = _values(shape, complex_, rng), _values(shape, complex_, rng)
        gt, hvt = _grad_and_hvp(torch, torch.autograd.grad, torch.tensor(a, requires_grad=True), ft, kind, v)
        gm, hvm = _grad_and_hvp(mg, mg.autograd.grad, mg.tensor(a, requires_grad=True), fm, kind, v)
        assert gm.dtype == a.dtype and hvm.dtype == a.dtype
        np.testing.assert_allclose(gm.numpy(), gt.detach().resolve_conj().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(hvm.numpy(), hvt.resolve_conj().numpy(), rtol=1e-10, atol=1e-10)


def test_gradgradcheck_through_spectra():
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal((3, 6)), requires_grad=True)
    assert mg.gradcheck(lambda t: F.rfft2(t, s=(4, 5)).abs(), [x])
    assert mg.gradgradcheck(lambda t: F.rfft2(t, s=(4, 5)).abs(), [x])
    assert mg.gradgradcheck(lambda t: F.irfft(mg.fft.fft(t, n=5), n=7) ** 2, [x])
    assert mg.gradgradcheck(lambda t: mg.angle(mg.complex(t, t ** 2 + 0.5)) * mg.sgn(mg.fft.fft(t)).abs(), [x])


@pytest.mark.parametrize("op", ["cholesky", "slogdet", "qr", "pinv", "eigvalsh", "cholesky_inverse"])
def test_linalg_rules_written_for_real_values_take_complex_ones_too(op):
    """These rules refused complex inputs (their transposes gave a wrong gradient); they now use ᴴ, as PyTorch's
    formulas, and match torch's HVP (test_gradgrad_linalg_round13.py pins more of them)."""
    rng = np.random.default_rng(5)
    a = _values((3, 3), True, rng)
    a = a @ a.conj().T + 3 * np.eye(3)
    v = _values((3, 3), True, rng)
    f = {"cholesky": lambda m, t: m.linalg.cholesky(t), "slogdet": lambda m, t: m.linalg.slogdet(t)[1],
         "cholesky_inverse": lambda m, t: m.cholesky_inverse(t), "qr": lambda m, t: m.linalg.qr(t)[1],
         "pinv": lambda m, t: m.linalg.pinv(t), "eigvalsh": lambda m, t: m.linalg.eigvalsh(t)}[op]
    gt, hvt = _grad_and_hvp(torch, torch.autograd.grad, torch.tensor(a, requires_grad=True), lambda t: f(torch, t),
                            "abs2", v)
    gm, hvm = _grad_and_hvp(mg, mg.autograd.grad, mg.tensor(a, requires_grad=True), lambda t: f(mg, t), "abs2", v)
    np.testing.assert_allclose(gm.numpy(), gt.detach().resolve_conj().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(hvm.numpy(), hvt.resolve_conj().numpy(), rtol=1e-10, atol=1e-10)
