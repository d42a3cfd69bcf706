"""create_graph=True through linear algebra: the LU family (lu_factor, linalg.lu, lu_unpack, lu_solve, torch.lu and
torch.lu_solve) and eig/eigvals for real and complex inputs, and the complex rules of solve, inv, det,
slogdet/logdet, einsum, matrix_exp, cholesky, qr, eigh/eigvalsh, svd/svdvals, pinv and cholesky_solve/inverse.
Each is pinned against PyTorch's first gradient (taken with create_graph=True) and Hessian-vector product, and
checked by finite differences (gradgradcheck) on real inputs, complex ones entering through mg.complex."""

import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _loss(y, lib):
    """A real loss with a second derivative of its own; complex y: through its real and imaginary parts."""
    if "complex" in str(y.dtype):
        re, im = (y.real, y.imag) if lib is torch else (mg.real(y), mg.imag(y))
        return (re ** 2 + im ** 3).sum()
    return (y ** 2 + y ** 3).sum()


def _grad_and_hvp(lib, f, a, v):
    x = lib.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch.lu / torch.lu_solve are deprecated (both libraries warn)
        y = f(lib, x)
    g, = lib.autograd.grad(_loss(y, lib), x, create_graph=True)
    s = (g * lib.tensor(v)).sum()
    hv, = lib.autograd.grad(s.real if "complex" in str(s.dtype) else s, x)
    if lib is torch:
        return g.detach().resolve_conj().numpy(), hv.resolve_conj().numpy()
    assert g.requires_grad and g.dtype == a.dtype and hv.dtype == a.dtype
    return g.numpy(), hv.numpy()


def _hpd(lib, x):   # Hermitian positive-definite, from any square x
    return x @ x.mT.conj() + 3 * lib.eye(x.shape[-1], dtype=x.dtype)


def _flat(lib, *parts):
    return lib.cat([p.reshape(-1) for p in parts])


def _la(lib):
    return lib.linalg


CASES = {   # name: (f(lib, x), shape of x)
    "lu_factor": (lambda lib, x: _la(lib).lu_factor(x)[0], (4, 4)),
    "lu_factor wide": (lambda lib, x: _la(lib).lu_factor(x)[0], (3, 5)),
    "lu_factor tall": (lambda lib, x: _la(lib).lu_factor(x)[0], (5, 3)),
    "lu_factor batch": (lambda lib, x: _la(lib).lu_factor(x)[0], (2, 3, 3)),
    "linalg.lu": (lambda lib, x: _flat(lib, *_la(lib).lu(x)[1:]), (4, 4)),
    "linalg.lu wide": (lambda lib, x: _flat(lib, *_la(lib).lu(x)[1:]), (3, 5)),
    "linalg.lu tall": (lambda lib, x: _flat(lib, *_la(lib).lu(x)[1:]), (5, 3)),
    "lu_unpack": (lambda lib, x: _flat(lib, *lib.lu_unpack(*_la(lib).lu_factor(x))[1:]), (4, 4)),
    "lu_solve": (lambda lib, x: _la(lib).lu_solve(*_la(lib).lu_factor(x[:, :3]), x[:, 3:]), (3, 5)),
    "lu_solve adjoint": (lambda lib, x: _la(lib).lu_solve(*_la(lib).lu_factor(x[:, :3]), x[:, 3:], adjoint=True),
                         (3, 5)),
    "lu_solve right": (lambda lib, x: _la(lib).lu_solve(*_la(lib).lu_factor(x[:3]), x[3:], left=False), (5, 3)),
    "lu_solve right adjoint": (lambda lib, x: _la(lib).lu_solve(*_la(lib).lu_factor(x[:3]), x[3:], left=False,
                                                                adjoint=True), (5, 3)),
    "torch.lu_solve": (lambda lib, x: lib.lu_solve(x[:, 3:], *lib.linalg.lu_factor(x[:, :3])), (3, 5)),
    "torch.lu": (lambda lib, x: lib.lu(x)[0], (3, 3)),
    "solve": (lambda lib, x: _la(lib).solve(x[:, :3], x[:, 3:]), (3, 5)),
    "solve vector": (lambda lib, x: _la(lib).solve(x[:, :3], x[:, 3]), (3, 4)),
    "inv": (lambda lib, x: _la(lib).inv(x), (3, 3)),
    "det": (lambda lib, x: _la(lib).det(x), (3, 3)),
    "slogdet": (lambda lib, x: _la(lib).slogdet(x)[0] * 2 + _la(lib).slogdet(x)[1], (3, 3)),
    "logdet": (lambda lib, x: lib.logdet(x), (3, 3)),
    "matrix_exp": (lambda lib, x: _la(lib).matrix_exp(x * 0.3), (3, 3)),
    "einsum": (lambda lib, x: lib.einsum("ij,jk,kl->il", x, x, x), (3, 3)),
    "einsum diagonal": (lambda lib, x: lib.einsum("ii,ij->j", x, x * x), (3, 3)),
    "cholesky": (lambda lib, x: _la(lib).cholesky(_hpd(lib, x)), (3, 3)),
    "cholesky upper": (lambda lib, x: _la(lib).cholesky(_hpd(lib, x), upper=True), (3, 3)),
    "qr": (lambda lib, x: _flat(lib, *_la(lib).qr(x)), (4, 3)),
    "qr wide": (lambda lib, x: _flat(lib, *_la(lib).qr(x)), (3, 4)),
    "eigh": (lambda lib, x: (lambda w, v: _flat(lib, w, v * v.conj()))(*_la(lib).eigh(_hpd(lib, x))), (3, 3)),
    "eigvalsh": (lambda lib, x: _la(lib).eigvalsh(_hpd(lib, x)), (3, 3)),
    # losses that ignore the phases of the singular vectors: |U|², and U Vh (where a column's phase cancels)
    "svd": (lambda lib, x: (lambda u, s, vh: _flat(lib, s, u * u.conj(), u @ vh))(
        *_la(lib).svd(x, full_matrices=False)), (4, 3)),
    "svd wide full": (lambda lib, x: (lambda u, s, vh: _flat(lib, s * s, u @ vh[:3]))(*_la(lib).svd(x)), (3, 4)),
    "svdvals": (lambda lib, x: _la(lib).svdvals(x), (4, 3)),
    "eig": (lambda lib, x: (lambda w, v: _flat(lib, w, v * v.conj()))(*_la(lib).eig(x)), (3, 3)),
    "eigvals": (lambda lib, x: _la(lib).eigvals(x), (3, 3)),
    "pinv": (lambda lib, x: _la(lib).pinv(x), (4, 3)),
    "pinv wide": (lambda lib, x: _la(lib).pinv(x), (3, 4)),
    "cholesky_solve": (lambda lib, x: lib.cholesky_solve(x[:, 3:], _la(lib).cholesky(_hpd(lib, x[:, :3]))), (3, 5)),
    "cholesky_solve upper": (lambda lib, x: lib.cholesky_solve(
        x[:, 3:], _la(lib).cholesky(_hpd(lib, x[:, :3]), upper=True), upper=True), (3, 5)),
    "cholesky_inverse": (lambda lib, x: lib.cholesky_inverse(_la(lib).cholesky(_hpd(lib, x))), (3, 3)),
}


