"""Forward AD where grad mode is off, and with complex dual tensors, against PyTorch (float64, to 1e-12).

PyTorch's forward AD ignores grad mode: an op run under ``no_grad`` (or ``set_grad_enabled(False)``) on a
dual tensor still gives its result a tangent, while the result does not require grad; under
``inference_mode`` it gives none. ``torch.func.jvp``/``linearize``, built on forward AD, therefore see
through a ``no_grad`` block inside the function. Complex tangents follow PyTorch's convention (J·t for a
holomorphic op; ∂f/∂z·t + ∂f/∂z̄·conj(t) otherwise).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.forward_ad as fwAD

RNG = np.random.default_rng(13)
X, T = RNG.standard_normal(5), RNG.standard_normal(5)


@pytest.fixture(scope="module")
def torch() -> Any:
    torch = pytest.importorskip("torch", reason="no torch")
    with torch.autograd.forward_ad.dual_level():   # torch's first dual op loads its decompositions: setup
        1 + torch.autograd.forward_ad.make_dual(torch.ones(1), torch.ones(1))
    return torch


def _np(t: Any) -> Any:
    return None if t is None else t.detach().numpy().copy()


def _grad_off(lib: Any, mode: str) -> Any:
    return {"no_grad": lib.no_grad, "set_grad_enabled": lambda: lib.set_grad_enabled(False),
            "inference_mode": lib.inference_mode}[mode]()


def _under_grad_off(lib: Any, mode: str, primal_requires_grad: bool) -> list:
    """Tangents, requires_grad flags, reverse-mode gradient and errors of a program mixing ops run under a grad-off
    mode with recorded ones, inside a dual level."""
    fw = lib.autograd.forward_ad
    x = lib.tensor(X, requires_grad=primal_requires_grad)
    seen: list = []
    with fw.dual_level():
        dual = fw.make_dual(x, lib.tensor(T))
        with _grad_off(lib, mode):
            y = dual.sin()                                   # from a dual
            values, indices = (y * dual).max(dim=0)          # a multi-output op; integer indices: no tangent
            z = (y * 3).exp()                                # only from tensors computed under the mode
        w = (z * dual).sum() + values                       # recorded again, mixing both
        v = y.cumsum(0) / 2                                  # recorded, from y only
        for t in (y, values, indices, z, w, v):
            seen.append(_np(fw.unpack_dual(t).tangent))
        seen.append([t.requires_grad for t in (y, values, z, v)])
        if primal_requires_grad:   # the reverse-mode gradient ignores the ops run under the mode
            seen.append(_np(lib.autograd.grad(w, x)[0]))
        try:
            y.sum().backward()
        except RuntimeError as error:
            seen.append(type(error))
    return seen


# (PyTorch refuses inference tensors in a recorded op, which minigrad does not make: not compared)
@pytest.mark.parametrize(("mode", "primal_requires_grad"), [("no_grad", False), ("no_grad", True),
                                                           ("set_grad_enabled", False), ("set_grad_enabled", True),
                                                           ("inference_mode", False)])
def test_grad_off_inside_a_dual_level(mode: str, primal_requires_grad: bool, torch: Any) -> None:
    ours, theirs = _under_grad_off(mg, mode, primal_requires_grad), _under_grad_off(torch, mode, primal_requires_grad)
    assert len(ours) == len(theirs)
    assert ours[-1] is RuntimeError and theirs[-1] is RuntimeError   # y.sum() does not require grad
    for mine, expected in zip(ours[:-1], theirs[:-1]):
        if isinstance(expected, list):
            assert mine == expected
        elif expected is None:
            assert mine is None
        else:
            assert mine is not None and mine.dtype == expected.dtype
            np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12)
    if mode != "inference_mode":
        assert ours[0] is not None   # the comparison is not vacuous


def test_grad_off_tangent_is_a_finite_difference() -> None:
    def f(a: mg.Tensor) -> mg.Tensor:
        with mg.no_grad():
            b = (a * a).softmax(0)
        return b * a.tanh() + b

    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(f(fwAD.make_dual(mg.tensor(X), mg.tensor(T)))).tangent.numpy()
    eps = 1e-6
    expected = (f(mg.tensor(X + eps * T)).numpy() - f(mg.tensor(X - eps * T)).numpy()) / (2 * eps)
    np.testing.assert_allclose(tangent, expected, rtol=1e-7, atol=1e-9)


def _inplace_tangents(lib: Any) -> list:
    """In-place ops inside a dual level that PyTorch and minigrad both follow: recorded ones, and unrecorded ones
    on tensors that carry no tangent."""
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        dual = fw.make_dual(lib.tensor(X), lib.tensor(T))
        y = dual * 2
        y.mul_(dual)               # recorded
        y[1:3] = dual[:2].exp()    # recorded
        buffer = lib.tensor(X)
        with lib.no_grad():
            buffer.mul_(3)         # no tangent involved
            buffer.add_(buffer, alpha=2)
        z = y * buffer
        return [_np(fw.unpack_dual(t).tangent) for t in (y, z)]


def test_inplace_inside_a_dual_level(torch: Any) -> None:
    for mine, expected in zip(_inplace_tangents(mg), _inplace_tangents(torch)):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("write", [lambda t: t.mul_(3), lambda t: t.add_(t, alpha=2), lambda t: t.zero_(),
                                   lambda t: t.__setitem__(slice(1, 3), 0.5)])
def test_unrecorded_inplace_on_a_tangent_carrier_is_refused(write: Callable) -> None:
    # PyTorch updates the tangent; minigrad cannot (the tangent comes from the recorded graph): refused, never stale
    with fwAD.dual_level():
        dual = fwAD.make_dual(mg.tensor(X), mg.tensor(T))
        y = dual * 2
        with mg.no_grad():
            z = y.exp()                           # computed under no_grad: carries a tangent, does not require grad
            for target in (dual, y, y[1:], z):    # a dual, a recorded tensor, a view of one
                with pytest.raises(RuntimeError, match="carries a tangent"):
                    write(target)
            z = y.exp()
        with pytest.raises(RuntimeError, match="carries a tangent"):
            write(z)   # with grad mode on too: z does not require grad, so the op is not recorded


def _inner_no_grad(lib: Any) -> Callable:
    def f(a: Any, b: Any) -> Any:
        with lib.no_grad():
            c = (a * b).sin()
        return c * a + b, c, (a * a).sum()
    return f


def _transforms(lib: Any) -> list:
    x, y, t, s = (lib.tensor(v) for v in (X, X[::-1].copy(), T, T[::-1].copy()))
    f = _inner_no_grad(lib)
    results = []
    output, tangents = lib.func.jvp(f, (x, y), (t, s))
    results += [*output, *tangents, [o.requires_grad for o in (*output, *tangents)]]
    output, jvp_fn = lib.func.linearize(f, x, y)
    results += [*output, *jvp_fn(t, s), *jvp_fn(s, t)]
    results.append(lib.func.grad(lambda a: lib.func.jvp(lambda b: (b.sin() * b).sum(), (a,), (t,))[1])(x))
    (out, aux), (tangent, _), aux2 = lib.func.jvp(lambda a: ((a.exp(), a * 2), {"k": a.cos()}), (x,), (t,),
                                                  has_aux=True)
    results += [out, aux, tangent, aux2["k"], [aux2["k"].requires_grad]]
    results.append(lib.vmap(lambda a, b: lib.func.jvp(lambda c: c.exp() * c, (a,), (b,))[1])(
        lib.tensor(np.outer(X, X)), lib.tensor(np.outer(T, X))))
    weights = lib.tensor(X, requires_grad=True)   # a tensor from outside that requires grad: a differentiable jvp
    _, tangent = lib.func.jvp(lambda a: (a * weights).tanh(), (x,), (t,))
    tangent.sum().backward()
    results += [tangent, weights.grad]
    return results


@pytest.mark.filterwarnings("ignore:Attempted to insert a get_attr Node")   # torch.func.linearize's own
def test_func_transforms_see_through_no_grad(torch: Any) -> None:
    ours, theirs = _transforms(mg), _transforms(torch)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        if isinstance(expected, list):
            assert mine == expected
        else:
            assert mine.shape == tuple(expected.shape) and mine.dtype == _np(expected).dtype
            np.testing.assert_allclose(mine.detach().numpy(), _np(expected), rtol=1e-12, atol=1e-12)


COMPLEX = RNG.standard_normal((3, 3, 2)) @ np.array([1, 1j])
COMPLEX_T = RNG.standard_normal((3, 3, 2)) @ np.array([1, 1j])
W = RNG.standard_normal((3, 3, 2)) @ np.array([1, 1j])
REAL, REAL_T = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))

COMPLEX_CASES: dict[str, tuple] = {   # name: (primal, tangent, fn)
    "abs_angle": (COMPLEX, COMPLEX_T, lambda lib, a: (a.abs(), a.angle(), lib.sgn(a))),
    "conj_real_imag": (COMPLEX, COMPLEX_T, lambda lib, a: (a.conj() * 1, lib.real(a) * a.abs(), lib.imag(a) * 1)),
    "holomorphic": (COMPLEX, COMPLEX_T, lambda lib, a: (a * a * lib.tensor(W), a.exp(), a.sin() / a, a.sqrt(),
                                                        a.log(), a @ a.mT)),
    "fft": (COMPLEX, COMPLEX_T, lambda lib, a: (lib.fft.fft(a), lib.fft.irfft(a), (a * a.conj()).real.sum())),
    "real_to_complex": (REAL, REAL_T, lambda lib, a: (lib.fft.rfft(a), a * lib.tensor(W[0]), lib.complex(a, a * a),
                                                      lib.polar(a.abs() + 1, a))),
    "complex_primal_real_tangent": (COMPLEX, REAL_T, lambda lib, a: (a * a, a.abs())),
    "complex64": (COMPLEX.astype(np.complex64), COMPLEX_T.astype(np.complex64),
                  lambda lib, a: ((a.exp() * a).abs(), a @ a)),
}


def _complex_tangents(lib: Any, primal: np.ndarray, tangent: np.ndarray, fn: Callable) -> list:
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        outs = fn(lib, fw.make_dual(lib.tensor(primal), lib.tensor(tangent)))
        return [(_np(u.primal), _np(u.tangent)) for u in map(fw.unpack_dual, outs)]


@pytest.mark.parametrize("name", list(COMPLEX_CASES))
def test_complex_tangents_as_torch(name: str, torch: Any) -> None:
    primal, tangent, fn = COMPLEX_CASES[name]
    tangent = np.broadcast_to(tangent, primal.shape).copy()
    tolerance = 1e-5 if primal.dtype == np.complex64 else 1e-12
    ours, theirs = _complex_tangents(mg, primal, tangent, fn), _complex_tangents(torch, primal, tangent, fn)
    for (mine_p, mine_t), (their_p, their_t) in zip(ours, theirs):
        assert mine_t.dtype == their_t.dtype and mine_t.shape == their_t.shape
        np.testing.assert_allclose(mine_p, their_p, rtol=tolerance, atol=tolerance)
        np.testing.assert_allclose(mine_t, their_t, rtol=tolerance, atol=tolerance)


def test_complex_tangent_is_a_finite_difference() -> None:
    def f(a: mg.Tensor) -> mg.Tensor:   # neither holomorphic nor anti-holomorphic
        return (a * a.conj().exp()).abs() * a

    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(f(fwAD.make_dual(mg.tensor(COMPLEX), mg.tensor(COMPLEX_T)))).tangent.numpy()
    eps = 1e-6
    expected = (f(mg.tensor(COMPLEX + eps * COMPLEX_T)).numpy() - f(mg.tensor(COMPLEX - eps * COMPLEX_T)).numpy()) / (
        2 * eps)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8)


def test_complex_tangent_of_a_real_primal_is_refused() -> None:
    with fwAD.dual_level(), pytest.raises(NotImplementedError, match="complex tangent"):
        fwAD.make_dual(mg.tensor(REAL), mg.tensor(COMPLEX[0]))
