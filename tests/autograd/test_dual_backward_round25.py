"""A plain backward / autograd.grad inside a forward-AD dual level is first-order, as PyTorch's, while the gradients
of autograd.grad still carry their tangents (forward-over-reverse: Hessian-vector products)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(25)
X, V, W = RNG.normal(size=4), RNG.normal(size=4), RNG.normal(size=4)


def _t(lib: Any, values: Any, requires_grad: bool = False) -> Any:
    return lib.tensor(values, dtype=lib.float64, requires_grad=requires_grad)


def _f(a: Any, w: Any) -> Any:
    return (a.sin() * a).sum() + (a ** 3).prod() + a.softmax(0)[1] + (a * w).tanh().sum()


def _describe(lib: Any, t: Any) -> tuple:
    """(values, requires_grad, has a grad_fn, tangent values or None) of ``t`` inside the open level."""
    tangent = lib.autograd.forward_ad.unpack_dual(t).tangent
    return (t.detach().numpy().copy(), t.requires_grad, t.grad_fn is not None,
            None if tangent is None else tangent.detach().numpy().copy())


def _same(mine: tuple, expected: tuple) -> None:
    np.testing.assert_allclose(mine[0], expected[0], rtol=1e-10, atol=1e-12)
    assert mine[1:3] == expected[1:3]
    if expected[3] is None:
        assert mine[3] is None
    else:
        np.testing.assert_allclose(mine[3], expected[3], rtol=1e-10, atol=1e-12)


def _plain_backward(lib: Any) -> list:
    """The walk resweep's repro and its neighbours: backward inside a level with duals alive."""
    fw = lib.autograd.forward_ad
    seen = []
    a, p, w = _t(lib, X, True), _t(lib, X, True), _t(lib, W, True)
    with fw.dual_level():
        d = fw.make_dual(a * 1.0, _t(lib, V))   # a dual of a computed primal
        e = (d * w).sin()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (e.sum() + (a * a).sum()).backward(retain_graph=True)
            dp = fw.make_dual(p, _t(lib, V))   # a dual of a leaf that requires grad (a view of it)
            m = dp * dp * w
            m.retain_grad()
            hooked: list = []
            m.register_hook(hooked.append)
            _f(m, w).backward(retain_graph=True)
            b = _t(lib, W, True)
            (d * b).sum().backward(inputs=[b])
        # the first accumulation into a leaf's .grad drops the tangent, as PyTorch's (a, p, b); w's second one, m's
        # retained .grad and the hook's gradient carry one in PyTorch, none here (not compared)
        seen += [_describe(lib, t) for t in (a.grad, p.grad, b.grad)]
        seen += [_describe(lib, t)[:3] for t in (w.grad, m.grad, *hooked)]
        seen.append([str(c.message)[:40] for c in caught if not issubclass(c.category, DeprecationWarning)])
        (e.sum() + (a * a).sum()).backward()   # a second accumulation into a's .grad
        seen.append(_describe(lib, a.grad)[:3])
    return seen


def test_plain_backward_inside_a_dual_level_is_first_order() -> None:
    ours, theirs = _plain_backward(mg), _plain_backward(torch)
    assert len(ours) == len(theirs) == 8
    for mine, expected in zip(ours, theirs):
        if isinstance(expected, list):
            assert mine == expected == []   # no "create_graph=True ... reference cycle" warning
        elif len(expected) == 3:
            np.testing.assert_allclose(mine[0], expected[0], rtol=1e-10)
            assert mine[1:] == expected[1:] == (False, False)
        else:
            _same(mine, expected)
            assert mine[1:] == (False, False, None)


def _grads(lib: Any) -> list:
    """autograd.grad inside a level: first-order gradients (create_graph=False) carry their tangent, H·v."""
    fw = lib.autograd.forward_ad
    seen = []
    for create_graph in (False, True):
        p, w = _t(lib, X, True), _t(lib, W, True)
        with fw.dual_level():
            d = fw.make_dual(p, _t(lib, V))
            (g,) = lib.autograd.grad(_f(d, w), p, create_graph=create_graph)
            seen += [_describe(lib, g), _describe(lib, g * 3 + 1)]
            (gd,) = lib.autograd.grad((d ** 3).sum(), d, create_graph=create_graph)
            seen.append(_describe(lib, gd))
            (gw,) = lib.autograd.grad((d * w).tanh().sum(), w, create_graph=create_graph)
            seen.append(_describe(lib, gw))
    return seen


def test_autograd_grad_inside_a_dual_level_as_torch() -> None:
    ours, theirs = _grads(mg), _grads(torch)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        _same(mine, expected)
    assert ours[0][1:3] == (False, False) and ours[0][3] is not None   # first-order, with H·v


