"""Autograd leftovers against torch 2.13 in float64: ``func.jacfwd`` (and ``hessian``) in forward mode, so ops
``func`` runs under ``no_grad`` count as in torch.func; complex ``linalg.vecdot`` (``Σ conj(x)·y``) and the other
complex products' values and gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.forward_ad as fwAD
from minigrad import func

RNG = np.random.default_rng(13)
V = np.array([0.3, -0.7, 1.2])
W = RNG.standard_normal((2, 3))


def _torch() -> Any:
    return pytest.importorskip("torch", reason="no torch")


def _same(ours: Any, theirs: Any, what: str = "result", tol: float = 1e-12) -> None:
    """Same pytree structure, and equal Tensors (shape, dtype, values) at the leaves."""
    if isinstance(ours, mg.Tensor):
        assert type(theirs).__name__ == "Tensor", f"{what}: a Tensor against {type(theirs)}"
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), f"{what}: dtype {ours.dtype}"
        assert ours.shape == tuple(theirs.shape), f"{what}: shape {ours.shape} != {tuple(theirs.shape)}"
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().resolve_conj().numpy(), atol=tol, rtol=tol,
                                   err_msg=what)
    elif isinstance(ours, dict):
        assert isinstance(theirs, dict) and list(ours) == list(theirs), what
        for k in ours:
            _same(ours[k], theirs[k], f"{what}[{k!r}]", tol)
    else:
        assert type(ours) is type(theirs) and len(ours) == len(theirs), f"{what}: {type(ours)} vs {type(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{what}[{i}]", tol)


def _with_no_grad(lib: Any) -> Any:
    def f(a: Any) -> Any:
        with lib.no_grad():
            c = a ** 2          # forward mode differentiates this, reverse mode does not
        return a.sin() * c + a.sum()
    return f


def _programs(lib: Any, F: Any) -> list:
    f = _with_no_grad(lib)
    w = lib.tensor(W)
    x, y = lib.tensor(V), lib.tensor(W[0] + 1.0)

    def two(a: Any, b: Any) -> Any:
        with lib.no_grad():
            s = (a * b).exp()
        return {"p": (a * s).sum(0), "q": b.cos() * w}

    def mixed(a: Any) -> Any:   # float32 in, float64 out: forward blocks take the output's dtype, as torch's
        return (a.double() * 2).tanh()
    return [
        F.jacfwd(f)(x),
        F.jacfwd(lambda a: (f(a), a.exp()), has_aux=True)(x),
        F.jacfwd(two, argnums=(0, 1))(x, y),
        F.jacfwd(lambda d: d["u"] @ w.T * d["v"], argnums=0)({"u": x, "v": y[:2]}),
        F.jacfwd(lambda a, b: (a.exp(), b.sum() * a), argnums=1)(x, y),   # an output that does not depend on b
        F.jacfwd(lambda a: lib.ones(2, dtype=lib.float64))(x),             # does not depend on the input at all
        F.jacfwd(mixed)(x.float()),
        F.hessian(lambda a: f(a).sum())(x),
        F.jacrev(F.jacrev(lambda a: f(a).sum()))(x),
        F.vmap(F.jacfwd(f))(w),
    ]


def test_jacfwd_and_hessian_in_forward_mode_as_torch() -> None:
    """no_grad blocks count in jacfwd (and in hessian's outer jacfwd), with torch's structures and dtypes."""
    torch = _torch()
    ours, theirs = _programs(mg, func), _programs(torch, torch.func)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        _same(a, b, f"program {i}", tol=1e-6 if i == 6 else 1e-12)
    x = mg.tensor(V)
    no_grad_part = func.jacfwd(_with_no_grad(mg))(x) - func.jacrev(_with_no_grad(mg))(x)
    np.testing.assert_allclose(np.diag(no_grad_part.numpy()), np.sin(V) * 2 * V, atol=1e-14)   # d(sin·c) via c


def _differentiable_run(lib: Any, F: Any) -> tuple:
    x = lib.tensor(V, requires_grad=True)
    w = lib.tensor(W, requires_grad=True)
    jac = F.jacfwd(lambda a: (a.sin() * w).exp().sum(0))(x)
    (jac ** 2).sum().backward()
    plain = x.detach()
    flags = [F.jacfwd(lambda a: a.sin())(plain).requires_grad, F.jacfwd(lambda a: a * w)(plain).requires_grad,
             F.jacfwd(lambda a: a.sin())(x).requires_grad]
    with pytest.raises(RuntimeError, match="randomness"):
        F.jacfwd(lambda a: a * lib.rand(3))(plain)
    assert F.jacfwd(lambda a: a * lib.rand(3), randomness="different")(plain).shape == (3, 3)
    with pytest.raises(RuntimeError, match="Expected all inputs to be real"):
        F.jacfwd(lambda a: a * 2)(lib.tensor(V + 1j))
    with pytest.raises(RuntimeError, match="Expected all outputs to be real"):
        F.jacfwd(lambda a: a * 1j)(plain)
    return (x.grad, w.grad), flags


def test_jacfwd_results_stay_differentiable_as_torch() -> None:
    """A backward through jacfwd's result reaches the input and the closed-over tensors, as torch's; requires_grad,
    randomness and complex errors as torch's."""
    torch = _torch()
    (ours, our_flags), (theirs, their_flags) = _differentiable_run(mg, func), _differentiable_run(torch, torch.func)
    _same(ours, theirs, what="grads")
    assert our_flags == their_flags


def test_what_minigrad_cannot_do_with_no_grad_inside_raises() -> None:
    """torch takes a no_grad op's tangent formula as a constant to outer reverse levels, and nests forward levels;
    minigrad raises there rather than give another number. Without no_grad the nested forms equal torch's."""
    torch = _torch()
    x = mg.tensor(V)
    for transform in (lambda f: func.jacrev(func.jacfwd(f)), lambda f: func.jacfwd(func.jacfwd(f))):
        with pytest.raises(NotImplementedError, match="no_grad"):
            transform(_with_no_grad(mg))(x)
    with pytest.raises(NotImplementedError, match="no_grad"):
        func.jacfwd(_with_no_grad(mg))(mg.tensor(V, requires_grad=True))
    with fwAD.dual_level(), pytest.raises(NotImplementedError, match="no_grad"):
        func.jvp(_with_no_grad(mg), (fwAD.make_dual(x, mg.ones(3, dtype=mg.float64)),), (x,))
    g = lambda a: (a.sin() * a.exp()).sum()   # noqa: E731
    nested = [lambda F: F.jacrev(F.jacfwd(g)), lambda F: F.hessian(g), lambda F: F.jacfwd(F.jacfwd(g))]
    _same([n(func)(x) for n in nested], [n(torch.func)(torch.tensor(V)) for n in nested])


# --- complex products ---------------------------------------------------------------------------------------------


def _products(lib: Any) -> list:
    return [lambda a, b: lib.linalg.vecdot(a, b), lambda a, b: lib.linalg.vecdot(a, b[:1], dim=0),
            lambda a, b: lib.vdot(a[0], b[1]), lambda a, b: lib.inner(a, b), lambda a, b: lib.dot(a[1], b[0]),
            lambda a, b: lib.tensordot(a, b, dims=([1], [1]))]


def test_complex_vecdot_and_products_as_torch() -> None:
    """Values and gradients (of a real loss of the complex result) equal torch's; vecdot is Σ conj(x)·y."""
    torch = _torch()
    a = RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))
    b = RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))
    for i, (ours, theirs) in enumerate(zip(_products(mg), _products(torch))):
        results = []
        for lib, fn in ((mg, ours), (torch, theirs)):
            x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
            out = fn(x, y)
            (out.real ** 2 + out.imag * 3).sum().backward()
            results.append((out, x.grad, y.grad))
        _same(*results, what=f"product {i}")
    np.testing.assert_allclose(mg.linalg.vecdot(mg.tensor(a), mg.tensor(b)).numpy(), (a.conj() * b).sum(-1),
                               rtol=1e-13)
    with pytest.raises(TypeError):   # torch: RuntimeError for the dtype mismatch
        mg.linalg.vecdot(mg.tensor(a), mg.tensor(b.real))
    re, im = mg.tensor(a.real, requires_grad=True), mg.tensor(b.imag, requires_grad=True)

    def loss(p: Any, q: Any) -> Any:
        out = mg.linalg.vecdot(mg.complex(p, q), mg.complex(q * p, p - q))
        return mg.real(out) + mg.imag(out) ** 2
    assert mg.gradcheck(loss, [re, im], atol=1e-7)