def _values(shape, complex_, rng):
    a = rng.standard_normal(shape)
    a = a + 1j * rng.standard_normal(shape) if complex_ else a
    for i in range(min(shape[-2:])):   # well away from singular
        a[..., i, i] += 4
    return a


@pytest.mark.parametrize("name", list(CASES))
def test_first_gradient_and_hvp_match_torch(name):
    f, shape = CASES[name]
    rng = np.random.default_rng(len(name))
    for complex_ in (False, True):
        a, v = _values(shape, complex_, rng), _values(shape, complex_, rng)
        gt, hvt = _grad_and_hvp(torch, f, a, v)
        gm, hvm = _grad_and_hvp(mg, f, a, v)
        np.testing.assert_allclose(gm, gt, rtol=1e-10, atol=1e-10 * (1 + np.abs(gt).max()))
        np.testing.assert_allclose(hvm, hvt, rtol=1e-10, atol=1e-10 * (1 + np.abs(hvt).max()))


GRADGRAD = ["lu_factor", "lu_factor tall", "lu_solve right", "slogdet", "eigh", "svd"]


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck(name):
    """Finite differences of the create_graph gradient, of a real input and of a complex one x + i x²/4."""
    f, shape = CASES[name]
    x = mg.tensor(_values(shape, False, np.random.default_rng(7)) / 2, requires_grad=True)
    assert mg.gradgradcheck(lambda t: f(mg, t), [x])
    assert mg.gradgradcheck(lambda t: (lambda y: (mg.real(y) + mg.imag(y) ** 2))(f(mg, mg.complex(t, t * t / 4))),
                            [x])


@pytest.mark.parametrize("op", ["svd", "eig"])
def test_loss_depending_on_the_vectors_phases_raises_as_torch(op):
    a = _values((3, 3), True, np.random.default_rng(2))
    for lib in (torch, mg):
        x = lib.tensor(a, requires_grad=True)
        u = lib.linalg.svd(x)[0] if op == "svd" else lib.linalg.eig(x)[1]
        loss = u.real.sum() if lib is torch else mg.real(u).sum()
        with pytest.raises(RuntimeError, match="phase|phi"):
            lib.autograd.grad(loss, x, create_graph=True)


def test_third_derivative_of_lu_factor():
    """The rule is built from ops with rules: a third derivative (d/dx of an HVP) runs and matches torch."""
    a = _values((3, 3), False, np.random.default_rng(4))
    out = []
    for lib in (torch, mg):
        x = lib.tensor(a, requires_grad=True)
        g, = lib.autograd.grad((lib.linalg.lu_factor(x)[0] ** 3).sum(), x, create_graph=True)
        h, = lib.autograd.grad((g ** 2).sum(), x, create_graph=True)
        t, = lib.autograd.grad(h.sum(), x)
        out.append(t.numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-9, atol=1e-9 * np.abs(out[0]).max())