def _hvps(lib: Any) -> list:
    x, v = _t(lib, X), _t(lib, V)
    w = _t(lib, W)

    def f(a: Any) -> Any:
        return _f(a, w)

    fw = lib.autograd.forward_ad
    results = [lib.func.jvp(lib.func.grad(f), (x,), (v,))[1], lib.func.hessian(f)(x) @ v,
               lib.func.jacfwd(lib.func.jacrev(f))(x) @ v]
    p = _t(lib, X, True)
    with fw.dual_level():
        d = fw.make_dual(p, v)
        (g,) = lib.autograd.grad(f(d), p)
        results.append(fw.unpack_dual(g).tangent)
        f(d).backward()   # a plain backward in between changes nothing of it
        (g,) = lib.autograd.grad(f(d), p)
        results.append(fw.unpack_dual(g).tangent)
    return [r.detach().numpy() for r in results]


def test_forward_over_reverse_still_gives_hessian_vector_products() -> None:
    ours, theirs = _hvps(mg), _hvps(torch)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
    for mine in ours[1:]:
        np.testing.assert_allclose(mine, theirs[0], rtol=1e-10, atol=1e-12)


def _contexts(lib: Any) -> list:
    """.grad after a plain backward run inside a level (duals alive) and under other contexts."""
    fw = lib.autograd.forward_ad
    seen = []
    for context in ("saved_tensors_hooks", "vmap", "functionalize", "inference_mode", "no_grad_outside"):
        a = _t(lib, X, True)
        with fw.dual_level():
            d = fw.make_dual(_t(lib, X), _t(lib, V))
            if context == "saved_tensors_hooks":
                with lib.autograd.graph.saved_tensors_hooks(lambda t: t * 1, lambda t: t):
                    y = (a.sin() * d).sum()
                    y.backward()
            elif context == "vmap":
                y = lib.vmap(lambda r: r.sin() * 2)(a.reshape(4, 1)).sum() + (a * d).sum()
                y.backward()
            elif context == "functionalize":
                y = lib.func.functionalize(lambda r: r.clone().mul_(2).sin().sum())(a) + (a * d).sum()
                y.backward()
            elif context == "inference_mode":
                y = (a * d).exp().sum()
                with lib.inference_mode(), lib.enable_grad():
                    y.backward()
            else:
                y = (a * d).cos().sum()
                with lib.no_grad():
                    y.backward()
            seen.append(_describe(lib, a.grad))
    return seen


def test_other_contexts_give_a_plain_grad() -> None:
    ours, theirs = _contexts(mg), _contexts(torch)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        _same(mine, expected)
        assert mine[1:] == (False, False, None)


def _transforms_in_level(lib: Any) -> list:
    """torch.func's grad, grad_and_value, vjp and jacrev called inside a dual level on a dual (whose primal does not
    require grad), with grad mode on and off: first-order results that carry their tangents."""
    fw = lib.autograd.forward_ad

    def f(a: Any) -> Any:
        return (a.sin() * a).sum() + (a ** 3).prod()

    def vf(a: Any) -> Any:
        return a.sin() * a

    seen = []
    for grad_mode in (True, False):
        with fw.dual_level(), lib.set_grad_enabled(grad_mode):
            d = fw.make_dual(_t(lib, X), _t(lib, V))
            value, vjp_fn = lib.func.vjp(vf, d)
            seen += [_describe(lib, t) for t in (lib.func.grad(f)(d), *lib.func.grad_and_value(f)(d), value,
                                                 vjp_fn(_t(lib, W))[0], lib.func.jacrev(vf)(d))]
    return seen


def test_func_transforms_inside_a_dual_level_as_torch() -> None:
    ours, theirs = _transforms_in_level(mg), _transforms_in_level(torch)
    assert len(ours) == len(theirs) == 12
    for mine, expected in zip(ours, theirs):
        _same(mine, expected)
        assert mine[1:3] == (False, False) and mine[3] is not None


def _tangents_after_backward(lib: Any) -> list:
    """A training step inside a level, then the tangents: the plain backward (no retain_graph) must leave what the
    tangents read (PyTorch computed them with the ops), also through ops run under no_grad."""
    fw = lib.autograd.forward_ad
    seen = []
    for primal_requires_grad in (False, True):
        p, w = _t(lib, X, primal_requires_grad), _t(lib, W, True)
        with fw.dual_level():
            d = fw.make_dual(p, _t(lib, V))
            with lib.no_grad():
                y = d.sin() * 2
            z = (y * w).exp() + (d * w).cos() * y
            loss = (z * w).sum()
            loss.backward()
            (g,) = lib.autograd.grad((y * w * d).sum(), w)
            seen += [fw.unpack_dual(t).tangent.detach().numpy() for t in (loss, z, y, g)]
            seen += [t.grad.numpy() for t in ((w, p) if primal_requires_grad else (w,))]
    return seen


def test_tangents_after_a_plain_backward() -> None:
    ours, theirs = _tangents_after_backward(mg), _tangents_after_backward(torch)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
