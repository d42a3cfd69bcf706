"""Hooks and retain_grad() during an autograd.grad without create_graph inside a forward-AD dual level see
PyTorch's first-order gradients: not requiring grad, no grad_fn, carrying their tangents (H·v)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(2025)
X, V, W = RNG.normal(size=3), RNG.normal(size=3), RNG.normal(size=3)


def _t(lib: Any, values: Any, requires_grad: bool = False) -> Any:
    return lib.tensor(values, dtype=lib.float64, requires_grad=requires_grad)


def _describe(lib: Any, t: Any) -> tuple:
    tangent = lib.autograd.forward_ad.unpack_dual(t).tangent
    return (t.detach().numpy().copy(), t.requires_grad, t.grad_fn is not None,
            None if tangent is None else tangent.detach().numpy().copy())


def _hooked_grads(lib: Any) -> list:
    """Tensor hooks (one returning a new gradient) on a non-leaf and on leaves, and a retained .grad accumulated
    twice, during autograd.grad(create_graph=False) calls inside a level."""
    fw = lib.autograd.forward_ad
    x, w = _t(lib, X, True), _t(lib, W, True)
    seen: list = []
    with fw.dual_level():
        d = fw.make_dual(x, _t(lib, V))
        z = (d * w).exp() * 1
        z.retain_grad()
        z.register_hook(seen.append)
        z.register_hook(lambda g: g * 2)
        x.register_hook(seen.append)
        w.register_hook(lambda g: seen.append(g) or g + 1)
        results = list(lib.autograd.grad((z ** 2).sum(), (x, w), retain_graph=True))
        results.append(z.grad)
        results += lib.autograd.grad((z ** 2).sum(), (x, w))
        results.append(z.grad)   # out of place: z.grad + the second gradient
        return [_describe(lib, t) for t in seen + results]


def test_hooks_and_retained_grad_in_a_first_order_grad_carry_tangents() -> None:
    ours, theirs = _hooked_grads(mg), _hooked_grads(torch)
    assert len(ours) == len(theirs) == 12
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine[0], expected[0], rtol=1e-10, atol=1e-12)
        assert mine[1:3] == expected[1:3] == (False, False)
        assert expected[3] is not None and mine[3] is not None
        np.testing.assert_allclose(mine[3], expected[3], rtol=1e-10, atol=1e-12)


def _describe_all(lib: Any, tensors: list) -> list:
    return [_describe(lib, t) for t in tensors]


def _same(ours: list, theirs: list) -> None:
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine[0], expected[0], rtol=1e-10, atol=1e-12)
        assert mine[1:3] == expected[1:3] == (False, False)
        if expected[3] is None:
            assert mine[3] is None
        else:
            assert mine[3] is not None
            np.testing.assert_allclose(mine[3], expected[3], rtol=1e-10, atol=1e-12)


def _plain_backwards(lib: Any) -> list:
    """Plain backward() calls inside a level: hooks' and retained gradients carry tangents; a leaf's first .grad
    none (PyTorch detaches it), later in-place accumulations the tangent of what they add (a float32 leaf too), one
    from a backward that reaches no dual leaves it as it was."""
    fw = lib.autograd.forward_ad
    x, w = _t(lib, X, True), _t(lib, W, True)
    w32 = lib.tensor(V, dtype=lib.float32, requires_grad=True)
    seen: list = []
    with fw.dual_level():
        d = fw.make_dual(x, _t(lib, V))
        z = (d * w).exp() * 1
        z.retain_grad()
        z.register_hook(seen.append)
        z.register_hook(lambda g: g * 2)
        w.register_hook(lambda g: seen.append(g) or g + 1)
        ((z ** 2).sum() + (d.double() * w32).sum()).backward(retain_graph=True)
        out = _describe_all(lib, seen + [x.grad, w.grad, z.grad, w32.grad])
        ((z ** 2).sum() + (d.double() * w32).sum()).backward()
        out += _describe_all(lib, [x.grad, w.grad, z.grad])
        out.append(_describe(lib, w32.grad)[:3] + (_describe(lib, w32.grad)[3].astype(np.float64),))
        (d.sin() * w).sum().backward()
        out += _describe_all(lib, [x.grad, w.grad])
        (x * 3 + w).sum().backward()
        out += _describe_all(lib, [x.grad, w.grad])
    return out


def test_plain_backward_hooks_retained_and_accumulated_grads_carry_tangents() -> None:
    ours, theirs = _plain_backwards(mg), _plain_backwards(torch)
    assert len(ours) == 14
    assert theirs[2][3] is None and theirs[6][3] is not None
    _same(ours, theirs)


def _node_hooks(lib: Any) -> list:
    """grad_fn hooks (after backward, one returning a new gradient) and prehooks, in grad() and backward()."""
    fw = lib.autograd.forward_ad
    x, w = _t(lib, X, True), _t(lib, W, True)
    out = []
    for mode in ("grad", "backward"):
        seen: list = []
        with fw.dual_level():
            d = fw.make_dual(x, _t(lib, V))
            z = (d * w).exp()
            y = z * w
            z.grad_fn.register_hook(lambda gi, go, seen=seen: seen.extend((gi[0], go[0])))
            y.grad_fn.register_hook(lambda gi, go: (gi[0] * 3, None))
            y.grad_fn.register_prehook(lambda go, seen=seen: seen.append(go[0]))
            if mode == "grad":
                results = list(lib.autograd.grad((y ** 2).sum(), (x, w)))
            else:
                (y ** 2).sum().backward()
                results = [w.grad]
            out += _describe_all(lib, seen + results)
    return out


def test_node_hooks_see_first_order_gradients_with_tangents() -> None:
    ours, theirs = _node_hooks(mg), _node_hooks(torch)
    assert len(ours) == 9
    _same(ours, theirs)


def test_a_carried_grad_written_in_place_refuses_its_stale_tangent() -> None:
    """clip_grad_norm_ writes .grad's array directly: PyTorch updates the tangent, minigrad refuses to give the old
    one (never a stale tangent)."""
    fw = mg.autograd.forward_ad
    x = _t(mg, X, True)
    with fw.dual_level():
        d = fw.make_dual(x, _t(mg, V))
        (d ** 3).sum().backward()
        (d ** 3).sum().backward()
        assert fw.unpack_dual(x.grad).tangent is not None
        mg.nn.utils.clip_grad_norm_([x], 1e-3)
        with pytest.raises(RuntimeError, match="changed in place since"):
            fw.unpack_dual(x.grad)
        x.grad = None
        (d ** 3).sum().backward()
        assert fw.unpack_dual(x.grad).tangent is None   # a first accumulation again, as PyTorch's


def _grad_modes(lib: Any) -> list:
    """Hooks run with grad mode off in a first-order backward/grad inside a level (as PyTorch's), and a hook's new
    gradient computed there from a tensor requiring grad still gives the downstream tangents."""
    fw = lib.autograd.forward_ad
    x, w = _t(lib, X[:2], True), _t(lib, W[:2], True)
    modes: list = []
    with fw.dual_level():
        d = fw.make_dual(x, _t(lib, V[:2]))
        z = (d * w).exp()
        z.register_hook(lambda g: modes.append(lib.is_grad_enabled()) or g * w)
        w.register_hook(lambda g: modes.append(lib.is_grad_enabled()))
        z.grad_fn.register_hook(lambda gi, go: modes.append(lib.is_grad_enabled()))
        (z ** 2).sum().backward(retain_graph=True)
        (z ** 2).sum().backward(retain_graph=True)
        out = _describe_all(lib, [x.grad, w.grad, *lib.autograd.grad((z ** 2).sum(), (x, w))])
    assert modes == [False] * 9
    return out


def test_hooks_run_with_grad_mode_off() -> None:
    _same(_grad_modes(mg), _grad_modes(torch))
