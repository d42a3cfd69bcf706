"""Complex autograd against torch 2.13, round 14 fuzz: gradients of a real loss built from complex outputs
(sum Re(out · conj(w)) + sum |out|), complex and mixed real/complex inputs, random shapes incl. 0-d and broadcasting.

Found (silent): eigh's backward took a loss that depends on the eigenvectors' phases (torch raises);
logcumsumexp's create_graph=True rule lacked the conjugation, so its first-order gradient was wrong for complex
inputs; acosh's gradient on its branch cut (imaginary part -0.0) took the other side; writes through z.real,
z.imag, view_as_real(z), view_as_complex(r) were lost (copies; torch's are views) and writes into conj(z) too.
Refused where torch computes: cov/corrcoef of complex inputs, as_strided, conj_physical_, z.real = v, create_graph
through complex pow, casts, sigmoid, prod, cumprod, logsumexp, sinc, logaddexp and convolutions; gradcheck gave
false failures for complex inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

RNG = np.random.default_rng(14)


def _crand(*shape: int, dtype: str = "complex128") -> np.ndarray:
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


def _np(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().resolve_neg().numpy()
    return t.detach().numpy()


def _loss(lib, out, w: np.ndarray):
    w = lib.tensor(w)
    if out.is_complex():
        return (out * lib.conj(w)).real.sum() + lib.abs(out).sum()
    return (out * w.real).sum()


def _grads(fn, arrays, create_graph=False):
    """(minigrad's, torch's) gradients of the loss of ``fn(lib, *tensors)`` for each array; the loss weights are
    drawn once, from the output's shape."""
    results = []
    w = None
    for lib in (mg, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        if w is None:
            r = np.random.default_rng(1)
            w = r.standard_normal(tuple(out.shape)) + 1j * r.standard_normal(tuple(out.shape))
        grads = lib.autograd.grad(_loss(lib, out, w), xs, create_graph=create_graph)
        results.append((out, grads, xs))
    return results


def _same_second_derivatives(fn, inputs: list, first: float, second: float) -> None:
    """fn's gradients (create_graph=True) and the gradients of their squared norms, ours against torch's."""
    (_, g_mg, x_mg), (_, g_t, x_t) = _grads(fn, inputs, create_graph=True)
    for ours, theirs in zip(g_mg, g_t):
        _assert_close(ours, theirs, first)
    second_mg = mg.autograd.grad(sum((g * g.conj()).real.sum() for g in g_mg), x_mg)
    second_t = torch.autograd.grad(sum((g * g.conj()).real.sum() for g in g_t), x_t)
    for ours, theirs in zip(second_mg, second_t):
        _assert_close(ours, theirs, second)


def _assert_close(ours, theirs, tol):
    a, b = _np(ours), _np(theirs)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# --- eigh: a loss that depends on the eigenvectors' phases raises, as torch -------------------------------------------

def test_eigh_phase_dependent_loss_raises_as_torch():
    a = _crand(3, 3)
    a = a + a.conj().T
    for lib in (mg, torch):
        x = lib.tensor(a, requires_grad=True)
        vectors = lib.linalg.eigh(x)[1]
        with pytest.raises(RuntimeError, match="e\\^\\{i phi\\}"):
            vectors.real.sum().backward()


def test_eigh_phase_invariant_loss_as_torch():
    def rebuilt(lib, x):   # V diag(λ) Vᴴ of a Hermitian matrix, plus |V|: invariant under a phase per column
        values, vectors = lib.linalg.eigh(x + x.mH)
        return (vectors * values.to(vectors.dtype)) @ vectors.mH + lib.abs(vectors)

    (_, g_mg, _), (_, g_t, _) = _grads(rebuilt, [_crand(4, 4)])
    _assert_close(g_mg[0], g_t[0], 1e-9)


# --- logcumsumexp: create_graph=True gives torch's first and second derivatives ---------------------------------------

@pytest.mark.parametrize("dtype, tol", [("complex128", 1e-9), ("complex64", 1e-4)])
def test_logcumsumexp_create_graph_as_torch(dtype, tol):
    x = _crand(2, 3, dtype=dtype)
    for dim in (0, 1):
        (_, g_mg, x_mg), (_, g_t, x_t) = _grads(lambda lib, x, d=dim: lib.logcumsumexp(x, d), [x], create_graph=True)
        _assert_close(g_mg[0], g_t[0], tol)   # was: no conjugation with create_graph=True
        second_mg = mg.autograd.grad((g_mg[0] * g_mg[0].conj()).real.sum(), x_mg)[0]
        second_t = torch.autograd.grad((g_t[0] * g_t[0].conj()).real.sum(), x_t)[0]
        _assert_close(second_mg, second_t, tol * 10)


# --- cov / corrcoef of complex inputs (refused before) ---------------------------------------------------------------

@pytest.mark.parametrize("dtype, tol", [("complex128", 1e-9), ("complex64", 1e-4)])
def test_cov_corrcoef_complex_as_torch(dtype, tol):
    x = _crand(3, 5, dtype=dtype)
    for fn in (lambda lib, x: lib.cov(x), lambda lib, x: lib.cov(x, correction=0), lambda lib, x: x.cov(),
               lambda lib, x: lib.corrcoef(x), lambda lib, x: lib.corrcoef(x[0]), lambda lib, x: lib.cov(x[1])):
        (out_mg, g_mg, _), (out_t, g_t, _) = _grads(fn, [x])
        _assert_close(out_mg, out_t, tol)
        _assert_close(g_mg[0], g_t[0], tol)
    fweights, aweights = np.array([1, 2, 0, 3, 1]), np.array([0.5, 1.0, 2.0, 0.1, 0.7])
    ours, theirs = (lib.cov(lib.tensor(x), fweights=lib.tensor(fweights), aweights=lib.tensor(aweights))
                    for lib in (mg, torch))
    _assert_close(ours, theirs, tol)


# --- branch cuts: the gradient on the cut itself (signed zeros) ------------------------------------------------------

@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_gradients_on_branch_cuts_as_torch(dtype):
    points = np.array([complex(-2, 0.0), complex(-2, -0.0), complex(-0.5, 0.0), complex(-0.5, -0.0), complex(0, -0.0),
                       complex(-0.0, 0.0), complex(0, 2), complex(0, -2), complex(2, -0.0), complex(-3, -1e-30),
                       complex(1.5, 0.0), complex(-1.5, -0.0)]).astype(dtype)
    # acosh at x.imag = -0.0 with Re x < 1 took the other side of the cut (NumPy's x - 1 keeps the -0.0)
    for name in ("acosh", "asinh", "acos", "asin", "atanh", "sqrt", "log", "log1p", "rsqrt"):
        (_, g_mg, _), (_, g_t, _) = _grads(lambda lib, x, n=name: getattr(lib, n)(x), [points])
        _assert_close(g_mg[0], g_t[0], 1e-5 if dtype == "complex64" else 1e-12)


# --- real / imag / view_as_real / view_as_complex are views: in-place writes reach the input and its graph ------------

VIEW_WRITES = {   # each: (a write through a view of y = x * 1, then y): silently ignored before (the views were copies)
    "real_mul_": lambda lib, x, w: (y := x * 1, y.real.mul_(w.real))[0],
    "imag_add_": lambda lib, x, w: (y := x * 1, y.imag.add_(w.imag))[0],
    "real_copy_": lambda lib, x, w: (y := x * 1, y.real.copy_(w.imag))[0] * w,
    "real_setitem": lambda lib, x, w: (y := x * 1, y.real.__setitem__(0, w.imag[1]))[0],
    "view_as_real_part": lambda lib, x, w: (y := x * 1, lib.view_as_real(y)[..., 1].mul_(w.real))[0],
    "view_as_real_transposed": lambda lib, x, w: (y := x * 1, lib.view_as_real(y.mT)[0].mul_(3))[0] + w,
    "view_as_complex": lambda lib, x, w: (r := lib.view_as_real(x) * 1,
                                          lib.view_as_complex(r).mul_(w), r)[2] * 2,
    "real_setter": lambda lib, x, w: (y := x * 1, setattr(y, "real", w.imag))[0],
    "imag_setter": lambda lib, x, w: (y := x * 1, setattr(y, "imag", w.real[0]))[0],
}


@pytest.mark.parametrize("name", VIEW_WRITES)
def test_writes_through_complex_views_reach_the_input_as_torch(name):
    fn = VIEW_WRITES[name]
    (out_mg, g_mg, _), (out_t, g_t, _) = _grads(fn, [_crand(3, 3), _crand(3, 3)])
    _assert_close(out_mg, out_t, 1e-12)
    _assert_close(g_mg[0], g_t[0], 1e-12)
    _assert_close(g_mg[1], g_t[1], 1e-12)


def test_views_without_grad_share_memory_as_torch():
    z = _crand(2, 3)
    for lib in (mg, torch):
        x = lib.tensor(z)
        x.real.mul_(2)
        x.imag[0] = -1.0
        lib.view_as_real(x)[1, :, 0].add_(10)
        pairs = lib.view_as_real(x) * 1
        lib.view_as_complex(pairs).mul_(1j)
        if lib is mg:
            ours, ours_pairs = x, pairs
    _assert_close(ours, x, 1e-12)
    _assert_close(ours_pairs, pairs, 1e-12)


def test_conj_result_refuses_in_place_writes():
    """torch.conj is a lazy view whose writes reach x; minigrad's conj is a copy, so a write into it raises instead
    of leaving x silently unchanged. resolve_conj (and conj_physical) give a writable tensor, as torch's."""
    x = mg.tensor(_crand(2, 2))
    with pytest.raises(RuntimeError):
        x.conj().mul_(2)
    resolved = x.conj().resolve_conj()
    resolved.mul_(2)
    _assert_close(resolved, torch.tensor(x.numpy()).conj() * 2, 1e-12)
    mg.conj_physical(x).add_(1)


@pytest.mark.gpu
def test_writes_through_complex_views_on_cupy_as_on_the_host():
    """On the GPU, or the strict CuPy stand-in without one."""
    z, w = _crand(3, 3), _crand(3, 3)
    results = []
    for device in ("cpu", "cuda"):
        x = mg.tensor(z, device=device, requires_grad=True)
        y = x * 1
        y.real.mul_(2)
        y.imag.add_(mg.tensor(w.real, device=device))
        mg.view_as_real(y)[0, :, 0].mul_(3)
        (y * mg.tensor(w, device=device).conj()).real.sum().backward()
        results.append((y.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for ours, host in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, host, rtol=1e-12, atol=1e-12)


# --- gradcheck / gradgradcheck take complex inputs and outputs (torch's convention), as torch.autograd's -------------

GRADCHECKED = {
    "exp": lambda lib, x: lib.exp(x), "abs": lambda lib, x: lib.abs(x), "angle": lambda lib, x: lib.angle(x),
    "sqrt": lambda lib, x: lib.sqrt(x), "fft": lambda lib, x: lib.fft.fft(x), "sgn": lambda lib, x: lib.sgn(x),
    "inv": lambda lib, x: lib.linalg.inv(x[:, :2]), "cumprod": lambda lib, x: lib.cumprod(x, 1),
    "view_as_real": lambda lib, x: lib.view_as_real(x) * 1, "conj_mul": lambda lib, x: x * x.conj(),
}


def test_gradcheck_of_complex_functions_agrees_with_torch():
    z = _crand(2, 3)
    for name, fn in GRADCHECKED.items():   # was: "an output is complex128", or a false "disagrees" for a real one
        assert torch.autograd.gradcheck(lambda x, f=fn: f(torch, x), (torch.tensor(z, requires_grad=True),)), name
        assert mg.gradcheck(lambda x, f=fn: f(mg, x), (mg.tensor(z, requires_grad=True),)), name
    real = RNG.standard_normal((2, 3))
    assert mg.gradcheck(lambda x, y: mg.exp(x * 1j) * y, (mg.tensor(real, requires_grad=True),
                                                          mg.tensor(z, requires_grad=True)))
    assert mg.gradcheck(mg.view_as_complex, (mg.tensor(real.reshape(3, 2), requires_grad=True),))
    for fn in (lambda lib, x: lib.exp(x) * x, lambda lib, x: (x * x.conj()).real, lambda lib, x: lib.fft.fft(x) * x):
        assert mg.autograd.gradgradcheck(lambda x, f=fn: f(mg, x), (mg.tensor(z, requires_grad=True),))


def test_gradcheck_catches_a_wrong_complex_gradient():
    def conjugated(x):   # the gradient conjugated on its way back: wrong
        y = x * (1 + 2j)
        y.register_hook(lambda g: g.conj())
        return y.abs()

    with pytest.raises(mg.GradcheckError, match="disagrees"):
        mg.gradcheck(conjugated, (mg.tensor(_crand(2, 3), requires_grad=True),))


# --- as_strided of a complex tensor (was refused: "as_strided has no complex gradient yet") --------------------------

AS_STRIDED = {
    "window": lambda lib, x, w: x.as_strided((2, 2), (1, 2)) * w[:2, :2],
    "overlapping": lambda lib, x, w: x.as_strided((3, 3), (1, 1)) * w,
    "offset": lambda lib, x, w: lib.as_strided(x, (2,), (4,), 1) * w[0, :2],
    "of_transpose": lambda lib, x, w: x.t().as_strided((2, 2), (3, 1)) * w[:2, :2],
    "written": lambda lib, x, w: (y := x * 1, y.as_strided((2, 2), (1, 2)).mul_(w[:2, :2]))[0],
}


@pytest.mark.parametrize("name", AS_STRIDED)
def test_as_strided_complex_gradients_as_torch(name):
    (out_mg, g_mg, x_mg), (out_t, g_t, x_t) = _grads(AS_STRIDED[name], [_crand(3, 3), _crand(3, 3)],
                                                     create_graph=True)
    _assert_close(out_mg, out_t, 1e-12)
    for ours, theirs in zip(g_mg, g_t):
        _assert_close(ours, theirs, 1e-12)
    second_mg = mg.autograd.grad((g_mg[1] * g_mg[1].conj()).real.sum(), x_mg[0])[0]
    second_t = torch.autograd.grad((g_t[1] * g_t[1].conj()).real.sum(), x_t[0])[0]
    _assert_close(second_mg, second_t, 1e-10)


def test_conj_physical_in_place_as_torch():   # was: no such method
    (out_mg, g_mg, _), (out_t, g_t, _) = _grads(
        lambda lib, x, w: (y := x * 1, y[0].conj_physical_())[0] * w, [_crand(3, 3), _crand(3, 3)])
    _assert_close(out_mg, out_t, 1e-12)
    _assert_close(g_mg[0], g_t[0], 1e-12)
    _assert_close(g_mg[1], g_t[1], 1e-12)


# --- create_graph=True through pow and casts of complex values (were refused: "no higher-order gradient") ----------

SECOND_ORDER = {
    "square": (lambda lib, x, w: x ** 2 * w, True),
    "sqrt_power": (lambda lib, x, w: (x ** 0.5 + x ** -1) * w, True),
    "complex_exponent": (lambda lib, x, w: x ** (0.3 + 0.2j) + (1 - 1j) ** x * w, True),
    "tensor_exponent": (lambda lib, x, w: x ** w, True),
    "real_base": (lambda lib, x, w: x.real.abs() ** w, True),
    "cast_up": (lambda lib, x, w: x.real.to(lib.complex128) * w * x, True),
    "cast_down": (lambda lib, x, w: (x.to(lib.complex64) * w.to(lib.complex64)).to(lib.complex128) ** 2, False),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivatives_of_pow_and_casts_as_torch(name):
    fn, exact = SECOND_ORDER[name]
    tol = 1e-9 if exact else 1e-5
    (out_mg, g_mg, x_mg), (out_t, g_t, x_t) = _grads(fn, [_crand(2, 3), _crand(2, 3)], create_graph=True)
    for ours, theirs in zip(g_mg, g_t):
        _assert_close(ours, theirs, tol)
    second_mg = mg.autograd.grad(sum((g * g.conj()).real.sum() for g in g_mg), x_mg)
    second_t = torch.autograd.grad(sum((g * g.conj()).real.sum() for g in g_t), x_t)
    for ours, theirs in zip(second_mg, second_t):
        _assert_close(ours, theirs, tol * 10)


@pytest.mark.parametrize("name", ["sigmoid", "prod", "cumprod", "logsumexp", "sinc", "logaddexp", "prod_with_zero"])
def test_second_derivatives_of_holomorphic_reductions_and_functions_as_torch(name):
    """Were refused with create_graph=True for complex values ("no higher-order gradient for sigmoid yet" …)."""
    fn = {"sigmoid": lambda lib, x, w: lib.sigmoid(x) * w, "prod": lambda lib, x, w: (x * w).prod(1),
          "cumprod": lambda lib, x, w: lib.cumprod(x * w, 1), "logsumexp": lambda lib, x, w: lib.logsumexp(x * w, 0),
          "sinc": lambda lib, x, w: lib.sinc(x) * w, "logaddexp": lambda lib, x, w: lib.logaddexp(x, w),
          "prod_with_zero": lambda lib, x, w: (x * lib.tensor([[0.0, 1, 1], [1, 1, 1]]) * w).prod(1)}[name]
    _same_second_derivatives(fn, [_crand(2, 3), _crand(2, 3)], 1e-9, 1e-8)


def test_second_derivatives_of_complex_convolutions_as_torch():   # were refused (unfold_backward)
    import nn.functional as F

    def conv(lib, x, w):
        functional = torch.nn.functional if lib is torch else F
        return (functional.conv1d(x[None], w[:, :, :2], padding=1)
                + functional.conv2d(x[None, None], w[None, :1], stride=2))

    _same_second_derivatives(conv, [_crand(3, 4), _crand(3, 3, 3)], 1e-10, 1e-9)


def test_second_derivatives_of_complex_lerp_with_a_tensor_weight_as_torch():   # was refused
    fn = lambda lib, x, y, w: lib.lerp(x, y, w) + (x * 1).lerp_(y, w) * y   # noqa: E731
    _same_second_derivatives(fn, [_crand(2, 3), _crand(2, 3), _crand(2, 3)], 1e-10, 1e-9)