# --- det's second derivative at a singular matrix -----------------------------------------------------------------


def _low_rank(shape: tuple, rank: int, complex_: bool = False) -> np.ndarray:
    left = RNG.standard_normal(shape[:-1] + (rank,))
    right = RNG.standard_normal((*shape[:-2], rank, shape[-1]))
    return left @ (right + 1j * RNG.standard_normal(right.shape) if complex_ else right)


def _det_second(lib: Any, a: np.ndarray, w: np.ndarray) -> tuple:
    A = lib.tensor(a, requires_grad=True)
    (g,) = lib.autograd.grad((lib.linalg.det(A) ** 2 + lib.linalg.det(A) * 1.5).sum(), A, create_graph=True)
    (h,) = lib.autograd.grad((g * lib.tensor(w)).sum(), A)
    return g, h


def _det_second_by_differences(a: np.ndarray, w: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``_det_second``'s h by central differences of the first-order gradient (without create_graph), one element
    of A at a time."""
    def first(x: np.ndarray) -> float:
        A = mg.tensor(x, requires_grad=True)
        (g,) = mg.autograd.grad((mg.linalg.det(A) ** 2 + mg.linalg.det(A) * 1.5).sum(), A)
        return float((g.numpy() * w).sum())
    h = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        step = np.zeros_like(a)
        step[i] = eps
        h[i] = (first(a + step) - first(a - step)) / (2 * eps)
    return h


def test_det_create_graph_at_rank_n_minus_1_and_n_minus_2_as_torch() -> None:
    """The cofactors from the minors: first derivatives equal torch's, second derivatives equal finite differences
    of the first (batches of 3×3 and 4×4 at rank n-1 and n-2, a batch mixing singular and invertible). Torch's
    own double backward at a singular matrix depends on its LAPACK's pivoting: on an AMD EPYC (AVX512) it was O(1)
    off the differences in 81 of 300 random rank-2 3×3 cases, so it is not the reference here."""
    torch = _torch()
    mixed = np.stack([_low_rank((3, 3), 2), RNG.standard_normal((3, 3))])
    assert abs(np.linalg.det(mixed[0])) < 1e-14
    cases = [(_low_rank(shape, rank), f"rank {rank} of {shape}")
             for shape, rank in (((2, 3, 3), 2), ((2, 3, 3), 1), ((4, 4), 3), ((2, 4, 4), 2))] + [(mixed, "mixed")]
    for a, what in cases:
        w = RNG.standard_normal(a.shape)
        g, h = _det_second(mg, a, w)
        _same(g, _det_second(torch, a, w)[0], what, tol=1e-11)
        np.testing.assert_allclose(h.numpy(), _det_second_by_differences(a, w), rtol=1e-6, atol=1e-6,
                                   err_msg=what)
    assert mg.gradgradcheck(lambda t: mg.linalg.det(t), [mg.tensor(_low_rank((4, 4), 2), requires_grad=True)])
    # the 2×2 zero matrix (rank n-2, where torch 2.13 gives NaN): cof(A) = [[d, -c], [-b, a]], so the second
    # derivative along w is [[w11, -w10], [-w01, w00]]
    zero = mg.zeros(2, 2, dtype=mg.float64, requires_grad=True)
    (g,) = mg.autograd.grad(mg.linalg.det(zero), zero, create_graph=True)
    w = RNG.standard_normal((2, 2))
    (h,) = mg.autograd.grad((g * mg.tensor(w)).sum(), zero)
    np.testing.assert_array_equal(h.numpy(), [[w[1, 1], -w[1, 0]], [-w[0, 1], w[0, 0]]])


def test_complex_det_create_graph_at_a_singular_matrix() -> None:
    """Complex A of rank n-1: the gradient equals torch's; the second derivative equals finite differences of
    the first-order gradient (torch 2.13's double backward there is off by O(1))."""
    torch = _torch()
    a = _low_rank((3, 3), 2, complex_=True)
    A = mg.tensor(a, requires_grad=True)
    (g,) = mg.autograd.grad(mg.real(mg.linalg.det(A)) * 1.5 + mg.imag(mg.linalg.det(A)), A, create_graph=True)
    peer = torch.tensor(a, requires_grad=True)
    (peer_g,) = torch.autograd.grad(torch.linalg.det(peer).real * 1.5 + torch.linalg.det(peer).imag, peer)
    _same(g, peer_g, "gradient", tol=1e-12)
    assert mg.gradgradcheck(lambda re, im: mg.real(mg.linalg.det(mg.complex(re, im))) +
                            mg.imag(mg.linalg.det(mg.complex(re, im))) ** 2,
                            [mg.tensor(a.real, requires_grad=True), mg.tensor(a.imag, requires_grad=True)])
